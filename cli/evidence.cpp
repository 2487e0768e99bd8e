#include "evidence.hpp"

#include <sodium.h>

#include <cstring>
#include <ctime>

#include "build_info.hpp"
#include "evidence/result_json.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/timestamp.hpp"

namespace isotope::cli {

nlohmann::json sample_json(const Tokenizer& tok, const std::vector<std::uint32_t>& ids, const TokenScores& mask,
                           const Profile& profile, std::uint32_t max_tokens, const std::string& where) {
  nlohmann::json j;
  check(detail::sample_json(tok, ids, mask, profile, max_tokens, &j), where);
  return j;
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
  // The source revision, compiler and libraries: enough to rebuild this
  // version (docs/evidence.md, "Rebuilding the version that made a report").
  const nlohmann::json b = build_json();
  for (auto it = b.begin(); it != b.end(); ++it) t[it.key()] = it.value();
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

nlohmann::json timestamp_json(const std::string& key_path, const std::string& commitment_hex) {
  if (key_path.empty()) return nullptr;
  const std::string path = key_path + ".tsr";
  std::string der;
  if (!read_file(path, &der).ok()) return nullptr;  // no timestamp stored
  TimestampInfo info;
  if (Status st = timestamp_read_reply(der, commitment_hex, &info); !st.ok())
    throw Failure{EXIT_BAD_TIMESTAMP, "'" + path + "' is not a timestamp of this key's commitment: " + st.message() +
                                          " (remove it, or store the right one with 'isotope commit --timestamp-reply')"};
  std::string b64(sodium_base64_ENCODED_LEN(der.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return {{"type", "rfc3161"}, {"reply", b64}, {"time_utc", info.time_utc}};
}

std::string timestamp_reply_der(const nlohmann::json& ts) {
  const std::string& b64 = ts["reply"].get_ref<const std::string&>();
  std::string der(b64.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(der.data()), der.size(), b64.data(), b64.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    throw Failure{EXIT_BAD_TIMESTAMP, "the report's timestamp is not valid base64"};
  der.resize(len);
  return der;
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
  if (nlohmann::json ts = timestamp_json(c.key_path, c.commitment_hex); !ts.is_null()) doc["timestamp"] = ts;
  std::string bytes;
  check(report_sign(doc.dump(), sk, &bytes), "cannot sign the report");
  // Never write what would not verify.
  const ReportCheck rc = report_check(bytes);
  if (rc.outcome != ReportCheck::Outcome::ok) throw Failure{EXIT_FAILURE_INTERNAL, "report self-check: " + rc.message};
  check(write_file_atomic(path, bytes, 0644), "cannot write report");
  return sk.public_key_hex();
}

namespace {
// The trusted-signers file: one public key (64 hex digits) per line, optionally
// followed by a label; blank lines and lines starting with '#' are skipped.
std::vector<std::pair<SignPublicKey, std::string>> read_trusted_signers(const std::string& path) {
  std::string text;
  check(read_file(path, &text), "cannot read --trusted-signers");
  std::vector<std::pair<SignPublicKey, std::string>> out;
  std::size_t lineno = 0, pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::size_t hex_end = line.find_first_of(" \t", first);
    const std::string hex = line.substr(first, hex_end == std::string::npos ? std::string::npos : hex_end - first);
    std::string label;
    if (hex_end != std::string::npos) {
      const std::size_t l = line.find_first_not_of(" \t", hex_end);
      if (l != std::string::npos) label = line.substr(l);
    }
    SignPublicKey pk{};
    if (!signer_parse_public_hex(hex, &pk).ok())
      throw Failure{EXIT_KEY, "'" + path + "', line " + std::to_string(lineno) +
                                  ": not a signer's public key (64 hexadecimal digits, then an optional label)"};
    out.emplace_back(pk, label);
  }
  if (out.empty()) throw Failure{EXIT_KEY, "'" + path + "' lists no trusted signer"};
  return out;
}
}  // namespace

nlohmann::json load_checked_report(const std::string& path, const SignerExpectation& expect, SignerOutcome* signer) {
  std::string bytes;
  check(read_file(path, &bytes, MAX_REPORT_FILE_BYTES), "cannot read report");
  SignPublicKey expected{};
  if (!expect.public_key_path.empty()) check(signer_read_public(expect.public_key_path, &expected), "cannot use --signer");
  std::vector<std::pair<SignPublicKey, std::string>> trusted;
  if (!expect.trusted_path.empty()) trusted = read_trusted_signers(expect.trusted_path);
  const ReportCheck rc = report_check(bytes, expect.public_key_path.empty() ? nullptr : &expected);
  switch (rc.outcome) {
    case ReportCheck::Outcome::ok: break;
    case ReportCheck::Outcome::malformed:
      throw Failure{EXIT_REPORT_MALFORMED, "'" + path + "' is not a valid isotope report: " + rc.message};
    case ReportCheck::Outcome::bad_signature:
      throw Failure{EXIT_BAD_SIGNATURE, "'" + path + "': BAD SIGNATURE: " + rc.message};
  }
  SignerOutcome outcome;
  outcome.signer_hex = rc.signer_hex;
  if (!expect.public_key_path.empty()) {
    outcome.checked = true;
    outcome.against = "the public key in '" + expect.public_key_path + "'";
  }
  if (!expect.trusted_path.empty()) {
    const std::pair<SignPublicKey, std::string>* hit = nullptr;
    for (const auto& t : trusted)
      if (to_hex(t.first) == rc.signer_hex) hit = &t;
    if (hit == nullptr)
      throw Failure{EXIT_BAD_SIGNATURE, "'" + path + "': BAD SIGNATURE: the report is validly signed, but by " +
                                            rc.signer_hex + ", which is not in the trusted signers file '" +
                                            expect.trusted_path + "'"};
    const std::string t = "the trusted signers file '" + expect.trusted_path + "'" +
                          (hit->second.empty() ? std::string() : " (as \"" + hit->second + "\")");
    outcome.against = outcome.checked ? outcome.against + " and " + t : t;
    outcome.checked = true;
  }
  if (signer != nullptr) *signer = outcome;
  return nlohmann::json::parse(bytes);
}

}  // namespace isotope::cli
