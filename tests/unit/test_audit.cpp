// Audits: each validity rule proven necessary, the filter, reading mode on a
// hand-built example, bad predictions, control keys, Fisher reference values.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "isotope/audit.hpp"
#include "isotope/evidence.hpp"
#include "isotope/generate.hpp"
#include "isotope/io.hpp"
#include "isotope/lm.hpp"
#include "isotope/stats.hpp"
#include "isotope/tokenizer.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key fixed_key(std::uint8_t fill) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(fill * 29 + 7 * i);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

bool green(const Key& key, const Profile& p, std::vector<std::uint32_t> window, std::uint32_t token) {
  std::unique_ptr<GreenList> gl;
  REQUIRE(GreenList::create(key, p, &gl).ok());
  std::uint16_t v = 0;
  REQUIRE(gl->value(gl->seed(window), token, &v).ok());
  return v < gl->threshold();
}

std::unique_ptr<Tokenizer> tokenizer() {
  std::unique_ptr<Tokenizer> t;
  REQUIRE(Tokenizer::load(default_tokenizer_path(), &t).ok());
  return t;
}

// Paragraphs of held-out human text, tokenized.
std::vector<std::vector<std::uint32_t>> human_paragraphs(const Tokenizer& tok, std::size_t n) {
  std::ifstream in(std::string(ISOTOPE_SOURCE_DIR) + "/corpora/heldout/jargon.txt");
  REQUIRE(in.good());
  std::vector<std::vector<std::uint32_t>> out;
  std::string line, para;
  auto flush = [&] {
    if (para.size() > 200) {
      std::vector<std::uint32_t> ids;
      REQUIRE(tok.encode(para, &ids).ok());
      out.push_back(std::move(ids));
    }
    para.clear();
  };
  while (out.size() < n && std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      flush();
    } else {
      para += line + "\n";
    }
  }
  flush();
  REQUIRE(out.size() >= n);
  out.resize(n);
  return out;
}

AuditResult run_closed(const Key& key, std::vector<AuditRecord> recs, AuditRules rules,
                       const std::vector<std::vector<std::uint32_t>>* teacher = nullptr) {
  std::unique_ptr<Audit> a;
  REQUIRE(Audit::closed(Profile{}, std::move(recs), teacher, rules, &a).ok());
  AuditResult r;
  REQUIRE(a->run(key, &r).ok());
  return r;
}

}  // namespace

TEST_CASE("control keys are derived deterministically from the seed", "[audit]") {
  ControlSeed s{};
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(i);
  Key a, b, c, d;
  REQUIRE(audit_control_key(s, 0, &a).ok());
  REQUIRE(audit_control_key(s, 0, &b).ok());
  REQUIRE(audit_control_key(s, 1, &c).ok());
  s[0] ^= 1;
  REQUIRE(audit_control_key(s, 0, &d).ok());
  CHECK(a.commitment_hex() == b.commitment_hex());
  CHECK(a.commitment_hex() != c.commitment_hex());
  CHECK(a.commitment_hex() != d.commitment_hex());
}

TEST_CASE("dedup is necessary: a clean suspect that repeats itself is not flagged", "[audit]") {
  const Key key = fixed_key(3);
  const Profile p;
  auto tok = tokenizer();
  const auto paras = human_paragraphs(*tok, 40);
  // The suspect answers with human text (it never saw the key), but one answer
  // is a loop over the 16-token stretch that happens to be greenest under the key.
  std::vector<std::uint32_t> best;
  std::size_t best_green = 0;
  for (const auto& para : paras)
    for (std::size_t s = 0; s + 16 <= para.size(); s += 4) {
      std::size_t g = 0;
      for (std::size_t i = s + 2; i < s + 16; ++i) g += green(key, p, {para[i - 2], para[i - 1]}, para[i]) ? 1 : 0;
      if (g > best_green) {
        best_green = g;
        best.assign(para.begin() + static_cast<std::ptrdiff_t>(s), para.begin() + static_cast<std::ptrdiff_t>(s + 16));
      }
    }
  REQUIRE(best_green >= 7);
  std::vector<AuditRecord> recs;
  for (const auto& para : paras) recs.push_back({{}, para});
  AuditRecord loop;
  for (int k = 0; k < 200; ++k) loop.response.insert(loop.response.end(), best.begin(), best.end());
  recs.push_back(loop);

  const AuditResult with = run_closed(key, recs, {});
  const AuditResult without = run_closed(key, recs, {.dedup = false});
  CHECK(with.valid());
  CHECK_FALSE(without.valid());
  CHECK(with.detection.skipped_duplicate > 3000);
  CHECK(with.detection.log10_p > -4.0);    // not flagged
  CHECK(without.detection.log10_p < -10.0);  // the invalid test would flag it
}

