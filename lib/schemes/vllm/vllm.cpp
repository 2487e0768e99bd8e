// vLLM's Gumbel-max watermarks, reproduced bit for bit: "vllm-gumbel"
// (GumbelWatermarker / GumbelWatermarkDetector) and "vllm-dual-key-gumbel"
// (DualKeyGumbelWatermarker / DualKeyGumbelWatermarkDetector) with the PRF
// "philox4x32-10-v1" (lib/schemes/vllm/philox.hpp), from
// vllm/v1/watermarking/{gumbel.py, detector.py, prfs/philox.py, prfs/base.py}
// and vllm/config/watermarking.py (docs/compat.md names the versions read).
//
// The key is the engine's 64-bit integer key (an engine key of one integer).
// A window is the last h generated tokens, padded on the left with -1
// (0xFFFFFFFF) before the first; the prompt never enters it. Each (window,
// token) gets u = philox uniform (float32, in (0, 1)).
//
// Generation: over the candidates left after the temperature (logits / T in
// float32) and top-k / top-p, the token with the largest float32 value
// l - log(-log u) (ties: the lowest id), as the engine's sampler computes it.
// A window already seen in the sequence is sampled without the watermark
// (skip_repeated; the engine's deduplicate_contexts="single_turn").
// Dual key: with probability alpha the key key_b = derive(key, "key_b") is
// used for the position, else key_a = derive(key, "key_a").
//
// Detection: s = -log1p(-u) in double per scored tuple (dual key: (1 - alpha)
// s_a + alpha s_b), deduplicated by window as the engine's detector does.
// The engine's u is not exactly uniform: u >= m / 2^24 (m = the word's top 24
// bits), with equality for u >= 1/2, and m / 2^24 is stochastically smaller
// than U(0, 1); below 1/2, -log1p(-u) exceeds -log1p(-m / 2^24) by less than
// 2^-23. So S - N 2^-23 is stochastically smaller than the continuous
// statistic, whose law is Gamma(N, 1) (dual key: (1 - alpha) Gamma(N, 1) +
// alpha Gamma(N, 1), weighted_gamma_upper_tail): the p-value is that tail at
// S - N 2^-23, exact for the continuous scheme and conservative for the
// engine's (docs/statistics.md).
#include <openssl/evp.h>
#include <sodium.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"
#include "schemes/distortion_free.hpp"
#include "schemes/repeat.hpp"
#include "schemes/vllm/philox.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {

namespace detail::vllm {

Status derive_key(std::uint64_t key, std::string_view domain, std::uint64_t* out) {
  std::vector<unsigned char> msg(domain.begin(), domain.end());
  for (int b = 7; b >= 0; --b) msg.push_back(static_cast<unsigned char>(key >> (8 * b)));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = EVP_Digest(msg.data(), msg.size(), digest, &len, EVP_sha256(), nullptr) == 1 && len == 32;
  sodium_memzero(msg.data(), msg.size());
  if (!ok) return {Code::crypto, "SHA-256 failed"};
  std::uint64_t v = 0;
  for (int b = 0; b < 8; ++b) v = (v << 8) | digest[b];
  sodium_memzero(digest, sizeof digest);
  *out = v;
  return Status::OK();
}

}  // namespace detail::vllm

