// The watermark in the decoding loop: bias, sampling paths, distributions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key test_key(std::uint8_t fill = 3) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(fill + i);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

std::vector<float> random_logits(std::size_t v, std::uint64_t seed, float sigma = 2.5f) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> l(v);
  for (float& x : l) x = d(g);
  return l;
}

std::unique_ptr<Watermarker> make_wm(std::uint32_t v, Profile p = {}) {
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(test_key(), p, v, &wm).ok());
  return wm;
}

// Pearson chi-square of observed counts against expected probabilities.
double chi_square(const std::vector<double>& counts, const std::vector<double>& probs, double n) {
  double x = 0.0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double e = probs[i] * n;
    if (e > 0) x += (counts[i] - e) * (counts[i] - e) / e;
    else REQUIRE(counts[i] == 0.0);
  }
  return x;
}

std::vector<double> softmax(const std::vector<float>& l, double t) {
  const double m = *std::max_element(l.begin(), l.end());
  std::vector<double> p(l.size());
  double s = 0;
  for (std::size_t i = 0; i < l.size(); ++i) s += p[i] = std::exp((l[i] - m) / t);
  for (double& x : p) x /= s;
  return p;
}

// Logit shapes for vocabularies where the top-k samplers extrapolate from
// their first blocks: typical ones, and ones that make the extrapolation
// miss high or low (sorted, skewed by a frequency prior, mostly masked) or
// put ties across the k-th place.
std::vector<std::pair<const char*, std::vector<float>>> estimate_breaking_shapes(std::uint32_t V, std::uint64_t seed) {
  std::vector<std::pair<const char*, std::vector<float>>> shapes;
  shapes.emplace_back("gaussian", random_logits(V, seed));
  auto peaked = random_logits(V, seed + 1);
  for (std::uint32_t i = 0; i < 64; ++i) peaked[(i * 7919u) % V] = 10.0f + static_cast<float>(i % 9);
  shapes.emplace_back("peaked", peaked);
  auto sorted = random_logits(V, seed + 2);
  std::sort(sorted.begin(), sorted.end());
  shapes.emplace_back("ascending", sorted);
  std::reverse(sorted.begin(), sorted.end());
  shapes.emplace_back("descending", sorted);
  auto ints = random_logits(V, seed + 3);
  for (float& x : ints) x = std::round(x);
  shapes.emplace_back("integers", ints);
  auto skewed = random_logits(V, seed + 4);
  for (std::size_t i = 0; i < V; ++i) skewed[i] += 4.0f - 0.8f * std::log1p(static_cast<float>(i) / 100.0f);
  shapes.emplace_back("skewed", skewed);
  std::vector<float> few(V, -std::numeric_limits<float>::infinity());
  for (std::uint32_t i = 0; i < 40; ++i) few[(i * 4099u) % V] = static_cast<float>(i % 3);
  shapes.emplace_back("40 finite", few);
  return shapes;
}

}  // namespace

TEST_CASE("apply adds delta exactly to the green tokens", "[watermark]") {
  const std::uint32_t V = 32000;
  auto wm = make_wm(V);
  const std::uint32_t ctx[] = {17, 4242};
  auto logits = random_logits(V, 1);
  auto biased = logits;
  REQUIRE(wm->apply(ctx, biased).ok());
  std::vector<std::uint8_t> mask(V);
  REQUIRE(wm->green_mask(ctx, mask).ok());
  std::size_t green = 0;
  for (std::uint32_t i = 0; i < V; ++i) {
    REQUIRE(biased[i] == logits[i] + (mask[i] ? 3.0f : 0.0f));
    green += mask[i];
  }
  // About a quarter is green: 8000 expected, sd 77.
  CHECK(green > 7600);
  CHECK(green < 8400);
}

