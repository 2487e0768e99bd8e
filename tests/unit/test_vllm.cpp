// The vLLM-compatible profiles against the independent Python implementation
// (tests/vectors/gen_vllm_vectors.py), engine keys and their files.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "isotope/audit.hpp"
#include "isotope/detect.hpp"
#include "isotope/evidence.hpp"
#include "isotope/isotope.h"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"
#include "schemes/vllm/philox.hpp"

using namespace isotope;

namespace {
nlohmann::json vectors() {
  std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/vllm_vectors.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}
std::uint64_t u64(const nlohmann::json& s) { return std::stoull(s.get<std::string>()); }
Key engine_key(std::uint64_t v) {
  Key k;
  const std::uint64_t ints[1] = {v};
  REQUIRE(Key::from_engine_ints(ints, &k).ok());
  return k;
}
Profile profile(const std::string& scheme, std::uint32_t h) {
  Profile p;
  REQUIRE(Profile::of(scheme, &p).ok());
  p.context_width = h;
  return p;
}
std::string temp_path(const std::string& name) {
  return "/tmp/isotope_test_vllm_" + std::to_string(::getpid()) + "_" + name;
}
}  // namespace

TEST_CASE("vLLM philox words and float32 uniforms match the reference", "[vllm][vectors]") {
  const auto doc = vectors();
  std::size_t n = 0;
  for (const auto& v : doc["philox"]) {
    const std::uint64_t key = u64(v["key"]);
    const auto ctx = v["context"].get<std::vector<std::uint32_t>>();
    const auto tokens = v["tokens"].get<std::vector<std::uint32_t>>();
    const auto words = v["words"].get<std::vector<std::uint32_t>>();
    const auto bits = v["uniform_bits"].get<std::vector<std::uint32_t>>();
    const auto state = detail::vllm::context_state(key, ctx);
    for (std::size_t j = 0; j < tokens.size(); ++j) {
      CHECK(detail::vllm::token_word(key, state, tokens[j]) == words[j]);
      CHECK(std::bit_cast<std::uint32_t>(detail::vllm::uniform(words[j])) == bits[j]);
    }
    // The same through the public per-token values.
    std::vector<double> out;
    ValueShape shape;
    REQUIRE(prf_values(engine_key(key), profile("vllm-gumbel", static_cast<std::uint32_t>(ctx.size())), ctx, tokens,
                       &out, &shape)
                .ok());
    CHECK(shape.per_token == 1);
    CHECK(shape.kind == ValueKind::float32);
    for (std::size_t j = 0; j < tokens.size(); ++j)
      CHECK(std::bit_cast<std::uint32_t>(static_cast<float>(out[j])) == bits[j]);
    n += tokens.size();
  }
  CHECK(n >= 1000);
}

TEST_CASE("vLLM key_a and key_b derivations match the reference", "[vllm][vectors]") {
  const auto doc = vectors();
  for (const auto& v : doc["derive"]) {
    std::uint64_t a = 0, b = 0;
    REQUIRE(detail::vllm::derive_key(u64(v["key"]), "key_a", &a).ok());
    REQUIRE(detail::vllm::derive_key(u64(v["key"]), "key_b", &b).ok());
    CHECK(a == u64(v["key_a"]));
    CHECK(b == u64(v["key_b"]));
  }
}

TEST_CASE("Every vLLM uniform lies at or above its cell's lower end, and the score within 2^-23 of it",
          "[vllm][stats]") {
  double worst = 0.0;
  std::uint32_t below = 0;
  for (std::uint32_t m = 0; m < (1u << 24); ++m) {
    const double u = static_cast<double>(detail::vllm::uniform(m << 8));
    const double c = static_cast<double>(m) * 0x1p-24;
    below += u < c || u >= 1.0 ? 1 : 0;
    worst = std::max(worst, -std::log1p(-u) + std::log1p(-c));
  }
  CHECK(below == 0);
  CHECK(worst < 0x1p-23);
  CHECK(worst == Approx(vectors()["max_cell_gap"].get<double>()).epsilon(1e-9));
}

