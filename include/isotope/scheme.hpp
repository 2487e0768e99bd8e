// isotope — watermark schemes behind one interface.
//
// A scheme is: a named, versioned profile (isotope/profile.hpp) with its own
// parameters; a generation hook (bias the logits in place, or choose the
// token); a per-tuple score for detection; and the exact null distribution
// of the summed score over N distinct (window, token) tuples. Everything else
// (deduplication, prompt exclusion, the filter, controls, curves, audits,
// reports) is written once, scheme-neutrally, on top of this interface.
//
// | scheme  | generation                                   | score per tuple     | null of the sum over N      |
// |---------|----------------------------------------------|---------------------|-----------------------------|
// | kgw     | +delta on green logits (Kirchenbauer 2023)   | 1 if green          | Binomial(N, gamma)          |
// | gumbel  | argmax log p_i - ln(-ln u_i) (Aaronson 2022) | -ln(1 - u)          | Gamma(N, 1)                 |
// | synthid | m-layer tournament (Dathathri et al. 2024)   | number of g = 1     | Binomial(N m, 1/2)          |
//
// docs/spec.md gives each construction byte by byte. A new scheme is one
// folder under lib/schemes/ plus one line in lib/schemes/registry.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "isotope/export.h"
#include "isotope/key.hpp"
#include "isotope/profile.hpp"
#include "isotope/stats.hpp"
#include "isotope/status.hpp"

namespace isotope {

struct SamplingParams;
class Rng;
struct TokenLogit;

// One parameter of a scheme's profile.
struct ParamSpec {
  const char* name;  // e.g. "gamma"; also the CLI option --NAME and the JSON field
  double def;        // default
  double min, max;   // inclusive range
  bool integer;      // only whole numbers (flags: 0/1)
  const char* help;  // one line for --help
};

// What a scheme tests per token (TupleScorer::values, prf_values()).
enum class ValueKind : std::uint8_t {
  real,     // a real number (the isotope Gumbel uniform u = value / 2^32, exact in
            // double)
  float32,  // a real number the engine holds as float32 (vLLM's uniform); the
            // double holds it exactly
  bit,      // 0 or 1 (KGW green bit, a SynthID g-value)
};
struct ValueShape {
  std::size_t per_token = 1;  // values per token (SynthID-type: one per layer)
  ValueKind kind = ValueKind::real;
};

// Scores (window, token) tuples under one key. Not thread-safe: one per thread.
class ISOTOPE_API TupleScorer {
 public:
  virtual ~TupleScorer() = default;
  // out[j] = score of the tuple (windows[j*h .. j*h+h), tokens[j]), h = the
  // profile's context width; n tuples.
  virtual Status score(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n, double* out) = 0;
  // The values the scheme tests for the tokens of one window (h ids), for
  // display, tests and prf_values(): value_shape().per_token values per
  // token, token after token (out.size() == tokens.size() * per_token). KGW
  // 1/0 (green), Gumbel-type the uniform u, SynthID-type the g-values, layer
  // 1 first.
  virtual Status values(std::span<const std::uint32_t> window, std::span<const std::uint32_t> tokens,
                        std::span<double> out) = 0;
  virtual ValueShape value_shape() const noexcept { return {}; }
  // Forgets what earlier score() calls left behind (a scorer that counts a
  // repeated pseudorandom draw once keeps a memory of them), as the dedup
  // memory of a Scorer is forgotten by Scorer::reset().
  virtual void reset() {}
};

// The generation hook of one scheme under one key and vocabulary. Not
// thread-safe: one per decoding thread. `context` is every token so far (the
// prompt included); the window is its last h tokens.
class ISOTOPE_API Generator {
 public:
  virtual ~Generator() = default;
  // Bias schemes (KGW) change the logits in place. Schemes that choose the
  // token (Gumbel) leave only the chosen token finite (-inf elsewhere), so any
  // sampler then takes it; SynthID writes the log-probabilities of its
  // tournament over the kept candidates (sample them at temperature 1, without
  // further truncation). `params` gives temperature, top-k and top-p where the
  // scheme applies them itself.
  virtual Status apply(std::span<const std::uint32_t> context, std::span<float> logits,
                       const SamplingParams& params) = 0;
  virtual Status apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                                  const SamplingParams& params) = 0;
  virtual Status sample(std::span<const std::uint32_t> context, std::span<const float> logits,
                        const SamplingParams& params, Rng& rng, std::uint32_t* token) = 0;
};

