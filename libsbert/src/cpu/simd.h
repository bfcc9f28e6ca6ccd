// Run-time CPU dispatch for the element-wise float kernels.
//
// The library is built for baseline x86-64 (SSE2) so that the package runs anywhere; the hot
// element-wise loops (GELU, LayerNorm rows, softmax rows) are compiled again for x86-64-v3
// (AVX2, FMA) and x86-64-v4 (AVX-512) and the loader picks the clone once (GNU ifunc). The clones are the same
// source with the same operation order: the library is compiled with -ffp-contract=off (no
// a * b + c fused into an FMA; libsbert/CMakeLists.txt) and every reduction keeps a fixed
// number of partial sums in the source, so all clones produce the same bits (checked by
// building with -DSBERT_SIMD_CLONES= and comparing outputs, docs/kernels.md). The GEMMs (ours,
// cpu/gemm_packed.h, and OpenBLAS) pick their kernel from the CPU themselves.
//
// Only a plain (non-template, non-inline) function can be cloned, so each kernel keeps its
// loop over one row or one chunk in an SBERT_SIMD_INLINE template and has two overloads of one
// name, called from the OpenMP loop: the float one marked SBERT_SIMD_CLONES, the double one
// (the finite-difference tests) plain.
#pragma once

// -DSBERT_SIMD_CLONES= (empty) builds the baseline loops only: how the same-bits claim is
// checked (docs/kernels.md).
#if defined(SBERT_SIMD_CLONES)
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define SBERT_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SBERT_SIMD_CLONES
#endif

// For the templates that hold a cloned kernel's loop: inlined into each clone, so that they are
// compiled for the clone's target (a call would run the baseline code).
#if defined(__GNUC__)
#define SBERT_SIMD_INLINE [[gnu::always_inline]] inline
#else
#define SBERT_SIMD_INLINE inline
#endif
