// What the distortion-free schemes' generators share (lib/schemes/gumbel,
// lib/schemes/synthid): the checks of their inputs, the refusal of greedy
// decoding, and the rule that a window already seen in the sequence is left
// unmarked (skip_repeated). Internal.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "isotope/scheme.hpp"
#include "isotope/watermark.hpp"
#include "schemes/repeat.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope::detail {

inline Status greedy_refused() {
  return {Code::invalid_argument,
          "greedy decoding cannot carry a distortion-free watermark (there is no randomness to key): "
          "sample with a temperature"};
}
inline Status bad_logits() { return {Code::invalid_argument, "logits contain NaN, or every logit is -inf"}; }

class DistortionFreeGenerator : public Generator {
 protected:
  DistortionFreeGenerator(const Profile& p, std::uint32_t vocab)
      : h_(p.context_width), skip_(p.param("skip_repeated") != 0.0), vocab_(vocab) {}

  // A full logits array of the right size, sampling parameters that can be marked.
  Status check(std::size_t n, const SamplingParams& params) const {
    if (n != vocab_)
      return {Code::vocab_mismatch, "logits array has " + std::to_string(n) +
                                        " entries, the watermark was set up for a vocabulary of " +
                                        std::to_string(vocab_)};
    if (params.greedy) return greedy_refused();
    return check_sampling(params, n);
  }
  // Candidate ids inside the vocabulary, sampling parameters that can be marked.
  Status check(std::span<const TokenLogit> cand, const SamplingParams& params) const {
    for (const TokenLogit& c : cand)
      if (c.id < 0 || static_cast<std::uint32_t>(c.id) >= vocab_)
        return {Code::vocab_mismatch, "candidate token id " + std::to_string(c.id) + " is outside the vocabulary"};
    if (params.greedy) return greedy_refused();
    return Status::OK();
  }
  // Whether the next position is watermarked: a full window, not seen before
  // in the sequence (when skip_repeated).
  bool marked(std::span<const std::uint32_t> context) {
    if (context.size() < h_) return false;
    return !(skip_ && repeated_.repeated(context, h_));
  }

  std::uint32_t h_;
  bool skip_;
  std::uint32_t vocab_;

 private:
  RepeatedWindows repeated_;
};

}  // namespace isotope::detail