TEST_CASE("the green list depends on the context and the key", "[watermark]") {
  const std::uint32_t V = 4096;
  auto wm = make_wm(V);
  std::unique_ptr<Watermarker> other;
  REQUIRE(Watermarker::create(test_key(99), Profile{}, V, &other).ok());
  std::vector<std::uint8_t> a(V), b(V), c(V);
  const std::uint32_t c1[] = {1, 2}, c2[] = {2, 1};
  REQUIRE(wm->green_mask(c1, a).ok());
  REQUIRE(wm->green_mask(c2, b).ok());
  REQUIRE(other->green_mask(c1, c).ok());
  CHECK(a != b);
  CHECK(a != c);
  // Only the last h tokens matter.
  const std::uint32_t longer[] = {9, 9, 9, 1, 2};
  std::vector<std::uint8_t> d(V);
  REQUIRE(wm->green_mask(longer, d).ok());
  CHECK(a == d);
}

TEST_CASE("a context shorter than h is left unbiased", "[watermark]") {
  const std::uint32_t V = 1000;
  auto wm = make_wm(V);
  auto logits = random_logits(V, 2);
  auto copy = logits;
  const std::uint32_t ctx[] = {5};
  REQUIRE(wm->apply(ctx, copy).ok());
  CHECK(copy == logits);
}

TEST_CASE("watermarked sampling equals plain sampling of the biased logits", "[watermark]") {
  for (std::uint32_t V : {50u, 1000u, 32000u, 128256u}) {
    auto wm = make_wm(V);
    for (int trial = 0; trial < 6; ++trial) {
      const auto logits = random_logits(V, 100 + trial);
      const std::uint32_t ctx[] = {static_cast<std::uint32_t>(trial), 7};
      auto biased = logits;
      REQUIRE(wm->apply(ctx, biased).ok());
      SamplingParams configs[5];
      configs[1].top_k = 50;
      configs[2].top_p = 0.9f;
      configs[3].greedy = true;
      configs[4].temperature = 0.7f;
      configs[4].top_k = 40;
      configs[4].top_p = 0.95f;
      for (std::size_t ci = 0; ci < 5; ++ci) {
        const auto& p = configs[ci];
        for (std::uint64_t seed = 0; seed < 5; ++seed) {
          INFO("V " << V << ", trial " << trial << ", configuration " << ci << ", seed " << seed);
          Rng r1(seed), r2(seed);
          std::uint32_t a = 0, b = 0;
          REQUIRE(wm->sample(ctx, logits, p, r1, &a).ok());
          REQUIRE(sample_plain(biased, p, r2, &b).ok());
          REQUIRE(a == b);
        }
      }
    }
  }
}

namespace {

// Top-k sampling and greedy decoding with the watermark give the same token
// as the plain sampler on the biased logits (or the same error).
void same_top_k(Watermarker& wm, const std::vector<float>& logits, std::uint32_t c, std::uint32_t k) {
  const std::uint32_t ctx[] = {c, 17};
  auto biased = logits;
  REQUIRE(wm.apply(ctx, biased).ok());
  for (bool greedy : {false, true}) {
    SamplingParams p;
    p.top_k = k;
    p.greedy = greedy;
    Rng r1(c), r2(c);
    std::uint32_t a = 0, b = 0;
    const Status sa = wm.sample(ctx, logits, p, r1, &a);
    REQUIRE(sa.code() == sample_plain(biased, p, r2, &b).code());
    if (sa.ok()) REQUIRE(a == b);
  }
}

}  // namespace

