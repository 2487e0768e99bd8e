// Canonical JSON, report signatures and their checks, field-by-field comparison.
#include <sodium.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>

#include "isotope/evidence.hpp"
#include "isotope/io.hpp"

namespace isotope {
namespace {

using json = nlohmann::json;

// Deepest nesting of arrays and objects outside strings; stops counting early.
std::size_t nesting_depth(std::string_view s) {
  std::size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
      if (max_depth > JSON_MAX_DEPTH) return max_depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

Status parse_json(std::string_view text, json* out) {
  if (text.size() > REPORT_MAX_BYTES) return {Code::parse, "the document is larger than 64 MiB"};
  if (!is_valid_utf8(text)) return {Code::parse, "the document is not valid UTF-8"};
  if (nesting_depth(text) > JSON_MAX_DEPTH)
    return {Code::parse, "the document is nested deeper than " + std::to_string(JSON_MAX_DEPTH) + " levels"};
  try {
    *out = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.byte is 1-based; report the offset without the library's prefix.
    return {Code::parse, "not valid JSON (at byte " + std::to_string(e.byte) + ")"};
  } catch (const json::exception&) {
    return {Code::parse, "not valid JSON (a number is out of range)"};
  }
  return Status::OK();
}

void write_string(std::string_view s, std::string* out) {
  static const char* hex = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(hex[c >> 4]);
          out->push_back(hex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

Status write_double(double d, std::string* out) {
  if (!std::isfinite(d)) return {Code::invalid_argument, "NaN and infinity cannot be written in canonical JSON"};
  if (d == 0.0) {  // both zeros are written "0"
    out->push_back('0');
    return Status::OK();
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
  if (r.ec != std::errc()) return {Code::internal, "cannot format a number"};
  out->append(buf, r.ptr);
  return Status::OK();
}

Status write_canonical(const json& j, std::string* out) {
  switch (j.type()) {
    case json::value_t::null: out->append("null"); return Status::OK();
    case json::value_t::boolean: out->append(j.get<bool>() ? "true" : "false"); return Status::OK();
    case json::value_t::number_integer: out->append(std::to_string(j.get<std::int64_t>())); return Status::OK();
    case json::value_t::number_unsigned: out->append(std::to_string(j.get<std::uint64_t>())); return Status::OK();
    case json::value_t::number_float: return write_double(j.get<double>(), out);
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (!is_valid_utf8(s)) return {Code::invalid_argument, "a string is not valid UTF-8"};
      write_string(s, out);
      return Status::OK();
    }
    case json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& v : j) {
        if (!first) out->push_back(',');
        first = false;
        ISOTOPE_RETURN_IF_ERROR(write_canonical(v, out));
      }
      out->push_back(']');
      return Status::OK();
    }
    case json::value_t::object: {
      // nlohmann's object is a std::map<std::string, json>: its order is the
      // bytewise order of the UTF-8 keys.
      out->push_back('{');
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        if (!is_valid_utf8(it.key())) return {Code::invalid_argument, "a key is not valid UTF-8"};
        write_string(it.key(), out);
        out->push_back(':');
        ISOTOPE_RETURN_IF_ERROR(write_canonical(it.value(), out));
      }
      out->push_back('}');
      return Status::OK();
    }
    case json::value_t::binary:
    case json::value_t::discarded: break;
  }
  return {Code::invalid_argument, "value cannot be written as JSON"};
}

std::string canon_or_error(const json& j) {
  std::string s;
  if (!write_canonical(j, &s).ok()) return "(unwritable)";
  return s;
}

bool is_hex_of(const json& j, std::size_t digits) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() != digits) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_utc_time(const json& j) {
  // YYYY-MM-DDTHH:MM:SSZ
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() != 20) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool digit = c >= '0' && c <= '9';
    switch (i) {
      case 4: case 7: if (c != '-') return false; break;
      case 10: if (c != 'T') return false; break;
      case 13: case 16: if (c != ':') return false; break;
      case 19: if (c != 'Z') return false; break;
      default: if (!digit) return false;
    }
  }
  return true;
}

