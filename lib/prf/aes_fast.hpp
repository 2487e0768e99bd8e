// AES-128 on independent blocks with the VAES instructions (two blocks per
// instruction, sixteen blocks in flight), for the PRF's scattered lookups:
// the sampler's few hundred candidate tokens and the detector's one block
// per scored token. Internal; OpenSSL stays the implementation everywhere
// else, and wherever the CPU lacks VAES. Tests compare the two.
#pragma once
#include <cstddef>
#include <cstdint>

namespace isotope::aes_fast {

inline constexpr std::size_t KEY_BYTES = 16;
inline constexpr std::size_t ROUND_KEY_BYTES = 176;  // 11 round keys of AES-128

// True when this CPU has AES-NI, AVX2 and VAES (checked once, at load time).
bool available() noexcept;

// Expands an AES-128 key into its 11 round keys (FIPS-197 section 5.2).
// Only when available().
void expand_key(const std::uint8_t key[KEY_BYTES], std::uint8_t round_keys[ROUND_KEY_BYTES]) noexcept;

// Encrypts n 16-byte blocks in place, each on its own (ECB). Only when
// available().
void encrypt_blocks(const std::uint8_t round_keys[ROUND_KEY_BYTES], std::uint8_t* blocks, std::size_t n) noexcept;

// The PRF values of n tokens of one seed: out[i] is the little-endian
// 16-bit number at byte 2 * (tokens[i] % 8) of AES(seed + tokens[i] / 8),
// the counter block being the seed as a big-endian 128-bit integer plus
// the block number (docs/spec.md). Only when available().
void ctr_values(const std::uint8_t round_keys[ROUND_KEY_BYTES], const std::uint8_t seed[16],
                const std::uint32_t* tokens, std::size_t n, std::uint16_t* out) noexcept;

}  // namespace isotope::aes_fast