namespace {

namespace pv = detail::vllm;

constexpr const char* PRF_PHILOX = "philox4x32-10-v1";
// Per scored tuple, the engine's score exceeds that of the lower cell end by
// less than this (see above).
constexpr double CELL_MARGIN = 0x1p-23;

constexpr std::array<ParamSpec, 1> kSingleParams{{
    {"skip_repeated", 1.0, 0.0, 1.0, true,
     "1: sample a window already seen in the same answer without the watermark (the engine's "
     "deduplicate_contexts=single_turn); 0: always mark (the engine's none)"},
}};
constexpr std::array<ParamSpec, 2> kDualParams{{
    {"alpha", 0.1, 0.0, 1.0, false,
     "Probability of key B per position, and its weight in the score (the engine's alpha)"},
    {"skip_repeated", 1.0, 0.0, 1.0, true,
     "1: sample a window already seen in the same answer without the watermark (the engine's "
     "deduplicate_contexts=single_turn); 0: always mark (the engine's none)"},
}};

inline double score_of(float u) noexcept { return -std::log1p(-static_cast<double>(u)); }

// The keys a profile uses: one (single key) or key_a, key_b (dual key).
struct Keys {
  std::vector<std::uint64_t> k;
  double alpha = 0.0;  // dual key: weight of k[1]
};

Status keys_of(const Key& key, const Profile& p, Keys* out) {
  ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, 1, p.scheme));
  const std::uint64_t master = key.engine_ints()[0];
  if (p.scheme == "vllm-gumbel") {
    out->k = {master};
    return Status::OK();
  }
  std::uint64_t a = 0, b = 0;
  ISOTOPE_RETURN_IF_ERROR(pv::derive_key(master, "key_a", &a));
  ISOTOPE_RETURN_IF_ERROR(pv::derive_key(master, "key_b", &b));
  out->k = {a, b};
  out->alpha = p.param("alpha");
  return Status::OK();
}

class VllmScorer final : public TupleScorer {
 public:
  VllmScorer(Keys keys, std::uint32_t h) : keys_(std::move(keys)), h_(h) {}
  Status score(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n, double* out) override {
    for (std::size_t j = 0; j < n; ++j) {
      const std::span<const std::uint32_t> w(windows + j * h_, h_);
      if (keys_.k.size() == 1) {
        out[j] = score_of(u(0, w, tokens[j]));
      } else {
        // The engine's weighted early fusion: (s_a, s_b) . (1 - alpha, alpha).
        out[j] = score_of(u(0, w, tokens[j])) * (1.0 - keys_.alpha) + score_of(u(1, w, tokens[j])) * keys_.alpha;
      }
    }
    return Status::OK();
  }
  // The uniforms: one per token (single key) or u_a, u_b (dual key).
  Status values(std::span<const std::uint32_t> window, std::span<const std::uint32_t> tokens,
                std::span<double> out) override {
    const std::size_t per = keys_.k.size();
    if (window.size() != h_ || out.size() != tokens.size() * per)
      return {Code::invalid_argument, "values: the window must hold h ids and out one entry per token and key"};
    for (std::size_t i = 0; i < per; ++i) {
      const pv::Words s = pv::context_state(keys_.k[i], window);
      for (std::size_t j = 0; j < tokens.size(); ++j)
        out[j * per + i] = static_cast<double>(pv::uniform(pv::token_word(keys_.k[i], s, tokens[j])));
    }
    return Status::OK();
  }
  ValueShape value_shape() const noexcept override { return {keys_.k.size(), ValueKind::float32}; }

 private:
  float u(std::size_t i, std::span<const std::uint32_t> w, std::uint32_t t) const noexcept {
    return pv::uniform(pv::token_word(keys_.k[i], pv::context_state(keys_.k[i], w), t));
  }
  Keys keys_;
  std::uint32_t h_;
};

