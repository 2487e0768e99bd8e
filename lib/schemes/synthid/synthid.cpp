// SynthID-Text tournament watermark (Dathathri et al., Nature 2024). Every
// (window, token) gets m keyed fair bits g_1..g_m (layers): bit l-1 of the
// 32-bit value of the PRF "siphash128-aes128ctr-u32-v1" (sub-keys 5 and 6,
// lib/prf/prf32.hpp). Generation runs the tournament over the candidates
// left after temperature, top-k and top-p: with `leaves` competitors per
// match, layer l maps the distribution q to
//   q_t * ((1 - (1 - G)^k) / G)   if g_l(t) = 1,   q_t * (1 - G)^(k-1)  if g_l(t) = 0,
// G = sum of q over the tokens with g_l = 1 (k = 2: q_t (1 + g_l(t) - G)), and
// the token is drawn from the result (tournament.hpp: layer by layer for a
// few candidates, by histograms of the bits for many). Over random keys the
// bits are fair and the competitors exchangeable, so the token is drawn from the model's
// distribution; a window already seen in the same sequence is sampled without
// the watermark (skip_repeated). leaves = 2 is the non-distortionary
// configuration; more leaves per match is the variant the reference
// implementation calls distortionary. Greedy decoding is refused.
//
// Detection: the score of a tuple is the number of its m bits equal to 1;
// under H0 the sum over N distinct tuples is Binomial(N m, 1/2), exactly.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>

#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"
#include "prf/prf32.hpp"
#include "watermark/kernels.hpp"
#include "schemes/distortion_free.hpp"
#include "schemes/synthid/tournament.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {
namespace {

constexpr std::uint64_t SUBKEY_SIP = 5, SUBKEY_AES = 6;

constexpr std::array<ParamSpec, 3> kParams{{
    {"layers", 30.0, 1.0, 32.0, true, "Tournament layers m: keyed bits g per (window, token), 1-32"},
    {"leaves", 2.0, 2.0, 16.0, true, "Competitors per tournament match (2: non-distortionary)"},
    {"skip_repeated", 1.0, 0.0, 1.0, true,
     "1: sample a window already seen in the same sequence without the watermark (distortion-free); 0: always mark"},
}};

// From this many candidates on, the tournament runs by histograms
// (tournament.hpp): two passes over the candidates instead of m.
constexpr std::size_t kHistogramMin = 16384;

inline std::uint32_t layer_mask(std::uint32_t m) noexcept { return m >= 32 ? 0xFFFFFFFFu : ((1u << m) - 1u); }

class SynthIdScorer final : public TupleScorer {
 public:
  SynthIdScorer(std::unique_ptr<detail::Prf32> prf, std::uint32_t h, std::uint32_t m)
      : prf_(std::move(prf)), h_(h), m_(m), mask_(layer_mask(m)) {}
  Status score(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n, double* out) override {
    seeds_.resize(n);
    v_.resize(n);
    for (std::size_t j = 0; j < n; ++j) seeds_[j] = prf_->seed({windows + j * h_, h_});
    if (n > 0) ISOTOPE_RETURN_IF_ERROR(prf_->values_at(seeds_.data(), tokens, n, v_.data()));
    for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<double>(std::popcount(v_[j] & mask_));
    return Status::OK();
  }
  // The g-values, layer 1 (bit 0 of the value) first.
  Status values(std::span<const std::uint32_t> window, std::span<const std::uint32_t> tokens,
                std::span<double> out) override {
    if (window.size() != h_ || out.size() != tokens.size() * m_)
      return {Code::invalid_argument, "values: the window must hold h ids and out one entry per token and layer"};
    v_.resize(tokens.size());
    if (!tokens.empty())
      ISOTOPE_RETURN_IF_ERROR(prf_->values_at(prf_->seed(window), tokens.data(), tokens.size(), v_.data()));
    for (std::size_t j = 0; j < tokens.size(); ++j)
      for (std::uint32_t l = 0; l < m_; ++l) out[j * m_ + l] = static_cast<double>((v_[j] >> l) & 1u);
    return Status::OK();
  }
  ValueShape value_shape() const noexcept override { return {m_, ValueKind::bit}; }

