#include "watermark/kernels.hpp"

#include <algorithm>
#include <array>
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

// Helpers are inlined into each clone, so that they get its instruction set.
#define ISOTOPE_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__)
#define ISOTOPE_X86_DISPATCH 1
#include <immintrin.h>
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
ISOTOPE_INLINE vf exp8(vf x) {
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

ISOTOPE_INLINE float exp1(float x) {
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
  ISOTOPE_INLINE vf bias8(const std::uint16_t* v) const {
    vh h;
    std::memcpy(&h, v, sizeof h);
    const vs green = reinterpret_cast<vs>(h ^ flip) < t;  // -1 or 0 per lane
    const vi r = __builtin_convertvector(green, vi) & d;
    vf out;
    std::memcpy(&out, &r, sizeof out);
    return out;
  }
};

// The maximum of the 8 lanes (NaN-free input), by halving with shuffles.
inline float hmax(vf m) {
#if defined(__clang__)
  vf t = __builtin_shufflevector(m, m, 4, 5, 6, 7, 0, 1, 2, 3);
  m = t > m ? t : m;
  t = __builtin_shufflevector(m, m, 2, 3, 0, 1, 6, 7, 4, 5);
  m = t > m ? t : m;
  t = __builtin_shufflevector(m, m, 1, 0, 3, 2, 5, 4, 7, 6);
#else
  vf t = __builtin_shuffle(m, vi{4, 5, 6, 7, 0, 1, 2, 3});
  m = t > m ? t : m;
  t = __builtin_shuffle(m, vi{2, 3, 0, 1, 6, 7, 4, 5});
  m = t > m ? t : m;
  t = __builtin_shuffle(m, vi{1, 0, 3, 2, 5, 4, 7, 6});
#endif
  m = t > m ? t : m;
  return m[0];
}

ISOTOPE_INLINE vf vmax(vf acc, vf b) {
  const vi take = (b > acc) | (b != b);  // NaN sticks, so the caller sees it
  return take ? b : acc;
}

}  // namespace

namespace {

// Where the bias of a logit comes from: nowhere, or its green value.
struct NoBias {};
struct GreenBias {
  const std::uint16_t* v;
  GreenMask mask;
  std::uint32_t T;
  float delta;
};
ISOTOPE_INLINE vf biased8(const float* l, std::size_t i, const NoBias&) { return loadf(l + i); }
ISOTOPE_INLINE vf biased8(const float* l, std::size_t i, const GreenBias& g) { return loadf(l + i) + g.mask.bias8(g.v + i); }
ISOTOPE_INLINE float biased1(const float* l, std::size_t i, const NoBias&) { return l[i]; }
ISOTOPE_INLINE float biased1(const float* l, std::size_t i, const GreenBias& g) {
  return l[i] + (static_cast<std::uint32_t>(g.v[i]) < g.T ? g.delta : 0.0f);
}

// max of the biased logits; NaN if one is NaN.
template <class Bias>
ISOTOPE_INLINE float biased_max(const float* l, const Bias& bias, std::size_t n) {
  const float ninf = -std::numeric_limits<float>::infinity();
  vf acc0 = splat(ninf), acc1 = splat(ninf);
  std::size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    acc0 = vmax(acc0, biased8(l, i, bias));
    acc1 = vmax(acc1, biased8(l, i + W, bias));
  }
  float m = ninf;
  for (; i < n; ++i) {
    const float b = biased1(l, i, bias);
    m = (b > m || b != b) ? b : m;
  }
  for (std::size_t j = 0; j < W; ++j) {
    const float a = acc0[j], b = acc1[j];
    m = (a > m || a != a) ? a : m;
    m = (b > m || b != b) ? b : m;
  }
  return m;
}

