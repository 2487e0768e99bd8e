#include "audit_report.hpp"

#include "evidence.hpp"

namespace isotope::cli {

namespace {
// The AuditOptions members that name files, and the input roles they hold.
const char* const FILE_OPTIONS[] = {"suspect", "teacher", "model", "predictions", "tokenizer", "accounts"};
}  // namespace

std::string write_audit_report(const std::string& path, const std::string& sign_key_path, const AuditOptions& o,
                               const nlohmann::json& result, const Key& key) {
  ReportContent c;
  c.command = "audit";
  c.profile = profile_json(o.profile);
  c.commitment_hex = key.commitment_hex();
  if (result.contains("inputs") && result["inputs"].is_object())
    for (auto it = result["inputs"].begin(); it != result["inputs"].end(); ++it)
      c.inputs.push_back({it.key(), it.value().value("path", std::string()), it.value().value("sha256", std::string()),
                          it.value().value("bytes", std::uint64_t{0})});
  // The options as recorded by the audit (with the control seed it drew).
  c.options = result.contains("options") ? result["options"] : nlohmann::json(o);
  c.result = result;
  c.key_path = o.key;  // its timestamp (KEYFILE.tsr), if any, goes in the report
  return write_signed_report(path, sign_key_path, c);
}

nlohmann::json recompute_audit_result(const nlohmann::json& report, const Key& key,
                                      const std::vector<std::string>& matched, const ProgressFn& progress) {
  AuditOptions o;
  from_json(report["options"], o);
  o.key.clear();
  for (const char* f : FILE_OPTIONS) {
    std::string* slot = f == std::string("suspect")       ? &o.suspect
                        : f == std::string("teacher")     ? &o.teacher
                        : f == std::string("model")       ? &o.model
                        : f == std::string("predictions") ? &o.predictions
                        : f == std::string("accounts")    ? &o.accounts
                                                          : &o.tokenizer;
    bool recorded = false;
    for (std::size_t i = 0; i < matched.size(); ++i)
      if (report["inputs"][i]["role"] == f) {
        *slot = matched[i];
        recorded = true;
      }
    if (!recorded && !slot->empty() && std::string(f) != "tokenizer")
      throw Failure{EXIT_REPORT_MALFORMED, std::string("the report's options name a ") + f +
                                               " file but its inputs record none"};
  }
  nlohmann::json r = compute_audit(o, key, progress);
  // Names are not evidence; contents are (checked by hash before this).
  const nlohmann::json& rec = report["result"];
  if (r.contains("inputs") && rec.contains("inputs") && rec["inputs"].is_object())
    for (auto it = r["inputs"].begin(); it != r["inputs"].end(); ++it)
      if (rec["inputs"].contains(it.key()) && rec["inputs"][it.key()].contains("path"))
        it.value()["path"] = rec["inputs"][it.key()]["path"];
  if (r.contains("options") && rec.contains("options") && rec["options"].is_object()) {
    for (const char* f : FILE_OPTIONS)
      if (rec["options"].contains(f)) r["options"][f] = rec["options"][f];
    if (rec["options"].contains("key")) r["options"]["key"] = rec["options"]["key"];
  }
  return r;
}

}  // namespace isotope::cli
