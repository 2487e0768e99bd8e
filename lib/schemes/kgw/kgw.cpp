// KGW green-list watermark (Kirchenbauer et al. 2023, "A Watermark for Large
// Language Models"), with the PRF "siphash128-aes128ctr-u16-v1"
// (isotope/prf.hpp, docs/spec.md). Generation adds delta to the logits of the
// green tokens of the window; a scored tuple counts 1 if its token is green;
// the sum over N distinct tuples is Binomial(N, gamma) under H0, gamma being
// the exact share threshold / 65536.
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "isotope/prf.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {
namespace {

constexpr std::array<ParamSpec, 2> kParams{{
    {"gamma", 0.25, 0.0, 1.0, false, "Share of the vocabulary that is green, in (0, 1)"},
    {"delta", 3.0, 0.0, 100.0, false, "Logit bias added to green tokens when generating"},
}};

class KgwScorer final : public TupleScorer {
 public:
  KgwScorer(std::unique_ptr<GreenList> list, std::uint32_t h) : list_(std::move(list)), h_(h) {}
  Status score(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n, double* out) override {
    seeds_.resize(n);
    values_.resize(n);
    for (std::size_t j = 0; j < n; ++j) seeds_[j] = list_->seed({windows + j * h_, h_});
    if (n > 0) ISOTOPE_RETURN_IF_ERROR(list_->values_at(seeds_.data(), tokens, n, values_.data()));
    const std::uint32_t T = list_->threshold();
    for (std::size_t j = 0; j < n; ++j) out[j] = values_[j] < T ? 1.0 : 0.0;
    return Status::OK();
  }
  Status values(std::span<const std::uint32_t> window, std::span<const std::uint32_t> tokens,
                std::span<double> out) override {
    if (window.size() != h_ || out.size() != tokens.size())
      return {Code::invalid_argument, "values: the window must hold h ids and out one entry per token"};
    values_.resize(tokens.size());
    if (!tokens.empty())
      ISOTOPE_RETURN_IF_ERROR(list_->values_at(list_->seed(window), tokens.data(), tokens.size(), values_.data()));
    for (std::size_t j = 0; j < tokens.size(); ++j) out[j] = values_[j] < list_->threshold() ? 1.0 : 0.0;
    return Status::OK();
  }
  ValueShape value_shape() const noexcept override { return {1, ValueKind::bit}; }

 private:
  std::unique_ptr<GreenList> list_;
  std::uint32_t h_;
  std::vector<Seed> seeds_;
  std::vector<std::uint16_t> values_;
};

class KgwGenerator final : public Generator {
 public:
  KgwGenerator(std::unique_ptr<GreenList> list, const Profile& p, std::uint32_t vocab)
      : list_(std::move(list)), h_(p.context_width), delta_(static_cast<float>(p.param("delta"))), vocab_(vocab) {}

  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams&) override {
    detail::GreenBias b;
    if (!bias(context, &b)) return Status::OK();
    return detail::green_apply(logits, b);
  }
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams&) override {
    detail::GreenBias b;
    if (cand.empty() || !bias(context, &b)) return Status::OK();
    return detail::green_apply_candidates(cand, vocab_, b);
  }
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token) override {
    detail::GreenBias b;
    if (!bias(context, &b)) return sample_plain(logits, params, rng, token);  // too short a context
    return detail::green_sample(logits, b, params, rng, token);
  }

 private:
  bool bias(std::span<const std::uint32_t> context, detail::GreenBias* b) const {
    if (context.size() < h_) return false;
    b->list = list_.get();
    b->seed = list_->seed(context.subspan(context.size() - h_));
    b->delta = delta_;
    b->threshold = list_->threshold();
    return true;
  }
  std::unique_ptr<GreenList> list_;
  std::uint32_t h_;
  float delta_;
  std::uint32_t vocab_;
};

// Attribution, nested (docs/spec.md, "Attribution"): at a position the route
// gives to an account, delta is added to the tokens that are green under the
// master key AND in the account's half (green under the account key with
// gamma 1/2), and to no other: the account marks a keyed half of the master
// green list, so every marked token is master-green.
class KgwNestedGenerator final : public Generator {
 public:
  KgwNestedGenerator(std::unique_ptr<GreenList> master, std::unique_ptr<GreenList> half, const Profile& p,
                     std::uint32_t vocab)
      : master_(std::move(master)),
        half_(std::move(half)),
        h_(p.context_width),
        delta_(static_cast<float>(p.param("delta"))),
        vocab_(vocab) {}

  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams&) override {
    if (context.size() < h_) return Status::OK();
    const auto window = context.subspan(context.size() - h_);
    mv_.resize(logits.size());
    hv_.resize(logits.size());
    ISOTOPE_RETURN_IF_ERROR(master_->values(master_->seed(window), mv_));
    ISOTOPE_RETURN_IF_ERROR(half_->values(half_->seed(window), hv_));
    const std::uint32_t tm = master_->threshold();
    const std::uint32_t th = half_->threshold();
    for (std::size_t t = 0; t < logits.size(); ++t)
      if (mv_[t] < tm && hv_[t] < th) logits[t] += delta_;
    return Status::OK();
  }
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams&) override {
    if (cand.empty() || context.size() < h_) return Status::OK();
    const auto window = context.subspan(context.size() - h_);
    ids_.resize(cand.size());
    for (std::size_t j = 0; j < cand.size(); ++j) {
      if (cand[j].id < 0 || static_cast<std::uint32_t>(cand[j].id) >= vocab_)
        return {Code::vocab_mismatch,
                "candidate token id " + std::to_string(cand[j].id) + " is outside the vocabulary"};
      ids_[j] = static_cast<std::uint32_t>(cand[j].id);
    }
    mv_.resize(cand.size());
    hv_.resize(cand.size());
    ISOTOPE_RETURN_IF_ERROR(master_->values_at(master_->seed(window), ids_.data(), ids_.size(), mv_.data()));
    ISOTOPE_RETURN_IF_ERROR(half_->values_at(half_->seed(window), ids_.data(), ids_.size(), hv_.data()));
    for (std::size_t j = 0; j < cand.size(); ++j)
      if (mv_[j] < master_->threshold() && hv_[j] < half_->threshold()) cand[j].logit += delta_;
    return Status::OK();
  }
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token) override {
    return detail::sample_biased_copy(*this, context, logits, params, rng, &biased_, token);
  }

 private:
  std::unique_ptr<GreenList> master_, half_;
  std::uint32_t h_;
  float delta_;
  std::uint32_t vocab_;
  std::vector<std::uint16_t> mv_, hv_;
  std::vector<std::uint32_t> ids_;
  std::vector<float> biased_;
};