// w[i] = exp((biased l[i] - m) * inv_t); returns the sum of w.
template <class Bias>
ISOTOPE_INLINE float biased_exp(const float* l, const Bias& bias, float m, float inv_t, std::size_t n, float* w) {
  const vf vm = splat(m), vt = splat(inv_t);
  vf acc = splat(0.0f);
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    const vf e = exp8((biased8(l, i, bias) - vm) * vt);
    storef(w + i, e);
    acc += e;
  }
  float s = 0.0f;
  for (; i < n; ++i) {
    const float e = exp1((biased1(l, i, bias) - m) * inv_t);
    w[i] = e;
    s += e;
  }
  for (std::size_t j = 0; j < W; ++j) s += acc[j];
  return s;
}

template <class Bias>
ISOTOPE_INLINE float softmax_block(const float* l, const Bias& bias, float inv_t, std::size_t n, float* w, float* block_max) {
  const float m = biased_max(l, bias, n);
  *block_max = m;
  if (!(m > -std::numeric_limits<float>::infinity())) {  // all -inf, or NaN: no weight here
    for (std::size_t i = 0; i < n; ++i) w[i] = 0.0f;
    return 0.0f;
  }
  return biased_exp(l, bias, m, inv_t, n, w);
}

}  // namespace

ISOTOPE_CLONES
float block_softmax(const float* l, const std::uint16_t* v, std::uint32_t T, float delta, float inv_t, std::size_t n,
                    float* w, float* block_max) noexcept {
  if (v == nullptr) return softmax_block(l, NoBias{}, inv_t, n, w, block_max);
  // The biased logits go to w (their max found on the way), then the exp
  // loop runs on w in place, exactly as tight as without the watermark.
  const GreenBias g{v, GreenMask(T, delta), T, delta};
  const float ninf = -std::numeric_limits<float>::infinity();
  vf acc0 = splat(ninf), acc1 = splat(ninf);
  std::size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const vf b0 = biased8(l, i, g), b1 = biased8(l, i + W, g);
    storef(w + i, b0);
    storef(w + i + W, b1);
    acc0 = vmax(acc0, b0);
    acc1 = vmax(acc1, b1);
  }
  float m = ninf;
  for (; i < n; ++i) {
    const float b = biased1(l, i, g);
    w[i] = b;
    m = (b > m || b != b) ? b : m;
  }
  for (std::size_t j = 0; j < W; ++j) {
    const float a = acc0[j], b = acc1[j];
    m = (a > m || a != a) ? a : m;
    m = (b > m || b != b) ? b : m;
  }
  *block_max = m;
  if (!(m > ninf)) {  // all -inf, or NaN: no weight here
    for (i = 0; i < n; ++i) w[i] = 0.0f;
    return 0.0f;
  }
  return biased_exp(w, NoBias{}, m, inv_t, n, w);
}

ISOTOPE_CLONES
void add_bias(float* l, const std::uint16_t* v, std::uint32_t T, float delta, std::size_t n) noexcept {
  const GreenMask mask(T, delta);  // the same bias as block_softmax adds
  std::size_t i = 0;
  for (; i + W <= n; i += W) storef(l + i, loadf(l + i) + mask.bias8(v + i));
  for (; i < n; ++i) l[i] += static_cast<std::uint32_t>(v[i]) < T ? delta : 0.0f;
}

std::size_t portable::filter_range(const std::uint32_t* ids, const float* v, std::size_t n, float lo, float hi,
                                   std::uint32_t* out_ids, float* out_v) noexcept {
  std::size_t cnt = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const float x = v[j];
    out_ids[cnt] = ids[j];
    out_v[cnt] = x;
    cnt += (x >= lo && !(x >= hi)) ? 1 : 0;
  }
  return cnt;
}