// The exact null of a scheme whose null law depends on the scored tuples
// themselves (never on the key): hf-synthid, whose g-values of one layer are
// the sampling table read at one key-given rotation of the tuples' residues.
// It is fed every scored tuple (the same ones, in any order) and gives the
// exact tail of the summed score. add() and clear() need exclusive use; tail()
// may run on several threads at once.
class ISOTOPE_API TupleNull {
 public:
  virtual ~TupleNull() = default;
  // Tuples as in TupleScorer::score: windows of h ids, one token each.
  virtual void add(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t n) = 0;
  // P(S' >= statistic) under H0 over the tuples added so far, exact, in log space.
  virtual Tail tail(double statistic) const = 0;
  virtual void clear() = 0;
};

class ISOTOPE_API Scheme {
 public:
  virtual ~Scheme() = default;
  virtual std::string_view name() const noexcept = 0;   // "kgw"
  virtual std::string_view title() const noexcept = 0;  // "KGW green list (Kirchenbauer et al. 2023)"
  // The test in plain words, for reports and the HTML page.
  virtual std::string_view explanation() const noexcept = 0;
  virtual std::string_view default_prf() const noexcept = 0;
  virtual std::span<const ParamSpec> params() const noexcept = 0;
  // Scheme-specific checks beyond the parameter ranges.
  virtual Status validate(const Profile& p) const = 0;
  // True if sampling keeps the model's distribution (over random keys).
  virtual bool distortion_free(const Profile& p) const noexcept = 0;

  virtual Status make_scorer(const Key& key, const Profile& p, std::unique_ptr<TupleScorer>* out) const = 0;
  virtual Status make_generator(const Key& key, const Profile& p, std::uint32_t vocab_size,
                                std::unique_ptr<Generator>* out) const = 0;

  // The null: independent trials of the summed statistic (KGW N, SynthID N m).
  virtual std::uint64_t trials(const Profile& p, std::uint64_t scored) const noexcept = 0;
  // Mean and variance of one trial's score under H0 (for mean_score and z).
  virtual double null_mean(const Profile& p) const noexcept = 0;
  virtual double null_variance(const Profile& p) const noexcept = 0;
  // P(S' >= statistic) under H0 over `scored` distinct tuples, exact, in log space.
  virtual Tail tail(const Profile& p, double statistic, std::uint64_t scored) const noexcept = 0;
  // True when every score is a whole number (the statistic is a count).
  virtual bool integer_scores() const noexcept = 0;
  // A green-list scheme (a tuple scores 1 when its token is green, else 0)
  // gives the chance under H0 that a token is green (KGW: gamma as the PRF's
  // threshold realises it, kgw_gamma_effective); its results then report the
  // green count, its fraction and this rate (DetectionResult::green,
  // green_fraction, gamma; JSON green, green_fraction, gamma_effective) and
  // show a sample's tokens as green or red without their scores. Other
  // schemes: none.
  virtual std::optional<double> green_rate(const Profile&) const noexcept { return std::nullopt; }
  // Schemes whose null depends on the scored tuples give it here (and their
  // tail() is then not used for results); others leave *out null.
  virtual Status make_tuple_null(const Profile&, std::unique_ptr<TupleNull>* out) const {
    out->reset();
    return Status::OK();
  }

