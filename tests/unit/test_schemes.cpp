// The scheme interface and the distortion-free schemes (Gumbel-max, SynthID):
// profiles, exact nulls, detection of their own text, distribution
// preservation, the whole-vocabulary Gumbel search against brute force.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key key_of(std::uint8_t fill) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(fill * 7 + i);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

Profile profile_of(const char* scheme) {
  Profile p;
  REQUIRE(Profile::of(scheme, &p).ok());
  return p;
}

std::vector<float> random_logits(std::size_t v, std::uint64_t seed, float sigma) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> l(v);
  for (float& x : l) x = d(g);
  return l;
}

// A generation of n tokens with the scheme, on fresh random logits per step.
std::vector<std::uint32_t> generate(const Key& key, const Profile& p, std::uint32_t V, std::size_t n,
                                    SamplingParams sp, std::uint64_t seed, bool marked = true) {
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(key, p, V, &wm).ok());
  Rng rng(seed);
  std::vector<std::uint32_t> ids{1, 2};
  for (std::size_t i = 0; i < n; ++i) {
    const auto l = random_logits(V, seed * 100003 + i, 2.0f);
    std::uint32_t t = 0;
    if (marked) REQUIRE(wm->sample(ids, l, sp, rng, &t).ok());
    else REQUIRE(sample_plain(l, sp, rng, &t).ok());
    ids.push_back(t);
  }
  return ids;
}

}  // namespace

TEST_CASE("profiles: defaults, names, validation for every scheme", "[schemes]") {
  CHECK(Profile{}.name() == "kgw/v1/gamma=0.25/delta=3/h=2/siphash128-aes128ctr-u16-v1");
  Profile k;
  REQUIRE(Profile::of("kgw", &k).ok());
  CHECK(k == Profile{});
  const Profile g = profile_of("gumbel");
  CHECK(g.name() == "gumbel/v1/skip_repeated=1/h=2/siphash128-aes128ctr-u32-v1");
  CHECK(g.validate().ok());
  Profile s = profile_of("synthid");
  CHECK(s.name() == "synthid/v1/layers=30/leaves=2/skip_repeated=1/h=2/siphash128-aes128ctr-u32-v1");
  CHECK(s.set("layers", 33).ok());
  CHECK(s.validate().code() == Code::invalid_argument);
  CHECK(s.set("layers", 2.5).ok());
  CHECK(s.validate().code() == Code::invalid_argument);
  CHECK(s.set("gamma", 0.5).code() == Code::invalid_argument);  // not a synthid parameter
  Profile u;
  CHECK(Profile::of("nope", &u).code() == Code::invalid_argument);
  u.scheme = "nope";
  CHECK(u.validate().message().find(
            "known: kgw, gumbel, synthid, vllm-gumbel, vllm-dual-key-gumbel, hf-kgw, tgi-kgw, hf-synthid") !=
        std::string::npos);
  Profile wrong_prf = profile_of("gumbel");
  wrong_prf.prf = PRF_V1;
  CHECK(wrong_prf.validate().code() == Code::invalid_argument);
  CHECK(schemes().size() == 8);
  for (const Scheme* sc : schemes()) CHECK(find_scheme(sc->name()) == sc);
}

TEST_CASE("Gamma tail against mpmath's incomplete gamma", "[schemes][stats]") {
  std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/gamma_vectors.json");
  REQUIRE(in.good());
  const auto j = nlohmann::json::parse(in);
  std::size_t n = 0;
  for (const auto& c : j["gamma_upper_tail"]) {
    const double want = c["log10_p"].get<double>();
    const Tail t = gamma_upper_tail(c["s"].get<double>(), c["n"].get<std::uint64_t>());
    INFO("n=" << c["n"] << " s=" << c["s"]);
    REQUIRE(std::isfinite(t.log10_p));
    CHECK(std::fabs(t.log10_p - want) <= 1e-10 * std::max(1.0, std::fabs(want)));
    ++n;
  }
  CHECK(n > 100);
  CHECK(gamma_upper_tail(5.0, 0).log10_p == 0.0);
  CHECK(gamma_upper_tail(0.0, 7).log10_p == 0.0);
}

