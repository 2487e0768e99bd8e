// The computation behind `isotope detect`, shared by the command and by
// `isotope verify` (which recomputes a detect report's result from it).
#pragma once
#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.hpp"
#include "isotope/normalize.hpp"

namespace isotope::cli {

// Every option that changes a detect result (the profile aside).
struct DetectSpec {
  double threshold = 1e-4;
  bool dedup = true;
  bool jsonl = false;          // inputs are JSONL records
  bool mask = false;           // add the per-token mask (--json output only)
  Normalizers normalize;       // applied to texts and prompts before tokenization
  bool scan = false;           // also windowed detection (isotope::scan_ids): the "scan" member
  std::uint32_t scan_min_length = 32;  // the scan's shortest window, in tokens
  // Report-only extras: random-key controls, the p-value curve, a text sample.
  bool evidence = false;
  std::uint32_t controls = 10;       // control keys (see isotope::control_key)
  std::uint32_t curve_points = 50;   // checkpoints of the curve
  std::uint32_t sample_tokens = 80;  // tokens of the sample

  nlohmann::json to_json() const;  // the report's "options"
  // Reads a report's "options"; throws Failure(EXIT_REPORT_MALFORMED) if it cannot.
  static DetectSpec from_json(const nlohmann::json& j);
};

// One scored text (a file, or one record of a JSONL file).
struct DetectItem {
  std::string name;  // "FILE", "<stdin>" or "FILE:LINE"
  DetectionResult result;
  bool prompt_exclusion = false;
  std::optional<ScanResult> scan;  // with spec.scan
  nlohmann::json json;  // the --json object (with "input"; with the evidence extras if spec.evidence)
};

// A named input text.
struct NamedText {
  std::string name;
  std::string data;
};

std::vector<DetectItem> detect_compute(const DetectSpec& spec, const Profile& profile, const Key& key,
                                       const Tokenizer& tok, const std::vector<NamedText>& inputs);
// The same where JSONL records may carry token ids ({"ids"} or {"prompt_ids",
// "response_ids"}, each id < vocab_size); `tok` is null when ids come without
// a tokenizer (then text records are a usage error).
std::vector<DetectItem> detect_compute(const DetectSpec& spec, const Profile& profile, const Key& key,
                                       const Tokenizer* tok, std::uint32_t vocab_size,
                                       const std::vector<NamedText>& inputs);

// The same for one JSONL stream, record by record, with bounded memory: each
// result is passed to `emit` as soon as it is computed; `bytes_read` (may be
// empty) hears how far the stream has been read.
void detect_stream_jsonl(const DetectSpec& spec, const Profile& profile, const Key& key, const Tokenizer* tok,
                         std::uint32_t vocab_size, std::istream& in, const std::string& name, const std::function<void(DetectItem&&)>& emit,
                         const std::function<void(std::uint64_t)>& bytes_read = {});

// The result of one text as `detect --json` prints it (no mask, no evidence
// extras), from its counts; `tok` is null when ids came without a tokenizer.
DetectItem detect_item(const DetectSpec& spec, const Profile& profile, const Tokenizer* tok, const std::string& name,
                       const DetectionResult& result, bool prompt_exclusion, bool ids_given);

// The "result" member of a detect report.
nlohmann::json detect_report_result(const std::vector<DetectItem>& items);

}  // namespace isotope::cli
