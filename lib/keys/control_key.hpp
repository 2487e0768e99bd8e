// The one construction behind every control key (internal): BLAKE2b-256
// keyed with `secret`, over the ASCII `domain` followed by `index` as
// `index_bytes` little-endian bytes; the 32 bytes seed the key
// (Key::from_seed, engine_ints > 0 for a scheme that takes an engine key).
//
// Its two uses, each with its own domain so that the key sets never meet:
//   - detect reports (control_key, isotope/evidence.hpp): secret = the real
//     key's 32-byte commitment, "isotope/v1/control-key", 4 index bytes;
//   - audits (audit_control_key, isotope/audit.hpp): secret = the 32-byte
//     control seed, "isotope/v1/audit-control-key", 8 index bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "isotope/key.hpp"
#include "isotope/status.hpp"

namespace isotope::detail {

Status derive_control_key(std::span<const std::uint8_t> secret, std::string_view domain, std::uint64_t index,
                          unsigned index_bytes, std::size_t engine_ints, Key* out);

}  // namespace isotope::detail
