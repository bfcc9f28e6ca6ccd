// std::vector storage on 64-byte boundaries: what AMX tile loads and AVX-512 rows want (a tile
// row that straddles two cache lines makes every tile load touch twice the lines; measured
// 2-4x slower tile GEMMs with std::vector's 16-byte alignment).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace sbert {

template <class T>
struct Aligned64 {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};

  Aligned64() = default;
  template <class U>
  constexpr Aligned64(const Aligned64<U>&) noexcept {}

  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlign); }

  template <class U>
  bool operator==(const Aligned64<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, Aligned64<T>>;

}  // namespace sbert
