// SBERT_API marks what libsbert exports: the library is compiled with -fvisibility=hidden, so
// anything not marked stays internal. The exported set is listed in abi/exported-symbols.txt and
// CI compares it with the built library (scripts/check-symbols.sh): an API change is deliberate.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define SBERT_API __attribute__((visibility("default")))
#else
#define SBERT_API
#endif

// The Impl behind a public class's pointer stays internal (a nested class would otherwise take
// the exported visibility of the class around it).
#if defined(__GNUC__) || defined(__clang__)
#define SBERT_LOCAL __attribute__((visibility("hidden")))
#else
#define SBERT_LOCAL
#endif
