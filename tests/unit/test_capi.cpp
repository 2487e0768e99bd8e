// The C API: same numbers as the C++ API, clean errors, NULL-safe frees.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/isotope.h"
#include "isotope/watermark.hpp"
#include "schemes/torch_kgw/torch_kgw.hpp"

namespace {
std::vector<std::uint8_t> key_bytes() {
  std::vector<std::uint8_t> b(ISOTOPE_KEYBYTES);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(200 - i);
  return b;
}
}  // namespace

TEST_CASE("C API: error names and NULL handling", "[capi]") {
  CHECK(std::string(isotope_error_name(ISOTOPE_OK)) == "ok");
  CHECK(std::string(isotope_error_name(ISOTOPE_ERR_KEY_PERMISSIONS)) == "key_permissions");
  CHECK(std::string(isotope_error_name(ISOTOPE_ERR_VOCAB_MISMATCH)) == "vocab_mismatch");
  CHECK(std::string(isotope_error_name(-1)) == "unknown");
  CHECK(std::string(isotope_error_name(999)) == "unknown");
  CHECK(std::string(isotope_version()).size() > 0);
  isotope_key_free(nullptr);
  isotope_watermark_free(nullptr);
  isotope_detector_free(nullptr);
  isotope_rng_free(nullptr);
  CHECK(isotope_key_generate(nullptr) == ISOTOPE_ERR_INVALID_ARGUMENT);
  isotope_key* k = nullptr;
  const std::uint8_t short_key[3] = {1, 2, 3};
  CHECK(isotope_key_from_bytes(short_key, 3, &k) != ISOTOPE_OK);
  CHECK(k == nullptr);
  CHECK(isotope_key_load("/nonexistent/key", &k) == ISOTOPE_ERR_IO);
  CHECK(std::string(isotope_last_error_message()).size() > 0);
}

