// The SynthID tournament's two computations (lib/schemes/synthid/tournament.hpp):
// the histogram form gives the layer-by-layer weights, and its draw follows
// them exactly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "schemes/synthid/tournament.hpp"
#include "watermark/kernels.hpp"

using namespace isotope;

namespace {

struct Case {
  std::vector<float> q;
  std::vector<std::uint32_t> v;
};

// Probabilities over many orders of magnitude (some exactly zero) and random
// 32-bit g-value words.
Case random_case(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d(0.0, 2.5);
  Case c;
  c.q.resize(n);
  c.v.resize(n);
  double z = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    c.q[i] = i % 97 == 5 ? 0.0f : static_cast<float>(std::exp(d(g)));
    z += c.q[i];
    c.v[i] = static_cast<std::uint32_t>(g());
  }
  for (float& x : c.q) x = static_cast<float>(x / z);
  return c;
}

std::vector<float> layered(const Case& c, unsigned m, int k, double* total) {
  std::vector<float> q = c.q;
  std::vector<float> block((q.size() + kernels::BLOCK - 1) / kernels::BLOCK);
  REQUIRE(detail::tournament_layered(q, c.v, m, k, block, total).ok());
  return q;
}

}  // namespace

TEST_CASE("The histogram tournament gives the layer-by-layer weights", "[synthid]") {
  for (const std::size_t n : {1000u, 20000u}) {
    for (const unsigned m : {1u, 5u, 8u, 9u, 16u, 17u, 24u, 30u, 32u}) {
      for (const int k : {2, 3}) {
        INFO("n " << n << ", m " << m << ", k " << k);
        const Case c = random_case(n, n * 100 + m * 10 + static_cast<unsigned>(k));
        double t1 = 0.0, t2 = 0.0;
        const std::vector<float> want = layered(c, m, k, &t1);
        std::vector<float> got = c.q;
        detail::HistogramTournament h;
        REQUIRE(h.run(got, c.v, m, k, &t2).ok());
        h.finish(got, c.v);
        CHECK(std::abs(t2 - t1) <= 1e-4 * t1);
        // Float rounding differs (m float products against two), and weights
        // below 1e-12 of the total, which can underflow in either order, are
        // compared on that scale.
        double worst = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          const double a = want[i], b = got[i];
          if (c.q[i] == 0.0f) CHECK(b == 0.0);
          worst = std::max(worst, std::abs(a - b) / std::max(a, 1e-12 * t1));
        }
        CHECK(worst <= 1e-3);
        // The tournament moves weight: far from the model's own probabilities.
        double moved = 0.0;
        for (std::size_t i = 0; i < n; ++i) moved += std::abs(want[i] / t1 - static_cast<double>(c.q[i]));
        CHECK(moved > 0.05);
      }
    }
  }
}

TEST_CASE("The histogram tournament's draw gives each candidate its weight's share of [0, 1)", "[synthid]") {
  // The draw is monotone in u (patterns in order, then candidates in order),
  // so over a grid of N values of u each candidate is drawn N * weight/total
  // times, give or take one.
  const std::size_t n = 3000, N = 100000;
  for (const unsigned m : {12u, 20u}) {
    INFO("m " << m);
    const Case c = random_case(n, 77 + m);
    double total = 0.0, t2 = 0.0;
    const std::vector<float> w = layered(c, m, 2, &total);
    std::vector<float> q = c.q;
    detail::HistogramTournament h;
    REQUIRE(h.run(q, c.v, m, 2, &t2).ok());
    std::vector<std::size_t> count(n, 0);
    for (std::size_t i = 0; i < N; ++i)
      ++count[h.draw(q, c.v, (static_cast<double>(i) + 0.5) / static_cast<double>(N))];
    double worst = 0.0;
    for (std::size_t t = 0; t < n; ++t) {
      const double e = static_cast<double>(N) * w[t] / total;
      if (w[t] == 0.0f) CHECK(count[t] == 0);
      worst = std::max(worst, std::abs(static_cast<double>(count[t]) - e));
    }
    CHECK(worst <= 1.5);
  }
}

TEST_CASE("The tournaments refuse weights that vanish", "[synthid]") {
  Case c;
  c.q.assign(20000, 0.0f);
  c.v.assign(20000, 0u);
  double total = 0.0;
  std::vector<float> block((c.q.size() + kernels::BLOCK - 1) / kernels::BLOCK);
  std::vector<float> q = c.q;
  CHECK(detail::tournament_layered(q, c.v, 30, 2, block, &total).code() == Code::invalid_argument);
  detail::HistogramTournament h;
  q = c.q;
  CHECK(h.run(q, c.v, 30, 2, &total).code() == Code::invalid_argument);
}