ISOTOPE_CLONES
float max_index(const float* l, std::size_t n, std::size_t* index, bool* nan) noexcept {
  vf m = splat(-std::numeric_limits<float>::infinity());
  vi at = splati(0), bad = splati(0);
  vi pos = vi{0, 1, 2, 3, 4, 5, 6, 7};
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    const vf x = loadf(l + i);
    const vi gt = x > m;
    m = gt ? x : m;
    at = gt ? pos : at;
    bad |= x != x;
    pos += splati(static_cast<std::int32_t>(W));
  }
  float best = -std::numeric_limits<float>::infinity();
  std::size_t idx = n;
  bool any_nan = false;
  for (std::size_t k = 0; k < W; ++k) {
    any_nan |= bad[k] != 0;
    const auto a = static_cast<std::size_t>(at[k]);
    if (m[k] > best || (m[k] == best && a < idx)) {
      best = m[k];
      idx = a;
    }
  }
  for (; i < n; ++i) {
    any_nan |= l[i] != l[i];
    if (l[i] > best) {
      best = l[i];
      idx = i;
    }
  }
  if (idx == n) idx = 0;
  *index = idx;
  *nan = any_nan;
  return best;
}

ISOTOPE_CLONES
void gumbel_flags(const float* l, const std::uint32_t* v, std::size_t n, float M, float slope, float lc,
                  std::uint8_t* flags) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<std::int32_t>((0xFFFFFFFFu - v[i]) >> 1);
    const float d = static_cast<float>(x);
    std::int32_t bits = 0;
    std::memcpy(&bits, &d, 4);
    const float bound = static_cast<float>((bits >> 23) - 160);
    flags[i] = (l[i] - M) * slope + lc > bound ? 1 : 0;
  }
}

ISOTOPE_CLONES
float tournament_layer(float* q, const std::uint32_t* v, std::size_t n, unsigned layer, float f0, float f1,
                       unsigned next_bit, float* next_mass) noexcept {
  vf tot = splat(0.0f), nm = splat(0.0f);
  const vi one = splati(1);
  const auto sh = static_cast<std::int32_t>(layer);
  const auto shn = static_cast<std::int32_t>(next_bit);
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    vi bits;
    std::memcpy(&bits, v + i, sizeof bits);
    const vi b = (bits >> sh) & one;
    const vi bn = (bits >> shn) & one;
    const vf x = loadf(q + i) * (b != 0 ? splat(f1) : splat(f0));
    storef(q + i, x);
    tot += x;
    nm += bn != 0 ? x : splat(0.0f);
  }
  float t = 0.0f, m = 0.0f;
  for (std::size_t k = 0; k < W; ++k) {
    t += tot[k];
    m += nm[k];
  }
  for (; i < n; ++i) {
    q[i] *= ((v[i] >> layer) & 1u) != 0 ? f1 : f0;
    t += q[i];
    m += ((v[i] >> next_bit) & 1u) != 0 ? q[i] : 0.0f;
  }
  *next_mass = m;
  return t;
}

ISOTOPE_CLONES
std::size_t count_ge(const float* v, std::size_t n, float y) noexcept {
  std::uint32_t cnt = 0;
  for (std::size_t j = 0; j < n; ++j) cnt += v[j] >= y ? 1u : 0u;
  return cnt;
}

