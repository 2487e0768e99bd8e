// The human-readable page of a report: one self-contained HTML file.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace isotope::cli {

// `doc` is a report that passed report_check; `report_name` is shown in the
// verification instructions.
std::string report_html(const nlohmann::json& doc, const std::string& report_name);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string html_escape(const std::string& s);

}  // namespace isotope::cli
