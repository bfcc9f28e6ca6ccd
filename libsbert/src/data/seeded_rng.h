// The data pipeline's random draws: the same on every standard library and platform (own
// integer draws over std::mt19937_64, which the standard fixes bit for bit).
#pragma once

#include <cstdint>
#include <random>

namespace sbert {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Independent streams: each epoch's order, each (epoch, record)'s negatives, each round of the
// multi-dataset sampler.
enum : uint64_t { kOrderStream = 1, kNegativeStream = 2, kSamplerStream = 3 };

inline std::mt19937_64 make_rng(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  uint64_t h = splitmix64(seed ^ splitmix64(stream));
  h = splitmix64(h ^ a);
  h = splitmix64(h ^ b);
  return std::mt19937_64(h);
}

// Uniform in [0, n), n > 0, without modulo bias.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

}  // namespace sbert
