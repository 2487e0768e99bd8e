// Profile hf-synthid: Hugging Face transformers' SynthIDTextWatermarkLogitsProcessor
// (hf_synthid.hpp gives the g-values, docs/compat.md the construction in words).
//
// The key is an engine key of `layers` integers (the processor's `keys`, one
// per tournament layer). Score of a tuple: the number of its g-values equal
// to 1.
//
// Null: the sampling table is fixed by the configuration, so the g-values are
// not fair independent bits. Under H0 the keys are uniform 64-bit integers
// independent of the text; with S a power of two, layer l reads the table at
// (c_j + o_l) mod S, where c_j = (h_j * M + 1) mod S is the residue of tuple j
// (h_j the hash of its window and token, M the hash multiplier: public) and
// o_l = k_l * M mod S is uniform on 0..S-1 (M is odd) and independent across
// layers. The per-layer sum D(o) = sum_j table[(c_j + o) mod S] therefore has
// the law of D at a uniform offset, and the total is the sum of `layers`
// independent copies: the exact null, computed from the tuples (TupleNull).
// Its smallest p-value is S^-layers.
#include "schemes/hf_synthid/hf_synthid.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"
#include "schemes/engine_ints.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {
namespace {

using detail::hf_synthid_hash;
using detail::hf_synthid_hash1;
using detail::HF_SYNTHID_LCG_MUL;

constexpr double MAX_TABLE = 16777216.0;  // 2^24

constexpr std::array<ParamSpec, 7> kParams{{
    {"ngram_len", 5.0, 2.0, 9.0, true, "transformers' ngram_len: the n-gram ends with the scored token (window n - 1)"},
    {"layers", 30.0, 1.0, 256.0, true, "Number of watermarking keys (tournament depth): the engine key's integers"},
    {"sampling_table_size", 65536.0, 2.0, MAX_TABLE, true, "transformers' sampling_table_size (a power of two)"},
    {"sampling_table_seed", 0.0, 0.0, 9007199254740992.0, true, "transformers' sampling_table_seed"},
    {"context_history_size", 1024.0, 0.0, 1048576.0, true,
     "transformers' context_history_size: a window seen this many positions back is not watermarked"},
    {"skip_first_ngram_calls", 0.0, 0.0, 1.0, true,
     "transformers' skip_first_ngram_calls: 1 leaves the first ngram_len - 1 generated tokens unmarked"},
    {"device", 0.0, 0.0, 1.0, true, "Where the engine drew its sampling table: 0 cpu; 1 cuda (not reproduced)"},
}};

std::uint32_t table_size_of(const Profile& p) { return static_cast<std::uint32_t>(p.param("sampling_table_size")); }
std::uint32_t layers_of(const Profile& p) { return static_cast<std::uint32_t>(p.param("layers")); }
std::vector<std::uint8_t> table_of(const Profile& p) {
  return detail::hf_synthid_table(table_size_of(p), static_cast<std::uint64_t>(p.param("sampling_table_seed")));
}
double ones_share(const std::vector<std::uint8_t>& table) {
  std::size_t ones = 0;
  for (auto b : table) ones += b;
  return table.empty() ? 0.0 : static_cast<double>(ones) / static_cast<double>(table.size());
}

class HfSynthIdScorer final : public TupleScorer {
 public:
  HfSynthIdScorer(std::vector<std::uint8_t> table, std::vector<std::uint64_t> keys, std::uint32_t h)
      : table_(std::move(table)), keys_(std::move(keys)), h_(h), g_(keys_.size()) {}
  Status score(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n, double* out) override {
    for (std::size_t j = 0; j < n; ++j) out[j] = ones({windows + j * h_, h_}, tokens[j]);
    return Status::OK();
  }
  // The g-values, layer 1 (the first key) first.
  Status values(std::span<const std::uint32_t> window, std::span<const std::uint32_t> tokens,
                std::span<double> out) override {
    const std::size_t m = keys_.size();
    if (window.size() != h_ || out.size() != tokens.size() * m)
      return {Code::invalid_argument, "values: the window must hold h ids and out one entry per token and layer"};
    for (std::size_t j = 0; j < tokens.size(); ++j) {
      gvalues(window, tokens[j], g_);
      for (std::size_t l = 0; l < m; ++l) out[j * m + l] = g_[l];
    }
    return Status::OK();
  }
  ValueShape value_shape() const noexcept override { return {keys_.size(), ValueKind::bit}; }
  // The g-values, one per layer.
  void gvalues(std::span<const std::uint32_t> window, std::uint32_t token, std::span<std::uint8_t> out) const {
    detail::hf_synthid_gvalues(table_, keys_, window, token, out);
  }

