// A battery of hostile inputs through the C API: every call returns
// ISOTOPE_OK with a sane result or a documented error code, never crashes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "isotope/isotope.h"

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<std::vector<float>> hostile_logits(std::size_t v) {
  std::mt19937 g(3);
  std::normal_distribution<float> n(0.0f, 2.0f);
  std::vector<float> base(v);
  for (float& x : base) x = n(g);
  std::vector<std::vector<float>> out = {base};
  for (std::size_t where : {std::size_t{0}, v / 3, v - 1}) {
    for (float bad : {kNaN, kInf, -kInf, 3e38f, -3e38f}) {
      auto x = base;
      x[where] = bad;
      out.push_back(x);
    }
  }
  out.emplace_back(v, kNaN);
  out.emplace_back(v, kInf);
  out.emplace_back(v, -kInf);
  out.emplace_back(v, 0.0f);
  out.emplace_back(v, 3e38f);
  out.emplace_back(v, 1e-45f);
  auto one = std::vector<float>(v, -kInf);
  one[7] = 1.0f;
  out.push_back(one);
  return out;
}

std::vector<isotope_sampling_params> hostile_params(std::uint32_t v) {
  std::vector<isotope_sampling_params> ps;
  for (float t : {1.0f, 1e-3f, 1e3f, 1e-39f, 0.0f, -1.0f, kNaN, kInf})
    for (std::uint32_t k : {0u, 1u, 40u, v, v + 5})
      for (float p : {1.0f, 0.5f, 0.0f, 1.5f})
        for (int greedy : {0, 1}) ps.push_back({t, k, p, greedy});
  return ps;
}

bool documented(int rc) {
  return rc == ISOTOPE_OK || rc == ISOTOPE_ERR_INVALID_ARGUMENT || rc == ISOTOPE_ERR_VOCAB_MISMATCH;
}

}  // namespace

