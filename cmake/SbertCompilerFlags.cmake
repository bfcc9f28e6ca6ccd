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