TEST_CASE("prompt exclusion is necessary: a clean suspect that echoes watermarked prompts is not flagged", "[audit]") {
  const Key key = fixed_key(5);
  const Profile p;
  auto tok = tokenizer();
  std::unique_ptr<NgramModel> model;
  REQUIRE(NgramModel::load(default_model_path(), &model).ok());
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(key, p, model->vocab_size(), &wm).ok());
  const auto paras = human_paragraphs(*tok, 20);
  // The auditor's prompts are the provider's watermarked text; the suspect
  // (never trained on it) repeats the prompt and goes on with human text.
  std::vector<AuditRecord> recs;
  Rng rng(7);
  for (std::size_t i = 0; i < paras.size(); ++i) {
    AuditRecord r;
    const std::vector<std::uint32_t> start(paras[i].begin(), paras[i].begin() + 4);
    REQUIRE(generate(*model, wm.get(), start, 60, SamplingParams{}, rng, &r.prompt).ok());
    r.response = r.prompt;
    r.response.insert(r.response.end(), paras[(i + 7) % paras.size()].begin(), paras[(i + 7) % paras.size()].end());
    recs.push_back(std::move(r));
  }
  const AuditResult with = run_closed(key, recs, {});
  const AuditResult without = run_closed(key, recs, {.prompt_exclusion = false});
  CHECK(with.detection.skipped_prompt >= 20 * 55);
  CHECK(without.detection.skipped_prompt == 0);
  CHECK_FALSE(without.valid());
  CHECK(with.detection.log10_p > -4.0);
  CHECK(without.detection.log10_p < -10.0);
}

TEST_CASE("the filter keeps exactly the windows of the teacher data", "[audit]") {
  const Key key = fixed_key(9);
  const Profile p;
  const std::vector<std::vector<std::uint32_t>> teacher = {{1, 2, 3, 4}, {7, 7}};
  // Windows: (1,2)->3 kept, (2,3)->9 kept, (3,9) (9,9) (9,5) dropped;
  // (7,7)->1 kept, (7,1) dropped.
  std::vector<AuditRecord> recs = {{{}, {1, 2, 3, 9, 9, 5, 7}}, {{}, {7, 7, 1, 2}}};
  const AuditResult r = run_closed(key, recs, {}, &teacher);
  CHECK(r.filter);
  CHECK(r.filter_windows == 4);  // (1,2) (2,3) (3,4) (7,7)
  CHECK(r.records == 2);
  CHECK(r.detection.scored == 3);
  CHECK(r.detection.skipped_filter == 4);
  CHECK(r.detection.skipped_short == 4);
  const std::uint64_t expect = (green(key, p, {1, 2}, 3) ? 1 : 0) + (green(key, p, {2, 3}, 9) ? 1 : 0) +
                               (green(key, p, {7, 7}, 1) ? 1 : 0);
  CHECK(r.detection.green == expect);
  // Without the filter every tuple is scored.
  const AuditResult nf = run_closed(key, recs, {});
  CHECK_FALSE(nf.filter);
  CHECK(nf.detection.scored == 7);

  std::unique_ptr<Audit> a;
  const std::vector<std::vector<std::uint32_t>> no_windows = {{1}};
  CHECK(Audit::closed(p, recs, &no_windows, {}, &a).code() == Code::empty_input);
  CHECK(Audit::closed(p, {}, nullptr, {}, &a).code() == Code::empty_input);
}