TEST_CASE("every scheme detects its own text and not plain text or another key", "[schemes]") {
  const std::uint32_t V = 1000;
  const Key key = key_of(1), other = key_of(2);
  for (const char* name : {"kgw", "gumbel", "synthid"}) {
    for (float temp : {1.0f, 0.7f}) {
      INFO(name << " temperature " << temp);
      const Profile p = profile_of(name);
      SamplingParams sp;
      sp.temperature = temp;
      const auto ids = generate(key, p, V, 300, sp, 11);
      DetectionResult r, ro, rp;
      REQUIRE(detect_ids(key, p, ids, &r).ok());
      CHECK(r.log10_p <= -6.0);
      REQUIRE(detect_ids(other, p, ids, &ro).ok());
      CHECK(ro.log10_p > -3.0);
      REQUIRE(detect_ids(key, p, generate(key, p, V, 300, sp, 12, false), &rp).ok());
      CHECK(rp.log10_p > -3.0);
      // The reported p-value is the exact tail of the reported counts.
      const Scheme* sc = find_scheme(name);
      CHECK(r.trials == sc->trials(p, r.scored));
      CHECK(r.log10_p == sc->tail(p, r.statistic, r.scored).log10_p);
      if (std::string(name) == "synthid") {
        CHECK(r.trials == 30 * r.scored);
        CHECK(r.log10_p == binomial_upper_tail(static_cast<std::uint64_t>(r.statistic), r.trials, 0.5).log10_p);
      }
      if (std::string(name) == "gumbel") CHECK(r.log10_p == gamma_upper_tail(r.statistic, r.scored).log10_p);
    }
  }
}

TEST_CASE("top-k and top-p generation is detected too", "[schemes]") {
  const Key key = key_of(3);
  for (const char* name : {"gumbel", "synthid"}) {
    INFO(name);
    const Profile p = profile_of(name);
    SamplingParams sp;
    sp.top_k = 50;
    sp.top_p = 0.95f;
    DetectionResult r;
    REQUIRE(detect_ids(key, p, generate(key, p, 4000, 300, sp, 21), &r).ok());
    CHECK(r.log10_p <= -6.0);
  }
}

