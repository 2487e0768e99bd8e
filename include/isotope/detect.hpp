// isotope — scoring token sequences for the watermark (Fernandez et al. 2023),
// for any scheme (isotope/scheme.hpp): the rules (deduplication, prompt
// exclusion, the filter) are the same for all; each scheme gives the score of
// a tuple and the exact null distribution of their sum.
#pragma once
#include "isotope/export.h"
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "isotope/key.hpp"
#include "isotope/prf.hpp"
#include "isotope/profile.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/status.hpp"

namespace isotope {

// A set of context windows (h-grams of token ids), compared exactly.
class ISOTOPE_API WindowSet {
 public:
  explicit WindowSet(std::uint32_t width = 2);
  ~WindowSet();
  WindowSet(WindowSet&&) noexcept;
  WindowSet& operator=(WindowSet&&) noexcept;

  std::uint32_t width() const noexcept;
  // Inserts every run of width() consecutive ids of `ids`. With width 0 (the
  // unigram scheme) every window is the empty one: the set records the ids
  // themselves instead (contains_token), which prompt exclusion uses at
  // h = 0, and contains() is always false.
  void add_windows_of(std::span<const std::uint32_t> ids);
  // Width 0: whether `token` occurred in the ids given to add_windows_of.
  bool contains_token(std::uint32_t token) const noexcept;
  bool insert(std::span<const std::uint32_t> window);  // true if new
  bool contains(std::span<const std::uint32_t> window) const noexcept;
  std::size_t size() const noexcept;
  void clear() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ISOTOPE_API DetectionResult {
  std::string scheme = SCHEME_KGW;      // profile.scheme
  std::uint64_t tokens = 0;             // token positions seen
  std::uint64_t scored = 0;             // N: tuples scored
  double statistic = 0.0;               // S: sum of the scores (KGW: green count; Gumbel: sum of -ln(1-u);
                                        //    SynthID: number of g = 1 over all layers)
  std::uint64_t trials = 0;             // independent trials of the null (N; SynthID N m)
  std::uint64_t green = 0;              // KGW: S as a count (0 for other schemes)
  std::uint64_t skipped_short = 0;      // positions i < h (no full window; 0 for a
                                        // scheme that pads, Scheme::pad_id)
  std::uint64_t skipped_duplicate = 0;  // (window, token) already scored (the
                                        // window alone: Scheme::dedup_by_window)
  std::uint64_t skipped_prompt = 0;     // window occurs in the prompt
  std::uint64_t skipped_filter = 0;     // window not in the required set (audit filter)
  double gamma = 0.25;                  // KGW: effective gamma of the null
  double green_fraction = 0.0;          // KGW: green / scored
  double mean_score = 0.0;              // S / trials
  double null_mean = 0.25;              // the mean score of one trial under H0
  double z = 0.0;                       // (S - trials * null_mean) / sqrt(trials * null variance); for reference
  double log10_p = 0.0;                 // exact tail of the scheme's null, in log space
  double p_value = 1.0;
};

// The decision rule, the one place it is written: a p-value given as log10 is
// significant at level `threshold` (0 < threshold) when log10_p <=
// log10(threshold); a result is watermarked when something was scored and its
// p-value is significant.
ISOTOPE_API bool significant(double log10_p, double threshold) noexcept;
ISOTOPE_API bool is_watermarked(const DetectionResult& r, double threshold) noexcept;

// Per-token score for display and curves: the score of the tuple scored at
// that position (KGW 1 green / 0 red), NaN where nothing was scored.
using TokenScores = std::vector<double>;

// The result for a statistic S over N scored tuples under a profile's null
// (counts and skips left at 0): fills statistic, trials, the readable fields,
// z and the exact p-value.
ISOTOPE_API Status result_from_statistic(const Profile& profile, double statistic, std::uint64_t scored, DetectionResult* out);

// Rules applied by a Scorer. Dedup can be switched off only for experiments
// that show why it exists; results then say so.
struct ISOTOPE_API ScoreRules {
  bool dedup = true;
};

// The tuples that the rules admitted, in scoring order, collected once (by a
// collecting Scorer) so that any number of keys can score them: an audit
// scores them under the provider's key and every control key without
// applying the rules again.
struct ISOTOPE_API AdmittedTuples {
  std::uint32_t width = 0;               // h
  std::vector<std::uint32_t> windows;    // h ids per tuple
  std::vector<std::uint32_t> tokens;     // one per tuple
  std::vector<std::uint32_t> positions;  // the tuple's position in its sequence
  std::size_t size() const noexcept { return tokens.size(); }
};

// Accumulates scores over any number of token sequences with one dedup memory:
// a (window, token) tuple counts only the first time it is seen.
class ISOTOPE_API Scorer {
 public:
  ~Scorer();
  Scorer(const Scorer&) = delete;
  Scorer& operator=(const Scorer&) = delete;

