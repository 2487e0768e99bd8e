#include "common.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include "isotope/io.hpp"
#include "isotope/scheme.hpp"

namespace isotope::cli {

int exit_code_for(Code c) noexcept {
  switch (c) {
    case Code::ok: return EXIT_OK;
    case Code::invalid_argument: return EXIT_USAGE;
    case Code::io: return EXIT_IO;
    case Code::key_permissions:
    case Code::key_format: return EXIT_KEY;
    case Code::invalid_utf8:
    case Code::empty_input:
    case Code::parse: return EXIT_INPUT;
    case Code::corrupt:
    case Code::tokenizer:
    case Code::vocab_mismatch: return EXIT_MODEL;
    case Code::profile_mismatch: return EXIT_PROFILE;
    case Code::crypto:
    case Code::out_of_memory:
    case Code::internal: return EXIT_FAILURE_INTERNAL;
  }
  return EXIT_FAILURE_INTERNAL;
}

void fail(const Status& st, const std::string& context) {
  throw Failure{exit_code_for(st.code()), context.empty() ? st.message() : context + ": " + st.message()};
}
void check(const Status& st, const std::string& context) {
  if (!st.ok()) fail(st, context);
}
void fail_usage(const std::string& message) { throw Failure{EXIT_USAGE, message}; }
void fail_input(const std::string& message) { throw Failure{EXIT_INPUT, message}; }

void note(bool quiet, const std::string& message) {
  if (!quiet) std::cerr << "isotope: " << message << '\n';
}

// A parameter's JSON value: whole-number parameters as integers.
nlohmann::json param_json(const Profile& p, const std::string& name, double v) {
  if (const Scheme* sc = find_scheme(p.scheme); sc != nullptr)
    for (const ParamSpec& ps : sc->params())
      if (name == ps.name && ps.integer && v == std::floor(v) && std::fabs(v) < 9e15)
        return static_cast<std::int64_t>(v);
  return v;
}

void ProfileOptions::add_to(CLI::App* app) {
  std::string names;
  for (const Scheme* sc : schemes()) names += (names.empty() ? "" : "|") + std::string(sc->name());
  app->add_option("--scheme", scheme, "Watermark scheme: " + names + " (docs/spec.md)")->capture_default_str();
  width_option = app->add_option("--context-width,-H", context_width,
                                 "Number of previous tokens that seed the watermark (h, 0-8)")
                     ->capture_default_str();
  for (const Scheme* sc : schemes()) {
    for (const ParamSpec& ps : sc->params()) {
      const std::string opt = "--" + std::string(ps.name);
      std::string flag = opt;
      for (char& ch : flag)
        if (ch == '_') ch = '-';
      if (options.contains(ps.name)) continue;  // shared by several schemes
      auto* o = app->add_option_function<double>(
          flag, [this, n = std::string(ps.name)](double v) { values[n] = v; },
          std::string(ps.help) + " (" + std::string(sc->name()) + ", default " + shortest_double(ps.def) + ")");
      options[ps.name] = o;
    }
  }
}

Profile ProfileOptions::get() const {
  Profile p;
  check(Profile::of(scheme, &p), "invalid watermark profile");
  p.context_width = context_width;
  for (const auto& [name, v] : values) {
    if (std::isnan(p.param(name)))
      fail_usage("--" + name + " is not a parameter of the " + scheme + " scheme");
    p.params[name] = v;
  }
  check(p.validate(), "invalid watermark profile");
  return p;
}

nlohmann::json profile_options_json(const Profile& p) {
  nlohmann::json j = {{"context_width", p.context_width}};
  for (const auto& [k, v] : p.params) j[k] = param_json(p, k, v);
  if (p.scheme != SCHEME_KGW) j["scheme"] = p.scheme;
  return j;
}

Profile profile_from_options_json(const nlohmann::json& j) {
  if (!j.is_object()) fail_input("the recorded profile is not a JSON object");
  Profile p;
  try {
    check(Profile::of(j.value("scheme", std::string(SCHEME_KGW)), &p), "recorded profile");
    p.context_width = j.value("context_width", p.context_width);
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "scheme" || it.key() == "context_width") continue;
      if (std::isnan(p.param(it.key()))) fail_input("recorded profile: unknown parameter '" + it.key() + "'");
      p.params[it.key()] = it.value().get<double>();
    }
  } catch (const nlohmann::json::exception& e) {
    fail_input(std::string("recorded profile: ") + e.what());
  }
  check(p.validate(), "recorded profile");
  return p;
}

