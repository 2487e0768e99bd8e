// Vectorisable kernels of the sampler: max, exp-and-sum, bias. Internal.
//
// Every kernel is written without data-dependent branches so that GCC turns
// it into SIMD code; each is compiled twice (AVX2 and baseline x86-64) and
// picked at load time. Neither clone uses FMA, so both give identical bits
// and a seeded generation is the same on every x86-64 machine.
#pragma once
#include <cstddef>
#include <cstdint>

namespace isotope::kernels {

inline constexpr std::size_t BLOCK = 1024;  // weights are summed per block of this many tokens

// max over l[i] + delta * (v[i] < T); v == nullptr means no bias. NaN if any
// input is NaN.
float biased_max(const float* l, const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n) noexcept;

// w[i] = exp((l[i] + delta * (v[i] < T) - m) * inv_t), exactly 0 where the
// exponent is below -87 (or -inf); block_sums[b] = sum of block b's weights.
void biased_exp(const float* l, const std::uint16_t* v, std::uint32_t T, float delta, float m, float inv_t,
                std::size_t n, float* w, float* block_sums) noexcept;

// l[i] += delta * (v[i] < T)
void add_bias(float* l, const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n) noexcept;

// max of 16 consecutive values
float max16(const float* l) noexcept;

}  // namespace isotope::kernels
