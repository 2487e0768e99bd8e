// PyTorch's CPU random numbers, reproduced bit for bit, for the engines whose
// watermarks are drawn from them (Hugging Face transformers'
// WatermarkLogitsProcessor and SynthIDTextWatermarkLogitsProcessor, TGI's
// WatermarkLogitsProcessor; docs/compat.md).
//
// Source of the construction: PyTorch's CPU generator
// (aten/src/ATen/core/MT19937RNGEngine.h, aten/src/ATen/CPUGeneratorImpl.cpp),
// randperm_cpu in aten/src/ATen/native/TensorFactories.cpp and the CPU
// random_from_to kernel (aten/src/ATen/native/cpu/DistributionTemplates.h),
// unchanged from torch 1.x through 2.x for the sizes handled here:
//
// - torch.Generator().manual_seed(s) seeds the 32-bit Mersenne Twister
//   MT19937 (Matsumoto and Nishimura 1998) with the low 32 bits of s: the
//   standard initialisation, which is std::mt19937's (C++ [rand.eng.mers]).
// - torch.randperm(n, generator=g) for n < 2^32/20 writes 0..n-1, then for
//   i = 0..n-2 swaps entries i and i + (r mod (n - i)), r being the next
//   32-bit output of the generator.
// - torch.randint(0, 2, (n,), generator=g) takes, for each entry in order,
//   the next 32-bit output r and stores r mod 2.
//
// CUDA generators (Philox, and another randperm) give other values; the
// profiles that use these functions refuse device=cuda.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "isotope/status.hpp"

namespace isotope::detail {

// randperm_cpu keeps this algorithm for n below 4294967295 / 20.
inline constexpr std::uint32_t TORCH_RANDPERM_MAX_N = 4294967295u / 20u - 1u;

// The generator after torch.Generator().manual_seed(seed) on CPU.
inline std::mt19937 torch_cpu_generator(std::uint64_t seed) {
  return std::mt19937(static_cast<std::uint32_t>(seed & 0xFFFFFFFFu));
}

// The first `prefix` entries of torch.randperm(n) drawn from `gen` (the
// remaining draws of the full permutation do not change them). `out` gets
// `prefix` ids. n must lie in [1, TORCH_RANDPERM_MAX_N] and prefix <= n.
Status torch_randperm_prefix(std::mt19937& gen, std::uint32_t n, std::uint32_t prefix, std::vector<std::uint32_t>* out);

// torch.randint(0, 2, (n,)) drawn from `gen`: one bit per entry.
void torch_random_bits(std::mt19937& gen, std::size_t n, std::vector<std::uint8_t>* out);

// (a * b) mod (2^64 - 1), as Python computes it on integers.
std::uint64_t mulmod_2p64m1(std::uint64_t a, std::uint64_t b) noexcept;

}  // namespace isotope::detail
