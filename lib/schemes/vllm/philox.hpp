// vLLM's watermark PRF "philox4x32-10-v1" and its key derivation, as the
// engine specifies them (vllm/v1/watermarking/prfs/philox.py and prfs/base.py
// at commit ecc30aeb8312aeb8e23c473f2121555ecef47f78; derive_watermark_key in
// vllm/config/watermarking.py). docs/compat.md states the construction in
// words; tests/vectors/gen_vllm_vectors.py re-implements it independently.
// Internal.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "isotope/status.hpp"

namespace isotope::detail::vllm {

// Philox4x32-10 (Salmon et al., SC 2011): 10 rounds, multipliers M0, M1 and
// Weyl increments W0, W1 of the key words (not added after the last round).
inline constexpr std::uint32_t PHILOX_M0 = 0xD2511F53u, PHILOX_M1 = 0xCD9E8D57u;
inline constexpr std::uint32_t PHILOX_W0 = 0x9E3779B9u, PHILOX_W1 = 0xBB67AE85u;
// Domain words: "WMCX" for the context compression, "WMTK" for the token call.
inline constexpr std::uint32_t CONTEXT_DOMAIN = 0x574D4358u, TOKEN_DOMAIN = 0x574D544Bu;
// The id that pads the windows of the first h positions (the engine's -1).
inline constexpr std::uint32_t PAD_ID = 0xFFFFFFFFu;

using Words = std::array<std::uint32_t, 4>;

inline Words philox4x32_10(Words c, std::uint32_t k0, std::uint32_t k1) noexcept {
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(PHILOX_M0) * c[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(PHILOX_M1) * c[2];
    c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k0, static_cast<std::uint32_t>(p1),
         static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k1, static_cast<std::uint32_t>(p0)};
    if (round != 9) {
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
  }
  return c;
}

// The context state of a window of h ids (any h >= 1): start from
// (CONTEXT_DOMAIN, h, 0, 0); for each block of four ids at offset o = 0, 4,
// 8, ... (missing ids of the last block are 0xFFFFFFFF - i for lane i), the
// state becomes Philox(state XOR block, key (k0 XOR o, k1)).
inline Words context_state(std::uint64_t key, std::span<const std::uint32_t> window) noexcept {
  const std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  const std::size_t h = window.size();
  Words s{CONTEXT_DOMAIN, static_cast<std::uint32_t>(h), 0u, 0u};
  for (std::size_t o = 0; o < h; o += 4) {
    Words c;
    for (std::size_t i = 0; i < 4; ++i)
      c[i] = s[i] ^ (o + i < h ? window[o + i] : 0xFFFFFFFFu - static_cast<std::uint32_t>(i));
    s = philox4x32_10(c, k0 ^ static_cast<std::uint32_t>(o), k1);
  }
  return s;
}

// The 32-bit word of `token` under a context state: word 0 of
// Philox((token, s0, s1, s2), key (k0 XOR s3, k1 XOR TOKEN_DOMAIN)).
inline std::uint32_t token_word(std::uint64_t key, const Words& s, std::uint32_t token) noexcept {
  const std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  return philox4x32_10({token, s[0], s[1], s[2]}, k0 ^ s[3], k1 ^ TOKEN_DOMAIN)[0];
}

// The engine's uniform: the top 24 bits m of the word, (m + 1) / (2^24 + 1)
// in double rounded to float32; in (0, 1), never 0 or 1.
inline float uniform(std::uint32_t word) noexcept {
  return static_cast<float>((static_cast<double>(word >> 8) + 1.0) / 16777217.0);
}

// derive_watermark_key(key, domain): the first 8 bytes, big-endian, of
// SHA-256(domain || key as 8 bytes big-endian). vLLM's dual key uses the
// domains "key_a" and "key_b".
Status derive_key(std::uint64_t key, std::string_view domain, std::uint64_t* out);

}  // namespace isotope::detail::vllm
