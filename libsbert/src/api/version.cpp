#include "sbert/version.h"

namespace sbert {

const char* version() { return SBERT_VERSION_STRING; }

}  // namespace sbert
