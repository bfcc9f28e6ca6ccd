# Communicator backends (libsbert/src/dist/).
# SBERT_WITH_MPI: MPI found (SBERT_MPI=AUTO) or required (ON). Only MPI's C API is used.
set(SBERT_WITH_MPI OFF)
if(NOT SBERT_MPI STREQUAL "OFF")
  set(MPI_CXX_SKIP_MPICXX ON)
  if(SBERT_MPI STREQUAL "ON")
    find_package(MPI REQUIRED COMPONENTS CXX)
  else()
    find_package(MPI QUIET COMPONENTS CXX)
  endif()
  if(MPI_CXX_FOUND)
    set(SBERT_WITH_MPI ON)
  endif()
endif()
message(STATUS "libsbert MPI communicator: ${SBERT_WITH_MPI}")

# SBERT_WITH_NCCL: with the CUDA backend, when nccl.h and libnccl are found (CUDA toolkit,
# /usr/local, or NCCL_ROOT).
set(SBERT_WITH_NCCL OFF)
if(SBERT_SIMT_EMU)
  # The emulator's NCCL model (in-process ranks): libsbert/src/simt/emu/nccl.cpp.
  if(EXISTS ${PROJECT_SOURCE_DIR}/libsbert/src/simt/emu/include/nccl.h)
    set(SBERT_WITH_NCCL ON)
  endif()
elseif(SBERT_WITH_CUDA)
  find_path(NCCL_INCLUDE_DIR nccl.h
            HINTS $ENV{NCCL_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  find_library(NCCL_LIBRARY nccl
               HINTS $ENV{NCCL_ROOT}/lib ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib
                     /usr/local/cuda/lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(SBERT_WITH_NCCL ON)
  endif()
endif()
message(STATUS "libsbert NCCL communicator: ${SBERT_WITH_NCCL}")
