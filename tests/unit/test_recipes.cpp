// The detect and audit recipes (isotope/recipes.hpp): the numbers are the
// library calls' own, the JSON carries them and the decision rule, and a
// result whose validity rule was switched off is never flagged.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "isotope/audit.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/recipes.hpp"
#include "isotope/scheme.hpp"
#include "isotope/tokenizer.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key recipe_key(std::uint8_t fill) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(fill * 31 + 11 * i);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

// `n` ids whose every token past the first h is green under `key` (the
// smallest green id above a pseudo-random start), so the text is marked.
std::vector<std::uint32_t> green_ids(const Key& key, const Profile& p, std::size_t n, std::uint32_t vocab,
                                     std::uint32_t salt) {
  std::unique_ptr<GreenList> gl;
  REQUIRE(GreenList::create(key, p, &gl).ok());
  std::vector<std::uint32_t> ids;
  std::uint32_t x = salt * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    std::uint32_t t = (x >> 8) % vocab;
    if (ids.size() >= p.context_width) {
      const std::vector<std::uint32_t> window(ids.end() - p.context_width, ids.end());
      for (;; t = (t + 1) % vocab) {
        std::uint16_t v = 0;
        REQUIRE(gl->value(gl->seed(window), t, &v).ok());
        if (v < gl->threshold()) break;
      }
    }
    ids.push_back(t);
  }
  return ids;
}

std::unique_ptr<Tokenizer> bundled_tokenizer() {
  std::unique_ptr<Tokenizer> t;
  REQUIRE(Tokenizer::load(default_tokenizer_path(), &t).ok());
  return t;
}

nlohmann::json parsed(const std::string& s) { return nlohmann::json::parse(s); }

// A recipe with one setting changed from the defaults.
template <typename R, typename F>
R with(F&& set) {
  R r;
  set(r);
  return r;
}

}  // namespace

TEST_CASE("detect_run gives the scorer's numbers and detect_result_json the decision", "[recipes]") {
  const Key key = recipe_key(3);
  const Profile p = Profile{};
  const auto ids = green_ids(key, p, 120, 8000, 1);
  const std::vector<std::uint32_t> prompt(ids.begin(), ids.begin() + 10);

  DetectRecipe recipe;
  recipe.mask = true;
  recipe.scan_min_length = 32;
  DetectOutcome o;
  REQUIRE(detect_run(key, p, ids, &prompt, recipe, &o).ok());

  // The same numbers as a scorer by hand.
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(key, p, &s).ok());
  WindowSet pw(p.context_width);
  pw.add_windows_of(prompt);
  REQUIRE(s->add(ids, &pw).ok());
  const DetectionResult by_hand = s->result();
  CHECK(o.result.scored == by_hand.scored);
  CHECK(o.result.statistic == by_hand.statistic);
  CHECK(o.result.log10_p == by_hand.log10_p);
  CHECK(o.result.skipped_prompt == by_hand.skipped_prompt);
  CHECK(o.result.skipped_prompt > 0);
  CHECK(o.prompt_exclusion);
  REQUIRE(o.scan.has_value());
  CHECK(o.mask.size() == ids.size());

  std::string text;
  REQUIRE(detect_result_json(o, p, recipe, nullptr, ids, &text).ok());
  const auto j = parsed(text);
  CHECK(j["scored"] == by_hand.scored);
  CHECK(j["statistic"].is_number_integer());  // KGW: a green count
  CHECK(j["statistic"].get<std::int64_t>() == static_cast<std::int64_t>(by_hand.statistic));
  CHECK(j["log10_p"].get<double>() == by_hand.log10_p);
  CHECK(j["watermarked"] == is_watermarked(by_hand, 1e-4));
  CHECK(j["watermarked"] == true);
  CHECK(j["rules"]["prompt_exclusion"] == true);
  CHECK(j["profile"]["scheme"] == p.scheme);
  CHECK(j["mask"].size() == ids.size());
  CHECK(j["scan"]["min_length"] == 32);
  CHECK_FALSE(j["scan"].contains("text"));  // no tokenizer: no text
  CHECK_FALSE(j.contains("curve"));

  // A threshold below the p-value: not watermarked, same numbers.
  recipe.threshold = std::pow(10.0, by_hand.log10_p) / 2;
  REQUIRE(recipe.threshold > 0.0);
  REQUIRE(detect_run(key, p, ids, &prompt, recipe, &o).ok());
  REQUIRE(detect_result_json(o, p, recipe, nullptr, ids, &text).ok());
  CHECK(parsed(text)["watermarked"] == false);
}

