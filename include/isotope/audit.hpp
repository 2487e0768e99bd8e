// isotope — auditing a suspect model for the watermark ("radioactivity",
// Sander et al. 2024): was it trained on the provider's watermarked outputs?
//
// Two settings:
//  - closed model: only the suspect's answers to prompts are available. Every
//    (window, token) tuple of the answers is scored once in the whole audit;
//    tuples whose window occurs in that answer's prompt are skipped; with a
//    filter, only windows that occur in the provider's own watermarked data
//    are kept.
//  - open model ("reading mode"): the provider's watermarked texts are fed to
//    the suspect with teacher forcing; the suspect's top-1 prediction at every
//    position is scored against the window taken from the input text, once
//    per (window, prediction) in the whole audit, skipping windows already
//    seen earlier in the same text.
// A random-key control repeats the scoring under keys derived from a recorded
// seed: under keys the suspect never saw, p-values are uniform.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/export.h"
#include "isotope/key.hpp"
#include "isotope/lm.hpp"
#include "isotope/profile.hpp"
#include "isotope/status.hpp"

namespace isotope {

enum class AuditMode { closed, open };
ISOTOPE_API const char* audit_mode_name(AuditMode m) noexcept;  // "closed" / "open"

// One prompt sent to the suspect and its answer, tokenized with the provider's tokenizer.
struct ISOTOPE_API AuditRecord {
  std::vector<std::uint32_t> prompt;
  std::vector<std::uint32_t> response;
};

// The validity rules. Switching one off is only for showing why it exists:
// the p-value is then not valid (AuditResult::valid() is false).
struct ISOTOPE_API AuditRules {
  bool dedup = true;             // each (window, token) tuple scored once in the whole audit
  bool prompt_exclusion = true;  // closed: skip tuples whose window occurs in the record's prompt
};

struct ISOTOPE_API AuditResult {
  AuditMode mode = AuditMode::closed;
  DetectionResult detection;         // counts, skipped_* per rule, exact p-value
  std::uint64_t records = 0;         // suspect records (closed) or teacher texts (open)
  bool filter = false;               // closed: the teacher-window filter was applied
  std::uint64_t filter_windows = 0;  // distinct windows in the filter
  AuditRules rules;
  // Attribution (isotope/account.hpp): the routing share alpha the audit
  // assumed (0: none), and how many admitted tuples the route gave to
  // accounts: not scored under this key where the scheme routes, scored
  // (they carry its mark too) where it nests (Scheme::nests_accounts).
  double route_alpha = 0.0;
  std::uint64_t routed_to_accounts = 0;
  // Why the test may have no power (empty when it has): too few tuples
  // scored, or a setting that scores almost nothing (reading mode at h = 0).
  std::vector<std::string> warnings;
  bool valid() const noexcept { return rules.dedup && rules.prompt_exclusion; }
};

// Below this many scored tuples an audit says it had too little data to
// have power (a "no evidence" answer then means little).
inline constexpr std::uint64_t AUDIT_MIN_SCORED = 100;

inline constexpr std::size_t CONTROL_SEED_BYTES = 32;
using ControlSeed = std::array<std::uint8_t, CONTROL_SEED_BYTES>;

// Control key number `index`: BLAKE2b-256 keyed with the control seed over the
// domain string "isotope/v1/audit-control-key" followed by `index` as a
// little-endian uint64 (docs/audit.md). Deterministic. For a scheme that
// takes an engine key (engine_ints > 0, Scheme::engine_key_ints) these 32
// bytes seed an engine key of that many integers (Key::from_seed).
ISOTOPE_API Status audit_control_key(const ControlSeed& seed, std::uint64_t index, Key* out,
                                     std::size_t engine_ints = 0);

struct ISOTOPE_API ControlResult {
  std::vector<double> log10_p;   // one per control key, in index order
  std::uint64_t below_0_05 = 0;  // how many p-values fell below 0.05
  double ks_p = 1.0;             // Kolmogorov–Smirnov p-value against U(0, 1)
};

// One candidate account of an attribution audit.
struct ISOTOPE_API AccountResult {
  std::string id;
  DetectionResult detection;       // its own test: the `tested` tuples under its key
  double log10_p_corrected = 0.0;  // Holm-adjusted over all candidates (holm_log10), <= 0
  bool named = false;              // log10_p_corrected <= log10(level), something was scored, and the
                                   // validity rules were on
};

struct ISOTOPE_API AttributionResult {
  double route_alpha = 0.0;
  double level = 0.0;        // family-wise error rate of the naming
  std::uint64_t routed = 0;  // admitted tuples routed to accounts
  // Nested (Scheme::nests_accounts): the tests score the routed tuples the
  // master key scores non-zero (KGW: master-green), with the scheme's
  // account_profile (KGW: gamma 1/2). Routed: every routed tuple, with the
  // audit's own profile.
  bool nested = false;
  std::uint64_t tested = 0;             // the tuples every account's test scores
  std::vector<AccountResult> accounts;  // every candidate, in the order given
  std::vector<std::string> warnings;    // as AuditResult::warnings
  std::size_t named() const noexcept;
};

// The attribution part of an audit's result, as compact JSON text: an object
// with "attribution" (candidates, correction "holm", level, route_alpha,
// account_mark "nested" or "route", routed, tested, named, derivation,
// best_not_named {id, log10_p, log10_p_corrected} when some account was not
// named, warnings when any) and "accounts" (the named accounts, smallest p
// first: id, log10_p, log10_p_corrected, scored, statistic). The command,
// its reports and the Python module all use it (docs/cli.md, "audit").
ISOTOPE_API std::string attribution_result_json(const AttributionResult& at);

// Teacher-forced top-1 predictions of `model` over `ids`: (*out)[i] is the
// model's argmax after seeing ids[0..i) (entry 0: the empty context).
ISOTOPE_API Status predict_top1(const LanguageModel& model, std::span<const std::uint32_t> ids,
                                std::vector<std::uint32_t>* out);

// Prepared audit: the token data (and, in open mode, the suspect's
// predictions) are fixed once, and the rules (deduplication, prompt
// exclusion, the filter, repeated windows in reading mode) are applied once
// at construction: the distinct tuples that survive are kept, and scoring
// under any key (the provider's, every control key) scores just those.
class ISOTOPE_API Audit {
 public:
  ~Audit();
  Audit(const Audit&) = delete;
  Audit& operator=(const Audit&) = delete;

