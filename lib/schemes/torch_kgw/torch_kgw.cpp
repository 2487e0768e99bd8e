// Profiles hf-kgw (Hugging Face transformers' WatermarkLogitsProcessor) and
// tgi-kgw (text-generation-inference's WatermarkLogitsProcessor): KGW green
// lists drawn from PyTorch's CPU generator (torch_kgw.hpp, docs/compat.md).
//
// The key is an engine key of one integer: the engine's hashing key
// (transformers' hashing_key, TGI's hash_key; both default to 15485863).
//
// Score of a tuple: 1 if its token is in the green list of its seed, else 0;
// a (seed, token) pair already scored by the same scorer counts 0 (two
// windows can give one seed, and the same pair is one trial, not two).
//
// Null: under H0 (text independent of the key, each distinct seed's
// permutation uniformly random) the green bits of one seed are a draw without
// replacement from V tokens of which G are green (hypergeometric), and the
// seeds are independent: the count is a sum of independent hypergeometric
// variables and zeros (repeated pairs, ids beyond V), which is a sum of N
// independent Bernoulli variables of total mean at most N G/V (a
// hypergeometric law has a real-rooted generating function); raising the
// zero terms' means to reach N G/V only raises the upper tail.
// Hoeffding (1956, Theorem 4) then bounds P(count >= k) by the Binomial(N, G/V)
// tail whenever k >= N G/V + 1: that tail is the p-value there, and p = 1
// below it. The p-value is therefore provably conservative, and equal to the
// exact Binomial tail when every seed is scored once.
#include "schemes/torch_kgw/torch_kgw.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"
#include "prf/torch_cpu.hpp"
#include "schemes/engine_ints.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {
namespace {

using detail::TorchGreenLists;
using detail::TorchKgwConfig;
using detail::TorchKgwSeeding;

constexpr double MAX_VOCAB = detail::TORCH_RANDPERM_MAX_N;

constexpr std::array<ParamSpec, 5> kHfParams{{
    {"greenlist_ratio", 0.25, 0.0, 1.0, false, "Share of the vocabulary that is green (transformers' greenlist_ratio)"},
    {"bias", 2.0, 0.0, 100.0, false, "Logit bias added to green tokens when generating (transformers' bias)"},
    {"seeding_scheme", 0.0, 0.0, 1.0, true, "transformers' seeding_scheme: 0 lefthash, 1 selfhash"},
    {"engine_vocab_size", 0.0, 0.0, MAX_VOCAB, true,
     "The model config's vocab_size (required: the green lists depend on it)"},
    {"device", 0.0, 0.0, 1.0, true, "Where the engine drew its green lists: 0 cpu; 1 cuda (not reproduced)"},
}};
constexpr std::array<ParamSpec, 4> kTgiParams{{
    {"gamma", 0.5, 0.0, 1.0, false, "Share of the vocabulary that is green (TGI's WATERMARK_GAMMA)"},
    {"delta", 2.0, 0.0, 100.0, false,
     "Logit bias added to green tokens when generating (TGI's "
     "WATERMARK_DELTA)"},
    {"engine_vocab_size", 0.0, 0.0, MAX_VOCAB, true,
     "The size of the model's logits (required: the green lists depend on it)"},
    {"device", 0.0, 0.0, 1.0, true, "Where the engine drew its green lists: 0 cpu; 1 cuda (not reproduced)"},
}};

bool is_tgi(const Profile& p) { return p.scheme == "tgi-kgw"; }
double ratio_of(const Profile& p) { return p.param(is_tgi(p) ? "gamma" : "greenlist_ratio"); }
double bias_of(const Profile& p) { return p.param(is_tgi(p) ? "delta" : "bias"); }
std::uint32_t vocab_of(const Profile& p) { return static_cast<std::uint32_t>(p.param("engine_vocab_size")); }
std::uint32_t green_of(const Profile& p) { return detail::torch_kgw_green_size(vocab_of(p), ratio_of(p)); }
double gamma_of(const Profile& p) {
  const std::uint32_t V = vocab_of(p);
  return V == 0 ? 0.0 : static_cast<double>(green_of(p)) / V;
}

Status make_lists(const Key& key, const Profile& p, TorchGreenLists* out) {
  std::vector<std::uint64_t> ints;
  ISOTOPE_RETURN_IF_ERROR(detail::engine_ints(key, 1, p.scheme, &ints));
  TorchKgwConfig cfg;
  cfg.seeding = is_tgi(p)                          ? TorchKgwSeeding::tgi
                : p.param("seeding_scheme") == 1.0 ? TorchKgwSeeding::hf_selfhash
                                                   : TorchKgwSeeding::hf_lefthash;
  cfg.hashing_key = ints[0];
  cfg.vocab = vocab_of(p);
  cfg.green = green_of(p);
  cfg.context_width = p.context_width;
  return TorchGreenLists::create(cfg, out);
}

class TorchKgwScorer final : public TupleScorer {
 public:
  TorchKgwScorer(TorchGreenLists lists, std::uint32_t h) : lists_(std::move(lists)), h_(h) {}
  Status score(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n, double* out) override {
    for (std::size_t j = 0; j < n; ++j) {
      std::uint64_t seed = 0;
      ISOTOPE_RETURN_IF_ERROR(lists_.seed({windows + j * h_, h_}, tokens[j], &seed));
      bool green = false;
      ISOTOPE_RETURN_IF_ERROR(lists_.is_green(seed, tokens[j], &green));
      const std::uint64_t pair = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(seed)) << 32) | tokens[j];
      out[j] = seen_.insert(pair).second && green ? 1.0 : 0.0;
    }
    return Status::OK();
  }
  Status values(std::span<const std::uint32_t> window, std::span<const std::uint32_t> tokens,
                std::span<double> out) override {
    if (window.size() != h_ || out.size() != tokens.size())
      return {Code::invalid_argument, "values: the window must hold h ids and out one entry per token"};
    for (std::size_t j = 0; j < tokens.size(); ++j) {
      std::uint64_t seed = 0;
      ISOTOPE_RETURN_IF_ERROR(lists_.seed(window, tokens[j], &seed));
      bool green = false;
      ISOTOPE_RETURN_IF_ERROR(lists_.is_green(seed, tokens[j], &green));
      out[j] = green ? 1.0 : 0.0;
    }
    return Status::OK();
  }
  ValueShape value_shape() const noexcept override { return {1, ValueKind::bit}; }
  void reset() override { seen_.clear(); }

 private:
  TorchGreenLists lists_;
  std::uint32_t h_;
  std::unordered_set<std::uint64_t> seen_;
};

