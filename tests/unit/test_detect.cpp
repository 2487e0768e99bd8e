// Detection: the counting rules (dedup, prompt exclusion, filter), reading
// mode, and the end-to-end behaviour on the reference model.
#include <cmath>
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/generate.hpp"
#include "isotope/io.hpp"
#include "isotope/lm.hpp"
#include "isotope/tokenizer.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key key_of(std::uint8_t fill) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(fill * 13 + i);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

std::vector<std::uint32_t> random_ids(std::size_t n, std::uint64_t seed, std::uint32_t v = 8000) {
  std::mt19937_64 g(seed);
  std::uniform_int_distribution<std::uint32_t> d(0, v - 1);
  std::vector<std::uint32_t> ids(n);
  for (auto& x : ids) x = d(g);
  return ids;
}

// Green bit of one tuple, computed independently of the Scorer.
bool is_green(const Key& key, const Profile& p, std::span<const std::uint32_t> window, std::uint32_t token) {
  std::unique_ptr<GreenList> gl;
  REQUIRE(GreenList::create(key, p, &gl).ok());
  std::uint16_t v = 0;
  REQUIRE(gl->value(gl->seed(window), token, &v).ok());
  return v < gl->threshold();
}

}  // namespace

TEST_CASE("counts match a direct computation of the green bits", "[detect]") {
  const Key key = key_of(1);
  const Profile p;
  const auto ids = random_ids(500, 1);
  DetectionResult r;
  TokenScores mask;
  REQUIRE(detect_ids(key, p, ids, &r, &mask).ok());
  std::uint64_t green = 0;
  for (std::size_t i = 2; i < ids.size(); ++i) {
    const bool g = is_green(key, p, std::span(ids).subspan(i - 2, 2), ids[i]);
    green += g;
    REQUIRE(mask[i] == (g ? 1 : 0));
  }
  CHECK(std::isnan(mask[0]));
  CHECK(std::isnan(mask[1]));
  CHECK(r.tokens == 500);
  CHECK(r.scored == 498);  // random ids over 8000: no repeated tuple
  CHECK(r.skipped_short == 2);
  CHECK(r.green == green);
  const Tail t = binomial_upper_tail(green, 498, 0.25);
  CHECK(r.log10_p == t.log10_p);
}

TEST_CASE("a text repeated 50 times scores exactly as once (dedup)", "[detect]") {
  const Key key = key_of(2);
  const auto once = random_ids(300, 2);
  std::vector<std::uint32_t> many;
  for (int i = 0; i < 50; ++i) many.insert(many.end(), once.begin(), once.end());
  DetectionResult a, b;
  REQUIRE(detect_ids(key, Profile{}, once, &a).ok());
  REQUIRE(detect_ids(key, Profile{}, many, &b).ok());
  CHECK(b.scored == a.scored + 2);  // the two tuples that span a seam are new
  CHECK(b.green >= a.green);
  CHECK(b.green <= a.green + 2);
  CHECK(b.log10_p == Approx(a.log10_p).margin(0.5));
  CHECK(b.skipped_duplicate == 49 * 300 - 2);

  // Without dedup the same repetition is "significant" whenever the single
  // copy is above chance: that is why the rule exists.
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(key, Profile{}, &s, ScoreRules{.dedup = false}).ok());
  REQUIRE(s->add(many).ok());
  CHECK(s->result().scored == many.size() - 2);
}

TEST_CASE("prompt windows are excluded", "[detect]") {
  const Key key = key_of(3);
  const Profile p;
  const auto prompt = random_ids(50, 3);
  // A response that copies the prompt, then goes on with new text.
  std::vector<std::uint32_t> response(prompt.begin(), prompt.end());
  const auto fresh = random_ids(100, 4);
  response.insert(response.end(), fresh.begin(), fresh.end());
  WindowSet windows(p.context_width);
  windows.add_windows_of(prompt);
  CHECK(windows.size() == 49);
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(key, p, &s).ok());
  REQUIRE(s->add(response, &windows).ok());
  const auto r = s->result();
  // Positions 2..50 have windows inside the copied prompt (49 of them: the
  // window of position 50 is the prompt's last two tokens).
  CHECK(r.skipped_prompt == 49);
  CHECK(r.scored == 150 - 2 - 49);
}

TEST_CASE("the filter keeps only required windows", "[detect]") {
  const Key key = key_of(4);
  const Profile p;
  const auto ids = random_ids(200, 5);
  WindowSet required(p.context_width);
  required.add_windows_of(std::span(ids).first(100));  // windows of the first half only
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(key, p, &s).ok());
  REQUIRE(s->add(ids, nullptr, &required).ok());
  const auto r = s->result();
  // Positions 2..100: the window of position 100 is (ids[98], ids[99]), the
  // first half's last window.
  CHECK(r.scored == 99);
  CHECK(r.skipped_filter == 99);
}

