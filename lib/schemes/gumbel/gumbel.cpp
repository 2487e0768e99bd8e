// Gumbel-max watermark (Aaronson 2022; "EXP" in Kuditipudi et al. 2023 and
// MarkLLM), distortion-free. Every (window, token) gets a keyed uniform
// u = value / 2^32 from the PRF "siphash128-aes128ctr-u32-v1" (sub-keys 3
// and 4, lib/prf/prf32.hpp). Over the candidates left after temperature,
// top-k and top-p, generation picks argmax_i log p_i - ln(-ln u_i), i.e. the
// token that minimises -ln(u_i) / p_i: an exponential race, so over random
// keys the token is drawn exactly from p. A window already seen in the same
// sequence is sampled without the watermark (skip_repeated, on by default),
// so the whole sequence keeps the model's distribution. Greedy decoding has
// no randomness to key and is refused.
//
// Detection: s = -ln(1 - u) per scored tuple. u takes the values k / 2^32,
// the lower ends of 2^32 equal cells, so s is stochastically smaller than an
// Exp(1) variable: the sum over N distinct tuples is at most Gamma(N, 1) in
// the usual stochastic order, and p = P(Gamma(N, 1) >= S) = P(Poisson(S) <=
// N - 1) is exact for the continuous scheme and conservative for this one.
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"
#include "prf/prf32.hpp"
#include "watermark/kernels.hpp"
#include "schemes/distortion_free.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {
namespace {

constexpr std::uint64_t SUBKEY_SIP = 3, SUBKEY_AES = 4;

constexpr std::array<ParamSpec, 1> kParams{{
    {"skip_repeated", 1.0, 0.0, 1.0, true,
     "1: sample a window already seen in the same sequence without the watermark (distortion-free); 0: always mark"},
}};

inline double uniform(std::uint32_t v) noexcept { return static_cast<double>(v) * 0x1p-32; }
// The exact race key: ln(-ln u) - l / T; the smallest wins (ties: lower id).
inline double race_key(std::uint32_t v, float logit, double inv_t) noexcept {
  if (v == 0) return std::numeric_limits<double>::infinity();
  return std::log(-std::log(uniform(v))) - static_cast<double>(logit) * inv_t;
}

class GumbelScorer final : public TupleScorer {
 public:
  GumbelScorer(std::unique_ptr<detail::Prf32> prf, std::uint32_t h) : prf_(std::move(prf)), h_(h) {}
  Status score(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n, double* out) override {
    seeds_.resize(n);
    v_.resize(n);
    for (std::size_t j = 0; j < n; ++j) seeds_[j] = prf_->seed({windows + j * h_, h_});
    if (n > 0) ISOTOPE_RETURN_IF_ERROR(prf_->values_at(seeds_.data(), tokens, n, v_.data()));
    for (std::size_t j = 0; j < n; ++j) out[j] = -std::log1p(-uniform(v_[j]));
    return Status::OK();
  }
  Status values(std::span<const std::uint32_t> window, std::span<const std::uint32_t> tokens,
                std::span<double> out) override {
    if (window.size() != h_ || out.size() != tokens.size())
      return {Code::invalid_argument, "values: the window must hold h ids and out one entry per token"};
    v_.resize(tokens.size());
    if (!tokens.empty()) ISOTOPE_RETURN_IF_ERROR(prf_->values_at(prf_->seed(window), tokens.data(), tokens.size(), v_.data()));
    for (std::size_t j = 0; j < tokens.size(); ++j) out[j] = uniform(v_[j]);
    return Status::OK();
  }

