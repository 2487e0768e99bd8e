// The detect and audit recipes: the sequence of library calls behind
// `isotope detect` and `isotope audit`, and the JSON of their results.
//
// The command prints these results, its signed reports carry them, `isotope
// verify` recomputes them, and the Python module returns them as
// dictionaries: all of them take the numbers, the decision rule
// (is_watermarked: scored > 0 and log10 p <= log10 threshold) and the field
// names from here. Callers add only what describes their inputs (file
// names, digests, the tokenizer's hash, the options that were given).
//
// The result fields are listed in docs/cli.md (detect) and docs/audit.md
// (audit). Every JSON text returned here is one object with its keys sorted.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "isotope/audit.hpp"
#include "isotope/detect.hpp"
#include "isotope/evidence.hpp"
#include "isotope/export.h"
#include "isotope/key.hpp"
#include "isotope/profile.hpp"
#include "isotope/status.hpp"
#include "isotope/tokenizer.hpp"

namespace isotope {

// ---------------------------------------------------------------- detect

// Everything that changes the result of detecting one text.
struct ISOTOPE_API DetectRecipe {
  double threshold = 1e-4;  // flag when p <= threshold; in (0, 1)
  ScoreRules rules;         // deduplication (on: the p-value is valid)
  bool mask = false;        // put the per-token scores in the result ("mask")
  // Windowed detection (scan_ids) with this shortest window, in tokens: the
  // result's "scan" member. None: no scan.
  std::optional<std::uint32_t> scan_min_length;
  // The evidence extras of a report: the p-value curve ("curve"), the
  // random-key controls ("controls", keys from control_key) and a text sample
  // ("sample", needs a tokenizer).
  bool evidence = false;
  std::uint32_t controls = 10;       // control keys, at most 1000
  std::uint32_t curve_points = 50;   // checkpoints of the curve, at most 10000
  std::uint32_t sample_tokens = 80;  // tokens of the sample, at most 10000
};

// What detect_run computes for one text.
struct ISOTOPE_API DetectOutcome {
  DetectionResult result;
  bool prompt_exclusion = false;                    // prompt ids were given: their windows were excluded
  TokenScores mask;                                 // with mask or evidence: one score per id (NaN: not scored)
  std::optional<ScanResult> scan;                   // with scan_min_length
  Curve curve;                                      // with evidence
  std::vector<double> control_log10_p;              // with evidence: each control key's log10 p
  std::vector<std::vector<double>> control_curves;  // with evidence: each control key's curve
};

// Scores `ids` under `key`: a fresh Scorer with the recipe's rules, the
// windows of `prompt_ids` (if non-null) excluded; then the scan and the
// evidence extras the recipe asks for. Errors: Code::invalid_argument for a
// threshold outside (0, 1), a bad scan length or extras over their limits;
// the scorer's errors (an id outside the key's vocabulary, ...).
ISOTOPE_API Status detect_run(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids,
                              const std::vector<std::uint32_t>* prompt_ids, const DetectRecipe& recipe,
                              DetectOutcome* out);

// The result of one text as JSON: the counts, the exact p-value and the
// decision, the rules, the profile; "mask", "scan", "curve", "controls" and
// "sample" as the recipe asked. `tok` (may be null) decodes the scan's best
// window ("scan"."text", when it is whole characters) and the sample (with
// evidence, a tokenizer is required: Code::invalid_argument without one).
// `ids` are the ids that were scored.
ISOTOPE_API Status detect_result_json(const DetectOutcome& outcome, const Profile& profile, const DetectRecipe& recipe,
                                      const Tokenizer* tok, std::span<const std::uint32_t> ids, std::string* out);

// ---------------------------------------------------------------- audit

// Everything beyond the Audit itself that changes an audit's result.
struct ISOTOPE_API AuditRecipe {
  double threshold = 1e-4;            // flag when p <= threshold (and the rules held); in (0, 1)
  std::uint32_t controls = 20;        // random control keys (Audit::control), at most 100000
  ControlSeed control_seed{};         // the seed they are derived from (recorded in the result)
  double route_alpha = 0.0;           // attribution's routing share (Audit::set_route_alpha; 0: none)
  std::vector<std::string> accounts;  // candidate accounts to test (empty: none; needs route_alpha > 0)
  std::uint32_t curve_points = 0;     // checkpoints of the p-value curve, for the key and each control (0: none)
  bool keep_first_mask = false;       // keep the first record's scores (the report's sample)
  unsigned threads = 0;               // scoring threads (0: one per core); the numbers do not depend on it
};

// What audit_run computes.
struct ISOTOPE_API AuditOutcome {
  AuditResult result;
  ControlResult controls;
  Curve curve;                                      // with curve_points
  std::vector<std::vector<double>> control_curves;  // with curve_points: one per control key
  TokenScores first_mask;                           // with keep_first_mask
  AttributionResult attribution;                    // with accounts
};

// The stages of audit_run, for progress messages.
enum class AuditStage { score, controls, accounts };

// Runs an audit: sets the routing share (Audit::set_route_alpha), then the
// score under `key`, the random-key controls, the curves and the candidate
// accounts, as the recipe asks. `stage` (may be empty)
// hears each stage as it begins. Errors: Code::invalid_argument for a
// threshold outside (0, 1), too many controls or checkpoints, accounts
// without a routing share; the audit's errors.
ISOTOPE_API Status audit_run(Audit& audit, const Key& key, const AuditRecipe& recipe, AuditOutcome* out,
                             const std::function<void(AuditStage)>& stage = {});

// The result of an audit as JSON: type, mode, the detection fields, validity
// and warnings, the decision ("flagged": valid and significant), records,
// filter, the key's commitment, the controls (with their seed and
// derivation), the curve, routing and attribution as the recipe asked.
// `key_commitment_hex` is Key::commitment_hex() of the audited key.
ISOTOPE_API Status audit_result_json(const AuditOutcome& outcome, const Profile& profile,
                                     const std::string& key_commitment_hex, const AuditRecipe& recipe,
                                     std::string* out);

// ---------------------------------------------------------------- pieces

// A profile as results and reports record it: scheme, version,
// context_width, prf, name and each parameter (whole-number parameters as
// integers).
ISOTOPE_API std::string profile_json(const Profile& profile);

// The first `max_tokens` tokens of `ids` as pieces of text with their entries
// of `mask` (one score per id, NaN: not scored): a report's "sample",
// [{"text": PIECE, "green": 1|0|-1}, ...]. "green" is 1 where the score is
// above its mean under H0 (KGW: green), -1 where nothing was scored; schemes
// without green lists (Scheme::green_rate) add the "score" itself. Pieces are valid UTF-8.
ISOTOPE_API Status sample_json(const Tokenizer& tok, std::span<const std::uint32_t> ids, const TokenScores& mask,
                               const Profile& profile, std::uint32_t max_tokens, std::string* out);

}  // namespace isotope