 private:
  double ones(std::span<const std::uint32_t> window, std::uint32_t token) {
    gvalues(window, token, g_);
    double s = 0.0;
    for (auto b : g_) s += b;
    return s;
  }
  std::vector<std::uint8_t> table_;
  std::vector<std::uint64_t> keys_;
  std::uint32_t h_;
  std::vector<std::uint8_t> g_;
};

// The exact null (file comment): D over the S offsets, then its m-fold
// convolution. Probabilities in long double: the smallest, S^-m, is below
// the range of a double for large m.
class HfSynthIdNull final : public TupleNull {
 public:
  HfSynthIdNull(const std::vector<std::uint8_t>& table, std::uint32_t h, std::uint32_t m)
      : S_(static_cast<std::uint32_t>(table.size())), h_(h), m_(m), twice_(2 * table.size()), d_(table.size(), 0) {
    for (std::size_t i = 0; i < twice_.size(); ++i) twice_[i] = table[i % table.size()];
  }
  void add(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n) override {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint64_t hj = hf_synthid_hash1(hf_synthid_hash(1, {windows + j * h_, h_}), tokens[j]);
      const auto c = static_cast<std::uint32_t>((hj * HF_SYNTHID_LCG_MUL + 1u) & (S_ - 1u));
      const std::uint8_t* t = twice_.data() + c;
      std::uint32_t* d = d_.data();
      for (std::uint32_t o = 0; o < S_; ++o) d[o] += t[o];
    }
    n_ += n;
  }
  Tail tail(double statistic) const override {
    if (n_ == 0 || !(statistic > 0.0)) return Tail{};
    const auto [lo_it, hi_it] = std::minmax_element(d_.begin(), d_.end());
    const std::uint32_t lo = *lo_it, w = *hi_it - lo + 1;
    std::vector<long double> q(w, 0.0L);
    for (std::uint32_t v : d_) q[v - lo] += 1.0L;
    for (long double& x : q) x /= static_cast<long double>(S_);
    // dist: law of the sum over the layers so far, shifted by l * lo.
    std::vector<long double> dist = q, next;
    for (std::uint32_t l = 1; l < m_; ++l) {
      next.assign(dist.size() + w - 1, 0.0L);
      for (std::size_t a = 0; a < dist.size(); ++a) {
        if (dist[a] == 0.0L) continue;
        for (std::uint32_t b = 0; b < w; ++b) next[a + b] += dist[a] * q[b];
      }
      dist.swap(next);
    }
    const long double shift = static_cast<long double>(lo) * m_;
    const long double from = std::ceil(static_cast<long double>(statistic) - shift);
    if (from <= 0.0L) return Tail{};
    if (from >= static_cast<long double>(dist.size())) return tail_of(0.0L);
    long double p = 0.0L;
    for (std::size_t i = dist.size(); i-- > static_cast<std::size_t>(from);) p += dist[i];
    return tail_of(std::min(p, 1.0L));
  }
  void clear() override {
    std::fill(d_.begin(), d_.end(), 0u);
    n_ = 0;
  }

 private:
  static Tail tail_of(long double p) {
    Tail t;
    if (p <= 0.0L) {  // cannot happen for an observed statistic; the bound S^-m is finite
      t.log10_p = -std::numeric_limits<double>::max();
      t.p_value = 0.0;
      return t;
    }
    t.log10_p = std::min(0.0, static_cast<double>(std::log10(p)));
    t.p_value = static_cast<double>(p);
    return t;
  }
  std::uint32_t S_, h_, m_;
  std::vector<std::uint8_t> twice_;
  std::vector<std::uint32_t> d_;
  std::uint64_t n_ = 0;
};

// The processor's rule on the candidates sampling keeps (top-k, top-p at the
// temperature; transformers applies its warpers before the watermark):
// probabilities p = softmax(logits / T) in float32, then for each layer
// p <- p * (1 + g - sum(g p)); a window seen among the previous
// context_history_size windows is sampled unmarked.
class HfSynthIdGenerator final : public Generator {
 public:
  HfSynthIdGenerator(std::vector<std::uint8_t> table, std::vector<std::uint64_t> keys, const Profile& p,
                     std::uint32_t vocab)
      : scorer_(std::move(table), std::move(keys), p.context_width),
        h_(p.context_width),
        m_(layers_of(p)),
        history_(static_cast<std::size_t>(p.param("context_history_size"))),
        vocab_(vocab) {}

