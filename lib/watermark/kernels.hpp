// Vectorisable kernels of the sampler: softmax blocks, bias, top-k scans.
// Internal.
//
// The arithmetic kernels are written without data-dependent branches so that
// GCC turns them into SIMD code; each is compiled twice (AVX2 and baseline
// x86-64) and picked at load time. Neither clone uses FMA, so both give
// identical bits and a seeded generation is the same on every x86-64 machine.
// The scans (collect_*, filter_range) and sort_keys have hand-written AVX2
// versions, chosen at load time; they only compare, so every version returns
// the same tokens in the same order.
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
// returns how many, in order. *nan is set to true if some l[i] is NaN (and
// left alone otherwise).
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

// Writes base + i for every i < n with l[i] >= lo and not l[i] >= hi into
// out (room for n); returns how many. hi = NaN sets no upper bound.
std::size_t collect_range(const float* l, std::size_t n, float lo, float hi, std::uint32_t base,
                          std::uint32_t* out) noexcept;

// Copies the entries j < n with lo <= v[j] and not v[j] >= hi (hi = NaN: no
// upper bound), in order, to out_ids / out_v (room for n); returns how many.
std::size_t filter_range(const std::uint32_t* ids, const float* v, std::size_t n, float lo, float hi,
                         std::uint32_t* out_ids, float* out_v) noexcept;

// Sorts keys[0, n) ascending; tmp has room for 2 * n + 4 keys. Up to
// SORT_BY_RANK_MAX keys (which must be distinct) are sorted by rank, more
// by std::sort.
inline constexpr std::size_t SORT_BY_RANK_MAX = 128;
void sort_keys(std::uint64_t* keys, std::size_t n, std::uint64_t* tmp) noexcept;

// The largest of l[0, n) and (*index) its lowest position; *nan is set when
// some l[i] is NaN. -inf (index 0) for n == 0.
float max_index(const float* l, std::size_t n, std::size_t* index, bool* nan) noexcept;

// The Gumbel-max pre-test (lib/schemes/gumbel): flags[i] = 1 unless token i
// provably cannot win, i.e. unless (l[i] - M) * slope + lc <= e_i - 160 with
// e_i the float exponent field of (2^32 - 1 - v[i]) / 2 (a lower bound of
// log2(1 - v[i] / 2^32)).
void gumbel_flags(const float* l, const std::uint32_t* v, std::size_t n, float M, float slope, float lc,
                  std::uint8_t* flags) noexcept;

// One layer of the SynthID tournament (lib/schemes/synthid): q[i] *= f1 if
// bit `layer` of v[i] is set, else f0; returns the new sum of q and sets
// *next_mass to the sum of the new q over the entries whose bit `next_bit`
// is set. layer, next_bit < 32. Sums in float, eight lanes.
float tournament_layer(float* q, const std::uint32_t* v, std::size_t n, unsigned layer, float f0, float f1,
                       unsigned next_bit, float* next_mass) noexcept;

// How many of v[0, n) are at or above y.
std::size_t count_ge(const float* v, std::size_t n, float y) noexcept;

// A candidate (value, token id) as one integer whose ascending order is
// "higher value first, then lower id": the value's bits made
// order-preserving and inverted, then the id. v must not be NaN; -0 counts
// as +0 (and comes back as +0).
inline std::uint64_t order_key(float v, std::uint32_t id) noexcept {
  v += 0.0f;  // -0 + 0 = +0
  std::uint32_t u = 0;
  __builtin_memcpy(&u, &v, sizeof u);
  u = (u & 0x80000000u) != 0 ? ~u : (u | 0x80000000u);
  return (static_cast<std::uint64_t>(~u) << 32) | id;
}

// The same scans without AVX2 (used where the CPU lacks it; tests compare).
namespace portable {
std::size_t collect_ge(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out, bool* nan) noexcept;
std::size_t collect_ge_max(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                           float* group_max, bool* nan) noexcept;
std::size_t collect_range(const float* l, std::size_t n, float lo, float hi, std::uint32_t base, std::uint32_t* out) noexcept;
std::size_t filter_range(const std::uint32_t* ids, const float* v, std::size_t n, float lo, float hi,
                         std::uint32_t* out_ids, float* out_v) noexcept;
std::size_t collect_band(const float* l, std::size_t n, const float* group_max, float lo, float hi,
                         std::uint32_t base, std::uint32_t* out) noexcept;
}  // namespace portable

}  // namespace isotope::kernels
