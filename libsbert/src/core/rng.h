// Counter-based random numbers for dropout: Philox4x32-10 (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC'11; the Random123 reference), a bijection of a 128-bit
// counter under a 64-bit key. A random value is a pure function of (seed, counter): nothing is
// carried from one call to the next, so
//   - a dropout mask is a pure function of (seed, step, micro-batch, layer, site, element),
//   - backward regenerates the mask instead of storing it,
//   - a run resumed from a checkpoint at step s replays exactly the masks of the original run,
//   - the CPU and (later) CUDA kernels can produce the same masks, element by element.
//
// Dropout stream of one site: key = seed, counter = (e >> 2 [64 bits], stream, step), lane
// e & 3 of the four output words, for element index e of the site (row-major). An element is
// kept when its 32-bit word is >= threshold = floor(p * 2^32), so P(drop) = p up to 2^-32, and
// a kept element is scaled by 1 / (1 - p) (inverted dropout, as torch.nn.Dropout).
#pragma once

#include <array>
#include <cstdint>

namespace sbert {

using Philox4x32Ctr = std::array<uint32_t, 4>;
using Philox4x32Key = std::array<uint32_t, 2>;

// Philox4x32 with 10 rounds; matches Random123's philox4x32_R(10, ctr, key).
constexpr Philox4x32Ctr philox4x32_10(Philox4x32Ctr c, Philox4x32Key k) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k[0] += kW0;
      k[1] += kW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
  }
  return c;
}

// Where dropout is applied in a BERT layer (Hugging Face BertModel's nn.Dropout modules).
enum class DropoutSite : uint32_t {
  Embeddings = 0,       // embeddings output, after LayerNorm (layer index 0)
  AttentionProbs = 1,   // attention probabilities, inside the attention kernel
  AttentionOutput = 2,  // attention output projection, before the residual add
  FfnOutput = 3,        // FFN output projection, before the residual add
};

// The training-time randomness of one forward/backward pass, passed to both.
struct DropoutState {
  uint64_t seed = 0;      // the run's seed (key of every stream)
  uint64_t step = 0;      // optimizer step (low 32 bits are used)
  bool training = false;  // false: no dropout at all (eval)
  uint32_t micro = 0;     // micro-batch / GradCache chunk within the step (< 2^16): chunks of
                          // one step need different masks; a chunk's re-run must reuse its own
  bool operator==(const DropoutState&) const = default;
};

// What a kernel needs to apply one site's dropout. p == 0: identity.
struct DropoutSpec {
  float p = 0.0f;
  uint64_t seed = 0;
  uint32_t stream = 0;  // (micro << 16) | (layer << 2) | site
  uint32_t step = 0;

  bool active() const { return p > 0.0f; }
  uint32_t threshold() const;  // floor(p * 2^32): a word below it drops the element
  // The four words for elements 4*group .. 4*group + 3.
  Philox4x32Ctr words(uint64_t group) const {
    return philox4x32_10(
        {static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32), stream, step},
        {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  }
  bool keep(uint64_t e) const { return words(e >> 2)[e & 3] >= threshold(); }
};

// The spec of (layer, site) for this pass: inactive when !state.training or p == 0.
// Throws for p outside [0, 1), layer >= 2^14 or micro >= 2^16.
DropoutSpec dropout_spec(const DropoutState& state, float p, int layer, DropoutSite site);

// factor[i] = keep(first + i) ? scale : 0 for i < n (all ones when !spec.active()).
template <class T>
void dropout_factors(T* factor, const DropoutSpec& spec, uint64_t first, int64_t n);

}  // namespace sbert
