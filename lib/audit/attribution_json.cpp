// The attribution part of an audit's result as JSON (isotope/audit.hpp):
// the command's output, its reports and the Python module all take it from
// here.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "evidence/result_json.hpp"
#include "isotope/audit.hpp"

namespace isotope {

namespace detail {

nlohmann::json attribution_json(const AttributionResult& at) {
  std::vector<const AccountResult*> named;
  const AccountResult* best_other = nullptr;
  for (const AccountResult& a : at.accounts) {
    if (a.named)
      named.push_back(&a);
    else if (best_other == nullptr || a.detection.log10_p < best_other->detection.log10_p)
      best_other = &a;
  }
  std::stable_sort(named.begin(), named.end(), [](const AccountResult* a, const AccountResult* b) {
    return a->detection.log10_p < b->detection.log10_p;
  });
  nlohmann::json accounts = nlohmann::json::array();
  for (const AccountResult* a : named)
    accounts.push_back({{"id", a->id},
                        {"log10_p", a->detection.log10_p},
                        {"log10_p_corrected", a->log10_p_corrected},
                        {"scored", a->detection.scored},
                        {"statistic", a->detection.statistic}});
  nlohmann::json info = {
      {"candidates", at.accounts.size()},
      {"correction", "holm"},
      {"level", at.level},
      {"route_alpha", at.route_alpha},
      {"account_mark", at.nested ? "nested" : "route"},
      {"routed", at.routed},
      {"tested", at.tested},
      {"named", named.size()},
      {"derivation",
       "BLAKE2b-256 keyed with the master key over \"isotope/v1/account-key\" || uint32le(len(id)) || id"}};
  if (best_other != nullptr)
    info["best_not_named"] = {{"id", best_other->id},
                              {"log10_p", best_other->detection.log10_p},
                              {"log10_p_corrected", best_other->log10_p_corrected}};
  if (!at.warnings.empty()) info["warnings"] = at.warnings;
  return {{"attribution", info}, {"accounts", accounts}};
}

}  // namespace detail

std::string attribution_result_json(const AttributionResult& at) { return detail::attribution_json(at).dump(); }

}  // namespace isotope
