// isotope — watermark keys and their public commitments.
#pragma once
#include "isotope/export.h"
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "isotope/status.hpp"

namespace isotope {

inline constexpr std::size_t KEY_BYTES = 32;
inline constexpr std::size_t COMMITMENT_BYTES = 32;

// A 32-byte secret watermark key held in guarded memory (libsodium), wiped on
// destruction. Move-only. Never printed by the library.
class ISOTOPE_API Key {
 public:
  Key() = default;
  ~Key();
  Key(Key&& other) noexcept;
  Key& operator=(Key&& other) noexcept;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  // A fresh key from libsodium's CSPRNG.
  static Status generate(Key* out);
  // A key from exactly KEY_BYTES bytes (test vectors, re-implementations).
  static Status from_bytes(const std::uint8_t* bytes, std::size_t len, Key* out);

  bool valid() const noexcept { return bytes_ != nullptr; }
  const std::uint8_t* data() const noexcept { return bytes_; }

  // Commitment = BLAKE2b-256 keyed with the key over the domain string
  // "isotope/v1/key-commitment" (docs/spec.md). Safe to publish.
  std::array<std::uint8_t, COMMITMENT_BYTES> commitment() const;
  std::string commitment_hex() const;

 private:
  std::uint8_t* bytes_ = nullptr;  // sodium_malloc'd, KEY_BYTES long
};

// Key file: text, two lines: "isotope-watermark-key v1" and 64 lowercase hex
// digits. Written with mode 0600, atomically; refuses to overwrite unless
// `overwrite` is true.
ISOTOPE_API Status key_write_file(const std::string& path, const Key& key, bool overwrite = false);
// Refuses (Code::key_permissions) a file that group or others may read or write.
ISOTOPE_API Status key_read_file(const std::string& path, Key* out);

}  // namespace isotope