TEST_CASE("window sets have exact membership", "[detect]") {
  WindowSet w(2);
  const std::uint32_t a[] = {1, 2}, b[] = {2, 1}, c[] = {1, 2, 3};
  CHECK(w.insert(a));
  CHECK_FALSE(w.insert(a));
  CHECK(w.contains(a));
  CHECK_FALSE(w.contains(b));
  CHECK_FALSE(w.contains(c));
  for (std::uint32_t i = 0; i < 100000; ++i) {
    const std::uint32_t x[] = {i, i * 3};
    w.insert(x);
  }
  CHECK(w.size() == 100001);  // {1, 2} plus the 100000 new windows
  const std::uint32_t y[] = {99999, 299997};
  CHECK(w.contains(y));
  w.clear();
  CHECK(w.size() == 0);
  CHECK_FALSE(w.contains(y));
  WindowSet unigram(0);
  unigram.add_windows_of(std::vector<std::uint32_t>{1, 2, 3});
  CHECK(unigram.size() == 0);
}

TEST_CASE("reading mode scores predictions with the input's windows", "[detect]") {
  const Key key = key_of(5);
  const Profile p;
  const std::vector<std::uint32_t> ids = {10, 11, 12, 13, 10, 11, 14, 15};
  const std::vector<std::uint32_t> pred = {0, 0, 100, 101, 102, 103, 104, 105};
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(key, p, &s).ok());
  REQUIRE(s->add_predictions(ids, pred).ok());
  const auto r = s->result();
  // Positions 2..7; the window (10, 11) at position 6 was seen at position 2.
  CHECK(r.scored == 5);
  CHECK(r.skipped_duplicate == 1);
  std::uint64_t green = 0;
  for (std::size_t i : {2u, 3u, 4u, 5u, 7u}) green += is_green(key, p, std::span(ids).subspan(i - 2, 2), pred[i]);
  CHECK(r.green == green);
  CHECK(s->add_predictions(ids, std::vector<std::uint32_t>(3)).code() == Code::invalid_argument);

  // The mask: one entry per position, agreeing with the counts.
  std::unique_ptr<Scorer> sm;
  REQUIRE(Scorer::create(key, p, &sm).ok());
  TokenScores mask;
  REQUIRE(sm->add_predictions(ids, pred, nullptr, nullptr, &mask).ok());
  const auto rm = sm->result();
  CHECK(rm.green == r.green);
  REQUIRE(mask.size() == ids.size());
  std::uint64_t scored = 0, green_in_mask = 0;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    scored += std::isnan(mask[i]) ? 0 : 1;
    green_in_mask += mask[i] == 1 ? 1 : 0;
    if (i < 2 || i == 6) CHECK(std::isnan(mask[i]));
    else CHECK(mask[i] == (is_green(key, p, std::span(ids).subspan(i - 2, 2), pred[i]) ? 1 : 0));
  }
  CHECK(scored == rm.scored);
  CHECK(green_in_mask == rm.green);
}

TEST_CASE("watermarked generations are detected, plain ones and other keys are not", "[detect][model]") {
  std::unique_ptr<Tokenizer> tok;
  REQUIRE(Tokenizer::load(default_tokenizer_path(), &tok).ok());
  std::unique_ptr<NgramModel> model;
  REQUIRE(NgramModel::load(default_model_path(), &model).ok());
  const Key key = key_of(6), other = key_of(7);
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(key, Profile{}, model->vocab_size(), &wm).ok());
  std::vector<std::uint32_t> prompt;
  REQUIRE(tok->encode("In the beginning", &prompt).ok());

  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::vector<std::uint32_t> marked, plain;
    Rng r1(seed), r2(seed + 100);
    REQUIRE(generate(*model, wm.get(), prompt, 400, SamplingParams{}, r1, &marked).ok());
    REQUIRE(generate(*model, nullptr, prompt, 400, SamplingParams{}, r2, &plain).ok());
    // Detection works from the text, re-tokenized.
    std::string marked_text, plain_text;
    REQUIRE(tok->decode(marked, &marked_text).ok());
    REQUIRE(tok->decode(plain, &plain_text).ok());
    std::vector<std::uint32_t> m_ids, p_ids;
    REQUIRE(tok->encode(marked_text, &m_ids).ok());
    REQUIRE(tok->encode(plain_text, &p_ids).ok());
    DetectionResult rm, rp, ro;
    REQUIRE(detect_ids(key, Profile{}, m_ids, &rm).ok());
    REQUIRE(detect_ids(key, Profile{}, p_ids, &rp).ok());
    REQUIRE(detect_ids(other, Profile{}, m_ids, &ro).ok());
    CHECK(rm.log10_p <= -6.0);
    CHECK(rp.log10_p > -3.0);
    CHECK(ro.log10_p > -3.0);
  }
}

TEST_CASE("prompt exclusion at context width 0 drops tuples whose token is in the prompt", "[detect]") {
  Profile p;
  p.context_width = 0;
  Key key;
  std::uint8_t b[KEY_BYTES] = {9};
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &key).ok());
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(key, p, &s).ok());
  WindowSet prompt(0);
  const std::vector<std::uint32_t> pids{5, 6, 7};
  prompt.add_windows_of(pids);
  CHECK(prompt.contains_token(6));
  CHECK(!prompt.contains_token(8));
  CHECK(prompt.size() == 0);                                   // no windows at h = 0
  CHECK(!prompt.contains(std::span<const std::uint32_t>{}));  // the empty window is not what is checked
  const std::vector<std::uint32_t> ids{5, 6, 7, 8, 9, 5};
  REQUIRE(s->add(ids, &prompt).ok());
  const DetectionResult r = s->result();
  CHECK(r.skipped_prompt == 4);  // 5, 6, 7 and the second 5
  CHECK(r.scored == 2);          // 8 and 9
}