TEST_CASE("detect_run's evidence: controls under control_key and a sample", "[recipes]") {
  const Key key = recipe_key(5);
  const Profile p = Profile{};
  const auto tok = bundled_tokenizer();
  const auto ids = green_ids(key, p, 90, tok->vocab_size(), 2);
  DetectRecipe recipe;
  recipe.evidence = true;
  recipe.controls = 3;
  recipe.curve_points = 7;
  recipe.sample_tokens = 20;
  DetectOutcome o;
  REQUIRE(detect_run(key, p, ids, nullptr, recipe, &o).ok());
  REQUIRE(o.control_log10_p.size() == 3);
  REQUIRE(o.control_curves.size() == 3);
  CHECK(o.curve.log10_p.size() == 7);
  // Control 1 is the score under control_key(commitment, 1).
  Key ck;
  REQUIRE(control_key(key.commitment(), 1, &ck).ok());
  DetectionResult cr;
  REQUIRE(detect_ids(ck, p, ids, &cr).ok());
  CHECK(o.control_log10_p[1] == cr.log10_p);

  std::string text;
  CHECK(detect_result_json(o, p, recipe, nullptr, ids, &text).code() == Code::invalid_argument);
  REQUIRE(detect_result_json(o, p, recipe, tok.get(), ids, &text).ok());
  const auto j = parsed(text);
  CHECK(j["controls"]["count"] == 3);
  CHECK(j["controls"]["log10_p"].size() == 3);
  CHECK(j["curve"]["controls_log10_p"].size() == 3);
  CHECK(j["sample"].size() == 20);
  CHECK_FALSE(j.contains("mask"));  // the mask of an evidence result is its sample and curve
}

TEST_CASE("detect_run refuses bad recipes", "[recipes]") {
  const Key key = recipe_key(7);
  const Profile p = Profile{};
  const std::vector<std::uint32_t> ids = {1, 2, 3, 4, 5};
  DetectOutcome o;
  CHECK(detect_run(key, p, ids, nullptr, with<DetectRecipe>([](auto& r) { r.threshold = 0.0; }), &o).code() ==
        Code::invalid_argument);
  CHECK(detect_run(key, p, ids, nullptr, with<DetectRecipe>([](auto& r) { r.threshold = 1.0; }), &o).code() ==
        Code::invalid_argument);
  CHECK(detect_run(key, p, ids, nullptr, with<DetectRecipe>([](auto& r) {
                     r.evidence = true;
                     r.controls = 1001;
                   }),
                   &o)
            .code() == Code::invalid_argument);
  CHECK(detect_run(key, p, ids, nullptr, with<DetectRecipe>([](auto& r) { r.scan_min_length = 3; }), &o).code() ==
        Code::invalid_argument);
  CHECK(detect_run(key, p, ids, nullptr, {}, nullptr).code() == Code::invalid_argument);
}

TEST_CASE("audit_run gives the audit's numbers; a result without dedup is never flagged", "[recipes]") {
  const Key key = recipe_key(9);
  const Profile p = Profile{};
  std::vector<AuditRecord> records;
  for (std::uint32_t r = 0; r < 6; ++r) records.push_back({{7, 8, 9}, green_ids(key, p, 80, 8000, 10 + r)});
  // The same answer twice: deduplication matters.
  records.push_back(records.front());

  for (const bool dedup : {true, false}) {
    CAPTURE(dedup);
    std::unique_ptr<Audit> audit;
    REQUIRE(Audit::closed(p, records, nullptr, {.dedup = dedup}, &audit).ok());
    AuditRecipe recipe;
    recipe.controls = 4;
    recipe.curve_points = 5;
    recipe.keep_first_mask = true;
    recipe.threads = 2;
    for (std::size_t i = 0; i < recipe.control_seed.size(); ++i) recipe.control_seed[i] = static_cast<std::uint8_t>(i);
    std::vector<AuditStage> stages;
    AuditOutcome o;
    REQUIRE(audit_run(*audit, key, recipe, &o, [&](AuditStage s) { stages.push_back(s); }).ok());
    CHECK(stages == std::vector<AuditStage>{AuditStage::score, AuditStage::controls});

    AuditResult r;
    REQUIRE(audit->run(key, &r).ok());
    ControlResult c;
    REQUIRE(audit->control(recipe.control_seed, 4, &c).ok());
    CHECK(o.result.detection.log10_p == r.detection.log10_p);
    CHECK(o.result.detection.skipped_duplicate == r.detection.skipped_duplicate);
    CHECK(o.controls.log10_p == c.log10_p);
    CHECK(o.control_curves.size() == 4);
    CHECK(o.first_mask.size() == records.front().response.size());

    std::string text;
    REQUIRE(audit_result_json(o, p, key.commitment_hex(), recipe, &text).ok());
    const auto j = parsed(text);
    CHECK(j["type"] == "isotope-audit");
    CHECK(j["valid"] == dedup);
    CHECK(j["rules"]["dedup"] == dedup);
    CHECK(r.detection.log10_p < -4);  // significant either way
    CHECK(j["flagged"] == dedup);     // but flagged only when the rules held
    CHECK(j["control"]["keys"] == 4);
    CHECK(j["control"]["seed"] == to_hex(recipe.control_seed));
    CHECK(j["control"]["log10_p"].size() == 4);
    CHECK(j["curve"]["controls_log10_p"].size() == 4);
    CHECK(j["key_commitment"] == key.commitment_hex());
    CHECK_FALSE(j.contains("route_alpha"));
    CHECK_FALSE(j.contains("attribution"));
  }
}

