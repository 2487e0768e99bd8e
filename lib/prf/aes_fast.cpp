#include "prf/aes_fast.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define ISOTOPE_AES_X86 1
#endif

namespace isotope::aes_fast {

#if defined(ISOTOPE_AES_X86)
namespace {

#define ISOTOPE_AESNI __attribute__((target("aes,sse4.1")))
#define ISOTOPE_VAES __attribute__((target("aes,avx2,vaes")))

// One step of the key schedule: the previous round key and the
// aeskeygenassist of it give the next.
ISOTOPE_AESNI inline __m128i schedule_step(__m128i key, __m128i assist) {
  assist = _mm_shuffle_epi32(assist, 0xff);
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, assist);
}

ISOTOPE_AESNI void expand_key_aesni(const std::uint8_t* key, std::uint8_t* out) {
  __m128i rk[11];
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  // aeskeygenassist takes the round constant as an immediate.
  rk[1] = schedule_step(rk[0], _mm_aeskeygenassist_si128(rk[0], 0x01));
  rk[2] = schedule_step(rk[1], _mm_aeskeygenassist_si128(rk[1], 0x02));
  rk[3] = schedule_step(rk[2], _mm_aeskeygenassist_si128(rk[2], 0x04));
  rk[4] = schedule_step(rk[3], _mm_aeskeygenassist_si128(rk[3], 0x08));
  rk[5] = schedule_step(rk[4], _mm_aeskeygenassist_si128(rk[4], 0x10));
  rk[6] = schedule_step(rk[5], _mm_aeskeygenassist_si128(rk[5], 0x20));
  rk[7] = schedule_step(rk[6], _mm_aeskeygenassist_si128(rk[6], 0x40));
  rk[8] = schedule_step(rk[7], _mm_aeskeygenassist_si128(rk[7], 0x80));
  rk[9] = schedule_step(rk[8], _mm_aeskeygenassist_si128(rk[8], 0x1b));
  rk[10] = schedule_step(rk[9], _mm_aeskeygenassist_si128(rk[9], 0x36));
  for (std::size_t r = 0; r < 11; ++r) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * r), rk[r]);
    rk[r] = _mm_setzero_si128();
  }
}

// Encrypts G * 2 blocks (G 256-bit lanes) in place.
template <std::size_t G>
ISOTOPE_VAES inline void encrypt_group(const __m256i* rk, std::uint8_t* p) {
  __m256i x[G];
  for (std::size_t g = 0; g < G; ++g)
    x[g] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * g)), rk[0]);
  for (std::size_t r = 1; r < 10; ++r)
    for (std::size_t g = 0; g < G; ++g) x[g] = _mm256_aesenc_epi128(x[g], rk[r]);
  for (std::size_t g = 0; g < G; ++g)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * g), _mm256_aesenclast_epi128(x[g], rk[10]));
}

ISOTOPE_VAES void encrypt_blocks_vaes(const std::uint8_t* round_keys, std::uint8_t* blocks, std::size_t n) {
  __m256i rk[11];
  for (std::size_t r = 0; r < 11; ++r)
    rk[r] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(round_keys + 16 * r)));
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) encrypt_group<8>(rk, blocks + 16 * i);  // eight independent chains hide the latency
  for (; i + 2 <= n; i += 2) encrypt_group<1>(rk, blocks + 16 * i);
  if (i < n) {  // a last, single block
    __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * i)),
                              _mm256_castsi256_si128(rk[0]));
    for (std::size_t r = 1; r < 10; ++r) x = _mm_aesenc_si128(x, _mm256_castsi256_si128(rk[r]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(blocks + 16 * i), _mm_aesenclast_si128(x, _mm256_castsi256_si128(rk[10])));
  }
  for (auto& r : rk) r = _mm256_setzero_si256();
}

// Counter blocks seed + j for four tokens, as two vectors of two blocks:
// [c0, c2] and [c1, c3]. hi is the seed's high half (big-endian bytes, in
// every 64-bit lane), lo its low half as a number; no block number may
// carry into the high half.
ISOTOPE_VAES inline void counters4(const std::uint32_t* t, __m256i hi, __m256i lo, __m256i* a, __m256i* b) {
  const __m256i bswap64 = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
                                           7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
  const __m128i j32 = _mm_srli_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)), 3);
  const __m256i low = _mm256_shuffle_epi8(_mm256_add_epi64(lo, _mm256_cvtepu32_epi64(j32)), bswap64);
  *a = _mm256_unpacklo_epi64(hi, low);
  *b = _mm256_unpackhi_epi64(hi, low);
}