 private:
  std::unique_ptr<detail::Prf32> prf_;
  std::uint32_t h_;
  std::vector<Seed> seeds_;
  std::vector<std::uint32_t> v_;
};


class GumbelGenerator final : public detail::DistortionFreeGenerator {
 public:
  GumbelGenerator(std::unique_ptr<detail::Prf32> prf, const Profile& p, std::uint32_t vocab)
      : DistortionFreeGenerator(p, vocab), prf_(std::move(prf)) {}

  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams& params) override {
    ISOTOPE_RETURN_IF_ERROR(check(logits.size(), params));
    if (!marked(context)) return Status::OK();
    std::uint32_t t = 0;
    ISOTOPE_RETURN_IF_ERROR(choose(context, logits, params, &t));
    for (std::size_t i = 0; i < logits.size(); ++i)
      if (i != t) logits[i] = -std::numeric_limits<float>::infinity();
    return Status::OK();
  }
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams& params) override {
    ISOTOPE_RETURN_IF_ERROR(check(cand, params));
    if (cand.empty() || !marked(context)) return Status::OK();
    std::vector<std::uint32_t> kept;
    std::vector<float> kv;
    ISOTOPE_RETURN_IF_ERROR(detail::kept_of_candidates(cand, params, &kept, &ids_, &kv));
    std::size_t best = 0;
    ISOTOPE_RETURN_IF_ERROR(race(context, ids_, kv, params, &best));
    detail::keep_only(cand, kept[best]);
    return Status::OK();
  }
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token) override {
    ISOTOPE_RETURN_IF_ERROR(check(logits.size(), params));
    if (!marked(context)) return sample_plain(logits, params, rng, token);
    return choose(context, logits, params, token);
  }

 private:
  Status race(std::span<const std::uint32_t> context, const std::vector<std::uint32_t>& ids,
              const std::vector<float>& logits, const SamplingParams& params, std::size_t* best) {
    v_.resize(ids.size());
    const Seed seed = prf_->seed(context.subspan(context.size() - h_));
    if (!ids.empty()) ISOTOPE_RETURN_IF_ERROR(prf_->values_at(seed, ids.data(), ids.size(), v_.data()));
    const double inv_t = 1.0 / static_cast<double>(params.temperature);
    double bk = std::numeric_limits<double>::infinity();
    std::size_t b = 0;
    for (std::size_t j = 0; j < ids.size(); ++j) {
      const double k = std::isinf(logits[j]) && logits[j] > 0 ? -std::numeric_limits<double>::infinity()
                                                               : race_key(v_[j], logits[j], inv_t);
      if (k < bk || (k == bk && ids[j] < ids[b])) {
        bk = k;
        b = j;
      }
    }
    *best = b;
    return Status::OK();
  }
  Status choose(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                std::uint32_t* token) {
    if (params.top_k != 0 || params.top_p < 1.0f) {
      ISOTOPE_RETURN_IF_ERROR(detail::kept_candidates(logits, params, &ids_, &kv_));
      std::size_t b = 0;
      ISOTOPE_RETURN_IF_ERROR(race(context, ids_, kv_, params, &b));
      *token = ids_[b];
      return Status::OK();
    }
    return full(context, logits, params, token);
  }
  // The whole vocabulary. The race key needs two logarithms, so every token
  // that cannot beat the best key so far is dropped first, without them:
  // with M the largest logit and C = exp(best + M / T), token i can only win
  // if -ln u_i < C exp((l_i - M) / T); since 1 - u <= -ln u, that needs
  // log2(1 - u_i) < log2 C + (l_i - M) log2(e) / T =: a_i. A lower bound of
  // log2(1 - u_i) comes from the float exponent of 2^32 - 1 - value (minus
  // one for rounding); tokens whose bound reaches a_i (plus a margin) are
  // dropped, the others get the exact key. Tokens with a_i below -33 cannot
  // win whatever their value (1 - u >= 2^-32), so when few tokens are left
  // only their values are computed.
  Status full(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
              std::uint32_t* token) {
    const std::size_t n = logits.size();
    const float* l = logits.data();
    std::size_t top = 0;
    bool nan = false;
    const float M = kernels::max_index(l, n, &top, &nan);
    if (nan || !(M > -std::numeric_limits<float>::infinity())) return detail::bad_logits();
    if (std::isinf(M)) {  // +inf wins outright (the lowest such id)
      *token = static_cast<std::uint32_t>(top);
      return Status::OK();
    }
    const Seed seed = prf_->seed(context.subspan(context.size() - h_));
    const double inv_t = 1.0 / static_cast<double>(params.temperature);
    std::uint32_t vtop = 0;
    const std::uint32_t top32 = static_cast<std::uint32_t>(top);
    ISOTOPE_RETURN_IF_ERROR(prf_->values_at(seed, &top32, 1, &vtop));
    double best = race_key(vtop, l[top], inv_t);
    std::size_t best_id = top;
    const float slope = static_cast<float>(1.4426950408889634 * inv_t);  // log2(e) / T
    auto log2c = [&] { return static_cast<float>((best + static_cast<double>(M) * inv_t) * 1.4426950408889634) + 0.01f; };
    // Which tokens can win at all (a_i > -33)?
    float lc = log2c();
    ids_.clear();
    const std::size_t B = 4096;
    cand_.resize(B);
    for (std::size_t start = 0; start < n && ids_.size() * 32 < n; start += B) {
      const std::size_t len = std::min(B, n - start);
      std::size_t c = 0;
      for (std::size_t i = 0; i < len; ++i) {
        cand_[c] = static_cast<std::uint32_t>(start + i);
        c += (l[start + i] - M) * slope + lc > -33.0f ? 1 : 0;
      }
      ids_.insert(ids_.end(), cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(c));
    }
    const bool sparse = ids_.size() * 32 < n;
    if (sparse) {  // few can win: their values alone, one block each
      v_.resize(ids_.size());
      if (!ids_.empty()) ISOTOPE_RETURN_IF_ERROR(prf_->values_at(seed, ids_.data(), ids_.size(), v_.data()));
      for (std::size_t j = 0; j < ids_.size(); ++j) consider(ids_[j], v_[j], l[ids_[j]], inv_t, &best, &best_id);
      *token = static_cast<std::uint32_t>(best_id);
      return Status::OK();
    }
    v_.resize(n);
    ISOTOPE_RETURN_IF_ERROR(prf_->values(seed, v_));
    const std::uint32_t* v = v_.data();
    flags_.resize(B + 8);
    for (std::size_t start = 0; start < n; start += B) {
      const std::size_t len = std::min(B, n - start);
      lc = log2c();
      const float* lb = l + start;
      const std::uint32_t* vb = v + start;
      std::uint8_t* f = flags_.data();
      kernels::gumbel_flags(lb, vb, len, M, slope, lc, f);
      for (std::size_t i = len; i < len + 8; ++i) f[i] = 0;
      for (std::size_t i = 0; i < len; i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, f + i, 8);
        if (word == 0) continue;
        for (std::size_t k = i; k < i + 8 && k < len; ++k)
          if (f[k] != 0) consider(static_cast<std::uint32_t>(start + k), vb[k], lb[k], inv_t, &best, &best_id);
      }
    }
    *token = static_cast<std::uint32_t>(best_id);
    return Status::OK();
  }
  static void consider(std::uint32_t t, std::uint32_t v, float logit, double inv_t, double* best, std::size_t* best_id) {
    const double k = race_key(v, logit, inv_t);
    if (k < *best || (k == *best && t < *best_id)) {
      *best = k;
      *best_id = t;
    }
  }

  std::unique_ptr<detail::Prf32> prf_;
  std::vector<std::uint32_t> v_, ids_, cand_;
  std::vector<std::uint8_t> flags_;
  std::vector<float> kv_;
};