TEST_CASE("vLLM-profile detection gives the engine's count and score, and the exact tail", "[vllm][vectors]") {
  const auto doc = vectors();
  for (const auto& v : doc["sequences"]) {
    const std::string scheme = v["scheme"];
    Profile p = profile(scheme, v["context_width"].get<std::uint32_t>());
    if (!v["alpha"].is_null()) REQUIRE(p.set("alpha", v["alpha"].get<double>()).ok());
    const auto ids = v["ids"].get<std::vector<std::uint32_t>>();
    DetectionResult r;
    REQUIRE(detect_ids(engine_key(u64(v["key"])), p, ids, &r).ok());
    INFO(scheme << " h=" << p.context_width << " n=" << ids.size());
    CHECK(r.scored == v["scored"].get<std::uint64_t>());
    CHECK(r.skipped_short == 0);
    CHECK(r.scored + r.skipped_duplicate == ids.size());
    CHECK(r.statistic == Approx(v["score"].get<double>()).epsilon(1e-13));
    const double want = v["log10_p"].get<double>();
    CHECK(r.log10_p == Approx(want).epsilon(1e-9).margin(1e-12));
    CHECK(std::isfinite(r.log10_p));
    // Where the engine's double-precision tail says 0, isotope's is finite.
    if (v.contains("engine_p_value") && v["engine_p_value"].get<double>() == 0.0) CHECK(r.log10_p < -308.0);
  }
}

TEST_CASE("The weighted Gamma tail matches numerical integration", "[vllm][stats]") {
  const auto doc = vectors();
  for (const auto& v : doc["weighted_tail"]) {
    const double a = v["alpha"].get<double>();
    const Tail t = weighted_gamma_upper_tail(v["s"].get<double>(), v["n"].get<std::uint64_t>(), 1.0 - a, a);
    INFO("n=" << v["n"] << " alpha=" << a << " s=" << v["s"]);
    CHECK(t.log10_p == Approx(v["log10_p"].get<double>()).epsilon(1e-9).margin(1e-12));
  }
  // Equal weights and a zero weight are Gamma tails.
  CHECK(weighted_gamma_upper_tail(80.0, 50, 0.5, 0.5).log10_p == gamma_upper_tail(160.0, 100).log10_p);
  CHECK(weighted_gamma_upper_tail(80.0, 50, 1.0, 0.0).log10_p == gamma_upper_tail(80.0, 50).log10_p);
  // Continuity towards equal weights (the series is summed, not the closed
  // form).
  const double near = weighted_gamma_upper_tail(80.0, 50, 0.5 + 1e-9, 0.5 - 1e-9).log10_p;
  CHECK(near == Approx(gamma_upper_tail(160.0, 100).log10_p).epsilon(1e-6));
  // Far below a double: finite.
  const Tail far = weighted_gamma_upper_tail(20000.0, 2000, 0.9, 0.1);
  CHECK(std::isfinite(far.log10_p));
  CHECK(far.log10_p < -3000.0);
  CHECK(far.p_value == 0.0);
  CHECK(std::isnan(weighted_gamma_upper_tail(1.0, 3, -0.1, 1.1).log10_p));
}

TEST_CASE("Generation under the vLLM profile picks the engine's token on float32 logits", "[vllm][vectors]") {
  const auto doc = vectors();
  std::size_t n = 0;
  for (const auto& v : doc["generation"]) {
    Profile p = profile("vllm-gumbel", v["context_width"].get<std::uint32_t>());
    REQUIRE(p.set("skip_repeated", 0.0).ok());
    const auto bits = v["logits_bits"].get<std::vector<std::uint32_t>>();
    std::vector<float> logits(bits.size());
    for (std::size_t i = 0; i < bits.size(); ++i) logits[i] = std::bit_cast<float>(bits[i]);
    std::unique_ptr<Watermarker> wm;
    REQUIRE(Watermarker::create(engine_key(u64(v["key"])), p, static_cast<std::uint32_t>(logits.size()), &wm).ok());
    const auto ctx = v["context"].get<std::vector<std::uint32_t>>();
    SamplingParams sp;
    sp.temperature = v["temperature"].get<float>();
    Rng rng(1);
    std::uint32_t t = 0;
    REQUIRE(wm->sample(ctx, logits, sp, rng, &t).ok());
    CHECK(t == v["token"].get<std::uint32_t>());
    // apply() leaves that token alone.
    std::vector<float> l2 = logits;
    REQUIRE(wm->apply(ctx, l2, sp).ok());
    for (std::size_t i = 0; i < l2.size(); ++i) CHECK((i == t) == std::isfinite(l2[i]));
    ++n;
  }
  CHECK(n >= 10);
}

