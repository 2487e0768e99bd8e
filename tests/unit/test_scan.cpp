// Windowed detection (scan_ids): the family of windows, the per-window rules
// against the Scorer on the same tokens, validity on human text, and a short
// watermarked span found inside a long human document for every scheme.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/generate.hpp"
#include "isotope/io.hpp"
#include "isotope/lm.hpp"
#include "isotope/tokenizer.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key key_of(std::uint64_t i) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t j = 0; j < KEY_BYTES; ++j) b[j] = static_cast<std::uint8_t>(i * 29 + j * 3 + 11);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

Profile profile_of(const char* scheme) {
  Profile p;
  REQUIRE(Profile::of(scheme, &p).ok());
  return p;
}

std::vector<std::uint32_t> random_ids(std::size_t n, std::uint64_t seed, std::uint32_t v) {
  std::mt19937_64 g(seed);
  std::uniform_int_distribution<std::uint32_t> d(0, v - 1);
  std::vector<std::uint32_t> ids(n);
  for (auto& x : ids) x = d(g);
  return ids;
}

std::string heldout(const char* name) {
  std::ifstream in(std::string(ISOTOPE_SOURCE_DIR) + "/corpora/heldout/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  REQUIRE(!ss.str().empty());
  return ss.str();
}

// The family written out from its definition, as a list of windows.
std::vector<std::pair<std::uint64_t, std::uint64_t>> family(std::uint64_t t, std::uint64_t min_length) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> w;
  for (std::uint64_t len = min_length; len < t; len *= 2) {
    bool covers_end = false;
    for (std::uint64_t s = 0; s + len <= t; s += len / 2) {
      w.emplace_back(s, s + len);
      covers_end = s + len == t;
    }
    if (!covers_end) w.emplace_back(t - len, t);
  }
  if (t > 0) w.emplace_back(0, t);
  return w;
}

}  // namespace

TEST_CASE("the scan's family of windows depends on the length only", "[scan]") {
  CHECK(scan_window_count(0, 32) == 0);
  CHECK(scan_window_count(1, 32) == 1);
  CHECK(scan_window_count(32, 32) == 1);
  // 33 tokens: [0,32), [16,48) does not fit, so [1,33); and the whole.
  CHECK(scan_window_count(33, 32) == 3);
  CHECK(scan_window_count(64, 32) == 4);  // [0,32) [16,48) [32,64) [0,64)
  for (std::uint64_t t : {2u, 5u, 31u, 100u, 257u, 1000u, 3500u, 4096u})
    for (std::uint32_t m : {2u, 4u, 32u, 48u}) CHECK(scan_window_count(t, m) == family(t, m).size());
  CHECK(scan_window_count(100, 3) == 0);  // odd: not a family
}

TEST_CASE("scan_ids refuses a bad shortest window, a null output and a prompt set of another width", "[scan]") {
  const Key key = key_of(1);
  const auto ids = random_ids(100, 1, 8000);
  ScanResult r;
  CHECK(scan_ids(key, Profile{}, ids, nullptr, {.min_length = 31, .rules = {}}, &r).code() == Code::invalid_argument);
  CHECK(scan_ids(key, Profile{}, ids, nullptr, {.min_length = 0, .rules = {}}, &r).code() == Code::invalid_argument);
  CHECK(scan_ids(key, Profile{}, ids, nullptr, {}, nullptr).code() == Code::invalid_argument);
  WindowSet other(3);
  CHECK(scan_ids(key, Profile{}, ids, &other, {}, &r).code() == Code::invalid_argument);
}

TEST_CASE("a short text's scan is plain detection, and an empty text scores nothing", "[scan]") {
  for (const char* scheme : {"kgw", "gumbel", "synthid"}) {
    const Profile p = profile_of(scheme);
    const Key key = key_of(2);
    const auto ids = random_ids(32, 2, 8000);
    ScanResult r;
    REQUIRE(scan_ids(key, p, ids, nullptr, {}, &r).ok());
    DetectionResult d;
    REQUIRE(detect_ids(key, p, ids, &d).ok());
    CHECK(r.windows == 1);
    CHECK(r.start == 0);
    CHECK(r.end == 32);
    CHECK(r.window.scored == d.scored);
    CHECK(r.window.statistic == d.statistic);
    CHECK(r.log10_p == d.log10_p);
    REQUIRE(scan_ids(key, p, {}, nullptr, {}, &r).ok());
    CHECK(r.windows == 0);
    CHECK(r.window.scored == 0);
    CHECK(r.log10_p == 0.0);
  }
}

