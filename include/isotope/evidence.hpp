// isotope — evidence: Ed25519 signing keys, canonical JSON, signed reports.
//
// A report is a JSON object in canonical form (docs/evidence.md, "Canonical
// JSON"), signed with Ed25519 over the canonical bytes of the object without
// its "signature" member. The functions here take and return JSON text, so
// this header needs no JSON library.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/export.h"
#include "isotope/key.hpp"
#include "isotope/status.hpp"

namespace isotope {

inline constexpr std::size_t SIGN_PUBLIC_KEY_BYTES = 32;  // crypto_sign_PUBLICKEYBYTES
inline constexpr std::size_t SIGN_SECRET_KEY_BYTES = 64;  // crypto_sign_SECRETKEYBYTES (seed || public key)
inline constexpr std::size_t SIGNATURE_BYTES = 64;        // crypto_sign_BYTES
// Reports are written with REPORT_SCHEMA; REPORT_SCHEMA_V1 (KGW only, before
// the scheme-neutral result fields) is still read and verified.
inline constexpr const char* REPORT_SCHEMA = "isotope-report/2";
inline constexpr const char* REPORT_SCHEMA_V1 = "isotope-report/1";
// Largest report file and deepest nesting that are read at all.
inline constexpr std::size_t REPORT_MAX_BYTES = 64u << 20;
inline constexpr std::size_t JSON_MAX_DEPTH = 64;

using SignPublicKey = std::array<std::uint8_t, SIGN_PUBLIC_KEY_BYTES>;

// An Ed25519 key pair whose secret half lives in guarded memory (libsodium),
// wiped on destruction. Move-only. Distinct from watermark keys.
class ISOTOPE_API SigningKey {
 public:
  SigningKey() = default;
  ~SigningKey();
  SigningKey(SigningKey&& other) noexcept;
  SigningKey& operator=(SigningKey&& other) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  static Status generate(SigningKey* out);
  // From the 32-byte seed (test vectors): crypto_sign_seed_keypair.
  static Status from_seed(const std::uint8_t* seed, std::size_t len, SigningKey* out);

  bool valid() const noexcept { return secret_ != nullptr; }
  const SignPublicKey& public_key() const noexcept { return public_; }
  std::string public_key_hex() const;
  // Detached Ed25519 signature of `message`.
  Status sign(std::string_view message, std::array<std::uint8_t, SIGNATURE_BYTES>* out) const;

 private:
  friend Status signer_write_files(const std::string& path, const SigningKey& key, bool overwrite);
  std::uint8_t* secret_ = nullptr;  // sodium_malloc'd, SIGN_SECRET_KEY_BYTES long
  SignPublicKey public_{};
};

// Signing key files (docs/evidence.md, "Signing keys"):
//   secret: "isotope-signing-key v1\n" + 64 hex digits of the seed + "\n", mode 0600
//   public: "isotope-signing-public-key v1\n" + 64 hex digits + "\n"
// signer_write_files writes both, the public one at `path` + ".pub"; refuses
// to replace existing files unless `overwrite`.
ISOTOPE_API Status signer_write_files(const std::string& path, const SigningKey& key, bool overwrite = false);
// Refuses (Code::key_permissions) a secret file that group or others may access.
ISOTOPE_API Status signer_read_secret(const std::string& path, SigningKey* out);
// Reads a public key file, or accepts `text` that is just 64 hex digits.
ISOTOPE_API Status signer_read_public(const std::string& path, SignPublicKey* out);
ISOTOPE_API Status signer_parse_public_hex(std::string_view hex, SignPublicKey* out);
ISOTOPE_API std::string signer_public_file_text(const SignPublicKey& pk);

// Canonical JSON: parses `json` and writes its canonical serialisation (no
// trailing newline) to *out. Code::parse for text that is not JSON, is nested
// deeper than JSON_MAX_DEPTH, holds invalid UTF-8, or is too large.
ISOTOPE_API Status canonical_json(std::string_view json, std::string* out);

// Signs a report: `unsigned_json` is a JSON object (a "signature" member, if
// any, is dropped first). *out receives the canonical serialisation of the
// object with "signature": {"algorithm": "ed25519", "public_key": HEX,
// "value": HEX} added, followed by one line feed: the bytes of a report file.
ISOTOPE_API Status report_sign(std::string_view unsigned_json, const SigningKey& key, std::string* out);

// Outcome of checking a report file's bytes without the watermark key.
struct ISOTOPE_API ReportCheck {
  enum class Outcome {
    ok,             // canonical, well-formed, signature valid (and by the expected signer, if given)
    malformed,      // not JSON, not canonical, or not of the schema
    bad_signature,  // the signature does not match, or is by another signer than expected
  };
  Outcome outcome = Outcome::malformed;
  std::string message;           // why, when not ok
  std::string signer_hex;        // the public key in the report (when readable)
  std::string command;           // "detect" or "audit" (when readable)
  std::string unsigned_json;     // canonical bytes that were signed (when readable)
};

// Checks canonical form (the bytes must equal the canonical serialisation of
// their own content plus one line feed), the schema (docs/evidence.md) and the
// Ed25519 signature. If `expected_signer` is non-null the report must be
// signed by that key.
ISOTOPE_API ReportCheck report_check(std::string_view bytes, const SignPublicKey* expected_signer = nullptr);

// One difference between two JSON documents: `path` like
// "result.texts[0].green"; `expected`/`actual` are canonical serialisations,
// or "(absent)".
struct ISOTOPE_API JsonDifference {
  std::string path;
  std::string expected;
  std::string actual;
};
// Compares two JSON texts value by value (numbers by their canonical form);
// an empty list means they are equal. `prefix` starts every path.
ISOTOPE_API Status json_differences(std::string_view expected, std::string_view actual, const std::string& prefix,
                        std::vector<JsonDifference>* out);

// ---- pieces of a report's result ----

// Control key `index` of a report: BLAKE2b-256 keyed with the 32 bytes of the
// real key's commitment, of "isotope/v1/control-key" || LE32(index). Anyone can
// derive them from the commitment; nobody can choose them. For a scheme that
// takes an engine key (engine_ints > 0) these 32 bytes seed an engine key of
// that many integers (Key::from_seed).
ISOTOPE_API Status control_key(const std::array<std::uint8_t, COMMITMENT_BYTES>& commitment, std::uint32_t index,
                               Key* out, std::size_t engine_ints = 0);

// log10 p as scored tuples accumulate, at up to `points` checkpoints: the
// checkpoint k (1..m, m = min(points, N)) is after ceil(k N / m) scored tuples,
// N = the number of scored (non-NaN) entries of `scores`; the p-value is the
// exact tail of the profile's scheme for the running sum of the scores.
struct ISOTOPE_API Curve {
  std::vector<std::uint64_t> scored;
  std::vector<double> log10_p;
};
ISOTOPE_API Curve score_curve(const TokenScores& scores, const Profile& profile, std::size_t points);
// The checkpoints of a curve over N scored tuples: ceil(k N / m), k = 1..m.
ISOTOPE_API std::vector<std::uint64_t> curve_checkpoints(std::uint64_t n_total, std::size_t points);
// The curve from running sums computed elsewhere (a cluster's partitions):
// statistic[k] is the sum of the scores of the first scored[k] tuples.
// Fails if the two differ in length.
ISOTOPE_API Status curve_from_sums(const Profile& profile, std::span<const std::uint64_t> scored,
                                   std::span<const double> statistic, Curve* out);

}  // namespace isotope
