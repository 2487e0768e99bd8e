// Watermark keys: guarded memory, key files, public commitments.
#include "isotope/key.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "common/secret_file.hpp"
#include "isotope/io.hpp"

namespace isotope {
namespace {

constexpr std::string_view KEY_FILE_HEADER = "isotope-watermark-key v1";
constexpr std::string_view COMMITMENT_DOMAIN = "isotope/v1/key-commitment";
// Header line, newline, 64 hex digits, newline.
constexpr std::size_t KEY_FILE_SIZE = KEY_FILE_HEADER.size() + 1 + 2 * KEY_BYTES + 1;


// Allocates guarded memory for a key; nullptr on failure.
std::uint8_t* alloc_key_bytes() {
  return static_cast<std::uint8_t*>(sodium_malloc(KEY_BYTES));
}


bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }


}  // namespace

Key::~Key() {
  if (bytes_ != nullptr) {
    sodium_memzero(bytes_, KEY_BYTES);
    sodium_free(bytes_);
  }
}

Key::Key(Key&& other) noexcept : bytes_(other.bytes_) { other.bytes_ = nullptr; }

Key& Key::operator=(Key&& other) noexcept {
  if (this != &other) {
    if (bytes_ != nullptr) {
      sodium_memzero(bytes_, KEY_BYTES);
      sodium_free(bytes_);
    }
    bytes_ = other.bytes_;
    other.bytes_ = nullptr;
  }
  return *this;
}

Status Key::generate(Key* out) {
  if (out == nullptr) return {Code::invalid_argument, "Key::generate: null output"};
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  std::uint8_t* p = alloc_key_bytes();
  if (p == nullptr) return {Code::out_of_memory, "cannot allocate guarded memory for a key"};
  randombytes_buf(p, KEY_BYTES);
  Key k;
  k.bytes_ = p;
  *out = std::move(k);
  return Status::OK();
}

Status Key::from_bytes(const std::uint8_t* bytes, std::size_t len, Key* out) {
  if (out == nullptr) return {Code::invalid_argument, "Key::from_bytes: null output"};
  if (bytes == nullptr || len != KEY_BYTES)
    return {Code::invalid_argument, "a key is exactly " + std::to_string(KEY_BYTES) + " bytes"};
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  std::uint8_t* p = alloc_key_bytes();
  if (p == nullptr) return {Code::out_of_memory, "cannot allocate guarded memory for a key"};
  std::memcpy(p, bytes, KEY_BYTES);
  Key k;
  k.bytes_ = p;
  *out = std::move(k);
  return Status::OK();
}

std::array<std::uint8_t, COMMITMENT_BYTES> Key::commitment() const {
  std::array<std::uint8_t, COMMITMENT_BYTES> out{};
  if (bytes_ == nullptr || detail::ensure_sodium().code() != Code::ok) return out;
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(COMMITMENT_DOMAIN.data()),
                     COMMITMENT_DOMAIN.size(), bytes_, KEY_BYTES);
  return out;
}

std::string Key::commitment_hex() const {
  const auto c = commitment();
  return to_hex(c);
}

Status key_write_file(const std::string& path, const Key& key, bool overwrite) {
  if (!key.valid()) return {Code::invalid_argument, "cannot write an empty key"};
  if (path.empty()) return {Code::invalid_argument, "empty key file path"};
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!overwrite) return {Code::io, "'" + path + "' already exists"};
    if (S_ISDIR(st.st_mode)) return {Code::io, "'" + path + "' is a directory"};
  }

  // The whole file in a fixed buffer, so that no copy of the key's hex lingers
  // in freed heap memory; wiped before returning.
  char buf[KEY_FILE_SIZE];
  static const char* digits = "0123456789abcdef";
  std::memcpy(buf, KEY_FILE_HEADER.data(), KEY_FILE_HEADER.size());
  std::size_t pos = KEY_FILE_HEADER.size();
  buf[pos++] = '\n';
  const std::uint8_t* k = key.data();
  for (std::size_t i = 0; i < KEY_BYTES; ++i) {
    buf[pos++] = digits[k[i] >> 4];
    buf[pos++] = digits[k[i] & 15];
  }
  buf[pos++] = '\n';
  Status st_write = write_file_atomic(path, std::string_view(buf, pos), 0600);
  sodium_memzero(buf, sizeof buf);
  return st_write;
}

