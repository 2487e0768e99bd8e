// isotope verify: check a report's form and signature; with the revealed key
// and the inputs, check the commitment and the inputs and recompute every number.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "audit_report.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "detect.hpp"
#include "evidence.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"

namespace isotope::cli {

namespace {
struct VerifyOptions {
  std::string report, signer, key;
  std::vector<std::string> inputs;
  bool quiet = false;
};

struct Candidate {
  std::string path;
  ReportInput hashed;
  bool explicit_input = false;  // given with --inputs (else a bundled default)
  bool used = false;
};

Profile profile_from_report(const nlohmann::json& j) {
  Profile p;
  try {
    p.scheme = j.at("scheme").get<std::string>();
    p.version = j.at("version").get<std::uint32_t>();
    p.gamma = j.at("gamma").get<double>();
    p.delta = j.at("delta").get<double>();
    p.context_width = j.at("context_width").get<std::uint32_t>();
    p.prf = j.at("prf").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    throw Failure{EXIT_REPORT_MALFORMED, "the report's \"profile\" is incomplete"};
  }
  if (Status st = p.validate(); !st.ok())
    throw Failure{EXIT_CANNOT_RECOMPUTE, "this build cannot use the report's profile: " + st.message()};
  return p;
}

int run_verify(const VerifyOptions& o) {
  std::string signer_hex;
  const nlohmann::json doc = load_checked_report(o.report, o.signer, &signer_hex);
  const std::string command = doc["command"].get<std::string>();
  // Everything echoed from the report or the command line is escaped
  // (term_safe): a string in a signed report cannot fake this output.
  std::cout << term_safe(o.report) << ": signature valid (Ed25519); signed by " << signer_hex
            << (o.signer.empty() ? "" : " (the expected signer)") << ".\n";
  std::cout << "  isotope " << command << " report, made " << term_safe(doc["created_utc"].get<std::string>()) << " with isotope "
            << term_safe(doc["tool"]["version"].get<std::string>()) << "; watermark key commitment "
            << doc["commitment"].get<std::string>() << ".\n";
  if (o.signer.empty())
    note(o.quiet, "anyone can sign a report: pass --signer PUBKEY to check that the signer is who you expect");
  if (doc["tool"]["version"].get<std::string>() != version_string())
    note(o.quiet, std::string("the report was made with isotope ") + doc["tool"]["version"].get<std::string>() +
                      "; this is isotope " + version_string());
  if (o.key.empty() && o.inputs.empty()) {
    note(o.quiet, "the numbers were not recomputed: give --key KEYFILE and --inputs FILE... to recompute them");
    return EXIT_OK;
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
    return EXIT_OK;
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
  std::cout << "VERIFIED\n";
  return EXIT_OK;
}
}  // namespace

void register_verify(CLI::App& root, Runner* run) {
  auto o = std::make_shared<VerifyOptions>();
  auto* sub = root.add_subcommand(
      "verify", "Check a report's signature; with --key and --inputs, recompute and compare every number");
  sub->add_option("REPORT", o->report, "Report file (from --report)")->required();
  sub->add_option("--signer", o->signer, "The expected signer's public key file (SIGNKEY.pub)");
  sub->add_option("-k,--key", o->key, "The revealed watermark key: checked against the commitment, then used to "
                                      "recompute");
  sub->add_option("--inputs", o->inputs,
                  "The input files (texts, tokenizer, model, ...), matched to the recorded ones by SHA-256; "
                  "the bundled tokenizer and model are found without being named");
  sub->add_flag("-q,--quiet", o->quiet, "No notes on standard error");
  sub->callback([o, run] { *run = [o] { return run_verify(*o); }; });
}

}  // namespace isotope::cli