TEST_CASE("C API: watermark and detector agree with the C++ API", "[capi]") {
  const auto kb = key_bytes();
  isotope_key* key = nullptr;
  REQUIRE(isotope_key_from_bytes(kb.data(), kb.size(), &key) == ISOTOPE_OK);
  isotope::Key cpp_key;
  REQUIRE(isotope::Key::from_bytes(kb.data(), kb.size(), &cpp_key).ok());

  std::uint8_t commit[ISOTOPE_COMMITMENTBYTES];
  REQUIRE(isotope_key_commitment(key, commit) == ISOTOPE_OK);
  const auto cc = cpp_key.commitment();
  CHECK(std::equal(cc.begin(), cc.end(), commit));

  const std::uint32_t V = 32000;
  isotope_watermark* wm = nullptr;
  REQUIRE(isotope_watermark_create(key, nullptr, V, &wm) == ISOTOPE_OK);
  std::unique_ptr<isotope::Watermarker> cpp_wm;
  REQUIRE(isotope::Watermarker::create(cpp_key, isotope::Profile{}, V, &cpp_wm).ok());

  std::mt19937 g(3);
  std::normal_distribution<float> d(0, 2);
  std::vector<float> logits(V);
  for (float& x : logits) x = d(g);

  const std::int32_t ctx[] = {5, 6, 7};
  const std::uint32_t uctx[] = {5, 6, 7};
  auto a = logits, b = logits;
  REQUIRE(isotope_watermark_apply(wm, ctx, 3, a.data(), V) == ISOTOPE_OK);
  REQUIRE(cpp_wm->apply(uctx, b).ok());
  CHECK(a == b);
  CHECK(isotope_watermark_apply(wm, ctx, 3, a.data(), V - 1) == ISOTOPE_ERR_VOCAB_MISMATCH);
  const std::int32_t neg[] = {-5, 6};
  CHECK(isotope_watermark_apply(wm, neg, 2, a.data(), V) == ISOTOPE_ERR_VOCAB_MISMATCH);

  std::vector<isotope_token_data> cand = {{10, logits[10], 0}, {31999, logits[31999], 0}, {0, logits[0], 0}};
  REQUIRE(isotope_watermark_apply_candidates(wm, ctx, 3, cand.data(), cand.size()) == ISOTOPE_OK);
  for (const auto& c : cand) CHECK(c.logit == b[static_cast<std::size_t>(c.id)]);

  isotope_rng* rng = nullptr;
  REQUIRE(isotope_rng_create(9, &rng) == ISOTOPE_OK);
  isotope::Rng cpp_rng(9);
  isotope_sampling_params sp;
  isotope_sampling_params_default(&sp);
  sp.top_k = 40;
  isotope::SamplingParams cpp_sp;
  cpp_sp.top_k = 40;
  std::vector<std::int32_t> ids = {1, 2};
  std::vector<std::uint32_t> uids = {1, 2};
  for (int i = 0; i < 300; ++i) {
    std::int32_t t = -1;
    std::uint32_t u = 0;
    REQUIRE(isotope_watermark_sample(wm, ids.data(), ids.size(), logits.data(), V, &sp, rng, &t) == ISOTOPE_OK);
    REQUIRE(cpp_wm->sample(uids, logits, cpp_sp, cpp_rng, &u).ok());
    REQUIRE(static_cast<std::uint32_t>(t) == u);
    ids.push_back(t);
    uids.push_back(u);
  }
  std::int32_t t = 0;
  REQUIRE(isotope_sample_plain(logits.data(), V, nullptr, rng, &t) == ISOTOPE_OK);
  CHECK(t >= 0);
  CHECK(t < static_cast<std::int32_t>(V));

  isotope_detector* det = nullptr;
  REQUIRE(isotope_detector_create(key, nullptr, &det) == ISOTOPE_OK);
  isotope_detection r{};
  REQUIRE(isotope_detect_ids(det, ids.data(), ids.size(), nullptr, 0, &r) == ISOTOPE_OK);
  isotope::DetectionResult cr;
  REQUIRE(isotope::detect_ids(cpp_key, isotope::Profile{}, uids, &cr).ok());
  CHECK(r.scored == cr.scored);
  CHECK(r.green == cr.green);
  CHECK(r.log10_p == cr.log10_p);
  CHECK(r.log10_p < -6.0);  // 300 watermarked tokens
  // Scoring twice gives the same answer (fresh dedup memory per call).
  isotope_detection r2{};
  REQUIRE(isotope_detect_ids(det, ids.data(), ids.size(), nullptr, 0, &r2) == ISOTOPE_OK);
  CHECK(r2.log10_p == r.log10_p);
  // With the sequence itself as prompt nothing is left to score.
  REQUIRE(isotope_detect_ids(det, ids.data(), ids.size(), ids.data(), ids.size(), &r2) == ISOTOPE_OK);
  CHECK(r2.scored == 0);
  CHECK(r2.log10_p == 0.0);

  // A batch in one call gives each sequence's own result: the whole
  // sequence, its first half, and the sequence with itself as prompt.
  {
    const std::size_t half = ids.size() / 2;
    const int32_t* seqs[3] = {ids.data(), ids.data(), ids.data()};
    const size_t lens[3] = {ids.size(), half, ids.size()};
    const int32_t* prompts[3] = {nullptr, nullptr, ids.data()};
    const size_t plens[3] = {0, 0, ids.size()};
    isotope_detection b[3]{};
    REQUIRE(isotope_detect_batch(det, seqs, lens, 3, prompts, plens, b) == ISOTOPE_OK);
    isotope_detection h{};
    REQUIRE(isotope_detect_ids(det, ids.data(), half, nullptr, 0, &h) == ISOTOPE_OK);
    CHECK(b[0].log10_p == r.log10_p);
    CHECK(b[0].scored == r.scored);
    CHECK(b[1].log10_p == h.log10_p);
    CHECK(b[1].scored == h.scored);
    CHECK(b[1].scored < b[0].scored);
    CHECK(b[2].scored == 0);
    // no prompts at all
    isotope_detection c[2]{};
    REQUIRE(isotope_detect_batch(det, seqs, lens, 2, nullptr, nullptr, c) == ISOTOPE_OK);
    CHECK(c[1].log10_p == h.log10_p);
    // a bad id names its sequence
    std::vector<int32_t> bad = {1, 2, -3};
    const int32_t* bseqs[2] = {ids.data(), bad.data()};
    const size_t blens[2] = {ids.size(), bad.size()};
    CHECK(isotope_detect_batch(det, bseqs, blens, 2, nullptr, nullptr, c) == ISOTOPE_ERR_VOCAB_MISMATCH);
    CHECK(std::string(isotope_last_error_message()).find("sequence 1") != std::string::npos);
    CHECK(isotope_detect_batch(det, nullptr, lens, 2, nullptr, nullptr, c) == ISOTOPE_ERR_INVALID_ARGUMENT);
  }

  isotope_detector_free(det);
  isotope_rng_free(rng);
  isotope_watermark_free(wm);
  isotope_key_free(key);
}