  // The key the scheme takes: 0, an isotope key (Key::generate); N > 0, an
  // engine key of exactly N integers (Key::from_engine_ints). Callers check
  // it with check_key_kind before make_scorer / make_generator.
  virtual std::size_t engine_key_ints(const Profile&) const noexcept { return 0; }
  // The context width h of the scheme's default profile (Profile::of).
  virtual std::uint32_t default_context_width() const noexcept { return 2; }
  // The largest context width h the scheme takes.
  virtual std::uint32_t max_context_width() const noexcept { return MAX_CONTEXT_WIDTH; }
  // Positions i < h of a sequence have no full window. nullopt: they are not
  // scored (the isotope schemes). A value: they are scored, the window padded
  // on the left with this id (vLLM pads with -1, i.e. 0xFFFFFFFF), and the
  // engine's windows never reach into the prompt: generation is given the
  // generated tokens only as context.
  virtual std::optional<std::uint32_t> pad_id(const Profile&) const noexcept { return std::nullopt; }
  // What deduplication compares. false: the (window, token) tuple, the
  // isotope rule. true: the window alone, as vLLM's detector does; a tuple
  // whose window was already scored is skipped whatever its token. Stricter:
  // every tuple it admits the isotope rule admits too.
  virtual bool dedup_by_window(const Profile&) const noexcept { return false; }
  // A context width that the scheme's parameters imply, or nullopt. The
  // command line, the C API and Python give a profile this width unless the
  // caller sets the width itself (hf-synthid: ngram_len - 1, the n-gram
  // before its last token).
  virtual std::optional<std::uint32_t> implied_context_width(const Profile&) const noexcept { return std::nullopt; }

  // Attribution (isotope/account.hpp, docs/spec.md "Attribution"): how an
  // account key marks the positions the route gives to accounts.
  //   false (the default), the route: those positions are generated with the
  //     account key in place of the master key, so the master key's audit
  //     scores only the other positions, and an account's test scores the
  //     routed tuples with make_scorer(account key, p) and the scheme's null.
  //   true, nested: those positions keep the master key's mark and the
  //     account key marks a keyed subset of it (make_account_generator), so
  //     the master key's audit scores every tuple; an account's test scores
  //     the routed tuples that the master key's scorer scores non-zero (KGW:
  //     whose token is master-green), with make_scorer(account key,
  //     account_profile(p)) and that profile's null.
  virtual bool nests_accounts(const Profile&) const noexcept { return false; }
  // The profile of an account's test (nested schemes; p itself otherwise).
  virtual Status account_profile(const Profile& p, Profile* out) const {
    *out = p;
    return Status::OK();
  }
  // The generator for positions routed to an account. Default (the route):
  // make_generator(account, p, vocab_size).
  virtual Status make_account_generator(const Key& master, const Key& account, const Profile& p,
                                        std::uint32_t vocab_size, std::unique_ptr<Generator>* out) const {
    (void)master;
    return make_generator(account, p, vocab_size, out);
  }
};

// The values a profile's scheme tests for `tokens` after `context` under
// `key` (TupleScorer::values): the window is the last h ids of `context`
// (padded on the left with the scheme's pad id when shorter, or
// Code::invalid_argument for a scheme without one). `out` gets
// shape->per_token values per token.
ISOTOPE_API Status prf_values(const Key& key, const Profile& profile, std::span<const std::uint32_t> context,
                              std::span<const std::uint32_t> tokens, std::vector<double>* out, ValueShape* shape);

// The registered schemes, in registration order.
ISOTOPE_API std::span<const Scheme* const> schemes() noexcept;
// The scheme of that name, or null.
ISOTOPE_API const Scheme* find_scheme(std::string_view name) noexcept;
// The scheme of a profile (Code::invalid_argument naming the known ones if unknown).
ISOTOPE_API Status scheme_of(const Profile& p, const Scheme** out);

}  // namespace isotope