namespace portable {

std::size_t collect_ge(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                       bool* nan) noexcept {
  const vf t = splat(thr);
  vi bad = splati(0);
  std::size_t cnt = 0, i = 0;
  for (; i + W <= n; i += W) {
    const vf x = loadf(l + i);
    bad |= x != x;
    if (!any_lane(x >= t)) continue;
    for (std::size_t j = 0; j < W; ++j) {
      out[cnt] = base + static_cast<std::uint32_t>(i + j);
      cnt += l[i + j] >= thr ? 1 : 0;
    }
  }
  bool b = any_lane(bad);
  for (; i < n; ++i) {
    b = b || l[i] != l[i];
    out[cnt] = base + static_cast<std::uint32_t>(i);
    cnt += l[i] >= thr ? 1 : 0;
  }
  if (b) *nan = true;
  return cnt;
}

std::size_t collect_ge_max(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                           float* group_max, bool* nan) noexcept {
  static_assert(GROUP % W == 0, "a group is a whole number of vectors");
  const vf t = splat(thr);
  vi bad = splati(0);
  std::size_t cnt = 0, g = 0, i = 0;
  for (; i + GROUP <= n; i += GROUP, ++g) {
    vf m = loadf(l + i);
    for (std::size_t j = 0; j < GROUP; j += W) {
      const vf x = loadf(l + i + j);
      bad |= x != x;
      m = x > m ? x : m;
      if (!any_lane(x >= t)) continue;
      for (std::size_t q = 0; q < W; ++q) {
        out[cnt] = base + static_cast<std::uint32_t>(i + j + q);
        cnt += l[i + j + q] >= thr ? 1 : 0;
      }
    }
    group_max[g] = hmax(m);
  }
  bool b = any_lane(bad);
  if (i < n) {
    float gm = l[i];
    for (; i < n; ++i) {
      b = b || l[i] != l[i];
      gm = l[i] > gm ? l[i] : gm;
      out[cnt] = base + static_cast<std::uint32_t>(i);
      cnt += l[i] >= thr ? 1 : 0;
    }
    group_max[g] = gm;
  }
  if (b) *nan = true;
  return cnt;
}

std::size_t collect_range(const float* l, std::size_t n, float lo, float hi, std::uint32_t base,
                          std::uint32_t* out) noexcept {
  const vf vlo = splat(lo), vhi = splat(hi);
  std::size_t cnt = 0, i = 0;
  for (; i + W <= n; i += W) {
    const vf x = loadf(l + i);
    if (!any_lane((x >= vlo) & ~(x >= vhi))) continue;
    for (std::size_t j = 0; j < W; ++j) {
      out[cnt] = base + static_cast<std::uint32_t>(i + j);
      cnt += (l[i + j] >= lo && !(l[i + j] >= hi)) ? 1 : 0;
    }
  }
  for (; i < n; ++i) {
    out[cnt] = base + static_cast<std::uint32_t>(i);
    cnt += (l[i] >= lo && !(l[i] >= hi)) ? 1 : 0;
  }
  return cnt;
}

std::size_t collect_band(const float* l, std::size_t n, const float* group_max, float lo, float hi,
                         std::uint32_t base, std::uint32_t* out) noexcept {
  std::size_t cnt = 0;
  for (std::size_t g = 0, start = 0; start < n; ++g, start += GROUP) {
    if (!(group_max[g] >= lo)) continue;
    const std::size_t len = start + GROUP <= n ? GROUP : n - start;
    cnt += collect_range(l + start, len, lo, hi, base + static_cast<std::uint32_t>(start), out + cnt);
  }
  return cnt;
}

}  // namespace portable

namespace {

#if defined(ISOTOPE_X86_DISPATCH)
// AVX2 versions of the collect kernels: the scan is a compare per 8 values
// and one movemask per 32, so it runs at the speed of memory; the rare hits
// are written by walking the mask bits.
#define ISOTOPE_AVX2 __attribute__((target("avx2,bmi")))

// Lane permutations that move the lanes selected by an 8-bit mask to the
// front, in order: entry `mask` holds eight 3-bit lane numbers.
constexpr std::array<std::uint32_t, 256> make_compress_table() {
  std::array<std::uint32_t, 256> t{};
  for (unsigned mask = 0; mask < 256; ++mask) {
    std::uint32_t packed = 0;
    unsigned out = 0;
    for (unsigned lane = 0; lane < 8; ++lane)
      if ((mask >> lane) & 1u) packed |= lane << (3 * out++);
    t[mask] = packed;
  }
  return t;
}
constexpr std::array<std::uint32_t, 256> kCompress = make_compress_table();

ISOTOPE_AVX2 inline __m256i compress_perm(unsigned mask) {
  const __m256i shifts = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
  return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(kCompress[mask])), shifts),
                          _mm256_set1_epi32(7));
}

