# The SIMT emulator build (-DSBERT_CUDA=EMU, docs/emulator.md).
#
# sbert_simt_emu_sources(TARGET SCOPE [FILES...]) makes TARGET compile:
#  - every .cu source given (default: the target's own .cu sources) as C++ with the host
#    compiler, instrumented with -fsanitize=thread so that each load and store calls the
#    emulator's access hooks (simt/emu/hooks.cpp; libtsan itself is never linked);
#  - against the emulator's <cuda_runtime.h>, <cublasLt.h>, <nccl.h> (simt/emu/include), with
#    SBERT_WITH_CUDA and SBERT_SIMT_EMU defined.
set(SBERT_SIMT_INCLUDE ${PROJECT_SOURCE_DIR}/libsbert/src/simt/emu/include)
# -Wno-unknown-pragmas: nvcc's pragmas (#pragma unroll) mean nothing to the host compiler.
set(SBERT_SIMT_KERNEL_FLAGS -x c++ -fsanitize=thread --param=tsan-instrument-func-entry-exit=0
    -Wno-unknown-pragmas)

function(sbert_simt_emu_sources target scope)
  set(files ${ARGN})
  if(NOT files)
    get_target_property(all ${target} SOURCES)
    foreach(f ${all})
      if(f MATCHES "\\.cu$")
        list(APPEND files ${f})
      endif()
    endforeach()
  endif()
  foreach(f ${files})
    get_filename_component(abs ${f} ABSOLUTE)
    set_source_files_properties(${abs} TARGET_DIRECTORY ${target} PROPERTIES LANGUAGE CXX
                                COMPILE_OPTIONS "${SBERT_SIMT_KERNEL_FLAGS}")
  endforeach()
  target_include_directories(${target} BEFORE ${scope} ${SBERT_SIMT_INCLUDE})
  target_compile_definitions(${target} ${scope} SBERT_WITH_CUDA=1 SBERT_SIMT_EMU=1)
endfunction()

# The emulator's runtime (simt/emu/*.cpp) builds its reports by std::string concatenation, on
# which GCC 12 warns falsely (-Wrestrict, GCC bug 105329).
file(GLOB SBERT_SIMT_RUNTIME_SOURCES ${PROJECT_SOURCE_DIR}/libsbert/src/simt/emu/*.cpp)