Profile profile_from_report_json(const nlohmann::json& j) {
  Profile p;
  try {
    check(Profile::of(j.at("scheme").get<std::string>(), &p), "the report's profile");
    p.version = j.at("version").get<std::uint32_t>();
    p.prf = j.at("prf").get<std::string>();
    p.context_width = j.at("context_width").get<std::uint32_t>();
    for (auto& [k, v] : p.params) v = j.at(k).get<double>();
  } catch (const nlohmann::json::exception&) {
    throw Failure{EXIT_INPUT, "the report's \"profile\" is incomplete"};
  }
  return p;
}

Key load_key(const std::string& path) {
  Key key;
  check(key_read_file(path, &key), "cannot use key file");
  return key;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path_or_empty) {
  const std::string path = path_or_empty.empty() ? default_tokenizer_path() : path_or_empty;
  std::unique_ptr<Tokenizer> tok;
  check(Tokenizer::load(path, &tok),
        path_or_empty.empty() ? "cannot load the bundled tokenizer (set ISOTOPE_DATA_DIR to the folder holding "
                                "isotope-8k.model, or give --tokenizer)"
                              : "cannot load tokenizer");
  return tok;
}

std::unique_ptr<NgramModel> load_model(const std::string& path_or_empty, const Tokenizer& tok) {
  const std::string path = path_or_empty.empty() ? default_model_path() : path_or_empty;
  std::unique_ptr<NgramModel> model;
  check(NgramModel::load(path, &model),
        path_or_empty.empty() ? "cannot load the bundled model (set ISOTOPE_DATA_DIR to the folder holding "
                                "isotope-default.lm, or give --model)"
                              : "cannot load model");
  if (model->vocab_size() != tok.vocab_size() ||
      (!model->tokenizer_sha256().empty() && model->tokenizer_sha256() != tok.sha256_hex()))
    throw Failure{EXIT_PROFILE, "model '" + path + "' was trained with another tokenizer (sha256 " +
                                    model->tokenizer_sha256().substr(0, 16) + "..., vocabulary " +
                                    std::to_string(model->vocab_size()) + ") than '" + tok.path() + "' (sha256 " +
                                    tok.sha256_hex().substr(0, 16) + "..., vocabulary " +
                                    std::to_string(tok.vocab_size()) + ")"};
  return model;
}

std::string read_text(const std::string& path) {
  std::string data;
  if (path == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    check(read_file(path, &data));
  }
  if (!is_valid_utf8(data)) fail_input("'" + path + "' is not valid UTF-8 text");
  return data;
}

void write_output(const std::string& path, const std::string& data) {
  if (path.empty() || path == "-") {
    std::cout << data << std::flush;
    return;
  }
  check(write_file_atomic(path, data, 0644));
}

nlohmann::json parse_jsonl_line(const std::string& line, const std::string& file, std::size_t lineno) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    fail_input(file + ":" + std::to_string(lineno) + ": not a JSON object");
  return j;
}

bool is_blank(const std::string& line) noexcept { return line.find_first_not_of(" \t\r") == std::string::npos; }

void for_each_jsonl(const std::string& data, const std::string& file,
                    const std::function<void(const nlohmann::json&, std::size_t)>& fn) {
  std::istringstream in(data);
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!is_blank(line)) fn(parse_jsonl_line(line, file, lineno), lineno);
  }
}

const nlohmann::json* string_field(const nlohmann::json& obj, const char* name, const std::string& file,
                                   std::size_t lineno) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  if (!it->is_string())
    fail_input(file + ":" + std::to_string(lineno) + ": field \"" + name + "\" is not a string");
  if (!is_valid_utf8(it->get_ref<const std::string&>()))
    fail_input(file + ":" + std::to_string(lineno) + ": field \"" + name + "\" is not valid UTF-8");
  return &*it;
}

