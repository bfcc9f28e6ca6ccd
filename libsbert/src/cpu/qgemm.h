// int8 linear layers for inference (docs/quantization.md): out = x . W^T + b with
//   W (n, k): per-output-channel symmetric int8, W[j] ~= w_scale[j] * Wq[j], |Wq| <= 127;
//   x (rows, k): per-row dynamic int8, x[r] ~= x_scale[r] * xq[r], |xq| <= 127 (round to
//   nearest even of x * 127 / max|x[r]|);
//   out[r, j] = float(sum_k xq[r, k] Wq[j, k]) * (x_scale[r] * w_scale[j]) + b[j].
// The integer dot is exact on every path, so every kernel gives the same int32 and, through
// one shared epilogue, the same float bits:
//   Scalar:     int32 sums, the reference.
//   Avx2:       vpmaddubsw(|w|, sign(x, w)) + vpmaddwd(1): a pair sum is at most
//               2 * 127 * 127 = 32258 < 2^15, so the int16 stage never saturates.
//   Avx512Vnni: vpdpbusd(x + 128 as u8, w), minus 128 * sum_k Wq[j, k].
//   Amx:        tdpbssd on 16 x 64-byte tiles (cpu/qgemm_amx.cpp), signed x signed; a weight
//               whose k is not a multiple of 64 runs the Avx512Vnni kernel instead.
// The kernel is chosen at run time (best_qisa); tests run every path the CPU has.
#pragma once

#include <cstdint>
#include <vector>

namespace sbert::cpu {

enum class QIsa { Scalar, Avx2, Avx512Vnni, Amx };
const char* to_string(QIsa isa);
QIsa best_qisa();             // the fastest path this CPU runs
bool qisa_supported(QIsa isa);

// A quantized nn.Linear weight, packed for the kernels at construction.
struct QWeight {
  int64_t n = 0, k = 0;
  int64_t kp = 0;                // k rounded up to a multiple of 4
  int64_t np = 0;                // n rounded up to a multiple of 32 (two 16-column panels)
  std::vector<int8_t> q;         // (n, k) Wq, row-major: what a saved int8 model holds
  std::vector<float> scale;      // (n) w_scale
  std::vector<int8_t> packed;    // (np / 16, kp / 4, 16, 4): panels of 16 columns, 4 k per lane
  std::vector<int32_t> colsum128;  // (np) 128 * sum_k Wq[j, k] (0 past n): the VNNI offset
};

// Per-output-channel symmetric quantization of w (n, k): w_scale[j] = max|w[j]| / 127
// (0 for an all-zero row), Wq = round-to-nearest-even(w / w_scale).
QWeight quantize_weight(const float* w, int64_t n, int64_t k);
// From an already quantized weight (a saved int8 model): q (n, k), scale (n).
QWeight make_qweight(std::vector<int8_t> q, std::vector<float> scale, int64_t n, int64_t k);

// Work buffers of qlinear_forward, reused across calls.
struct QScratch {
  std::vector<int8_t> xq;      // (rows, kp); Amx: rows rounded up to 32 (the tail's tiles)
  std::vector<float> xscale;   // (rows)
};

// Per-row dynamic quantization of x (rows, k) into xq (rows, kp) (zero padded) and xscale.
void quantize_rows(int8_t* xq, float* xscale, const float* x, int64_t rows, int64_t k,
                   int64_t kp);

// out (rows, n) = dequant(quant(x) . Wq^T) + bias (bias may be null). Threads: OpenMP over
// blocks of rows; the result does not depend on the thread count nor on isa.
// gelu: out = gelu(...), the erf GELU of cpu/kernels.h's gelu_forward (the same bits), applied
// to each block of rows as it is stored, while it is in cache: the FFN's first layer.
void qlinear_forward(float* out, const float* x, const QWeight& w, const float* bias,
                     int64_t rows, QScratch& scratch, QIsa isa, bool gelu = false);

}  // namespace sbert::cpu
