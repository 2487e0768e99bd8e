// The keyed PRF behind the green lists ("siphash128-aes128ctr-u16-v1").
// docs/spec.md describes the construction byte by byte.
#include "isotope/prf.hpp"

#include "prf/aes_fast.hpp"
#include "prf/subkeys.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <bit>
#include <cstring>
#include <new>

namespace isotope {
namespace {

constexpr std::uint64_t SUBKEY_ID_SIPHASH = 1;
constexpr std::uint64_t SUBKEY_ID_AES = 2;
constexpr std::size_t SIPHASH_KEY_BYTES = crypto_shorthash_siphashx24_KEYBYTES;  // 16
constexpr std::size_t AES_KEY_BYTES = 16;
constexpr std::size_t BLOCK = 16;
constexpr std::size_t VALUES_PER_BLOCK = BLOCK / 2;
// values_at() encrypts its counter blocks in chunks of this many (32 KiB,
// resident in L1/L2), so it never allocates after create().
constexpr std::size_t BATCH_BLOCKS = 2048;
// values() encrypts this many zero bytes per OpenSSL call.
constexpr std::size_t ZERO_CHUNK_BYTES = 16384;
alignas(64) constexpr std::uint8_t ZEROS[ZERO_CHUNK_BYTES] = {};

static_assert(crypto_kdf_CONTEXTBYTES == 8, "libsodium KDF context must be 8 bytes");
static_assert(crypto_shorthash_siphashx24_BYTES == 16, "SipHash-128 output must be 16 bytes");

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

// out = seed + j (mod 2^128), both big-endian.
inline void counter_block(const Seed& seed, std::uint64_t j, std::uint8_t* out) noexcept {
  const std::uint64_t hi = load_be64(seed.data());
  const std::uint64_t lo = load_be64(seed.data() + 8);
  const std::uint64_t lo2 = lo + j;
  store_be64(out, hi + (lo2 < lo ? 1u : 0u));
  store_be64(out + 8, lo2);
}

inline std::uint16_t load_le16(const std::uint8_t* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap16(v);
  return v;
}

}  // namespace

struct GreenList::Impl {
  std::uint8_t* sip_key = nullptr;  // sodium_malloc'd, SIPHASH_KEY_BYTES long
  EVP_CIPHER_CTX* ctr = nullptr;    // AES-128-CTR, re-IV'd per values() call
  EVP_CIPHER_CTX* ecb = nullptr;    // AES-128-ECB, no padding, for single blocks
  std::uint8_t* round_keys = nullptr;  // sodium_malloc'd AES round keys, when aes_fast::available()
  std::unique_ptr<std::uint8_t[]> batch;  // BATCH_BLOCKS counter blocks for values_at()

  // ECB encryption of n blocks in place: VAES where the CPU has it, else OpenSSL.
  bool encrypt_blocks(std::uint8_t* blocks, std::size_t n) {
    if (round_keys != nullptr) {
      aes_fast::encrypt_blocks(round_keys, blocks, n);
      return true;
    }
    int outl = 0;
    const int len = static_cast<int>(n * BLOCK);
    return EVP_EncryptUpdate(ecb, blocks, &outl, blocks, len) == 1 && outl == len;
  }

