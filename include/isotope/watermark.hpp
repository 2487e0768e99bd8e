// isotope — the watermark inside a decoding loop, for any scheme (isotope/scheme.hpp).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "isotope/export.h"
#include "isotope/key.hpp"
#include "isotope/prf.hpp"
#include "isotope/profile.hpp"
#include "isotope/scheme.hpp"
#include "isotope/status.hpp"

namespace isotope {

struct ISOTOPE_API SamplingParams {
  float temperature = 1.0f;  // > 0; ignored when greedy
  std::uint32_t top_k = 0;   // 0 = off
  float top_p = 1.0f;        // (0, 1]; 1 = off
  bool greedy = false;       // argmax (lowest id on ties)
};

// Deterministic generator (xoshiro256**, seeded through splitmix64) so that a
// seed reproduces a generation on any machine.
class ISOTOPE_API Rng {
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
struct ISOTOPE_API TokenLogit {
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
ISOTOPE_API Status sample_plain(std::span<const float> logits, const SamplingParams& params, Rng& rng,
                                std::uint32_t* token);

// Not thread-safe: one per decoding thread.
class ISOTOPE_API Watermarker {
 public:
  ~Watermarker();
  Watermarker(const Watermarker&) = delete;
  Watermarker& operator=(const Watermarker&) = delete;

  static Status create(const Key& key, const Profile& profile, std::uint32_t vocab_size,
                       std::unique_ptr<Watermarker>* out);
  // Generation for one account (attribution, isotope/account.hpp): at each
  // position the master key's route on the window (the last h tokens of the
  // context) gives the position to the account (with probability `alpha`),
  // else to the master key alone. How the account's key (derived from
  // `master` and `account`) marks a routed position is the scheme's
  // (Scheme::nests_accounts): KGW nests it in the master key's mark (only
  // the master-green tokens of the account's half are favoured); Gumbel-max
  // and SynthID generate it with the account's key in place of the master
  // key. alpha = 0 is create(master, ...).
  static Status create_for_account(const Key& master, std::string_view account, double alpha, const Profile& profile,
                                   std::uint32_t vocab_size, std::unique_ptr<Watermarker>* out);

  const Profile& profile() const noexcept;
  std::uint32_t vocab_size() const noexcept;

  // The scheme's generation hook (isotope/scheme.hpp, Generator::apply): KGW
  // adds delta to the logits of the green tokens of the window formed by the
  // last h tokens of `context`; Gumbel leaves only its chosen token finite;
  // SynthID writes its tournament's log-probabilities. `params` (temperature,
  // top-k, top-p) matters only to the schemes that choose. With fewer than h
  // context tokens (or a window already seen, for distortion-free schemes)
  // nothing is changed (such positions are never scored either).
  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams& params = {});
  // The same over a candidate array (ids may be any subset of the vocabulary,
  // in any order); in place.
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams& params = {});
  // Picks the next token with the watermark, without modifying `logits`.
  // Distortion-free schemes refuse greedy decoding.
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token);
  // KGW only: green mask of the window's vocabulary (1 = green: the tokens
  // generation favours), for display and tests. At a position routed to an
  // account (create_for_account): the account's half of the master key's
  // green list.
  Status green_mask(std::span<const std::uint32_t> context, std::span<std::uint8_t> mask);

 private:
  Watermarker();
  struct Impl;
  Status check_context(std::span<const std::uint32_t> context) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace isotope