ISOTOPE_AVX2 inline std::size_t put_bits(unsigned mask, std::uint32_t first, std::uint32_t* out, std::size_t cnt) {
  while (mask != 0) {
    out[cnt++] = first + static_cast<std::uint32_t>(__builtin_ctz(mask));
    mask &= mask - 1;
  }
  return cnt;
}

// Bit j of the result: value j of the 32 in x0..x3 is at or above t.
ISOTOPE_AVX2 inline unsigned mask32(__m256 x0, __m256 x1, __m256 x2, __m256 x3, __m256 t) {
  const auto m0 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(x0, t, _CMP_GE_OQ)));
  const auto m1 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(x1, t, _CMP_GE_OQ)));
  const auto m2 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(x2, t, _CMP_GE_OQ)));
  const auto m3 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(x3, t, _CMP_GE_OQ)));
  return m0 | (m1 << 8) | (m2 << 16) | (m3 << 24);
}

ISOTOPE_AVX2 std::size_t collect_ge_avx2(const float* l, std::size_t n, float thr, std::uint32_t base,
                                         std::uint32_t* out, bool* nan) {
  const __m256 t = _mm256_set1_ps(thr);
  __m256 bad = _mm256_setzero_ps();
  std::size_t cnt = 0, i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    const __m256 x0 = _mm256_loadu_ps(l + i), x1 = _mm256_loadu_ps(l + i + 8);
    const __m256 x2 = _mm256_loadu_ps(l + i + 16), x3 = _mm256_loadu_ps(l + i + 24);
    bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_cmp_ps(x0, x1, _CMP_UNORD_Q), _mm256_cmp_ps(x2, x3, _CMP_UNORD_Q)));
    // One test for 32 values: is their maximum at or above thr? (A NaN may
    // hide a value here, but then the caller discards the result.)
    const __m256 mx = _mm256_max_ps(_mm256_max_ps(x0, x1), _mm256_max_ps(x2, x3));
    if (_mm256_movemask_ps(_mm256_cmp_ps(mx, t, _CMP_GE_OQ)) == 0) continue;
    cnt = put_bits(mask32(x0, x1, x2, x3, t), base + static_cast<std::uint32_t>(i), out, cnt);
  }
  bool b = _mm256_movemask_ps(bad) != 0;
  for (; i < n; ++i) {
    b = b || l[i] != l[i];
    if (l[i] >= thr) out[cnt++] = base + static_cast<std::uint32_t>(i);
  }
  if (b) *nan = true;
  return cnt;
}