TEST_CASE("vLLM detection deduplicates by context, whatever the token", "[vllm]") {
  // The engine's own example: context width 1, tokens 1 2 1 3: the window (1)
  // repeats, so 3 tokens are scored.
  DetectionResult r;
  const std::vector<std::uint32_t> ids{1, 2, 1, 3};
  REQUIRE(detect_ids(engine_key(42), profile("vllm-gumbel", 1), ids, &r).ok());
  CHECK(r.scored == 3);
  CHECK(r.skipped_duplicate == 1);
  // With dedup off (an experiment): all four, and the result says it.
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(engine_key(42), profile("vllm-gumbel", 1), &s, ScoreRules{.dedup = false}).ok());
  REQUIRE(s->add(ids).ok());
  CHECK(s->result().scored == 4);
  // The mask has one entry per input id, the padded first window included.
  TokenScores mask;
  REQUIRE(detect_ids(engine_key(42), profile("vllm-gumbel", 4), ids, &r, &mask).ok());
  REQUIRE(mask.size() == 4);
  CHECK(std::isfinite(mask[0]));
}

TEST_CASE("Text generated under the vLLM profiles is detected, and not under another key", "[vllm]") {
  for (const std::string scheme : {"vllm-gumbel", "vllm-dual-key-gumbel"}) {
    const Profile p = profile(scheme, 4);
    const Key key = engine_key(0x0123456789abcdefULL);
    std::unique_ptr<Watermarker> wm;
    const std::uint32_t V = 300;
    REQUIRE(Watermarker::create(key, p, V, &wm).ok());
    Rng rng(7), noise(9);
    std::vector<std::uint32_t> ids;
    std::vector<float> logits(V);
    for (int i = 0; i < 300; ++i) {
      for (float& l : logits) l = static_cast<float>(3.0 * (noise.next_double() - 0.5));
      std::uint32_t t = 0;
      REQUIRE(wm->sample(ids, logits, SamplingParams{}, rng, &t).ok());
      ids.push_back(t);
    }
    DetectionResult r;
    REQUIRE(detect_ids(key, p, ids, &r).ok());
    INFO(scheme);
    CHECK(r.log10_p < -10.0);
    REQUIRE(detect_ids(engine_key(0x0123456789abcdeeULL), p, ids, &r).ok());
    CHECK(r.log10_p > -4.0);
  }
}

TEST_CASE("vLLM profiles: defaults, context widths, greedy refused", "[vllm]") {
  Profile p;
  REQUIRE(Profile::of("vllm-gumbel", &p).ok());
  CHECK(p.context_width == 4);
  CHECK(p.prf == "philox4x32-10-v1");
  REQUIRE(Profile::of("vllm-dual-key-gumbel", &p).ok());
  CHECK(p.param("alpha") == 0.1);
  p.context_width = 16;
  CHECK(p.validate().ok());
  p.context_width = 17;
  CHECK(p.validate().code() == Code::invalid_argument);
  p.context_width = 0;
  CHECK(p.validate().code() == Code::invalid_argument);
  REQUIRE(p.set("alpha", 1.5).ok());
  p.context_width = 4;
  CHECK(p.validate().code() == Code::invalid_argument);

  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(engine_key(1), profile("vllm-gumbel", 4), 10, &wm).ok());
  SamplingParams greedy;
  greedy.greedy = true;
  std::vector<float> l(10, 0.0f);
  Rng rng(1);
  std::uint32_t t = 0;
  CHECK(wm->sample({}, l, greedy, rng, &t).code() == Code::invalid_argument);
  l[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(wm->sample({}, l, SamplingParams{}, rng, &t).ok());
}

