#include "detect.hpp"

#include <istream>
#include <sstream>

#include "evidence.hpp"
#include "evidence/result_json.hpp"
#include "ids.hpp"
#include "isotope/io.hpp"
#include "isotope/recipes.hpp"

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

namespace {
// The fields that describe the input, beside the library's result.
void add_input_fields(const DetectSpec& spec, const Tokenizer* tok, const std::string& name, bool ids_given,
                      nlohmann::json* j) {
  (*j)["tokenizer_sha256"] = tok != nullptr ? nlohmann::json(tok->sha256_hex()) : nlohmann::json(nullptr);
  if (ids_given) (*j)["input_ids"] = true;
  (*j)["input"] = name;
  if (spec.normalize.any()) (*j)["normalize"] = spec.normalize.names();
}
}  // namespace

DetectItem detect_item(const DetectSpec& spec, const Profile& profile, const Tokenizer* tok, const std::string& name,
                       const DetectionResult& result, bool prompt_exclusion, bool ids_given) {
  DetectItem item;
  item.name = name;
  item.result = result;
  item.prompt_exclusion = prompt_exclusion;
  item.json = detail::detection_json(result, profile, spec.threshold, spec.dedup, prompt_exclusion);
  add_input_fields(spec, tok, name, ids_given, &item.json);
  return item;
}

namespace {

// Scores one id sequence; `tok` is null when ids came without a tokenizer.
// An empty sequence is a result (nothing scored, p = 1), as whitespace is.
DetectItem score_tokens(const DetectSpec& spec, const Profile& profile, const Key& key, const Tokenizer* tok,
                        const std::string& name, const std::vector<std::uint32_t>& ids,
                        const std::vector<std::uint32_t>* prompt_ids, bool ids_given) {
  if (spec.evidence && tok == nullptr) fail_usage("an evidence report on token ids needs the tokenizer (--tokenizer)");
  DetectRecipe recipe{.threshold = spec.threshold,
                      .rules = {.dedup = spec.dedup},
                      .mask = spec.mask,
                      .scan_min_length = spec.scan ? std::optional<std::uint32_t>(spec.scan_min_length) : std::nullopt,
                      .evidence = spec.evidence,
                      .controls = spec.controls,
                      .curve_points = spec.curve_points,
                      .sample_tokens = spec.sample_tokens};
  DetectOutcome outcome;
  check(detect_run(key, profile, ids, prompt_ids, recipe, &outcome), name);
  DetectItem item;
  item.name = name;
  item.result = outcome.result;
  item.prompt_exclusion = outcome.prompt_exclusion;
  item.scan = outcome.scan;
  check(detail::detect_result_json(outcome, profile, recipe, tok, ids, &item.json), name);
  add_input_fields(spec, tok, name, ids_given, &item.json);
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
