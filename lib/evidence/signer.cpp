// Ed25519 signing keys for reports: guarded memory and key files.
#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "isotope/evidence.hpp"
#include "common/secret_file.hpp"
#include "isotope/io.hpp"

namespace isotope {
namespace {

constexpr std::string_view SECRET_HEADER = "isotope-signing-key v1";
constexpr std::string_view PUBLIC_HEADER = "isotope-signing-public-key v1";
constexpr std::size_t SEED_BYTES = crypto_sign_SEEDBYTES;
static_assert(crypto_sign_PUBLICKEYBYTES == SIGN_PUBLIC_KEY_BYTES);
static_assert(crypto_sign_SECRETKEYBYTES == SIGN_SECRET_KEY_BYTES);
static_assert(crypto_sign_BYTES == SIGNATURE_BYTES);
static_assert(SEED_BYTES == 32);
// Header, newline, 64 hex digits, newline.
constexpr std::size_t SECRET_FILE_SIZE = SECRET_HEADER.size() + 1 + 2 * SEED_BYTES + 1;


bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }



// Checks "HEADER\n" + 64 lowercase hex + optional "\n" and returns where the
// hex digits start, or an error message.
bool parse_two_line(std::string_view text, std::string_view header, std::string_view* hex, std::string* why) {
  if (text.empty()) {
    *why = "the file is empty";
    return false;
  }
  const bool cr = text.find('\r') != std::string_view::npos;
  if (cr && text.substr(0, header.size()) == header) {
    *why = "its lines end with a carriage return (CR, Windows line endings); remove it with: sed -i 's/\\r$//' FILE";
    return false;
  }
  if (text.size() < header.size() + 1 || text.substr(0, header.size()) != header || text[header.size()] != '\n') {
    *why = "the first line must be '" + std::string(header) + "'";
    return false;
  }
  std::string_view rest = text.substr(header.size() + 1);
  std::size_t n = 0;
  while (n < rest.size() && n < 64 && is_lower_hex(rest[n])) ++n;
  if (n < 64) {
    *why = "the second line must be 64 lowercase hexadecimal digits";
    return false;
  }
  const std::string_view tail = rest.substr(64);
  if (!(tail.empty() || tail == "\n")) {
    *why = "unexpected data after the key line";
    return false;
  }
  *hex = rest.substr(0, 64);
  return true;
}

}  // namespace

SigningKey::~SigningKey() {
  if (secret_ != nullptr) {
    sodium_memzero(secret_, SIGN_SECRET_KEY_BYTES);
    sodium_free(secret_);
  }
}

SigningKey::SigningKey(SigningKey&& other) noexcept : secret_(other.secret_), public_(other.public_) {
  other.secret_ = nullptr;
}

SigningKey& SigningKey::operator=(SigningKey&& other) noexcept {
  if (this != &other) {
    if (secret_ != nullptr) {
      sodium_memzero(secret_, SIGN_SECRET_KEY_BYTES);
      sodium_free(secret_);
    }
    secret_ = other.secret_;
    public_ = other.public_;
    other.secret_ = nullptr;
  }
  return *this;
}

Status SigningKey::generate(SigningKey* out) {
  if (out == nullptr) return {Code::invalid_argument, "SigningKey::generate: null output"};
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  auto* seed = static_cast<std::uint8_t*>(sodium_malloc(SEED_BYTES));
  if (seed == nullptr) return {Code::out_of_memory, "cannot allocate guarded memory for a signing key"};
  randombytes_buf(seed, SEED_BYTES);
  Status st = from_seed(seed, SEED_BYTES, out);
  sodium_memzero(seed, SEED_BYTES);
  sodium_free(seed);
  return st;
}

Status SigningKey::from_seed(const std::uint8_t* seed, std::size_t len, SigningKey* out) {
  if (out == nullptr) return {Code::invalid_argument, "SigningKey::from_seed: null output"};
  if (seed == nullptr || len != SEED_BYTES) return {Code::invalid_argument, "a signing key seed is 32 bytes"};
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  auto* sk = static_cast<std::uint8_t*>(sodium_malloc(SIGN_SECRET_KEY_BYTES));
  if (sk == nullptr) return {Code::out_of_memory, "cannot allocate guarded memory for a signing key"};
  SigningKey k;
  k.secret_ = sk;
  if (crypto_sign_seed_keypair(k.public_.data(), sk, seed) != 0)
    return {Code::crypto, "Ed25519 key generation failed"};
  *out = std::move(k);
  return Status::OK();
}

std::string SigningKey::public_key_hex() const { return to_hex(public_); }

Status SigningKey::sign(std::string_view message, std::array<std::uint8_t, SIGNATURE_BYTES>* out) const {
  if (secret_ == nullptr || out == nullptr) return {Code::invalid_argument, "signing with an empty key"};
  if (crypto_sign_detached(out->data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                           message.size(), secret_) != 0)
    return {Code::crypto, "Ed25519 signing failed"};
  return Status::OK();
}

std::string signer_public_file_text(const SignPublicKey& pk) {
  return std::string(PUBLIC_HEADER) + "\n" + to_hex(pk) + "\n";
}

