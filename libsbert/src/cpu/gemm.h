// GEMM for the CPU kernels: C (m, n) = alpha op(A) op(B) + beta C, row-major, through OpenBLAS,
// split into one block of C per OpenMP thread, each block a single-threaded OpenBLAS call.
//
// Why not OpenBLAS's own threads: with the pthread OpenBLAS, its workers busy-wait for a while
// after every call, exactly when the OpenMP threads of the next element-wise pass want the same
// cores; on 2 cores that made a training step up to ~2x slower than on 1 thread. One pool
// (OpenMP) now runs everything and apply_cpu_threads() keeps OpenBLAS at 1 thread.
//
// Determinism: the split depends only on the sizes and omp_get_max_threads(), and each element
// of C is computed by one call over the whole k, so results are bitwise reproducible for a fixed
// thread count. Called inside a parallel region it runs on the calling thread alone.
#pragma once

#include <cstdint>

namespace sbert::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace sbert::cpu
