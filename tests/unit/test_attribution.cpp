// Attribution: account keys, routes and Holm against independent reference
// values; routed generation; routed audits (the rules commute with the
// route); attribution audits name the account that generated the text and
// no other.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "detect/tuple_set.hpp"
#include "isotope/account.hpp"
#include "isotope/audit.hpp"
#include "isotope/generate.hpp"
#include "isotope/io.hpp"
#include "isotope/lm.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key key_from_hex(const std::string& hex) {
  std::vector<std::uint8_t> b(hex.size() / 2);
  for (std::size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  Key k;
  REQUIRE(Key::from_bytes(b.data(), b.size(), &k).ok());
  return k;
}

std::string key_hex(const Key& k) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < KEY_BYTES; ++i) {
    s += d[k.data()[i] >> 4];
    s += d[k.data()[i] & 15];
  }
  return s;
}

Key fixed_key(std::uint8_t fill) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(fill * 31 + 11 * i);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

nlohmann::json vectors() {
  std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/account_vectors.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::unique_ptr<NgramModel> bundled_model() {
  std::unique_ptr<NgramModel> m;
  REQUIRE(NgramModel::load(default_model_path(), &m).ok());
  return m;
}

}  // namespace

TEST_CASE("account keys match the independent reference values", "[attribution]") {
  const nlohmann::json v = vectors();
  REQUIRE(v.at("account_keys").size() >= 10);
  for (const auto& c : v.at("account_keys")) {
    const Key master = key_from_hex(c.at("master").get<std::string>());
    Key k;
    INFO("id " << c.at("id").get<std::string>());
    REQUIRE(account_key(master, c.at("id").get<std::string>(), &k).ok());
    CHECK(key_hex(k) == c.at("key").get<std::string>());
  }
}

TEST_CASE("routes match the independent reference values", "[attribution]") {
  const nlohmann::json v = vectors();
  REQUIRE(v.at("routes").size() >= 10);
  std::size_t to_account = 0, total = 0;
  for (const auto& c : v.at("routes")) {
    const Key master = key_from_hex(c.at("master").get<std::string>());
    const auto w = c.at("window").get<std::vector<std::uint32_t>>();
    for (auto it = c.at("to_account").begin(); it != c.at("to_account").end(); ++it) {
      std::unique_ptr<Router> r;
      REQUIRE(Router::create(master, std::stod(it.key()), &r).ok());
      CHECK(r->coin(w) == c.at("coin").get<std::uint32_t>());
      CHECK(r->to_account(w) == it.value().get<bool>());
      to_account += it.value().get<bool>() ? 1 : 0;
      ++total;
    }
  }
  // Both outcomes occur among the vectors.
  CHECK(to_account > 0);
  CHECK(to_account < total);
}

TEST_CASE("nested KGW marks match the independent reference values", "[attribution]") {
  const nlohmann::json v = vectors();
  REQUIRE(v.at("nested_kgw").size() >= 8);
  int routed = 0;
  for (const auto& c : v.at("nested_kgw")) {
    const Key master = key_from_hex(c.at("master").get<std::string>());
    Profile p;
    REQUIRE(p.set("gamma", c.at("gamma").get<double>()).ok());
    p.context_width = c.at("context_width").get<std::uint32_t>();
    const auto V = c.at("vocab").get<std::uint32_t>();
    std::unique_ptr<Watermarker> w;
    REQUIRE(
        Watermarker::create_for_account(master, c.at("id").get<std::string>(), c.at("alpha").get<double>(), p, V, &w)
            .ok());
    const auto window = c.at("window").get<std::vector<std::uint32_t>>();
    INFO("window " << c.at("window").dump());
    std::vector<std::uint8_t> mask(V);
    REQUIRE(w->green_mask(window, mask).ok());
    std::vector<std::uint8_t> want(V, 0);
    for (const auto& t : c.at("favoured")) want[t.get<std::uint32_t>()] = 1;
    CHECK(mask == want);
    // The logits: +delta on exactly the favoured tokens.
    std::vector<float> logits(V, 0.5f);
    REQUIRE(w->apply(window, logits).ok());
    for (std::uint32_t t = 0; t < V; ++t) CHECK(logits[t] == (want[t] != 0 ? 0.5f + 3.0f : 0.5f));
    routed += c.at("routed").get<bool>() ? 1 : 0;
  }
  CHECK(routed >= 4);
}