// r[i] = max of the lanes of a[i], for 8 vectors at once (a transposing max tree).
ISOTOPE_AVX2 inline __m256 hmax8_avx2(const __m256* a) {
  __m256 t[4], u[2];
  for (std::size_t j = 0; j < 4; ++j)
    t[j] = _mm256_max_ps(_mm256_unpacklo_ps(a[2 * j], a[2 * j + 1]), _mm256_unpackhi_ps(a[2 * j], a[2 * j + 1]));
  for (std::size_t j = 0; j < 2; ++j)
    u[j] = _mm256_max_ps(_mm256_shuffle_ps(t[2 * j], t[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(t[2 * j], t[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm256_max_ps(_mm256_permute2f128_ps(u[0], u[1], 0x20), _mm256_permute2f128_ps(u[0], u[1], 0x31));
}

ISOTOPE_AVX2 std::size_t collect_ge_max_avx2(const float* l, std::size_t n, float thr, std::uint32_t base,
                                             std::uint32_t* out, float* group_max, bool* nan) {
  // A group is the 32 values that collect_ge tests at once: the lane-wise max
  // of its four vectors serves both the test and the group's maximum.
  static_assert(GROUP == 4 * W, "a group is four vectors");
  constexpr std::size_t CHUNK = W * GROUP;  // 8 groups, whose maxima are stored as one vector
  const __m256 t = _mm256_set1_ps(thr);
  __m256 bad = _mm256_setzero_ps();
  std::size_t cnt = 0, i = 0;
  for (; i + CHUNK <= n; i += CHUNK) {
    __m256 m[W];
    for (std::size_t j = 0; j < W; ++j) {
      const float* p = l + i + j * GROUP;
      const __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 8);
      const __m256 x2 = _mm256_loadu_ps(p + 16), x3 = _mm256_loadu_ps(p + 24);
      bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_cmp_ps(x0, x1, _CMP_UNORD_Q), _mm256_cmp_ps(x2, x3, _CMP_UNORD_Q)));
      m[j] = _mm256_max_ps(_mm256_max_ps(x0, x1), _mm256_max_ps(x2, x3));
      if (_mm256_movemask_ps(_mm256_cmp_ps(m[j], t, _CMP_GE_OQ)) == 0) continue;
      cnt = put_bits(mask32(x0, x1, x2, x3, t), base + static_cast<std::uint32_t>(i + j * GROUP), out, cnt);
    }
    _mm256_storeu_ps(group_max + i / GROUP, hmax8_avx2(m));
  }
  bool b = _mm256_movemask_ps(bad) != 0;
  for (std::size_t g = i / GROUP; i < n; ++g) {
    float gm = l[i];
    for (const std::size_t end = i + GROUP < n ? i + GROUP : n; i < end; ++i) {
      b = b || l[i] != l[i];
      gm = l[i] > gm ? l[i] : gm;
      if (l[i] >= thr) out[cnt++] = base + static_cast<std::uint32_t>(i);
    }
    group_max[g] = gm;
  }
  if (b) *nan = true;
  return cnt;
}

ISOTOPE_AVX2 std::size_t collect_range_avx2(const float* l, std::size_t n, float lo, float hi, std::uint32_t base,
                                            std::uint32_t* out) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  std::size_t cnt = 0, i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    const __m256 x0 = _mm256_loadu_ps(l + i), x1 = _mm256_loadu_ps(l + i + 8);
    const __m256 x2 = _mm256_loadu_ps(l + i + 16), x3 = _mm256_loadu_ps(l + i + 24);
    const __m256 mx = _mm256_max_ps(_mm256_max_ps(x0, x1), _mm256_max_ps(x2, x3));
    if (_mm256_movemask_ps(_mm256_cmp_ps(mx, vlo, _CMP_GE_OQ)) == 0) continue;
    const __m256 x[4] = {x0, x1, x2, x3};
    unsigned mask = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const __m256 in = _mm256_andnot_ps(_mm256_cmp_ps(x[j], vhi, _CMP_GE_OQ), _mm256_cmp_ps(x[j], vlo, _CMP_GE_OQ));
      mask |= static_cast<unsigned>(_mm256_movemask_ps(in)) << (j * W);
    }
    cnt = put_bits(mask, base + static_cast<std::uint32_t>(i), out, cnt);
  }
  return cnt + portable::collect_range(l + i, n - i, lo, hi, base + static_cast<std::uint32_t>(i), out + cnt);
}

ISOTOPE_AVX2 std::size_t filter_range_avx2(const std::uint32_t* ids, const float* v, std::size_t n, float lo,
                                           float hi, std::uint32_t* out_ids, float* out_v) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  std::size_t cnt = 0, j = 0;
  for (; j + W <= n; j += W) {  // writes 8 lanes at out + cnt, cnt <= j: within out's n
    const __m256 x = _mm256_loadu_ps(v + j);
    const __m256 in = _mm256_andnot_ps(_mm256_cmp_ps(x, vhi, _CMP_GE_OQ), _mm256_cmp_ps(x, vlo, _CMP_GE_OQ));
    const auto mask = static_cast<unsigned>(_mm256_movemask_ps(in));
    const __m256i perm = compress_perm(mask);
    _mm256_storeu_ps(out_v + cnt, _mm256_permutevar8x32_ps(x, perm));
    const __m256i id = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ids + j));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_ids + cnt), _mm256_permutevar8x32_epi32(id, perm));
    cnt += static_cast<std::size_t>(__builtin_popcount(mask));
  }
  for (; j < n; ++j) {
    const float x = v[j];
    out_ids[cnt] = ids[j];
    out_v[cnt] = x;
    cnt += (x >= lo && !(x >= hi)) ? 1 : 0;
  }
  return cnt;
}

