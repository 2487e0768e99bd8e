// isotope detect: is this text watermarked under this key?
#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"

namespace isotope::cli {

namespace {
struct DetectOptions {
  std::string key, tokenizer;
  std::vector<std::string> inputs;
  bool json = false, jsonl = false, mask = false, no_dedup = false;
  double threshold = 1e-4;
  ProfileOptions profile;
};

struct Context {
  const DetectOptions& o;
  Profile profile;
  Key key;
  std::unique_ptr<Tokenizer> tok;
};

void explain(const std::string& name, const DetectionResult& r, const Context& c) {
  const bool flagged = is_flagged(r, c.o.threshold);
  std::cout << name << ": " << (flagged ? "WATERMARKED" : "no watermark found") << " (p = " << format_p(r.log10_p)
            << ", threshold " << c.o.threshold << ")\n";
  std::cout << "  " << r.tokens << " tokens; " << r.scored << " scored";
  const std::uint64_t skipped = r.skipped_short + r.skipped_duplicate + r.skipped_prompt;
  if (skipped > 0) {
    std::cout << " (" << r.skipped_duplicate << " repeated, " << r.skipped_short << " without a full context";
    if (r.skipped_prompt > 0) std::cout << ", " << r.skipped_prompt << " inside the prompt";
    std::cout << ", not counted)";
  }
  char pct[64];
  std::snprintf(pct, sizeof pct, "%.1f%% vs %.1f%%", 100.0 * r.green_fraction, 100.0 * r.gamma);
  std::cout << "; " << r.green << " green (" << pct << " expected by chance).\n";
  if (r.scored == 0) {
    std::cout << "  Too short to say anything: no token had a full context of " << c.profile.context_width
              << " previous tokens that was not a repeat.\n";
  } else if (flagged) {
    std::cout << "  Text written without this key scores this high with probability " << format_p(r.log10_p) << " ("
              << odds_phrase(r.log10_p) << ").\n";
  } else {
    std::cout << "  A score like this is unremarkable for text written without this key ("
              << odds_phrase(r.log10_p) << ").\n";
  }
  if (c.o.no_dedup)
    std::cout << "  WARNING: repeated (context, token) pairs were counted (--no-dedup): this p-value is NOT valid.\n";
}

void report(const std::string& name, const DetectionResult& r, const TokenMask* mask, bool prompt_exclusion,
            const Context& c, std::ostream& json_out) {
  if (!c.o.json) {
    explain(name, r, c);
    return;
  }
  nlohmann::json j = detection_json(r, c.profile, c.tok->sha256_hex(), c.o.threshold, {.dedup = !c.o.no_dedup},
                                    prompt_exclusion);
  j["input"] = name;
  if (mask != nullptr) j["mask"] = *mask;
  json_out << j.dump() << '\n';
}

DetectionResult score(const Context& c, const std::string& text, const std::string* prompt, TokenMask* mask,
                      const std::string& where) {
  std::vector<std::uint32_t> ids;
  check(c.tok->encode(text, &ids), where);
  if (ids.empty()) fail(Status(Code::empty_input, "no text to score"), where);
  std::unique_ptr<Scorer> s;
  check(Scorer::create(c.key, c.profile, &s, {.dedup = !c.o.no_dedup}));
  WindowSet prompt_windows(c.profile.context_width);
  if (prompt != nullptr) {
    std::vector<std::uint32_t> pids;
    check(c.tok->encode(*prompt, &pids), where);
    prompt_windows.add_windows_of(pids);
  }
  check(s->add(ids, prompt != nullptr ? &prompt_windows : nullptr, nullptr, mask), where);
  return s->result();
}

int run_detect(const DetectOptions& o) {
  if (!(o.threshold > 0.0 && o.threshold < 1.0)) fail_usage("--threshold must lie in (0, 1)");
  Context c{o, o.profile.get(), load_key(o.key), load_tokenizer(o.tokenizer)};
  std::vector<std::string> inputs = o.inputs;
  if (inputs.empty()) inputs.push_back("-");
  std::ostringstream json_out;
  for (const std::string& in : inputs) {
    const std::string data = read_text(in);
    const std::string name = in == "-" ? "<stdin>" : in;
    if (!o.jsonl) {
      TokenMask mask;
      const DetectionResult r = score(c, data, nullptr, o.mask ? &mask : nullptr, name);
      report(name, r, o.mask ? &mask : nullptr, false, c, json_out);
      continue;
    }
    std::istringstream lines(data);
    std::string line;
    std::size_t lineno = 0, records = 0;
    while (std::getline(lines, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const nlohmann::json j = parse_jsonl_line(line, name, lineno);
      const nlohmann::json* text = string_field(j, "response", name, lineno);
      const nlohmann::json* prompt = string_field(j, "prompt", name, lineno);
      if (text == nullptr) {
        text = string_field(j, "text", name, lineno);
        prompt = nullptr;
      }
      if (text == nullptr) fail_input(name + ":" + std::to_string(lineno) + ": no \"text\" or \"response\" field");
      const std::string where = name + ":" + std::to_string(lineno);
      TokenMask mask;
      const std::string prompt_text = prompt != nullptr ? prompt->get<std::string>() : std::string();
      const DetectionResult r =
          score(c, text->get<std::string>(), prompt != nullptr ? &prompt_text : nullptr, o.mask ? &mask : nullptr, where);
      report(where, r, o.mask ? &mask : nullptr, prompt != nullptr, c, json_out);
      ++records;
    }
    if (records == 0) fail_input("'" + name + "' holds no JSON lines");
  }
  std::cout << json_out.str() << std::flush;
  return EXIT_OK;
}
}  // namespace

void register_detect(CLI::App& root, Runner* run) {
  auto o = std::make_shared<DetectOptions>();
  auto* sub = root.add_subcommand("detect", "Score text for the watermark of a key, with an exact p-value");
  sub->add_option("-k,--key", o->key, "Watermark key file")->required();
  sub->add_option("FILE", o->inputs, "Text files to score, each on its own ('-' or none: standard input)");
  sub->add_option("--tokenizer", o->tokenizer, "The provider's sentencepiece model (default: the bundled one)");
  sub->add_flag("--json", o->json, "One JSON object per result, one per line");
  sub->add_flag("--jsonl", o->jsonl,
                "Inputs are JSONL: each line {\"text\": ...} or {\"prompt\": ..., \"response\": ...} "
                "(the prompt's windows are excluded) gives one result");
  sub->add_option("--threshold", o->threshold, "Flag a text as watermarked when p <= this")->capture_default_str();
  sub->add_flag("--mask", o->mask, "With --json: add the per-token mask (1 green, 0 not green, -1 not scored)");
  sub->add_flag("--no-dedup", o->no_dedup,
                "Count repeated (context, token) pairs: for demonstrating why dedup exists; the p-value is then not valid");
  o->profile.add_to(sub);
  sub->callback([o, run] { *run = [o] { return run_detect(*o); }; });
}

}  // namespace isotope::cli
