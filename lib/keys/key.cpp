// Watermark keys: guarded memory, key files, public commitments.
#include "isotope/key.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "common/secret_file.hpp"
#include "isotope/io.hpp"
#include "keys/control_key.hpp"

namespace isotope {
namespace {

constexpr std::string_view KEY_FILE_HEADER = "isotope-watermark-key v1";
constexpr std::string_view COMMITMENT_DOMAIN = "isotope/v1/key-commitment";
constexpr std::string_view ENGINE_KEY_FILE_HEADER = "isotope-engine-key v1";
constexpr std::string_view ENGINE_COMMITMENT_DOMAIN = "isotope/v1/engine-key-commitment";
// Header, "ints " and up to MAX_ENGINE_INTS 20-digit integers with commas,
// "salt " and 64 hex digits.
constexpr std::size_t ENGINE_KEY_FILE_MAX =
    ENGINE_KEY_FILE_HEADER.size() + 1 + 5 + MAX_ENGINE_INTS * 21 + 5 + 2 * KEY_BYTES + 2;
// Header line, newline, 64 hex digits, newline.
constexpr std::size_t KEY_FILE_SIZE = KEY_FILE_HEADER.size() + 1 + 2 * KEY_BYTES + 1;

// Allocates guarded memory for a key; nullptr on failure.
std::uint8_t* alloc_key_bytes() { return static_cast<std::uint8_t*>(sodium_malloc(KEY_BYTES)); }

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

const char* const HEX_DIGITS = "0123456789abcdef";

// Writes an engine key file (after the overwrite checks of key_write_file).
// The file is built in a fixed buffer, wiped before returning.
Status write_engine_key(const std::string& path, const Key& key) {
  char buf[ENGINE_KEY_FILE_MAX];
  std::size_t pos = 0;
  auto put = [&](std::string_view t) {
    std::memcpy(buf + pos, t.data(), t.size());
    pos += t.size();
  };
  put(ENGINE_KEY_FILE_HEADER);
  put("\nints ");
  const auto ints = key.engine_ints();
  for (std::size_t i = 0; i < ints.size(); ++i) {
    if (i > 0) put(",");
    char digits[20];
    std::size_t nd = 0;
    std::uint64_t v = ints[i];
    do {
      digits[nd++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (nd > 0) buf[pos++] = digits[--nd];
    sodium_memzero(digits, sizeof digits);
  }
  put("\nsalt ");
  for (std::size_t i = 0; i < KEY_BYTES; ++i) {
    buf[pos++] = HEX_DIGITS[key.data()[i] >> 4];
    buf[pos++] = HEX_DIGITS[key.data()[i] & 15];
  }
  buf[pos++] = '\n';
  Status st = write_file_atomic(path, std::string_view(buf, pos), 0600);
  sodium_memzero(buf, sizeof buf);
  return st;
}

// Parses the body of an engine key file (after its header line). On success
// fills ints/n and salt; the caller wipes them.
bool parse_engine_key(const char* p, std::size_t n, std::uint64_t* ints, std::size_t* count, std::uint8_t* salt,
                      std::string* why) {
  std::size_t i = 0;
  auto expect = [&](std::string_view t) {
    if (n - i < t.size() || std::memcmp(p + i, t.data(), t.size()) != 0) return false;
    i += t.size();
    return true;
  };
  if (!expect("ints ")) {
    *why = "the second line must be 'ints ' and the engine's integer key(s), separated by commas";
    return false;
  }
  *count = 0;
  for (;;) {
    if (i >= n || p[i] < '0' || p[i] > '9') {
      *why = "each integer of the 'ints' line must be a non-negative decimal number";
      return false;
    }
    std::uint64_t v = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
      const std::uint64_t d = static_cast<std::uint64_t>(p[i] - '0');
      if (v > (UINT64_MAX - d) / 10) {
        *why = "an integer of the 'ints' line does not fit in 64 bits";
        return false;
      }
      v = v * 10 + d;
      ++i;
    }
    if (*count == MAX_ENGINE_INTS) {
      *why = "more than " + std::to_string(MAX_ENGINE_INTS) + " integers";
      return false;
    }
    ints[(*count)++] = v;
    if (i < n && p[i] == ',') {
      ++i;
      continue;
    }
    break;
  }
  if (i < n && p[i] == '\r') {
    *why = "its lines end with a carriage return (CR, Windows line endings)";
    return false;
  }
  if (!expect("\nsalt ")) {
    *why = "the 'ints' line must end after its integers, followed by the 'salt' line";
    return false;
  }
  std::size_t nd = 0;
  while (i + nd < n && nd < 2 * KEY_BYTES && is_lower_hex(p[i + nd])) ++nd;
  if (nd != 2 * KEY_BYTES) {
    *why = "the 'salt' line must hold " + std::to_string(2 * KEY_BYTES) + " lowercase hexadecimal digits";
    return false;
  }
  std::size_t bin_len = 0;
  if (sodium_hex2bin(salt, KEY_BYTES, p + i, 2 * KEY_BYTES, nullptr, &bin_len, nullptr) != 0 || bin_len != KEY_BYTES) {
    *why = "the 'salt' line could not be decoded";
    return false;
  }
  i += nd;
  if (i < n && !(n - i == 1 && p[i] == '\n')) {
    *why = "unexpected data after the 'salt' line";
    return false;
  }
  return true;
}

}  // namespace

void Key::wipe() noexcept {
  if (bytes_ != nullptr) {
    sodium_memzero(bytes_, KEY_BYTES);
    sodium_free(bytes_);
  }
  if (ints_ != nullptr) {
    sodium_memzero(ints_, n_ints_ * sizeof(std::uint64_t));
    sodium_free(ints_);
  }
  bytes_ = nullptr;
  ints_ = nullptr;
  n_ints_ = 0;
}

Key::~Key() { wipe(); }

Key::Key(Key&& other) noexcept : bytes_(other.bytes_), ints_(other.ints_), n_ints_(other.n_ints_) {
  other.bytes_ = nullptr;
  other.ints_ = nullptr;
  other.n_ints_ = 0;
}

Key& Key::operator=(Key&& other) noexcept {
  if (this != &other) {
    wipe();
    bytes_ = other.bytes_;
    ints_ = other.ints_;
    n_ints_ = other.n_ints_;
    other.bytes_ = nullptr;
    other.ints_ = nullptr;
    other.n_ints_ = 0;
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

Status Key::from_engine_ints(std::span<const std::uint64_t> ints, const std::uint8_t* salt, std::size_t salt_len,
                             Key* out) {
  if (out == nullptr) return {Code::invalid_argument, "Key::from_engine_ints: null output"};
  if (ints.empty() || ints.size() > MAX_ENGINE_INTS)
    return {Code::invalid_argument, "an engine key holds 1 to " + std::to_string(MAX_ENGINE_INTS) + " integers (got " +
                                        std::to_string(ints.size()) + ")"};
  if (salt == nullptr || salt_len != KEY_BYTES)
    return {Code::invalid_argument, "an engine key's salt is exactly " + std::to_string(KEY_BYTES) + " bytes"};
  Key k;
  ISOTOPE_RETURN_IF_ERROR(Key::from_bytes(salt, salt_len, &k));
  k.ints_ = static_cast<std::uint64_t*>(sodium_malloc(ints.size() * sizeof(std::uint64_t)));
  if (k.ints_ == nullptr) return {Code::out_of_memory, "cannot allocate guarded memory for a key"};
  k.n_ints_ = ints.size();
  std::memcpy(k.ints_, ints.data(), ints.size() * sizeof(std::uint64_t));
  *out = std::move(k);
  return Status::OK();
}

Status Key::from_engine_ints(std::span<const std::uint64_t> ints, Key* out) {
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  std::uint8_t salt[KEY_BYTES];
  randombytes_buf(salt, sizeof salt);
  Status st = from_engine_ints(ints, salt, sizeof salt, out);
  sodium_memzero(salt, sizeof salt);
  return st;
}

Status Key::from_seed(const std::uint8_t* seed, std::size_t len, std::size_t engine_ints, Key* out) {
  if (engine_ints == 0) return from_bytes(seed, len, out);
  if (out == nullptr) return {Code::invalid_argument, "Key::from_seed: null output"};
  if (seed == nullptr || len != KEY_BYTES)
    return {Code::invalid_argument, "a key seed is exactly " + std::to_string(KEY_BYTES) + " bytes"};
  if (engine_ints > MAX_ENGINE_INTS)
    return {Code::invalid_argument, "an engine key holds at most " + std::to_string(MAX_ENGINE_INTS) + " integers"};
  ISOTOPE_RETURN_IF_ERROR(detail::ensure_sodium());
  constexpr std::string_view int_domain = "isotope/v1/engine-key-from-seed";
  constexpr std::string_view salt_domain = "isotope/v1/engine-salt-from-seed";
  std::uint64_t ints[MAX_ENGINE_INTS];
  std::uint8_t digest[32];
  std::uint8_t msg[int_domain.size() + 4];
  std::memcpy(msg, int_domain.data(), int_domain.size());
  for (std::size_t i = 0; i < engine_ints; ++i) {
    for (int b = 0; b < 4; ++b) msg[int_domain.size() + b] = static_cast<std::uint8_t>(i >> (8 * b));
    crypto_generichash(digest, sizeof digest, msg, sizeof msg, seed, len);
    std::uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = (v << 8) | digest[b];
    ints[i] = v;
  }
  std::uint8_t salt[KEY_BYTES];
  crypto_generichash(salt, sizeof salt, reinterpret_cast<const unsigned char*>(salt_domain.data()), salt_domain.size(),
                     seed, len);
  Status st = from_engine_ints({ints, engine_ints}, salt, sizeof salt, out);
  sodium_memzero(ints, sizeof ints);
  sodium_memzero(digest, sizeof digest);
  sodium_memzero(salt, sizeof salt);
  return st;
}

Status parse_engine_ints(std::string_view text, std::vector<std::uint64_t>* out) {
  if (out == nullptr) return {Code::invalid_argument, "parse_engine_ints: null output"};
  out->clear();
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t i = 0;
  const std::size_t n = text.size();
  for (;;) {
    while (i < n && space(text[i])) ++i;
    if (i >= n || text[i] < '0' || text[i] > '9') {
      out->clear();
      return {Code::invalid_argument,
              out->empty() && i >= n && n == 0
                  ? "no integer given"
                  : "integer " + std::to_string(out->size() + 1) +
                        " is not an unsigned decimal number (digits 0-9, integers separated by commas)"};
    }
    std::uint64_t v = 0;
    while (i < n && text[i] >= '0' && text[i] <= '9') {
      const std::uint64_t d = static_cast<std::uint64_t>(text[i] - '0');
      if (v > (UINT64_MAX - d) / 10) {
        const std::size_t which = out->size() + 1;
        sodium_memzero(out->data(), out->size() * sizeof(std::uint64_t));
        out->clear();
        return {Code::invalid_argument,
                "integer " + std::to_string(which) + " does not fit in 64 bits (at most " + "18446744073709551615)"};
      }
      v = v * 10 + d;
      ++i;
    }
    if (out->size() == MAX_ENGINE_INTS) {
      sodium_memzero(out->data(), out->size() * sizeof(std::uint64_t));
      out->clear();
      return {Code::invalid_argument, "more than " + std::to_string(MAX_ENGINE_INTS) + " integers"};
    }
    out->push_back(v);
    while (i < n && space(text[i])) ++i;
    if (i >= n) return Status::OK();
    if (text[i] != ',') {
      const std::size_t which = out->size();
      sodium_memzero(out->data(), out->size() * sizeof(std::uint64_t));
      out->clear();
      return {Code::invalid_argument,
              "unexpected character after integer " + std::to_string(which) + " (integers are separated by commas)"};
    }
    ++i;
  }
}

Status check_key_kind(const Key& key, std::size_t engine_ints, std::string_view what) {
  if (!key.valid()) return {Code::invalid_argument, "no key"};
  const std::string who(what);
  if (engine_ints == 0 && key.is_engine())
    return {Code::key_format,
            "the " + who +
                " scheme needs an isotope key ('isotope keygen'); this is an engine key (imported with 'isotope key "
                "import'), which only the engine-compatible schemes take"};
  if (engine_ints > 0 && !key.is_engine())
    return {Code::key_format,
            "the " + who +
                " scheme reproduces another engine's watermark and needs that engine's integer key: import it with "
                "'isotope key import --int - -o FILE' (an isotope key from 'isotope keygen' does not fit)"};
  if (engine_ints > 0 && key.engine_ints().size() != engine_ints)
    return {Code::key_format, "the " + who + " scheme needs an engine key of " + std::to_string(engine_ints) +
                                  " integer(s); this key holds " + std::to_string(key.engine_ints().size())};
  return Status::OK();
}

std::array<std::uint8_t, COMMITMENT_BYTES> Key::commitment() const {
  std::array<std::uint8_t, COMMITMENT_BYTES> out{};
  if (bytes_ == nullptr || detail::ensure_sodium().code() != Code::ok) return out;
  if (!is_engine()) {
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(COMMITMENT_DOMAIN.data()),
                       COMMITMENT_DOMAIN.size(), bytes_, KEY_BYTES);
    return out;
  }
  crypto_generichash_state st;
  crypto_generichash_init(&st, bytes_, KEY_BYTES, out.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(ENGINE_COMMITMENT_DOMAIN.data()),
                            ENGINE_COMMITMENT_DOMAIN.size());
  std::uint8_t le[8];
  for (int b = 0; b < 4; ++b) le[b] = static_cast<std::uint8_t>(n_ints_ >> (8 * b));
  crypto_generichash_update(&st, le, 4);
  for (std::size_t i = 0; i < n_ints_; ++i) {
    for (int b = 0; b < 8; ++b) le[b] = static_cast<std::uint8_t>(ints_[i] >> (8 * b));
    crypto_generichash_update(&st, le, 8);
  }
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(le, sizeof le);
  sodium_memzero(&st, sizeof st);
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
  if (key.is_engine()) return write_engine_key(path, key);

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
  char buf[ENGINE_KEY_FILE_MAX + 1];
  std::size_t got = 0;
  Status permissions;
  ISOTOPE_RETURN_IF_ERROR(detail::read_secret_file(path, "key file", buf, sizeof buf, &got, &permissions));
  const std::size_t ehdr = ENGINE_KEY_FILE_HEADER.size();
  if (got > ehdr && std::memcmp(buf, ENGINE_KEY_FILE_HEADER.data(), ehdr) == 0 &&
      (buf[ehdr] == '\n' || buf[ehdr] == '\r')) {
    std::uint64_t ints[MAX_ENGINE_INTS];
    std::uint8_t salt[KEY_BYTES];
    std::size_t count = 0;
    std::string why;
    const bool parsed = buf[ehdr] == '\n' && parse_engine_key(buf + ehdr + 1, got - ehdr - 1, ints, &count, salt, &why);
    if (buf[ehdr] == '\r') why = "its lines end with a carriage return (CR, Windows line endings)";
    sodium_memzero(buf, sizeof buf);
    Status st = parsed ? (permissions.ok() ? Key::from_engine_ints({ints, count}, salt, KEY_BYTES, out) : permissions)
                       : Status(Code::key_format, "'" + path + "' is not a valid isotope engine key file: " + why);
    sodium_memzero(ints, sizeof ints);
    sodium_memzero(salt, sizeof salt);
    return st;
  }

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
      return fail(
          "its lines end with a carriage return (CR, Windows line endings); remove it with: sed -i 's/\\r$//' " + path);
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
  Status st_key =
      (rc == 0 && bin_len == KEY_BYTES)
          ? Key::from_bytes(raw, KEY_BYTES, &k)
          : Status(Code::key_format, "'" + path + "' is not an isotope key file: the key line could not be decoded");
  sodium_memzero(raw, sizeof raw);
  ISOTOPE_RETURN_IF_ERROR(st_key);
  *out = std::move(k);
  return Status::OK();
}

}  // namespace isotope

namespace isotope::detail {

Status derive_control_key(std::span<const std::uint8_t> secret, std::string_view domain, std::uint64_t index,
                          unsigned index_bytes, std::size_t engine_ints, Key* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (index_bytes > 8 || (index_bytes < 8 && (index >> (8 * index_bytes)) != 0))
    return {Code::invalid_argument, "control key index does not fit its width"};
  if (secret.size() < crypto_generichash_KEYBYTES_MIN || secret.size() > crypto_generichash_KEYBYTES_MAX)
    return {Code::invalid_argument, "control key secret has a bad length"};
  if (sodium_init() < 0) return {Code::crypto, "libsodium failed to initialise"};
  std::string msg(domain);
  for (unsigned b = 0; b < index_bytes; ++b) msg.push_back(static_cast<char>((index >> (8 * b)) & 0xFF));
  std::uint8_t k[KEY_BYTES];
  if (crypto_generichash(k, sizeof k, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), secret.data(),
                         secret.size()) != 0) {
    sodium_memzero(k, sizeof k);
    return {Code::crypto, "BLAKE2b failed"};
  }
  Status st = Key::from_seed(k, sizeof k, engine_ints, out);
  sodium_memzero(k, sizeof k);
  return st;
}

}  // namespace isotope::detail