// The account's half: the KGW profile with gamma 1/2 (threshold 32768).
Status half_profile(const Profile& p, Profile* out) {
  Profile q = p;
  ISOTOPE_RETURN_IF_ERROR(q.set("gamma", 0.5));
  *out = std::move(q);
  return Status::OK();
}

class Kgw final : public Scheme {
 public:
  std::string_view name() const noexcept override { return SCHEME_KGW; }
  std::string_view title() const noexcept override { return "KGW green list (Kirchenbauer et al. 2023)"; }
  std::string_view explanation() const noexcept override {
    return "Each token is green or red, decided by the secret key and the tokens just before it; a share gamma of "
           "the vocabulary is green. Watermarked generation favours green tokens. Text that owes nothing to the "
           "key is green at the rate gamma, so the number of green tokens among N distinct scored tuples follows "
           "a binomial distribution; the p-value is the exact chance of at least as many green tokens.";
  }
  std::string_view default_prf() const noexcept override { return PRF_V1; }
  std::span<const ParamSpec> params() const noexcept override { return kParams; }
  Status validate(const Profile& p) const override {
    const double gamma = p.param("gamma");
    if (!(gamma > 0.0 && gamma < 1.0)) return {Code::invalid_argument, "gamma must lie strictly between 0 and 1"};
    const std::uint32_t T = kgw_green_threshold(p);
    if (T == 0 || T >= 65536) return {Code::invalid_argument, "gamma is too close to 0 or 1 for 16-bit green values"};
    return Status::OK();
  }
  bool distortion_free(const Profile& p) const noexcept override { return p.param("delta") == 0.0; }

  Status make_scorer(const Key& key, const Profile& p, std::unique_ptr<TupleScorer>* out) const override {
    std::unique_ptr<GreenList> list;
    ISOTOPE_RETURN_IF_ERROR(GreenList::create(key, p, &list));
    *out = std::make_unique<KgwScorer>(std::move(list), p.context_width);
    return Status::OK();
  }
  Status make_generator(const Key& key, const Profile& p, std::uint32_t vocab,
                        std::unique_ptr<Generator>* out) const override {
    std::unique_ptr<GreenList> list;
    ISOTOPE_RETURN_IF_ERROR(GreenList::create(key, p, &list));
    *out = std::make_unique<KgwGenerator>(std::move(list), p, vocab);
    return Status::OK();
  }

  std::uint64_t trials(const Profile&, std::uint64_t scored) const noexcept override { return scored; }
  double null_mean(const Profile& p) const noexcept override { return kgw_gamma_effective(p); }
  double null_variance(const Profile& p) const noexcept override {
    const double g = kgw_gamma_effective(p);
    return g * (1.0 - g);
  }
  Tail tail(const Profile& p, double statistic, std::uint64_t scored) const noexcept override {
    return binomial_upper_tail(static_cast<std::uint64_t>(statistic), scored, kgw_gamma_effective(p));
  }
  bool integer_scores() const noexcept override { return true; }
  std::optional<double> green_rate(const Profile& p) const noexcept override { return kgw_gamma_effective(p); }

  // Attribution: nested (KgwNestedGenerator). An account's test counts, among
  // the routed tuples whose token is master-green, those in the account's
  // half: Binomial(k, 1/2) under H0.
  bool nests_accounts(const Profile&) const noexcept override { return true; }
  Status account_profile(const Profile& p, Profile* out) const override { return half_profile(p, out); }
  Status make_account_generator(const Key& master, const Key& account, const Profile& p, std::uint32_t vocab,
                                std::unique_ptr<Generator>* out) const override {
    Profile half;
    ISOTOPE_RETURN_IF_ERROR(half_profile(p, &half));
    std::unique_ptr<GreenList> ml;
    std::unique_ptr<GreenList> hl;
    ISOTOPE_RETURN_IF_ERROR(GreenList::create(master, p, &ml));
    ISOTOPE_RETURN_IF_ERROR(GreenList::create(account, half, &hl));
    *out = std::make_unique<KgwNestedGenerator>(std::move(ml), std::move(hl), p, vocab);
    return Status::OK();
  }
};

}  // namespace

const Scheme& kgw_scheme() noexcept {
  static const Kgw s;
  return s;
}

}  // namespace isotope
