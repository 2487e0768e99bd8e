// isotope audit: was a suspect model trained on this key's watermarked outputs?
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <vector>

#include "audit.hpp"
#include "audit_report.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "isotope/account.hpp"

namespace isotope::cli {

namespace {
struct AuditCommand {
  AuditOptions o;
  ProfileOptions profile;
  bool json = false, quiet = false;
  std::string output, write_predictions, report, sign;
  CLI::Option* route_alpha = nullptr;
};

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

std::string explain(const nlohmann::json& j) {
  std::ostringstream s;
  const bool open = j["mode"] == "open";
  const bool valid = j["valid"].get<bool>();
  const double lp = j["log10_p"].get<double>();
  const std::uint64_t scored = j["scored"].get<std::uint64_t>();
  const double threshold = j["threshold"].get<double>();
  s << "Question: was the suspect model trained on text watermarked with the key committed as\n"
    << "  " << j["key_commitment"].get<std::string>() << "?\n";
  s << (open ? "Setting: open model. The provider's watermarked texts were fed to the suspect, and its own\n"
               "  next-token predictions were checked against the key.\n"
             : "Setting: closed model. The suspect's answers to prompts were checked against the key.\n");
  s << "\nAnswer: ";
  if (!valid)
    s << "NONE. A validity rule was switched off, so the p-value below is NOT valid and proves nothing.\n";
  else if (scored == 0)
    s << "no conclusion: nothing could be scored.\n";
  else if (j["flagged"].get<bool>())
    s << "YES: the suspect's outputs show the watermark's trace: evidence that it was trained on text "
         "watermarked with this key.\n";
  else if (j.contains("warnings"))
    s << "no conclusion: the test had no power here (see the warnings below).\n";
  else
    s << "no: the suspect's outputs do not show the watermark's trace at the threshold.\n";
  const bool kgw = j["profile"]["scheme"] == SCHEME_KGW;
  s << "\nStrength: p = " << format_p(lp) << " (" << odds_phrase(lp) << "); the threshold was " << threshold << ".\n"
    << "  This is the probability that a model never trained on this key's outputs would score at least\n";
  if (kgw)
    s << "  this high. It is exact: under that hypothesis each scored token is green with probability "
      << fmt("%.4g", j["gamma_effective"].get<double>()) << ",\n"
      << "  independently, so the count of green tokens follows a binomial law.\n";
  else
    s << "  this high, computed exactly from the null law of the " << j["profile"]["scheme"].get<std::string>()
      << " scheme (" << scheme_null_phrase(j) << ").\n";
  const auto& sk = j["skipped"];
  s << "\nCounts: " << j["records"].get<std::uint64_t>() << (open ? " teacher texts, " : " suspect answers, ")
    << j["tokens"].get<std::uint64_t>() << " tokens, " << scored << " scored, " << score_phrase(j) << ".\n";
  s << "Rules applied (each keeps the p-value valid):\n";
  s << "  - each (context, token) pair counted once in the whole audit: "
    << (j["rules"]["dedup"].get<bool>() ? "yes" : "NO") << ", " << sk["duplicate"].get<std::uint64_t>()
    << " repeats dropped\n";
  if (!open)
    s << "  - contexts that occur in the prompt ignored: "
      << (j["rules"]["prompt_exclusion"].get<bool>() ? "yes" : "NO") << ", " << sk["prompt"].get<std::uint64_t>()
      << " dropped\n";
  else
    s << "  - contexts seen earlier in the same text ignored (counted with the repeats above)\n";
  if (j["filter"]["enabled"].get<bool>())
    s << "  - filter: only contexts found in the provider's watermarked data ("
      << j["filter"]["teacher_windows"].get<std::uint64_t>() << " contexts): " << sk["filter"].get<std::uint64_t>()
      << " dropped\n";
  else if (!open)
    s << "  - filter: off (no --teacher data given)\n";
  s << "  - tokens without a full context: " << sk["short_context"].get<std::uint64_t>() << " not scored\n";
  const auto& c = j["control"];
  const std::uint64_t n = c["keys"].get<std::uint64_t>();
  if (n > 0) {
    const auto lps = c["log10_p"].get<std::vector<double>>();
    s << "\nControl: the same test under " << n << " random keys the suspect cannot have seen gave p-values from "
      << format_p(*std::min_element(lps.begin(), lps.end())) << " to "
      << format_p(*std::max_element(lps.begin(), lps.end())) << "; " << c["below_0_05"].get<std::uint64_t>() << " of "
      << n << " below 0.05 (about " << fmt("%.1f", 0.05 * n)
      << " expected);\n  uniformity check (Kolmogorov-Smirnov) p = " << fmt("%.3g", c["ks_p"].get<double>())
      << (c["ks_p"].get<double>() > 0.01
              ? ": the test behaves as it should under keys the suspect never saw.\n"
              : ": NOT uniform, the test is miscalibrated for these data; do not rely on it.\n");
  }
  if (j.contains("route_alpha")) {
    if (j.value("account_mark", std::string()) == "nested")
      s << "\nRouting: the provider marks a share " << j["route_alpha"].get<double>()
        << " of positions with account keys as well, nested in the\n  master key's mark; the key above was tested on"
        << " every tuple (" << j["routed_to_accounts"].get<std::uint64_t>() << " of them routed to accounts).\n";
    else
      s << "\nRouting: the provider marks a share " << j["route_alpha"].get<double>()
        << " of positions with account keys; the key above was\n  tested on the " << scored
        << " tuples its route keeps for itself (" << j["routed_to_accounts"].get<std::uint64_t>()
        << " went to account keys).\n";
  }
  if (j.contains("attribution")) {
    const auto& a = j["attribution"];
    s << "\nAttribution: " << a["candidates"].get<std::uint64_t>() << " candidate accounts, each tested on the ";
    if (a.value("account_mark", std::string()) == "nested")
      s << a["tested"].get<std::uint64_t>() << " master-green tuples of the " << a["routed"].get<std::uint64_t>()
        << " routed to accounts\n  (which of them fall in the account's half: 1/2 by chance),\n  p-values corrected"
        << " for the number of ";
    else
      s << a["routed"].get<std::uint64_t>() << " tuples routed to accounts,\n  p-values corrected for the number of ";
    s << "candidates (Holm), accounts named at corrected p <= " << a["level"].get<double>() << "\n"
      << "  (the chance of naming any account whose outputs the suspect never learned is at most that).\n";
    if (!valid)
      s << "  No account is named: a validity rule was switched off.\n";
    else if (j["accounts"].empty())
      s << "  No account is named.\n";
    for (const auto& acc : j["accounts"])
      s << "  NAMED: " << term_safe(acc["id"].get<std::string>()) << ": p = " << format_p(acc["log10_p"].get<double>())
        << ", corrected p = " << format_p(acc["log10_p_corrected"].get<double>()) << "\n";
    if (a.contains("best_not_named"))
      s << "  Strongest account not named: " << term_safe(a["best_not_named"]["id"].get<std::string>())
        << ", p = " << format_p(a["best_not_named"]["log10_p"].get<double>())
        << ", corrected p = " << format_p(a["best_not_named"]["log10_p_corrected"].get<double>()) << "\n";
    if (a.contains("warnings"))
      for (const auto& w : a["warnings"]) s << "  WARNING: " << w.get<std::string>() << ".\n";
  }
  if (j.contains("warnings"))
    for (const auto& w : j["warnings"]) s << "\nWARNING: " << w.get<std::string>() << ".\n";
  if (!valid)
    s << "\nWARNING: " << (j["rules"]["dedup"].get<bool>() ? "--no-prompt-exclusion" : "--no-dedup")
      << " was given: this p-value is NOT valid.\n";
  return s.str();
}

int run_audit(AuditCommand& c) {
  c.o.profile = c.profile.get();
  // Without --route-alpha: the default share when accounts are tested, else no routing.
  if (c.route_alpha->count() == 0) c.o.route_alpha = c.o.accounts.empty() ? 0.0 : route_alpha_default(c.o.profile);
  if (!c.write_predictions.empty() && (c.o.mode != "open" || c.o.model.empty()))
    fail_usage("--write-predictions needs --mode open with --model");
  if (c.o.key.empty()) fail_usage("a key file is required (--key)");
  if (!c.sign.empty() && c.report.empty()) fail_usage("--sign is used with --report");
  if (!c.report.empty() && c.sign.empty())
    fail_usage("--report needs --sign SIGNKEY (make one with 'isotope signer new')");
  // Output paths are checked before the work, not after it.
  for (const std::string* out : {&c.output, &c.report, &c.write_predictions})
    if (!out->empty() && *out != "-") check_output_path(*out);
  const Key key = load_key(c.o.key);
  std::vector<std::vector<std::uint32_t>> preds;
  const nlohmann::json j = compute_audit(
      c.o, key, [&](const std::string& m) { note(c.quiet, m); }, c.write_predictions.empty() ? nullptr : &preds);
  if (!c.write_predictions.empty()) {
    std::string text;
    for (const auto& p : preds) text += nlohmann::json{{"predictions", p}}.dump() + "\n";
    write_output(c.write_predictions, text);
  }
  if (!c.report.empty()) {
    const std::string signer = write_audit_report(c.report, c.sign, c.o, j, key);
    note(c.quiet, "wrote signed report '" + c.report + "' (signer " + signer + ")");
  }
  write_output(c.output, c.json ? j.dump(2) + "\n" : explain(j));
  return EXIT_OK;
}
}  // namespace

void register_audit(CLI::App& root, Runner* run) {
  auto c = std::make_shared<AuditCommand>();
  auto* sub = root.add_subcommand(
      "audit", "Test whether a suspect model was trained on watermarked outputs (closed or open model)");
  sub->add_option("--mode", c->o.mode,
                  "closed: score the suspect's answers; open: score its predictions on teacher text")
      ->check(CLI::IsMember({"closed", "open"}))
      ->capture_default_str();
  sub->add_option("-k,--key", c->o.key, "Watermark key file")->required();
  sub->add_option("--suspect", c->o.suspect,
                  "Closed: the suspect's answers, JSONL lines {\"prompt\": ..., \"response\": ...}");
  sub->add_option("--teacher", c->o.teacher,
                  "The provider's own watermarked outputs (JSONL \"response\"/\"text\" or plain text). Closed: the "
                  "filter; open: the texts fed to the suspect");
  sub->add_option("-m,--model", c->o.model, "Open: the suspect as an isotope n-gram model file");
  sub->add_option("--predictions", c->o.predictions,
                  "Open: the suspect's top-1 predictions computed elsewhere (PREDS.jsonl, see docs/audit.md)");
  sub->add_option("--tokenizer", c->o.tokenizer,
                  "The provider's tokenizer: a sentencepiece .model or a Hugging Face tokenizer.json "
                  "(default: the bundled one; needed for token-id lines)");
  sub->add_option("--vocab-size", c->o.vocab_size,
                  "Read token-id lines ({\"ids\"}, {\"prompt_ids\", \"response_ids\"}) against this vocabulary "
                  "size, with no tokenizer; every input must then be token ids")
      ->check(CLI::Range(1u, 0xFFFFFFFFu));
  sub->add_option("--control", c->o.control, "Random control keys to run the same test under")->capture_default_str();
  sub->add_option("--threads", c->o.threads,
                  "Threads that score the control keys and accounts (0: one per core); the results do not depend on it")
      ->capture_default_str();
  sub->add_option("--scheduler", c->o.scheduler,
                  "Run on the Dask cluster of this scheduler (e.g. "
                  "tcp://10.0.0.5:8786): the same result, computed "
                  "by its workers (docs/scale.md)");
  sub->add_option("--control-seed", c->o.control_seed,
                  "64 hex digits from which the control keys are derived (default: fresh, recorded in the result)");
  sub->add_option("--normalize", c->o.normalize,
                  "Normalize texts before tokenization: a list of nfkc, spaces, format, confusables, or all "
                  "(docs/cli.md)");
  sub->add_option("--threshold", c->o.threshold,
                  "Flag the suspect when p <= this; with --accounts, name the accounts whose corrected p <= this")
      ->capture_default_str();
  sub->add_option("--accounts", c->o.accounts,
                  "Attribution: test every account in this file (one identifier per line, docs/attribution.md)");
  c->route_alpha =
      sub->add_option("--route-alpha", c->o.route_alpha,
                      "Share of positions the provider routes to accounts (default with --accounts: " +
                          shortest_double(ROUTE_ALPHA_NESTED_DEFAULT) + " for kgw, " +
                          shortest_double(ROUTE_ALPHA_DEFAULT) + " for the other schemes; else 0: no routing)");
  sub->add_flag("--json", c->json, "Write one JSON object instead of the explanation");
  sub->add_option("-o,--output", c->output, "Write the result to this file instead of standard output");
  sub->add_flag("-q,--quiet", c->quiet, "No progress messages");
  sub->add_option("--report", c->report,
                  "Also write a signed, reproducible evidence report (canonical JSON) to this file");
  sub->add_option("--sign", c->sign, "Signing key for --report (see 'isotope signer new')");
  sub->add_option("--write-predictions", c->write_predictions,
                  "Open mode with --model: also write the suspect's predictions as PREDS.jsonl");
  sub->add_flag("--no-dedup", c->o.no_dedup,
                "Count repeated (context, token) pairs: only to show why dedup exists; the p-value is then not valid");
  sub->add_flag(
      "--no-prompt-exclusion", c->o.no_prompt_exclusion,
      "Score contexts that occur in the prompt: only to show why the rule exists; the p-value is then not valid");
  c->profile.add_to(sub);
  sub->callback([c, run] { *run = [c] { return run_audit(*c); }; });
}

}  // namespace isotope::cli