// The processor's own rule: + bias on the green logits (lefthash: the green
// list of the previous token; selfhash: of the 40 best tokens, those green
// under their own seed). Temperature, top-k and top-p are then applied by the
// sampler to the biased logits.
class TorchKgwGenerator final : public Generator {
 public:
  TorchKgwGenerator(TorchGreenLists lists, const Profile& p)
      : lists_(std::move(lists)), h_(p.context_width), bias_(static_cast<float>(bias_of(p))) {}

  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams&) override {
    if (context.size() < std::max<std::uint32_t>(h_, 1)) return Status::OK();  // the engine skips short inputs
    const auto window = context.subspan(context.size() - h_);
    if (lists_.config().seeding != TorchKgwSeeding::hf_selfhash) {
      std::uint64_t seed = 0;
      ISOTOPE_RETURN_IF_ERROR(lists_.seed(window, 0, &seed));
      ISOTOPE_RETURN_IF_ERROR(lists_.green_ids(seed, &ids_));
      for (std::uint32_t id : ids_) logits[id] += bias_;
      return Status::OK();
    }
    // selfhash: the 40 highest logits, ties to the lower id.
    order_.resize(logits.size());
    std::iota(order_.begin(), order_.end(), 0u);
    const std::size_t k = std::min<std::size_t>(40, logits.size());
    std::partial_sort(
        order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(k), order_.end(),
        [&](std::uint32_t a, std::uint32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    marked_.clear();
    for (std::size_t i = 0; i < k; ++i) {
      std::uint64_t seed = 0;
      bool green = false;
      ISOTOPE_RETURN_IF_ERROR(lists_.seed(window, order_[i], &seed));
      ISOTOPE_RETURN_IF_ERROR(lists_.is_green(seed, order_[i], &green));
      if (green) marked_.push_back(order_[i]);
    }
    for (std::uint32_t id : marked_) logits[id] += bias_;
    return Status::OK();
  }
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams&) override {
    if (cand.empty() || context.size() < std::max<std::uint32_t>(h_, 1)) return Status::OK();
    const auto window = context.subspan(context.size() - h_);
    const bool selfhash = lists_.config().seeding == TorchKgwSeeding::hf_selfhash;
    std::vector<std::size_t> idx(cand.size());
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    if (selfhash) {
      const std::size_t k = std::min<std::size_t>(40, cand.size());
      std::partial_sort(
          idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), [&](std::size_t a, std::size_t b) {
            return cand[a].logit > cand[b].logit || (cand[a].logit == cand[b].logit && cand[a].id < cand[b].id);
          });
      idx.resize(k);
    }
    std::vector<std::size_t> green_at;
    for (std::size_t i : idx) {
      const auto id = static_cast<std::uint32_t>(cand[i].id);
      std::uint64_t seed = 0;
      bool green = false;
      ISOTOPE_RETURN_IF_ERROR(lists_.seed(window, id, &seed));
      ISOTOPE_RETURN_IF_ERROR(lists_.is_green(seed, id, &green));
      if (green) green_at.push_back(i);
    }
    for (std::size_t i : green_at) cand[i].logit += bias_;
    return Status::OK();
  }
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token) override {
    return detail::sample_biased_copy(*this, context, logits, params, rng, &biased_, token);
  }

 private:
  TorchGreenLists lists_;
  std::uint32_t h_;
  float bias_;
  std::vector<std::uint32_t> ids_, order_, marked_;
  std::vector<float> biased_;
};

