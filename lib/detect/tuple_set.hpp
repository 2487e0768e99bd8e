// An exact hash set of fixed-width tuples of uint32 (open addressing, linear
// probing). Internal: backs the dedup memory and the window sets.
//
// Each slot keeps a 32-bit tag (high hash bits, never 0; 0 marks an empty
// slot) beside the tuple, so a probe compares tuples only when tags agree.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace isotope::detail {

class TupleSet {
 public:
  explicit TupleSet(std::uint32_t width = 1) : width_(width) { rehash(64); }

  std::uint32_t width() const noexcept { return width_; }
  std::size_t size() const noexcept { return size_; }

  // Makes room for n tuples in total without rehashing.
  void reserve(std::size_t n) {
    std::size_t cap = capacity_;
    while (n * 4 > cap * 3) cap *= 2;
    if (cap != capacity_) rehash(cap);
  }

  // Inserts t (t.size() == width()); true if it was not there.
  bool insert(std::span<const std::uint32_t> t) { return insert(t, hash(t)); }

  // The same with h = hash(t) computed beforehand, e.g. to prefetch().
  bool insert(std::span<const std::uint32_t> t, std::uint64_t h) {
    if ((size_ + 1) * 4 > capacity_ * 3) {
      rehash(capacity_ * 2);
    }
    const std::uint32_t tag = tag_of(h);
    std::size_t i = h & mask_;
    while (tags_[i] != 0) {
      if (tags_[i] == tag && equal(i, t)) return false;
      i = (i + 1) & mask_;
    }
    tags_[i] = tag;
    store(i, t);
    ++size_;
    return true;
  }

  // Starts loading the slot where a tuple of hash h would be probed first.
  void prefetch(std::uint64_t h) const noexcept {
    __builtin_prefetch(tags_.data() + (h & mask_));
    __builtin_prefetch(keys_.data() + (h & mask_) * width_);
  }

  static std::uint64_t hash(std::span<const std::uint32_t> t) noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ t.size();
    for (std::uint32_t x : t) h = (h ^ x) * 0xff51afd7ed558ccdULL;
    h ^= h >> 31;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
  }

  // hash() of the tuple w followed by `last`, without building it.
  static std::uint64_t hash_with(std::span<const std::uint32_t> w, std::uint32_t last) noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ (w.size() + 1);
    for (std::uint32_t x : w) h = (h ^ x) * 0xff51afd7ed558ccdULL;
    h = (h ^ last) * 0xff51afd7ed558ccdULL;
    h ^= h >> 31;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
  }

  bool contains(std::span<const std::uint32_t> t) const noexcept { return contains(t, hash(t)); }
  // The same with h = hash(t) computed beforehand.
  bool contains(std::span<const std::uint32_t> t, std::uint64_t h) const noexcept {
    const std::uint32_t tag = tag_of(h);
    std::size_t i = h & mask_;
    while (tags_[i] != 0) {
      if (tags_[i] == tag && equal(i, t)) return true;
      i = (i + 1) & mask_;
    }
    return false;
  }

  void clear() {
    tags_.clear();
    keys_.clear();
    capacity_ = 0;
    size_ = 0;
    rehash(64);
  }

 private:
  static std::uint32_t tag_of(std::uint64_t h) noexcept {
    const auto t = static_cast<std::uint32_t>(h >> 32);
    return t == 0 ? 1 : t;
  }
  bool equal(std::size_t slot, std::span<const std::uint32_t> t) const noexcept {
    const std::uint32_t* k = keys_.data() + slot * width_;
    for (std::uint32_t j = 0; j < width_; ++j)
      if (k[j] != t[j]) return false;
    return true;
  }
  void store(std::size_t slot, std::span<const std::uint32_t> t) {
    std::uint32_t* k = keys_.data() + slot * width_;
    for (std::uint32_t j = 0; j < width_; ++j) k[j] = t[j];
  }
  void rehash(std::size_t cap) {
    std::vector<std::uint32_t> old_keys = std::move(keys_);
    std::vector<std::uint32_t> old_tags = std::move(tags_);
    const std::size_t old_cap = capacity_;
    capacity_ = cap;
    mask_ = cap - 1;
    keys_.assign(capacity_ * width_, 0);
    tags_.assign(capacity_, 0);
    for (std::size_t s = 0; s < old_cap; ++s) {
      if (old_tags[s] == 0) continue;
      std::span<const std::uint32_t> t(old_keys.data() + s * width_, width_);
      std::size_t i = hash(t) & mask_;
      while (tags_[i] != 0) i = (i + 1) & mask_;
      tags_[i] = old_tags[s];
      store(i, t);
    }
  }

  std::uint32_t width_;
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::vector<std::uint32_t> keys_;
  std::vector<std::uint32_t> tags_;
};

}  // namespace isotope::detail
