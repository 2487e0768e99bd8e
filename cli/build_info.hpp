// What made this executable: the source revision and whether the tree had
// uncommitted changes, the compiler, and the libraries' versions. Defined in
// build/generated/build_info.cpp (cmake/build_info_gen.cmake).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace isotope::cli {

const char* build_revision() noexcept;         // full git commit id, or "unknown"
bool build_tree_modified() noexcept;           // uncommitted changes when built
const char* build_revision_origin() noexcept;  // "git", or how the revision was given
const char* build_compiler() noexcept;         // e.g. "GNU 12.2.0"
const char* build_type() noexcept;             // e.g. "Release"
const char* build_sentencepiece_version() noexcept;
const char* build_sodium_version() noexcept;
const char* build_openssl_version() noexcept;
const char* build_json_version() noexcept;
const char* build_cli11_version() noexcept;

// The lines `isotope --version` prints.
std::string version_text();
// {"revision", "modified", "compiler", "build_type", "libraries": {...}} for reports.
nlohmann::json build_json();

}  // namespace isotope::cli