TEST_CASE("Holm's correction matches the reference values", "[attribution]") {
  const nlohmann::json v = vectors();
  REQUIRE(v.at("holm").size() >= 4);
  for (const auto& c : v.at("holm")) {
    const auto lp = c.at("log10_p").get<std::vector<double>>();
    const auto want = c.at("holm").get<std::vector<double>>();
    const std::vector<double> got = holm_log10(lp);
    REQUIRE(got.size() == want.size());
    INFO("inputs " << c.at("log10_p").dump());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-12).margin(1e-12));
  }
  CHECK(holm_log10({}).empty());
}

TEST_CASE("Holm keeps the family-wise error rate under the null", "[attribution]") {
  // 4000 families of 200 uniform p-values: the share of families with any
  // corrected p <= 0.05 is about 1 - (1 - 0.05/200)^200 = 0.0488.
  Rng rng(20240611);
  int families_with_a_false_naming = 0;
  const int F = 4000;
  for (int f = 0; f < F; ++f) {
    std::vector<double> lp(200);
    for (double& x : lp) x = std::log10(1.0 - rng.next_double());
    for (double a : holm_log10(lp))
      if (a <= std::log10(0.05)) {
        ++families_with_a_false_naming;
        break;
      }
  }
  const double rate = static_cast<double>(families_with_a_false_naming) / F;
  CHECK(rate > 0.03);  // the correction is not vacuous
  CHECK(rate < 0.065);
}

TEST_CASE("account identifiers are checked", "[attribution]") {
  CHECK(account_id_check("alice").ok());
  CHECK(account_id_check("Ünïcödé-账户").ok());
  CHECK(account_id_check(std::string(MAX_ACCOUNT_ID_BYTES, 'a')).ok());
  CHECK(account_id_check("").code() == Code::invalid_argument);
  CHECK(account_id_check(std::string(MAX_ACCOUNT_ID_BYTES + 1, 'a')).code() == Code::invalid_argument);
  CHECK(account_id_check("a\tb").code() == Code::invalid_argument);
  CHECK(account_id_check("a\nb").code() == Code::invalid_argument);
  CHECK(account_id_check("a\x7f").code() == Code::invalid_argument);
  CHECK(account_id_check("a\xc2\x85").code() == Code::invalid_argument);  // U+0085, a C1 control
  CHECK(account_id_check("a\xc2\xa0").ok());                              // U+00A0 is not a control
  CHECK(account_id_check(std::string("a\0b", 3)).code() == Code::invalid_argument);
  CHECK(account_id_check("\xff").code() == Code::invalid_argument);
  CHECK(account_id_check(" alice").code() == Code::invalid_argument);
  CHECK(account_id_check("alice ").code() == Code::invalid_argument);
  const Key master = fixed_key(1);
  Key k1, k2, k3;
  REQUIRE(account_key(master, "a", &k1).ok());
  REQUIRE(account_key(master, "b", &k2).ok());
  REQUIRE(account_key(fixed_key(2), "a", &k3).ok());
  CHECK(key_hex(k1) != key_hex(k2));
  CHECK(key_hex(k1) != key_hex(k3));
  CHECK(key_hex(k1) != key_hex(master));
  CHECK(account_key(master, "", &k1).code() == Code::invalid_argument);
  std::unique_ptr<Router> r;
  CHECK(Router::create(master, 1.0, &r).code() == Code::invalid_argument);
  CHECK(Router::create(master, -0.1, &r).code() == Code::invalid_argument);
  CHECK(Router::create(master, std::nan(""), &r).code() == Code::invalid_argument);
  CHECK(route_threshold(0.25) == 1073741824u);
  CHECK(route_threshold(0.0) == 0u);
}

