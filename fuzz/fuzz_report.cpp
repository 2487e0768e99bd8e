// Reports: the canonical form and schema check, the signature check, and the
// HTML page of any report-shaped JSON (bounded axes, verdict check).
#include <nlohmann/json.hpp>

#include "../cli/common.hpp"
#include "../cli/evidence.hpp"
#include "../cli/report_html.hpp"
#include "isotope/evidence.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)isotope::report_check(bytes);
  std::string canon;
  (void)isotope::canonical_json(bytes, &canon);
  const nlohmann::json doc = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (doc.is_object()) {
    try {
      const std::string page = isotope::cli::report_html(doc, "fuzz.json", isotope::cli::SignerOutcome{});
      if (page.size() > (64u << 20)) __builtin_trap();  // a page must stay bounded
    } catch (const isotope::cli::Failure&) {
    } catch (const nlohmann::json::exception&) {
    }
  }
  return 0;
}
