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
        std::vector<std::uint32_t> f(n), f2(n), h(n), k(n);
        f.resize(portable::collect_range(l.data(), n, thr, hi, 0, f.data()));
        f2.resize(collect_range(l.data(), n, thr, hi, 0, f2.data()));
        h.resize(collect_band(l.data(), n, ga.data(), thr, hi, 5, h.data()));
        k.resize(portable::collect_band(l.data(), n, gb.data(), thr, hi, 5, k.data()));
        CHECK(f == band);
        CHECK(f2 == band);
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

TEST_CASE("filter_range and count_ge agree with a plain loop", "[kernels]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 31u, 64u, 333u, 1000u}) {
    const auto v = values(n, n + 100);
    std::vector<std::uint32_t> ids(n);
    for (std::size_t j = 0; j < n; ++j) ids[j] = static_cast<std::uint32_t>(1000 + 3 * j);
    for (float lo : {-100.0f, -1.0f, 0.0f, 2.5f, 100.0f})
      for (float hi : {nan, lo + 1.0f, lo + 3.0f, -std::numeric_limits<float>::infinity()}) {
        INFO("n " << n << ", range [" << lo << ", " << hi << ")");
        std::vector<std::uint32_t> want_ids;
        std::vector<float> want_v;
        for (std::size_t j = 0; j < n; ++j)
          if (v[j] >= lo && !(v[j] >= hi)) {
            want_ids.push_back(ids[j]);
            want_v.push_back(v[j]);
          }
        std::vector<std::uint32_t> a_ids(n), b_ids(n);
        std::vector<float> a_v(n), b_v(n);
        const std::size_t a = filter_range(ids.data(), v.data(), n, lo, hi, a_ids.data(), a_v.data());
        const std::size_t b = portable::filter_range(ids.data(), v.data(), n, lo, hi, b_ids.data(), b_v.data());
        a_ids.resize(a);
        a_v.resize(a);
        b_ids.resize(b);
        b_v.resize(b);
        CHECK(a_ids == want_ids);
        CHECK(a_v == want_v);
        CHECK(b_ids == want_ids);
        CHECK(b_v == want_v);
        if (hi != hi)
          CHECK(count_ge(v.data(), n, lo) == want_ids.size());
      }
  }
}

TEST_CASE("sort_keys sorts like std::sort, by rank and beyond", "[kernels]") {
  std::mt19937_64 g(5);
  for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 5u, 17u, 50u, 51u, 64u, 127u, 128u, 129u, 300u}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<std::uint64_t> keys(n);
      for (auto& k : keys) k = trial % 2 == 0 ? g() : (g() & 0xff00000000ULL) | (g() & 0xffffffffULL);
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());  // distinct, as the sampler's are
      std::vector<std::uint64_t> want = keys, got = keys;
      std::shuffle(got.begin(), got.end(), g);
      std::vector<std::uint64_t> tmp(2 * got.size() + 4);
      sort_keys(got.data(), got.size(), tmp.data());
      INFO("n " << n << ", trial " << trial);
      CHECK(got == want);
    }
  }
}

TEST_CASE("order_key orders by value, then id, and keeps the value", "[kernels]") {
  const float inf = std::numeric_limits<float>::infinity();
  const float vals[] = {-inf, -1e30f, -2.5f, -1e-40f, -0.0f, 0.0f, 1e-40f, 1.0f, 3.0f, 1e30f, inf};
  std::vector<std::pair<float, std::uint32_t>> cands;
  for (float v : vals)
    for (std::uint32_t id : {0u, 5u, 0x7fffffffu}) cands.emplace_back(v, id);
  for (const auto& a : cands)
    for (const auto& b : cands) {
      const bool better = a.first > b.first || (a.first == b.first && a.second < b.second);  // -0 == +0
      INFO(a.first << "/" << a.second << " vs " << b.first << "/" << b.second);
      CHECK((order_key(a.first, a.second) < order_key(b.first, b.second)) == better);
    }
  CHECK(order_key(-0.0f, 9) == order_key(0.0f, 9));
}