TEST_CASE("distortion-free schemes keep the model's distribution, KGW shifts it", "[schemes]") {
  // Fixed logits, 20,000 draws with distinct contexts (so fresh keyed values
  // each time): chi-square against the model's own probabilities.
  const std::vector<float> logits{2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -1.5f, -2.0f};
  const std::size_t V = logits.size(), n = 20000;
  std::vector<double> probs(V);
  double z = 0.0;
  for (std::size_t i = 0; i < V; ++i) z += std::exp(static_cast<double>(logits[i]));
  for (std::size_t i = 0; i < V; ++i) probs[i] = std::exp(static_cast<double>(logits[i])) / z;
  // Context width 5 over this 9-token vocabulary: the base-9 digits of the
  // draw's number give 59,049 distinct windows, every id inside the vocabulary.
  auto chi2_log10_p = [&](const char* name) {
    Profile p = profile_of(name);
    p.context_width = 5;
    std::unique_ptr<Watermarker> wm;
    REQUIRE(Watermarker::create(key_of(4), p, static_cast<std::uint32_t>(V), &wm).ok());
    Rng rng(5);
    std::vector<double> counts(V, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::uint32_t> ctx(5);
      for (std::size_t d = 0, x = i; d < 5; ++d, x /= V) ctx[d] = static_cast<std::uint32_t>(x % V);
      std::uint32_t t = 0;
      REQUIRE(wm->sample(ctx, logits, SamplingParams{}, rng, &t).ok());
      counts[t] += 1.0;
    }
    double x = 0.0;
    for (std::size_t i = 0; i < V; ++i) {
      const double e = probs[i] * static_cast<double>(n);
      x += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi2_upper_tail_even(x, (V - 1) / 2).log10_p;  // 8 degrees of freedom
  };
  CHECK(chi2_log10_p("gumbel") > -3.0);
  CHECK(chi2_log10_p("synthid") > -3.0);
  CHECK(chi2_log10_p("kgw") < -10.0);
}

TEST_CASE("distortion-free schemes keep the model's distribution over a large vocabulary", "[schemes]") {
  // As above, over 20,000 tokens (SynthID's tournament then runs by
  // histograms): ten likely tokens and 19,990 unlikely ones at logit -9,
  // which share about 1.6% of the mass. Eleven categories: the ten, the rest.
  const std::size_t V = 20000, n = 20000;
  std::vector<float> logits(V, -9.0f);
  for (std::size_t i = 0; i < 10; ++i) logits[i * 1999] = 2.0f - 0.45f * static_cast<float>(i);
  std::vector<double> probs(11, 0.0);
  double z = 0.0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  for (std::size_t i = 0; i < V; ++i) {
    const std::size_t cat = i % 1999 == 0 && i / 1999 < 10 ? i / 1999 : 10;
    probs[cat] += std::exp(static_cast<double>(logits[i])) / z;
  }
  REQUIRE(probs[10] > 0.01);
  for (const char* name : {"synthid", "gumbel"}) {
    INFO(name);
    Profile p = profile_of(name);
    std::unique_ptr<Watermarker> wm;
    REQUIRE(Watermarker::create(key_of(8), p, static_cast<std::uint32_t>(V), &wm).ok());
    Rng rng(9);
    std::vector<double> counts(11, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::vector<std::uint32_t> ctx{static_cast<std::uint32_t>(i), 7};  // distinct windows
      std::uint32_t t = 0;
      REQUIRE(wm->sample(ctx, logits, SamplingParams{}, rng, &t).ok());
      counts[t % 1999 == 0 && t / 1999 < 10 ? t / 1999 : 10] += 1.0;
    }
    double x = 0.0;
    for (std::size_t i = 0; i < 11; ++i) {
      const double e = probs[i] * static_cast<double>(n);
      x += (counts[i] - e) * (counts[i] - e) / e;
    }
    CHECK(chi2_upper_tail_even(x, 5).log10_p > -3.0);  // 10 degrees of freedom
  }
}

TEST_CASE("Gumbel over the whole vocabulary picks the brute-force argmax", "[schemes]") {
  const std::uint32_t V = 5000;
  const Key key = key_of(6);
  Profile p = profile_of("gumbel");
  p.params["skip_repeated"] = 0;
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(key, p, V, &wm).ok());
  const Scheme* sc = find_scheme("gumbel");
  std::unique_ptr<TupleScorer> values;
  REQUIRE(sc->make_scorer(key, p, &values).ok());
  std::vector<std::uint32_t> all(V);
  for (std::uint32_t i = 0; i < V; ++i) all[i] = i;
  std::vector<double> u(V);
  for (int trial = 0; trial < 200; ++trial) {
    const float temp = trial % 3 == 0 ? 0.3f : (trial % 3 == 1 ? 1.0f : 2.5f);
    const auto l = random_logits(V, 1000 + trial, trial % 2 == 0 ? 2.5f : 8.0f);
    const std::vector<std::uint32_t> ctx{static_cast<std::uint32_t>(trial), 99};
    REQUIRE(values->values(ctx, all, u).ok());
    double best = std::numeric_limits<double>::infinity();
    std::uint32_t want = 0;
    for (std::uint32_t i = 0; i < V; ++i) {
      const double k = u[i] == 0.0 ? std::numeric_limits<double>::infinity()
                                   : std::log(-std::log(u[i])) - static_cast<double>(l[i]) / static_cast<double>(temp);
      if (k < best) {
        best = k;
        want = i;
      }
    }
    Rng rng(1);
    std::uint32_t got = 0;
    SamplingParams sp;
    sp.temperature = temp;
    REQUIRE(wm->sample(ctx, l, sp, rng, &got).ok());
    INFO("trial " << trial);
    CHECK(got == want);
    // apply() leaves exactly that token finite.
    auto biased = l;
    REQUIRE(wm->apply(ctx, biased, sp).ok());
    std::size_t finite = 0;
    for (float x : biased) finite += std::isfinite(x) ? 1 : 0;
    CHECK(finite == 1);
    CHECK(std::isfinite(biased[want]));
  }
}