  // Closed model. `teacher`, if non-null, holds the provider's watermarked
  // texts: only tuples whose window occurs in them are scored (the filter).
  static Status closed(const Profile& profile, std::vector<AuditRecord> records,
                       const std::vector<std::vector<std::uint32_t>>* teacher, AuditRules rules,
                       std::unique_ptr<Audit>* out);
  // Open model from predictions computed elsewhere: predictions[r][i] is the
  // suspect's top-1 token after tokens 0..i-1 of teacher[r]; every id must be
  // below vocab_size, and each predictions[r] exactly as long as teacher[r].
  static Status open(const Profile& profile, std::vector<std::vector<std::uint32_t>> teacher,
                     std::vector<std::vector<std::uint32_t>> predictions, std::uint32_t vocab_size, AuditRules rules,
                     std::unique_ptr<Audit>* out);
  // Open model, predictions taken from `suspect` (predict_top1 over every text).
  // `progress`, if set, is called with (texts done, texts in all).
  static Status open_with_model(const Profile& profile, std::vector<std::vector<std::uint32_t>> teacher,
                                const LanguageModel& suspect, AuditRules rules, std::unique_ptr<Audit>* out,
                                const std::function<void(std::size_t, std::size_t)>& progress = {});

  AuditMode mode() const noexcept;
  const Profile& profile() const noexcept;
  std::size_t records() const noexcept;
  // Open mode: the predictions in use (empty in closed mode).
  const std::vector<std::vector<std::uint32_t>>& predictions() const noexcept;

  // The audit under one key. `limit`, if non-zero, stops after that many
  // records (for power curves over the amount of suspect data). `masks`, if
  // non-null, receives one TokenScores per record scored, in scoring order: per
  // position of the record's response (closed) or teacher text (open), 1 green,
  // 0 red, -1 not scored (in open mode the entry is the outcome of the
  // suspect's prediction at that position).
  Status run(const Key& key, AuditResult* out, std::size_t limit = 0, std::vector<TokenScores>* masks = nullptr) const;
  // Receives control key `index` (0-based) and that key's per-record masks, as
  // run() gives them; called once per key, in index order.
  using ControlMasksFn = std::function<void(std::uint32_t index, const std::vector<TokenScores>& masks)>;
  // The same scoring under n control keys derived from `seed`. `masks`, if set,
  // is given each control key's masks (from the same scoring pass), in index
  // order. `threads` keys are scored at a time (0: one per core); the results
  // are the same for every thread count. `progress`, if set, is called with
  // (keys done, n) from the calling thread.
  // Receives control key `index` and the scores of the admitted tuples under
  // it, in scoring order (the non-NaN entries of its masks, record after
  // record: enough for a p-value curve). Called from the scoring threads, for
  // keys in any order and concurrently: it must be thread-safe.
  using ControlScoresFn = std::function<void(std::uint32_t index, const std::vector<double>& scores)>;
  Status control(const ControlSeed& seed, std::uint32_t n, ControlResult* out,
                 const std::function<void(std::uint32_t, std::uint32_t)>& progress = {},
                 const ControlMasksFn& masks = {}, unsigned threads = 0, const ControlScoresFn& scores = {}) const;
  // The distinct tuples the rules admitted (the same for every key).
  std::size_t admitted() const noexcept;

  // Attribution (isotope/account.hpp). With alpha > 0 and a scheme that
  // routes (Scheme::nests_accounts false: Gumbel-max, SynthID), run() under
  // a key K scores only the admitted tuples that K's route gives to K itself
  // (share 1 - alpha), and control() does the same under each control key
  // (each acting as a master key with its own route). A scheme that nests
  // (KGW) and alpha = 0 (the default): every admitted tuple is scored. Set
  // it before run(), control() and attribute(); Code::invalid_argument
  // unless 0 <= alpha < 1.
  Status set_route_alpha(double alpha);
  double route_alpha() const noexcept;

  // Tests each candidate account: the admitted tuples that the master key's
  // route gives to accounts (the same tuples for every account, routed once;
  // for a nesting scheme only those the master key scores non-zero) are
  // scored under the account's key (account_key(master, id)) with the
  // scheme's account_profile and its exact null, then the
  // p-values are corrected for the number of candidates with Holm's method
  // (holm_log10), and an account is named when its corrected p-value is
  // <= level, which keeps the family-wise rate of naming an account whose
  // outputs the suspect never learned at or below `level`. Needs alpha > 0;
  // ids must pass account_id_check and be distinct (Code::invalid_argument
  // naming the first that does not). `threads` accounts are scored at a
  // time (0: one per core); results do not depend on it. `progress`, if
  // set, is called with (accounts done, accounts in all) from this thread.
  Status attribute(const Key& master, std::span<const std::string> ids, double level, AttributionResult* out,
                   unsigned threads = 0, const std::function<void(std::size_t, std::size_t)>& progress = {}) const;

 private:
  Audit();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace isotope
