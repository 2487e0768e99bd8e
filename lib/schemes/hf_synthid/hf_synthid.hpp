// The g-values of Hugging Face transformers'
// SynthIDTextWatermarkLogitsProcessor (profile hf-synthid; docs/compat.md gives
// the construction in words).
//
// - Sampling table: S bits, entry i = (i-th 32-bit output of PyTorch's CPU
//   generator after manual_seed(sampling_table_seed)) mod 2, i.e.
//   torch.randint(0, 2, (S,)) on CPU (lib/prf/torch_cpu.hpp).
// - Hash: H(h, x_1..x_n) applies h <- (h + x_i) * 6364136223846793005 + 1 for
//   each x_i, in wrapping signed 64-bit arithmetic (torch int64).
// - For a token t after the ngram_len - 1 ids c: h_t = H(H(1, c), t); layer l
//   (key k_l) has the index r_l = H(h_t, k_l) mod S (floor modulo: 0..S-1)
//   and g_l = table[r_l].
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "isotope/status.hpp"

namespace isotope::detail {

inline constexpr std::uint64_t HF_SYNTHID_LCG_MUL = 6364136223846793005ull;

// One step of the hash per id, wrapping mod 2^64 (the bits of torch's int64).
inline std::uint64_t hf_synthid_hash(std::uint64_t h, std::span<const std::uint32_t> data) noexcept {
  for (std::uint32_t x : data) h = (h + x) * HF_SYNTHID_LCG_MUL + 1u;
  return h;
}
inline std::uint64_t hf_synthid_hash1(std::uint64_t h, std::uint64_t x) noexcept {
  return (h + x) * HF_SYNTHID_LCG_MUL + 1u;
}
// torch's `%` on int64 (Python's floor modulo) of the hash read as signed.
inline std::uint32_t hf_synthid_index(std::uint64_t h, std::uint32_t table_size) noexcept {
  const auto s = static_cast<std::int64_t>(h);
  const std::int64_t r = s % static_cast<std::int64_t>(table_size);
  return static_cast<std::uint32_t>(r < 0 ? r + table_size : r);
}

// The sampling table of (table_size, seed) on CPU.
std::vector<std::uint8_t> hf_synthid_table(std::uint32_t table_size, std::uint64_t seed);

// g-values of `token` after `context` (ngram_len - 1 ids), one per key.
void hf_synthid_gvalues(std::span<const std::uint8_t> table, std::span<const std::uint64_t> keys,
                        std::span<const std::uint32_t> context, std::uint32_t token, std::span<std::uint8_t> out);

}  // namespace isotope::detail
