#include "watermark/kernels.hpp"

#include <cstring>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ISOTOPE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ISOTOPE_CLONES
#endif

namespace isotope::kernels {
namespace {

constexpr int LANES = 16;

inline float bias_of(const std::uint16_t* v, std::size_t i, std::uint32_t T, float delta) {
  // Arithmetic, not a branch: (v < T) is 0 or 1.
  return delta * static_cast<float>(static_cast<std::uint32_t>(v[i]) < T);
}

// exp(x) for x <= 0 (x > 0 is fine up to 88) with a relative error below
// 2e-7: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n by
// building the float's exponent. Branch-free; 0 for x < -87.
inline float exp_approx(float x) {
  const float lo = -87.0f;
  const bool under = !(x >= lo);  // also true for -inf and NaN
  float xc = under ? lo : x;
  xc = xc > 88.0f ? 88.0f : xc;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (xc * 1.44269504088896341f + magic) - magic;
  const float r = (xc - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t e = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  const float y = p * scale;
  return under ? 0.0f : y;
}

}  // namespace

ISOTOPE_CLONES
float biased_max(const float* l, const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n) noexcept {
  float acc[LANES];
  for (float& a : acc) a = -std::numeric_limits<float>::infinity();
  std::size_t i = 0;
  if (v == nullptr) {
    for (; i + LANES <= n; i += LANES)
      for (int j = 0; j < LANES; ++j) {
        const float b = l[i + j];
        acc[j] = (b > acc[j] || b != b) ? b : acc[j];  // NaN sticks, so the caller sees it
      }
  } else {
    for (; i + LANES <= n; i += LANES)
      for (int j = 0; j < LANES; ++j) {
        const float b = l[i + j] + bias_of(v, i + j, T, delta);
        acc[j] = (b > acc[j] || b != b) ? b : acc[j];
      }
  }
  float m = -std::numeric_limits<float>::infinity();
  for (; i < n; ++i) {
    const float b = l[i] + (v == nullptr ? 0.0f : bias_of(v, i, T, delta));
    m = (b > m || b != b) ? b : m;
  }
  for (float a : acc) m = (a > m || a != a) ? a : m;
  return m;
}

ISOTOPE_CLONES
void biased_exp(const float* l, const std::uint16_t* v, std::uint32_t T, float delta, float m, float inv_t,
                std::size_t n, float* w, float* block_sums) noexcept {
  for (std::size_t start = 0, b = 0; start < n; start += BLOCK, ++b) {
    const std::size_t end = start + BLOCK < n ? start + BLOCK : n;
    float acc[LANES] = {};
    std::size_t i = start;
    if (v == nullptr) {
      for (; i + LANES <= end; i += LANES)
        for (int j = 0; j < LANES; ++j) {
          const float e = exp_approx((l[i + j] - m) * inv_t);
          w[i + j] = e;
          acc[j] += e;
        }
    } else {
      for (; i + LANES <= end; i += LANES)
        for (int j = 0; j < LANES; ++j) {
          const float e = exp_approx((l[i + j] + bias_of(v, i + j, T, delta) - m) * inv_t);
          w[i + j] = e;
          acc[j] += e;
        }
    }
    float s = 0.0f;
    for (; i < end; ++i) {
      const float e = exp_approx((l[i] + (v == nullptr ? 0.0f : bias_of(v, i, T, delta)) - m) * inv_t);
      w[i] = e;
      s += e;
    }
    for (float a : acc) s += a;
    block_sums[b] = s;
  }
}

ISOTOPE_CLONES
void add_bias(float* l, const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) l[i] += bias_of(v, i, T, delta);
}

ISOTOPE_CLONES
float max16(const float* l) noexcept {
  float m = l[0];
  for (int j = 1; j < LANES; ++j) m = l[j] > m ? l[j] : m;
  return m;
}

}  // namespace isotope::kernels
