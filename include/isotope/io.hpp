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

// Size limits of the input-file policy (docs/cli.md): any input file, and the
// kinds of file whose format bounds their size.
inline constexpr std::uint64_t MAX_INPUT_FILE_BYTES = 16ULL << 30;   // 16 GiB
inline constexpr std::uint64_t MAX_REPORT_FILE_BYTES = 1ULL << 30;   // 1 GiB
inline constexpr std::uint64_t MAX_TOKENIZER_FILE_BYTES = 1ULL << 30;
inline constexpr std::uint64_t MAX_PUBLIC_KEY_FILE_BYTES = 4096;

ISOTOPE_API std::string to_hex(std::span<const std::uint8_t> bytes);
ISOTOPE_API Sha256 sha256(std::span<const std::uint8_t> bytes);
ISOTOPE_API std::string sha256_hex(std::string_view bytes);
// SHA-256 of a file's contents, lowercase hex; *size gets its length if non-null.
ISOTOPE_API Status sha256_file_hex(const std::string& path, std::string* hex, std::uint64_t* size = nullptr);

// The input-file policy: `path` must be a regular file (a pipe, device or
// socket is refused at once, never read or waited on) of at most `max_bytes`
// (Code::io otherwise). sha256_file_hex follows the same policy.
ISOTOPE_API Status read_file(const std::string& path, std::string* out,
                             std::uint64_t max_bytes = MAX_INPUT_FILE_BYTES);
// Writes to a temporary file in the same folder, fsyncs, then renames over
// `path`: a failure never leaves a half-written file (the temporary file is
// removed). An existing `path` that is not a regular file (a symbolic link,
// device, pipe, socket or folder) is refused (Code::io), never replaced.
// `mode` as for chmod.
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