// Sorts n distinct keys by rank: each key's place is the number of keys
// below it, counted four at a time for four keys at once. No branches on
// the data; n*n comparisons, which beats a comparison sort for the few
// dozen keys here.
ISOTOPE_AVX2 inline std::size_t hsum_epi64(__m256i v) {
  const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return static_cast<std::size_t>(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
}

ISOTOPE_AVX2 void sort_keys_avx2(std::uint64_t* keys, std::size_t n, std::uint64_t* tmp) {
  // tmp: the keys with the top bit flipped (so that signed compares order
  // them as unsigned), padded with the largest key to a multiple of 4.
  constexpr std::uint64_t TOP = 0x8000000000000000ULL;
  const std::size_t n4 = (n + 3) & ~static_cast<std::size_t>(3);
  for (std::size_t i = 0; i < n; ++i) tmp[i] = keys[i] ^ TOP;
  for (std::size_t i = n; i < n4; ++i) tmp[i] = ~TOP;
  std::uint64_t* out = tmp + n4;
  for (std::size_t i = 0; i < n4; i += 4) {
    const __m256i k0 = _mm256_set1_epi64x(static_cast<long long>(tmp[i]));
    const __m256i k1 = _mm256_set1_epi64x(static_cast<long long>(tmp[i + 1]));
    const __m256i k2 = _mm256_set1_epi64x(static_cast<long long>(tmp[i + 2]));
    const __m256i k3 = _mm256_set1_epi64x(static_cast<long long>(tmp[i + 3]));
    __m256i b0 = _mm256_setzero_si256(), b1 = b0, b2 = b0, b3 = b0;
    for (std::size_t j = 0; j < n4; j += 4) {
      const __m256i kj = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tmp + j));
      b0 = _mm256_sub_epi64(b0, _mm256_cmpgt_epi64(k0, kj));
      b1 = _mm256_sub_epi64(b1, _mm256_cmpgt_epi64(k1, kj));
      b2 = _mm256_sub_epi64(b2, _mm256_cmpgt_epi64(k2, kj));
      b3 = _mm256_sub_epi64(b3, _mm256_cmpgt_epi64(k3, kj));
    }
    // Padding keys rank at n and above: their slots lie past the n sorted keys.
    out[hsum_epi64(b0)] = tmp[i] ^ TOP;
    out[hsum_epi64(b1)] = tmp[i + 1] ^ TOP;
    out[hsum_epi64(b2)] = tmp[i + 2] ^ TOP;
    out[hsum_epi64(b3)] = tmp[i + 3] ^ TOP;
  }
  std::memcpy(keys, out, n * sizeof *keys);
}

// Group g (GROUP values) of collect_band.
ISOTOPE_AVX2 inline std::size_t band_group_avx2(const float* l, std::size_t g, __m256 vlo, __m256 vhi,
                                                std::uint32_t base, std::uint32_t* out, std::size_t cnt) {
  static_assert(GROUP == 4 * W, "a group is four vectors");
  const float* p = l + g * GROUP;
  unsigned mask = 0;
  for (std::size_t j = 0; j < 4; ++j) {
    const __m256 x = _mm256_loadu_ps(p + j * W);
    const __m256 in = _mm256_andnot_ps(_mm256_cmp_ps(x, vhi, _CMP_GE_OQ), _mm256_cmp_ps(x, vlo, _CMP_GE_OQ));
    mask |= static_cast<unsigned>(_mm256_movemask_ps(in)) << (j * W);
  }
  return put_bits(mask, base + static_cast<std::uint32_t>(g * GROUP), out, cnt);
}

