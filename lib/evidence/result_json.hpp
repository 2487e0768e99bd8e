// The JSON objects behind isotope/recipes.hpp, for the callers built with
// the library (the command and the Python module), which add their inputs'
// fields to them before writing them out. The public functions return the
// same objects as text.
#pragma once
#include <nlohmann/json.hpp>

#include "isotope/recipes.hpp"

namespace isotope::detail {

nlohmann::json profile_json(const Profile& profile);
// A parameter's JSON value: whole-number parameters of the scheme as integers.
nlohmann::json param_json(const Profile& profile, const std::string& name, double value);
// The detection fields shared by detect and audit results (no tokenizer hash:
// callers that read text add "tokenizer_sha256").
nlohmann::json detection_json(const DetectionResult& r, const Profile& profile, double threshold, bool dedup,
                              bool prompt_exclusion);
// Per-token scores: -1 where not scored, whole numbers as integers.
nlohmann::json mask_json(const TokenScores& scores);
Status detect_result_json(const DetectOutcome& outcome, const Profile& profile, const DetectRecipe& recipe,
                          const Tokenizer* tok, std::span<const std::uint32_t> ids, nlohmann::json* out);
// The attribution members ("attribution", "accounts") of an audit's result
// (attribution_result_json's object).
nlohmann::json attribution_json(const AttributionResult& at);
nlohmann::json audit_result_json(const AuditOutcome& outcome, const Profile& profile,
                                 const std::string& key_commitment_hex, const AuditRecipe& recipe);
Status sample_json(const Tokenizer& tok, std::span<const std::uint32_t> ids, const TokenScores& mask,
                   const Profile& profile, std::uint32_t max_tokens, nlohmann::json* out);

}  // namespace isotope::detail