TEST_CASE("A scheme refuses a key of the other kind", "[vllm][key]") {
  Key iso;
  REQUIRE(Key::generate(&iso).ok());
  DetectionResult r;
  const std::vector<std::uint32_t> ids{1, 2, 3, 4, 5, 6};
  Status st = detect_ids(iso, profile("vllm-gumbel", 4), ids, &r);
  CHECK(st.code() == Code::key_format);
  CHECK(st.message().find("isotope key import") != std::string::npos);
  Profile kgw;
  st = detect_ids(engine_key(5), kgw, ids, &r);
  CHECK(st.code() == Code::key_format);
  CHECK(st.message().find("engine key") != std::string::npos);
  std::unique_ptr<Watermarker> wm;
  CHECK(Watermarker::create(engine_key(5), kgw, 100, &wm).code() == Code::key_format);
  Key two;
  const std::uint64_t ints[2] = {1, 2};
  REQUIRE(Key::from_engine_ints(ints, &two).ok());
  CHECK(detect_ids(two, profile("vllm-gumbel", 4), ids, &r).code() == Code::key_format);
}

TEST_CASE("Engine key files: mode 0600, round trip, commitment, no overwrite", "[vllm][key]") {
  const std::string path = temp_path("engine.key");
  std::remove(path.c_str());
  const std::uint64_t ints[3] = {0, 15485863, 18446744073709551615ULL};
  Key k;
  REQUIRE(Key::from_engine_ints(ints, &k).ok());
  REQUIRE(key_write_file(path, k).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  Key back;
  REQUIRE(key_read_file(path, &back).ok());
  REQUIRE(back.is_engine());
  REQUIRE(back.engine_ints().size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(back.engine_ints()[i] == ints[i]);
  CHECK(back.commitment_hex() == k.commitment_hex());
  CHECK(key_write_file(path, k).code() == Code::io);  // never replaced
  // The same integers with another salt: another commitment (hiding).
  Key other;
  REQUIRE(Key::from_engine_ints(ints, &other).ok());
  CHECK(other.commitment_hex() != k.commitment_hex());
  // The commitment binds every integer.
  std::uint8_t salt[KEY_BYTES] = {};
  Key a, b;
  const std::uint64_t x[2] = {7, 8}, y[2] = {7, 9};
  REQUIRE(Key::from_engine_ints(x, salt, sizeof salt, &a).ok());
  REQUIRE(Key::from_engine_ints(y, salt, sizeof salt, &b).ok());
  CHECK(a.commitment_hex() != b.commitment_hex());
  std::remove(path.c_str());

  // Malformed files are refused as key_format, naming the problem.
  const std::string salt_hex(64, 'a');
  for (const std::string& body :
       {std::string("isotope-engine-key v1\nints \nsalt ") + salt_hex + "\n",
        std::string("isotope-engine-key v1\nints 18446744073709551616\nsalt ") + salt_hex + "\n",
        std::string("isotope-engine-key v1\nints 1,,2\nsalt ") + salt_hex + "\n",
        std::string("isotope-engine-key v1\nints 1\nsalt ") + salt_hex.substr(1) + "\n",
        std::string("isotope-engine-key v1\r\nints 1\r\nsalt ") + salt_hex + "\r\n",
        std::string("isotope-engine-key v1\nints 1\nsalt ") + salt_hex + "\nextra"}) {
    {
      std::ofstream f(path);
      f << body;
    }
    ::chmod(path.c_str(), 0600);
    Key bad;
    INFO(body);
    CHECK(key_read_file(path, &bad).code() == Code::key_format);
    std::remove(path.c_str());
  }
}

TEST_CASE("Engine integers typed as text", "[vllm][key]") {
  std::vector<std::uint64_t> v;
  REQUIRE(parse_engine_ints("15485863\n", &v).ok());
  CHECK(v == std::vector<std::uint64_t>{15485863});
  REQUIRE(parse_engine_ints(" 654, 400 ,836\n", &v).ok());
  CHECK(v == std::vector<std::uint64_t>{654, 400, 836});
  REQUIRE(parse_engine_ints("18446744073709551615", &v).ok());
  CHECK(v[0] == 18446744073709551615ULL);
  for (const char* bad : {"", "\n", "18446744073709551616", "-1", "1,", "1 2", "0x10", "1;2"}) {
    INFO(bad);
    CHECK(parse_engine_ints(bad, &v).code() == Code::invalid_argument);
  }
}

TEST_CASE("Control keys take the kind the scheme needs", "[vllm][key]") {
  std::array<std::uint8_t, COMMITMENT_BYTES> c{};
  Key k0, k1, kiso;
  REQUIRE(control_key(c, 0, &k0, 1).ok());
  REQUIRE(control_key(c, 1, &k1, 1).ok());
  REQUIRE(control_key(c, 0, &kiso).ok());
  CHECK(k0.is_engine());
  CHECK(k0.engine_ints().size() == 1);
  CHECK(k0.engine_ints()[0] != k1.engine_ints()[0]);
  CHECK_FALSE(kiso.is_engine());
  Key again;
  REQUIRE(control_key(c, 0, &again, 1).ok());
  CHECK(again.engine_ints()[0] == k0.engine_ints()[0]);
}

TEST_CASE("C API: engine keys and the per-token values match the reference", "[vllm][capi]") {
  const auto doc = vectors();
  const auto& v = doc["philox"][5];
  const std::uint64_t k = u64(v["key"]);
  isotope_key* key = nullptr;
  REQUIRE(isotope_key_from_engine_ints(&k, 1, &key) == ISOTOPE_OK);
  isotope_profile* prof = nullptr;
  REQUIRE(isotope_profile_create("vllm-gumbel", &prof) == ISOTOPE_OK);
  const auto ctx = v["context"].get<std::vector<std::uint32_t>>();
  REQUIRE(isotope_profile_set(prof, "context_width", static_cast<double>(ctx.size())) == ISOTOPE_OK);
  const auto tokens = v["tokens"].get<std::vector<std::uint32_t>>();
  const auto bits = v["uniform_bits"].get<std::vector<std::uint32_t>>();
  std::vector<double> out(tokens.size());
  std::size_t per = 0;
  REQUIRE(isotope_prf_values(key, prof, ctx.data(), ctx.size(), tokens.data(), tokens.size(), out.data(), out.size(),
                             &per) == ISOTOPE_OK);
  CHECK(per == 1);
  for (std::size_t j = 0; j < tokens.size(); ++j)
    CHECK(std::bit_cast<std::uint32_t>(static_cast<float>(out[j])) == bits[j]);
  // Too small an output: refused, with the size needed.
  CHECK(isotope_prf_values(key, prof, ctx.data(), ctx.size(), tokens.data(), tokens.size(), out.data(), 1, &per) ==
        ISOTOPE_ERR_INVALID_ARGUMENT);
  // An isotope key is refused under this profile.
  isotope_key* iso = nullptr;
  REQUIRE(isotope_key_generate(&iso) == ISOTOPE_OK);
  CHECK(isotope_prf_values(iso, prof, ctx.data(), ctx.size(), tokens.data(), tokens.size(), out.data(), out.size(),
                           &per) == ISOTOPE_ERR_KEY_FORMAT);
  CHECK(isotope_key_from_engine_ints(nullptr, 0, &iso) != ISOTOPE_OK);
  isotope_key_free(iso);
  isotope_key_free(key);
  isotope_profile_free(prof);
}

TEST_CASE("The closed audit's filter holds the padded windows of a padding scheme's teacher answers", "[vllm][audit]") {
  // The suspect's answers are the teacher's: with the filter, every position
  // of each answer is admitted, the first h (padded windows) included; the
  // all-padding window of the second answer is the first's (deduplicated).
  const std::vector<std::vector<std::uint32_t>> teacher{{5, 6, 7, 8, 9, 10}, {11, 12, 13, 14, 15}};
  std::vector<AuditRecord> records;
  for (const auto& t : teacher) records.push_back({{}, t});
  std::unique_ptr<Audit> audit;
  REQUIRE(Audit::closed(profile("vllm-gumbel", 4), records, &teacher, AuditRules{}, &audit).ok());
  AuditResult r;
  REQUIRE(audit->run(engine_key(3), &r).ok());
  CHECK(r.detection.scored == 10);
  CHECK(r.detection.skipped_duplicate == 1);
  CHECK(r.detection.skipped_filter == 0);
  CHECK(r.detection.skipped_short == 0);
}
