// isotope verify: check a report's form and signature; with the revealed key
// and the inputs, check the commitment and the inputs and recompute every number.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "audit_report.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "isotope/scheme.hpp"
#include "detect.hpp"
#include "evidence.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/timestamp.hpp"

namespace isotope::cli {

namespace {
struct VerifyOptions {
  std::string report, signer, trusted, key, tsa_ca, control_seed, rerun_report, sign;
  std::vector<std::string> inputs;
  bool quiet = false;
};

struct Candidate {
  std::string path;
  ReportInput hashed;
  bool explicit_input = false;  // given with --inputs (else a bundled default)
  bool used = false;
};

// Drops, from every detection object (one with "scored" and "log10_p"), the
// fields that schema 2 added: scheme, statistic, trials, mean_score, null_mean.
void strip_schema2_fields(nlohmann::json& j) {
  if (j.is_object()) {
    if (j.contains("scored") && j.contains("log10_p"))
      for (const char* k : {"scheme", "statistic", "trials", "mean_score", "null_mean"}) j.erase(k);
    for (auto& [k, v] : j.items()) strip_schema2_fields(v);
  } else if (j.is_array()) {
    for (auto& v : j) strip_schema2_fields(v);
  }
}

Profile profile_from_report(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("scheme") || !j["scheme"].is_string())
    throw Failure{EXIT_REPORT_MALFORMED, "the report's \"profile\" is incomplete"};
  if (find_scheme(j["scheme"].get<std::string>()) == nullptr)
    throw Failure{EXIT_CANNOT_RECOMPUTE, "this build does not know the report's watermark scheme '" +
                                             j["scheme"].get<std::string>() + "'"};
  Profile p;
  try {
    p = profile_from_report_json(j);
  } catch (const Failure&) {
    throw Failure{EXIT_REPORT_MALFORMED, "the report's \"profile\" is incomplete"};
  }
  if (Status st = p.validate(); !st.ok())
    throw Failure{EXIT_CANNOT_RECOMPUTE, "this build cannot use the report's profile: " + st.message()};
  return p;
}

// The last line and the exit code once every check asked for has passed:
// without a checked signer the answer is never plain success.
int finish(const SignerOutcome& so, const std::string& what) {
  if (so.checked) {
    std::cout << what << '\n';
    return EXIT_OK;
  }
  std::cout << "NOT VERIFIED: the signer was not checked (give --signer SIGNKEY.pub or --trusted-signers FILE); "
            << "otherwise " << what << '\n';
  return EXIT_SIGNER_NOT_CHECKED;
}

// The report's RFC 3161 timestamp of the commitment: shown, and with --tsa-ca
// checked offline against the authority's CA certificate.
void check_timestamp(const VerifyOptions& o, const nlohmann::json& doc) {
  const std::string commitment = doc["commitment"].get<std::string>();
  if (!doc.contains("timestamp")) {
    if (!o.tsa_ca.empty())
      throw Failure{EXIT_BAD_TIMESTAMP, "the report carries no timestamp of its commitment (the key had no "
                                        "KEYFILE.tsr when the report was made)"};
    return;
  }
  const nlohmann::json& ts = doc["timestamp"];
  const std::string der = timestamp_reply_der(ts);
  if (o.tsa_ca.empty()) {
    std::cout << "  The report carries an RFC 3161 timestamp of the commitment, dated "
              << ts["time_utc"].get<std::string>() << " (not checked: give --tsa-ca CA.pem).\n";
    return;
  }
  TimestampInfo info;
  if (Status st = timestamp_verify_reply(der, commitment, o.tsa_ca, &info); !st.ok())
    throw Failure{st.code() == Code::io ? int{EXIT_IO} : int{EXIT_BAD_TIMESTAMP}, "BAD TIMESTAMP: " + st.message()};
  if (info.time_utc != ts["time_utc"].get<std::string>())
    throw Failure{EXIT_BAD_TIMESTAMP, "BAD TIMESTAMP: the token says " + info.time_utc + ", the report " +
                                          ts["time_utc"].get<std::string>()};
  std::cout << "  TIMESTAMP: the commitment existed at " << info.time_utc << " (RFC 3161"
            << (info.tsa.empty() ? std::string() : ", signed by " + info.tsa) << ", checked against '" << o.tsa_ca
            << "').\n";
}

// verify --control-seed: the audit's random-key controls rerun with a seed of
// the verifier's choosing; with --report, a signed report of its own.
void rerun_controls(const VerifyOptions& o, const nlohmann::json& doc, const Key& key,
                    const std::vector<std::string>& matched) {
  const std::string& seed = o.control_seed;
  bool hex = seed.size() == 64;
  for (char c : seed) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) fail_usage("--control-seed must be 64 lowercase hexadecimal digits");
  nlohmann::json mine = doc;
  mine["options"]["control_seed"] = seed;
  const nlohmann::json r = recompute_audit_result(mine, key, matched);
  const nlohmann::json& c = r["control"];
  const std::vector<double> lp = c["log10_p"].get<std::vector<double>>();
  std::cout << "  Controls rerun with your seed " << seed << ": " << lp.size() << " random keys";
  if (!lp.empty())
    std::cout << ", p from " << format_p(*std::min_element(lp.begin(), lp.end())) << " to "
              << format_p(*std::max_element(lp.begin(), lp.end()));
  std::cout << ", " << c["below_0_05"].get<std::uint64_t>() << " below 0.05, uniformity check p = "
            << c["ks_p"].get<double>() << ".\n";
  const bool same = r["log10_p"] == doc["result"]["log10_p"];
  std::cout << "  The committed key's p-value " << (same ? "is unchanged" : "CHANGED") << " (p = "
            << format_p(r["log10_p"].get<double>()) << ").\n";
  if (!same) throw Failure{EXIT_RESULT_MISMATCH, "the committed key's p-value depends on the control seed"};
  if (!o.rerun_report.empty()) {
    AuditOptions ao;
    from_json(mine["options"], ao);
    ao.key = o.key;
    const std::string signer = write_audit_report(o.rerun_report, o.sign, ao, r, key);
    std::cerr << "isotope: wrote signed report '" << o.rerun_report << "' with your controls (signer " << signer
              << ")\n";
  }
}

