// Evidence reports of audits: written by `isotope audit --report --sign`,
// recomputed by `isotope verify`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit.hpp"
#include "isotope/key.hpp"

namespace isotope::cli {

// Signs and writes the report of an audit whose result (from compute_audit)
// is `result`; returns the signer's public key (hex).
std::string write_audit_report(const std::string& path, const std::string& sign_key_path, const AuditOptions& o,
                               const nlohmann::json& result, const Key& key);

// Recomputes the "result" of an audit report under `key`; `matched[i]` is the
// local file whose content matches the report's inputs[i]. File names in the
// recomputed result are replaced by the recorded ones (files are compared by
// content, not by name).
nlohmann::json recompute_audit_result(const nlohmann::json& report, const Key& key,
                                      const std::vector<std::string>& matched, const ProgressFn& progress = {});

}  // namespace isotope::cli
