// The sampler's scan kernels: the AVX2 versions (where the CPU has AVX2),
// the portable versions and a plain loop must return the same tokens.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "watermark/kernels.hpp"

using namespace isotope::kernels;

namespace {

std::vector<float> values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, 2.5f);
  std::vector<float> v(n);
  for (float& x : v) x = std::round(d(g) * 8.0f) / 8.0f;  // ties on purpose
  if (n > 5) v[n / 2] = -std::numeric_limits<float>::infinity();
  if (n > 9) v[n / 3] = std::numeric_limits<float>::infinity();
  return v;
}

std::vector<std::uint32_t> reference(const std::vector<float>& l, float lo, float hi, std::uint32_t base) {
  std::vector<std::uint32_t> r;
  for (std::size_t i = 0; i < l.size(); ++i)
    if (l[i] >= lo && !(l[i] >= hi)) r.push_back(base + static_cast<std::uint32_t>(i));
  return r;
}

}  // namespace

TEST_CASE("scan kernels agree with a plain loop, with and without AVX2", "[kernels]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t n : {1u, 7u, 8u, 31u, 32u, 33u, 255u, 256u, 257u, 1000u, 1024u, 4097u}) {
    const auto l = values(n, n);
    for (float thr : {-100.0f, -1.0f, 0.0f, 2.5f, 5.0f, 100.0f}) {
      INFO("n " << n << ", threshold " << thr);
      const auto want = reference(l, thr, nan, 7);
      std::vector<std::uint32_t> a(n), b(n), c(n), d(n);
      std::vector<float> ga(n / GROUP + 1), gb(n / GROUP + 1);
      bool fa = false, fb = false, fc = false, fd = false;
      a.resize(collect_ge(l.data(), n, thr, 7, a.data(), &fa));
      b.resize(portable::collect_ge(l.data(), n, thr, 7, b.data(), &fb));
      c.resize(collect_ge_max(l.data(), n, thr, 7, c.data(), ga.data(), &fc));
      d.resize(portable::collect_ge_max(l.data(), n, thr, 7, d.data(), gb.data(), &fd));
      CHECK(a == want);
      CHECK(b == want);
      CHECK(c == want);
      CHECK(d == want);
      CHECK_FALSE((fa || fb || fc || fd));
      for (std::size_t g = 0; g * GROUP < n; ++g) {
        const float m = *std::max_element(l.begin() + static_cast<std::ptrdiff_t>(g * GROUP),
                                          l.begin() + static_cast<std::ptrdiff_t>(std::min(n, (g + 1) * GROUP)));
        REQUIRE(ga[g] == m);
        REQUIRE(gb[g] == m);
      }
      for (float hi : {nan, thr + 1.0f, thr + 3.0f}) {
        const auto band = reference(l, thr, hi, 0);
        const auto band5 = reference(l, thr, hi, 5);
        std::vector<std::uint32_t> f(n), h(n), k(n);
        f.resize(portable::collect_range(l.data(), n, thr, hi, 0, f.data()));
        h.resize(collect_band(l.data(), n, ga.data(), thr, hi, 5, h.data()));
        k.resize(portable::collect_band(l.data(), n, gb.data(), thr, hi, 5, k.data()));
        CHECK(f == band);
        CHECK(h == band5);
        CHECK(k == band5);
      }
    }
    // A NaN anywhere is reported by every scan.
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      auto bad = l;
      bad[at] = nan;
      std::vector<std::uint32_t> out(n);
      std::vector<float> gm(n / GROUP + 1);
      bool f1 = false, f2 = false, f3 = false, f4 = false;
      collect_ge(bad.data(), n, 0.0f, 0, out.data(), &f1);
      portable::collect_ge(bad.data(), n, 0.0f, 0, out.data(), &f2);
      collect_ge_max(bad.data(), n, 0.0f, 0, out.data(), gm.data(), &f3);
      portable::collect_ge_max(bad.data(), n, 0.0f, 0, out.data(), gm.data(), &f4);
      CHECK((f1 && f2 && f3 && f4));
    }
  }
}