// A string safe to show: no control characters (C0, DEL, C1), no
// bidirectional overrides or isolates, at most `max` bytes.
bool is_plain_string(const json& j, std::size_t max) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() > max) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0) return false;  // U+0080-009F
    if (c == 0xE2 && i + 2 < s.size()) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]), c2 = static_cast<unsigned char>(s[i + 2]);
      if (c1 == 0x80 && ((c2 >= 0xAA && c2 <= 0xAE) || c2 == 0x8E || c2 == 0x8F || c2 == 0xA8 || c2 == 0xA9))
        return false;  // U+202A-202E, U+200E/F, U+2028/9
      if (c1 == 0x81 && c2 >= 0xA6 && c2 <= 0xA9) return false;  // U+2066-2069
    }
  }
  return true;
}

bool is_version_string(const json& j) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' ||
          c == '+' || c == '~' || c == '_'))
      return false;
  return true;
}

// Schema isotope-report/1 (docs/evidence.md). Returns an empty string if the
// document conforms, else what is wrong.
std::string schema_problem(const json& doc) {
  if (!doc.is_object()) return "a report is a JSON object";
  static const char* members[] = {"command", "commitment", "created_utc", "inputs", "options",
                                  "profile", "result",     "schema",      "signature", "tool"};
  for (const char* m : members)
    if (!doc.contains(m)) return std::string("member \"") + m + "\" is missing";
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    bool known = it.key() == "timestamp";  // optional: an RFC 3161 timestamp of the commitment
    for (const char* m : members) known = known || it.key() == m;
    if (!known) return "unknown member \"" + it.key() + "\"";
  }
  if (!doc["schema"].is_string()) return "\"schema\" is not a string";
  if (doc["schema"].get_ref<const std::string&>() != REPORT_SCHEMA &&
      doc["schema"].get_ref<const std::string&>() != REPORT_SCHEMA_V1)
    return "schema \"" + doc["schema"].get<std::string>() + "\" is not \"" + REPORT_SCHEMA + "\" (nor \"" +
           REPORT_SCHEMA_V1 + "\")";
  const json& cmd = doc["command"];
  if (!cmd.is_string() || (cmd != "detect" && cmd != "audit")) return "\"command\" must be \"detect\" or \"audit\"";
  if (!is_hex_of(doc["commitment"], 64)) return "\"commitment\" must be 64 lowercase hexadecimal digits";
  if (!is_utc_time(doc["created_utc"])) return "\"created_utc\" must look like 2024-01-31T12:00:00Z";
  const json& tool = doc["tool"];
  if (!tool.is_object() || !tool.contains("name") || !tool["name"].is_string() || !tool.contains("version") ||
      !tool["version"].is_string() || !tool.contains("build") || !tool["build"].is_string())
    return "\"tool\" must hold the strings \"name\", \"version\" and \"build\"";
  if (!is_plain_string(tool["name"], 64) || !is_version_string(tool["version"]) || !is_plain_string(tool["build"], 512))
    return "\"tool\": \"version\" must be 1-64 letters, digits and . - + ~ _; \"name\" and \"build\" must be short "
           "and free of control characters";
  if (!doc["options"].is_object()) return "\"options\" must be an object";
  if (!doc["result"].is_object()) return "\"result\" must be an object";
  const json& prof = doc["profile"];
  if (!prof.is_object() || !prof.contains("context_width") || !prof["context_width"].is_number_unsigned() ||
      !prof.contains("scheme") || !prof["scheme"].is_string() || !prof.contains("prf") || !prof["prf"].is_string())
    return "\"profile\" must hold \"scheme\", \"context_width\" and \"prf\"";
  if (prof["scheme"] == SCHEME_KGW && !(prof.contains("gamma") && prof["gamma"].is_number()))
    return "a kgw \"profile\" must hold \"gamma\"";
  const json& inputs = doc["inputs"];
  if (!inputs.is_array()) return "\"inputs\" must be an array";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const json& in = inputs[i];
    const std::string where = "inputs[" + std::to_string(i) + "]";
    if (!in.is_object() || in.size() != 4 || !in.contains("role") || !in["role"].is_string() ||
        !in.contains("name") || !in["name"].is_string() || !in.contains("size") || !in["size"].is_number_unsigned() ||
        !in.contains("sha256") || !is_hex_of(in["sha256"], 64))
      return where + " must hold exactly \"role\", \"name\", \"sha256\" (64 hex digits) and \"size\"";
    if (!is_plain_string(in["role"], 64) || !is_plain_string(in["name"], 4096))
      return where + ": \"role\" and \"name\" must be free of control characters (and at most 64 and 4096 bytes)";
  }
  if (doc.contains("timestamp")) {
    const json& ts = doc["timestamp"];
    if (!ts.is_object() || ts.size() != 3 || !ts.contains("type") || ts["type"] != "rfc3161" ||
        !ts.contains("reply") || !ts["reply"].is_string() || !ts.contains("time_utc") || !is_utc_time(ts["time_utc"]))
      return "\"timestamp\" must hold exactly \"type\": \"rfc3161\", \"reply\" (base64) and \"time_utc\"";
  }
  const json& sig = doc["signature"];
  if (!sig.is_object() || sig.size() != 3 || !sig.contains("algorithm") || sig["algorithm"] != "ed25519" ||
      !sig.contains("public_key") || !is_hex_of(sig["public_key"], 2 * SIGN_PUBLIC_KEY_BYTES) ||
      !sig.contains("value") || !is_hex_of(sig["value"], 2 * SIGNATURE_BYTES))
    return "\"signature\" must hold exactly \"algorithm\": \"ed25519\", \"public_key\" (64 hex digits) and "
           "\"value\" (128 hex digits)";
  return {};
}

