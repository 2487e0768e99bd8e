#include "evidence.hpp"

#include <algorithm>
#include <ctime>
#include <span>

#include "isotope/evidence.hpp"
#include "isotope/io.hpp"

namespace isotope::cli {

nlohmann::json sample_json(const Tokenizer& tok, const std::vector<std::uint32_t>& ids, const TokenMask& mask,
                           std::uint32_t max_tokens, const std::string& where) {
  nlohmann::json a = nlohmann::json::array();
  const std::size_t n = std::min<std::size_t>(ids.size(), max_tokens);
  std::string prev;
  for (std::size_t i = 0; i < n; ++i) {
    std::string cur;
    check(tok.decode(std::span<const std::uint32_t>(ids.data(), i + 1), &cur), where);
    std::string piece;
    if (cur.size() >= prev.size() && cur.compare(0, prev.size(), prev) == 0) {
      piece = cur.substr(prev.size());
    } else {
      check(tok.decode(std::span<const std::uint32_t>(ids.data() + i, 1), &piece), where);
    }
    prev = std::move(cur);
    // Pieces must stay valid UTF-8 on their own.
    if (!is_valid_utf8(piece)) piece = "\xEF\xBF\xBD";
    a.push_back({{"text", piece}, {"green", static_cast<int>(mask[i])}});
  }
  return a;
}

ReportInput input_of_data(const std::string& role, const std::string& name, const std::string& data) {
  return {role, name, sha256_hex(data), data.size()};
}

ReportInput input_of_file(const std::string& role, const std::string& path) {
  ReportInput in{role, path, "", 0};
  check(sha256_file_hex(path, &in.sha256, &in.size), "cannot hash '" + path + "'");
  return in;
}

nlohmann::json inputs_json(const std::vector<ReportInput>& inputs) {
  nlohmann::json a = nlohmann::json::array();
  for (const ReportInput& in : inputs)
    a.push_back({{"role", in.role}, {"name", in.name}, {"sha256", in.sha256}, {"size", in.size}});
  return a;
}

nlohmann::json tool_json() {
  std::string build = "c++";
#if defined(__clang__)
  build = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  build = std::string("gcc ") + __VERSION__;
#endif
#if defined(__x86_64__)
  build += "; x86_64";
#elif defined(__aarch64__)
  build += "; aarch64";
#endif
#ifdef NDEBUG
  build += "; release";
#else
  build += "; debug";
#endif
  nlohmann::json t = {{"name", "isotope"}, {"version", version_string()}, {"build", build}};
  // The executable's own hash identifies the exact build.
  std::string exe_hash;
  if (sha256_file_hex("/proc/self/exe", &exe_hash).ok()) t["executable_sha256"] = exe_hash;
  return t;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string write_signed_report(const std::string& path, const std::string& sign_key_path, const ReportContent& c) {
  if (sign_key_path.empty()) fail_usage("--report needs --sign SIGNKEY (make one with 'isotope signer new')");
  check_output_path(path);
  SigningKey sk;
  check(signer_read_secret(sign_key_path, &sk), "cannot use signing key");
  nlohmann::json doc = {{"schema", REPORT_SCHEMA},
                        {"command", c.command},
                        {"tool", tool_json()},
                        {"profile", c.profile},
                        {"commitment", c.commitment_hex},
                        {"inputs", inputs_json(c.inputs)},
                        {"options", c.options},
                        {"result", c.result},
                        {"created_utc", utc_now()}};
  std::string bytes;
  check(report_sign(doc.dump(), sk, &bytes), "cannot sign the report");
  // Never write what would not verify.
  const ReportCheck rc = report_check(bytes);
  if (rc.outcome != ReportCheck::Outcome::ok) throw Failure{EXIT_FAILURE_INTERNAL, "report self-check: " + rc.message};
  check(write_file_atomic(path, bytes, 0644), "cannot write report");
  return sk.public_key_hex();
}

nlohmann::json load_checked_report(const std::string& path, const std::string& signer_path, std::string* signer_hex) {
  std::string bytes;
  check(read_file(path, &bytes, MAX_REPORT_FILE_BYTES), "cannot read report");
  SignPublicKey expected{};
  if (!signer_path.empty()) check(signer_read_public(signer_path, &expected), "cannot use --signer");
  const ReportCheck rc = report_check(bytes, signer_path.empty() ? nullptr : &expected);
  switch (rc.outcome) {
    case ReportCheck::Outcome::ok: break;
    case ReportCheck::Outcome::malformed:
      throw Failure{EXIT_REPORT_MALFORMED, "'" + path + "' is not a valid isotope report: " + rc.message};
    case ReportCheck::Outcome::bad_signature:
      throw Failure{EXIT_BAD_SIGNATURE, "'" + path + "': BAD SIGNATURE: " + rc.message};
  }
  if (signer_hex != nullptr) *signer_hex = rc.signer_hex;
  return nlohmann::json::parse(bytes);
}

}  // namespace isotope::cli
