// The distortion-free schemes' PRF and Gumbel's race against the independent
// Python implementation (tests/vectors/gen_scheme_vectors.py).
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include "isotope/scheme.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {
Key key_hex(const std::string& hex) {
  std::uint8_t b[KEY_BYTES];
  std::size_t len = 0;
  REQUIRE(sodium_hex2bin(b, sizeof b, hex.c_str(), hex.size(), nullptr, &len, nullptr) == 0);
  Key k;
  REQUIRE(Key::from_bytes(b, len, &k).ok());
  return k;
}
nlohmann::json vectors() {
  std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/scheme_vectors.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}
}  // namespace

TEST_CASE("Gumbel and SynthID values match the reference implementation", "[schemes][vectors]") {
  const auto doc = vectors();
  std::size_t n = 0;
  for (const auto& v : doc["vectors"]) {
    const std::string scheme = v["scheme"];
    Profile p;
    REQUIRE(Profile::of(scheme, &p).ok());
    const auto ctx = v["context"].get<std::vector<std::uint32_t>>();
    p.context_width = static_cast<std::uint32_t>(ctx.size());
    std::unique_ptr<TupleScorer> s;
    REQUIRE(find_scheme(scheme)->make_scorer(key_hex(v["key_hex"]), p, &s).ok());
    const std::uint32_t token = v["token"];
    double score = 0.0;
    // Gumbel: the uniform; SynthID: one g-value per layer.
    std::vector<double> values(s->value_shape().per_token);
    REQUIRE(s->values(ctx, std::span<const std::uint32_t>(&token, 1), values).ok());
    double value = 0.0;
    for (double g : values) value += g;
    REQUIRE(s->score(ctx.data(), &token, 1, &score).ok());
    INFO(v.dump());
    if (scheme == "gumbel") {
      CHECK(value == v["u"].get<double>());
      CHECK(score == v["score"].get<double>());
    } else {
      CHECK(values.size() == 30);
      CHECK(s->value_shape().kind == ValueKind::bit);
      CHECK(value == v["g_ones_30"].get<double>());
      CHECK(score == v["g_ones_30"].get<double>());
    }
    ++n;
  }
  CHECK(n >= 200);
}

TEST_CASE("the Gumbel-max race picks the reference token", "[schemes][vectors]") {
  const auto doc = vectors();
  std::size_t n = 0;
  for (const auto& r : doc["races"]) {
    Profile p;
    REQUIRE(Profile::of("gumbel", &p).ok());
    p.params["skip_repeated"] = 0;
    const auto logits = r["logits"].get<std::vector<float>>();
    std::unique_ptr<Watermarker> wm;
    REQUIRE(Watermarker::create(key_hex(r["key_hex"]), p, static_cast<std::uint32_t>(logits.size()), &wm).ok());
    const auto ctx = r["context"].get<std::vector<std::uint32_t>>();
    SamplingParams sp;
    sp.temperature = r["temperature"].get<float>();
    Rng rng(1);
    std::uint32_t t = 0;
    REQUIRE(wm->sample(ctx, logits, sp, rng, &t).ok());
    INFO(r.dump());
    CHECK(t == r["token"].get<std::uint32_t>());
    ++n;
  }
  CHECK(n == 27);
}
