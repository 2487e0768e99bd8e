// Reading small secret files (watermark keys, signing keys). Internal.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "isotope/status.hpp"

namespace isotope::detail {

// sodium_init() once; Code::crypto if libsodium cannot start.
Status ensure_sodium();

// Reads at most `cap` bytes of the file at `path` into `buf` (*got = bytes
// read; reading `cap` bytes means the file may be longer). The file is
// opened first and the opened file checked, so the mode checked is the mode
// of the file read: not a regular file gives Code::io, a file that group or
// others may access gives Code::key_permissions with the fix in the message.
// `what` names the file in messages ("key file", "signing key file"). On
// failure `buf` is wiped. With `permissions` non-null, a mode problem does
// not stop the read: it is returned there, so that the caller can first check
// that the file is of the right kind (advice to chmod a file that is not a key
// at all would mislead).
Status read_secret_file(const std::string& path, std::string_view what, char* buf, std::size_t cap,
                        std::size_t* got, Status* permissions = nullptr);

}  // namespace isotope::detail