class Gumbel final : public Scheme {
 public:
  std::string_view name() const noexcept override { return SCHEME_GUMBEL; }
  std::string_view title() const noexcept override { return "Gumbel-max (Aaronson 2022), distortion-free"; }
  std::string_view explanation() const noexcept override {
    return "The secret key and the tokens just before each position give every possible next token a random "
           "number u between 0 and 1. Watermarked generation picks the token that a Gumbel-max race with these "
           "numbers selects, which leaves the model's probabilities unchanged but favours tokens with a high u. "
           "Each distinct scored tuple contributes -ln(1 - u), which averages 1 on text that owes nothing to the "
           "key; the p-value is the exact chance, under a Gamma(N, 1) law, of a sum at least as large.";
  }
  std::string_view default_prf() const noexcept override { return PRF_U32_V1; }
  std::span<const ParamSpec> params() const noexcept override { return kParams; }
  Status validate(const Profile&) const override { return Status::OK(); }
  bool distortion_free(const Profile& p) const noexcept override { return p.param("skip_repeated") != 0.0; }

  Status make_scorer(const Key& key, const Profile& p, std::unique_ptr<TupleScorer>* out) const override {
    std::unique_ptr<detail::Prf32> prf;
    ISOTOPE_RETURN_IF_ERROR(detail::Prf32::create(key, SUBKEY_SIP, SUBKEY_AES, &prf));
    *out = std::make_unique<GumbelScorer>(std::move(prf), p.context_width);
    return Status::OK();
  }
  Status make_generator(const Key& key, const Profile& p, std::uint32_t vocab,
                        std::unique_ptr<Generator>* out) const override {
    std::unique_ptr<detail::Prf32> prf;
    ISOTOPE_RETURN_IF_ERROR(detail::Prf32::create(key, SUBKEY_SIP, SUBKEY_AES, &prf));
    *out = std::make_unique<GumbelGenerator>(std::move(prf), p, vocab);
    return Status::OK();
  }
  std::uint64_t trials(const Profile&, std::uint64_t scored) const noexcept override { return scored; }
  double null_mean(const Profile&) const noexcept override { return 1.0; }
  double null_variance(const Profile&) const noexcept override { return 1.0; }
  Tail tail(const Profile&, double statistic, std::uint64_t scored) const noexcept override {
    return gamma_upper_tail(statistic, scored);
  }
  bool integer_scores() const noexcept override { return false; }
};

}  // namespace

const Scheme& gumbel_scheme() noexcept {
  static const Gumbel s;
  return s;
}

}  // namespace isotope
