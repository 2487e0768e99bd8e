#include "detect.hpp"

#include <cmath>
#include <istream>
#include <sstream>

#include "evidence.hpp"
#include "ids.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"

namespace isotope::cli {

nlohmann::json DetectSpec::to_json() const {
  nlohmann::json j = {{"threshold", threshold}, {"dedup", dedup},          {"jsonl", jsonl},
                      {"controls", controls},   {"curve_points", curve_points}, {"sample_tokens", sample_tokens}};
  // Recorded only when used: options recorded before normalizers existed read as none.
  if (normalize.any()) j["normalize"] = normalize.names();
  if (scan) j["scan"] = {{"min_length", scan_min_length}};
  return j;
}

DetectSpec DetectSpec::from_json(const nlohmann::json& j) {
  DetectSpec s;
  try {
    s.threshold = j.at("threshold").get<double>();
    s.dedup = j.at("dedup").get<bool>();
    s.jsonl = j.at("jsonl").get<bool>();
    s.controls = j.at("controls").get<std::uint32_t>();
    s.curve_points = j.at("curve_points").get<std::uint32_t>();
    s.sample_tokens = j.at("sample_tokens").get<std::uint32_t>();
    if (auto it = j.find("normalize"); it != j.end()) {
      std::string list;
      for (const auto& name : it->get<std::vector<std::string>>()) {
        if (!list.empty()) list += ',';
        list += name;
      }
      if (!parse_normalizers(list, &s.normalize).ok() || list.empty())
        throw Failure{EXIT_REPORT_MALFORMED, "the report's options name an unknown normalizer"};
    }
    if (auto it = j.find("scan"); it != j.end()) {
      s.scan = true;
      s.scan_min_length = it->at("min_length").get<std::uint32_t>();
      if (s.scan_min_length < 2 || s.scan_min_length % 2 != 0)
        throw Failure{EXIT_REPORT_MALFORMED, "the report's scan options are out of range"};
    }
  } catch (const nlohmann::json::exception&) {
    throw Failure{EXIT_REPORT_MALFORMED,
                  "the report's \"options\" must hold threshold, dedup, jsonl, controls, curve_points and "
                  "sample_tokens"};
  }
  if (s.controls > 1000 || s.curve_points > 10000 || s.sample_tokens > 10000)
    throw Failure{EXIT_REPORT_MALFORMED, "the report's options are out of range"};
  s.evidence = true;
  return s;
}

DetectItem detect_item(const DetectSpec& spec, const Profile& profile, const Tokenizer* tok, const std::string& name,
                       const DetectionResult& result, bool prompt_exclusion, bool ids_given) {
  DetectItem item;
  item.name = name;
  item.result = result;
  item.prompt_exclusion = prompt_exclusion;
  item.json = detection_json(result, profile, tok != nullptr ? tok->sha256_hex() : std::string(), spec.threshold,
                             {.dedup = spec.dedup}, item.prompt_exclusion);
  if (tok == nullptr) item.json["tokenizer_sha256"] = nullptr;
  if (ids_given) item.json["input_ids"] = true;
  item.json["input"] = name;
  if (spec.normalize.any()) item.json["normalize"] = spec.normalize.names();
  return item;
}

namespace {

struct Scored {
  DetectionResult result;
  TokenScores mask;
};

Scored score_ids(const Key& key, const Profile& profile, const DetectSpec& spec, const std::vector<std::uint32_t>& ids,
                 const WindowSet* prompt_windows, const std::string& where) {
  std::unique_ptr<Scorer> s;
  check(Scorer::create(key, profile, &s, {.dedup = spec.dedup}));
  Scored out;
  check(s->add(ids, prompt_windows, nullptr, &out.mask), where);
  out.result = s->result();
  return out;
}

// The "scan" member: the corrected p-value, the best window and its own
// result; with a tokenizer, the window's text.
nlohmann::json scan_json(const ScanResult& sr, const Profile& profile, double threshold, const Tokenizer* tok,
                         const std::vector<std::uint32_t>& ids, const std::string& where) {
  const DetectionResult& w = sr.window;
  nlohmann::json j = {{"log10_p", sr.log10_p},
                      {"p_value", sr.p_value},
                      {"watermarked", w.scored > 0 && significant(sr.log10_p, threshold)},
                      {"start", sr.start},
                      {"end", sr.end},
                      {"windows", sr.windows},
                      {"min_length", sr.min_length},
                      {"correction", "bonferroni"},
                      {"window",
                       {{"tokens", w.tokens},
                        {"scored", w.scored},
                        {"statistic", w.statistic},
                        {"trials", w.trials},
                        {"log10_p", w.log10_p},
                        {"skipped",
                         {{"short_context", w.skipped_short},
                          {"duplicate", w.skipped_duplicate},
                          {"prompt", w.skipped_prompt}}}}}};
  if (profile.scheme == SCHEME_KGW) j["window"]["green"] = w.green;
  if (tok != nullptr && sr.end > sr.start) {
    std::string text;
    check(tok->decode(std::span<const std::uint32_t>(ids.data() + sr.start, sr.end - sr.start), &text), where);
    // A window may begin inside a character of byte-level pieces: keep valid UTF-8 only.
    if (is_valid_utf8(text)) j["text"] = text;
  }
  return j;
}

// Scores one id sequence; `tok` is null when ids came without a tokenizer.
// An empty sequence is a result (nothing scored, p = 1), as whitespace is.
DetectItem score_tokens(const DetectSpec& spec, const Profile& profile, const Key& key, const Tokenizer* tok,
                        const std::string& name, const std::vector<std::uint32_t>& ids,
                        const std::vector<std::uint32_t>* prompt_ids, bool ids_given) {
  WindowSet prompt_windows(profile.context_width);
  if (prompt_ids != nullptr) prompt_windows.add_windows_of(*prompt_ids);
  const WindowSet* excl = prompt_ids != nullptr ? &prompt_windows : nullptr;
  Scored real = score_ids(key, profile, spec, ids, excl, name);
  DetectItem item = detect_item(spec, profile, tok, name, real.result, prompt_ids != nullptr, ids_given);
  if (spec.mask && !spec.evidence) item.json["mask"] = mask_json(real.mask);
  if (spec.scan) {
    ScanResult sr;
    check(scan_ids(key, profile, ids, excl, {.min_length = spec.scan_min_length, .rules = {.dedup = spec.dedup}}, &sr),
          name);
    item.scan = sr;
    item.json["scan"] = scan_json(sr, profile, spec.threshold, tok, ids, name);
  }
  if (!spec.evidence) return item;
  if (tok == nullptr) fail_usage("an evidence report on token ids needs the tokenizer (--tokenizer)");

  const Curve curve = score_curve(real.mask, profile, spec.curve_points);
  nlohmann::json controls_final = nlohmann::json::array(), controls_curves = nlohmann::json::array();
  const auto commitment = key.commitment();
  const std::size_t engine_ints = key.engine_ints().size();
  for (std::uint32_t i = 0; i < spec.controls; ++i) {
    Key ck;
    check(control_key(commitment, i, &ck, engine_ints));
    Scored c = score_ids(ck, profile, spec, ids, excl, name);
    controls_final.push_back(c.result.log10_p);
    controls_curves.push_back(score_curve(c.mask, profile, spec.curve_points).log10_p);
  }
  item.json["curve"] = {{"scored", curve.scored}, {"log10_p", curve.log10_p}, {"controls_log10_p", controls_curves}};
  item.json["controls"] = {{"count", spec.controls}, {"log10_p", controls_final}};
  item.json["sample"] = sample_json(*tok, ids, real.mask, profile, spec.sample_tokens, name);
  return item;
}

DetectItem score_text(const DetectSpec& spec, const Profile& profile, const Key& key, const Tokenizer* tok,
                      const std::string& name, const std::string& raw_text, const std::string* raw_prompt) {
  if (tok == nullptr) fail_usage(name + ": text needs a tokenizer (--tokenizer); --vocab-size is for token ids");
  // The normalizers, before tokenization.
  std::string text = raw_text, prompt_store;
  const std::string* prompt = raw_prompt;
  if (spec.normalize.any()) {
    check(normalize_text(raw_text, spec.normalize, &text), name);
    if (raw_prompt != nullptr) {
      check(normalize_text(*raw_prompt, spec.normalize, &prompt_store), name);
      prompt = &prompt_store;
    }
  }
  std::vector<std::uint32_t> ids, pids;
  check(tok->encode(text, &ids), name);
  if (prompt != nullptr) check(tok->encode(*prompt, &pids), name);
  return score_tokens(spec, profile, key, tok, name, ids, prompt != nullptr ? &pids : nullptr, false);
}

}  // namespace

void detect_jsonl_record(const DetectSpec& spec, const Profile& profile, const Key& key, const Tokenizer* tok,
                         std::uint32_t vocab_size, const nlohmann::json& j, const std::string& file,
                         std::size_t lineno, const std::function<void(DetectItem&&)>& emit) {
  IdRecord rec;
  if (read_id_record(j, file + ":" + std::to_string(lineno), vocab_size, &rec)) {
    emit(score_tokens(spec, profile, key, tok, file + ":" + std::to_string(lineno), rec.ids,
                      rec.prompt_ids ? &*rec.prompt_ids : nullptr, true));
    return;
  }
  const nlohmann::json* text = string_field(j, "response", file, lineno);
  const nlohmann::json* prompt = string_field(j, "prompt", file, lineno);
  if (text == nullptr) {
    text = string_field(j, "text", file, lineno);
    prompt = nullptr;
  }
  if (text == nullptr) fail_input(file + ":" + std::to_string(lineno) + ": no \"text\" or \"response\" field");
  const std::string where = file + ":" + std::to_string(lineno);
  const std::string prompt_text = prompt != nullptr ? prompt->get<std::string>() : std::string();
  emit(score_text(spec, profile, key, tok, where, text->get<std::string>(), prompt != nullptr ? &prompt_text : nullptr));
}

void detect_stream_jsonl(const DetectSpec& spec, const Profile& profile, const Key& key, const Tokenizer* tok,
                         std::uint32_t vocab_size, std::istream& in, const std::string& name, const std::function<void(DetectItem&&)>& emit,
                         const std::function<void(std::uint64_t)>& bytes_read) {
  if (!(spec.threshold > 0.0 && spec.threshold < 1.0)) fail_usage("--threshold must lie in (0, 1)");
  std::string line;
  std::size_t lineno = 0, records = 0;
  std::uint64_t consumed = 0;
  while (std::getline(in, line)) {
    ++lineno;
    consumed += line.size() + 1;
    check_text(line, name, lineno);
    if (!is_blank(line)) {
      detect_jsonl_record(spec, profile, key, tok, vocab_size, parse_jsonl_line(line, name, lineno), name, lineno, emit);
      ++records;
    }
    if (bytes_read) bytes_read(consumed);
  }
  if (in.bad()) fail(Status(Code::io, "error reading '" + name + "'"));
  if (records == 0) fail_input("'" + name + "' holds no JSON lines");
}

std::vector<DetectItem> detect_compute(const DetectSpec& spec, const Profile& profile, const Key& key,
                                       const Tokenizer& tok, const std::vector<NamedText>& inputs) {
  return detect_compute(spec, profile, key, &tok, tok.vocab_size(), inputs);
}

std::vector<DetectItem> detect_compute(const DetectSpec& spec, const Profile& profile, const Key& key,
                                       const Tokenizer* tok, std::uint32_t vocab_size,
                                       const std::vector<NamedText>& inputs) {
  if (!(spec.threshold > 0.0 && spec.threshold < 1.0)) fail_usage("--threshold must lie in (0, 1)");
  std::vector<DetectItem> items;
  const auto emit = [&](DetectItem&& item) { items.push_back(std::move(item)); };
  for (const NamedText& in : inputs) {
    if (!is_valid_utf8(in.data)) fail_input("'" + in.name + "' is not valid UTF-8 text");
    check_text(in.data, in.name);
    if (!spec.jsonl) {
      items.push_back(score_text(spec, profile, key, tok, in.name, in.data, nullptr));
      continue;
    }
    std::size_t records = 0;
    for_each_jsonl(in.data, in.name, [&](const nlohmann::json& j, std::size_t lineno) {
      detect_jsonl_record(spec, profile, key, tok, vocab_size, j, in.name, lineno, emit);
      ++records;
    });
    if (records == 0) fail_input("'" + in.name + "' holds no JSON lines");
  }
  return items;
}

nlohmann::json detect_report_result(const std::vector<DetectItem>& items) {
  nlohmann::json texts = nlohmann::json::array();
  for (const DetectItem& it : items) texts.push_back(it.json);
  return {{"texts", texts}};
}

}  // namespace isotope::cli