class TorchKgw final : public Scheme {
 public:
  explicit TorchKgw(bool tgi) : tgi_(tgi) {}
  std::string_view name() const noexcept override { return tgi_ ? "tgi-kgw" : "hf-kgw"; }
  std::string_view title() const noexcept override {
    return tgi_ ? "KGW green list of text-generation-inference (torch CPU "
                  "generator)"
                : "KGW green list of Hugging Face transformers (torch CPU "
                  "generator)";
  }
  std::string_view explanation() const noexcept override {
    return "Each token is green or red: the serving engine seeded PyTorch's "
           "random generator from its hashing key "
           "and the previous token(s) and took the first part of a random "
           "permutation of the vocabulary as the "
           "green list. Watermarked generation favours green tokens. Text that "
           "owes nothing to the key is green at "
           "the rate G/V; the p-value is the binomial chance of at least as "
           "many green tokens among N distinct "
           "scored tuples, which is conservative for green lists shared by "
           "several tuples.";
  }
  std::string_view default_prf() const noexcept override {
    return tgi_ ? "tgi-torch-cpu-randperm-v1" : "hf-torch-cpu-randperm-v1";
  }
  std::span<const ParamSpec> params() const noexcept override {
    if (tgi_) return kTgiParams;
    return kHfParams;
  }
  std::uint32_t default_context_width() const noexcept override { return 1; }
  std::size_t engine_key_ints(const Profile&) const noexcept override { return 1; }
  Status validate(const Profile& p) const override {
    if (p.param("device") != 0.0)
      return {Code::invalid_argument, std::string(name()) +
                                          ": green lists drawn on a CUDA device come "
                                          "from PyTorch's CUDA generator "
                                          "(Philox and another randperm), which "
                                          "isotope does not reproduce; only device=0 "
                                          "(cpu) is supported"};
    const double r = ratio_of(p);
    if (!(r > 0.0 && r < 1.0)) return {Code::invalid_argument, "the green share must lie strictly between 0 and 1"};
    const std::uint32_t V = vocab_of(p);
    if (V < 2)
      return {Code::invalid_argument, std::string(name()) +
                                          " needs --engine-vocab-size: the model's vocabulary size "
                                          "(the size of its logits), on which the green lists depend"};
    const std::uint32_t G = green_of(p);
    if (G == 0 || G >= V) return {Code::invalid_argument, "the green list must hold at least one token and not all"};
    if (tgi_ && p.context_width != 1)
      return {Code::invalid_argument,
              "tgi-kgw seeds from the previous token "
              "only: the context width must be 1"};
    if (!tgi_ && p.context_width < 1)
      return {Code::invalid_argument,
              "hf-kgw needs a context width of at "
              "least 1 (transformers' context_width)"};
    return Status::OK();
  }
  bool distortion_free(const Profile& p) const noexcept override { return bias_of(p) == 0.0; }

  Status make_scorer(const Key& key, const Profile& p, std::unique_ptr<TupleScorer>* out) const override {
    TorchGreenLists lists;
    ISOTOPE_RETURN_IF_ERROR(make_lists(key, p, &lists));
    *out = std::make_unique<TorchKgwScorer>(std::move(lists), p.context_width);
    return Status::OK();
  }
  Status make_generator(const Key& key, const Profile& p, std::uint32_t vocab,
                        std::unique_ptr<Generator>* out) const override {
    if (vocab < vocab_of(p))
      return {Code::vocab_mismatch, "the logits have " + std::to_string(vocab) +
                                        " entries, fewer than the profile's engine_vocab_size " +
                                        std::to_string(vocab_of(p))};
    TorchGreenLists lists;
    ISOTOPE_RETURN_IF_ERROR(make_lists(key, p, &lists));
    *out = std::make_unique<TorchKgwGenerator>(std::move(lists), p);
    return Status::OK();
  }

  std::uint64_t trials(const Profile&, std::uint64_t scored) const noexcept override { return scored; }
  double null_mean(const Profile& p) const noexcept override { return gamma_of(p); }
  double null_variance(const Profile& p) const noexcept override {
    const double g = gamma_of(p);
    return g * (1.0 - g);
  }
  Tail tail(const Profile& p, double statistic, std::uint64_t scored) const noexcept override {
    const double g = gamma_of(p);
    const auto k = static_cast<std::uint64_t>(statistic);
    // Hoeffding (1956): the binomial tail bounds the true one from k >= N g + 1
    // on.
    if (static_cast<double>(k) < static_cast<double>(scored) * g + 1.0) return Tail{};
    return binomial_upper_tail(k, scored, g);
  }
  bool integer_scores() const noexcept override { return true; }

 private:
  bool tgi_;
};

}  // namespace

const Scheme& hf_kgw_scheme() noexcept {
  static const TorchKgw s(false);
  return s;
}
const Scheme& tgi_kgw_scheme() noexcept {
  static const TorchKgw s(true);
  return s;
}

}  // namespace isotope
