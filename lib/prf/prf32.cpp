#include "prf/prf32.hpp"
#include "prf/subkeys.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <bit>
#include <cstring>
#include <new>

namespace isotope::detail {
namespace {

constexpr std::size_t SIPHASH_KEY_BYTES = crypto_shorthash_siphashx24_KEYBYTES;
constexpr std::size_t BLOCK = 16;
constexpr std::size_t PER_BLOCK = BLOCK / 4;
constexpr std::size_t BATCH_BLOCKS = 2048;
constexpr std::size_t ZERO_CHUNK_BYTES = 16384;
alignas(64) constexpr std::uint8_t ZEROS[ZERO_CHUNK_BYTES] = {};

inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}
inline void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}
inline void counter_block(const Seed& seed, std::uint64_t j, std::uint8_t* out) noexcept {
  const std::uint64_t hi = load_be64(seed.data());
  const std::uint64_t lo = load_be64(seed.data() + 8);
  const std::uint64_t lo2 = lo + j;
  store_be64(out, hi + (lo2 < lo ? 1u : 0u));
  store_be64(out + 8, lo2);
}
inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

}  // namespace

struct Prf32::Impl {
  std::uint8_t* sip_key = nullptr;  // sodium_malloc'd
  EVP_CIPHER_CTX* ctr = nullptr;
  EVP_CIPHER_CTX* ecb = nullptr;
  std::unique_ptr<std::uint8_t[]> batch;
  ~Impl() {
    if (sip_key != nullptr) {
      sodium_memzero(sip_key, SIPHASH_KEY_BYTES);
      sodium_free(sip_key);
    }
    EVP_CIPHER_CTX_free(ctr);
    EVP_CIPHER_CTX_free(ecb);
  }
  bool encrypt(std::uint8_t* blocks, std::size_t n) {
    int outl = 0;
    const int len = static_cast<int>(n * BLOCK);
    return EVP_EncryptUpdate(ecb, blocks, &outl, blocks, len) == 1 && outl == len;
  }
};

Prf32::~Prf32() = default;

Status Prf32::create(const Key& key, std::uint64_t sip_id, std::uint64_t aes_id, std::unique_ptr<Prf32>* out) {
  if (out == nullptr) return {Code::invalid_argument, "Prf32::create: null output"};
  if (!key.valid()) return {Code::invalid_argument, "Prf32::create: empty key"};
  std::unique_ptr<Prf32> p(new Prf32());
  p->impl_ = std::make_unique<Impl>();
  Impl& im = *p->impl_;
  im.batch.reset(new (std::nothrow) std::uint8_t[BATCH_BLOCKS * BLOCK]);
  if (im.batch == nullptr) return {Code::out_of_memory, "cannot allocate the PRF batch buffer"};
  std::uint8_t aes_key[PRF_AES_KEY_BYTES];
  ISOTOPE_RETURN_IF_ERROR(derive_prf_subkeys(key, sip_id, aes_id, &im.sip_key, aes_key));
  const Status st = init_aes_contexts(aes_key, &im.ctr, &im.ecb);
  sodium_memzero(aes_key, sizeof aes_key);
  ISOTOPE_RETURN_IF_ERROR(st);
  *out = std::move(p);
  return Status::OK();
}

Seed Prf32::seed(std::span<const std::uint32_t> ctx) const noexcept {
  Seed s{};
  unsigned char msg[4 * 64];
  const std::size_t m = ctx.size() < 64 ? ctx.size() : 64;
  for (std::size_t i = 0; i < m; ++i) {
    const std::uint32_t v = ctx[i];
    msg[4 * i] = static_cast<unsigned char>(v);
    msg[4 * i + 1] = static_cast<unsigned char>(v >> 8);
    msg[4 * i + 2] = static_cast<unsigned char>(v >> 16);
    msg[4 * i + 3] = static_cast<unsigned char>(v >> 24);
  }
  crypto_shorthash_siphashx24(s.data(), msg, m * 4, impl_->sip_key);
  return s;
}

Status Prf32::values(const Seed& seed, std::span<std::uint32_t> out) {
  if (out.empty()) return Status::OK();
  Impl& im = *impl_;
  if (EVP_EncryptInit_ex(im.ctr, nullptr, nullptr, nullptr, seed.data()) != 1)
    return {Code::crypto, "AES-128-CTR reset failed (OpenSSL)"};
  auto* bytes = reinterpret_cast<std::uint8_t*>(out.data());
  std::size_t remaining = (out.size() / PER_BLOCK) * BLOCK;
  std::uint8_t* p = bytes;
  while (remaining > 0) {
    const std::size_t len = remaining < ZERO_CHUNK_BYTES ? remaining : ZERO_CHUNK_BYTES;
    int outl = 0;
    if (EVP_EncryptUpdate(im.ctr, p, &outl, ZEROS, static_cast<int>(len)) != 1 || static_cast<std::size_t>(outl) != len)
      return {Code::crypto, "AES-128-CTR keystream failed (OpenSSL)"};
    p += len;
    remaining -= len;
  }
  const std::size_t rest = out.size() % PER_BLOCK;
  if (rest != 0) {
    std::uint8_t tail[BLOCK] = {};
    int outl = 0;
    if (EVP_EncryptUpdate(im.ctr, tail, &outl, tail, static_cast<int>(BLOCK)) != 1 ||
        static_cast<std::size_t>(outl) != BLOCK)
      return {Code::crypto, "AES-128-CTR keystream failed (OpenSSL)"};
    std::memcpy(p, tail, rest * 4);
  }
  if constexpr (std::endian::native != std::endian::little)
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = load_le32(bytes + 4 * i);
  return Status::OK();
}

template <class BlockOf>
static Status batch(Prf32::Impl& im, const BlockOf& block_of, const std::uint32_t* tokens, std::size_t n,
                    std::uint32_t* out) {
  std::uint8_t* buf = im.batch.get();
  for (std::size_t done = 0; done < n;) {
    const std::size_t m = n - done < BATCH_BLOCKS ? n - done : BATCH_BLOCKS;
    for (std::size_t i = 0; i < m; ++i) block_of(done + i, tokens[done + i] / PER_BLOCK, buf + BLOCK * i);
    if (!im.encrypt(buf, m)) return {Code::crypto, "AES-128 batch encryption failed (OpenSSL)"};
    for (std::size_t i = 0; i < m; ++i) out[done + i] = load_le32(buf + BLOCK * i + 4 * (tokens[done + i] % PER_BLOCK));
    done += m;
  }
  return Status::OK();
}

Status Prf32::values_at(const Seed& seed, const std::uint32_t* tokens, std::size_t n, std::uint32_t* out) {
  return batch(*impl_, [&](std::size_t, std::uint64_t j, std::uint8_t* o) { counter_block(seed, j, o); }, tokens, n,
               out);
}

Status Prf32::values_at(const Seed* seeds, const std::uint32_t* tokens, std::size_t n, std::uint32_t* out) {
  return batch(*impl_, [&](std::size_t i, std::uint64_t j, std::uint8_t* o) { counter_block(seeds[i], j, o); },
               tokens, n, out);
}

}  // namespace isotope::detail
