// bf16 in kernels that compile both under nvcc and under the SIMT emulator: CUDA's
// <cuda_bf16.h> (__nv_bfloat16, __nv_bfloat162, __float2bfloat16, __bfloat162float,
// __floats2bfloat162_rn, ...). In EMU builds the same header name resolves to the emulator's
// version (simt/emu/include/cuda_bf16.h: same names, 16-bit storage, round to nearest even,
// NaN kept NaN), which is first on the include path.
#pragma once

#include <cuda_bf16.h>
