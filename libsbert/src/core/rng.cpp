#include "core/rng.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace sbert {

uint32_t DropoutSpec::threshold() const {
  // p < 1, so p * 2^32 < 2^32 (exact in double for a float p).
  return static_cast<uint32_t>(std::floor(static_cast<double>(p) * 4294967296.0));
}

DropoutSpec dropout_spec(const DropoutState& state, float p, int layer, DropoutSite site) {
  SBERT_CHECK(p >= 0.0f && p < 1.0f, "[dropout] probability must be in [0, 1), got ", p);
  SBERT_CHECK(layer >= 0 && layer < (1 << 14), "[dropout] layer index ", layer,
              " out of range [0, 16384)");
  SBERT_CHECK(state.micro < (1u << 16), "[dropout] micro-batch index ", state.micro,
              " out of range [0, 65536)");
  DropoutSpec s;
  if (!state.training || p == 0.0f) return s;
  s.p = p;
  s.seed = state.seed;
  s.stream =
      (state.micro << 16) | (static_cast<uint32_t>(layer) << 2) | static_cast<uint32_t>(site);
  s.step = static_cast<uint32_t>(state.step);
  return s;
}

template <class T>
void dropout_factors(T* factor, const DropoutSpec& spec, uint64_t first, int64_t n) {
  if (!spec.active()) {
    std::fill(factor, factor + n, T(1));
    return;
  }
  const uint32_t thr = spec.threshold();
  const T scale = T(1) / (T(1) - static_cast<T>(spec.p));
  int64_t i = 0;
  while (i < n) {
    const uint64_t e = first + static_cast<uint64_t>(i);
    const Philox4x32Ctr w = spec.words(e >> 2);
    for (uint64_t lane = e & 3; lane < 4 && i < n; ++lane, ++i) {
      factor[i] = w[lane] >= thr ? scale : T(0);
    }
  }
}

template void dropout_factors<float>(float*, const DropoutSpec&, uint64_t, int64_t);
template void dropout_factors<double>(double*, const DropoutSpec&, uint64_t, int64_t);

}  // namespace sbert
