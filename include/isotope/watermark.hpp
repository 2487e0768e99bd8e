// isotope — the watermark inside a decoding loop (KGW, Kirchenbauer et al. 2023).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "isotope/key.hpp"
#include "isotope/prf.hpp"
#include "isotope/profile.hpp"
#include "isotope/status.hpp"

namespace isotope {

struct SamplingParams {
  float temperature = 1.0f;  // > 0; ignored when greedy
  std::uint32_t top_k = 0;   // 0 = off
  float top_p = 1.0f;        // (0, 1]; 1 = off
  bool greedy = false;       // argmax (lowest id on ties)
};

// Deterministic generator (xoshiro256**, seeded through splitmix64) so that a
// seed reproduces a generation on any machine.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) noexcept;
  std::uint64_t next_u64() noexcept;
  // Uniform in [0, 1) with 53 random bits.
  double next_double() noexcept;

 private:
  std::uint64_t s_[4]{};
};

// One candidate of a (possibly truncated, unsorted) candidate array, as in
// llama.cpp's llama_token_data.
struct TokenLogit {
  std::int32_t id;
  float logit;
  float p;
};

// The library's plain sampler (no watermark): the same code path as the
// watermarked one minus the bias, used as the baseline of every speed figure.
// Logits (here and in Watermarker::sample): a NaN is refused (naming its
// index), as are logits that are all -inf; a +inf logit is certain: the
// first +inf logit is the token drawn, whatever the bias and the sampling
// parameters (docs/spec.md).
Status sample_plain(std::span<const float> logits, const SamplingParams& params, Rng& rng,
                    std::uint32_t* token);

// Not thread-safe: one per decoding thread.
class Watermarker {
 public:
  ~Watermarker();
  Watermarker(const Watermarker&) = delete;
  Watermarker& operator=(const Watermarker&) = delete;

  static Status create(const Key& key, const Profile& profile, std::uint32_t vocab_size,
                       std::unique_ptr<Watermarker>* out);

  const Profile& profile() const noexcept;
  std::uint32_t vocab_size() const noexcept;

  // Adds delta to the logits of the green tokens of the window formed by the
  // last h tokens of `context`. With fewer than h context tokens nothing is
  // changed (such positions are never scored either).
  Status apply(std::span<const std::uint32_t> context, std::span<float> logits);
  // The same over a candidate array (ids may be any subset of the vocabulary,
  // in any order); in place, fast path when cand[i].id == i.
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand);
  // Picks the next token as sample_plain would from the biased logits, without
  // modifying `logits`, computing green bits only where they can matter.
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits,
                const SamplingParams& params, Rng& rng, std::uint32_t* token);
  // Green mask of the window's vocabulary (1 = green), for display and tests.
  Status green_mask(std::span<const std::uint32_t> context, std::span<std::uint8_t> mask);

 private:
  Watermarker();
  struct Impl;
  Status check_context(std::span<const std::uint32_t> context) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace isotope