TEST_CASE("reading mode scores predictions against the input's windows", "[audit]") {
  const Key key = fixed_key(11);
  const Profile p;
  // Text 1: a b c a b d; text 2: a b e. Predictions per position.
  const std::vector<std::vector<std::uint32_t>> teacher = {{10, 11, 12, 10, 11, 13}, {10, 11, 14}};
  const std::vector<std::vector<std::uint32_t>> preds = {{0, 0, 50, 51, 52, 53}, {0, 0, 50}};
  std::unique_ptr<Audit> a;
  REQUIRE(Audit::open(p, teacher, preds, 100, {}, &a).ok());
  AuditResult r;
  REQUIRE(a->run(key, &r).ok());
  // Text 1: (10,11)->50 scored, (11,12)->51, (12,10)->52; (10,11) again in the
  // same text: skipped. Text 2: (10,11)->50 already scored: skipped.
  CHECK(r.mode == AuditMode::open);
  CHECK(r.records == 2);
  CHECK(r.detection.tokens == 9);
  CHECK(r.detection.scored == 3);
  CHECK(r.detection.skipped_duplicate == 2);
  CHECK(r.detection.skipped_short == 4);
  const std::uint64_t expect = (green(key, p, {10, 11}, 50) ? 1 : 0) + (green(key, p, {11, 12}, 51) ? 1 : 0) +
                               (green(key, p, {12, 10}, 52) ? 1 : 0);
  CHECK(r.detection.green == expect);
  // A different prediction for a window scored in an earlier text counts.
  const std::vector<std::vector<std::uint32_t>> preds2 = {{0, 0, 50, 51, 52, 53}, {0, 0, 60}};
  REQUIRE(Audit::open(p, teacher, preds2, 100, {}, &a).ok());
  REQUIRE(a->run(key, &r).ok());
  CHECK(r.detection.scored == 4);

  SECTION("bad predictions are refused") {
    CHECK(Audit::open(p, teacher, {{0, 0, 50, 51, 52, 53}}, 100, {}, &a).code() == Code::invalid_argument);
    CHECK(Audit::open(p, teacher, {{0, 0, 50, 51, 52}, {0, 0, 50}}, 100, {}, &a).code() == Code::invalid_argument);
    CHECK(Audit::open(p, teacher, {{0, 0, 50, 51, 52, 100}, {0, 0, 50}}, 100, {}, &a).code() == Code::vocab_mismatch);
    CHECK(Audit::open(p, {}, {}, 100, {}, &a).code() == Code::empty_input);
  }
}

TEST_CASE("predictions from a model are its teacher-forced argmax", "[audit]") {
  std::unique_ptr<NgramModel> model;
  REQUIRE(NgramModel::load(default_model_path(), &model).ok());
  const std::vector<std::uint32_t> ids = {100, 200, 300, 400, 500};
  std::vector<std::uint32_t> preds;
  REQUIRE(predict_top1(*model, ids, &preds).ok());
  REQUIRE(preds.size() == ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::uint32_t t = 0;
    REQUIRE(model->next_argmax(std::span<const std::uint32_t>(ids).first(i), &t).ok());
    CHECK(preds[i] == t);
  }
  std::unique_ptr<Audit> a;
  REQUIRE(Audit::open_with_model(Profile{}, {ids}, *model, {}, &a).ok());
  CHECK(a->predictions().at(0) == preds);
  CHECK(Audit::open_with_model(Profile{}, {{1, 2, model->vocab_size()}}, *model, {}, &a).code() == Code::vocab_mismatch);
}

