// The SynthID tournament's weights, layer by layer and by histograms
// (tournament.hpp).
#include "schemes/synthid/tournament.hpp"

#include <algorithm>
#include <cmath>

#include "schemes/distortion_free.hpp"
#include "watermark/kernels.hpp"

namespace isotope::detail {
namespace {

// A sum with four running partial sums (the additions are independent, so
// they need not wait for each other).
template <typename T>
double sum(const T* x, std::size_t n) noexcept {
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += static_cast<double>(x[i]);
    a1 += static_cast<double>(x[i + 1]);
    a2 += static_cast<double>(x[i + 2]);
    a3 += static_cast<double>(x[i + 3]);
  }
  for (; i < n; ++i) a0 += static_cast<double>(x[i]);
  return (a0 + a1) + (a2 + a3);
}

// sum of x[i] * y[i], likewise.
double dot(const float* x, const double* y, std::size_t n) noexcept {
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += static_cast<double>(x[i]) * y[i];
    a1 += static_cast<double>(x[i + 1]) * y[i + 1];
    a2 += static_cast<double>(x[i + 2]) * y[i + 2];
    a3 += static_cast<double>(x[i + 3]) * y[i + 3];
  }
  for (; i < n; ++i) a0 += static_cast<double>(x[i]) * y[i];
  return (a0 + a1) + (a2 + a3);
}

// Layers per stage: each stage costs one pass over the candidates that adds
// each one's weight into one of 2^16 float sums (256 KiB), and the stage's
// layers then run on those sums. (2^12 sums fit the first-level cache but
// need three passes for m = 30; two passes into the second-level cache are
// faster.)
constexpr unsigned STAGE_BITS = 16;

// The factors of one layer whose share of the weight with g = 1 is G.
void layer_factors(double G, int k, double* c0, double* c1) noexcept {
  if (k == 2) {
    *c0 = 1.0 - G;
    *c1 = 2.0 - G;
  } else {
    *c0 = std::pow(1.0 - G, k - 1);
    *c1 = G > 0.0 ? (1.0 - std::pow(1.0 - G, k)) / G : static_cast<double>(k);
  }
}

// Runs `count` layers on the weights w[0, bins) of bit patterns: layer j reads
// bit j of the pattern. Multiplies f by each pattern's factors; *total is the
// sum of the weights after the last layer.
Status run_layers(std::vector<double>& w, std::vector<double>& f, unsigned bins, unsigned count, int k, double* total) {
  double tot = sum(w.data(), bins);
  for (unsigned j = 0; j < count; ++j) {
    if (!(tot > 0.0) || !std::isfinite(tot)) return bad_logits();
    // The patterns with bit j set: runs of 2^j, every other one.
    double mass = 0.0;
    const unsigned run = 1u << j;
    for (unsigned b = run; b < bins; b += 2 * run) mass += sum(w.data() + b, run);
    double c0 = 0.0, c1 = 0.0;
    layer_factors(std::min(1.0, mass / tot), k, &c0, &c1);
    for (unsigned b = 0; b < bins; ++b) {
      const double c = ((b >> j) & 1u) != 0 ? c1 : c0;
      w[b] *= c;
      f[b] *= c;
    }
    tot = sum(w.data(), bins);
  }
  *total = tot;
  return Status::OK();
}

}  // namespace

Status tournament_layered(std::span<float> q, std::span<const std::uint32_t> v, unsigned m, int k,
                          std::span<float> block, double* total) {
  const std::size_t n = q.size();
  const std::size_t B = kernels::BLOCK;
  const std::size_t nb = (n + B - 1) / B;
  // Layer l multiplies by c1 where g_l = 1 and by c0 where g_l = 0; the
  // first pass only measures the mass with g_0 = 1.
  double tot = 0.0, mass = 0.0;
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t start = b * B, len = std::min(B, n - start);
    float mb = 0.0f;
    block[b] = kernels::tournament_layer(q.data() + start, v.data() + start, len, 0, 1.0f, 1.0f, 0, &mb);
    tot += block[b];
    mass += mb;
  }
  for (unsigned l = 0; l < m; ++l) {
    if (!(tot > 0.0) || !std::isfinite(tot)) return bad_logits();
    double c0 = 0.0, c1 = 0.0;
    layer_factors(std::min(1.0, mass / tot), k, &c0, &c1);
    const unsigned next = l + 1 < m ? l + 1 : l;
    double t = 0.0, nm = 0.0;
    for (std::size_t b = 0; b < nb; ++b) {
      const std::size_t start = b * B, len = std::min(B, n - start);
      float mb = 0.0f;
      block[b] = kernels::tournament_layer(q.data() + start, v.data() + start, len, l, static_cast<float>(c0),
                                           static_cast<float>(c1), next, &mb);
      t += block[b];
      nm += mb;
    }
    tot = t;
    mass = nm;
  }
  if (!(tot > 0.0) || !std::isfinite(tot)) return bad_logits();
  *total = tot;
  return Status::OK();
}