TEST_CASE("audit_run refuses bad recipes", "[recipes]") {
  const Key key = recipe_key(11);
  const Profile p = Profile{};
  std::unique_ptr<Audit> audit;
  REQUIRE(Audit::closed(p, {{{1, 2}, {3, 4, 5, 6}}}, nullptr, {}, &audit).ok());
  AuditOutcome o;
  CHECK(audit_run(*audit, key, with<AuditRecipe>([](auto& r) { r.threshold = 0.0; }), &o).code() ==
        Code::invalid_argument);
  CHECK(audit_run(*audit, key, with<AuditRecipe>([](auto& r) { r.controls = 100001; }), &o).code() ==
        Code::invalid_argument);
  CHECK(audit_run(*audit, key, with<AuditRecipe>([](auto& r) { r.accounts = {"acct-1"}; }), &o).code() ==
        Code::invalid_argument);  // no route_alpha
  CHECK(audit_run(*audit, key, with<AuditRecipe>([](auto& r) { r.route_alpha = 1.0; }), &o).code() ==
        Code::invalid_argument);
  CHECK(audit_run(*audit, key, {}, nullptr).code() == Code::invalid_argument);
}

TEST_CASE("profile_json records every parameter, whole-number ones as integers", "[recipes]") {
  Profile p;
  REQUIRE(Profile::of("synthid", &p).ok());
  const auto j = parsed(profile_json(p));
  CHECK(j["scheme"] == "synthid");
  CHECK(j["layers"].is_number_integer());
  CHECK(j["name"] == p.name());
  CHECK(j["context_width"] == p.context_width);
}

TEST_CASE("results report green counts exactly for the green-list schemes", "[recipes]") {
  const Key key = recipe_key(13);
  const std::vector<std::uint32_t> ids = {5, 9, 2, 7, 7, 1, 30, 4, 11, 3, 8, 6};
  for (const Scheme* sc : schemes()) {
    INFO(sc->name());
    Profile p;
    REQUIRE(Profile::of(sc->name(), &p).ok());
    if (sc->engine_key_ints(p) > 0) continue;  // an engine key: not this isotope key's scheme
    DetectOutcome o;
    REQUIRE(detect_run(key, p, ids, nullptr, {}, &o).ok());
    std::string text;
    REQUIRE(detect_result_json(o, p, {}, nullptr, ids, &text).ok());
    const auto j = parsed(text);
    const std::optional<double> rate = sc->green_rate(p);
    CHECK(j.contains("green") == rate.has_value());
    CHECK(j.contains("gamma_effective") == rate.has_value());
    if (rate) {
      if (sc->name() == SCHEME_KGW) CHECK(*rate == kgw_gamma_effective(p));
      CHECK(j["gamma_effective"].get<double>() == *rate);
      CHECK(j["green"].get<double>() == o.result.statistic);
    }
  }
  Profile kgw;
  REQUIRE(Profile::of(SCHEME_KGW, &kgw).ok());
  CHECK(find_scheme(SCHEME_KGW)->green_rate(kgw).has_value());
}