TEST_CASE("top-k with the watermark equals top-k of the biased logits on hard shapes", "[watermark]") {
  // Top-k looks up green bits only for tokens that can still enter the
  // biased top k; these shapes stress that search: ties, masks, infinities,
  // huge magnitudes, peaked and sorted logits, extreme deltas.
  const float inf = std::numeric_limits<float>::infinity();
  const std::uint32_t V = 6000;
  std::vector<std::pair<const char*, std::vector<float>>> shapes;
  auto quantized = random_logits(V, 1);
  for (float& x : quantized) x = std::round(x * 2.0f) / 2.0f;
  shapes.emplace_back("quantized", quantized);
  auto peaked = random_logits(V, 2);
  for (std::uint32_t i = 0; i < 64; ++i) peaked[(i * 977u) % V] = 12.0f + static_cast<float>(i % 7);
  shapes.emplace_back("peaked", peaked);
  std::vector<float> masked(V, -inf);
  for (std::uint32_t i = 0; i < 30; ++i) masked[(i * 131u) % V] = static_cast<float>(i % 5);
  shapes.emplace_back("30 finite", masked);
  shapes.emplace_back("all equal", std::vector<float>(V, 1.0f));
  auto sorted = random_logits(V, 3);
  std::sort(sorted.begin(), sorted.end());
  shapes.emplace_back("sorted", sorted);
  auto rsorted = sorted;
  std::reverse(rsorted.begin(), rsorted.end());
  shapes.emplace_back("reverse sorted", rsorted);
  auto huge = random_logits(V, 4);
  for (float& x : huge) x *= 1e30f;
  shapes.emplace_back("huge", huge);
  auto tiny = random_logits(V, 5);
  for (float& x : tiny) x *= 1e-3f;
  shapes.emplace_back("narrow", tiny);
  auto with_inf = random_logits(V, 6);
  with_inf[10] = inf;
  with_inf[4000] = inf;
  shapes.emplace_back("two +inf", with_inf);
  auto ragged = random_logits(V - 7, 7);  // not a multiple of any vector width
  shapes.emplace_back("odd length", ragged);

  for (double delta : {0.0, 0.5, 3.0, 20.0}) {
    Profile prof;
    prof.params["delta"] = delta;
    for (const auto& [name, logits] : shapes) {
      auto wm = make_wm(static_cast<std::uint32_t>(logits.size()), prof);
      for (std::uint32_t k : {1u, 2u, 50u, 300u}) {
        for (std::uint32_t c = 0; c < 4; ++c) {
          INFO("shape " << name << ", delta " << delta << ", k " << k << ", context " << c);
          same_top_k(*wm, logits, c, k);
        }
      }
    }
  }

  // A larger vocabulary, where the scan keeps candidates on the side after
  // its first blocks: sorted or skewed logits make its extrapolation far too
  // low or far too high (then the search follows the group maxima).
  const std::uint32_t big = 40000;
  const auto large = estimate_breaking_shapes(big, 11);
  auto wm_big = make_wm(big);
  for (const auto& [name, logits] : large) {
    for (std::uint32_t k : {1u, 50u, 1000u, 2000u}) {
      for (std::uint32_t c = 0; c < 6; ++c) {
        INFO("large shape " << name << ", k " << k << ", context " << c);
        same_top_k(*wm_big, logits, c, k);
      }
    }
  }

  // NaN anywhere is refused on the top-k path too, with or without the watermark.
  auto nan = random_logits(V, 8);
  nan[V - 1] = std::numeric_limits<float>::quiet_NaN();
  auto wm = make_wm(V);
  const std::uint32_t ctx[] = {1, 2};
  SamplingParams p;
  p.top_k = 50;
  Rng rng(0);
  std::uint32_t tok = 0;
  CHECK(wm->sample(ctx, nan, p, rng, &tok).code() == Code::invalid_argument);
  CHECK(sample_plain(nan, p, rng, &tok).code() == Code::invalid_argument);
}