Status HistogramTournament::run(std::span<float> q, std::span<const std::uint32_t> v, unsigned m, int k,
                                double* total) {
  const std::size_t n = q.size();
  double tot = 0.0;
  for (unsigned lo = 0; lo < m; lo += STAGE_BITS) {
    const unsigned bits = std::min(STAGE_BITS, m - lo);
    const std::uint32_t mask = (1u << bits) - 1u;
    hist_.assign(std::size_t{1} << bits, 0.0f);
    float* h = hist_.data();
    const std::uint32_t* vv = v.data();
    float* qq = q.data();
    if (lo == 0) {
      for (std::size_t t = 0; t < n; ++t) h[vv[t] & mask] += qq[t];
    } else {  // the previous stage's factors, then this stage's sums
      const float* fa = fa_.data();
      const float* fb = fb_.data();
      const unsigned ps = shift_;
      const std::uint32_t pm = mask_;
      for (std::size_t t = 0; t < n; ++t) {
        const std::uint32_t x = (vv[t] >> ps) & pm;
        const float w = qq[t] * (fa[x & 0xFFu] * fb[x >> 8]);
        qq[t] = w;
        h[(vv[t] >> lo) & mask] += w;
      }
    }
    shift_ = lo;
    mask_ = mask;
    ISOTOPE_RETURN_IF_ERROR(stage(bits, k, &tot));
  }
  *total = tot;
  return Status::OK();
}

// The stage's layers on hist_: the low 8 bits' layers on the
// marginal over the high bits, then the high bits' layers on the sums
// weighted by the low bits' factors.
Status HistogramTournament::stage(unsigned bits, int k, double* total) {
  const unsigned bits_a = std::min(bits, 8u), bits_b = bits - bits_a;
  const unsigned na = 1u << bits_a, nb = 1u << bits_b;
  bins_ = na * nb;
  rows_ = nb;
  w_.assign(na, 0.0);
  f_.assign(na, 1.0);
  for (unsigned g = 0; g < nb; ++g) {
    const float* h = hist_.data() + static_cast<std::size_t>(g) * na;
    for (unsigned b = 0; b < na; ++b) w_[b] += static_cast<double>(h[b]);
  }
  double tot = 0.0;
  ISOTOPE_RETURN_IF_ERROR(run_layers(w_, f_, na, bits_a, k, &tot));
  fa_.assign(256, 0.0f);
  fb_.assign(256, 0.0f);
  for (unsigned b = 0; b < na; ++b) fa_[b] = static_cast<float>(f_[b]);
  fa_d_ = f_;
  // The rows' sums weighted by the low bits' factors: the high bits' weights.
  row_.assign(nb, 0.0);
  for (unsigned g = 0; g < nb; ++g) row_[g] = dot(hist_.data() + static_cast<std::size_t>(g) * na, fa_d_.data(), na);
  if (bits_b == 0) {
    fb_[0] = 1.0f;
  } else {
    w_ = row_;
    f_.assign(nb, 1.0);
    ISOTOPE_RETURN_IF_ERROR(run_layers(w_, f_, nb, bits_b, k, &tot));
    for (unsigned g = 0; g < nb; ++g) fb_[g] = static_cast<float>(f_[g]);
  }
  if (!(tot > 0.0) || !std::isfinite(tot)) return bad_logits();
  *total = tot;
  return Status::OK();
}

void HistogramTournament::finish(std::span<float> q, std::span<const std::uint32_t> v) const noexcept {
  for (std::size_t t = 0; t < q.size(); ++t) q[t] *= factor(v[t]);
}

std::size_t HistogramTournament::draw(std::span<const float> q, std::span<const std::uint32_t> v,
                                      double u) const noexcept {
  // The pattern: its high bits (a row) by the row's weight, then its low bits
  // within the row; a pattern's weight is its summed weight times its factor.
  double rows_total = 0.0;
  for (unsigned g = 0; g < rows_; ++g) rows_total += row_[g] * fb_[g];
  const double r = u * rows_total;
  const unsigned na = bins_ / rows_;
  double cum = 0.0;
  std::uint32_t pick = 0;
  bool found = false;
  for (unsigned g = 0; g < rows_ && !found; ++g) {
    const double rw = row_[g] * fb_[g];
    if (!(rw > 0.0)) continue;
    if (!(r < cum + rw) && g + 1 < rows_) {
      cum += rw;
      continue;
    }
    for (unsigned b = 0; b < na; ++b) {  // the row holding r (or the last with weight)
      const double w = static_cast<double>(hist_[g * na + b]) * fa_d_[b] * fb_[g];
      if (!(w > 0.0)) continue;
      pick = g * na + b;
      found = true;
      if (r < cum + w) break;
      cum += w;
    }
  }
  if (!found) return 0;
  // The candidate: among those with the pattern, by their weight (the
  // factor is common to them). Blocks of 64 are skipped when none matches.
  const double f = fa_d_[pick & 0xFFu] * fb_[pick >> 8];
  double acc = cum;
  std::size_t last = q.size();
  const std::size_t n = q.size();
  for (std::size_t start = 0; start < n; start += 64) {
    const std::size_t end = std::min(n, start + 64);
    unsigned any = 0;
    for (std::size_t t = start; t < end; ++t) any |= ((v[t] >> shift_) & mask_) == pick ? 1u : 0u;
    if (any == 0) continue;
    for (std::size_t t = start; t < end; ++t) {
      if (((v[t] >> shift_) & mask_) != pick || !(q[t] > 0.0f)) continue;
      last = t;
      acc += static_cast<double>(q[t]) * f;
      if (r < acc) return t;
    }
  }
  return last < n ? last : 0;
}

}  // namespace isotope::detail