TEST_CASE("distortion-free schemes: greedy refused, repeated windows unmarked", "[schemes]") {
  const std::uint32_t V = 100;
  const auto l = random_logits(V, 3, 2.0f);
  for (const char* name : {"gumbel", "synthid"}) {
    INFO(name);
    std::unique_ptr<Watermarker> wm;
    REQUIRE(Watermarker::create(key_of(7), profile_of(name), V, &wm).ok());
    Rng rng(1);
    std::uint32_t t = 0;
    SamplingParams greedy;
    greedy.greedy = true;
    const std::vector<std::uint32_t> ctx{5, 6, 7};
    const Status st = wm->sample(ctx, l, greedy, rng, &t);
    CHECK(st.code() == Code::invalid_argument);
    CHECK(st.message().find("greedy") != std::string::npos);
    // The window (5, 6) already occurred at position 2: plain sampling.
    const std::vector<std::uint32_t> rep{5, 6, 7, 5, 6};
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      Rng a(seed), b(seed);
      std::uint32_t x = 0, y = 0;
      REQUIRE(wm->sample(rep, l, SamplingParams{}, a, &x).ok());
      REQUIRE(sample_plain(l, SamplingParams{}, b, &y).ok());
      CHECK(x == y);
    }
    auto copy = l;
    REQUIRE(wm->apply(rep, copy).ok());
    CHECK(copy == l);
  }
}

TEST_CASE("SynthID apply gives the tournament's distribution, computed here from the g-values", "[schemes]") {
  // The reference: softmax, then m layers of q_t (1 + g_l(t) - G_l) in
  // double over the scorer's g-values. V = 64 runs the layered tournament,
  // V = 20,000 the histogram one.
  const Key key = key_of(10);
  const Profile p = profile_of("synthid");
  const std::size_t m = 30;
  const Scheme* sc = find_scheme("synthid");
  std::unique_ptr<TupleScorer> values;
  REQUIRE(sc->make_scorer(key, p, &values).ok());
  for (const std::uint32_t V : {64u, 20000u}) {
    INFO("V " << V);
    const auto l = random_logits(V, 11, 2.5f);
    const std::vector<std::uint32_t> ctx{5, 6};
    std::vector<std::uint32_t> all(V);
    for (std::uint32_t i = 0; i < V; ++i) all[i] = i;
    std::vector<double> g(static_cast<std::size_t>(V) * m);
    REQUIRE(values->values(ctx, all, g).ok());
    std::vector<double> q(V);
    double z = 0.0;
    for (std::uint32_t i = 0; i < V; ++i) z += q[i] = std::exp(static_cast<double>(l[i]));
    for (double& x : q) x /= z;
    for (std::size_t layer = 0; layer < m; ++layer) {
      double G = 0.0;
      for (std::uint32_t i = 0; i < V; ++i) G += q[i] * g[i * m + layer];
      for (std::uint32_t i = 0; i < V; ++i) q[i] *= 1.0 + g[i * m + layer] - G;
    }
    std::unique_ptr<Watermarker> wm;
    REQUIRE(Watermarker::create(key, p, V, &wm).ok());
    auto out = l;
    REQUIRE(wm->apply(ctx, out).ok());
    double worst = 0.0, moved = 0.0;
    for (std::uint32_t i = 0; i < V; ++i) {
      const double got = std::exp(static_cast<double>(out[i]));
      worst = std::max(worst, std::abs(got - q[i]) / std::max(q[i], 1e-9));
      moved += std::abs(q[i] - std::exp(static_cast<double>(l[i])) / z);
    }
    CHECK(worst <= 1e-3);
    CHECK(moved > 0.1);  // the tournament changed the distribution
  }
}

TEST_CASE("SynthID apply writes the tournament's log-probabilities", "[schemes]") {
  const std::uint32_t V = 64;
  const auto l = random_logits(V, 9, 1.5f);
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(key_of(8), profile_of("synthid"), V, &wm).ok());
  auto out = l;
  const std::vector<std::uint32_t> ctx{3, 4};
  REQUIRE(wm->apply(ctx, out).ok());
  double total = 0.0;
  for (float x : out) total += std::exp(static_cast<double>(x));
  CHECK(total == Approx(1.0).epsilon(1e-5));
  CHECK(out != l);
}