ISOTOPE_AVX2 std::size_t collect_band_avx2(const float* l, std::size_t n, const float* group_max, float lo,
                                           float hi, std::uint32_t base, std::uint32_t* out) {
  const std::size_t full = n / GROUP;  // groups of exactly GROUP values
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  std::size_t cnt = 0;
  std::size_t g = 0;
  for (; g + W <= full; g += W) {
    auto mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(group_max + g), vlo, _CMP_GE_OQ)));
    while (mask != 0) {
      cnt = band_group_avx2(l, g + static_cast<std::size_t>(__builtin_ctz(mask)), vlo, vhi, base, out, cnt);
      mask &= mask - 1;
    }
  }
  for (; g < full; ++g)
    if (group_max[g] >= lo) cnt = band_group_avx2(l, g, vlo, vhi, base, out, cnt);
  if (full * GROUP < n && group_max[full] >= lo)
    cnt += portable::collect_range(l + full * GROUP, n - full * GROUP, lo, hi,
                                   base + static_cast<std::uint32_t>(full * GROUP), out + cnt);
  return cnt;
}

bool have_avx2() {
  __builtin_cpu_init();  // this may run before libgcc's own constructor
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
}
const bool kHaveAvx2 = have_avx2();
#endif

}  // namespace

std::size_t collect_ge(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                       bool* nan) noexcept {
#if defined(ISOTOPE_X86_DISPATCH)
  if (kHaveAvx2) return collect_ge_avx2(l, n, thr, base, out, nan);
#endif
  return portable::collect_ge(l, n, thr, base, out, nan);
}

std::size_t collect_ge_max(const float* l, std::size_t n, float thr, std::uint32_t base, std::uint32_t* out,
                           float* group_max, bool* nan) noexcept {
#if defined(ISOTOPE_X86_DISPATCH)
  if (kHaveAvx2) return collect_ge_max_avx2(l, n, thr, base, out, group_max, nan);
#endif
  return portable::collect_ge_max(l, n, thr, base, out, group_max, nan);
}

std::size_t filter_range(const std::uint32_t* ids, const float* v, std::size_t n, float lo, float hi,
                         std::uint32_t* out_ids, float* out_v) noexcept {
#if defined(ISOTOPE_X86_DISPATCH)
  if (kHaveAvx2) return filter_range_avx2(ids, v, n, lo, hi, out_ids, out_v);
#endif
  return portable::filter_range(ids, v, n, lo, hi, out_ids, out_v);
}

void sort_keys(std::uint64_t* keys, std::size_t n, std::uint64_t* tmp) noexcept {
  if (n < 2) return;
#if defined(ISOTOPE_X86_DISPATCH)
  if (kHaveAvx2 && n <= SORT_BY_RANK_MAX) return sort_keys_avx2(keys, n, tmp);
#endif
  (void)tmp;
  std::sort(keys, keys + n);
}

std::size_t collect_range(const float* l, std::size_t n, float lo, float hi, std::uint32_t base,
                          std::uint32_t* out) noexcept {
#if defined(ISOTOPE_X86_DISPATCH)
  if (kHaveAvx2) return collect_range_avx2(l, n, lo, hi, base, out);
#endif
  return portable::collect_range(l, n, lo, hi, base, out);
}

std::size_t collect_band(const float* l, std::size_t n, const float* group_max, float lo, float hi,
                         std::uint32_t base, std::uint32_t* out) noexcept {
#if defined(ISOTOPE_X86_DISPATCH)
  if (kHaveAvx2) return collect_band_avx2(l, n, group_max, lo, hi, base, out);
#endif
  return portable::collect_band(l, n, group_max, lo, hi, base, out);
}

}  // namespace isotope::kernels
