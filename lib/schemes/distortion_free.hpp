// What the distortion-free schemes' generators share (lib/schemes/gumbel,
// lib/schemes/synthid, and the helpers also lib/schemes/vllm): the checks of
// their inputs, the refusal of greedy decoding, the candidates kept by
// temperature, top-k and top-p, and the rule that a window already seen in
// the sequence is left unmarked (skip_repeated). Internal.
#pragma once
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

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

// Candidate ids inside the vocabulary [0, vocab).
inline Status check_candidate_ids(std::span<const TokenLogit> cand, std::uint32_t vocab) {
  for (const TokenLogit& c : cand)
    if (c.id < 0 || static_cast<std::uint32_t>(c.id) >= vocab)
      return {Code::vocab_mismatch, "candidate token id " + std::to_string(c.id) + " is outside the vocabulary"};
  return Status::OK();
}

// The candidates that temperature, top-k and top-p keep (kept_candidates):
// their positions in `cand`, their ids and their logits, in the same order.
inline Status kept_of_candidates(std::span<const TokenLogit> cand, const SamplingParams& params,
                                 std::vector<std::uint32_t>* kept, std::vector<std::uint32_t>* ids,
                                 std::vector<float>* logits) {
  std::vector<float> l(cand.size());
  for (std::size_t j = 0; j < cand.size(); ++j) l[j] = cand[j].logit;
  ISOTOPE_RETURN_IF_ERROR(kept_candidates(l, params, kept, logits));
  ids->resize(kept->size());
  for (std::size_t j = 0; j < kept->size(); ++j) (*ids)[j] = static_cast<std::uint32_t>(cand[(*kept)[j]].id);
  return Status::OK();
}

// Leaves cand[keep] the only finite logit: the candidate the scheme chose.
inline void keep_only(std::span<TokenLogit> cand, std::size_t keep) {
  for (std::size_t j = 0; j < cand.size(); ++j)
    if (j != keep) cand[j].logit = -std::numeric_limits<float>::infinity();
}

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
    ISOTOPE_RETURN_IF_ERROR(check_candidate_ids(cand, vocab_));
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