void diff(const json& a, const json& b, const std::string& path, std::vector<JsonDifference>* out) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string p = path.empty() ? it.key() : path + "." + it.key();
      auto jt = b.find(it.key());
      if (jt == b.end()) out->push_back({p, canon_or_error(it.value()), "(absent)"});
      else diff(it.value(), *jt, p, out);
    }
    for (auto jt = b.begin(); jt != b.end(); ++jt)
      if (!a.contains(jt.key()))
        out->push_back({path.empty() ? jt.key() : path + "." + jt.key(), "(absent)", canon_or_error(jt.value())});
    return;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (std::size_t i = 0; i < a.size(); ++i) diff(a[i], b[i], path + "[" + std::to_string(i) + "]", out);
    return;
  }
  const std::string ca = canon_or_error(a), cb = canon_or_error(b);
  if (ca != cb) out->push_back({path, ca, cb});
}

}  // namespace

Status canonical_json(std::string_view text, std::string* out) {
  if (out == nullptr) return {Code::invalid_argument, "canonical_json: null output"};
  json j;
  ISOTOPE_RETURN_IF_ERROR(parse_json(text, &j));
  std::string s;
  ISOTOPE_RETURN_IF_ERROR(write_canonical(j, &s));
  *out = std::move(s);
  return Status::OK();
}

Status report_sign(std::string_view unsigned_json, const SigningKey& key, std::string* out) {
  if (out == nullptr) return {Code::invalid_argument, "report_sign: null output"};
  if (!key.valid()) return {Code::invalid_argument, "report_sign: empty signing key"};
  json doc;
  ISOTOPE_RETURN_IF_ERROR(parse_json(unsigned_json, &doc));
  if (!doc.is_object()) return {Code::parse, "a report is a JSON object"};
  doc.erase("signature");
  std::string body;
  ISOTOPE_RETURN_IF_ERROR(write_canonical(doc, &body));
  std::array<std::uint8_t, SIGNATURE_BYTES> sig{};
  ISOTOPE_RETURN_IF_ERROR(key.sign(body, &sig));
  doc["signature"] = {{"algorithm", "ed25519"}, {"public_key", key.public_key_hex()}, {"value", to_hex(sig)}};
  std::string full;
  ISOTOPE_RETURN_IF_ERROR(write_canonical(doc, &full));
  full.push_back('\n');
  *out = std::move(full);
  return Status::OK();
}