// `verify --inputs a b report.json`: --inputs took the report too. Reports
// are canonical JSON, so they start with {"command":".
void find_report_among_inputs(VerifyOptions* o) {
  if (!o->report.empty()) return;
  std::vector<std::string> reports;
  for (const std::string& f : o->inputs) {
    std::ifstream in(f, std::ios::binary);
    char head[12] = {0};
    in.read(head, sizeof head);
    if (in.gcount() == sizeof head && std::string(head, sizeof head) == "{\"command\":\"") reports.push_back(f);
  }
  if (reports.size() != 1)
    fail_usage("REPORT is missing: isotope verify REPORT [--signer PUB] [--key KEYFILE --inputs FILE...]");
  o->report = reports.front();
  o->inputs.erase(std::find(o->inputs.begin(), o->inputs.end(), o->report));
}

int run_verify(const VerifyOptions& o) {
  SignerOutcome so;
  const nlohmann::json doc = load_checked_report(o.report, {o.signer, o.trusted}, &so);
  const std::string command = doc["command"].get<std::string>();
  // Everything echoed from the report or the command line is escaped
  // (term_safe): a string in a signed report cannot fake this output.
  if (!so.checked)
    std::cout << "SIGNER NOT CHECKED: " << term_safe(o.report) << " is signed by " << so.signer_hex
              << ", the key the report itself names; anyone can make such a signature. Give --signer "
                 "SIGNKEY.pub or --trusted-signers FILE to check who signed.\n";
  std::cout << term_safe(o.report) << ": signature valid (Ed25519); signed by " << so.signer_hex
            << (so.checked ? " (checked against " + so.against + ")" : std::string(" (signer not checked)")) << ".\n";
  std::cout << "  isotope " << command << " report, made " << term_safe(doc["created_utc"].get<std::string>())
            << " (the signer's clock) with isotope " << term_safe(doc["tool"]["version"].get<std::string>())
            << (doc["tool"].contains("revision") && doc["tool"]["revision"].is_string()
                    ? " (revision " + term_safe(doc["tool"]["revision"].get<std::string>()) +
                          (doc["tool"].value("modified", false) ? ", with uncommitted changes" : "") + ")"
                    : std::string())
            << "; watermark key commitment " << doc["commitment"].get<std::string>() << ".\n";
  check_timestamp(o, doc);
  if (!o.control_seed.empty() && command != "audit")
    throw Failure{EXIT_USAGE, "--control-seed reruns the controls of an audit report; a detect report's control "
                              "keys derive from the commitment, which nobody chooses"};
  if (doc["tool"]["version"].get<std::string>() != version_string())
    note(o.quiet, std::string("the report was made with isotope ") + doc["tool"]["version"].get<std::string>() +
                      "; this is isotope " + version_string());
  if (!o.control_seed.empty() && o.key.empty())
    fail_usage("--control-seed reruns the audit: give --key and --inputs too");
  if (!o.rerun_report.empty() && o.control_seed.empty()) fail_usage("--report goes with --control-seed");
  if (!o.rerun_report.empty() && o.sign.empty()) fail_usage("--report needs --sign SIGNKEY");
  if (o.key.empty() && o.inputs.empty()) {
    note(o.quiet, "the numbers were not recomputed: give --key KEYFILE and --inputs FILE... to recompute them");
    return finish(so, "SIGNATURE VALID (numbers not recomputed)");
  }

  // 1. The revealed key against the commitment.
  Key key;
  if (!o.key.empty()) {
    key = load_key(o.key);
    if (key.commitment_hex() != doc["commitment"].get<std::string>())
      throw Failure{EXIT_COMMITMENT_MISMATCH, "COMMITMENT MISMATCH: the key in '" + o.key + "' has commitment " +
                                                  key.commitment_hex() + ", but the report was made with the key "
                                                  "committed as " + doc["commitment"].get<std::string>()};
    std::cout << "  The key in '" << term_safe(o.key) << "' matches the commitment.\n";
  }

  // 2. Inputs, matched by content.
  std::vector<Candidate> cands;
  for (const std::string& path : o.inputs) cands.push_back({path, input_of_file("", path), true, false});
  for (const std::string& path : {default_tokenizer_path(), default_model_path()}) {
    std::string hex;
    std::uint64_t size = 0;
    if (sha256_file_hex(path, &hex, &size).ok()) cands.push_back({path, {"", path, hex, size}, false, false});
  }
  std::vector<std::string> problems;
  std::vector<std::string> matched;  // path per recorded input
  for (const auto& rec : doc["inputs"]) {
    const std::string sha = rec["sha256"].get<std::string>();
    const std::uint64_t size = rec["size"].get<std::uint64_t>();
    Candidate* found = nullptr;
    for (Candidate& c : cands)
      if (c.hashed.sha256 == sha && c.hashed.size == size) {
        found = &c;
        break;
      }
    // One file satisfies every recorded input whose content it has (a
    // suspect may serve the teacher's own text verbatim).
    for (Candidate& c : cands)
      if (c.hashed.sha256 == sha && c.hashed.size == size) c.used = true;
    if (found == nullptr) {
      problems.push_back("recorded input '" + rec["name"].get<std::string>() + "' (" + rec["role"].get<std::string>() +
                         ", " + std::to_string(size) + " bytes, sha256 " + sha +
                         "): no file given has this content");
      matched.emplace_back();
    } else {
      found->used = true;
      matched.push_back(found->path);
    }
  }
  for (const Candidate& c : cands)
    if (c.explicit_input && !c.used)
      problems.push_back("'" + c.path + "' (" + std::to_string(c.hashed.size) + " bytes, sha256 " + c.hashed.sha256 +
                         ") matches no input recorded in the report: it was changed, or is not part of this report");
  if (!problems.empty()) {
    for (const std::string& p : problems) std::cerr << "isotope: INPUT MISMATCH: " << term_safe(p) << '\n';
    throw Failure{EXIT_INPUT_MISMATCH, std::to_string(problems.size()) + " input problem(s); see above"};
  }
  std::cout << "  All " << matched.size() << " recorded inputs match the files given (SHA-256 and size).\n";
  if (o.key.empty()) {
    note(o.quiet, "the numbers were not recomputed: give --key KEYFILE to recompute them");
    return finish(so, "INPUTS MATCH (numbers not recomputed)");
  }

  // 3. Recompute.
  nlohmann::json recomputed;
  std::vector<JsonDifference> diffs;
  if (command == "detect") {
    const DetectSpec spec = DetectSpec::from_json(doc["options"]);
    const Profile profile = profile_from_report(doc["profile"]);
    std::string tok_path;
    std::vector<NamedText> texts;
    for (std::size_t i = 0; i < matched.size(); ++i) {
      const auto& rec = doc["inputs"][i];
      const std::string role = rec["role"].get<std::string>();
      if (role == "tokenizer") tok_path = matched[i];
      else if (role == "text") texts.push_back({rec["name"].get<std::string>(), read_text(matched[i])});
      else throw Failure{EXIT_REPORT_MALFORMED, "a detect report has no input of role '" + role + "'"};
    }
    if (tok_path.empty()) throw Failure{EXIT_REPORT_MALFORMED, "the report records no tokenizer"};
    const std::unique_ptr<Tokenizer> tok = load_tokenizer(tok_path);
    note(o.quiet, "recomputing the result of " + std::to_string(texts.size()) + " text(s)");
    Progress progress(o.quiet, "texts recomputed", texts.size());
    std::vector<DetectItem> items;
    for (const NamedText& t : texts) {
      for (DetectItem& item : detect_compute(spec, profile, key, *tok, {t})) items.push_back(std::move(item));
      progress.update(items.size());
    }
    recomputed = detect_report_result(items);
  } else if (command == "audit") {
    recomputed = recompute_audit_result(doc, key, matched, [&](const std::string& m) { note(o.quiet, "recomputing: " + m); });
    // The audit ran with the profile in its options; the top-level profile
    // (shown on the page) must be that one.
    const nlohmann::json used = profile_json(doc["options"].get<AuditOptions>().profile);
    check(json_differences(doc["profile"].dump(), used.dump(), "profile", &diffs));
  } else {
    throw Failure{EXIT_CANNOT_RECOMPUTE, "recomputation of '" + command + "' reports is not available"};
  }
  // Schema 1 (before schemes other than KGW) had no scheme-neutral fields;
  // they are derived from the counts it does hold, so they are left out of
  // the comparison of such reports.
  if (doc["schema"] == REPORT_SCHEMA_V1) strip_schema2_fields(recomputed);
  std::vector<JsonDifference> result_diffs;
  check(json_differences(doc["result"].dump(), recomputed.dump(), "result", &result_diffs));
  diffs.insert(diffs.end(), result_diffs.begin(), result_diffs.end());
  // Causes before consequences: a changed count or option shows before the
  // hundreds of curve points it moves (fewest array indices first).
  std::stable_sort(diffs.begin(), diffs.end(), [](const JsonDifference& a, const JsonDifference& b) {
    return std::count(a.path.begin(), a.path.end(), '[') < std::count(b.path.begin(), b.path.end(), '[');
  });
  if (!diffs.empty()) {
    const std::size_t shown = std::min<std::size_t>(diffs.size(), 40);
    for (std::size_t i = 0; i < shown; ++i)
      std::cerr << "isotope: RESULT MISMATCH: " << term_safe(diffs[i].path) << ": report "
                << term_safe(diffs[i].expected) << ", recomputed " << term_safe(diffs[i].actual) << '\n';
    if (shown < diffs.size()) std::cerr << "isotope: ... and " << diffs.size() - shown << " more\n";
    throw Failure{EXIT_RESULT_MISMATCH, std::to_string(diffs.size()) +
                                            " field(s) differ from the recomputation"};
  }
  std::cout << "  Recomputed the result from the key and the inputs: every number matches exactly.\n";
  if (!o.control_seed.empty()) rerun_controls(o, doc, key, matched);
  return finish(so, "VERIFIED");
}
}  // namespace