  Status apply(std::span<const std::uint32_t> context, std::span<float> logits, const SamplingParams& params) override {
    if (logits.size() != vocab_) return {Code::vocab_mismatch, "logits size differs from the vocabulary"};
    if (params.greedy) return greedy();
    if (!marked(context)) return Status::OK();
    ISOTOPE_RETURN_IF_ERROR(detail::kept_candidates(logits, params, &ids_, &vals_));
    ISOTOPE_RETURN_IF_ERROR(tournament(context, params));
    std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
    for (std::size_t j = 0; j < ids_.size(); ++j)
      logits[ids_[j]] = p_[j] > 0.0f ? std::log(p_[j]) : -std::numeric_limits<float>::infinity();
    return Status::OK();
  }
  Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                          const SamplingParams& params) override {
    if (params.greedy) return greedy();
    if (cand.empty() || !marked(context)) return Status::OK();
    std::vector<float> l(cand.size());
    for (std::size_t j = 0; j < cand.size(); ++j) l[j] = cand[j].logit;
    std::vector<std::uint32_t> kept;
    ISOTOPE_RETURN_IF_ERROR(detail::kept_candidates(l, params, &kept, &vals_));
    ids_.resize(kept.size());
    for (std::size_t j = 0; j < kept.size(); ++j) ids_[j] = static_cast<std::uint32_t>(cand[kept[j]].id);
    ISOTOPE_RETURN_IF_ERROR(tournament(context, params));
    for (TokenLogit& c : cand) c.logit = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < kept.size(); ++j)
      cand[kept[j]].logit = p_[j] > 0.0f ? std::log(p_[j]) : -std::numeric_limits<float>::infinity();
    return Status::OK();
  }
  Status sample(std::span<const std::uint32_t> context, std::span<const float> logits, const SamplingParams& params,
                Rng& rng, std::uint32_t* token) override {
    if (logits.size() != vocab_) return {Code::vocab_mismatch, "logits size differs from the vocabulary"};
    if (params.greedy) return greedy();
    if (!marked(context)) return sample_plain(logits, params, rng, token);
    ISOTOPE_RETURN_IF_ERROR(detail::kept_candidates(logits, params, &ids_, &vals_));
    ISOTOPE_RETURN_IF_ERROR(tournament(context, params));
    double total = 0.0;
    for (float x : p_) total += x;
    const double r = rng.next_double() * total;
    double cum = 0.0;
    std::size_t last = 0;
    for (std::size_t j = 0; j < p_.size(); ++j) {
      if (!(p_[j] > 0.0f)) continue;
      last = j;
      cum += p_[j];
      if (r < cum) {
        *token = ids_[j];
        return Status::OK();
      }
    }
    *token = ids_[last];
    return Status::OK();
  }

 private:
  static Status greedy() {
    return {Code::invalid_argument, "hf-synthid watermarks sampling: greedy decoding has no randomness to key"};
  }
  // A full window that is not among the windows of the previous
  // context_history_size positions.
  bool marked(std::span<const std::uint32_t> context) const {
    const std::size_t n = context.size();
    if (n < h_) return false;
    const auto cur = context.subspan(n - h_, h_);
    const std::size_t from = n > h_ + history_ ? n - history_ : h_;
    for (std::size_t j = from; j < n; ++j)
      if (std::equal(cur.begin(), cur.end(), context.begin() + static_cast<std::ptrdiff_t>(j - h_))) return false;
    return true;
  }
  Status tournament(std::span<const std::uint32_t> context, const SamplingParams& params) {
    const std::size_t n = ids_.size();
    if (n == 0) return {Code::invalid_argument, "logits contain NaN, or every logit is -inf"};
    const float inv_t = 1.0f / params.temperature;
    float mx = -std::numeric_limits<float>::infinity();
    for (float v : vals_) mx = std::max(mx, v * inv_t);
    p_.resize(n);
    float sum = 0.0f;
    for (std::size_t j = 0; j < n; ++j) sum += (p_[j] = std::exp(vals_[j] * inv_t - mx));
    for (float& x : p_) x /= sum;
    g_.resize(n * m_);
    const auto window = context.subspan(context.size() - h_, h_);
    for (std::size_t j = 0; j < n; ++j)
      scorer_.gvalues(window, ids_[j], std::span<std::uint8_t>(g_).subspan(j * m_, m_));
    for (std::uint32_t l = 0; l < m_; ++l) {
      float mass = 0.0f;
      for (std::size_t j = 0; j < n; ++j) mass += g_[j * m_ + l] * p_[j];
      for (std::size_t j = 0; j < n; ++j) p_[j] *= 1.0f + static_cast<float>(g_[j * m_ + l]) - mass;
    }
    return Status::OK();
  }

  HfSynthIdScorer scorer_;
  std::uint32_t h_, m_;
  std::size_t history_;
  std::uint32_t vocab_;
  std::vector<std::uint32_t> ids_;
  std::vector<float> vals_, p_;
  std::vector<std::uint8_t> g_;
};