TEST_CASE("C API battery: hostile logits, parameters and contexts", "[robustness][capi]") {
  const std::uint32_t V = 2000;
  std::vector<std::uint8_t> kb(ISOTOPE_KEYBYTES, 5);
  isotope_key* key = nullptr;
  REQUIRE(isotope_key_from_bytes(kb.data(), kb.size(), &key) == ISOTOPE_OK);
  isotope_watermark* wm = nullptr;
  REQUIRE(isotope_watermark_create(key, nullptr, V, &wm) == ISOTOPE_OK);
  isotope_rng* rng = nullptr;
  REQUIRE(isotope_rng_create(9, &rng) == ISOTOPE_OK);
  const std::int32_t ctx[] = {11, 12, 13};
  std::size_t calls = 0, ok = 0;
  for (const auto& logits : hostile_logits(V)) {
    bool has_nan = false;
    std::int32_t first_inf = -1;
    bool any_finite_or_inf = false;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      has_nan = has_nan || std::isnan(logits[i]);
      if (first_inf < 0 && logits[i] == kInf) first_inf = static_cast<std::int32_t>(i);
      any_finite_or_inf = any_finite_or_inf || logits[i] > -kInf;
    }
    for (const auto& p : hostile_params(V)) {
      for (int watermark : {0, 1}) {
        std::int32_t tok = -7;
        const int rc = watermark ? isotope_watermark_sample(wm, ctx, 3, logits.data(), V, &p, rng, &tok)
                                 : isotope_sample_plain(logits.data(), V, &p, rng, &tok);
        ++calls;
        INFO("rc " << rc << " temperature " << p.temperature << " top_k " << p.top_k << " top_p " << p.top_p
                   << " greedy " << p.greedy);
        REQUIRE(documented(rc));
        if (rc != ISOTOPE_OK) {
          CHECK(std::string(isotope_last_error_message()).size() > 0);
          continue;
        }
        ++ok;
        REQUIRE(tok >= 0);
        REQUIRE(tok < static_cast<std::int32_t>(V));
        CHECK_FALSE(has_nan);
        CHECK(any_finite_or_inf);
        CHECK(logits[static_cast<std::size_t>(tok)] > -kInf);
        if (first_inf >= 0) CHECK(tok == first_inf);
      }
    }
  }
  CHECK(calls > 500);
  CHECK(ok > 100);

  // Contexts and sizes.
  std::vector<float> logits = hostile_logits(V)[0];
  std::int32_t tok = 0;
  const std::int32_t neg[] = {1, -5};
  const std::int32_t big[] = {1, static_cast<std::int32_t>(V)};
  const std::int32_t maxid[] = {1, std::numeric_limits<std::int32_t>::max()};
  for (const std::int32_t* c : {neg, big, maxid}) {
    CHECK(isotope_watermark_apply(wm, c, 2, logits.data(), V) == ISOTOPE_ERR_VOCAB_MISMATCH);
    CHECK(isotope_watermark_sample(wm, c, 2, logits.data(), V, nullptr, rng, &tok) == ISOTOPE_ERR_VOCAB_MISMATCH);
  }
  CHECK(isotope_watermark_apply(wm, ctx, 3, logits.data(), V - 1) == ISOTOPE_ERR_VOCAB_MISMATCH);
  CHECK(isotope_watermark_apply(wm, ctx, 3, logits.data(), 0) == ISOTOPE_ERR_VOCAB_MISMATCH);
  CHECK(isotope_watermark_apply(wm, nullptr, 3, logits.data(), V) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(isotope_watermark_apply(nullptr, ctx, 3, logits.data(), V) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(isotope_watermark_sample(wm, ctx, 3, nullptr, V, nullptr, rng, &tok) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(isotope_watermark_sample(wm, ctx, 3, logits.data(), V, nullptr, nullptr, &tok) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(isotope_watermark_sample(wm, ctx, 3, logits.data(), V, nullptr, rng, nullptr) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(isotope_sample_plain(logits.data(), 0, nullptr, rng, &tok) != ISOTOPE_OK);
  std::vector<isotope_token_data> cand = {{1, 0.5f, 0.0f}, {static_cast<std::int32_t>(V), 0.1f, 0.0f}};
  CHECK(isotope_watermark_apply_candidates(wm, ctx, 3, cand.data(), cand.size()) == ISOTOPE_ERR_VOCAB_MISMATCH);
  cand[1].id = -1;
  CHECK(isotope_watermark_apply_candidates(wm, ctx, 3, cand.data(), cand.size()) == ISOTOPE_ERR_VOCAB_MISMATCH);
  CHECK(isotope_watermark_apply_candidates(wm, ctx, 3, nullptr, 0) == ISOTOPE_OK);

  // Detection over hostile id sequences.
  isotope_detector* det = nullptr;
  REQUIRE(isotope_detector_create(key, nullptr, &det) == ISOTOPE_OK);
  isotope_detection r{};
  std::vector<std::vector<std::int32_t>> seqs = {{}, {0}, {-1, 2, 3}, {1, 1, 1, 1, 1, 1},
                                                 {std::numeric_limits<std::int32_t>::max(), 0, 1}};
  std::vector<std::int32_t> longseq(100000);
  for (std::size_t i = 0; i < longseq.size(); ++i) longseq[i] = static_cast<std::int32_t>((i * 7919) % 50000);
  seqs.push_back(longseq);
  for (const auto& s : seqs) {
    const int rc = isotope_detect_ids(det, s.data(), s.size(), s.data(), s.size() / 2, &r);
    REQUIRE(documented(rc));
    if (rc == ISOTOPE_OK) {
      CHECK(std::isfinite(r.log10_p));
      CHECK(r.log10_p <= 0.0);
      CHECK(r.green <= r.scored);
      CHECK(r.scored <= r.tokens);
    }
  }
  CHECK(isotope_detect_ids(det, nullptr, 5, nullptr, 0, &r) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(isotope_detect_ids(det, seqs[1].data(), 1, nullptr, 0, nullptr) == ISOTOPE_ERR_INVALID_ARGUMENT);

  // Key files that are not keys, or not files.
  isotope_key* k2 = nullptr;
  for (const char* path : {"/dev/zero", "/dev/null", "/", "/nonexistent", "", "/proc/self/status"}) {
    const int rc = isotope_key_load(path, &k2);
    CHECK(rc != ISOTOPE_OK);
    CHECK(k2 == nullptr);
  }
  CHECK(isotope_key_load(nullptr, &k2) == ISOTOPE_ERR_INVALID_ARGUMENT);

  isotope_detector_free(det);
  isotope_rng_free(rng);
  isotope_watermark_free(wm);
  isotope_key_free(key);
}