class VllmGenerator final : public Generator {
 public:
  VllmGenerator(Keys keys, const Profile& p, std::uint32_t vocab)
      : keys_(std::move(keys)), h_(p.context_width), skip_(p.param("skip_repeated") != 0.0), vocab_(vocab) {
    std::uint64_t seed = 0;
    randombytes_buf(&seed, sizeof seed);
    route_ = Rng(seed);
  }

  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams& params) override {
    ISOTOPE_RETURN_IF_ERROR(check(logits.size(), params));
    if (!marked(context)) return Status::OK();
    std::uint32_t t = 0;
    ISOTOPE_RETURN_IF_ERROR(choose(context, logits, params, route(route_), &t));
    for (std::size_t i = 0; i < logits.size(); ++i)
      if (i != t) logits[i] = -std::numeric_limits<float>::infinity();
    return Status::OK();
  }
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams& params) override {
    ISOTOPE_RETURN_IF_ERROR(detail::check_candidate_ids(cand, vocab_));
    if (params.greedy) return detail::greedy_refused();
    if (cand.empty() || !marked(context)) return Status::OK();
    std::vector<std::uint32_t> kept;
    std::vector<float> kv;
    ISOTOPE_RETURN_IF_ERROR(detail::kept_of_candidates(cand, params, &kept, &ids_, &kv));
    detail::keep_only(cand, kept[race(context, ids_, kv, params, route(route_))]);
    return Status::OK();
  }
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token) override {
    ISOTOPE_RETURN_IF_ERROR(check(logits.size(), params));
    if (!marked(context)) return sample_plain(logits, params, rng, token);
    return choose(context, logits, params, route(rng), token);
  }

 private:
  Status check(std::size_t n, const SamplingParams& params) const {
    if (n != vocab_)
      return {Code::vocab_mismatch, "logits array has " + std::to_string(n) +
                                        " entries, the watermark was set up for a vocabulary of " +
                                        std::to_string(vocab_)};
    if (params.greedy) return detail::greedy_refused();
    return detail::check_sampling(params, n);
  }
  // The engine's window: the last h generated tokens, -1 (0xFFFFFFFF) before
  // the first.
  const std::vector<std::uint32_t>& padded(std::span<const std::uint32_t> context) {
    padded_.assign(h_, pv::PAD_ID);
    padded_.insert(padded_.end(), context.begin(), context.end());
    return padded_;
  }
  bool marked(std::span<const std::uint32_t> context) {
    const auto& p = padded(context);
    return !(skip_ && repeated_.repeated(p, h_));
  }
  // Which key marks this position: key B with probability alpha (dual key).
  std::size_t route(Rng& rng) const {
    if (keys_.k.size() == 1 || keys_.alpha == 0.0) return 0;
    if (keys_.alpha == 1.0) return 1;
    return rng.next_double() < keys_.alpha ? 1 : 0;
  }
  // The engine's choice over `ids` (ascending or not): the largest
  // float32 l / T - log(-log u), the lowest id on ties.
  std::size_t race(std::span<const std::uint32_t> context, std::span<const std::uint32_t> ids,
                   std::span<const float> logits, const SamplingParams& params, std::size_t which) {
    const std::uint64_t key = keys_.k[which];
    const auto& p = padded(context);
    const pv::Words s = pv::context_state(key, std::span<const std::uint32_t>(p).last(h_));
    const float T = params.temperature;
    float best = -std::numeric_limits<float>::infinity();
    std::size_t b = 0;
    bool any = false;
    for (std::size_t j = 0; j < ids.size(); ++j) {
      const float x = logits[j] / T;
      if (x == -std::numeric_limits<float>::infinity()) continue;
      const float u = pv::uniform(pv::token_word(key, s, ids[j]));
      const float v = x - std::log(-std::log(u));
      if (!any || v > best || (v == best && ids[j] < ids[b])) {
        best = v;
        b = j;
        any = true;
      }
    }
    return b;
  }
  Status choose(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                std::size_t which, std::uint32_t* token) {
    if (params.top_k != 0 || params.top_p < 1.0f) {
      ISOTOPE_RETURN_IF_ERROR(detail::kept_candidates(logits, params, &ids_, &kv_));
      *token = ids_[race(context, ids_, kv_, params, which)];
      return Status::OK();
    }
    bool finite = false;
    for (float l : logits) {
      if (std::isnan(l)) return detail::bad_logits();
      finite = finite || l > -std::numeric_limits<float>::infinity();
    }
    if (!finite) return detail::bad_logits();
    if (all_.size() != logits.size()) {
      all_.resize(logits.size());
      for (std::size_t i = 0; i < all_.size(); ++i) all_[i] = static_cast<std::uint32_t>(i);
    }
    *token = all_[race(context, all_, logits, params, which)];
    return Status::OK();
  }

  Keys keys_;
  std::uint32_t h_;
  bool skip_;
  std::uint32_t vocab_;
  Rng route_{0};
  detail::RepeatedWindows repeated_;
  std::vector<std::uint32_t> padded_, ids_, all_;
  std::vector<float> kv_;
};