ReportCheck report_check(std::string_view bytes, const SignPublicKey* expected_signer) {
  ReportCheck rc;
  rc.outcome = ReportCheck::Outcome::malformed;
  if (bytes.empty()) {
    rc.message = "the report is empty";
    return rc;
  }
  json doc;
  if (Status st = parse_json(bytes, &doc); !st.ok()) {
    rc.message = st.message();
    return rc;
  }
  std::string canon;
  if (Status st = write_canonical(doc, &canon); !st.ok()) {
    rc.message = st.message();
    return rc;
  }
  canon.push_back('\n');
  if (canon != bytes) {
    std::size_t i = 0;
    while (i < canon.size() && i < bytes.size() && canon[i] == bytes[i]) ++i;
    rc.message = "the file is not in canonical form (first difference at byte " + std::to_string(i) +
                 "); a report must be byte for byte the canonical serialisation of its content";
    return rc;
  }
  if (std::string why = schema_problem(doc); !why.empty()) {
    rc.message = why;
    return rc;
  }
  rc.command = doc["command"].get<std::string>();
  rc.signer_hex = doc["signature"]["public_key"].get<std::string>();
  const std::string value_hex = doc["signature"]["value"].get<std::string>();
  doc.erase("signature");
  std::string body;
  if (Status st = write_canonical(doc, &body); !st.ok()) {
    rc.message = st.message();
    return rc;
  }
  SignPublicKey pk{};
  std::array<std::uint8_t, SIGNATURE_BYTES> sig{};
  std::size_t len = 0;
  if (!signer_parse_public_hex(rc.signer_hex, &pk).ok() ||
      sodium_hex2bin(sig.data(), sig.size(), value_hex.data(), value_hex.size(), nullptr, &len, nullptr) != 0 ||
      len != SIGNATURE_BYTES) {
    rc.message = "the signature fields cannot be decoded";
    return rc;
  }
  rc.unsigned_json = body;
  if (sodium_init() < 0) {
    rc.outcome = ReportCheck::Outcome::bad_signature;
    rc.message = "libsodium could not be initialised";
    return rc;
  }
  if (crypto_sign_verify_detached(sig.data(), reinterpret_cast<const unsigned char*>(body.data()), body.size(),
                                  pk.data()) != 0) {
    rc.outcome = ReportCheck::Outcome::bad_signature;
    rc.message = "the Ed25519 signature does not match the report's content: the report was changed after it "
                 "was signed, or the signature is not by the key it names";
    return rc;
  }
  if (expected_signer != nullptr && *expected_signer != pk) {
    rc.outcome = ReportCheck::Outcome::bad_signature;
    rc.message = "the report is validly signed, but by " + rc.signer_hex + ", not by the expected signer " +
                 to_hex(*expected_signer);
    return rc;
  }
  rc.outcome = ReportCheck::Outcome::ok;
  return rc;
}

Status json_differences(std::string_view expected, std::string_view actual, const std::string& prefix,
                        std::vector<JsonDifference>* out) {
  if (out == nullptr) return {Code::invalid_argument, "json_differences: null output"};
  json a, b;
  ISOTOPE_RETURN_IF_ERROR(parse_json(expected, &a));
  ISOTOPE_RETURN_IF_ERROR(parse_json(actual, &b));
  out->clear();
  diff(a, b, prefix, out);
  return Status::OK();
}

}  // namespace isotope
