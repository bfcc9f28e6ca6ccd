# Warnings for every C++ target of the project (not for users of the installed package).
add_library(sbert_warnings INTERFACE)
target_compile_options(sbert_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion
    -Wformat=2 -Wimplicit-fallthrough>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${SBERT_WERROR}>>:-Werror>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${SBERT_WERROR}>>:-Werror=all-warnings -Xcompiler=-Werror>)

# The CPU kernels are written for AVX2 + FMA machines but must run anywhere the package is
# built for; -march=native is opt-in.
option(SBERT_NATIVE "Compile with -march=native" OFF)
add_library(sbert_arch INTERFACE)
if(SBERT_NATIVE)
  target_compile_options(sbert_arch INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
else()
  include(CheckCXXCompilerFlag)
  check_cxx_compiler_flag("-mavx2 -mfma" SBERT_HAS_AVX2)
endif()

# Sanitizers (docs/robustness.md): -DSBERT_SANITIZE=address,undefined builds every C++ target of
# the project with them; any UBSan finding is an error (no recovery), so the tests fail on it.
set(SBERT_SANITIZE "" CACHE STRING "Sanitizers for all C++ code, e.g. address,undefined")
if(SBERT_SANITIZE)
  if(SBERT_CUDA STREQUAL "EMU")
    message(FATAL_ERROR "SBERT_SANITIZE and SBERT_CUDA=EMU do not mix: the emulator instruments "
                        "kernels with ThreadSanitizer's hooks")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${SBERT_SANITIZE}>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>
                      # GCC 12's -Wmaybe-uninitialized misfires inside libstdc++'s <regex> once
                      # the sanitizers change inlining; it stays on in the normal build.
                      $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-maybe-uninitialized>
                      # Clang's instrumentation keeps the loops that `#pragma omp simd` asks to
                      # vectorize from vectorizing, and it says so as a warning.
                      $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:Clang>>:-Wno-pass-failed>)
  add_link_options(-fsanitize=${SBERT_SANITIZE})
endif()

# Fuzzing (tests/fuzz/): every C++ source gets libFuzzer's coverage hooks next to the sanitizers;
# only the fuzz targets link libFuzzer's main (-fsanitize=fuzzer there).
if(SBERT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SBERT_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++-14 (docs/robustness.md)")
  endif()
  if(NOT SBERT_SANITIZE)
    message(FATAL_ERROR "SBERT_FUZZ needs -DSBERT_SANITIZE=address,undefined")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()
