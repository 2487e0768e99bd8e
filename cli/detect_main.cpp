// isotope detect: is this text watermarked under this key?
#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>

#include "cluster.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "detect.hpp"
#include "evidence.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"

namespace isotope::cli {

namespace {
struct DetectOptions {
  std::string key, tokenizer, report, sign, normalize, scheduler;
  std::vector<std::string> inputs;
  bool json = false, jsonl = false, mask = false, no_dedup = false, scan = false, summary = false;
  std::uint32_t scan_min_length = 32;
  double threshold = 1e-4;
  std::uint32_t controls = 10;
  std::uint32_t vocab_size = 0;  // --vocab-size: token ids without a tokenizer
  ProfileOptions profile;
};

void explain_scan(const ScanResult& sr, const nlohmann::json& j) {
  const bool flagged = j.at("watermarked").get<bool>();
  std::cout << "  Scan: " << (flagged ? "WATERMARKED span" : "no watermarked span found") << " (p = "
            << format_p(sr.log10_p) << " for the whole scan: " << sr.windows
            << " windows tried, Bonferroni-corrected); best window: tokens " << sr.start << "-" << sr.end << " ("
            << sr.window.scored << " scored, p = " << format_p(sr.window.log10_p) << " on its own).\n";
  if (flagged && j.contains("text")) {
    std::string text = j["text"].get<std::string>();
    constexpr std::size_t SHOWN = 160;
    const bool cut = text.size() > SHOWN;
    if (cut) {
      std::size_t n = SHOWN;
      while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // whole characters
      text.resize(n);
    }
    std::cout << "  Span: \"" << term_safe(text) << (cut ? "...\"" : "\"") << "\n";
  }
}

void explain(const DetectItem& item, const DetectOptions& o, const Profile& profile) {
  const DetectionResult& r = item.result;
  const bool flagged = is_flagged(r, o.threshold);
  std::cout << item.name << ": " << (flagged ? "WATERMARKED" : "no watermark found") << " (p = " << format_p(r.log10_p)
            << ", threshold " << o.threshold << ")\n";
  std::cout << "  " << r.tokens << " tokens; " << r.scored << " scored";
  const std::uint64_t skipped = r.skipped_short + r.skipped_duplicate + r.skipped_prompt;
  if (skipped > 0) {
    std::cout << " (" << r.skipped_duplicate << " repeated, " << r.skipped_short << " without a full context";
    if (r.skipped_prompt > 0) std::cout << ", " << r.skipped_prompt << " inside the prompt";
    std::cout << ", not counted)";
  }
  std::cout << "; " << score_phrase(item.json) << ".\n";
  if (r.scored == 0) {
    std::cout << "  Too short to say anything: no token had a full context of " << profile.context_width
              << " previous tokens that was not a repeat.\n";
  } else if (flagged) {
    std::cout << "  Text written without this key scores this high with probability " << format_p(r.log10_p) << " ("
              << odds_phrase(r.log10_p) << ").\n";
  } else {
    std::cout << "  A score like this is unremarkable for text written without this key ("
              << odds_phrase(r.log10_p) << ").\n";
  }
  if (item.scan) explain_scan(*item.scan, item.json["scan"]);
  if (o.no_dedup)
    std::cout << "  WARNING: repeated (context, token) pairs were counted (--no-dedup): this p-value is NOT valid.\n";
}

// --summary: Holm's correction over every text's exact p-value, at the
// threshold.
void print_summary(const DetectOptions &o, const std::vector<double> &lps) {
  if (!o.summary) return;
  const HolmResult h = holm(lps, o.threshold);
  std::uint64_t uncorrected = 0;
  double min_lp = 0.0, min_adj = 0.0;
  for (std::size_t i = 0; i < lps.size(); ++i) {
    if (significant(lps[i], o.threshold)) ++uncorrected;
    min_lp = std::min(min_lp, lps[i]);
    min_adj = std::min(min_adj, h.adjusted_log10_p[i]);
  }
  const bool valid = !o.no_dedup;
  if (o.json) {
    const nlohmann::json j = {{"type", "isotope-detect-summary"},
                              {"texts", lps.size()},
                              {"correction", "holm"},
                              {"threshold", o.threshold},
                              {"flagged", valid ? h.rejected : 0},
                              {"flagged_uncorrected", valid ? uncorrected : 0},
                              {"min_log10_p", min_lp},
                              {"min_adjusted_log10_p", min_adj},
                              {"valid", valid}};
    std::cout << j.dump() << '\n' << std::flush;
    return;
  }
  std::cout << "Summary: " << lps.size() << " texts; " << (valid ? h.rejected : 0)
            << " watermarked at family-wise error rate " << o.threshold << " (Holm's correction; "
            << (valid ? uncorrected : 0) << " before correction); smallest adjusted p = " << format_p(min_adj) << ".\n";
  if (!valid) std::cout << "  WARNING: --no-dedup was given: these p-values are NOT valid.\n";
}

// --scheduler: the JSONL records scored by the workers of a Dask cluster
// (python3 -m isotope.dask detect), each result composed as without it.
void detect_on_cluster(const DetectOptions &o, const DetectSpec &spec, const Profile &profile, const Tokenizer *tok,
                       const std::function<void(DetectItem &&)> &print) {
  if (!o.jsonl) fail_usage("--scheduler scans JSONL corpora: give --jsonl");
  if (!o.report.empty()) fail_usage("--scheduler and --report: write reports on one machine");
  if (o.mask) fail_usage("--scheduler does not give per-token masks (--mask)");
  if (o.scan) fail_usage("--scheduler does not scan windows (--scan): run it on one machine");
  {
    const Scheme *sc = nullptr;
    check(scheme_of(profile, &sc));
    std::unique_ptr<TupleNull> null;
    check(sc->make_tuple_null(profile, &null));
    if (null)
      fail_usage("--scheduler: the null of the " + profile.scheme +
                 " scheme depends on the scored tuples themselves; detect it on one machine");
  }
  if (o.inputs.empty()) fail_usage("--scheduler reads its inputs from files, not standard input");
  for (const std::string &in : o.inputs) {
    if (in == "-") fail_usage("--scheduler reads its inputs from files, not standard input");
    std::uint64_t size = 0;
    (void)open_input_stream(in, &size);  // the input-file policy, before the cluster is asked
  }
  const nlohmann::json request = {{"scheduler", o.scheduler},
                                  {"key", o.key},
                                  {"inputs", o.inputs},
                                  {"tokenizer", tok != nullptr ? tok->path() : std::string()},
                                  {"tokenizer_sha256", tok != nullptr ? tok->sha256_hex() : std::string()},
                                  {"vocab_size", o.vocab_size},
                                  {"id_vocab", o.vocab_size > 0      ? o.vocab_size
                                               : o.tokenizer.empty() ? 0
                                                                     : tok->vocab_size()},
                                  {"profile", profile_options_json(profile)},
                                  {"normalize", o.normalize},
                                  {"dedup", spec.dedup}};
  run_on_cluster("detect", request, [&](const nlohmann::json &j) {
    try {
      DetectionResult d;
      d.tokens = j.at("tokens").get<std::uint64_t>();
      d.skipped_short = j.at("skipped_short").get<std::uint64_t>();
      d.skipped_duplicate = j.at("skipped_duplicate").get<std::uint64_t>();
      d.skipped_prompt = j.at("skipped_prompt").get<std::uint64_t>();
      check(result_from_statistic(profile, j.at("statistic").get<double>(), j.at("scored").get<std::uint64_t>(), &d));
      const std::string name =
          j.at("path").get<std::string>() + ":" + std::to_string(j.at("line").get<std::uint64_t>());
      print(detect_item(spec, profile, tok, name, d, j.at("prompt").get<bool>(), j.at("input_ids").get<bool>()));
    } catch (const nlohmann::json::exception &e) {
      throw Failure{EXIT_CLUSTER, std::string("the cluster helper's answer is incomplete: ") + e.what()};
    }
  });
}

int run_detect(const DetectOptions& o) {
  if (!(o.threshold > 0.0 && o.threshold < 1.0)) fail_usage("--threshold must lie in (0, 1)");
  if (!o.sign.empty() && o.report.empty()) fail_usage("--sign is used with --report");
  if (!o.report.empty() && o.sign.empty()) fail_usage("--report needs --sign SIGNKEY (make one with 'isotope signer new')");
  const Profile profile = o.profile.get();
  const Key key = load_key(o.key);
  if (o.vocab_size > 0 && !o.tokenizer.empty()) fail_usage("--vocab-size is for token ids without --tokenizer");
  if (o.vocab_size > 0 && !o.jsonl) fail_usage("--vocab-size needs --jsonl inputs of token ids");
  if (o.vocab_size > 0 && !o.report.empty()) fail_usage("--report on token ids needs --tokenizer");
  const std::unique_ptr<Tokenizer> tok = o.vocab_size > 0 ? nullptr : load_tokenizer(o.tokenizer);
  std::vector<std::string> paths = o.inputs;
  if (paths.empty()) paths.push_back("-");
  DetectSpec spec;
  spec.threshold = o.threshold;
  spec.dedup = !o.no_dedup;
  spec.jsonl = o.jsonl;
  spec.mask = o.mask;
  spec.scan = o.scan;
  spec.scan_min_length = o.scan_min_length;
  if (o.scan && o.scan_min_length % 2 != 0) fail_usage("--scan-min-length must be even");
  check(parse_normalizers(o.normalize, &spec.normalize), "--normalize");
  if (!(spec.threshold > 0.0 && spec.threshold < 1.0)) fail_usage("--threshold must lie in (0, 1)");
  if (!o.report.empty()) check_output_path(o.report);
  // Id lines are read against --vocab-size, or a tokenizer named on the command
  // line (never the bundled one by default: 0 refuses id lines).
  const std::uint32_t vocab = o.vocab_size > 0 ? o.vocab_size : o.tokenizer.empty() ? 0 : tok->vocab_size();

  // Each result is printed as soon as it is computed: memory stays bounded
  // however many texts or JSONL lines there are.
  std::vector<double> all_log10_p;  // --summary
  const auto print = [&](DetectItem &&item) {
    if (o.summary) all_log10_p.push_back(item.result.log10_p);
    if (o.json)
      std::cout << item.json.dump() << '\n' << std::flush;
    else
      explain(item, o, profile);
  };
  if (!o.scheduler.empty()) {
    detect_on_cluster(o, spec, profile, tok.get(), print);
    print_summary(o, all_log10_p);
    return EXIT_OK;
  }
  std::vector<NamedText> texts;  // kept only for --report
  for (const std::string& in : paths) {
    const std::string name = in == "-" ? "<stdin>" : in;
    if (o.jsonl && o.report.empty()) {
      std::uint64_t size = 0;
      const std::unique_ptr<std::istream> stream = open_input_stream(in, &size);
      Progress progress(false, "bytes of '" + name + "' scored", size);
      detect_stream_jsonl(spec, profile, key, tok.get(), vocab, *stream, name, print,
                          [&](std::uint64_t done) { progress.update(done); });
      continue;
    }
    NamedText t{name, read_text(in)};
    for (DetectItem& item : detect_compute(spec, profile, key, tok.get(), vocab, {t})) print(std::move(item));
    if (!o.report.empty()) texts.push_back(std::move(t));
  }

  print_summary(o, all_log10_p);
  if (!o.report.empty()) {
    DetectSpec rspec = spec;
    rspec.mask = false;
    rspec.evidence = true;
    rspec.controls = o.controls;
    ReportContent rc;
    rc.command = "detect";
    rc.profile = profile_json(profile);
    rc.commitment_hex = key.commitment_hex();
    for (const NamedText& t : texts) rc.inputs.push_back(input_of_data("text", t.name, t.data));
    rc.inputs.push_back(input_of_file("tokenizer", tok->path()));
    if (o.tokenizer.empty()) rc.inputs.back().name = BUNDLED_TOKENIZER_NAME;  // not this machine's path
    rc.options = rspec.to_json();
    rc.key_path = o.key;  // its timestamp (KEYFILE.tsr), if any, goes in the report
    rc.result = detect_report_result(detect_compute(rspec, profile, key, tok.get(), vocab, texts));
    const std::string signer = write_signed_report(o.report, o.sign, rc);
    std::cerr << "isotope: wrote signed report '" << o.report << "' (signer " << signer << ")\n";
  }
  return EXIT_OK;
}
}  // namespace

void register_detect(CLI::App& root, Runner* run) {
  auto o = std::make_shared<DetectOptions>();
  auto* sub = root.add_subcommand("detect", "Score text for the watermark of a key, with an exact p-value");
  sub->add_option("-k,--key", o->key, "Watermark key file")->required();
  sub->add_option("FILE", o->inputs, "Text files to score, each on its own ('-' or none: standard input)");
  sub->add_option("--tokenizer", o->tokenizer,
                  "The provider's tokenizer: a sentencepiece .model or a Hugging Face tokenizer.json "
                  "(default: the bundled one)");
  sub->add_option("--vocab-size", o->vocab_size,
                  "Score token-id records without a tokenizer: every id must be below this")
      ->check(CLI::Range(1u, 0x7FFFFFFFu));
  sub->add_flag("--json", o->json, "One JSON object per result, one per line");
  sub->add_flag("--jsonl", o->jsonl,
                "Inputs are JSONL: each line {\"text\": ...} or {\"prompt\": ..., \"response\": ...} "
                "(the prompt's windows are excluded), or token ids {\"ids\": [...]} or "
                "{\"prompt_ids\": [...], \"response_ids\": [...]}, gives one result");
  sub->add_option("--normalize", o->normalize,
                  "Normalize texts before tokenization: a list of nfkc, spaces, format, confusables, or all "
                  "(docs/cli.md)");
  sub->add_flag("--scan", o->scan,
                "Also look for a watermarked span inside a longer text (windowed detection): adds \"scan\" with a "
                "p-value corrected for every window tried and the span's token offsets (docs/statistics.md)");
  sub->add_option("--scan-min-length", o->scan_min_length,
                  "The scan's shortest window, in tokens (even; windows double in length up to the whole text)")
      ->capture_default_str()
      ->check(CLI::Range(2u, 1u << 30))
      ->needs("--scan");
  sub->add_option("--threshold", o->threshold, "Flag a text as watermarked when p <= this")->capture_default_str();
  sub->add_flag("--mask", o->mask, "With --json: add the per-token mask (1 green, 0 not green, -1 not scored)")
      ->needs("--json");
  sub->add_flag("--no-dedup", o->no_dedup,
                "Count repeated (context, token) pairs: for demonstrating why dedup exists; the p-value is then not valid");
  sub->add_option("--report", o->report,
                  "Also write a signed, reproducible evidence report (canonical JSON) to this file");
  sub->add_option("--sign", o->sign, "Signing key for --report (see 'isotope signer new')");
  sub->add_option("--controls", o->controls, "Random-key controls in the report (0-1000)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  sub->add_flag("--summary", o->summary,
                "After the results, a summary over all texts: how many are "
                "watermarked at the threshold taken as a "
                "family-wise error rate (Holm's correction)");
  sub->add_option("--scheduler", o->scheduler,
                  "Score the JSONL records on the Dask cluster of this "
                  "scheduler (e.g. tcp://10.0.0.5:8786): the same "
                  "results, in the same order (docs/scale.md)");
  o->profile.add_to(sub);
  sub->callback([o, run] { *run = [o] { return run_detect(*o); }; });
}

}  // namespace isotope::cli