  ~Impl() {
    if (sip_key != nullptr) {
      sodium_memzero(sip_key, SIPHASH_KEY_BYTES);
      sodium_free(sip_key);
    }
    if (round_keys != nullptr) {
      sodium_memzero(round_keys, aes_fast::ROUND_KEY_BYTES);
      sodium_free(round_keys);
    }
    EVP_CIPHER_CTX_free(ctr);  // also wipes the expanded AES key
    EVP_CIPHER_CTX_free(ecb);
  }
};

GreenList::~GreenList() = default;

Status GreenList::create(const Key& key, const Profile& profile, std::unique_ptr<GreenList>* out) {
  if (out == nullptr) return {Code::invalid_argument, "GreenList::create: null output"};
  if (!key.valid()) return {Code::invalid_argument, "GreenList::create: empty key"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  if (sodium_init() < 0) return {Code::crypto, "libsodium could not be initialised"};

  std::unique_ptr<GreenList> gl(new GreenList());
  gl->profile_ = profile;
  gl->threshold_ = kgw_green_threshold(profile);
  gl->impl_ = std::make_unique<Impl>();
  Impl& im = *gl->impl_;

  im.batch.reset(new (std::nothrow) std::uint8_t[BATCH_BLOCKS * BLOCK]);
  if (im.batch == nullptr) return {Code::out_of_memory, "cannot allocate the PRF batch buffer"};
  std::uint8_t aes_key[AES_KEY_BYTES];
  ISOTOPE_RETURN_IF_ERROR(detail::derive_prf_subkeys(key, SUBKEY_ID_SIPHASH, SUBKEY_ID_AES, &im.sip_key, aes_key));
  const Status st = detail::init_aes_contexts(aes_key, &im.ctr, &im.ecb);
  if (st.ok() && aes_fast::available()) {
    im.round_keys = static_cast<std::uint8_t*>(sodium_malloc(aes_fast::ROUND_KEY_BYTES));
    if (im.round_keys != nullptr) aes_fast::expand_key(aes_key, im.round_keys);  // else: OpenSSL serves
  }
  sodium_memzero(aes_key, sizeof aes_key);
  ISOTOPE_RETURN_IF_ERROR(st);

  *out = std::move(gl);
  return Status::OK();
}

Seed GreenList::seed(std::span<const std::uint32_t> ctx) const noexcept {
  Seed s{};
  const std::size_t n = ctx.size();
  if constexpr (std::endian::native == std::endian::little) {
    // The ids as stored are already the little-endian message.
    crypto_shorthash_siphashx24(s.data(), reinterpret_cast<const unsigned char*>(ctx.data()), n * 4,
                                impl_->sip_key);
  } else {
    unsigned char msg[4 * MAX_CONTEXT_WIDTH];
    const std::size_t m = n < MAX_CONTEXT_WIDTH ? n : MAX_CONTEXT_WIDTH;  // callers pass n == h <= 8
    for (std::size_t i = 0; i < m; ++i) {
      const std::uint32_t v = ctx[i];
      msg[4 * i] = static_cast<unsigned char>(v);
      msg[4 * i + 1] = static_cast<unsigned char>(v >> 8);
      msg[4 * i + 2] = static_cast<unsigned char>(v >> 16);
      msg[4 * i + 3] = static_cast<unsigned char>(v >> 24);
    }
    crypto_shorthash_siphashx24(s.data(), msg, m * 4, impl_->sip_key);
  }
  return s;
}

Status GreenList::values(const Seed& seed, std::span<std::uint16_t> out) {
  if (out.empty()) return Status::OK();
  ISOTOPE_RETURN_IF_ERROR(stream_begin(seed));
  return stream_next(out);
}

Status GreenList::stream_begin(const Seed& seed) {
  // Resets the counter to the seed and drops any buffered keystream; the key
  // schedule is kept.
  if (EVP_EncryptInit_ex(impl_->ctr, nullptr, nullptr, nullptr, seed.data()) != 1)
    return {Code::crypto, "AES-128-CTR reset failed (OpenSSL)"};
  return Status::OK();
}

Status GreenList::stream_next(std::span<std::uint16_t> out) {
  Impl& im = *impl_;
  // CTR output = keystream XOR input; the input is a shared block of zeros,
  // read chunk by chunk, so the output is written exactly once.
  auto* bytes = reinterpret_cast<std::uint8_t*>(out.data());
  const std::size_t full_blocks = out.size() / VALUES_PER_BLOCK;
  std::size_t remaining = full_blocks * BLOCK;
  std::uint8_t* p = bytes;
  while (remaining > 0) {
    const std::size_t len = remaining < ZERO_CHUNK_BYTES ? remaining : ZERO_CHUNK_BYTES;
    int outl = 0;
    if (EVP_EncryptUpdate(im.ctr, p, &outl, ZEROS, static_cast<int>(len)) != 1 ||
        static_cast<std::size_t>(outl) != len)
      return {Code::crypto, "AES-128-CTR keystream failed (OpenSSL)"};
    p += len;
    remaining -= len;
  }
  const std::size_t rest = out.size() % VALUES_PER_BLOCK;
  if (rest != 0) {
    std::uint8_t tail[BLOCK] = {};
    int outl = 0;
    if (EVP_EncryptUpdate(im.ctr, tail, &outl, tail, static_cast<int>(BLOCK)) != 1 ||
        static_cast<std::size_t>(outl) != BLOCK)
      return {Code::crypto, "AES-128-CTR keystream failed (OpenSSL)"};
    std::memcpy(p, tail, rest * 2);
  }
  if constexpr (std::endian::native != std::endian::little) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = load_le16(bytes + 2 * i);
  }
  return Status::OK();
}

Status GreenList::value(const Seed& seed, std::uint32_t token, std::uint16_t* out) {
  std::uint8_t block[BLOCK];
  counter_block(seed, token / VALUES_PER_BLOCK, block);
  if (!impl_->encrypt_blocks(block, 1)) return {Code::crypto, "AES-128 block encryption failed (OpenSSL)"};
  *out = load_le16(block + 2 * (token % VALUES_PER_BLOCK));
  return Status::OK();
}

namespace {
// Counter blocks seed + j, j = tokens[i] / 8, for one seed or one seed per token.
struct OneSeed {
  std::uint64_t hi, lo;
  explicit OneSeed(const Seed& s) noexcept : hi(load_be64(s.data())), lo(load_be64(s.data() + 8)) {}
  void block(std::size_t /*i*/, std::uint64_t j, std::uint8_t* out) const noexcept {
    const std::uint64_t lo2 = lo + j;
    store_be64(out, hi + (lo2 < lo ? 1u : 0u));
    store_be64(out + 8, lo2);
  }
};
struct SeedPerToken {
  const Seed* seeds;
  void block(std::size_t i, std::uint64_t j, std::uint8_t* out) const noexcept { counter_block(seeds[i], j, out); }
};
}  // namespace

template <class Impl, class Seeds>
static Status batch_values(Impl& im, const Seeds& seeds, const std::uint32_t* tokens, std::size_t n,
                           std::uint16_t* out) {
  std::uint8_t* buf = im.batch.get();
  for (std::size_t done = 0; done < n;) {
    const std::size_t m = n - done < BATCH_BLOCKS ? n - done : BATCH_BLOCKS;
    for (std::size_t i = 0; i < m; ++i) seeds.block(done + i, tokens[done + i] / VALUES_PER_BLOCK, buf + BLOCK * i);
    if (!im.encrypt_blocks(buf, m)) return {Code::crypto, "AES-128 batch encryption failed (OpenSSL)"};
    for (std::size_t i = 0; i < m; ++i)
      out[done + i] = load_le16(buf + BLOCK * i + 2 * (tokens[done + i] % VALUES_PER_BLOCK));
    done += m;
  }
  return Status::OK();
}

Status GreenList::values_at(const Seed* seeds, const std::uint32_t* tokens, std::size_t n, std::uint16_t* out) {
  return batch_values(*impl_, SeedPerToken{seeds}, tokens, n, out);
}

Status GreenList::values_at(const Seed& seed, const std::uint32_t* tokens, std::size_t n, std::uint16_t* out) {
  if (impl_->round_keys != nullptr && std::endian::native == std::endian::little) {
    aes_fast::ctr_values(impl_->round_keys, seed.data(), tokens, n, out);
    return Status::OK();
  }
  return batch_values(*impl_, OneSeed(seed), tokens, n, out);
}

}  // namespace isotope
