#include "common.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <iterator>
#include <sstream>

#include "evidence/result_json.hpp"
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
  if (!quiet) std::cerr << "isotope: " << term_safe(message) << '\n';
}

void ProfileOptions::add_to(CLI::App* app) {
  std::string names;
  for (const Scheme* sc : schemes()) names += (names.empty() ? "" : "|") + std::string(sc->name());
  app->add_option("--scheme", scheme, "Watermark scheme: " + names + " (docs/spec.md)")->capture_default_str();
  width_option = app->add_option(
      "--context-width,-H", context_width,
      "Number of previous tokens that seed the watermark (h; 0-8, vllm-*: 1-16, default the scheme's: 2, vllm-*: 4)");
  for (const Scheme* sc : schemes()) {
    for (const ParamSpec& ps : sc->params()) {
      const std::string opt = "--" + std::string(ps.name);
      std::string flag = opt;
      for (char& ch : flag)
        if (ch == '_') ch = '-';
      if (options.contains(ps.name)) continue;  // shared by several schemes
      auto* o = app->add_option_function<double>(
          flag, [this, n = std::string(ps.name)](double v) { values[n] = v; },
          std::string(ps.help) + " (" + std::string(sc->name()) + ", default " +
              (ps.integer ? std::to_string(static_cast<std::int64_t>(ps.def)) : shortest_double(ps.def)) + ")");
      o->type_name(ps.integer ? "INT" : "FLOAT");
      options[ps.name] = o;
    }
  }
}

Profile ProfileOptions::get() const {
  Profile p;
  check(Profile::of(scheme, &p), "invalid watermark profile");
  if (width_option->count() > 0) p.context_width = context_width;
  for (const auto& [name, v] : values) {
    if (std::isnan(p.param(name)))
      fail_usage("--" + name + " is not a parameter of the " + scheme + " scheme");
    p.params[name] = v;
  }
  if (width_option == nullptr || width_option->count() == 0)
    if (const Scheme* sc = find_scheme(p.scheme); sc != nullptr)
      if (auto w = sc->implied_context_width(p)) p.context_width = *w;
  check(p.validate(), "invalid watermark profile");
  return p;
}

nlohmann::json profile_options_json(const Profile& p) {
  nlohmann::json j = {{"context_width", p.context_width}};
  for (const auto& [k, v] : p.params) j[k] = detail::param_json(p, k, v);
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

void check_text(const std::string& data, const std::string& file, std::size_t first_line) {
  const std::size_t nul = data.find('\0');
  const bool utf8 = is_valid_utf8(data);
  if (nul == std::string::npos && utf8) return;
  auto line_of = [&](std::size_t pos) {
    return first_line + static_cast<std::size_t>(std::count(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
  };
  // The first line that is not valid UTF-8 (a NUL byte is valid UTF-8).
  std::size_t bad_line = std::numeric_limits<std::size_t>::max();
  if (!utf8) {
    std::size_t start = 0;
    while (start < data.size()) {
      std::size_t end = data.find('\n', start);
      end = end == std::string::npos ? data.size() : end + 1;
      if (!is_valid_utf8(std::string_view(data).substr(start, end - start))) break;
      start = end;
    }
    bad_line = line_of(start);
  }
  if (nul != std::string::npos && line_of(nul) <= bad_line)
    fail_input(file + ":" + std::to_string(line_of(nul)) +
               ": holds a NUL byte: this is not text (refusing it rather than ignoring what follows)");
  fail_input(file + ":" + std::to_string(bad_line) + ": not valid UTF-8 text");
}

std::string read_text(const std::string& path) {
  std::string data;
  if (path == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    check(read_file(path, &data));
  }
  check_text(data, path == "-" ? "<stdin>" : path);
  return data;
}

std::unique_ptr<std::istream> open_input_stream(const std::string& path, std::uint64_t* size) {
  *size = 0;
  if (path == "-") return std::make_unique<std::istream>(std::cin.rdbuf());
  // The policy check (regular file, no blocking), then a stream.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(Status(Code::io, "cannot open '" + path + "': " + std::strerror(errno)));
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!ok || S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
    std::string ignored;
    check(read_file(path, &ignored, 0));  // the policy's message
    fail(Status(Code::io, "'" + path + "' is not a regular file"));
  }
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) fail(Status(Code::io, "cannot open '" + path + "': " + std::strerror(errno)));
  *size = static_cast<std::uint64_t>(st.st_size);
  return in;
}

namespace {
bool starts_with_key_header(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  char buf[64] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return false;
  const std::string_view head(buf, static_cast<std::size_t>(n));
  for (std::string_view h : {std::string_view("isotope-watermark-key v1"), std::string_view("isotope-engine-key v1"),
                             std::string_view("isotope-signing-key v1")})
    if (head.substr(0, h.size()) == h) return true;
  return false;
}
}  // namespace

void check_output_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // a new file
  if (!S_ISREG(st.st_mode))
    throw Failure{EXIT_IO, "'" + path + "' exists and is not a regular file (a link, folder, device or pipe): "
                           "refusing to replace it; name a regular file, or '-' for standard output"};
  if (starts_with_key_header(path))
    throw Failure{EXIT_IO, "'" + path + "' is a key file: refusing to replace it (the key would be lost); name "
                           "another output file"};
}

void write_output(const std::string& path, const std::string& data) {
  if (path.empty() || path == "-") {
    std::cout << data << std::flush;
    return;
  }
  check_output_path(path);
  check(write_file_atomic(path, data, 0644));
}

