// The SynthID tournament's weights (Dathathri et al., Nature 2024, the
// vectorised form of tournament sampling). Internal.
//
// n candidates with probabilities q_t and m keyed bits (bit l of v_t is the
// g-value of layer l + 1). With k competitors per match, layer l multiplies
// every weight by
//   c1 = (1 - (1 - G)^k) / G   where g_l(t) = 1,     c0 = (1 - G)^(k-1)   where g_l(t) = 0
// (k = 2: 2 - G and 1 - G), G being the share of the current weights whose
// g_l is 1. After m layers the weight of t is q_t times a factor that depends
// on t's m bits alone.
//
// Two exact computations of the same weights:
//  - layered: m passes over the candidates (cheap for a few candidates: top-k);
//  - histogram: the weight after layer l depends only on q_t and t's first l
//    bits, so a stage of up to 16 layers needs the candidates' current weights
//    summed by their 16 bits of that stage (one pass over the candidates);
//    the stage's layers then run on those 65,536 sums, 8 layers at a time on
//    256-bin marginals, and leave one factor per bit pattern. m = 30 costs
//    two passes over the candidates instead of thirty.
// Both compute G and the factors in double from float weights, so their
// weights agree to float rounding, not bit for bit.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "isotope/status.hpp"

namespace isotope::detail {

// Layer by layer. q (n probabilities, not all zero) becomes the final
// weights; block[b] receives the sum of block b of kernels::BLOCK weights
// (block must hold ceil(n / BLOCK) entries); *total their sum. Errors:
// invalid_argument when the weights vanish or overflow on the way.
Status tournament_layered(std::span<float> q, std::span<const std::uint32_t> v, unsigned m, int k,
                          std::span<float> block, double* total);

// By histograms: the state that the last stage leaves for drawing without a
// final pass over the candidates.
class HistogramTournament {
 public:
  // Runs the m layers (1 <= m <= 32). On return q holds each candidate's
  // weight before the last stage (the last stage's factor is factor(v_t));
  // *total is the sum of the final weights. Errors as tournament_layered.
  Status run(std::span<float> q, std::span<const std::uint32_t> v, unsigned m, int k, double* total);
  // The last stage's factor of a candidate with bits v.
  float factor(std::uint32_t v) const noexcept {
    const std::uint32_t x = (v >> shift_) & mask_;
    return fa_[x & 0xFFu] * fb_[x >> 8];
  }
  // Multiplies q by the last stage's factors: q then holds the final weights.
  void finish(std::span<float> q, std::span<const std::uint32_t> v) const noexcept;
  // Draws a candidate with probability final weight / total, from u in [0, 1):
  // the last stage's bit pattern first, by its summed weight, then the
  // candidate among those with that pattern. q as run() left it.
  std::size_t draw(std::span<const float> q, std::span<const std::uint32_t> v, double u) const noexcept;

 private:
  Status stage(unsigned bits, int k, double* total);
  std::vector<float> hist_;    // current weights summed by the stage's bit pattern (row: high 8 bits)
  std::vector<double> w_, f_;  // working marginals and their factors
  std::vector<double> row_;    // each row's sum weighted by the low bits' factors
  std::vector<double> fa_d_;   // the low bits' factors in double
  std::vector<float> fa_ = std::vector<float>(256, 0.0f), fb_ = std::vector<float>(256, 1.0f);  // the stage's factors
  unsigned shift_ = 0;
  std::uint32_t mask_ = 0;
  unsigned bins_ = 0, rows_ = 1;
};

}  // namespace isotope::detail
