// isotope — command-line entry point. The statistics and the cryptography
// live in the library; this file only parses, dispatches and reports.
#include <exception>
#include <iostream>
#include <new>

#include "commands.hpp"
#include "common.hpp"
#include "isotope/io.hpp"

int main(int argc, char** argv) {
  using namespace isotope::cli;
  CLI::App app{
      "isotope: watermark a language model's outputs, detect the watermark in text, and audit\n"
      "whether a suspect model was trained on watermarked outputs.\n"
      "Run 'isotope demo' for a one-minute tour, 'isotope COMMAND --help' for a command's options.",
      "isotope"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("isotope ") + isotope::version_string());
  app.footer(
      "Exit codes: 0 success, 1 internal error, 2 usage error, 3 file error, 4 key error,\n"
      "5 invalid input text or JSON, 6 bad model or tokenizer file, 7 profile or tokenizer mismatch;\n"
      "reports (verify, report): 10 malformed report, 11 bad signature, 12 key does not match the commitment,\n"
      "13 input file mismatch, 14 recomputed result differs, 15 recomputation not available.");

  Runner run;
  register_keygen(app, &run);
  register_commit(app, &run);
  register_generate(app, &run);
  register_detect(app, &run);
  register_lm(app, &run);
  register_demo(app, &run);
  register_signer(app, &run);
  register_verify(app, &run);
  register_report(app, &run);
  register_audit(app, &run);
  register_combine(app, &run);

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
