// isotope report html: a page a person can read; isotope report sign: sign a
// report document assembled elsewhere.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common.hpp"
#include "evidence.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "report_html.hpp"

namespace isotope::cli {

namespace {
struct ReportOptions {
  std::string report, out, signer, trusted, sign;
  bool quiet = false;
};

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int run_html(const ReportOptions& o) {
  SignerOutcome so;
  const nlohmann::json doc = load_checked_report(o.report, {o.signer, o.trusted}, &so);
  if (!so.checked)
    note(o.quiet, "the signer was not checked (give --signer SIGNKEY.pub or --trusted-signers FILE); the page "
                  "says so");
  write_output(o.out, report_html(doc, base_name(o.report), so));
  return EXIT_OK;
}

int run_sign(const ReportOptions& o) {
  std::string text;
  check(read_file(o.report, &text, MAX_REPORT_FILE_BYTES), "cannot read document");
  SigningKey sk;
  check(signer_read_secret(o.sign, &sk), "cannot use signing key");
  std::string bytes;
  Status st = report_sign(text, sk, &bytes);
  if (!st.ok()) throw Failure{EXIT_REPORT_MALFORMED, "'" + o.report + "': " + st.message()};
  const ReportCheck rc = report_check(bytes);
  if (rc.outcome != ReportCheck::Outcome::ok)
    throw Failure{EXIT_REPORT_MALFORMED, "'" + o.report + "' is not a report document: " + rc.message};
  write_output(o.out, bytes);
  return EXIT_OK;
}
}  // namespace

void register_report(CLI::App& root, Runner* run) {
  auto o = std::make_shared<ReportOptions>();
  auto* sub = root.add_subcommand("report", "Turn a signed report into a readable page, or sign a report document");
  sub->require_subcommand(1);
  auto* html = sub->add_subcommand("html", "Write a self-contained HTML page (A4 printable) for a signed report");
  html->add_option("REPORT", o->report, "Report file")->required();
  html->add_option("-o,--output", o->out, "HTML file to write ('-' or none: standard output)");
  html->add_option("--signer", o->signer, "Refuse unless signed by this public key file");
  html->add_option("--trusted-signers", o->trusted,
                   "Refuse unless signed by a key in this file (one 'HEX [label]' per line)");
  html->add_flag("-q,--quiet", o->quiet, "No notes on standard error");
  html->callback([o, run] { *run = [o] { return run_html(*o); }; });
  auto* sign = sub->add_subcommand(
      "sign", "Canonicalise and sign a report document (any existing signature is replaced). A signature says who "
              "vouches for a report, not that its numbers are right: 'isotope verify --key' checks those");
  sign->add_option("DOCUMENT", o->report, "JSON report document")->required();
  sign->add_option("--sign", o->sign, "Signing key (see 'isotope signer new')")->required();
  sign->add_option("-o,--output", o->out, "Report file to write ('-' or none: standard output)");
  sign->callback([o, run] { *run = [o] { return run_sign(*o); }; });
}

}  // namespace isotope::cli
