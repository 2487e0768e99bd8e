// isotope_bench: the cost of the watermark as a ratio to plain sampling on the
// same logits, and the detection rate, measured in one run.
//
//   BM_SamplePlain/V, BM_SampleWatermarked/V           full-vocabulary softmax sampling, temperature 1
//   BM_SamplePlainTopK/V, BM_SampleWatermarkedTopK/V   the same with top-k 50
//   BM_Paired/V/K                                      both, alternating in batches (K = top-k, 0 = none)
//   BM_Sample<S>/V, BM_Sample<S>TopK/V                 the same for S in Kgw, Gumbel, SynthId
//   BM_DetectIds, BM_DetectIds<S>                      scoring 1M pre-tokenized ids with dedup
//   BM_PlainPassIds                                    a plain pass over the same ids, for scale
//
// Logits are drawn from N(0, 2.5^2) with a fixed seed: the bulk of a real
// model's next-token logits, but with a dense top (about 1.5% of the
// vocabulary lies within delta = 3 of the 50th best logit). The *Peaked
// variants add what real models have and a Gaussian lacks: 64 tokens far
// above the bulk (10 + 2.5 * Exp(1)). The *Skewed variants add a frequency
// prior (4 - 0.8 ln(1 + id / 100)): vocabularies are ordered by frequency,
// so low ids score higher, which defeats any guess of the top-k made from
// a part of the vocabulary. Each iteration uses a new context window.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/key.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"