ISOTOPE_VAES void ctr_values_vaes(const std::uint8_t* round_keys, const std::uint8_t* seed, const std::uint32_t* tokens,
                                  std::size_t n, std::uint16_t* out) {
  std::uint64_t hi_be = 0, lo_be = 0;
  __builtin_memcpy(&hi_be, seed, 8);
  __builtin_memcpy(&lo_be, seed + 8, 8);
  const std::uint64_t lo = __builtin_bswap64(lo_be);
  __m256i rk[11];
  for (std::size_t r = 0; r < 11; ++r)
    rk[r] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(round_keys + 16 * r)));
  const __m256i vhi = _mm256_set1_epi64x(static_cast<long long>(hi_be));
  const __m256i vlo = _mm256_set1_epi64x(static_cast<long long>(lo));
  alignas(32) std::uint8_t buf[16 * 16];
  std::size_t i = 0;
  // Block numbers are below 2^29: no carry unless lo is within 2^29 of 2^64.
  if (lo <= ~std::uint64_t{0} - (std::uint64_t{1} << 29)) {
    std::uint32_t last[16] = {};
    for (; i < n; i += 16) {
      const std::size_t m = n - i < 16 ? n - i : 16;
      const std::uint32_t* t = tokens + i;
      if (m < 16) {  // the last few, padded with token 0
        for (std::size_t e = 0; e < m; ++e) last[e] = t[e];
        t = last;
      }
      __m256i x[8];
      for (std::size_t q = 0; q < 4; ++q) counters4(t + 4 * q, vhi, vlo, &x[2 * q], &x[2 * q + 1]);
      for (auto& v : x) v = _mm256_xor_si256(v, rk[0]);
      for (std::size_t r = 1; r < 10; ++r)
        for (auto& v : x) v = _mm256_aesenc_epi128(v, rk[r]);
      for (std::size_t q = 0; q < 8; ++q)
        _mm256_store_si256(reinterpret_cast<__m256i*>(buf + 32 * q), _mm256_aesenclast_epi128(x[q], rk[10]));
      // Token 4q + {0, 1, 2, 3} went to block 4q + {0, 2, 1, 3}.
      for (std::size_t e = 0; e < m; ++e) {
        const std::size_t slot = (e & ~std::size_t{3}) + ((e & 1) << 1) + ((e >> 1) & 1);
        std::uint16_t v = 0;
        __builtin_memcpy(&v, buf + 16 * slot + 2 * std::size_t{t[e] % 8}, 2);
        out[i + e] = v;
      }
    }
  }
  for (; i < n; ++i) {  // near the top of the counter space: one block at a time, with the carry
    const std::uint64_t lo2 = lo + tokens[i] / 8;
    const std::uint64_t hi2 = __builtin_bswap64(hi_be) + (lo2 < lo ? 1u : 0u);
    const std::uint64_t words[2] = {__builtin_bswap64(hi2), __builtin_bswap64(lo2)};
    __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(words)), _mm256_castsi256_si128(rk[0]));
    for (std::size_t r = 1; r < 10; ++r) x = _mm_aesenc_si128(x, _mm256_castsi256_si128(rk[r]));
    _mm_store_si128(reinterpret_cast<__m128i*>(buf), _mm_aesenclast_si128(x, _mm256_castsi256_si128(rk[10])));
    std::uint16_t v = 0;
    __builtin_memcpy(&v, buf + 2 * std::size_t{tokens[i] % 8}, 2);
    out[i] = v;
  }
  for (auto& r : rk) r = _mm256_setzero_si256();
}

bool detect() {
  __builtin_cpu_init();  // this may run before libgcc's own constructor
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool vaes = __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 9)) != 0;  // CPUID.7.0:ECX.VAES
  return vaes && __builtin_cpu_supports("aes") && __builtin_cpu_supports("avx2");
}
const bool kAvailable = detect();

}  // namespace

bool available() noexcept { return kAvailable; }
void expand_key(const std::uint8_t key[KEY_BYTES], std::uint8_t round_keys[ROUND_KEY_BYTES]) noexcept {
  expand_key_aesni(key, round_keys);
}
void encrypt_blocks(const std::uint8_t round_keys[ROUND_KEY_BYTES], std::uint8_t* blocks, std::size_t n) noexcept {
  encrypt_blocks_vaes(round_keys, blocks, n);
}

void ctr_values(const std::uint8_t round_keys[ROUND_KEY_BYTES], const std::uint8_t seed[16],
                const std::uint32_t* tokens, std::size_t n, std::uint16_t* out) noexcept {
  ctr_values_vaes(round_keys, seed, tokens, n, out);
}

#else
bool available() noexcept { return false; }
void ctr_values(const std::uint8_t*, const std::uint8_t*, const std::uint32_t*, std::size_t, std::uint16_t*) noexcept {}
void expand_key(const std::uint8_t*, std::uint8_t*) noexcept {}
void encrypt_blocks(const std::uint8_t*, std::uint8_t*, std::size_t) noexcept {}
#endif

}  // namespace isotope::aes_fast