namespace {

// Top-k (then top-p) sampling exactly as docs/spec.md describes it, with a
// full sort of the vocabulary: the reference that the samplers' searches
// must reproduce token for token.
std::uint32_t reference_top_k(const std::vector<float>& l, const SamplingParams& p, Rng& rng) {
  std::vector<std::uint32_t> order(l.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return l[a] > l[b] || (l[a] == l[b] && a < b);
  });
  const std::size_t k = p.greedy ? 1 : std::min<std::size_t>(p.top_k, l.size());
  if (p.greedy) return order[0];
  std::vector<double> w(k);
  double total = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    const double d = (static_cast<double>(l[order[j]]) - l[order[0]]) / static_cast<double>(p.temperature);
    w[j] = std::isfinite(d) ? std::exp(d) : 0.0;
    total += w[j];
  }
  std::size_t keep = k;
  if (p.top_p < 1.0f) {
    double cum = 0.0;
    for (std::size_t j = 0; j < k; ++j) {
      cum += w[j];
      if (cum >= static_cast<double>(p.top_p) * total) {
        keep = j + 1;
        break;
      }
    }
    total = std::accumulate(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
  }
  const double r = rng.next_double() * total;
  double cum = 0.0;
  std::size_t last = 0;
  for (std::size_t j = 0; j < keep; ++j) {
    if (w[j] <= 0.0) continue;
    last = j;
    cum += w[j];
    if (r < cum) return order[j];
  }
  return order[last];
}

}  // namespace

TEST_CASE("top-k sampling draws what a full sort of the vocabulary would", "[watermark]") {
  // Vocabularies large enough for the samplers' estimated thresholds, and
  // shapes that make the estimates miss in both directions.
  for (std::uint32_t V : {6000u, 50000u}) {
    const auto shapes = estimate_breaking_shapes(V, 21);
    auto wm = make_wm(V);
    for (const auto& [name, logits] : shapes)
      for (std::uint32_t k : {1u, 50u, 300u})
        for (std::uint32_t c = 0; c < 3; ++c) {
          SamplingParams p;
          p.top_k = k;
          p.temperature = c == 2 ? 50.0f : 1.0f;  // flat: every kept token is likely
          p.top_p = c == 1 ? 0.9f : 1.0f;
          INFO(name << ", V " << V << ", k " << k << ", configuration " << c);
          const std::uint32_t ctx[] = {c + 5, 77};
          auto biased = logits;
          REQUIRE(wm->apply(ctx, biased).ok());
          for (std::uint64_t seed = 0; seed < 8; ++seed) {
            Rng r1(seed), r2(seed), r3(seed), r4(seed);
            std::uint32_t plain = 0, marked = 0;
            REQUIRE(sample_plain(logits, p, r1, &plain).ok());
            REQUIRE(plain == reference_top_k(logits, p, r2));
            REQUIRE(wm->sample(ctx, logits, p, r3, &marked).ok());
            REQUIRE(marked == reference_top_k(biased, p, r4));
          }
        }
  }
}

TEST_CASE("greedy picks the argmax of the biased logits, lowest id on ties", "[watermark]") {
  const std::uint32_t V = 5000;
  auto wm = make_wm(V);
  SamplingParams p;
  p.greedy = true;
  for (int trial = 0; trial < 20; ++trial) {
    const auto logits = random_logits(V, 500 + trial);
    const std::uint32_t ctx[] = {static_cast<std::uint32_t>(trial * 31), 2};
    auto biased = logits;
    REQUIRE(wm->apply(ctx, biased).ok());
    const auto best = static_cast<std::uint32_t>(std::max_element(biased.begin(), biased.end()) - biased.begin());
    Rng rng(0);
    std::uint32_t tok = 0;
    REQUIRE(wm->sample(ctx, logits, p, rng, &tok).ok());
    REQUIRE(tok == best);
  }
  std::vector<float> flat(V, 1.0f);
  Rng rng(0);
  std::uint32_t tok = 99;
  REQUIRE(sample_plain(flat, p, rng, &tok).ok());
  CHECK(tok == 0);
}

