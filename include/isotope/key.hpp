// isotope — watermark keys and their public commitments.
#pragma once
#include "isotope/export.h"
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "isotope/status.hpp"

namespace isotope {

inline constexpr std::size_t KEY_BYTES = 32;
inline constexpr std::size_t COMMITMENT_BYTES = 32;
// An engine key holds 1 to MAX_ENGINE_INTS unsigned 64-bit integers.
inline constexpr std::size_t MAX_ENGINE_INTS = 256;

// A secret watermark key held in guarded memory (libsodium), wiped on
// destruction. Move-only. Never printed by the library. Two kinds:
//  - an isotope key: 32 random bytes (the isotope schemes: kgw, gumbel,
//  synthid);
//  - an engine key: the integer key(s) of another serving engine's watermark
//    (vLLM: one 64-bit key; a SynthID-style engine: one integer per layer),
//    1 to MAX_ENGINE_INTS unsigned 64-bit integers, with a 32-byte random
//    salt that makes its commitment hiding (docs/spec.md, "Engine keys").
// A scheme takes one kind only (Scheme::engine_key_ints) and refuses the other.
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

  // An engine key of `ints` (1 to MAX_ENGINE_INTS values) with a fresh random
  // salt (Code::invalid_argument for no or too many integers).
  static Status from_engine_ints(std::span<const std::uint64_t> ints, Key* out);
  // The same with a given 32-byte salt (key files, test vectors).
  static Status from_engine_ints(std::span<const std::uint64_t> ints, const std::uint8_t* salt, std::size_t salt_len,
                                 Key* out);
  // A key of the kind a scheme needs, derived from 32 seed bytes (the audit's
  // and the reports' control keys): with engine_ints == 0 the isotope key
  // made of the seed bytes; otherwise an engine key of engine_ints integers,
  // integer i = the first 8 bytes (little-endian) of BLAKE2b-256 keyed with
  // the seed over "isotope/v1/engine-key-from-seed" || u32le(i), and the salt
  // BLAKE2b-256 keyed with the seed over "isotope/v1/engine-salt-from-seed".
  static Status from_seed(const std::uint8_t* seed, std::size_t len, std::size_t engine_ints, Key* out);

  bool valid() const noexcept { return bytes_ != nullptr; }
  // True for an engine key.
  bool is_engine() const noexcept { return n_ints_ > 0; }
  // An isotope key's 32 bytes; an engine key's 32-byte salt (never a PRF key:
  // the PRFs of the isotope schemes refuse engine keys).
  const std::uint8_t* data() const noexcept { return bytes_; }
  // An engine key's integers (empty for an isotope key).
  std::span<const std::uint64_t> engine_ints() const noexcept { return {ints_, n_ints_}; }

  // Isotope key: BLAKE2b-256 keyed with the key over the domain string
  // "isotope/v1/key-commitment". Engine key: BLAKE2b-256 keyed with the salt
  // over "isotope/v1/engine-key-commitment" || u32le(count) || the integers
  // as u64le (docs/spec.md). Safe to publish; reports carry it, never the key.
  std::array<std::uint8_t, COMMITMENT_BYTES> commitment() const;
  std::string commitment_hex() const;

 private:
  void wipe() noexcept;
  std::uint8_t* bytes_ = nullptr;  // sodium_malloc'd, KEY_BYTES long (engine key: the salt)
  std::uint64_t* ints_ = nullptr;  // sodium_malloc'd, n_ints_ long (engine key only)
  std::size_t n_ints_ = 0;
};

// Whether `key` is of the kind `engine_ints` asks for (0: an isotope key;
// N > 0: an engine key of exactly N integers); Code::key_format with a
// message naming `what` (the scheme) and both kinds otherwise.
ISOTOPE_API Status check_key_kind(const Key& key, std::size_t engine_ints, std::string_view what);

// An engine key's integers typed as text: unsigned decimal integers below
// 2^64 separated by commas, with optional spaces, tabs and line ends around
// each (e.g. "15485863" or "654, 400, 836"). Code::invalid_argument names
// what is wrong, never the text itself (it is secret).
ISOTOPE_API Status parse_engine_ints(std::string_view text, std::vector<std::uint64_t>* out);

// Key file, isotope key: text, two lines: "isotope-watermark-key v1" and 64
// lowercase hex digits. Engine key: three lines: "isotope-engine-key v1",
// "ints " and the integers in decimal separated by commas, "salt " and 64
// lowercase hex digits. Written with mode 0600, atomically; refuses to
// overwrite unless `overwrite` is true.
ISOTOPE_API Status key_write_file(const std::string& path, const Key& key, bool overwrite = false);
// Refuses (Code::key_permissions) a file that group or others may read or write.
ISOTOPE_API Status key_read_file(const std::string& path, Key* out);

}  // namespace isotope
