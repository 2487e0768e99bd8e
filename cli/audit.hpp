// The audit computation behind `isotope audit`, callable by other commands
// (`isotope verify` recomputes a report's numbers through it).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "isotope/audit.hpp"
#include "isotope/key.hpp"
#include "isotope/profile.hpp"

namespace isotope::cli {

// Everything that determines an audit's numbers. JSON-serialisable, so that a
// report can record it and a verifier can replay it.
struct AuditOptions {
  std::string mode = "closed";  // "closed" or "open"
  std::string key;              // key file (the key itself is passed separately to compute_audit)
  std::string suspect;          // closed: JSONL of {"prompt", "response"}
  std::string teacher;          // closed: optional filter data; open: the texts fed to the suspect
  std::string model;            // open: suspect n-gram model file
  std::string predictions;      // open: PREDS.jsonl computed elsewhere
  std::string tokenizer;        // the provider's tokenizer (empty: the bundled one)
  Profile profile;
  std::uint32_t control = 20;   // random control keys
  std::string control_seed;     // 64 hex digits; empty: a fresh one is drawn and recorded
  double threshold = 1e-4;      // flag when p <= threshold
  bool no_dedup = false;        // demonstration only: the p-value is then not valid
  bool no_prompt_exclusion = false;
  // Display extras of the result: checkpoints of the p-value curve and tokens
  // of the text sample (0: none). Options recorded without them (reports made
  // before they existed) read as 0, so such reports recompute as they were.
  std::uint32_t curve_points = 50;
  std::uint32_t sample_tokens = 80;
  // Text normalizers applied before tokenization ("nfkc,spaces,format,
  // confusables", "all"; empty: none). Recorded only when used, so options
  // recorded before they existed read as none.
  std::string normalize;
  // Attribution (docs/attribution.md): the routing share alpha of the
  // provider's generation (0: none; the master-key audit then scores every
  // admitted tuple) and a file of candidate account identifiers, one per
  // line (empty: no attribution). Recorded only when used.
  double route_alpha = 0.0;
  std::string accounts;
  // Threads that score control keys and candidate accounts (0: one per core). Not recorded: the
  // numbers are the same for every thread count.
  unsigned threads = 0;
  // Token ids read against this vocabulary size, with no tokenizer (0: texts
  // and ids read with the tokenizer). Recorded only when set.
  std::uint32_t vocab_size = 0;
  // A Dask scheduler address: run on that cluster (docs/scale.md). Not
  // recorded: the numbers are the same as on one machine.
  std::string scheduler;
};

void to_json(nlohmann::json& j, const AuditOptions& o);
void from_json(const nlohmann::json& j, AuditOptions& o);  // throws Failure on bad input

using ProgressFn = std::function<void(const std::string&)>;

// Runs the audit described by `o` under `key` and returns the result object
// (docs/audit.md lists its fields). Throws Failure (common.hpp) on bad input.
// With the same inputs, options, key and control seed, the numbers are identical.
// In open mode, `predictions_out` (if non-null) receives the suspect's predictions.
nlohmann::json compute_audit(const AuditOptions& o, const Key& key, const ProgressFn& progress = {},
                             std::vector<std::vector<std::uint32_t>>* predictions_out = nullptr);
// The same, loading the key from o.key.
nlohmann::json compute_audit(const AuditOptions& o, const ProgressFn& progress = {});

// Parses a file of account identifiers: one per line (a final newline and CR
// line ends allowed); an empty line, a duplicate or an identifier that fails
// account_id_check is an input error naming the file and line.
std::vector<std::string> parse_account_list(const std::string& data, const std::string& file);

// Parses PREDS.jsonl text: one line per teacher record, {"predictions": [ids]};
// checks the line count, each line's length and every id against vocab_size.
std::vector<std::vector<std::uint32_t>> parse_predictions(const std::string& data, const std::string& file,
                                                          const std::vector<std::vector<std::uint32_t>>& teacher,
                                                          std::uint32_t vocab_size);

}  // namespace isotope::cli