TEST_CASE("routed generation marks each position with the key its route names", "[attribution]") {
  const Key master = fixed_key(3);
  Key acct;
  REQUIRE(account_key(master, "acct-9", &acct).ok());
  for (const char* scheme : {"kgw", "gumbel", "synthid"}) {
    Profile p;
    REQUIRE(Profile::of(scheme, &p).ok());
    const std::uint32_t V = 500;
    std::unique_ptr<Watermarker> routed, plain_master, plain_acct, alpha0;
    REQUIRE(Watermarker::create_for_account(master, "acct-9", 0.4, p, V, &routed).ok());
    REQUIRE(Watermarker::create(master, p, V, &plain_master).ok());
    REQUIRE(Watermarker::create(acct, p, V, &plain_acct).ok());
    REQUIRE(Watermarker::create_for_account(master, "acct-9", 0.0, p, V, &alpha0).ok());
    std::unique_ptr<Router> router;
    REQUIRE(Router::create(master, 0.4, &router).ok());
    Rng rng(7);
    int to_account = 0;
    for (int t = 0; t < 200; ++t) {
      std::vector<std::uint32_t> ctx(5);
      for (auto& x : ctx) x = static_cast<std::uint32_t>(rng.next_u64() % V);
      std::vector<float> logits(V);
      for (auto& l : logits) l = static_cast<float>(rng.next_double() * 4.0);
      const bool acc = router->to_account(std::span<const std::uint32_t>(ctx).last(p.context_width));
      to_account += acc ? 1 : 0;
      std::vector<float> a = logits, b = logits, c = logits;
      REQUIRE(routed->apply(ctx, a).ok());
      const bool nested = std::string(scheme) == "kgw";
      if (nested && acc) {
        // KGW nests: delta on the master-green tokens of the account's half
        // (green under the account key at gamma 1/2), nothing else.
        Profile half = p;
        REQUIRE(half.set("gamma", 0.5).ok());
        std::vector<double> mv, hv;
        ValueShape shape;
        std::vector<std::uint32_t> all(V);
        for (std::uint32_t i = 0; i < V; ++i) all[i] = i;
        REQUIRE(prf_values(master, p, ctx, all, &mv, &shape).ok());
        REQUIRE(prf_values(acct, half, ctx, all, &hv, &shape).ok());
        std::vector<std::uint8_t> mask(V);
        REQUIRE(routed->green_mask(ctx, mask).ok());
        int marked = 0;
        for (std::uint32_t i = 0; i < V; ++i) {
          const bool both = mv[i] != 0.0 && hv[i] != 0.0;
          marked += both ? 1 : 0;
          if (both) b[i] += static_cast<float>(p.param("delta"));
          CHECK(mask[i] == (both ? 1 : 0));
        }
        CHECK(marked > 30);  // about V gamma / 2 = 62
        CHECK(marked < 100);
      } else {
        REQUIRE((acc ? plain_acct : plain_master)->apply(ctx, b).ok());
      }
      REQUIRE(alpha0->apply(ctx, c).ok());
      std::vector<float> d = logits;
      REQUIRE(plain_master->apply(ctx, d).ok());
      INFO(scheme << " position " << t);
      CHECK(a == b);
      CHECK(c == d);  // alpha 0: the master key alone, as before
      std::uint32_t s1 = 0, s2 = 0;
      Rng r1(t), r2(t);
      REQUIRE(routed->sample(ctx, logits, {}, r1, &s1).ok());
      if (nested && acc)
        REQUIRE(sample_plain(b, {}, r2, &s2).ok());  // the nested bias, then plain sampling
      else
        REQUIRE((acc ? plain_acct : plain_master)->sample(ctx, logits, {}, r2, &s2).ok());
      CHECK(s1 == s2);
      if (nested && acc) {  // candidates: the same bias
        std::vector<TokenLogit> cand;
        for (std::uint32_t i = 0; i < V; i += 7) cand.push_back({static_cast<std::int32_t>(i), logits[i], 0.0f});
        REQUIRE(routed->apply_candidates(ctx, cand).ok());
        for (const TokenLogit& cl : cand) CHECK(cl.logit == b[static_cast<std::size_t>(cl.id)]);
      }
    }
    CHECK(to_account > 40);  // about 80 of 200
    CHECK(to_account < 120);
  }
  std::unique_ptr<Watermarker> w;
  Profile p;
  CHECK(Watermarker::create_for_account(master, "bad\nid", 0.25, p, 100, &w).code() == Code::invalid_argument);
  CHECK(Watermarker::create_for_account(master, "ok", 1.5, p, 100, &w).code() == Code::invalid_argument);
}

