#include "watermark/kernels.hpp"

#include <cstring>
#include <limits>

// The helpers below pass 32-byte vectors by value; they are all inlined, so
// the ABI note GCC gives for the baseline clone does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ISOTOPE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ISOTOPE_CLONES
#endif

namespace isotope::kernels {
namespace {

// Explicit 8-wide vectors (GCC/Clang vector extensions): one AVX2 register,
// or two SSE2 registers on the baseline clone.
constexpr std::size_t W = 8;
typedef float vf __attribute__((vector_size(32)));
typedef std::int32_t vi __attribute__((vector_size(32)));
typedef std::uint16_t vh __attribute__((vector_size(16)));
typedef std::int16_t vs __attribute__((vector_size(16)));

inline vf splat(float x) { return vf{x, x, x, x, x, x, x, x}; }
inline vi splati(std::int32_t x) { return vi{x, x, x, x, x, x, x, x}; }
inline vf loadf(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storef(float* p, vf v) { std::memcpy(p, &v, sizeof v); }


// exp(x) with a relative error below 2e-7 for -87 <= x <= 88: x = n ln2 + r,
// |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n built in the exponent
// bits. Exactly 0 for x < -87, -inf and NaN.
inline vf exp8(vf x) {
  const vi under = ~(x >= splat(-87.0f));  // true for NaN too
  vf xc = under ? splat(-87.0f) : x;
  xc = xc > splat(88.0f) ? splat(88.0f) : xc;
  const vf magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const vf n = (xc * splat(1.44269504088896341f) + magic) - magic;
  const vf r = (xc - n * splat(0.693145751953125f)) - n * splat(1.42860682030941723212e-6f);
  vf p = splat(1.0f / 720.0f);
  p = p * r + splat(1.0f / 120.0f);
  p = p * r + splat(1.0f / 24.0f);
  p = p * r + splat(1.0f / 6.0f);
  p = p * r + splat(0.5f);
  p = p * r + splat(1.0f);
  p = p * r + splat(1.0f);
  const vi e = (__builtin_convertvector(n, vi) + splati(127)) << 23;
  vf scale;
  std::memcpy(&scale, &e, sizeof scale);
  const vf y = p * scale;
  return under ? splat(0.0f) : y;
}

inline float exp1(float x) {
  float in[W] = {x};
  vf v;
  std::memcpy(&v, in, sizeof v);
  return exp8(v)[0];
}

// True if any lane is set: OR-fold the lanes with shuffles.
inline bool any_lane(vi m) {
#if defined(__clang__)
  m |= __builtin_shufflevector(m, m, 4, 5, 6, 7, 0, 1, 2, 3);
  m |= __builtin_shufflevector(m, m, 2, 3, 0, 1, 6, 7, 4, 5);
  m |= __builtin_shufflevector(m, m, 1, 0, 3, 2, 5, 4, 7, 6);
#else
  m |= __builtin_shuffle(m, vi{4, 5, 6, 7, 0, 1, 2, 3});
  m |= __builtin_shuffle(m, vi{2, 3, 0, 1, 6, 7, 4, 5});
  m |= __builtin_shuffle(m, vi{1, 0, 3, 2, 5, 4, 7, 6});
#endif
  return m[0] != 0;
}

// delta for the green values among 8 (value < T), else 0. A mask, not a
// branch: unsigned v < T as a signed 16-bit compare of both sides shifted by
// 0x8000 (T <= 65535), widened to 32 bits and ANDed with delta's bits.
struct GreenMask {
  vs t;
  vh flip;
  vi d;
  GreenMask(std::uint32_t T, float delta) {
    const auto ts = static_cast<std::int16_t>(static_cast<std::uint16_t>(T ^ 0x8000u));
    const std::uint16_t f = 0x8000;
    t = vs{ts, ts, ts, ts, ts, ts, ts, ts};
    flip = vh{f, f, f, f, f, f, f, f};
    const vf dv = splat(delta);
    std::memcpy(&d, &dv, sizeof d);
  }
  vf bias8(const std::uint16_t* v) const {
    vh h;
    std::memcpy(&h, v, sizeof h);
    const vs green = reinterpret_cast<vs>(h ^ flip) < t;  // -1 or 0 per lane
    const vi r = __builtin_convertvector(green, vi) & d;
    vf out;
    std::memcpy(&out, &r, sizeof out);
    return out;
  }
};

inline vf vmax(vf acc, vf b) {
  const vi take = (b > acc) | (b != b);  // NaN sticks, so the caller sees it
  return take ? b : acc;
}

}  // namespace

ISOTOPE_CLONES
float biased_max(const float* l, const float* bias, std::size_t n) noexcept {
  const float ninf = -std::numeric_limits<float>::infinity();
  vf acc0 = splat(ninf), acc1 = splat(ninf);
  std::size_t i = 0;
  if (bias == nullptr) {
    for (; i + 2 * W <= n; i += 2 * W) {
      acc0 = vmax(acc0, loadf(l + i));
      acc1 = vmax(acc1, loadf(l + i + W));
    }
  } else {
    for (; i + 2 * W <= n; i += 2 * W) {
      acc0 = vmax(acc0, loadf(l + i) + loadf(bias + i));
      acc1 = vmax(acc1, loadf(l + i + W) + loadf(bias + i + W));
    }
  }
  float m = ninf;
  for (; i < n; ++i) {
    const float b = bias == nullptr ? l[i] : l[i] + bias[i];
    m = (b > m || b != b) ? b : m;
  }
  for (std::size_t j = 0; j < W; ++j) {
    const float a = acc0[j], b = acc1[j];
    m = (a > m || a != a) ? a : m;
    m = (b > m || b != b) ? b : m;
  }
  return m;
}

ISOTOPE_CLONES
void biased_exp(const float* l, const float* bias, float m, float inv_t, std::size_t n, float* w,
                float* block_sums) noexcept {
  const vf vm = splat(m), vt = splat(inv_t);
  for (std::size_t start = 0, b = 0; start < n; start += BLOCK, ++b) {
    const std::size_t end = start + BLOCK < n ? start + BLOCK : n;
    vf acc = splat(0.0f);
    std::size_t i = start;
    if (bias == nullptr) {
      for (; i + W <= end; i += W) {
        const vf e = exp8((loadf(l + i) - vm) * vt);
        storef(w + i, e);
        acc += e;
      }
    } else {
      for (; i + W <= end; i += W) {
        const vf e = exp8((loadf(l + i) + loadf(bias + i) - vm) * vt);
        storef(w + i, e);
        acc += e;
      }
    }
    float s = 0.0f;
    for (; i < end; ++i) {
      const float e = exp1(((bias == nullptr ? l[i] : l[i] + bias[i]) - m) * inv_t);
      w[i] = e;
      s += e;
    }
    for (std::size_t j = 0; j < W; ++j) s += acc[j];
    block_sums[b] = s;
  }
}

ISOTOPE_CLONES
float block_softmax(const float* l, const float* bias, float inv_t, std::size_t n, float* w,
                    float* block_max) noexcept {
  const float m = biased_max(l, bias, n);
  *block_max = m;
  if (!(m > -std::numeric_limits<float>::infinity())) {  // all -inf, or NaN: no weight here
    for (std::size_t i = 0; i < n; ++i) w[i] = 0.0f;
    return 0.0f;
  }
  float sum = 0.0f;
  biased_exp(l, bias, m, inv_t, n, w, &sum);
  return sum;
}

ISOTOPE_CLONES
void green_bias(const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n, float* bias) noexcept {
  const GreenMask mask(T, delta);
  std::size_t i = 0;
  for (; i + W <= n; i += W) storef(bias + i, mask.bias8(v + i));
  for (; i < n; ++i) bias[i] = static_cast<std::uint32_t>(v[i]) < T ? delta : 0.0f;
}

ISOTOPE_CLONES
void add_bias(float* l, const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n) noexcept {
  const GreenMask mask(T, delta);  // the same bias as green_bias, added in place
  std::size_t i = 0;
  for (; i + W <= n; i += W) storef(l + i, loadf(l + i) + mask.bias8(v + i));
  for (; i < n; ++i) l[i] += static_cast<std::uint32_t>(v[i]) < T ? delta : 0.0f;
}

ISOTOPE_CLONES
std::size_t collect_ge(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out) noexcept {
  const vf t = splat(thr);
  std::size_t cnt = 0, i = 0;
  for (; i + W <= n; i += W) {
    if (!any_lane(loadf(l + i) >= t)) continue;
    for (std::size_t j = 0; j < W; ++j) {
      out[cnt] = base + static_cast<std::uint32_t>(i + j);
      cnt += l[i + j] >= thr ? 1 : 0;
    }
  }
  for (; i < n; ++i) {
    out[cnt] = base + static_cast<std::uint32_t>(i);
    cnt += l[i] >= thr ? 1 : 0;
  }
  return cnt;
}

ISOTOPE_CLONES
std::size_t collect_ge_max(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                           float* group_max) noexcept {
  const vf t = splat(thr);
  std::size_t cnt = 0, g = 0, i = 0;
  for (; i + GROUP <= n; i += GROUP, ++g) {
    vf m = loadf(l + i);
    for (std::size_t j = 0; j < GROUP; j += W) {
      const vf x = loadf(l + i + j);
      m = x > m ? x : m;
      if (!any_lane(x >= t)) continue;
      for (std::size_t q = 0; q < W; ++q) {
        out[cnt] = base + static_cast<std::uint32_t>(i + j + q);
        cnt += l[i + j + q] >= thr ? 1 : 0;
      }
    }
    float gm = m[0];
    for (std::size_t q = 1; q < W; ++q) gm = m[q] > gm ? m[q] : gm;
    group_max[g] = gm;
  }
  if (i < n) {
    float gm = l[i];
    for (; i < n; ++i) {
      gm = l[i] > gm ? l[i] : gm;
      out[cnt] = base + static_cast<std::uint32_t>(i);
      cnt += l[i] >= thr ? 1 : 0;
    }
    group_max[g] = gm;
  }
  return cnt;
}

}  // namespace isotope::kernels