nlohmann::json profile_json(const Profile& p) {
  nlohmann::json j = {{"scheme", p.scheme},   {"version", p.version}, {"context_width", p.context_width},
                      {"prf", p.prf},         {"name", p.name()}};
  for (const auto& [k, v] : p.params) j[k] = param_json(p, k, v);
  return j;
}

std::string score_phrase(const nlohmann::json& j) {
  char buf[256];
  if (j["profile"]["scheme"] == SCHEME_KGW) {
    std::snprintf(buf, sizeof buf, "%llu green (%.1f%% against %.1f%% expected by chance)",
                  static_cast<unsigned long long>(j["green"].get<std::uint64_t>()),
                  100.0 * j["green_fraction"].get<double>(), 100.0 * j["gamma_effective"].get<double>());
  } else {
    std::snprintf(buf, sizeof buf, "mean score %.4g over %llu trials (%.4g expected by chance)",
                  j["mean_score"].get<double>(), static_cast<unsigned long long>(j["trials"].get<std::uint64_t>()),
                  j["null_mean"].get<double>());
  }
  return buf;
}

std::string scheme_null_phrase(const nlohmann::json& j) {
  const std::string scheme = j["profile"]["scheme"].get<std::string>();
  const Scheme* sc = find_scheme(scheme);
  if (sc == nullptr) return scheme;
  return std::string(sc->title()) + ": " + std::string(sc->explanation());
}

bool is_flagged(const DetectionResult& r, double threshold) { return is_watermarked(r, threshold); }

nlohmann::json detection_json(const DetectionResult& r, const Profile& p, const std::string& tokenizer_sha256,
                              double threshold, const ScoreRules& rules, bool prompt_exclusion) {
  const Scheme* sc = find_scheme(p.scheme);
  const bool integer_statistic = sc != nullptr && sc->integer_scores();
  nlohmann::json j = {{"tokens", r.tokens},
                      {"scored", r.scored},
                      {"scheme", r.scheme},
                      {"statistic", integer_statistic ? nlohmann::json(static_cast<std::int64_t>(r.statistic))
                                                      : nlohmann::json(r.statistic)},
                      {"trials", r.trials},
                      {"mean_score", r.mean_score},
                      {"null_mean", r.null_mean},
                      {"z", r.z},
                      {"log10_p", r.log10_p},
                      {"p_value", r.p_value},
                      {"threshold", threshold},
                      {"watermarked", is_flagged(r, threshold)},
                      {"skipped",
                       {{"short_context", r.skipped_short},
                        {"duplicate", r.skipped_duplicate},
                        {"prompt", r.skipped_prompt},
                        {"filter", r.skipped_filter}}},
                      {"rules", {{"dedup", rules.dedup}, {"prompt_exclusion", prompt_exclusion}}},
                      {"profile", profile_json(p)},
                      {"tokenizer_sha256", tokenizer_sha256}};
  if (p.scheme == SCHEME_KGW) {
    j["green"] = r.green;
    j["green_fraction"] = r.green_fraction;
    j["gamma_effective"] = r.gamma;
  }
  return j;
}

std::string format_p(double log10_p) {
  char buf[64];
  if (log10_p > -300.0) {
    std::snprintf(buf, sizeof buf, "%.3g", std::pow(10.0, log10_p));
  } else {
    const double e = std::floor(log10_p);
    std::snprintf(buf, sizeof buf, "%.2fe%.0f", std::pow(10.0, log10_p - e), e);
  }
  return buf;
}

std::string odds_phrase(double log10_p) {
  char buf[96];
  const double x = -log10_p;
  if (x < 0.3) return "more likely than not";
  if (x < 6.0) {
    std::snprintf(buf, sizeof buf, "about 1 in %.0f", std::pow(10.0, x));
  } else {
    std::snprintf(buf, sizeof buf, "about 1 in 10^%.0f", std::floor(x));
  }
  return buf;
}

}  // namespace isotope::cli
