// Vectorisable kernels of the sampler: softmax blocks, bias, top-k scans.
// Internal.
//
// The arithmetic kernels are written without data-dependent branches so that
// GCC turns them into SIMD code; each is compiled twice (AVX2 and baseline
// x86-64) and picked at load time. Neither clone uses FMA, so both give
// identical bits and a seeded generation is the same on every x86-64 machine.
// The scans (collect_*) have hand-written AVX2 versions, chosen at load time;
// they only compare, so every version returns the same tokens.
#pragma once
#include <cstddef>
#include <cstdint>

namespace isotope::kernels {

inline constexpr std::size_t BLOCK = 1024;  // weights are summed per block of this many tokens

// One block (n <= BLOCK) of the single-pass softmax over the biased logits
// b[i] = l[i] + (delta if v[i] < T (green), else 0), or b[i] = l[i] when v is
// null: *block_max = max of b (NaN if one is NaN), then w[i] = exp((b[i] -
// *block_max) * inv_t), exactly 0 where the exponent is below -87 (or -inf);
// returns the sum of w.
float block_softmax(const float* l, const std::uint16_t* v, std::uint32_t T, float delta, float inv_t, std::size_t n,
                    float* w, float* block_max) noexcept;

// l[i] += delta * (v[i] < T)
void add_bias(float* l, const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n) noexcept;

// Writes base + i for every i < n with l[i] >= thr into out (room for n);
// returns how many. Tests 8 values at a time and compacts without branches.
// *nan is set to true if some l[i] is NaN (and left alone otherwise).
std::size_t collect_ge(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                       bool* nan) noexcept;

inline constexpr std::size_t GROUP = 32;  // collect_ge_max reports one max per GROUP values

// collect_ge that also writes group_max[g] = max of l[g*GROUP .. (g+1)*GROUP)
// (the last group may be shorter), so a later pass with a higher threshold
// can skip whole groups.
std::size_t collect_ge_max(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                           float* group_max, bool* nan) noexcept;

// Writes base + i for every i < n with l[i] >= lo and not l[i] >= hi into
// out (room for n), visiting only the groups of kernels::GROUP values whose
// maximum (group_max, as written by collect_ge_max) is at least lo; returns
// how many. hi = NaN sets no upper bound (+inf values included).
std::size_t collect_band(const float* l, std::size_t n, const float* group_max, float lo, float hi,
                         std::uint32_t base, std::uint32_t* out) noexcept;

// The same scans without AVX2 (used where the CPU lacks it; tests compare).
namespace portable {
std::size_t collect_ge(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out, bool* nan) noexcept;
std::size_t collect_ge_max(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                           float* group_max, bool* nan) noexcept;
// collect_band without the group maxima: every value is tested.
std::size_t collect_range(const float* l, std::size_t n, float lo, float hi, std::uint32_t base, std::uint32_t* out) noexcept;
std::size_t collect_band(const float* l, std::size_t n, const float* group_max, float lo, float hi,
                         std::uint32_t base, std::uint32_t* out) noexcept;
}  // namespace portable

}  // namespace isotope::kernels