TEST_CASE("routed audits: the rules commute with the route", "[attribution]") {
  // Records with repeats and prompt overlaps, so that dedup and prompt
  // exclusion both act.
  Rng rng(11);
  std::vector<AuditRecord> recs;
  for (int r = 0; r < 60; ++r) {
    AuditRecord a;
    for (int i = 0; i < 20; ++i) a.prompt.push_back(static_cast<std::uint32_t>(rng.next_u64() % 40));
    for (int i = 0; i < 80; ++i) a.response.push_back(static_cast<std::uint32_t>(rng.next_u64() % 40));
    a.response.insert(a.response.end(), a.prompt.begin(),
                      a.prompt.begin() + 10);  // echo the prompt
    recs.push_back(std::move(a));
  }
  const Key master = fixed_key(5);
  const double alpha = 0.3;
  // KGW nests the accounts' mark in the master key's: every tuple is scored.
  // Gumbel-max routes: the master key scores the tuples its route keeps.
  const char* scheme = GENERATE("kgw", "gumbel");
  INFO(scheme);
  const bool nested = std::string(scheme) == "kgw";
  Profile p;
  REQUIRE(Profile::of(scheme, &p).ok());
  p.context_width = 2;
  std::unique_ptr<Router> router;
  REQUIRE(Router::create(master, alpha, &router).ok());
  // Reference: the route first, then the rules, by hand.
  std::uint64_t route_first = 0, routed_away = 0;
  {
    detail::TupleSet seen(3);
    for (const auto& r : recs) {
      detail::TupleSet prompt(2);
      for (std::size_t i = 2; i <= r.prompt.size(); ++i) prompt.insert(std::span(r.prompt).subspan(i - 2, 2));
      for (std::size_t i = 2; i < r.response.size(); ++i) {
        const auto w = std::span(r.response).subspan(i - 2, 2);
        const bool acc = router->to_account(w);
        // Rules on the tuple, then the route: admitted tuples routed away are
        // counted.
        if (prompt.contains(w)) continue;
        if (!seen.insert(std::span(r.response).subspan(i - 2, 3))) continue;
        if (acc)
          ++routed_away;
        else
          ++route_first;
      }
    }
  }
  std::unique_ptr<Audit> a;
  REQUIRE(Audit::closed(p, recs, nullptr, {}, &a).ok());
  AuditResult all;
  REQUIRE(a->run(master, &all).ok());
  REQUIRE(a->set_route_alpha(alpha).ok());
  AuditResult r;
  std::vector<TokenScores> masks;
  REQUIRE(a->run(master, &r, 0, &masks).ok());
  CHECK(r.route_alpha == alpha);
  CHECK(r.routed_to_accounts == routed_away);
  if (nested) {
    CHECK(r.detection.scored == all.detection.scored);
    CHECK(r.detection.log10_p == all.detection.log10_p);
  } else {
    CHECK(r.detection.scored == route_first);
    CHECK(r.detection.scored + r.routed_to_accounts == all.detection.scored);
  }
  CHECK(r.detection.skipped_prompt == all.detection.skipped_prompt);
  CHECK(r.detection.skipped_duplicate == all.detection.skipped_duplicate);
  CHECK(r.detection.skipped_prompt > 0);
  CHECK(r.detection.skipped_duplicate > 0);
  // The masks mark exactly the scored tuples, none of them routed away.
  std::uint64_t in_masks = 0;
  for (std::size_t k = 0; k < masks.size(); ++k)
    for (std::size_t i = 0; i < masks[k].size(); ++i)
      if (!std::isnan(masks[k][i])) {
        ++in_masks;
        if (!nested) CHECK_FALSE(router->to_account(std::span(recs[k].response).subspan(i - 2, 2)));
      }
  CHECK(in_masks == r.detection.scored);
  // Back to alpha 0: the same numbers as before routing was set.
  REQUIRE(a->set_route_alpha(0.0).ok());
  AuditResult again;
  REQUIRE(a->run(master, &again).ok());
  CHECK(again.detection.scored == all.detection.scored);
  CHECK(again.detection.log10_p == all.detection.log10_p);
  CHECK(a->set_route_alpha(1.0).code() == Code::invalid_argument);
}

