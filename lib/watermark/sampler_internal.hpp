// The sampler's entry points for the schemes (lib/schemes/). Internal.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "isotope/prf.hpp"
#include "isotope/scheme.hpp"
#include "isotope/watermark.hpp"

namespace isotope::detail {

// KGW's green list for one window: green iff value < threshold, +delta.
struct GreenBias {
  GreenList* list = nullptr;
  Seed seed{};
  float delta = 0.0f;
  std::uint32_t threshold = 0;
};

// Checks temperature, top-p and the logits' size.
Status check_sampling(const SamplingParams& p, std::size_t n);
// After a sampler failed on `logits` with `failed`: the +inf rule (the first
// +inf logit is the token: *token set, OK), else a message that names the
// real cause and index (a NaN, every logit -inf), else `failed`.
Status explain_logits(std::span<const float> logits, Status failed, std::uint32_t* token);
// Samples from the biased logits (as sample_plain would), computing green bits only where they can matter.
Status green_sample(std::span<const float> logits, const GreenBias& bias, const SamplingParams& params, Rng& rng,
                    std::uint32_t* token);
// Adds delta to the green logits in place.
Status green_apply(std::span<float> logits, const GreenBias& bias);
Status green_apply_candidates(std::span<TokenLogit> cand, std::size_t vocab, const GreenBias& bias);
// sample() of a generator whose watermark is a bias on the logits: `g`
// biases a copy of them (Generator::apply, into *scratch), which is then
// sampled as sample_plain would.
Status sample_biased_copy(Generator& g, std::span<const std::uint32_t> context, std::span<const float> logits,
                          const SamplingParams& params, Rng& rng, std::vector<float>* scratch, std::uint32_t* token);
// The candidates that plain sampling with `p` could draw (after top-k, then
// top-p at p.temperature), best logit first (ties: lower id), -inf dropped.
Status kept_candidates(std::span<const float> logits, const SamplingParams& p, std::vector<std::uint32_t>* ids,
                       std::vector<float>* vals);

}  // namespace isotope::detail