TEST_CASE("C API: key files", "[capi]") {
  char dir[] = "/tmp/isotope-capi-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/k.key";
  isotope_key* key = nullptr;
  REQUIRE(isotope_key_generate(&key) == ISOTOPE_OK);
  REQUIRE(isotope_key_save(key, path.c_str(), 0) == ISOTOPE_OK);
  CHECK(isotope_key_save(key, path.c_str(), 0) == ISOTOPE_ERR_IO);  // exists
  isotope_key* back = nullptr;
  REQUIRE(isotope_key_load(path.c_str(), &back) == ISOTOPE_OK);
  std::uint8_t c1[32], c2[32];
  REQUIRE(isotope_key_commitment(key, c1) == ISOTOPE_OK);
  REQUIRE(isotope_key_commitment(back, c2) == ISOTOPE_OK);
  CHECK(std::equal(c1, c1 + 32, c2));
  REQUIRE(chmod(path.c_str(), 0644) == 0);
  isotope_key* loose = nullptr;
  CHECK(isotope_key_load(path.c_str(), &loose) == ISOTOPE_ERR_KEY_PERMISSIONS);
  isotope_key_free(key);
  isotope_key_free(back);
  std::remove(path.c_str());
  rmdir(dir);
}

TEST_CASE("C API: profiles of any scheme, parameters by name, results that carry their size", "[capi]") {
  isotope_profile* p = nullptr;
  REQUIRE(isotope_profile_create("synthid", &p) == ISOTOPE_OK);
  double v = 0.0;
  REQUIRE(isotope_profile_get(p, "layers", &v) == ISOTOPE_OK);
  CHECK(v == 30.0);
  CHECK(isotope_profile_set(p, "layers", 12) == ISOTOPE_OK);
  CHECK(isotope_profile_set(p, "layers", 40) == ISOTOPE_ERR_INVALID_ARGUMENT);  // out of range: unchanged
  CHECK(isotope_profile_set(p, "gamma", 0.5) == ISOTOPE_ERR_INVALID_ARGUMENT);  // not a synthid parameter
  CHECK(isotope_profile_set(p, "context_width", 3) == ISOTOPE_OK);
  CHECK(std::string(isotope_profile_name(p)) == "synthid/v1/layers=12/leaves=2/skip_repeated=1/h=3/siphash128-aes128ctr-u32-v1");
  isotope_profile* bad = nullptr;
  CHECK(isotope_profile_create("nope", &bad) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(bad == nullptr);

  std::uint8_t kb[ISOTOPE_KEYBYTES];
  for (int i = 0; i < ISOTOPE_KEYBYTES; ++i) kb[i] = static_cast<std::uint8_t>(i * 5 + 1);
  isotope_key* key = nullptr;
  REQUIRE(isotope_key_from_bytes(kb, sizeof kb, &key) == ISOTOPE_OK);
  const std::uint32_t V = 600;
  isotope_watermark* wm = nullptr;
  REQUIRE(isotope_watermark_create_with_profile(key, p, V, &wm) == ISOTOPE_OK);
  isotope_rng* rng = nullptr;
  REQUIRE(isotope_rng_create(4, &rng) == ISOTOPE_OK);
  std::vector<std::int32_t> ids{1, 2, 3};
  std::vector<float> logits(V);
  std::uint64_t state = 88172645463325252ull;
  for (int step = 0; step < 200; ++step) {
    for (float& x : logits) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      x = static_cast<float>(static_cast<double>(state >> 11) * 0x1.0p-53 * 6.0 - 3.0);
    }
    std::int32_t t = -1;
    REQUIRE(isotope_watermark_sample(wm, ids.data(), ids.size(), logits.data(), V, nullptr, rng, &t) == ISOTOPE_OK);
    ids.push_back(t);
  }
  isotope_sampling_params greedy;
  isotope_sampling_params_default(&greedy);
  greedy.greedy = 1;
  std::int32_t t = -1;
  CHECK(isotope_watermark_sample(wm, ids.data(), ids.size(), logits.data(), V, &greedy, rng, &t) ==
        ISOTOPE_ERR_INVALID_ARGUMENT);

  isotope_detector* d = nullptr;
  REQUIRE(isotope_detector_create_with_profile(key, p, &d) == ISOTOPE_OK);
  isotope_result r{};
  CHECK(isotope_detect_ids_result(d, ids.data(), ids.size(), nullptr, 0, &r) == ISOTOPE_ERR_INVALID_ARGUMENT);
  r.size = sizeof r;
  REQUIRE(isotope_detect_ids_result(d, ids.data(), ids.size(), nullptr, 0, &r) == ISOTOPE_OK);
  CHECK(r.size == sizeof r);
  CHECK(r.trials == 12 * r.scored);
  CHECK(r.log10_p <= -6.0);
  CHECK(r.mean_score == Approx(r.statistic / static_cast<double>(r.trials)));

  isotope_detector_free(d);
  isotope_watermark_free(wm);
  isotope_rng_free(rng);
  isotope_key_free(key);
  isotope_profile_free(p);
  isotope_profile_free(nullptr);
}

