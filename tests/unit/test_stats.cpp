// Tests of lib/stats against reference values computed with mpmath at 50
// digits or exactly (tests/vectors/gen_stats_vectors.py), plus properties
// (monotonicity, symmetry, finiteness) over sweeps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "isotope/stats.hpp"

using isotope::binomial_upper_tail;
using isotope::binomial_z;
using isotope::chi2_upper_tail_even;
using isotope::fisher_combine;
using isotope::ks_uniform_pvalue;
using isotope::Tail;

namespace {

const nlohmann::json& vectors() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/stats_vectors.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

double parse_decimal(const nlohmann::json& v) {
  const std::string s = v.get<std::string>();
  return std::strtod(s.c_str(), nullptr);
}

// Relative error on log10_p. A reference below the smallest normal double
// (e.g. log10_p = -7e-565, a p-value within 1e-564 of 1) cannot be
// represented: the result must then be zero or subnormal.
double rel_err(double got, double ref) {
  if (got == ref) return 0.0;
  if (std::fabs(ref) < std::numeric_limits<double>::min())
    return std::fabs(got) < std::numeric_limits<double>::min() ? 0.0 : 1.0;
  return std::fabs(got - ref) / std::max(std::fabs(ref), 1e-300);
}

bool tail_is_consistent(const Tail& t) {
  if (!std::isfinite(t.log10_p) || !std::isfinite(t.p_value)) return false;
  if (t.log10_p > 0.0 || t.p_value < 0.0 || t.p_value > 1.0) return false;
  // 10^log10_p re-rounds: its relative error grows with |ln p|.
  const double expect = std::pow(10.0, t.log10_p);
  if (expect < std::numeric_limits<double>::min()) return t.p_value <= 2 * std::numeric_limits<double>::min();
  return std::fabs(t.p_value - expect) <= 1e-15 * (4.0 + std::fabs(t.log10_p) * std::log(10.0)) * expect;
}

constexpr double kRelTol = 1e-12;

}  // namespace

TEST_CASE("binomial tail matches 50-digit references", "[stats][binomial]") {
  const auto& vs = vectors().at("binomial");
  REQUIRE(vs.size() > 3000);
  // Reported separately: p-values up to 1/2 (the tail itself is summed) and
  // above 1/2 (1 - the opposite tail), where the relative error of log10_p is
  // that of 1 - p and grows with |ln(1 - p)|.
  double max_rel = 0.0;
  double max_rel_low = 0.0;
  std::string worst;
  for (const auto& v : vs) {
    const auto n = v.at("n").get<std::uint64_t>();
    const auto k = v.at("k").get<std::uint64_t>();
    const double g = v.at("gamma").get<double>();
    const double ref = parse_decimal(v.at("log10_p"));
    const Tail t = binomial_upper_tail(k, n, g);
    const double e = rel_err(t.log10_p, ref);
    if (ref <= -0.30103) max_rel_low = std::max(max_rel_low, e);
    if (e > max_rel) {
      max_rel = e;
      worst = "n=" + std::to_string(n) + " k=" + std::to_string(k) + " gamma=" + std::to_string(g);
    }
    INFO("n=" << n << " k=" << k << " gamma=" << g << " ref=" << ref << " got=" << t.log10_p);
    CHECK(e <= kRelTol);
    CHECK(tail_is_consistent(t));
    if (k == 0) {
      CHECK(t.log10_p == 0.0);
      CHECK(t.p_value == 1.0);
    }
  }
  WARN("binomial: max relative error of log10_p " << max_rel << " (" << worst << "); for p <= 1/2: "
                                                   << max_rel_low);
}