Status signer_write_files(const std::string& path, const SigningKey& key, bool overwrite) {
  if (!key.valid()) return {Code::invalid_argument, "cannot write an empty signing key"};
  if (path.empty()) return {Code::invalid_argument, "empty signing key file path"};
  const std::string pub_path = path + ".pub";
  for (const std::string& p : {path, pub_path}) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) {
      if (!overwrite) return {Code::io, "'" + p + "' already exists"};
      if (S_ISDIR(st.st_mode)) return {Code::io, "'" + p + "' is a directory"};
    }
  }
  // The seed is the first half of libsodium's secret key.
  char buf[SECRET_FILE_SIZE];
  static const char* digits = "0123456789abcdef";
  std::memcpy(buf, SECRET_HEADER.data(), SECRET_HEADER.size());
  std::size_t pos = SECRET_HEADER.size();
  buf[pos++] = '\n';
  for (std::size_t i = 0; i < SEED_BYTES; ++i) {
    buf[pos++] = digits[key.secret_[i] >> 4];
    buf[pos++] = digits[key.secret_[i] & 15];
  }
  buf[pos++] = '\n';
  Status st = write_file_atomic(path, std::string_view(buf, pos), 0600);
  sodium_memzero(buf, sizeof buf);
  ISOTOPE_RETURN_IF_ERROR(st);
  return write_file_atomic(pub_path, signer_public_file_text(key.public_key()), 0644);
}

Status signer_read_secret(const std::string& path, SigningKey* out) {
  if (out == nullptr) return {Code::invalid_argument, "signer_read_secret: null output"};
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  char buf[SECRET_FILE_SIZE + 1];
  std::size_t got = 0;
  Status permissions;
  ISOTOPE_RETURN_IF_ERROR(detail::read_secret_file(path, "signing key file", buf, sizeof buf, &got, &permissions));
  std::string_view hex;
  std::string why;
  if (!parse_two_line(std::string_view(buf, got), SECRET_HEADER, &hex, &why)) {
    sodium_memzero(buf, sizeof buf);
    if (got > 0 && std::string_view(buf, got).substr(0, PUBLIC_HEADER.size()) == PUBLIC_HEADER)
      why = "it is a public key file; give the secret one (without .pub)";
    return {Code::key_format, "'" + path + "' is not an isotope signing key file: " + why};
  }
  // The file is a signing key: only now does its mode matter.
  if (!permissions.ok()) {
    sodium_memzero(buf, sizeof buf);
    return permissions;
  }
  std::uint8_t seed[SEED_BYTES];
  std::size_t len = 0;
  const int rc = sodium_hex2bin(seed, SEED_BYTES, hex.data(), hex.size(), nullptr, &len, nullptr);
  sodium_memzero(buf, sizeof buf);
  SigningKey k;
  Status st_key = (rc == 0 && len == SEED_BYTES) ? SigningKey::from_seed(seed, SEED_BYTES, &k)
                                                  : Status(Code::key_format, "'" + path + "': cannot decode the key");
  sodium_memzero(seed, sizeof seed);
  ISOTOPE_RETURN_IF_ERROR(st_key);
  *out = std::move(k);
  return Status::OK();
}

Status signer_parse_public_hex(std::string_view hex, SignPublicKey* out) {
  if (out == nullptr) return {Code::invalid_argument, "signer_parse_public_hex: null output"};
  if (hex.size() != 2 * SIGN_PUBLIC_KEY_BYTES)
    return {Code::key_format, "a signer's public key is 64 lowercase hexadecimal digits"};
  for (char c : hex)
    if (!is_lower_hex(c)) return {Code::key_format, "a signer's public key is 64 lowercase hexadecimal digits"};
  std::size_t len = 0;
  if (sodium_hex2bin(out->data(), out->size(), hex.data(), hex.size(), nullptr, &len, nullptr) != 0 ||
      len != SIGN_PUBLIC_KEY_BYTES)
    return {Code::key_format, "cannot decode the public key"};
  return Status::OK();
}

Status signer_read_public(const std::string& path, SignPublicKey* out) {
  std::string text;
  ISOTOPE_RETURN_IF_ERROR(read_file(path, &text, MAX_PUBLIC_KEY_FILE_BYTES));
  if (text.size() > 4096) return {Code::key_format, "'" + path + "' is not an isotope public signing key file"};
  std::string_view hex;
  std::string why;
  if (parse_two_line(text, PUBLIC_HEADER, &hex, &why)) return signer_parse_public_hex(hex, out);
  // A bare hex line (as printed by `isotope signer new`) is accepted too.
  std::string_view bare = text;
  if (!bare.empty() && bare.back() == '\n') bare.remove_suffix(1);
  if (bare.size() == 64 && signer_parse_public_hex(bare, out).ok()) return Status::OK();
  if (text.substr(0, SECRET_HEADER.size()) == SECRET_HEADER)
    why = "it is a secret signing key; give its .pub file";
  return {Code::key_format, "'" + path + "' is not an isotope public signing key file: " + why};
}

}  // namespace isotope