 private:
  std::unique_ptr<detail::Prf32> prf_;
  std::uint32_t h_;
  std::uint32_t m_;
  std::uint32_t mask_;
  std::vector<Seed> seeds_;
  std::vector<std::uint32_t> v_;
};

class SynthIdGenerator final : public detail::DistortionFreeGenerator {
 public:
  SynthIdGenerator(std::unique_ptr<detail::Prf32> prf, const Profile& p, std::uint32_t vocab)
      : DistortionFreeGenerator(p, vocab),
        prf_(std::move(prf)),
        m_(static_cast<std::uint32_t>(p.param("layers"))),
        k_(static_cast<int>(p.param("leaves"))) {}

  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams& params) override {
    ISOTOPE_RETURN_IF_ERROR(check(logits.size(), params));
    if (!marked(context)) return Status::OK();
    ISOTOPE_RETURN_IF_ERROR(tournament(context, logits, params));
    if (hist_used_) hist_.finish(q_, v_);
    std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
    for (std::size_t j = 0; j < ids_.size(); ++j)
      logits[ids_[j]] = q_[j] > 0.0f ? std::log(q_[j] / total_) : -std::numeric_limits<float>::infinity();
    return Status::OK();
  }
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams& params) override {
    ISOTOPE_RETURN_IF_ERROR(check(cand, params));
    if (cand.empty() || !marked(context)) return Status::OK();
    std::vector<std::uint32_t> kept;
    std::vector<float> kv;
    ISOTOPE_RETURN_IF_ERROR(detail::kept_of_candidates(cand, params, &kept, &ids_, &kv));
    all_ = false;
    ISOTOPE_RETURN_IF_ERROR(weights(context, kv, params));
    if (hist_used_) hist_.finish(q_, v_);
    for (TokenLogit& c : cand) c.logit = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < kept.size(); ++j)
      cand[kept[j]].logit = q_[j] > 0.0f ? std::log(q_[j] / total_) : -std::numeric_limits<float>::infinity();
    return Status::OK();
  }
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token) override {
    ISOTOPE_RETURN_IF_ERROR(check(logits.size(), params));
    if (!marked(context)) return sample_plain(logits, params, rng, token);
    ISOTOPE_RETURN_IF_ERROR(tournament(context, logits, params));
    *token = hist_used_ ? ids_[hist_.draw(q_, v_, rng.next_double())] : draw(rng);
    return Status::OK();
  }

 private:
  // The candidates (ids_: the kept ones, or the whole vocabulary when all_
  // is set) and their tournament weights (q_, block sums block_, sum total_).
  Status tournament(std::span<const std::uint32_t> context, std::span<const float> logits,
                    const SamplingParams& params) {
    if (params.top_k != 0 || params.top_p < 1.0f) {
      ISOTOPE_RETURN_IF_ERROR(detail::kept_candidates(logits, params, &ids_, &kv_));
      all_ = false;
      return weights(context, kv_, params);
    }
    const std::size_t n = logits.size();
    if (ids_.size() != n || !all_) {
      ids_.resize(n);
      for (std::size_t i = 0; i < n; ++i) ids_[i] = static_cast<std::uint32_t>(i);
    }
    all_ = true;
    return weights(context, logits, params);
  }
  // Weights of the candidates ids_ with these logits (one per candidate).
  Status weights(std::span<const std::uint32_t> context, std::span<const float> logits,
                 const SamplingParams& params) {
    const std::size_t n = ids_.size();
    if (n == 0 || logits.size() != n) return detail::bad_logits();
    std::size_t top = 0;
    bool nan = false;
    const float M = kernels::max_index(logits.data(), n, &top, &nan);
    if (nan || !(M > -std::numeric_limits<float>::infinity())) return detail::bad_logits();
    q_.resize(n);
    const float inv_t = 1.0f / params.temperature;
    const std::size_t B = kernels::BLOCK;
    const std::size_t nb = (n + B - 1) / B;
    block_.assign(nb, 0.0f);
    if (std::isinf(M)) {  // a +inf logit is certain: the first one takes all the mass
      for (std::size_t j = 0; j < n; ++j) q_[j] = j == top ? 1.0f : 0.0f;
    } else {
      for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t start = b * B, len = std::min(B, n - start);
        float bmax = 0.0f;
        kernels::block_softmax(logits.data() + start, nullptr, 0, 0.0f, inv_t, len, q_.data() + start, &bmax);
        const double d = (static_cast<double>(bmax) - M) * inv_t;
        const float scale = std::isfinite(d) ? static_cast<float>(std::exp(d)) : 0.0f;
        float* q = q_.data() + start;
        for (std::size_t j = 0; j < len; ++j) q[j] *= scale;
      }
    }
    v_.resize(n);
    const Seed seed = prf_->seed(context.subspan(context.size() - h_));
    if (all_) {
      ISOTOPE_RETURN_IF_ERROR(prf_->values(seed, v_));
    } else {
      ISOTOPE_RETURN_IF_ERROR(prf_->values_at(seed, ids_.data(), n, v_.data()));
    }
    hist_used_ = n >= kHistogramMin;
    if (hist_used_) return hist_.run(q_, v_, m_, k_, &total_);
    return detail::tournament_layered(q_, v_, m_, k_, block_, &total_);
  }
  // Draws one candidate from q_: its block by the block sums, then the token.
  std::uint32_t draw(Rng& rng) const {
    const std::size_t B = kernels::BLOCK, n = q_.size(), nb = block_.size();
    const double r = rng.next_double() * total_;
    double cum = 0.0;
    std::size_t b = 0;
    while (b + 1 < nb && cum + block_[b] <= r) cum += block_[b++];
    while (b > 0 && !(block_[b] > 0.0f)) cum -= block_[--b];
    std::size_t last = b * B;
    for (std::size_t j = b * B; j < std::min(n, (b + 1) * B); ++j) {
      if (!(q_[j] > 0.0f)) continue;
      last = j;
      cum += q_[j];
      if (r < cum) return ids_[j];
    }
    return ids_[last];
  }

  std::unique_ptr<detail::Prf32> prf_;
  std::uint32_t m_;
  int k_;
  std::vector<std::uint32_t> v_, ids_;
  std::vector<float> kv_, q_, block_;
  detail::HistogramTournament hist_;
  bool hist_used_ = false;  // the weights came from hist_ (q_ before its last stage)
  double total_ = 0.0;
  bool all_ = false;  // ids_ is 0..V-1
};

