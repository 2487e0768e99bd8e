// isotope — command-line entry point. The statistics and the cryptography
// live in the library; this file only parses, dispatches and reports.
#include <exception>
#include <iostream>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "build_info.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "isotope/io.hpp"

namespace {
// What each exit code means (docs/cli.md, "Exit codes").
const std::map<int, const char*> EXIT_MEANINGS = {
    {0, "success"},
    {1, "internal error"},
    {2, "usage error"},
    {3, "file error"},
    {4, "key error"},
    {5, "invalid input text or JSON"},
    {6, "bad model or tokenizer file"},
    {7, "profile or tokenizer mismatch"},
    {8, "the cluster (--scheduler) could not be used"},
    {10, "malformed report"},
    {11, "bad signature, or not by the expected signer"},
    {12, "key does not match the commitment"},
    {13, "input file mismatch"},
    {14, "recomputed result differs"},
    {15, "recomputation not available"},
    {16, "all checks passed but the signer was not checked"},
    {17, "bad or missing timestamp"},
};

// The exit codes each command can return; a command not listed gets 0-7.
const std::map<std::string, std::vector<int>> COMMAND_EXITS = {
    {"keygen", {0, 1, 2, 3, 4}},
    {"commit", {0, 1, 2, 3, 4, 17}},
    {"signer", {0, 1, 2, 3, 4}},
    {"lm", {0, 1, 2, 3, 5, 6, 7}},
    {"demo", {0, 1, 2, 3, 6, 7}},
    {"detect", {0, 1, 2, 3, 4, 5, 6, 7, 8, 17}},
    {"audit", {0, 1, 2, 3, 4, 5, 6, 7, 8, 17}},
    {"report", {0, 1, 2, 3, 4, 10, 11}},
    {"verify", {0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17}},
};

std::string exit_footer(const std::vector<int>& codes) {
  std::string s = "Exit codes:";
  std::size_t line = s.size();
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const std::string item = " " + std::to_string(codes[i]) + " " + EXIT_MEANINGS.at(codes[i]) +
                             (i + 1 < codes.size() ? ";" : ".");
    if (line + item.size() > 100) {
      s += "\n";
      line = 0;
    }
    s += item;
    line += item.size();
  }
  return s;
}

void set_exit_code_footers(CLI::App& app) {
  std::vector<int> all;
  for (const auto& [code, meaning] : EXIT_MEANINGS) all.push_back(code);
  app.footer(exit_footer(all) + "\n'isotope COMMAND --help' lists the codes that command can return.");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    const auto it = COMMAND_EXITS.find(sub->get_name());
    const std::string footer = exit_footer(it != COMMAND_EXITS.end() ? it->second : std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    sub->footer(footer);
    for (CLI::App* subsub : sub->get_subcommands([](CLI::App*) { return true; })) subsub->footer(footer);
  }
}
}  // namespace

int main(int argc, char** argv) {
  using namespace isotope::cli;
  CLI::App app{
      "isotope: watermark a language model's outputs, detect the watermark in text, and audit\n"
      "whether a suspect model was trained on watermarked outputs.\n"
      "Run 'isotope demo' for a one-minute tour, 'isotope COMMAND --help' for a command's options.",
      "isotope"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());

  Runner run;
  register_keygen(app, &run);
  register_commit(app, &run);
  register_key(app, &run);
  register_generate(app, &run);
  register_detect(app, &run);
  register_lm(app, &run);
  register_demo(app, &run);
  register_signer(app, &run);
  register_verify(app, &run);
  register_report(app, &run);
  register_audit(app, &run);
  register_combine(app, &run);
  register_tokenize(app, &run);
  set_exit_code_footers(app);

  harden_integer_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? EXIT_OK : EXIT_USAGE;
  }
  try {
    return run ? run() : EXIT_USAGE;
  } catch (const Failure& f) {
    // Messages may quote input: control characters are escaped.
    std::cerr << "isotope: error: " << term_safe(f.message) << '\n';
    return f.exit_code;
  } catch (const std::bad_alloc&) {
    std::cerr << "isotope: error: out of memory\n";
    return EXIT_FAILURE_INTERNAL;
  } catch (const std::exception& e) {
    std::cerr << "isotope: internal error: " << term_safe(e.what()) << '\n';
    return EXIT_FAILURE_INTERNAL;
  }
}
