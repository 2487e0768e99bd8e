// Windows already seen in the same sequence (distortion-free schemes sample
// such positions without the watermark, as vLLM and SynthID do). Internal.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "detect/tuple_set.hpp"

namespace isotope::detail {

class RepeatedWindows {
 public:
  // True if the window of the next position (the last h ids of `context`)
  // is also the window of an earlier position j (h <= j < context.size()).
  // Incremental when `context` extends the previous call's context.
  bool repeated(std::span<const std::uint32_t> context, std::uint32_t h) {
    const std::size_t n = context.size();
    if (h == 0) return n > 0;
    if (n < h) return false;
    const bool extends = seen_.width() == h && last_.size() <= n &&
                         (last_.empty() || std::memcmp(last_.data(), context.data(), last_.size() * 4) == 0);
    std::size_t from = h;
    if (extends) {
      from = last_.size() > h ? last_.size() : h;
    } else {
      seen_ = TupleSet(h);
    }
    for (std::size_t j = from; j < n; ++j) seen_.insert(context.subspan(j - h, h));
    last_.assign(context.begin(), context.end());
    return seen_.contains(context.subspan(n - h, h));
  }

 private:
  TupleSet seen_{1};
  std::vector<std::uint32_t> last_;
};

}  // namespace isotope::detail