TEST_CASE("full-vocabulary sampling follows the softmax", "[watermark][distribution]") {
  // 64 tokens, 400k draws; chi-square with 63 degrees of freedom. The 1e-6
  // critical value is about 129; a wrong sampler lands in the thousands.
  const std::uint32_t V = 64;
  const auto logits = random_logits(V, 7, 1.5f);
  for (float t : {1.0f, 0.6f}) {
    SamplingParams p;
    p.temperature = t;
    Rng rng(12345);
    std::vector<double> counts(V, 0.0);
    const int n = 400000;
    for (int i = 0; i < n; ++i) {
      std::uint32_t tok = 0;
      REQUIRE(sample_plain(logits, p, rng, &tok).ok());
      counts[tok] += 1;
    }
    CHECK(chi_square(counts, softmax(logits, t), n) < 129.0);
  }
}

TEST_CASE("top-k and top-p sampling follow the truncated softmax", "[watermark][distribution]") {
  const std::uint32_t V = 200;
  const auto logits = random_logits(V, 8, 1.0f);
  std::vector<std::uint32_t> order(V);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return logits[a] > logits[b]; });

  SECTION("top-k 10") {
    SamplingParams p;
    p.top_k = 10;
    std::vector<float> top(10);
    for (int j = 0; j < 10; ++j) top[j] = logits[order[j]];
    const auto probs = softmax(top, 1.0);
    std::vector<double> counts(10, 0.0);
    Rng rng(5);
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
      std::uint32_t tok = 0;
      REQUIRE(sample_plain(logits, p, rng, &tok).ok());
      const auto pos = std::find(order.begin(), order.begin() + 10, tok) - order.begin();
      REQUIRE(pos < 10);
      counts[pos] += 1;
    }
    CHECK(chi_square(counts, probs, n) < 50.0);  // 9 dof, 1e-6 critical value about 47
  }
  SECTION("top-p 0.5") {
    SamplingParams p;
    p.top_p = 0.5f;
    const auto full = softmax(logits, 1.0);
    std::size_t keep = 0;
    double cum = 0;
    while (cum < 0.5) cum += full[order[keep++]];
    std::vector<double> probs(keep), counts(keep, 0.0);
    for (std::size_t j = 0; j < keep; ++j) probs[j] = full[order[j]] / cum;
    Rng rng(6);
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
      std::uint32_t tok = 0;
      REQUIRE(sample_plain(logits, p, rng, &tok).ok());
      const auto pos = static_cast<std::size_t>(std::find(order.begin(), order.end(), tok) - order.begin());
      REQUIRE(pos < keep);
      counts[pos] += 1;
    }
    CHECK(chi_square(counts, probs, n) < 40.0 + 3.0 * static_cast<double>(keep));
  }
}

TEST_CASE("the watermark raises the green share of sampled tokens", "[watermark]") {
  const std::uint32_t V = 8000;
  auto wm = make_wm(V);
  const auto logits = random_logits(V, 9, 2.0f);
  Rng rng(1);
  std::vector<std::uint8_t> mask(V);
  int green = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const std::uint32_t ctx[] = {static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i * 7) % V};
    std::uint32_t tok = 0;
    REQUIRE(wm->sample(ctx, logits, SamplingParams{}, rng, &tok).ok());
    REQUIRE(wm->green_mask(ctx, mask).ok());
    green += mask[tok];
  }
  // Unbiased: 25%. With delta 3 on these logits, well above half.
  CHECK(green > n / 2);
}

