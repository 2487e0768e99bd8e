// isotope combine: one p-value from independent audits (Fisher's method).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "isotope/detect.hpp"
#include "isotope/io.hpp"
#include "isotope/stats.hpp"

namespace isotope::cli {

namespace {
struct CombineOptions {
  std::vector<std::string> inputs;
  bool json = false;
  double threshold = 1e-4;
};

struct Input {
  std::string path, file_sha256, key_commitment, mode;
  double log10_p = 0.0;
  std::map<std::string, std::string> data;  // role -> SHA-256 of the data file scored
};

Input read_result(const std::string& path) {
  const std::string text = read_text(path);
  nlohmann::json j;
  std::string why;
  if (!parse_json_strict(text, &j, &why)) fail_input("'" + path + "' is not valid JSON: " + why);
  if (!j.is_object()) fail_input("'" + path + "' is not a JSON object");
  if (j.value("type", std::string()) != "isotope-audit")
    fail_input("'" + path + "' is not an audit result (written by 'isotope audit --json')");
  Input in;
  in.path = path;
  in.file_sha256 = sha256_hex(text);
  try {
    if (!j.at("valid").get<bool>())
      fail_input("'" + path + "' was computed with a validity rule switched off: its p-value is not valid");
    in.log10_p = j.at("log10_p").get<double>();
    in.key_commitment = j.at("key_commitment").get<std::string>();
    in.mode = j.at("mode").get<std::string>();
    for (const char* role : {"suspect", "teacher", "predictions", "model"}) {
      auto it = j.at("inputs").find(role);
      if (it != j.at("inputs").end()) in.data[role] = it->at("sha256").get<std::string>();
    }
  } catch (const nlohmann::json::exception& e) {
    fail_input("'" + path + "' lacks a field of an audit result: " + e.what());
  }
  if (!(in.log10_p <= 0.0)) fail_input("'" + path + "': log10_p is not a number <= 0");
  return in;
}

// The suspect-side data an audit scored: for the closed audit the answers, for
// the open audit the teacher texts (with the model or the predictions).
std::vector<std::string> scored_data(const Input& in) {
  std::vector<std::string> out;
  for (const char* role : {"suspect", "predictions", "model"})
    if (auto it = in.data.find(role); it != in.data.end()) out.push_back(it->second);
  if (in.mode == "open")
    if (auto it = in.data.find("teacher"); it != in.data.end()) out.push_back(it->second);
  return out;
}

int run_combine(const CombineOptions& o) {
  if (o.inputs.size() < 2) fail_usage("give at least two audit results to combine");
  if (!(o.threshold > 0.0 && o.threshold < 1.0)) fail_usage("--threshold must lie in (0, 1)");
  std::vector<Input> in;
  for (const auto& p : o.inputs) in.push_back(read_result(p));
  std::vector<std::string> notes;
  for (std::size_t a = 0; a < in.size(); ++a)
    for (std::size_t b = a + 1; b < in.size(); ++b) {
      const Input &x = in[a], &y = in[b];
      if (x.file_sha256 == y.file_sha256)
        fail_input("'" + x.path + "' and '" + y.path + "' are the same result: counting it twice is not evidence");
      bool shared = false;
      for (const auto& d : scored_data(x))
        for (const auto& e : scored_data(y)) shared = shared || d == e;
      if (x.key_commitment == y.key_commitment) {
        if (shared)
          fail_input("'" + x.path + "' and '" + y.path +
                     "' scored the same data under the same key: their p-values are not independent. Report one of "
                     "them.");
        fail_input("'" + x.path + "' and '" + y.path +
                   "' use the same key: a (context, token) pair can be scored in both, so their p-values are not "
                   "independent. Run one audit over all the data instead (it counts each pair once).");
      }
      if (shared)
        notes.push_back("'" + x.path + "' and '" + y.path +
                        "' share data but use different keys: their green lists are independent, so under the "
                        "hypothesis of no training on either key's outputs the tests are independent.");
    }
  std::vector<double> lps;
  for (const auto& i : in) lps.push_back(i.log10_p);
  const Tail t = fisher_combine(lps);
  double stat = 0.0;
  for (double lp : lps) stat += -2.0 * lp * std::log(10.0);
  // A statistic or p-value a double cannot hold is refused, never printed as
  // nan or null.
  if (!std::isfinite(stat) || !std::isfinite(t.log10_p))
    fail_input("the combined statistic overflows a double (log10_p values of order -1e308): such p-values do not "
               "come from real audits");
  const bool flagged = significant(t.log10_p, o.threshold);
  if (o.json) {
    nlohmann::json j = {{"type", "isotope-combined"},
                        {"method", "fisher"},
                        {"statistic", stat},
                        {"degrees_of_freedom", 2 * lps.size()},
                        {"log10_p", t.log10_p},
                        {"p_value", t.p_value},
                        {"threshold", o.threshold},
                        {"flagged", flagged},
                        {"notes", notes}};
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& i : in)
      arr.push_back({{"path", i.path}, {"sha256", i.file_sha256}, {"mode", i.mode}, {"key_commitment", i.key_commitment},
                     {"log10_p", i.log10_p}});
    j["inputs"] = arr;
    std::cout << j.dump(2) << '\n';
    return EXIT_OK;
  }
  std::cout << "Combined " << in.size() << " independent audits with Fisher's method:\n";
  for (const auto& i : in) std::cout << "  " << i.path << " (" << i.mode << "): p = " << format_p(i.log10_p) << '\n';
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", stat);
  std::cout << "Statistic -2 sum ln p = " << buf << ", chi-square with " << 2 * lps.size() << " degrees of freedom.\n"
            << "Combined p = " << format_p(t.log10_p) << " (" << odds_phrase(t.log10_p) << "): "
            << (flagged ? "together they show the suspect carries the watermark.\n"
                        : "together they do not show that the suspect carries the watermark.\n");
  for (const auto& n : notes) std::cout << "Note: " << n << '\n';
  return EXIT_OK;
}
}  // namespace

void register_combine(CLI::App& root, Runner* run) {
  auto o = std::make_shared<CombineOptions>();
  auto* sub = root.add_subcommand("combine", "Merge independent audit results into one p-value (Fisher's method)");
  sub->add_option("RESULT", o->inputs, "Audit results written by 'isotope audit --json'")->required();
  sub->add_flag("--json", o->json, "Write one JSON object");
  sub->add_option("--threshold", o->threshold, "Flag when the combined p <= this")->capture_default_str();
  sub->callback([o, run] { *run = [o] { return run_combine(*o); }; });
}

}  // namespace isotope::cli