void register_verify(CLI::App& root, Runner* run) {
  auto o = std::make_shared<VerifyOptions>();
  auto* sub = root.add_subcommand(
      "verify", "Check a report's signature; with --key and --inputs, recompute and compare every number");
  sub->add_option("REPORT", o->report, "Report file (from --report); give it before --inputs");
  sub->add_option("--signer", o->signer, "The expected signer's public key file (SIGNKEY.pub)");
  sub->add_option("--trusted-signers", o->trusted,
                  "A file of trusted signers' public keys (one 'HEX [label]' per line); the report must be "
                  "signed by one of them");
  sub->add_option("-k,--key", o->key, "The revealed watermark key: checked against the commitment, then used to "
                                      "recompute");
  sub->add_option("--inputs", o->inputs,
                  "The input files (texts, tokenizer, model, ...), matched to the recorded ones by SHA-256; "
                  "the bundled tokenizer and model are found without being named");
  sub->add_option("--tsa-ca", o->tsa_ca,
                  "Check the report's RFC 3161 timestamp of the commitment offline against this CA certificate "
                  "(PEM) and print the time it proves");
  sub->add_option("--control-seed", o->control_seed,
                  "Audit reports: rerun the random-key controls with this seed (64 hex digits) of your own");
  sub->add_option("--report", o->rerun_report, "With --control-seed: write a signed audit report with your controls");
  sub->add_option("--sign", o->sign, "Signing key for --report");
  sub->add_flag("-q,--quiet", o->quiet, "No notes on standard error");
  sub->callback([o, run] {
    *run = [o] {
      find_report_among_inputs(o.get());
      return run_verify(*o);
    };
  });
}

}  // namespace isotope::cli
