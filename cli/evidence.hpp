// Shared pieces of the evidence commands (signer, verify, report) and of the
// --report/--sign options of detect and audit.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.hpp"

namespace isotope::cli {

// Exit codes of `isotope verify` and `isotope report` (docs/evidence.md);
// they follow the general ones of common.hpp.
enum EvidenceExit : int {
  EXIT_REPORT_MALFORMED = 10,     // not JSON, not canonical, or not of the schema
  EXIT_BAD_SIGNATURE = 11,        // signature invalid, or not by the expected signer
  EXIT_COMMITMENT_MISMATCH = 12,  // the revealed key is not the committed one
  EXIT_INPUT_MISMATCH = 13,       // an input file is missing, changed or extra
  EXIT_RESULT_MISMATCH = 14,      // recomputation gives other numbers
  EXIT_CANNOT_RECOMPUTE = 15,     // recomputation of this kind of report is not available
  EXIT_SIGNER_NOT_CHECKED = 16,   // every other check passed, but nobody said who the signer must be
  EXIT_BAD_TIMESTAMP = 17,        // the commitment's timestamp token does not verify
};

// One input of a report: what it was for, its name as given, its SHA-256 and size.
struct ReportInput {
  std::string role;  // "text", "tokenizer", "model", "prompts", ...
  std::string name;
  std::string sha256;
  std::uint64_t size = 0;
};
ReportInput input_of_data(const std::string& role, const std::string& name, const std::string& data);
// Hashes a file on disk (throws Failure on I/O errors).
ReportInput input_of_file(const std::string& role, const std::string& path);
nlohmann::json inputs_json(const std::vector<ReportInput>& inputs);

// The first `max_tokens` tokens of `ids` as pieces of text with their entries
// of `mask` (one score per id, NaN: not scored): the "sample" of a report,
// [{"text": PIECE, "green": 1|0|-1}, ...]; "green" is 1 where the score is
// above its mean under H0 (KGW: green), -1 where nothing was scored; schemes
// without green lists (Scheme::green_rate) add the "score" itself. Pieces are valid UTF-8.
nlohmann::json sample_json(const Tokenizer& tok, const std::vector<std::uint32_t>& ids, const TokenScores& mask,
                           const Profile& profile, std::uint32_t max_tokens, const std::string& where);

// {"name": "isotope", "version": ..., "build": ...}
nlohmann::json tool_json();
// Now, as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();

// Everything a report holds but its signature and tool/time stamps.
struct ReportContent {
  std::string command;  // "detect" or "audit"
  nlohmann::json profile;
  std::string commitment_hex;
  std::vector<ReportInput> inputs;
  nlohmann::json options;  // every option that changes the result
  nlohmann::json result;   // the command's result JSON
  std::string key_path;    // the watermark key file: its timestamp (KEYFILE.tsr), if any, is carried
};
// The "timestamp" member of a report: the RFC 3161 reply stored beside the
// key file (KEYFILE.tsr), checked against the commitment; null when none.
nlohmann::json timestamp_json(const std::string& key_path, const std::string& commitment_hex);
// The reply's DER bytes from a report's "timestamp" member (throws Failure).
std::string timestamp_reply_der(const nlohmann::json& ts);

// Builds the report, signs it with the key in `sign_key_path`, writes it to
// `path` atomically (mode 0644). Returns the signer's public key (hex).
std::string write_signed_report(const std::string& path, const std::string& sign_key_path, const ReportContent& c);

// Who the signer of a report must be: a public key file (--signer) and/or a
// file of trusted signers (--trusted-signers): one "HEX [label]" per line,
// '#' starts a comment. Both empty: the signer is not checked.
struct SignerExpectation {
  std::string public_key_path;
  std::string trusted_path;
  bool given() const { return !public_key_path.empty() || !trusted_path.empty(); }
};

// What load_checked_report found out about the signer.
struct SignerOutcome {
  std::string signer_hex;  // the key that signed (named in the report)
  bool checked = false;    // true when it matched an expectation
  std::string against;     // in words: what it was checked against (empty when not checked)
};

// Reads a report file, checks it (canonical form, schema, signature) and
// throws Failure with EXIT_REPORT_MALFORMED / EXIT_BAD_SIGNATURE if it fails,
// including a signer that does not meet `expect`.
nlohmann::json load_checked_report(const std::string& path, const SignerExpectation& expect, SignerOutcome* signer);

}  // namespace isotope::cli
