// libsbert's version: the macros for the headers a program compiled against, sbert::version()
// for the library it runs with.
#pragma once

#include "sbert/export.h"

#define SBERT_VERSION_MAJOR 0
#define SBERT_VERSION_MINOR 1
#define SBERT_VERSION_PATCH 0
#define SBERT_VERSION_STRING "0.1.0"

namespace sbert {

// "MAJOR.MINOR.PATCH" of the library loaded at run time.
SBERT_API const char* version();

}  // namespace sbert
