// isotope — exact tail probabilities, in log space.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "isotope/export.h"
#include "isotope/status.hpp"

namespace isotope {

struct ISOTOPE_API Tail {
  double log10_p = 0.0;  // always finite, <= 0
  double p_value = 1.0;  // 10^log10_p; 0 only when it underflows a double
};

// P(X >= k) for X ~ Binomial(n, p), 0 < p < 1, k <= n. Computed exactly
// (Loader's saddle-point pmf, then the tail summed term by term) in log space,
// so values far below 1e-308 come out as a finite log10_p.
ISOTOPE_API Tail binomial_upper_tail(std::uint64_t k, std::uint64_t n, double p) noexcept;

// z = (k - n p) / sqrt(n p (1 - p)); 0 when n == 0. For reference only.
ISOTOPE_API double binomial_z(std::uint64_t k, std::uint64_t n, double p) noexcept;

// P(X >= x) for X ~ chi-square with 2m degrees of freedom (m >= 1), exactly:
// exp(-x/2) * sum_{j<m} (x/2)^j / j!, in log space.
ISOTOPE_API Tail chi2_upper_tail_even(double x, std::uint64_t m) noexcept;

// P(X >= s) for X ~ Gamma(n, 1) (the sum of n independent Exp(1) variables),
// = P(Poisson(s) <= n - 1) = chi2_upper_tail_even(2 s, n), exactly, in log
// space. n == 0 or s <= 0: p = 1.
ISOTOPE_API Tail gamma_upper_tail(double s, std::uint64_t n) noexcept;

// P(a X + b Y >= s) for X, Y independent Gamma(n, 1), weights a, b >= 0:
// the null of a score that weighs two independent keys (vLLM's dual-key
// Gumbel, a = 1 - alpha, b = alpha). a == b, a == 0 or b == 0: a Gamma tail.
// Otherwise, with l = min(a, b), u = max(a, b): u X equals in law Gamma(n +
// K, scale l) with K ~ NegativeBinomial(n, l / u) (compare the Laplace
// transforms), so P = sum_k P(K = k) P(Gamma(2n + k, 1) >= s / l), a sum of
// positive terms that is unimodal in k; it is summed in log space outwards
// from its largest term until the two geometric bounds of what is left fall
// below e^-45 (3e-20) of the sum, and those bounds are added: the result is an
// upper bound of the exact value, above it by at most 6e-20 relatively
// (rounding aside). docs/statistics.md derives it.
ISOTOPE_API Tail weighted_gamma_upper_tail(double s, std::uint64_t n, double a, double b) noexcept;

// Fisher's method: -2 sum ln p_i ~ chi2(2n); inputs given as log10 p values.
ISOTOPE_API Tail fisher_combine(std::span<const double> log10_ps) noexcept;

// Two-sided one-sample Kolmogorov–Smirnov test of p-values against U(0,1):
// returns the p-value of the statistic (exact for n <= 100 via Marsaglia–
// Tsang–Wang, asymptotic Kolmogorov distribution beyond).
ISOTOPE_API double ks_uniform_pvalue(std::span<const double> values) noexcept;

// Holm's step-down procedure (Holm 1979, "A simple sequentially rejective
// multiple test procedure") over n p-values given as log10: with p_(1) <= ...
// <= p_(n), p_(i) is rejected while every p_(j), j <= i, has
// p_(j) <= alpha / (n - j + 1). Controls the family-wise error rate at alpha
// under any dependence. adjusted_log10_p[k] is entry k's Holm-adjusted
// p-value, max over j <= rank(k) of min(1, (n - j + 1) p_(j)), as log10.
struct ISOTOPE_API HolmResult {
  std::uint64_t rejected = 0;
  std::vector<double> adjusted_log10_p;
};
ISOTOPE_API HolmResult holm(std::span<const double> log10_p, double alpha);

}  // namespace isotope
