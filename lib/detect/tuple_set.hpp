// An exact hash set of fixed-width tuples of uint32 (open addressing, linear
// probing). Internal: backs the dedup memory and the window sets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace isotope::detail {

class TupleSet {
 public:
  explicit TupleSet(std::uint32_t width = 1) : width_(width == 0 ? 1 : width), real_width_(width) { rehash(64); }

  std::uint32_t width() const noexcept { return real_width_; }
  std::size_t size() const noexcept { return size_; }

  // Inserts t (t.size() == width()); true if it was not there.
  bool insert(std::span<const std::uint32_t> t) {
    if ((size_ + 1) * 4 > capacity_ * 3) rehash(capacity_ * 2);
    std::size_t i = hash(t) & (capacity_ - 1);
    while (used_[i]) {
      if (equal(i, t)) return false;
      i = (i + 1) & (capacity_ - 1);
    }
    used_[i] = 1;
    store(i, t);
    ++size_;
    return true;
  }

  bool contains(std::span<const std::uint32_t> t) const noexcept {
    std::size_t i = hash(t) & (capacity_ - 1);
    while (used_[i]) {
      if (equal(i, t)) return true;
      i = (i + 1) & (capacity_ - 1);
    }
    return false;
  }

  void clear() {
    keys_.clear();
    used_.clear();
    capacity_ = 0;
    size_ = 0;
    rehash(64);
  }

 private:
  std::uint64_t hash(std::span<const std::uint32_t> t) const noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ t.size();
    for (std::uint32_t x : t) {
      h ^= x;
      h *= 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
  }
  bool equal(std::size_t slot, std::span<const std::uint32_t> t) const noexcept {
    return real_width_ == 0 || std::memcmp(&keys_[slot * width_], t.data(), t.size() * sizeof(std::uint32_t)) == 0;
  }
  void store(std::size_t slot, std::span<const std::uint32_t> t) {
    if (real_width_ > 0) std::memcpy(&keys_[slot * width_], t.data(), t.size() * sizeof(std::uint32_t));
  }
  void rehash(std::size_t cap) {
    std::vector<std::uint32_t> old_keys = std::move(keys_);
    std::vector<std::uint8_t> old_used = std::move(used_);
    const std::size_t old_cap = capacity_;
    capacity_ = cap;
    keys_.assign(capacity_ * width_, 0);
    used_.assign(capacity_, 0);
    for (std::size_t s = 0; s < old_cap; ++s) {
      if (!old_used[s]) continue;
      std::span<const std::uint32_t> t(&old_keys[s * width_], real_width_);
      std::size_t i = hash(t) & (capacity_ - 1);
      while (used_[i]) i = (i + 1) & (capacity_ - 1);
      used_[i] = 1;
      store(i, t);
    }
  }

  std::uint32_t width_;       // storage width (>= 1)
  std::uint32_t real_width_;  // tuple width (0 allowed: the set holds at most the empty tuple)
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  std::vector<std::uint32_t> keys_;
  std::vector<std::uint8_t> used_;
};

}  // namespace isotope::detail
