// The human-readable page of a report: one self-contained HTML file.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "evidence.hpp"

namespace isotope::cli {

// `doc` is a report that passed report_check; `report_name` is shown in the
// verification instructions; `signer` says whether and against what the
// signer was checked (shown at the top of the page).
std::string report_html(const nlohmann::json& doc, const std::string& report_name, const SignerOutcome& signer);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string html_escape(const std::string& s);

}  // namespace isotope::cli