class HfSynthId final : public Scheme {
 public:
  std::string_view name() const noexcept override { return "hf-synthid"; }
  std::string_view title() const noexcept override {
    return "SynthID-Text of Hugging Face transformers (torch CPU sampling table)";
  }
  std::string_view explanation() const noexcept override {
    return "The serving engine gave every possible next token one bit per watermarking key (tournament layer), "
           "read from a fixed random table at a place set by the key and the tokens just before it; watermarked "
           "generation favours tokens with many 1 bits. With the keys drawn at random and independent of the "
           "text, each layer reads the table at one random shift of places fixed by the text, so the number of 1 "
           "bits has an exact law that isotope computes from the scored tuples themselves; the p-value is the "
           "exact chance of at least as many.";
  }
  std::string_view default_prf() const noexcept override { return "hf-synthid-lcg-torch-cpu-table-v1"; }
  std::span<const ParamSpec> params() const noexcept override { return kParams; }
  std::uint32_t default_context_width() const noexcept override { return 4; }
  std::size_t engine_key_ints(const Profile& p) const noexcept override { return layers_of(p); }
  Status validate(const Profile& p) const override {
    if (p.param("device") != 0.0)
      return {Code::invalid_argument,
              "hf-synthid: a sampling table drawn on a CUDA device comes from PyTorch's CUDA generator (Philox), "
              "which isotope does not reproduce; only device=0 (cpu) is supported"};
    const std::uint32_t S = table_size_of(p);
    if ((S & (S - 1)) != 0)
      return {Code::invalid_argument,
              "hf-synthid: sampling_table_size must be a power of two (the default 65536): only then is the exact "
              "null known (docs/compat.md)"};
    if (p.context_width + 1 != static_cast<std::uint32_t>(p.param("ngram_len")))
      return {Code::invalid_argument, "hf-synthid: the context width must be ngram_len - 1 (got " +
                                          std::to_string(p.context_width) + " with ngram_len " +
                                          shortest_double(p.param("ngram_len")) + ")"};
    return Status::OK();
  }
  bool distortion_free(const Profile&) const noexcept override { return false; }
  std::optional<std::uint32_t> implied_context_width(const Profile& p) const noexcept override {
    const double n = p.param("ngram_len");
    if (!(n >= 1.0)) return std::nullopt;
    return static_cast<std::uint32_t>(n) - 1;
  }

  Status make_scorer(const Key& key, const Profile& p, std::unique_ptr<TupleScorer>* out) const override {
    std::vector<std::uint64_t> keys;
    ISOTOPE_RETURN_IF_ERROR(detail::engine_ints(key, layers_of(p), "hf-synthid", &keys));
    *out = std::make_unique<HfSynthIdScorer>(table_of(p), std::move(keys), p.context_width);
    return Status::OK();
  }
  Status make_generator(const Key& key, const Profile& p, std::uint32_t vocab,
                        std::unique_ptr<Generator>* out) const override {
    std::vector<std::uint64_t> keys;
    ISOTOPE_RETURN_IF_ERROR(detail::engine_ints(key, layers_of(p), "hf-synthid", &keys));
    *out = std::make_unique<HfSynthIdGenerator>(table_of(p), std::move(keys), p, vocab);
    return Status::OK();
  }
  std::uint64_t trials(const Profile& p, std::uint64_t scored) const noexcept override { return scored * layers_of(p); }
  double null_mean(const Profile& p) const noexcept override { return ones_share(table_of(p)); }
  double null_variance(const Profile& p) const noexcept override {
    const double q = null_mean(p);
    return q * (1.0 - q);
  }
  // Not used for results (make_tuple_null); the law of one tuple: Binomial(m, c1/S).
  Tail tail(const Profile& p, double statistic, std::uint64_t scored) const noexcept override {
    return scored == 1 ? binomial_upper_tail(static_cast<std::uint64_t>(statistic), layers_of(p), null_mean(p))
                       : Tail{};
  }
  bool integer_scores() const noexcept override { return true; }
  Status make_tuple_null(const Profile& p, std::unique_ptr<TupleNull>* out) const override {
    *out = std::make_unique<HfSynthIdNull>(table_of(p), p.context_width, layers_of(p));
    return Status::OK();
  }
};

}  // namespace

const Scheme& hf_synthid_scheme() noexcept {
  static const HfSynthId s;
  return s;
}

}  // namespace isotope