TEST_CASE("apply_candidates agrees with apply, in any order and on subsets", "[watermark]") {
  const std::uint32_t V = 20000;
  auto wm = make_wm(V);
  const auto logits = random_logits(V, 10);
  const std::uint32_t ctx[] = {3, 4};
  auto biased = logits;
  REQUIRE(wm->apply(ctx, biased).ok());

  std::vector<TokenLogit> all(V);
  for (std::uint32_t i = 0; i < V; ++i) all[i] = {static_cast<std::int32_t>(i), logits[i], 0.0f};
  std::mt19937 g(1);
  std::shuffle(all.begin(), all.end(), g);
  REQUIRE(wm->apply_candidates(ctx, all).ok());
  for (const auto& c : all) REQUIRE(c.logit == biased[static_cast<std::size_t>(c.id)]);

  std::vector<TokenLogit> few;
  for (std::int32_t id : {19999, 0, 123, 7, 4096}) few.push_back({id, logits[static_cast<std::size_t>(id)], 0.0f});
  REQUIRE(wm->apply_candidates(ctx, few).ok());
  for (const auto& c : few) REQUIRE(c.logit == biased[static_cast<std::size_t>(c.id)]);

  std::vector<TokenLogit> bad = {{static_cast<std::int32_t>(V), 0.0f, 0.0f}};
  CHECK(wm->apply_candidates(ctx, bad).code() == Code::vocab_mismatch);
  bad = {{-1, 0.0f, 0.0f}};
  CHECK(wm->apply_candidates(ctx, bad).code() == Code::vocab_mismatch);
}

TEST_CASE("sampling is reproducible from the seed", "[watermark]") {
  const std::uint32_t V = 32000;
  auto wm = make_wm(V);
  const auto logits = random_logits(V, 11);
  auto run = [&](std::uint64_t seed) {
    Rng rng(seed);
    std::vector<std::uint32_t> out;
    std::uint32_t ctx[2] = {0, 0};
    for (int i = 0; i < 50; ++i) {
      std::uint32_t tok = 0;
      REQUIRE(wm->sample(ctx, logits, SamplingParams{}, rng, &tok).ok());
      out.push_back(tok);
      ctx[0] = ctx[1];
      ctx[1] = tok;
    }
    return out;
  };
  CHECK(run(1) == run(1));
  CHECK(run(1) != run(2));
}

TEST_CASE("bad logits and parameters are refused", "[watermark]") {
  const std::uint32_t V = 100;
  auto wm = make_wm(V);
  const std::uint32_t ctx[] = {1, 2};
  Rng rng(0);
  std::uint32_t tok = 0;
  std::vector<float> wrong(V + 1, 0.0f);
  CHECK(wm->sample(ctx, wrong, SamplingParams{}, rng, &tok).code() == Code::vocab_mismatch);
  CHECK(wm->apply(ctx, wrong).code() == Code::vocab_mismatch);

  std::vector<float> nan(V, 0.0f);
  nan[50] = std::numeric_limits<float>::quiet_NaN();
  CHECK(wm->sample(ctx, nan, SamplingParams{}, rng, &tok).code() == Code::invalid_argument);
  std::vector<float> ninf(V, -std::numeric_limits<float>::infinity());
  CHECK(sample_plain(ninf, SamplingParams{}, rng, &tok).code() == Code::invalid_argument);
  CHECK(sample_plain({}, SamplingParams{}, rng, &tok).code() == Code::vocab_mismatch);

  std::vector<float> ok(V, 0.0f);
  SamplingParams p;
  p.temperature = 0.0f;
  CHECK(sample_plain(ok, p, rng, &tok).code() == Code::invalid_argument);
  p = {};
  p.top_p = 1.5f;
  CHECK(sample_plain(ok, p, rng, &tok).code() == Code::invalid_argument);

  // -inf tokens are never drawn.
  std::vector<float> masked(V, -std::numeric_limits<float>::infinity());
  masked[42] = 0.0f;
  masked[43] = 0.0f;
  for (int i = 0; i < 200; ++i) {
    REQUIRE(wm->sample(ctx, masked, SamplingParams{}, rng, &tok).ok());
    REQUIRE((tok == 42 || tok == 43));
  }

  std::unique_ptr<Watermarker> w2;
  Profile bad;
  bad.params["gamma"] = 1.5;
  CHECK(Watermarker::create(test_key(), bad, V, &w2).code() == Code::invalid_argument);
  CHECK(Watermarker::create(test_key(), Profile{}, 0, &w2).code() == Code::invalid_argument);
}
