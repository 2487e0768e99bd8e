// Shared pieces of the `isotope` command: exit codes, loading of keys,
// tokenizers and models, profile options, JSON and plain-language output.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/key.hpp"
#include "isotope/lm.hpp"
#include "isotope/profile.hpp"
#include "isotope/status.hpp"
#include "isotope/tokenizer.hpp"

namespace isotope::cli {

// Exit codes of the command (docs/cli.md).
enum Exit : int {
  EXIT_OK = 0,
  EXIT_FAILURE_INTERNAL = 1,
  EXIT_USAGE = 2,
  EXIT_IO = 3,
  EXIT_KEY = 4,
  EXIT_INPUT = 5,
  EXIT_MODEL = 6,
  EXIT_PROFILE = 7,
  EXIT_CLUSTER = 8,  // --scheduler: Python, the isotope module or Dask missing,
                     // or the scheduler unreachable
};

// Thrown inside a command; main() prints it and exits with its code.
struct Failure {
  int exit_code;
  std::string message;
};

int exit_code_for(Code c) noexcept;
[[noreturn]] void fail(const Status& st, const std::string& context = "");
void check(const Status& st, const std::string& context = "");
[[noreturn]] void fail_usage(const std::string& message);
[[noreturn]] void fail_input(const std::string& message);

// Prints "isotope: MESSAGE" to stderr unless quiet.
void note(bool quiet, const std::string& message);

// --gamma --delta --context-width, shared by every command that needs a profile.
// --scheme, --context-width and one option per parameter of the registered
// schemes (--gamma, --delta, --layers, ...), made from the scheme registry.
struct ProfileOptions {
  std::string scheme = SCHEME_KGW;
  std::uint32_t context_width = 2;
  std::map<std::string, double> values;  // the parameters given on the command line
  std::map<std::string, CLI::Option*> options;
  CLI::Option* width_option = nullptr;
  void add_to(CLI::App* app);
  Profile get() const;  // validated
};

// A profile as recorded in a command's options: {"context_width", each
// parameter} plus "scheme" unless it is kgw (so KGW options read as before).
nlohmann::json profile_options_json(const Profile& p);
// Reads that form (missing fields: the scheme's defaults; throws Failure).
Profile profile_from_options_json(const nlohmann::json& j);
// A report's "profile": scheme, version, context_width, prf, name and each parameter.
Profile profile_from_report_json(const nlohmann::json& j);
// How reports name the bundled tokenizer (by its file name, not by where this
// machine keeps it).
inline constexpr const char* BUNDLED_TOKENIZER_NAME = "isotope-8k.model";

Key load_key(const std::string& path);
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path_or_empty);
// Loads a model and checks that it was trained with `tok`.
std::unique_ptr<NgramModel> load_model(const std::string& path_or_empty, const Tokenizer& tok);

// Reads a whole file ("-" = stdin) under the input-file policy (a regular
// file or "-"); must be valid UTF-8 without NUL bytes (an input error names
// the file and line).
std::string read_text(const std::string& path);
// Opens `path` ("-" = stdin) for streaming under the input-file policy;
// *size gets its length (0 for stdin).
std::unique_ptr<std::istream> open_input_stream(const std::string& path, std::uint64_t* size);
// Input error "FILE:LINE: ..." (lines counted from first_line) if `data` (read from `file`) is not valid UTF-8
// or holds a NUL byte.
void check_text(const std::string& data, const std::string& file, std::size_t first_line = 1);
// Writes `data` to `path` atomically, or to stdout when path is empty or "-".
// Never replaces a key file (a watermark or signing key) nor anything that is
// not a regular file (see check_output_path).
void write_output(const std::string& path, const std::string& data);
// Throws Failure(EXIT_IO) if `path` names an existing key file (watermark or
// signing key) or something that is not a regular file.
void check_output_path(const std::string& path);

// `s` with every control character, invalid UTF-8 byte and bidirectional
// override escaped (\n, \x1b, \u202e...), safe to print on a terminal.
std::string term_safe(std::string_view s);

// Parses JSON strictly: duplicate object keys are refused; on failure returns
// false and says what is wrong in *why (position and cause).
bool parse_json_strict(const std::string& text, nlohmann::json* out, std::string* why);

// Makes every unsigned integer option of `app` and its subcommands refuse a
// sign or a value too large for it (CLI11 would wrap -1 to the maximum).
void harden_integer_options(CLI::App& app);

// Progress of a long run on standard error: a bar on a terminal, a line every
// few seconds otherwise ($ISOTOPE_PROGRESS_SECONDS sets the period; 0 = every
// update). Silent when quiet.
class Progress {
 public:
  Progress(bool quiet, std::string what, std::uint64_t total = 0);
  ~Progress();
  void update(std::uint64_t done);
  void finish();

 private:
  bool quiet_, tty_, shown_ = false, finished_ = false;
  std::string what_;
  std::uint64_t total_;
  double period_;
  double last_ = -1e300;
  double start_;
};

// One JSONL line as an object; a clear input error names file and line.
nlohmann::json parse_jsonl_line(const std::string& line, const std::string& file, std::size_t lineno);
// True for an empty line or one of spaces, tabs and a CR only.
bool is_blank(const std::string& line) noexcept;
// Calls fn(object, lineno) for every non-blank line of the JSONL text `data`
// read from `file`, in order; a line that is not a JSON object is an input error.
void for_each_jsonl(const std::string& data, const std::string& file,
                    const std::function<void(const nlohmann::json&, std::size_t)>& fn);
// Field `name` as a valid UTF-8 string, or nullptr if absent.
const nlohmann::json* string_field(const nlohmann::json& obj, const char* name, const std::string& file,
                                   std::size_t lineno);

nlohmann::json profile_json(const Profile& p);
// "12 green (30.0% against 25.0% expected by chance)" (KGW), or the mean
// score against its expectation, from a detection JSON object.
std::string score_phrase(const nlohmann::json& detection);
// The null law of the result's scheme in a few words.
std::string scheme_null_phrase(const nlohmann::json& detection);
nlohmann::json detection_json(const DetectionResult& r, const Profile& p, const std::string& tokenizer_sha256,
                              double threshold, const ScoreRules& rules, bool prompt_exclusion);
bool is_flagged(const DetectionResult& r, double threshold);

// "1 in 10^44" style phrases for people.
std::string odds_phrase(double log10_p);
std::string format_p(double log10_p);

}  // namespace isotope::cli
