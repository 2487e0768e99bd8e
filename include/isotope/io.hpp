// isotope — file helpers shared by the library and the CLI.
#pragma once
#include "isotope/export.h"
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "isotope/status.hpp"

namespace isotope {

using Sha256 = std::array<std::uint8_t, 32>;

ISOTOPE_API std::string to_hex(std::span<const std::uint8_t> bytes);
ISOTOPE_API Sha256 sha256(std::span<const std::uint8_t> bytes);
ISOTOPE_API std::string sha256_hex(std::string_view bytes);
// SHA-256 of a file's contents, lowercase hex; *size gets its length if non-null.
ISOTOPE_API Status sha256_file_hex(const std::string& path, std::string* hex, std::uint64_t* size = nullptr);

ISOTOPE_API Status read_file(const std::string& path, std::string* out);
// Writes to a temporary file in the same folder, fsyncs, then renames over
// `path`: a failure never leaves a half-written file. `mode` as for chmod.
ISOTOPE_API Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644);

// True iff `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
ISOTOPE_API bool is_valid_utf8(std::string_view s) noexcept;

// Folder holding the bundled data (tokenizer, default model): $ISOTOPE_DATA_DIR
// if set; else share/isotope found relative to the installed library, command
// or Python module that holds this code (so a moved installation works); else,
// when run from the build tree, its data folder; else the configured one.
ISOTOPE_API std::string data_dir();
ISOTOPE_API std::string default_tokenizer_path();  // data_dir() + "/isotope-8k.model"
ISOTOPE_API std::string default_model_path();      // data_dir() + "/isotope-default.lm"

ISOTOPE_API const char* version_string() noexcept;

}  // namespace isotope