namespace {

enum class Shape { gaussian, peaked, skewed };

std::vector<float> make_logits(std::size_t v, Shape shape = Shape::gaussian) {
  std::mt19937_64 gen(42);
  std::normal_distribution<float> d(0.0f, 2.5f);
  std::vector<float> l(v);
  for (float& x : l) x = d(gen);
  if (shape == Shape::skewed)  // a frequency prior: lower ids (more frequent tokens) score higher
    for (std::size_t i = 0; i < v; ++i) l[i] += 4.0f - 0.8f * std::log1p(static_cast<float>(i) / 100.0f);
  if (shape == Shape::peaked) {
    std::uniform_int_distribution<std::size_t> pick(0, v - 1);
    std::exponential_distribution<float> tail(1.0f);
    for (int i = 0; i < 64; ++i) l[pick(gen)] = 10.0f + 2.5f * tail(gen);
  }
  return l;
}

isotope::Key bench_key() {
  std::uint8_t bytes[isotope::KEY_BYTES];
  for (std::size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<std::uint8_t>(i * 7 + 1);
  isotope::Key k;
  (void)isotope::Key::from_bytes(bytes, sizeof bytes, &k);
  return k;
}

void run_plain(benchmark::State& state, std::uint32_t top_k, Shape shape = Shape::gaussian) {
  const auto logits = make_logits(static_cast<std::size_t>(state.range(0)), shape);
  isotope::SamplingParams p;
  p.top_k = top_k;
  isotope::Rng rng(1);
  std::uint32_t tok = 0;
  for (auto _ : state) {
    if (!isotope::sample_plain(logits, p, rng, &tok).ok()) state.SkipWithError("sample_plain failed");
    benchmark::DoNotOptimize(tok);
  }
  state.SetItemsProcessed(state.iterations());
}

isotope::Profile scheme_profile(const char* scheme) {
  isotope::Profile p;
  (void)isotope::Profile::of(scheme, &p);
  return p;
}

void run_watermarked(benchmark::State& state, std::uint32_t top_k, Shape shape = Shape::gaussian,
                     const isotope::Profile& profile = isotope::Profile{}) {
  const auto v = static_cast<std::uint32_t>(state.range(0));
  const auto logits = make_logits(v, shape);
  const isotope::Key key = bench_key();
  std::unique_ptr<isotope::Watermarker> wm;
  if (!isotope::Watermarker::create(key, profile, v, &wm).ok()) {
    state.SkipWithError("create failed");
    return;
  }
  isotope::SamplingParams p;
  p.top_k = top_k;
  isotope::Rng rng(1);
  std::uint32_t tok = 0;
  std::uint32_t ctx[2] = {0, 1};
  for (auto _ : state) {
    ctx[0] = (ctx[0] + 1) % v;
    ctx[1] = tok;
    if (!wm->sample(ctx, logits, p, rng, &tok).ok()) state.SkipWithError("sample failed");
    benchmark::DoNotOptimize(tok);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SamplePlain(benchmark::State& s) { run_plain(s, 0); }
void BM_SampleKgw(benchmark::State& s) { run_watermarked(s, 0, Shape::gaussian, scheme_profile("kgw")); }
void BM_SampleGumbel(benchmark::State& s) { run_watermarked(s, 0, Shape::gaussian, scheme_profile("gumbel")); }
void BM_SampleSynthId(benchmark::State& s) { run_watermarked(s, 0, Shape::gaussian, scheme_profile("synthid")); }
void BM_SampleKgwTopK(benchmark::State& s) { run_watermarked(s, 50, Shape::gaussian, scheme_profile("kgw")); }
void BM_SampleGumbelTopK(benchmark::State& s) { run_watermarked(s, 50, Shape::gaussian, scheme_profile("gumbel")); }
void BM_SampleSynthIdTopK(benchmark::State& s) { run_watermarked(s, 50, Shape::gaussian, scheme_profile("synthid")); }
void BM_SampleWatermarked(benchmark::State& s) { run_watermarked(s, 0); }
void BM_SamplePlainTopK(benchmark::State& s) { run_plain(s, 50); }
void BM_SampleWatermarkedTopK(benchmark::State& s) { run_watermarked(s, 50); }
void BM_SamplePlainTopKPeaked(benchmark::State& s) { run_plain(s, 50, Shape::peaked); }
void BM_SampleWatermarkedTopKPeaked(benchmark::State& s) { run_watermarked(s, 50, Shape::peaked); }
void BM_SamplePlainTopKSkewed(benchmark::State& s) { run_plain(s, 50, Shape::skewed); }
void BM_SampleWatermarkedTopKSkewed(benchmark::State& s) { run_watermarked(s, 50, Shape::skewed); }

// Plain and watermarked sampling in alternating batches of 20 draws on the
// same logits, so that both see the same state of a shared, noisy machine:
// counters plain_us and watermarked_us are the medians of the per-draw batch
// times, ratio is their quotient. Args: V, top-k (0: whole vocabulary).
void BM_Paired(benchmark::State& state) {
  const auto v = static_cast<std::uint32_t>(state.range(0));
  const auto logits = make_logits(v);
  std::unique_ptr<isotope::Watermarker> wm;
  if (!isotope::Watermarker::create(bench_key(), isotope::Profile{}, v, &wm).ok()) {
    state.SkipWithError("create failed");
    return;
  }
  isotope::SamplingParams p;
  p.top_k = static_cast<std::uint32_t>(state.range(1));
  isotope::Rng rng(1);
  std::uint32_t tok = 0;
  std::uint32_t ctx[2] = {0, 1};
  std::vector<double> plain, marked;
  using clock = std::chrono::steady_clock;
  constexpr int kBatch = 20;
  for (auto _ : state) {
    const auto t0 = clock::now();
    for (int i = 0; i < kBatch; ++i) {
      if (!isotope::sample_plain(logits, p, rng, &tok).ok()) state.SkipWithError("sample_plain failed");
      benchmark::DoNotOptimize(tok);
    }
    const auto t1 = clock::now();
    for (int i = 0; i < kBatch; ++i) {
      ctx[0] = (ctx[0] + 1) % v;
      ctx[1] = tok;
      if (!wm->sample(ctx, logits, p, rng, &tok).ok()) state.SkipWithError("sample failed");
      benchmark::DoNotOptimize(tok);
    }
    const auto t2 = clock::now();
    plain.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / kBatch);
    marked.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count() / kBatch);
  }
  const auto median = [](std::vector<double>& x) {
    std::nth_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(x.size() / 2), x.end());
    return x[x.size() / 2];
  };
  if (plain.empty()) return;
  const double mp = median(plain), mw = median(marked);
  state.counters["plain_us"] = mp;
  state.counters["watermarked_us"] = mw;
  state.counters["ratio"] = mw / mp;
}

std::vector<std::uint32_t> make_ids(std::size_t n) {
  std::mt19937_64 gen(7);
  std::uniform_int_distribution<std::uint32_t> d(0, 31999);
  std::vector<std::uint32_t> ids(n);
  for (auto& x : ids) x = d(gen);
  return ids;
}

void detect_ids(benchmark::State& state, const isotope::Profile& profile) {
  const auto ids = make_ids(1 << 20);
  const isotope::Key key = bench_key();
  std::unique_ptr<isotope::Scorer> scorer;
  if (!isotope::Scorer::create(key, profile, &scorer).ok()) {
    state.SkipWithError("create failed");
    return;
  }
  for (auto _ : state) {
    scorer->reset();
    if (!scorer->add(ids).ok()) state.SkipWithError("add failed");
    benchmark::DoNotOptimize(scorer->result().log10_p);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(ids.size()));
}

void BM_DetectIds(benchmark::State& state) { detect_ids(state, isotope::Profile{}); }
void BM_DetectIdsKgw(benchmark::State& state) { detect_ids(state, scheme_profile("kgw")); }
void BM_DetectIdsGumbel(benchmark::State& state) { detect_ids(state, scheme_profile("gumbel")); }
void BM_DetectIdsSynthId(benchmark::State& state) { detect_ids(state, scheme_profile("synthid")); }

void BM_PlainPassIds(benchmark::State& state) {
  const auto ids = make_ids(1 << 20);
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (std::size_t i = 2; i < ids.size(); ++i) acc += (ids[i - 2] * 31u + ids[i - 1]) ^ ids[i];
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(ids.size()));
}

// The exact p-value itself: n = 10^6 scored tokens, k a few sd above the mean.
void BM_BinomialTail(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  const auto k = n / 4 + static_cast<std::uint64_t>(4.0 * std::sqrt(static_cast<double>(n) * 0.1875));
  for (auto _ : state) benchmark::DoNotOptimize(isotope::binomial_upper_tail(k, n, 0.25).log10_p);
}

}  // namespace

BENCHMARK(BM_BinomialTail)->Arg(1000)->Arg(1000000)->Arg(1000000000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SamplePlain)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleWatermarked)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SamplePlainTopK)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleWatermarkedTopK)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SamplePlainTopKPeaked)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleWatermarkedTopKPeaked)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SamplePlainTopKSkewed)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleWatermarkedTopKSkewed)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Paired)->ArgsProduct({{32000, 128256, 256000}, {0, 50}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DetectIds)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SampleKgw)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleGumbel)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleSynthId)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleKgwTopK)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleGumbelTopK)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleSynthIdTopK)->Arg(32000)->Arg(128256)->Arg(256000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DetectIdsKgw)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DetectIdsGumbel)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DetectIdsSynthId)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlainPassIds)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