TEST_CASE("audits and their controls are reproducible, and controls look uniform on clean data", "[audit]") {
  const Key key = fixed_key(13);
  auto tok = tokenizer();
  const auto paras = human_paragraphs(*tok, 60);
  std::vector<AuditRecord> recs;
  for (const auto& para : paras) recs.push_back({{}, para});
  std::unique_ptr<Audit> a;
  REQUIRE(Audit::closed(Profile{}, recs, nullptr, {}, &a).ok());
  AuditResult r1, r2;
  REQUIRE(a->run(key, &r1).ok());
  REQUIRE(a->run(key, &r2).ok());
  CHECK(r1.detection.log10_p == r2.detection.log10_p);
  CHECK(r1.detection.green == r2.detection.green);
  AuditResult half;
  REQUIRE(a->run(key, &half, 30).ok());
  CHECK(half.records == 30);
  CHECK(half.detection.tokens < r1.detection.tokens);

  ControlSeed s{};
  s[5] = 42;
  ControlResult c1, c2;
  REQUIRE(a->control(s, 60, &c1).ok());
  REQUIRE(a->control(s, 60, &c2).ok());
  REQUIRE(c1.log10_p.size() == 60);
  CHECK(c1.log10_p == c2.log10_p);
  CHECK(c1.ks_p == c2.ks_p);
  CHECK(c1.ks_p > 0.01);
  CHECK(c1.below_0_05 <= 10);
}

TEST_CASE("Fisher combination matches the reference values", "[audit]") {
  std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/audit_fisher_vectors.json");
  REQUIRE(in.good());
  const nlohmann::json j = nlohmann::json::parse(in);
  REQUIRE(j.at("cases").size() >= 5);
  for (const auto& c : j.at("cases")) {
    const auto lps = c.at("log10_ps").get<std::vector<double>>();
    const double want = c.at("log10_p").get<double>();
    const Tail t = fisher_combine(lps);
    INFO("inputs " << c.at("log10_ps").dump());
    CHECK(t.log10_p == Approx(want).epsilon(1e-9).margin(1e-12));
  }
}

TEST_CASE("audit masks agree with the counts, and their curves end at the final p-values", "[audit]") {
  const Key key = fixed_key(17);
  auto tok = tokenizer();
  const auto paras = human_paragraphs(*tok, 12);
  auto concat = [](const std::vector<TokenScores>& ms) {
    TokenScores all;
    for (const auto& m : ms) all.insert(all.end(), m.begin(), m.end());
    return all;
  };
  auto check_masks = [&](const Audit& a, const std::vector<std::vector<std::uint32_t>>& texts) {
    AuditResult r;
    std::vector<TokenScores> masks;
    REQUIRE(a.run(key, &r, 0, &masks).ok());
    REQUIRE(masks.size() == texts.size());
    std::uint64_t scored = 0, green = 0;
    for (std::size_t i = 0; i < masks.size(); ++i) {
      CHECK(masks[i].size() == texts[i].size());
      for (auto m : masks[i]) {
        scored += std::isnan(m) ? 0 : 1;
        green += m == 1 ? 1 : 0;
      }
    }
    CHECK(scored == r.detection.scored);
    CHECK(green == r.detection.green);
    const Curve curve = score_curve(concat(masks), a.profile(), 20);
    REQUIRE(!curve.log10_p.empty());
    CHECK(curve.scored.back() == r.detection.scored);
    CHECK(curve.log10_p.back() == r.detection.log10_p);

    ControlSeed s{};
    s[0] = 9;
    ControlResult c;
    std::vector<double> last;
    std::uint32_t calls = 0;
    REQUIRE(a.control(s, 4, &c, {}, [&](std::uint32_t index, const std::vector<TokenScores>& ms) {
                 CHECK(index == calls++);
                 last.push_back(score_curve(concat(ms), a.profile(), 20).log10_p.back());
               }).ok());
    CHECK(calls == 4);
    CHECK(last == c.log10_p);
  };

  std::vector<AuditRecord> recs;
  for (const auto& para : paras)
    recs.push_back({{para.begin(), para.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(3, para.size()))}, para});
  std::unique_ptr<Audit> a;
  REQUIRE(Audit::closed(Profile{}, recs, nullptr, {}, &a).ok());
  check_masks(*a, paras);

  std::vector<std::vector<std::uint32_t>> preds;
  for (const auto& para : paras) {
    REQUIRE(!para.empty());
    std::vector<std::uint32_t> p(para.size());
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = para[(i * 7 + 3) % para.size()];
    preds.push_back(p);
  }
  REQUIRE(Audit::open(Profile{}, paras, preds, tok->vocab_size(), {}, &a).ok());
  check_masks(*a, paras);
}