TEST_CASE("an attribution audit names the account that generated the text and no other", "[attribution]") {
  auto model = bundled_model();
  const Key master = fixed_key(9);
  const char* scheme = GENERATE("kgw", "gumbel");
  INFO(scheme);
  const bool nested = std::string(scheme) == "kgw";
  Profile p;
  REQUIRE(Profile::of(scheme, &p).ok());
  const double alpha = 0.25;
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create_for_account(master, "acct-0042", alpha, p, model->vocab_size(), &wm).ok());
  std::vector<AuditRecord> recs;
  Rng rng(3);
  for (std::uint32_t s = 0; s < 6; ++s) {
    AuditRecord r;
    r.prompt = {static_cast<std::uint32_t>(100 + s)};
    REQUIRE(generate(*model, wm.get(), r.prompt, 300, {}, rng, &r.response).ok());
    recs.push_back(std::move(r));
  }
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {
    char b[32];
    std::snprintf(b, sizeof b, "acct-%04d", i);
    ids.emplace_back(b);
  }
  std::unique_ptr<Audit> a;
  REQUIRE(Audit::closed(p, recs, nullptr, {}, &a).ok());
  AttributionResult none;
  CHECK(a->attribute(master, ids, 1e-4, &none).code() == Code::invalid_argument);  // alpha 0
  REQUIRE(a->set_route_alpha(alpha).ok());
  AuditResult mr;
  REQUIRE(a->run(master, &mr).ok());
  CHECK(mr.detection.log10_p < -10);
  AttributionResult res, res1;
  REQUIRE(a->attribute(master, ids, 1e-4, &res, 2).ok());
  REQUIRE(a->attribute(master, ids, 1e-4, &res1, 1).ok());
  REQUIRE(res.accounts.size() == ids.size());
  CHECK(res.routed == mr.routed_to_accounts);
  CHECK(res.routed > 100);
  CHECK(res.named() == 1);
  CHECK(res.nested == nested);
  if (nested) {
    // The tests score the routed tuples whose token is master-green: most of
    // them, the text being generated with the nested bias.
    CHECK(res.tested < res.routed);
    CHECK(res.tested > res.routed / 2);
  } else {
    CHECK(res.tested == res.routed);
  }
  // The accounts that generated nothing: their tests are valid (Binomial(k,
  // 1/2) for KGW, the scheme's null for Gumbel-max), so about 5% fall below
  // p = 0.05 and the mean p-value is about 1/2.
  int below = 0;
  double mean_p = 0.0;
  for (const AccountResult& acc : res.accounts) {
    if (acc.id == "acct-0042") continue;
    below += acc.detection.p_value < 0.05 ? 1 : 0;
    mean_p += acc.detection.p_value / static_cast<double>(ids.size() - 1);
  }
  CHECK(below < 30);  // Binomial(299, 0.05): mean 15, P(>= 30) < 1e-3
  CHECK(mean_p > 0.4);
  CHECK(mean_p < 0.6);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const AccountResult& acc = res.accounts[i];
    CHECK(acc.id == ids[i]);
    CHECK(acc.detection.scored == res.tested);
    if (nested) {  // Binomial(k, 1/2)
      CHECK(acc.detection.trials == res.tested);
      CHECK(acc.detection.gamma == 0.5);
    }
    CHECK(acc.detection.log10_p == res1.accounts[i].detection.log10_p);  // thread count does not matter
    CHECK(acc.log10_p_corrected >= acc.detection.log10_p);
    if (acc.id == "acct-0042") {
      CHECK(acc.named);
      CHECK(acc.log10_p_corrected < -6);
    } else {
      CHECK_FALSE(acc.named);
    }
  }
  // Bad candidate lists.
  std::vector<std::string> dup = {"a", "b", "a"};
  CHECK(a->attribute(master, dup, 1e-4, &res).code() == Code::invalid_argument);
  std::vector<std::string> bad = {"a", "b\x01"};
  CHECK(a->attribute(master, bad, 1e-4, &res).code() == Code::invalid_argument);
  CHECK(a->attribute(master, {}, 1e-4, &res).code() == Code::empty_input);
  CHECK(a->attribute(master, ids, 0.0, &res).code() == Code::invalid_argument);
}