Status key_read_file(const std::string& path, Key* out) {
  if (out == nullptr) return {Code::invalid_argument, "key_read_file: null output"};
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  char buf[KEY_FILE_SIZE + 1];
  std::size_t got = 0;
  Status permissions;
  ISOTOPE_RETURN_IF_ERROR(detail::read_secret_file(path, "key file", buf, sizeof buf, &got, &permissions));

  auto fail = [&](const std::string& why) {
    sodium_memzero(buf, sizeof buf);
    return Status(Code::key_format, "'" + path + "' is not an isotope key file: " + why);
  };
  const std::size_t hdr = KEY_FILE_HEADER.size();
  if (got == 0) return fail("the file is empty");
  if (got > hdr && std::memcmp(buf, KEY_FILE_HEADER.data(), hdr) == 0 && buf[hdr] == '\r')
    return fail("its lines end with a carriage return (CR, Windows line endings); remove it with: sed -i 's/\\r$//' " +
                path);
  if (got < hdr + 1 || std::memcmp(buf, KEY_FILE_HEADER.data(), hdr) != 0 || buf[hdr] != '\n')
    return fail("the first line must be '" + std::string(KEY_FILE_HEADER) + "'");
  const char* hex = buf + hdr + 1;
  const std::size_t rest = got - hdr - 1;
  std::size_t ndigits = 0;
  while (ndigits < rest && ndigits < 2 * KEY_BYTES && is_lower_hex(hex[ndigits])) ++ndigits;
  if (ndigits < 2 * KEY_BYTES) {
    if (ndigits < rest && hex[ndigits] == '\r')
      return fail("its lines end with a carriage return (CR, Windows line endings); remove it with: sed -i 's/\\r$//' " +
                  path);
    if (ndigits < rest && hex[ndigits] != '\n')
      return fail("the second line must be " + std::to_string(2 * KEY_BYTES) + " lowercase hexadecimal digits");
    return fail("the key line is too short (" + std::to_string(2 * KEY_BYTES) + " hexadecimal digits expected)");
  }
  const std::size_t tail = rest - ndigits;
  if (tail >= 1 && hex[ndigits] == '\r')
    return fail("its lines end with a carriage return (CR, Windows line endings); remove it with: sed -i 's/\\r$//' " +
                path);
  if (tail > 1 || (tail == 1 && hex[ndigits] != '\n'))
    return fail("unexpected data after the key line (expected " + std::to_string(2 * KEY_BYTES) +
                " lowercase hexadecimal digits and an optional final newline)");

  // The file is a key: only now does its mode matter.
  if (!permissions.ok()) {
    sodium_memzero(buf, sizeof buf);
    return permissions;
  }
  std::uint8_t raw[KEY_BYTES];
  std::size_t bin_len = 0;
  const int rc = sodium_hex2bin(raw, KEY_BYTES, hex, 2 * KEY_BYTES, nullptr, &bin_len, nullptr);
  sodium_memzero(buf, sizeof buf);
  Key k;
  Status st_key = (rc == 0 && bin_len == KEY_BYTES)
                      ? Key::from_bytes(raw, KEY_BYTES, &k)
                      : Status(Code::key_format, "'" + path + "' is not an isotope key file: the key line could not be decoded");
  sodium_memzero(raw, sizeof raw);
  ISOTOPE_RETURN_IF_ERROR(st_key);
  *out = std::move(k);
  return Status::OK();
}

}  // namespace isotope