std::string term_safe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  char buf[16];
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x20 || c == 0x7f) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
      }
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len == 1 || i + len > n || !is_valid_utf8(s.substr(i, len))) {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
      ++i;
      continue;
    }
    std::uint32_t cp = len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t j = 1; j < len; ++j) cp = (cp << 6) | (p[i + j] & 0x3Fu);
    // C1 controls, bidirectional controls, line and paragraph separators.
    if ((cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
        cp == 0x200E || cp == 0x200F || cp == 0x061C || cp == 0x2028 || cp == 0x2029) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

namespace {
struct DuplicateKey {
  std::string key;
};
std::string strip_json_exception(const char* what) {
  std::string m = what;
  if (!m.empty() && m[0] == '[') {
    const auto close = m.find("] ");
    if (close != std::string::npos) m = m.substr(close + 2);
  }
  return term_safe(m);
}
}  // namespace

bool parse_json_strict(const std::string& text, nlohmann::json* out, std::string* why) {
  std::vector<std::vector<std::string>> keys;  // keys seen, per open object
  auto cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    switch (ev) {
      case nlohmann::json::parse_event_t::object_start: keys.emplace_back(); break;
      case nlohmann::json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case nlohmann::json::parse_event_t::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        auto& seen = keys.back();
        if (std::find(seen.begin(), seen.end(), k) != seen.end()) throw DuplicateKey{k};
        seen.push_back(k);
        break;
      }
      default: break;
    }
    return true;
  };
  try {
    *out = nlohmann::json::parse(text, cb);
    return true;
  } catch (const DuplicateKey& d) {
    *why = "the key \"" + term_safe(d.key) + "\" occurs twice in one object (which one counts would be a guess)";
  } catch (const nlohmann::json::out_of_range& e) {
    *why = strip_json_exception(e.what()) + " (a number too large for a double)";
  } catch (const nlohmann::json::exception& e) {
    *why = strip_json_exception(e.what());
  }
  return false;
}

nlohmann::json parse_jsonl_line(const std::string& line, const std::string& file, std::size_t lineno) {
  nlohmann::json j;
  std::string why;
  const std::string where = file + ":" + std::to_string(lineno) + ": ";
  if (!parse_json_strict(line, &j, &why)) fail_input(where + "invalid JSON: " + why);
  if (!j.is_object()) fail_input(where + "a JSON " + std::string(j.type_name()) + ", not an object");
  return j;
}

void harden_integer_options(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    const std::string t = opt->get_type_name();
    if (t != "UINT" && t != "INT") continue;
    const bool is_unsigned = t == "UINT";
    opt->check(CLI::Validator(
        [is_unsigned](std::string& v) -> std::string {
          std::size_t i = 0;
          if (!is_unsigned && !v.empty() && (v[0] == '-' || v[0] == '+')) i = 1;
          if (i == v.size()) return "an integer is expected";
          for (std::size_t j = i; j < v.size(); ++j)
            if (v[j] < '0' || v[j] > '9')
              return is_unsigned ? "a non-negative decimal integer is expected, not '" + v + "'"
                                 : "a decimal integer is expected, not '" + v + "'";
          errno = 0;
          if (is_unsigned) (void)std::strtoull(v.c_str(), nullptr, 10);
          else (void)std::strtoll(v.c_str(), nullptr, 10);
          if (errno == ERANGE) return "'" + v + "' is out of range";
          return std::string();
        },
        ""));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) harden_integer_options(*sub);
}

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Progress::Progress(bool quiet, std::string what, std::uint64_t total)
    : quiet_(quiet), tty_(::isatty(2) != 0), what_(std::move(what)), total_(total), start_(now_seconds()) {
  period_ = tty_ ? 0.2 : 10.0;
  if (const char* env = std::getenv("ISOTOPE_PROGRESS_SECONDS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && v >= 0.0 && std::isfinite(v)) period_ = v;
  }
  last_ = start_;
}

Progress::~Progress() { finish(); }

void Progress::update(std::uint64_t done) {
  if (quiet_ || finished_) return;
  const double t = now_seconds();
  if (period_ > 0.0 && t - last_ < period_) return;
  last_ = t;
  char line[256];
  const double rate = static_cast<double>(done) / std::max(1e-9, t - start_);
  if (total_ > 0) {
    const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    if (tty_) {
      std::string bar(30, ' ');
      for (std::size_t i = 0; i < static_cast<std::size_t>(f * 30); ++i) bar[i] = '#';
      std::snprintf(line, sizeof line, "\r[%s] %3.0f%% %llu/%llu %s", bar.c_str(), 100 * f,
                    static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), what_.c_str());
    } else {
      std::snprintf(line, sizeof line, "isotope: progress: %llu of %llu %s (%.0f%%, %.0f/s)\n",
                    static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), what_.c_str(),
                    100 * f, rate);
    }
  } else {
    std::snprintf(line, sizeof line, tty_ ? "\r%llu %s (%.0f/s)" : "isotope: progress: %llu %s (%.0f/s)\n",
                  static_cast<unsigned long long>(done), what_.c_str(), rate);
  }
  std::cerr << line << std::flush;
  shown_ = true;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (shown_ && tty_) std::cerr << '\n' << std::flush;
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

nlohmann::json profile_json(const Profile& p) { return detail::profile_json(p); }

std::string score_phrase(const nlohmann::json& j) {
  char buf[256];
  if (j.contains("green")) {  // a green-list scheme (Scheme::green_rate)
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
  nlohmann::json j = detail::detection_json(r, p, threshold, rules.dedup, prompt_exclusion);
  j["tokenizer_sha256"] = tokenizer_sha256;
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
