// VocabMap: token string -> id, an open-addressing hash table whose keys are string_views into
// one contiguous arena (no per-token allocation, one cache line per probe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sbert::tok {

class VocabMap {
 public:
  // Inserts or replaces (a later insert of the same token wins, like a HashMap insert).
  void insert(std::string_view token, int32_t id);
  // -1 when absent.
  int32_t find(std::string_view token) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash(token);
    const auto tag = static_cast<uint32_t>(h >> 32);
    size_t i = static_cast<size_t>(h) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.tag == tag && s.len == token.size() &&
          std::string_view(arena_.data() + s.offset, s.len) == token)
        return s.id;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return count_; }
  size_t max_key_bytes() const { return max_len_; }
  void reserve(size_t n_tokens, size_t n_bytes);

  static uint64_t hash(std::string_view s);

 private:
  struct Slot {
    uint32_t offset = 0;
    uint32_t len = 0;
    uint32_t tag = 0;
    int32_t id = -1;
  };
  std::string arena_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
  size_t max_len_ = 0;
};

}  // namespace sbert::tok