TEST_CASE("binomial tail: edge cases", "[stats][binomial]") {
  SECTION("k == 0 and n == 0 give exactly p = 1") {
    for (std::uint64_t n : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000},
                            std::uint64_t{1} << 40}) {
      const Tail t = binomial_upper_tail(0, n, 0.25);
      CHECK(t.log10_p == 0.0);
      CHECK(t.p_value == 1.0);
    }
  }
  SECTION("k == n is p^n") {
    const Tail t = binomial_upper_tail(10'000'000, 10'000'000, 0.25);
    const double expect = 1e7 * std::log10(0.25);
    CHECK(std::fabs(t.log10_p - expect) <= 1e-13 * std::fabs(expect));
    CHECK(t.p_value == 0.0);
    const std::uint64_t big = std::uint64_t{1} << 40;
    const Tail tb = binomial_upper_tail(big, big, 0.5);
    CHECK(std::fabs(tb.log10_p - static_cast<double>(big) * std::log10(0.5)) <=
          1e-13 * static_cast<double>(big));
  }
  SECTION("k == 1 is 1 - q^n") {
    for (double p : {1e-9, 1e-3, 0.25, 0.5}) {
      for (std::uint64_t n : {1u, 2u, 10u, 1000u, 1000000u}) {
        const double ln_qn = static_cast<double>(n) * std::log1p(-p);
        const double expect = (ln_qn > -0.69 ? std::log(-std::expm1(ln_qn)) : std::log1p(-std::exp(ln_qn))) /
                              std::log(10.0);
        const Tail t = binomial_upper_tail(1, n, p);
        INFO("p=" << p << " n=" << n);
        CHECK(rel_err(t.log10_p, expect) <= 1e-13);
      }
    }
  }
  SECTION("tiny p-values stay finite") {
    const Tail t = binomial_upper_tail(60'000, 100'000, 0.25);
    CHECK(std::isfinite(t.log10_p));
    CHECK(t.log10_p < -10'000.0);
    CHECK(t.p_value == 0.0);
  }
  SECTION("outside the domain") {
    CHECK(std::isnan(binomial_upper_tail(1, 10, 0.0).log10_p));
    CHECK(std::isnan(binomial_upper_tail(1, 10, 1.0).log10_p));
    CHECK(std::isnan(binomial_upper_tail(1, 10, std::nan("")).log10_p));
    const Tail t = binomial_upper_tail(11, 10, 0.5);
    CHECK(t.p_value == 0.0);
    CHECK(t.log10_p == -std::numeric_limits<double>::infinity());
  }
}