  static Status create(const Key& key, const Profile& profile, std::unique_ptr<Scorer>* out,
                       ScoreRules rules = {});
  // A scorer without a key that applies the same rules and keeps the
  // admitted tuples (take_tuples) instead of scoring them; its result() has
  // the counts and skips, with statistic 0.
  static Status create_collector(const Profile& profile, std::unique_ptr<Scorer>* out, ScoreRules rules = {});
  // The tuples admitted so far (collector only), leaving none behind.
  AdmittedTuples take_tuples();

  const Profile& profile() const noexcept;
  const ScoreRules& rules() const noexcept;

  // Scores positions i >= h of `ids` (every position for a scheme that pads
  // its first windows, Scheme::pad_id; deduplicated by window alone for a
  // scheme that asks so, Scheme::dedup_by_window). Tuples whose window is in
  // `exclude` (prompt windows; at h = 0, whose token occurs in the prompt) are
  // skipped; if `require` is non-null, tuples whose window is not in it are
  // skipped (the audit filter). `mask`, if non-null, receives one score per id
  // (NaN: not scored).
  Status add(std::span<const std::uint32_t> ids, const WindowSet* exclude = nullptr, const WindowSet* require = nullptr,
             TokenScores* mask = nullptr);
  // Scores externally predicted tokens: predicted[i] is scored with the window
  // ids[i-h..i) (reading mode of the open-model audit). Same rules as add().
  // `mask`, if non-null, receives one entry per position of `ids`: the score
  // of the prediction scored there (NaN: not scored).
  Status add_predictions(std::span<const std::uint32_t> ids, std::span<const std::uint32_t> predicted,
                         const WindowSet* exclude = nullptr, const WindowSet* require = nullptr,
                         TokenScores* mask = nullptr);

  // Counts so far with the exact p-value.
  DetectionResult result() const;
  void reset();

 private:
  Scorer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------- Scan

// Windowed detection: a watermarked span inside a longer document.
//
// The family of windows depends only on the number of tokens T and on
// min_length (never on the key or the scores): for each length
// L = min_length * 2^k < T, the windows [s, s + L) at s = 0, L/2, L, 3L/2, ...
// (every s with s + L <= T), plus [T - L, T) when the last of them ends
// before T; and the whole document [0, T) once. Each window is scored on its
// own with the usual rules: a (context, token) tuple counts the first time it
// occurs inside the window, tuples whose context occurs in the prompt are
// excluded. A tuple at position i belongs to the windows holding i (its
// context may start before the window).
//
// The scan's p-value is Bonferroni's: with M windows and the smallest
// per-window p-value p_min, p_scan = min(1, M p_min), in log space. Each
// window's p-value is exact under H0 (text written without the key), so
// P(p_scan <= a) <= sum over windows of P(p_w <= a / M) <= a for every a,
// however the windows overlap (docs/statistics.md, section 8).
// When T <= min_length the family is the whole document alone (M = 1) and
// the scan is plain detection.
struct ISOTOPE_API ScanOptions {
  std::uint32_t min_length = 32;  // shortest window, in tokens; even, >= 2
  ScoreRules rules;               // dedup inside each window (on by default)
};

struct ISOTOPE_API ScanResult {
  std::uint64_t start = 0;        // the best window: token offsets [start, end) of the scored ids
  std::uint64_t end = 0;
  std::uint64_t windows = 0;      // M: windows tried
  std::uint32_t min_length = 32;  // the family's shortest window
  double log10_p = 0.0;           // corrected for the scan: min(0, log10 M + window.log10_p)
  double p_value = 1.0;           // 10^log10_p (0 only when it underflows a double)
  DetectionResult window;         // the best window's own result (not corrected): counts, statistic, log10_p
};

// The number of windows of the family for T tokens (see above); 0 when
// T == 0 or min_length is not even and >= 2.
ISOTOPE_API std::uint64_t scan_window_count(std::uint64_t tokens, std::uint32_t min_length) noexcept;

// Scans `ids` under `key` (any scheme: per-tuple scores from its TupleScorer,
// the exact tail from Scheme::tail). `exclude`: the prompt's windows, or null.
// The best window is the one with the smallest p-value; ties go to the
// shorter, then the earlier window. Errors: Code::invalid_argument for a bad
// min_length, a null output or an exclude set of another width; the
// profile's and the scheme's errors.
ISOTOPE_API Status scan_ids(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids,
                            const WindowSet* exclude, const ScanOptions& options, ScanResult* out);

// One-shot: a fresh Scorer over one sequence.
ISOTOPE_API Status detect_ids(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids,
                              DetectionResult* out, TokenScores* mask = nullptr);

}  // namespace isotope