TEST_CASE("each window is scored as plain detection scores the same tokens, dedup inside the window", "[scan]") {
  // Texts with many repeats (a small vocabulary, repeated blocks), so that
  // dedup inside a window differs from dedup over the whole text.
  for (const char* scheme : {"kgw", "gumbel", "synthid"}) {
    const Profile p = profile_of(scheme);
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      auto ids = random_ids(300, seed, 6);
      const auto block = random_ids(40, seed + 50, 8000);
      ids.insert(ids.begin() + 100, block.begin(), block.end());
      ids.insert(ids.begin() + 200, block.begin(), block.end());
      const Key key = key_of(seed);
      ScanResult r;
      REQUIRE(scan_ids(key, p, ids, nullptr, {.min_length = 16, .rules = {}}, &r).ok());
      REQUIRE(r.end > r.start);
      // The same window by the Scorer: positions [start, end), contexts from
      // before start, its own dedup memory.
      const std::size_t h = p.context_width;
      const std::size_t from = r.start >= h ? r.start - h : 0;
      std::unique_ptr<Scorer> s;
      REQUIRE(Scorer::create(key, p, &s).ok());
      REQUIRE(s->add(std::span(ids).subspan(from, r.end - from)).ok());
      const DetectionResult d = s->result();
      CHECK(r.window.scored == d.scored);
      CHECK(r.window.skipped_duplicate == d.skipped_duplicate);
      CHECK(r.window.statistic == d.statistic);
      CHECK(r.window.log10_p == d.log10_p);
      CHECK(r.windows == scan_window_count(ids.size(), 16));
      CHECK(r.log10_p == std::min(0.0, d.log10_p + std::log10(static_cast<double>(r.windows))));
      // No window of the family does better: the smallest of them all.
      for (auto [a, b] : family(ids.size(), 16)) {
        const std::size_t f = a >= h ? a - h : 0;
        DetectionResult w;
        REQUIRE(detect_ids(key, p, std::span(ids).subspan(f, b - f), &w).ok());
        CHECK(w.log10_p >= r.window.log10_p);
      }
    }
  }
}

TEST_CASE("the scan applies prompt exclusion inside every window", "[scan]") {
  const Profile p;
  const Key key = key_of(3);
  const auto prompt = random_ids(200, 3, 8000);
  auto ids = random_ids(100, 4, 8000);
  ids.insert(ids.end(), prompt.begin(),
             prompt.end());  // the answer repeats the prompt
  WindowSet pw(p.context_width);
  pw.add_windows_of(prompt);
  ScanResult with, without;
  REQUIRE(scan_ids(key, p, ids, &pw, {}, &with).ok());
  REQUIRE(scan_ids(key, p, ids, nullptr, {}, &without).ok());
  // Every window lying inside the repeated prompt scores nothing.
  std::unique_ptr<Scorer> s;
  REQUIRE(Scorer::create(key, p, &s).ok());
  const std::size_t from = with.start >= p.context_width ? with.start - p.context_width : 0;
  REQUIRE(s->add(std::span(ids).subspan(from, with.end - from), &pw).ok());
  CHECK(with.window.scored == s->result().scored);
  CHECK(with.window.skipped_prompt == s->result().skipped_prompt);
  CHECK(with.window.log10_p == s->result().log10_p);
  CHECK(without.window.skipped_prompt == 0);
}

