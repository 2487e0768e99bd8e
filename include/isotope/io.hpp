// isotope — file helpers shared by the library and the CLI.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "isotope/status.hpp"

namespace isotope {

using Sha256 = std::array<std::uint8_t, 32>;

std::string to_hex(std::span<const std::uint8_t> bytes);
Sha256 sha256(std::span<const std::uint8_t> bytes);
std::string sha256_hex(std::string_view bytes);
// SHA-256 of a file's contents, lowercase hex; *size gets its length if non-null.
Status sha256_file_hex(const std::string& path, std::string* hex, std::uint64_t* size = nullptr);

Status read_file(const std::string& path, std::string* out);
// Writes to a temporary file in the same folder, fsyncs, then renames over
// `path`: a failure never leaves a half-written file. `mode` as for chmod.
Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644);

// True iff `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// Folder holding the bundled data (tokenizer, default model): $ISOTOPE_DATA_DIR
// if set, else the build tree's data folder if it exists, else the installed one.
std::string data_dir();
std::string default_tokenizer_path();  // data_dir() + "/isotope-8k.model"
std::string default_model_path();      // data_dir() + "/isotope-default.lm"

const char* version_string() noexcept;

}  // namespace isotope