TEST_CASE("C API: the engine profiles by their engines' parameter names", "[capi][hf]") {
  isotope_profile* p = nullptr;
  REQUIRE(isotope_profile_create("hf-kgw", &p) == ISOTOPE_OK);
  CHECK(isotope_profile_set(p, "greenlist_ratio", 0.5) == ISOTOPE_ERR_INVALID_ARGUMENT);  // no vocabulary yet
  CHECK(isotope_profile_set(p, "engine_vocab_size", 32000) == ISOTOPE_OK);
  CHECK(isotope_profile_set(p, "greenlist_ratio", 0.5) == ISOTOPE_OK);
  CHECK(isotope_profile_set(p, "device", 1) == ISOTOPE_ERR_INVALID_ARGUMENT);
  CHECK(std::string(isotope_last_error_message()).find("CUDA") != std::string::npos);
  double v = 0;
  REQUIRE(isotope_profile_get(p, "device", &v) == ISOTOPE_OK);
  CHECK(v == 0.0);
  isotope_profile_free(p);
  REQUIRE(isotope_profile_create("hf-synthid", &p) == ISOTOPE_OK);
  CHECK(isotope_profile_set(p, "ngram_len", 3) == ISOTOPE_OK);
  REQUIRE(isotope_profile_get(p, "context_width", &v) == ISOTOPE_OK);
  CHECK(v == 2.0);
  CHECK(isotope_profile_set(p, "sampling_table_size", 1000) == ISOTOPE_ERR_INVALID_ARGUMENT);
  isotope_profile_free(p);
}

TEST_CASE("C API: hf-kgw detection with an engine key file", "[capi][hf]") {
  char dir[] = "/tmp/isotope-capi-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/hf.key";
  const std::uint64_t hk = 15485863;
  isotope::Key k;
  REQUIRE(isotope::Key::from_engine_ints(std::span<const std::uint64_t>(&hk, 1), &k).ok());
  REQUIRE(isotope::key_write_file(path, k).ok());
  isotope_key* key = nullptr;
  REQUIRE(isotope_key_load(path.c_str(), &key) == ISOTOPE_OK);
  // Ids that always continue with a green token of the engine's list.
  isotope::detail::TorchKgwConfig cfg;
  cfg.vocab = 32000;
  cfg.green = isotope::detail::torch_kgw_green_size(32000, 0.25);
  isotope::detail::TorchGreenLists lists;
  REQUIRE(isotope::detail::TorchGreenLists::create(cfg, &lists).ok());
  std::vector<std::int32_t> ids{7};
  std::vector<std::uint32_t> green;
  for (int i = 0; i < 60; ++i) {
    const auto prev = static_cast<std::uint32_t>(ids.back());
    std::uint64_t seed = 0;
    REQUIRE(lists.seed(std::span<const std::uint32_t>(&prev, 1), 0, &seed).ok());
    REQUIRE(lists.green_ids(seed, &green).ok());
    ids.push_back(static_cast<std::int32_t>(green[static_cast<std::size_t>(i * 37) % green.size()]));
  }
  isotope_profile* p = nullptr;
  REQUIRE(isotope_profile_create("hf-kgw", &p) == ISOTOPE_OK);
  REQUIRE(isotope_profile_set(p, "engine_vocab_size", 32000) == ISOTOPE_OK);
  isotope_detector* d = nullptr;
  REQUIRE(isotope_detector_create_with_profile(key, p, &d) == ISOTOPE_OK);
  isotope_result r{};
  r.size = sizeof r;
  REQUIRE(isotope_detect_ids_result(d, ids.data(), ids.size(), nullptr, 0, &r) == ISOTOPE_OK);
  CHECK(r.scored == 60);
  CHECK(r.statistic == 60.0);
  CHECK(r.log10_p == isotope::binomial_upper_tail(60, 60, 0.25).log10_p);
  // Each call scores its sequence on its own: the same ids give the same result.
  isotope_result again{};
  again.size = sizeof again;
  REQUIRE(isotope_detect_ids_result(d, ids.data(), ids.size(), nullptr, 0, &again) == ISOTOPE_OK);
  CHECK(again.statistic == 60.0);
  CHECK(again.log10_p == r.log10_p);
  isotope_detector_free(d);
  isotope_profile_free(p);
  isotope_key_free(key);
  std::remove(path.c_str());
  rmdir(dir);
}