TEST_CASE("scans of human text under random keys are not flagged more often than nominal", "[scan][validity]") {
  std::unique_ptr<Tokenizer> tok;
  REQUIRE(Tokenizer::load(default_tokenizer_path(), &tok).ok());
  std::vector<std::uint32_t> all;
  REQUIRE(tok->encode(heldout("jargon.txt") + heldout("devil.txt"), &all).ok());
  REQUIRE(all.size() > 20 * 1000);
  // 20 human documents of 1,000 tokens x 25 keys, for every scheme: 500
  // scans each. Under H0 P(p_scan <= a) <= a: at a = 0.05 the count is at
  // most Binomial(500, 0.05), whose 0.9999 quantile is 45.
  for (const char* scheme : {"kgw", "gumbel", "synthid"}) {
    const Profile p = profile_of(scheme);
    int below_5pct = 0, below_1e3 = 0, n = 0;
    for (std::size_t d = 0; d < 20; ++d) {
      const auto doc = std::span(all).subspan(d * 1000, 1000);
      for (std::uint64_t k = 0; k < 25; ++k) {
        ScanResult r;
        REQUIRE(scan_ids(key_of(1000 + k), p, doc, nullptr, {}, &r).ok());
        below_5pct += r.log10_p <= std::log10(0.05) ? 1 : 0;
        below_1e3 += r.log10_p <= -3.0 ? 1 : 0;
        ++n;
      }
    }
    INFO(scheme << ": " << below_5pct << " of " << n << " scans at p <= 0.05");
    CHECK(below_5pct <= 45);
    CHECK(below_1e3 <= 3);  // Binomial(500, 1e-3): P(X >= 4) < 2e-3
  }
}

TEST_CASE("100 watermarked tokens inside 3,400 human tokens: found by the scan, missed by plain detection",
          "[scan][model]") {
  std::unique_ptr<Tokenizer> tok;
  REQUIRE(Tokenizer::load(default_tokenizer_path(), &tok).ok());
  std::unique_ptr<NgramModel> model;
  REQUIRE(NgramModel::load(default_model_path(), &model).ok());
  std::vector<std::uint32_t> human;
  REQUIRE(tok->encode(heldout("jargon.txt"), &human).ok());
  REQUIRE(human.size() > 10000);
  for (const char* scheme : {"kgw", "gumbel", "synthid"}) {
    const Profile p = profile_of(scheme);
    const Key key = key_of(77);
    std::unique_ptr<Watermarker> wm;
    REQUIRE(Watermarker::create(key, p, model->vocab_size(), &wm).ok());
    std::vector<std::uint32_t> prompt, marked;
    REQUIRE(tok->encode("The hacker", &prompt).ok());
    Rng rng(5);
    REQUIRE(generate(*model, wm.get(), prompt, 100, SamplingParams{}, rng, &marked).ok());
    // The document as text: 1,700 human tokens, the 100 watermarked ones,
    // 1,700 more human tokens; then tokenized again as a detector would.
    std::string before, span, after;
    REQUIRE(tok->decode(std::span(human).subspan(5000, 1700), &before).ok());
    REQUIRE(tok->decode(marked, &span).ok());
    REQUIRE(tok->decode(std::span(human).subspan(6700, 1700), &after).ok());
    std::vector<std::uint32_t> ids, head, head_span;
    REQUIRE(tok->encode(before + " " + span + " " + after, &ids).ok());
    REQUIRE(tok->encode(before + " ", &head).ok());
    REQUIRE(tok->encode(before + " " + span, &head_span).ok());
    const std::size_t span_start = head.size(), span_end = head_span.size();
    INFO(scheme << ": " << ids.size() << " tokens, the watermarked span at " << span_start << "-" << span_end);

    DetectionResult plain;
    REQUIRE(detect_ids(key, p, ids, &plain).ok());
    ScanResult r;
    REQUIRE(scan_ids(key, p, ids, nullptr, {}, &r).ok());
    // KGW and SynthID: not found by plain detection at the default threshold.
    // Gumbel's scores of watermarked tokens are large enough to show through
    // the dilution; the scan still gains on it.
    if (std::string(scheme) != "gumbel")
      CHECK(plain.log10_p > -4.0);
    else
      CHECK(r.log10_p < plain.log10_p);
    INFO("scan p = 10^" << r.log10_p << ", window " << r.start << "-" << r.end << " of " << r.windows);
    CHECK(r.log10_p <= -4.0);
    // The reported span lies mostly inside the watermarked one.
    const std::uint64_t lo = std::max<std::uint64_t>(r.start, span_start),
                        hi = std::min<std::uint64_t>(r.end, span_end);
    const std::uint64_t overlap = hi > lo ? hi - lo : 0;
    CHECK(2 * overlap >= r.end - r.start);
    // Another key finds nothing.
    ScanResult o;
    REQUIRE(scan_ids(key_of(78), p, ids, nullptr, {}, &o).ok());
    CHECK(o.log10_p > -4.0);
  }
}