TEST_CASE("binomial tail: monotone in k", "[stats][binomial]") {
  for (double p : {0.25, 0.5, 0.1, 0.9, 1e-6}) {
    for (std::uint64_t n : {1u, 7u, 30u, 200u, 2000u}) {
      double prev = 0.0;
      for (std::uint64_t k = 0; k <= n; ++k) {
        const double l = binomial_upper_tail(k, n, p).log10_p;
        INFO("p=" << p << " n=" << n << " k=" << k);
        REQUIRE(l <= prev);
        prev = l;
      }
    }
  }
  // Consecutive k across the mean for large n, on both evaluation paths.
  for (std::uint64_t n : {std::uint64_t{1'000'000}, std::uint64_t{100'000'000},
                          std::uint64_t{10'000'000'000}}) {
    const double p = 0.25;
    const double mean = static_cast<double>(n) * p;
    const double sd = std::sqrt(mean * (1 - p));
    for (double z : {-3.0, 0.0, 2.0, 8.0}) {
      const auto k0 = static_cast<std::uint64_t>(mean + z * sd);
      double prev = binomial_upper_tail(k0, n, p).log10_p;
      for (std::uint64_t k = k0 + 1; k < k0 + 50; ++k) {
        const double l = binomial_upper_tail(k, n, p).log10_p;
        INFO("n=" << n << " k=" << k);
        REQUIRE(l < prev);
        prev = l;
      }
    }
  }
}

TEST_CASE("binomial tail: complement symmetry", "[stats][binomial]") {
  // P(X >= k; n, p) + P(X >= n - k + 1; n, 1 - p) = 1, with both p and 1 - p exact.
  for (double p : {0.25, 0.5, 0.125, 0.2500152587890625}) {
    for (std::uint64_t n : {std::uint64_t{5}, std::uint64_t{100}, std::uint64_t{12345},
                            std::uint64_t{1'000'000}, std::uint64_t{300'000'000}}) {
      const double mean = static_cast<double>(n) * p;
      const double sd = std::sqrt(mean * (1 - p));
      for (double z : {-6.0, -2.0, -0.5, 0.0, 0.5, 1.0, 4.0}) {
        const double kk = std::floor(mean + z * sd);
        if (kk < 1 || kk > static_cast<double>(n)) continue;
        const auto k = static_cast<std::uint64_t>(kk);
        const Tail a = binomial_upper_tail(k, n, p);
        const Tail b = binomial_upper_tail(n - k + 1, n, 1.0 - p);
        INFO("p=" << p << " n=" << n << " k=" << k);
        CHECK(std::fabs(a.p_value + b.p_value - 1.0) <= 1e-14);
      }
    }
  }
  // p = 1/2: P(X >= k) = P(X <= n - k) = 1 - P(X >= n - k + 1).
  for (std::uint64_t n : {11u, 1000u, 99999u}) {
    for (std::uint64_t k = 1; k <= n; k += std::max<std::uint64_t>(1, n / 37)) {
      const Tail a = binomial_upper_tail(k, n, 0.5);
      const Tail b = binomial_upper_tail(n - k + 1, n, 0.5);
      INFO("n=" << n << " k=" << k);
      CHECK(std::fabs(a.p_value + b.p_value - 1.0) <= 1e-14);
    }
  }
}

TEST_CASE("binomial tail: agrees with a direct pmf sum for small n", "[stats][binomial]") {
  for (double p : {0.3, 0.01, 0.77}) {
    for (std::uint64_t n = 1; n <= 40; ++n) {
      for (std::uint64_t k = 0; k <= n; ++k) {
        long double s = 0;
        for (std::uint64_t j = k; j <= n; ++j) {
          long double c = 1;
          for (std::uint64_t i = 0; i < j; ++i) c = c * static_cast<long double>(n - i) / (i + 1);
          s += c * std::pow(static_cast<long double>(p), static_cast<long double>(j)) *
               std::pow(1.0L - static_cast<long double>(p), static_cast<long double>(n - j));
        }
        const Tail t = binomial_upper_tail(k, n, p);
        INFO("p=" << p << " n=" << n << " k=" << k);
        // p_value carries the relative error of log10_p times |ln p|.
        const double sd = static_cast<double>(s);
        CHECK(std::fabs(t.p_value - sd) <= 2e-15 * (1.0 + std::fabs(std::log(sd))) * sd);
      }
    }
  }
}

TEST_CASE("binomial tail: consecutive tails differ by the exact pmf ratio", "[stats][binomial]") {
  // (P(>=k) - P(>=k+1)) / (P(>=k+1) - P(>=k+2)) = P(=k) / P(=k+1) = (k+1) q / ((n-k) p).
  // The range crosses the point where the evaluation switches from the term
  // by term sum to the Euler–Maclaurin form (near 9.7 standard deviations for
  // n = 10^6, gamma = 0.25), so a seam between the two would show here.
  struct Case {
    std::uint64_t n;
    double p;
    double z0, z1;
  };
  for (const Case c : {Case{1'000'000, 0.25, 8.5, 11.0}, Case{200'000, 0.5, 5.0, 12.0},
                       Case{50'000'000, 0.1, 25.0, 26.0}}) {
    const double nd = static_cast<double>(c.n);
    const double mean = nd * c.p;
    const double sd = std::sqrt(mean * (1 - c.p));
    const auto k0 = static_cast<std::uint64_t>(mean + c.z0 * sd);
    const auto k1 = static_cast<std::uint64_t>(mean + c.z1 * sd);
    double t0 = binomial_upper_tail(k0, c.n, c.p).p_value;
    double t1 = binomial_upper_tail(k0 + 1, c.n, c.p).p_value;
    double worst = 0.0;
    for (std::uint64_t k = k0; k + 2 <= k1; ++k) {
      const double t2 = binomial_upper_tail(k + 2, c.n, c.p).p_value;
      const double got = (t0 - t1) / (t1 - t2);
      const double expect = static_cast<double>(k + 1) * (1 - c.p) / (static_cast<double>(c.n - k) * c.p);
      worst = std::max(worst, std::fabs(got / expect - 1.0));
      t0 = t1;
      t1 = t2;
    }
    INFO("n=" << c.n << " p=" << c.p);
    CHECK(worst < 1e-10);
  }
}

TEST_CASE("binomial tail: no NaN or inf over a sweep", "[stats][binomial]") {
  const std::vector<double> ps = {5e-324, 1e-300, 1e-12, 1e-6, 0.001, 0.1, 0.25,
                                  0.2500152587890625, 0.5, 0.75, 0.9, 1 - 1e-9, 1 - 0x1p-53};
  const std::vector<std::uint64_t> ns = {1,          2,           3,        15,      16,
                                         17,         31,          100,      1000,    65536,
                                         1'000'000,  10'000'000,  1u << 31, 1'000'000'000'000,
                                         std::uint64_t{1} << 40};
  for (double p : ps) {
    for (std::uint64_t n : ns) {
      const double nd = static_cast<double>(n);
      const double mean = nd * p;
      const double sd = std::sqrt(mean * (1 - p));
      std::vector<double> kds = {0, 1, 2, 3, 14, 15, 16, nd - 2, nd - 1, nd, std::floor(mean),
                                 std::ceil(mean), std::floor(mean) + 1, std::floor(mean) - 1};
      for (double z : {-50.0, -5.0, -1.0, 0.3, 1.0, 5.0, 50.0, 1000.0}) kds.push_back(std::floor(mean + z * sd));
      for (double kd : kds) {
        if (kd < 0 || kd > nd) continue;
        const auto k = static_cast<std::uint64_t>(kd);
        const Tail t = binomial_upper_tail(k, n, p);
        INFO("p=" << p << " n=" << n << " k=" << k << " -> " << t.log10_p << " " << t.p_value);
        REQUIRE(tail_is_consistent(t));
        REQUIRE(std::isfinite(binomial_z(k, n, p)));
      }
    }
  }
}

TEST_CASE("binomial z", "[stats][binomial]") {
  CHECK(binomial_z(0, 0, 0.25) == 0.0);
  CHECK(binomial_z(30, 100, 0.25) == Approx(5.0 / std::sqrt(18.75)).epsilon(1e-15));
  CHECK(binomial_z(25, 100, 0.25) == 0.0);
  CHECK(binomial_z(0, 100, 0.5) == Approx(-10.0).epsilon(1e-15));
  const std::uint64_t n = std::uint64_t{1} << 40;
  CHECK(binomial_z(n / 4 + 1, n, 0.25) == Approx(1.0 / std::sqrt(static_cast<double>(n) * 0.1875)).epsilon(1e-12));
}

TEST_CASE("binomial tail: large n stays finite and ordered", "[stats][binomial]") {
  // Speed is measured by isotope_bench (BM_BinomialTail), not here.
  struct Case {
    std::uint64_t n;
    double p;
    double z;
  };
  for (const Case c : {Case{1'000'000, 0.25, 0.0}, Case{1'000'000, 0.25, 4.0}, Case{10'000'000, 0.25, 0.0},
                       Case{100'000'000, 0.25, 0.0}, Case{std::uint64_t{1} << 40, 0.25, 0.0},
                       Case{std::uint64_t{1} << 40, 0.25, 50.0}}) {
    const double nd = static_cast<double>(c.n);
    const auto k = static_cast<std::uint64_t>(nd * c.p + c.z * std::sqrt(nd * c.p * (1 - c.p)));
    double previous = 1.0;
    for (std::uint64_t r = 0; r < 20; ++r) {
      const Tail t = binomial_upper_tail(k + r, c.n, c.p);
      CHECK(std::isfinite(t.log10_p));
      CHECK(t.log10_p <= previous);  // the tail shrinks as k grows
      previous = t.log10_p;
    }
  }
}

TEST_CASE("chi-square even tails match references", "[stats][chi2]") {
  double max_rel = 0.0;
  for (const auto& v : vectors().at("chi2_even")) {
    const double x = v.at("x").get<double>();
    const auto m = v.at("m").get<std::uint64_t>();
    const double ref = parse_decimal(v.at("log10_p"));
    const Tail t = chi2_upper_tail_even(x, m);
    INFO("x=" << x << " m=" << m << " ref=" << ref << " got=" << t.log10_p);
    max_rel = std::max(max_rel, rel_err(t.log10_p, ref));
    CHECK(rel_err(t.log10_p, ref) <= kRelTol);
    CHECK(tail_is_consistent(t));
  }
  WARN("chi2_upper_tail_even: max relative error of log10_p " << max_rel);
}

TEST_CASE("chi-square even tails: properties", "[stats][chi2]") {
  // m = 1: exactly exp(-x/2).
  for (double x : {1e-300, 1e-5, 0.7, 3.0, 100.0, 1e4, 1e8}) {
    const Tail t = chi2_upper_tail_even(x, 1);
    CHECK(rel_err(t.log10_p, -x / 2 / std::log(10.0)) <= 1e-14);
  }
  CHECK(chi2_upper_tail_even(0.0, 5).p_value == 1.0);
  CHECK(chi2_upper_tail_even(-1.0, 5).log10_p == 0.0);
  CHECK(std::isnan(chi2_upper_tail_even(1.0, 0).log10_p));
  CHECK(std::isnan(chi2_upper_tail_even(std::nan(""), 3).log10_p));
  // Monotone in x (decreasing) and in m (increasing).
  for (std::uint64_t m : {1u, 2u, 10u, 1000u, 100000u}) {
    double prev = 0.0;
    for (double x = 0.25; x < 4.0 * static_cast<double>(m) + 200; x *= 1.1) {
      const Tail t = chi2_upper_tail_even(x, m);
      REQUIRE(tail_is_consistent(t));
      REQUIRE(t.log10_p <= prev);
      prev = t.log10_p;
    }
  }
  for (double x : {0.5, 30.0, 2000.0, 1e6}) {
    double prev = -std::numeric_limits<double>::infinity();
    for (std::uint64_t m = 1; m < 3000; m = m * 3 / 2 + 1) {
      const double l = chi2_upper_tail_even(x, m).log10_p;
      REQUIRE(l >= prev);
      prev = l;
    }
  }
}

TEST_CASE("Fisher's method matches references", "[stats][fisher]") {
  double max_rel = 0.0;
  for (const auto& v : vectors().at("fisher")) {
    const auto in = v.at("log10_ps").get<std::vector<double>>();
    const double ref = parse_decimal(v.at("log10_p"));
    const Tail t = fisher_combine(in);
    INFO("inputs=" << in.size() << " ref=" << ref << " got=" << t.log10_p);
    const double e = rel_err(t.log10_p, ref);
    max_rel = std::max(max_rel, e);
    CHECK(e <= kRelTol);
    CHECK(tail_is_consistent(t));
  }
  WARN("fisher_combine: max relative error of log10_p " << max_rel);
}

TEST_CASE("Fisher's method: properties", "[stats][fisher]") {
  CHECK(fisher_combine({}).p_value == 1.0);
  // One input is returned unchanged.
  for (double l : {-1e-12, -0.3, -7.0, -1234.5, -1e5}) {
    const std::vector<double> in = {l};
    CHECK(rel_err(fisher_combine(in).log10_p, l) <= 1e-14);
  }
  // Extreme inputs neither overflow nor give NaN.
  const std::vector<double> extreme = {-1e5, -1e5, -1e5, -1e5, -0.1};
  const Tail te = fisher_combine(extreme);
  CHECK(tail_is_consistent(te));
  CHECK(te.log10_p < -3.9e5);
  const std::vector<double> huge = {-1e300, -1.0};
  CHECK(std::isfinite(fisher_combine(huge).log10_p));
  const std::vector<double> with_zero_p = {-2.0, -std::numeric_limits<double>::infinity()};
  CHECK(fisher_combine(with_zero_p).p_value == 0.0);
  const std::vector<double> with_nan = {-2.0, std::nan("")};
  CHECK(std::isnan(fisher_combine(with_nan).log10_p));
  const std::vector<double> ones(1000, 0.0);
  CHECK(fisher_combine(ones).p_value == 1.0);
}

TEST_CASE("Kolmogorov-Smirnov p-values match references", "[stats][ks]") {
  double max_abs_exact = 0.0;
  double max_rel_large_d = 0.0;
  for (const auto& v : vectors().at("ks")) {
    const auto vals = v.at("values").get<std::vector<double>>();
    const double ref = parse_decimal(v.at("p_value"));
    const std::string method = v.at("method").get<std::string>();
    const double got = ks_uniform_pvalue(vals);
    INFO("n=" << vals.size() << " method=" << method << " ref=" << ref << " got=" << got);
    REQUIRE(got >= 0.0);
    REQUIRE(got <= 1.0);
    const double d = parse_decimal(v.at("D"));
    if (method == "exact" && d >= 0.5) {
      // one-sided Birnbaum–Tingey sum: relative accuracy even for tiny p
      max_rel_large_d = std::max(max_rel_large_d, std::fabs(got - ref) / ref);
      CHECK(std::fabs(got - ref) <= 1e-12 * ref);
    } else if (method == "exact") {
      // 1 - P(D < d): absolute accuracy
      max_abs_exact = std::max(max_abs_exact, std::fabs(got - ref));
      CHECK(std::fabs(got - ref) <= 1e-13);
    } else {
      CHECK(std::fabs(got - ref) <= 1e-12);
    }
  }
  WARN("ks_uniform_pvalue (exact, n <= 100): max absolute error " << max_abs_exact
                                                                  << "; D >= 1/2: max relative error " << max_rel_large_d);
}

TEST_CASE("Kolmogorov-Smirnov: properties", "[stats][ks]") {
  CHECK(ks_uniform_pvalue({}) == 1.0);
  // n = 1: D = max(u, 1 - u) and P(D >= d) = 2 (1 - d).
  for (double u : {0.0, 0.1, 0.25, 0.5, 0.6, 0.99}) {
    const std::vector<double> one = {u};
    const double d = std::max(u, 1 - u);
    CHECK(ks_uniform_pvalue(one) == Approx(std::min(1.0, 2 * (1 - d))).margin(1e-15));
  }
  const std::vector<double> with_nan = {0.5, std::nan("")};
  CHECK(std::isnan(ks_uniform_pvalue(with_nan)));
  // Extreme samples stay in [0, 1] on both methods.
  for (std::size_t n : {2u, 50u, 100u, 101u, 5000u}) {
    const std::vector<double> zeros(n, 0.0);
    const std::vector<double> tiny(n, 1e-30);
    const std::vector<double> mid(n, 0.5);
    std::vector<double> spaced(n);
    for (std::size_t i = 0; i < n; ++i) spaced[i] = (static_cast<double>(i) + 0.5) / static_cast<double>(n);
    for (const std::vector<double>* s : {&zeros, &tiny, &mid, static_cast<const std::vector<double>*>(&spaced)}) {
      const double p = ks_uniform_pvalue(*s);
      INFO("n=" << n);
      CHECK(p >= 0.0);
      CHECK(p <= 1.0);
    }
    CHECK(ks_uniform_pvalue(tiny) < 1e-6);
    CHECK(ks_uniform_pvalue(spaced) > 0.999);
  }
  // Order does not matter.
  std::vector<double> a = {0.9, 0.1, 0.35, 0.7, 0.42};
  std::vector<double> b = a;
  std::sort(b.begin(), b.end());
  CHECK(ks_uniform_pvalue(a) == ks_uniform_pvalue(b));
}
