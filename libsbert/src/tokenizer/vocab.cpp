#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"

namespace sbert::tok {

uint64_t VocabMap::hash(std::string_view s) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  uint64_t h = 0xD6E8FEB86659FD93ULL ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  auto mix = [&](uint64_t k) {
    h ^= k;
    h *= kMul;
    h ^= h >> 29;
  };
  while (n >= 8) {
    uint64_t k;
    std::memcpy(&k, p, 8);
    mix(k);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t k = 0;
    std::memcpy(&k, p, n);
    mix(k);
  }
  h ^= h >> 32;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  return h;
}

void VocabMap::reserve(size_t n_tokens, size_t n_bytes) {
  arena_.reserve(n_bytes);
  size_t cap = 16;
  while (cap < 2 * n_tokens) cap *= 2;
  if (cap > slots_.size()) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      const uint64_t h = hash(std::string_view(arena_.data() + s.offset, s.len));
      size_t i = static_cast<size_t>(h) & mask_;
      while (slots_[i].id >= 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
}

void VocabMap::insert(std::string_view token, int32_t id) {
  SBERT_CHECK(id >= 0, "[tokenizer] negative token id ", id);
  if (2 * (count_ + 1) > slots_.size()) reserve(std::max<size_t>(count_ + 1, 2 * count_), 0);
  const uint64_t h = hash(token);
  const auto tag = static_cast<uint32_t>(h >> 32);
  size_t i = static_cast<size_t>(h) & mask_;
  while (slots_[i].id >= 0) {
    Slot& s = slots_[i];
    if (s.tag == tag && s.len == token.size() &&
        std::string_view(arena_.data() + s.offset, s.len) == token) {
      s.id = id;
      return;
    }
    i = (i + 1) & mask_;
  }
  SBERT_CHECK(arena_.size() + token.size() < (uint64_t{1} << 32),
              "[tokenizer] vocabulary larger than 4 GiB");
  Slot& s = slots_[i];
  s.offset = static_cast<uint32_t>(arena_.size());
  s.len = static_cast<uint32_t>(token.size());
  s.tag = tag;
  s.id = id;
  arena_.append(token);
  ++count_;
  if (token.size() > max_len_) max_len_ = token.size();
}

}  // namespace sbert::tok