class SynthId final : public Scheme {
 public:
  std::string_view name() const noexcept override { return SCHEME_SYNTHID; }
  std::string_view title() const noexcept override { return "SynthID-Text tournament (Dathathri et al. 2024)"; }
  std::string_view explanation() const noexcept override {
    return "The secret key and the tokens just before each position give every possible next token m random bits "
           "(one per tournament layer). Watermarked generation runs a tournament between candidate tokens in "
           "which a token with a 1 at a layer beats one with a 0, which leaves the model's probabilities "
           "unchanged but favours tokens with many 1 bits. Text that owes nothing to the key has fair bits, so "
           "the number of 1 bits over N distinct scored tuples follows a Binomial(N m, 1/2) law; the p-value is "
           "the exact chance of at least as many.";
  }
  std::string_view default_prf() const noexcept override { return PRF_U32_V1; }
  std::span<const ParamSpec> params() const noexcept override { return kParams; }
  Status validate(const Profile&) const override { return Status::OK(); }
  bool distortion_free(const Profile& p) const noexcept override { return p.param("skip_repeated") != 0.0; }

  Status make_scorer(const Key& key, const Profile& p, std::unique_ptr<TupleScorer>* out) const override {
    std::unique_ptr<detail::Prf32> prf;
    ISOTOPE_RETURN_IF_ERROR(detail::Prf32::create(key, SUBKEY_SIP, SUBKEY_AES, &prf));
    *out = std::make_unique<SynthIdScorer>(std::move(prf), p.context_width,
                                           static_cast<std::uint32_t>(p.param("layers")));
    return Status::OK();
  }
  Status make_generator(const Key& key, const Profile& p, std::uint32_t vocab,
                        std::unique_ptr<Generator>* out) const override {
    std::unique_ptr<detail::Prf32> prf;
    ISOTOPE_RETURN_IF_ERROR(detail::Prf32::create(key, SUBKEY_SIP, SUBKEY_AES, &prf));
    *out = std::make_unique<SynthIdGenerator>(std::move(prf), p, vocab);
    return Status::OK();
  }
  std::uint64_t trials(const Profile& p, std::uint64_t scored) const noexcept override {
    return scored * static_cast<std::uint64_t>(p.param("layers"));
  }
  double null_mean(const Profile&) const noexcept override { return 0.5; }
  double null_variance(const Profile&) const noexcept override { return 0.25; }
  Tail tail(const Profile& p, double statistic, std::uint64_t scored) const noexcept override {
    return binomial_upper_tail(static_cast<std::uint64_t>(statistic), trials(p, scored), 0.5);
  }
  bool integer_scores() const noexcept override { return true; }
};

}  // namespace

const Scheme& synthid_scheme() noexcept {
  static const SynthId s;
  return s;
}

}  // namespace isotope