class VllmGumbel final : public Scheme {
 public:
  explicit VllmGumbel(bool dual) : dual_(dual) {}
  std::string_view name() const noexcept override { return dual_ ? "vllm-dual-key-gumbel" : "vllm-gumbel"; }
  std::string_view title() const noexcept override {
    return dual_ ? "vLLM dual-key Gumbel-max (philox4x32-10-v1), bit-compatible"
                 : "vLLM Gumbel-max (philox4x32-10-v1), bit-compatible";
  }
  std::string_view explanation() const noexcept override {
    return dual_ ? "The serving engine's secret integer key yields two keys, A and B. With each and the tokens just "
                   "before a position, every possible next token gets a random number u between 0 and 1, exactly as "
                   "the vLLM engine computes it. The engine picked each token by a Gumbel-max race under key A, or "
                   "under key B with probability alpha. Each distinct context contributes (1 - alpha) times -ln(1 - "
                   "u_A) plus alpha times -ln(1 - u_B), which averages 1 on text that owes nothing to the key; the "
                   "p-value is the exact chance, under the law of such a weighted sum of two independent Gamma(N, 1) "
                   "variables, of a sum at least as large (less 2^-23 per context, which covers the engine's rounding "
                   "of u)."
                 : "The serving engine's secret integer key and the tokens just before each position give every "
                   "possible next token a random number u between 0 and 1, exactly as the vLLM engine computes it. The "
                   "engine picked each token by a Gumbel-max race with these numbers, which leaves the model's "
                   "probabilities unchanged but favours tokens with a high u. Each distinct context contributes -ln(1 "
                   "- u), which averages 1 on text that owes nothing to the key; the p-value is the exact chance, "
                   "under a Gamma(N, 1) law, of a sum at least as large (less 2^-23 per context, which covers the "
                   "engine's rounding of u).";
  }
  std::string_view default_prf() const noexcept override { return PRF_PHILOX; }
  std::span<const ParamSpec> params() const noexcept override {
    return dual_ ? std::span<const ParamSpec>(kDualParams) : std::span<const ParamSpec>(kSingleParams);
  }
  Status validate(const Profile&) const override { return Status::OK(); }
  bool distortion_free(const Profile& p) const noexcept override { return p.param("skip_repeated") != 0.0; }

  Status make_scorer(const Key& key, const Profile& p, std::unique_ptr<TupleScorer>* out) const override {
    Keys k;
    ISOTOPE_RETURN_IF_ERROR(keys_of(key, p, &k));
    *out = std::make_unique<VllmScorer>(std::move(k), p.context_width);
    return Status::OK();
  }
  Status make_generator(const Key& key, const Profile& p, std::uint32_t vocab,
                        std::unique_ptr<Generator>* out) const override {
    Keys k;
    ISOTOPE_RETURN_IF_ERROR(keys_of(key, p, &k));
    *out = std::make_unique<VllmGenerator>(std::move(k), p, vocab);
    return Status::OK();
  }
  std::uint64_t trials(const Profile&, std::uint64_t scored) const noexcept override { return scored; }
  double null_mean(const Profile&) const noexcept override { return 1.0; }
  double null_variance(const Profile& p) const noexcept override {
    if (!dual_) return 1.0;
    const double a = p.param("alpha");
    return (1.0 - a) * (1.0 - a) + a * a;
  }
  Tail tail(const Profile& p, double statistic, std::uint64_t scored) const noexcept override {
    const double s = statistic - static_cast<double>(scored) * CELL_MARGIN;
    if (!dual_) return gamma_upper_tail(s, scored);
    const double a = p.param("alpha");
    return weighted_gamma_upper_tail(s, scored, 1.0 - a, a);
  }
  bool integer_scores() const noexcept override { return false; }

  std::size_t engine_key_ints(const Profile&) const noexcept override { return 1; }
  std::uint32_t max_context_width() const noexcept override { return 16; }
  std::uint32_t default_context_width() const noexcept override { return 4; }
  std::optional<std::uint32_t> pad_id(const Profile&) const noexcept override { return pv::PAD_ID; }
  bool dedup_by_window(const Profile&) const noexcept override { return true; }

 private:
  bool dual_;
};

}  // namespace

const Scheme& vllm_gumbel_scheme() noexcept {
  static const VllmGumbel s(false);
  return s;
}
const Scheme& vllm_dual_key_gumbel_scheme() noexcept {
  static const VllmGumbel s(true);
  return s;
}

}  // namespace isotope
