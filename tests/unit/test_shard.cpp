// An audit cut into pieces (isotope/shard.hpp) gives Audit's numbers exactly,
// whatever the number of partitions and chunks: counts per rule, the
// statistic under the provider's key and under control keys, the admitted
// tuples' order; Holm's correction against values computed by hand.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "detect/tuple_set.hpp"
#include "isotope/audit.hpp"
#include "isotope/evidence.hpp"
#include "isotope/scheme.hpp"
#include "isotope/shard.hpp"
#include "isotope/stats.hpp"

using namespace isotope;

namespace {

Key key_of(std::uint8_t fill) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(fill * 31 + 5 * i);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

// Records over a small vocabulary, so that tuples repeat within and across
// records; some prompts share windows with their responses.
std::vector<AuditRecord> records(std::uint32_t n, std::uint32_t vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<AuditRecord> rs(n);
  for (AuditRecord& r : rs) {
    const std::size_t len = 5 + rng() % 60;
    for (std::size_t i = 0; i < len; ++i) r.response.push_back(rng() % vocab);
    const std::size_t plen = rng() % 12;
    for (std::size_t i = 0; i < plen; ++i)
      r.prompt.push_back(rng() % 3 == 0 && !r.response.empty() ? r.response[rng() % r.response.size()] : rng() % vocab);
  }
  return rs;
}

struct Pieces {
  std::uint64_t tokens = 0, skipped_short = 0, skipped_prompt = 0, skipped_filter = 0, skipped_duplicate = 0;
  std::uint64_t scored = 0, filter_windows = 0;
  double statistic = 0.0;
  std::vector<double> controls;
  std::vector<std::uint64_t> order;  // every admitted tuple's order key, sorted
};

// Step 2 as a cluster of `nruns` workers takes it: the chunks cut into
// contiguous runs, each run's tuples admitted on their own, then the
// duplicates across runs dropped (shard_dedup_runs, the set of run
// part % nruns kept from its admission, or built when `kept` is false); the
// tuples that stay, in run order.
ShardAdmitted admit_by_runs(const Profile& p, const std::vector<ShardTuples>& mine,
                            const std::vector<std::uint64_t>& offsets,
                            const std::vector<std::vector<std::uint32_t>>* filter, bool dedup, std::uint32_t part,
                            std::size_t nruns, bool kept) {
  const std::size_t local = part % nruns;
  std::vector<ShardAdmitted> runs(nruns);
  ShardSeen seen;
  ShardAdmitted all;
  all.width = p.context_width;
  for (std::size_t r = 0; r < nruns; ++r) {
    const std::size_t b = r * mine.size() / nruns, e = (r + 1) * mine.size() / nruns;
    const std::vector<ShardTuples> chunks(mine.begin() + static_cast<std::ptrdiff_t>(b),
                                          mine.begin() + static_cast<std::ptrdiff_t>(e));
    const std::vector<std::uint64_t> offs(offsets.begin() + static_cast<std::ptrdiff_t>(b),
                                          offsets.begin() + static_cast<std::ptrdiff_t>(e));
    REQUIRE(shard_admit(p, chunks, offs, filter, dedup, &runs[r], r == local && kept ? &seen : nullptr).ok());
    all.skipped_filter += runs[r].skipped_filter;
    all.skipped_duplicate += runs[r].skipped_duplicate;
    if (r == 0) all.filter_windows = runs[r].filter_windows;
  }
  std::vector<std::vector<std::uint8_t>> keep(nruns);
  if (dedup) {
    CHECK((seen.set != nullptr) == kept);
    std::vector<ShardKeys> keys;
    for (const ShardAdmitted& a : runs) keys.push_back({a.windows, a.tokens});
    std::uint64_t dropped = 0;
    REQUIRE(shard_dedup_runs(p, keys, local, kept ? &seen : nullptr, &keep, &dropped).ok());
    all.skipped_duplicate += dropped;
    std::uint64_t zeros = 0;
    for (std::size_t r = 0; r < nruns; ++r) {
      REQUIRE(keep[r].size() == runs[r].size());
      for (std::uint8_t k : keep[r]) zeros += k == 0 ? 1 : 0;
    }
    CHECK(zeros == dropped);
  } else {
    CHECK(seen.set == nullptr);  // nothing kept without deduplication
  }
  const std::size_t h = p.context_width;
  for (std::size_t r = 0; r < nruns; ++r)
    for (std::size_t j = 0; j < runs[r].size(); ++j) {
      if (dedup && keep[r][j] == 0) continue;
      all.windows.insert(all.windows.end(), runs[r].windows.begin() + static_cast<std::ptrdiff_t>(j * h),
                         runs[r].windows.begin() + static_cast<std::ptrdiff_t>((j + 1) * h));
      all.tokens.push_back(runs[r].tokens[j]);
      all.order.push_back(runs[r].order[j]);
    }
  return all;
}

// The whole pipeline on one machine: records cut into `chunks` chunks,
// tuples routed to `parts` partitions; with nruns > 1 step 2 as a cluster of
// nruns workers takes it (admit_by_runs).
Pieces by_pieces(const Profile& p, const std::vector<AuditRecord>& rs,
                 const std::vector<std::vector<std::uint32_t>>* teacher, bool prompt_exclusion, bool dedup,
                 std::uint32_t parts, std::size_t chunks, const Key& key, const ControlSeed& seed,
                 std::uint32_t controls, std::size_t nruns = 1, bool kept = true) {
  Pieces out;
  std::vector<std::vector<ShardTuples>> routed;  // [chunk][part]
  std::vector<std::uint64_t> offsets;
  const std::size_t per = (rs.size() + chunks - 1) / chunks;
  for (std::size_t at = 0; at < rs.size(); at += per) {
    const std::span<const AuditRecord> chunk(rs.data() + at, std::min(per, rs.size() - at));
    std::vector<ShardTuples> v;
    ShardCounts c;
    REQUIRE(shard_closed(p, chunk, prompt_exclusion, parts, &v, &c).ok());
    offsets.push_back(at);
    routed.push_back(std::move(v));
    out.tokens += c.tokens;
    out.skipped_short += c.skipped_short;
    out.skipped_prompt += c.skipped_prompt;
  }
  std::vector<std::vector<std::vector<std::uint32_t>>> windows;  // [teacher chunk][part]
  if (teacher != nullptr) {
    const std::size_t half = teacher->size() / 2;
    for (auto [b, e] : {std::pair<std::size_t, std::size_t>{0, half}, {half, teacher->size()}}) {
      std::vector<std::vector<std::uint32_t>> w;
      REQUIRE(shard_windows(p, std::span(teacher->data() + b, e - b), parts, &w).ok());
      windows.push_back(std::move(w));
    }
  }
  out.controls.assign(controls, 0.0);
  for (std::uint32_t part = 0; part < parts; ++part) {
    std::vector<ShardTuples> mine;
    for (auto& c : routed) mine.push_back(c[part]);
    std::vector<std::vector<std::uint32_t>> filter;
    for (auto& w : windows) filter.push_back(w[part]);
    ShardAdmitted a;
    if (nruns > 1)
      a = admit_by_runs(p, mine, offsets, teacher != nullptr ? &filter : nullptr, dedup, part, nruns, kept);
    else
      REQUIRE(shard_admit(p, mine, offsets, teacher != nullptr ? &filter : nullptr, dedup, &a).ok());
    out.skipped_filter += a.skipped_filter;
    out.skipped_duplicate += a.skipped_duplicate;
    out.filter_windows += a.filter_windows;
    out.scored += a.size();
    out.order.insert(out.order.end(), a.order.begin(), a.order.end());
    const std::vector<std::uint32_t> bins(a.size(), 0);
    std::vector<double> sums;
    REQUIRE(shard_score(key, p, a, bins, 1, &sums).ok());
    out.statistic += sums[0];
    const double key_sum = sums[0];
    REQUIRE(shard_score_controls(seed, 0, controls, p, a, bins, 1, &sums, 2).ok());
    for (std::uint32_t i = 0; i < controls; ++i) out.controls[i] += sums[i];
    // The kept scores, one byte per tuple and key: each row adds up to its key's sum, for any thread count.
    const std::size_t n = a.size();
    std::vector<std::uint8_t> bytes((1 + controls) * n), bytes1((1 + controls) * n, 0xFF);
    REQUIRE(shard_score_bytes(key, seed, controls, p, a, bytes, 2).ok());
    REQUIRE(shard_score_bytes(key, seed, controls, p, a, bytes1, 1).ok());
    CHECK(bytes == bytes1);
    for (std::uint32_t row = 0; row <= controls; ++row) {
      double total = 0.0;
      for (std::size_t j = 0; j < n; ++j) total += bytes[row * n + j];
      CHECK(total == (row == 0 ? key_sum : sums[row - 1]));
    }
  }
  std::sort(out.order.begin(), out.order.end());
  return out;
}

}  // namespace

TEST_CASE("shard pieces give the closed audit's numbers for any partitioning", "[shard]") {
  const Key key = key_of(1);
  ControlSeed seed{};
  seed[0] = 7;
  const auto rs = records(120, 40, 11);
  const auto teacher_recs = records(60, 40, 12);
  std::vector<std::vector<std::uint32_t>> teacher;
  for (const auto& r : teacher_recs) teacher.push_back(r.response);
  for (const char* scheme : {SCHEME_KGW, SCHEME_SYNTHID}) {
    Profile p;
    REQUIRE(Profile::of(scheme, &p).ok());
    for (std::uint32_t h : {0u, 1u, 2u, 3u}) {
      p.context_width = h;
      REQUIRE(shard_sums_exact(p));
      for (bool filter : {false, true}) {
        if (filter && h == 0) continue;  // no windows to filter by
        for (bool dedup : {true, false}) {
          for (bool pex : {true, false}) {
            std::unique_ptr<Audit> audit;
            REQUIRE(Audit::closed(p, rs, filter ? &teacher : nullptr, {.dedup = dedup, .prompt_exclusion = pex}, &audit)
                        .ok());
            AuditResult want;
            std::vector<TokenScores> masks;
            REQUIRE(audit->run(key, &want, 0, &masks).ok());
            ControlResult cw;
            REQUIRE(audit->control(seed, 4, &cw, {}, {}, 1).ok());
            // The admitted tuples' places, from the masks: record << 32 | position.
            std::vector<std::uint64_t> want_order;
            for (std::size_t r = 0; r < masks.size(); ++r)
              for (std::size_t i = 0; i < masks[r].size(); ++i)
                if (!std::isnan(masks[r][i])) want_order.push_back((std::uint64_t{r} << 32) | i);
            // (chunks, runs): runs of chunks admitted apart, as on a cluster of that many workers, with
            // the local run's set kept from its admission or built again.
            const std::tuple<std::size_t, std::size_t, bool> cuts[] = {{1, 1, true}, {4, 1, true},  {4, 2, true},
                                                                       {5, 3, true}, {5, 3, false}, {6, 4, true}};
            for (std::uint32_t parts : {1u, 3u, 8u}) {
              for (auto [chunks, nruns, kept] : cuts) {
                INFO(scheme << " h=" << h << " filter=" << filter << " dedup=" << dedup << " pex=" << pex
                            << " parts=" << parts << " chunks=" << chunks << " runs=" << nruns << " kept=" << kept);
                const Pieces got =
                    by_pieces(p, rs, filter ? &teacher : nullptr, pex, dedup, parts, chunks, key, seed, 4, nruns, kept);
                const DetectionResult& d = want.detection;
                CHECK(got.tokens == d.tokens);
                CHECK(got.skipped_short == d.skipped_short);
                CHECK(got.skipped_prompt == d.skipped_prompt);
                CHECK(got.skipped_filter == d.skipped_filter);
                CHECK(got.skipped_duplicate == d.skipped_duplicate);
                CHECK(got.scored == d.scored);
                CHECK(got.filter_windows == want.filter_windows);
                CHECK(got.statistic == d.statistic);
                CHECK(got.order == want_order);
                for (std::uint32_t i = 0; i < 4; ++i) {
                  DetectionResult cd;
                  REQUIRE(result_from_statistic(p, got.controls[i], got.scored, &cd).ok());
                  CHECK(cd.log10_p == cw.log10_p[i]);
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("shard pieces give the open audit's numbers", "[shard]") {
  const Key key = key_of(2);
  Profile p;
  p.context_width = 2;
  std::mt19937 rng(5);
  std::vector<std::vector<std::uint32_t>> teacher(50), preds(50);
  for (std::size_t r = 0; r < teacher.size(); ++r)
    for (std::size_t i = 0; i < 10 + r % 30; ++i) {
      teacher[r].push_back(rng() % 12);
      preds[r].push_back(rng() % 12);
    }
  std::unique_ptr<Audit> audit;
  REQUIRE(Audit::open(p, teacher, preds, 12, {}, &audit).ok());
  AuditResult want;
  REQUIRE(audit->run(key, &want).ok());
  for (std::uint32_t parts : {1u, 5u}) {
    std::vector<ShardTuples> v;
    ShardCounts c;
    REQUIRE(shard_open(p, teacher, preds, 12, true, parts, &v, &c).ok());
    std::uint64_t dup = c.skipped_duplicate, scored = 0;
    double stat = 0.0;
    const std::uint64_t zero = 0;
    for (const ShardTuples& t : v) {
      ShardAdmitted a;
      REQUIRE(shard_admit(p, std::span(&t, 1), std::span(&zero, 1), nullptr, true, &a).ok());
      dup += a.skipped_duplicate;
      scored += a.size();
      std::vector<double> sums;
      REQUIRE(shard_score(key, p, a, std::vector<std::uint32_t>(a.size(), 0), 1, &sums).ok());
      stat += sums[0];
    }
    CHECK(c.tokens == want.detection.tokens);
    CHECK(c.skipped_short == want.detection.skipped_short);
    CHECK(dup == want.detection.skipped_duplicate);
    CHECK(scored == want.detection.scored);
    CHECK(stat == want.detection.statistic);
  }
  // A prediction outside the vocabulary is refused.
  preds[3][1] = 12;
  std::vector<ShardTuples> v;
  ShardCounts c;
  CHECK(shard_open(p, teacher, preds, 12, true, 2, &v, &c).code() == Code::vocab_mismatch);
}

TEST_CASE("a tuple's hash computed from its window and token is its hash", "[shard]") {
  // shard_admit hashes (window, token) without building the tuple, and the
  // dedup memory must find the tuple under either hash.
  std::mt19937 rng(5);
  for (std::uint32_t h = 0; h <= 5; ++h)
    for (int t = 0; t < 200; ++t) {
      std::vector<std::uint32_t> tuple(h + 1);
      for (auto& x : tuple) x = static_cast<std::uint32_t>(rng());
      const auto w = std::span<const std::uint32_t>(tuple).first(h);
      CHECK(isotope::detail::TupleSet::hash_with(w, tuple[h]) == isotope::detail::TupleSet::hash(tuple));
      CHECK(isotope::detail::TupleSet::hash_with(w, tuple[h] ^ 1u) != isotope::detail::TupleSet::hash(tuple));
    }
}

TEST_CASE("shard inputs are checked", "[shard]") {
  Profile p;
  std::vector<ShardTuples> v;
  ShardCounts c;
  CHECK(shard_closed(p, {}, true, 0, &v, &c).code() == Code::invalid_argument);
  ShardTuples bad;
  bad.width = 2;
  bad.tokens = {1};
  ShardAdmitted a;
  const std::uint64_t zero = 0;
  CHECK(shard_admit(p, std::span(&bad, 1), std::span(&zero, 1), nullptr, true, &a).code() == Code::invalid_argument);
  std::vector<double> sums;
  CHECK(shard_score(key_of(3), p, a, std::vector<std::uint32_t>{0}, 1, &sums).code() == Code::invalid_argument);
  // Partitions give the one-machine result for isotope-key schemes with
  // whole-number scores and a null of the statistic alone; the others (real
  // scores, engine keys, padded windows, a tuple-dependent null) are refused.
  for (const Scheme* sc : schemes()) {
    INFO(sc->name());
    Profile q;
    REQUIRE(Profile::of(sc->name(), &q).ok());
    const bool want = sc->name() == SCHEME_KGW || sc->name() == SCHEME_SYNTHID;
    CHECK(shard_sums_exact(q) == want);
    if (!want) {  // no kept bytes for scores a byte cannot hold exactly
      ShardAdmitted none;
      none.width = q.context_width;
      std::vector<std::uint8_t> out(1);
      CHECK(shard_score_bytes(key_of(3), ControlSeed{}, 0, q, none, std::span<std::uint8_t>(out).first(0)).code() ==
            Code::invalid_argument);
    }
  }
  {  // an output of the wrong size
    ShardAdmitted one;
    one.width = p.context_width;
    one.windows.assign(p.context_width, 1);
    one.tokens = {2};
    one.order = {0};
    std::vector<std::uint8_t> out(3);
    CHECK(shard_score_bytes(key_of(3), ControlSeed{}, 1, p, one, out).code() == Code::invalid_argument);
    out.resize(2);
    CHECK(shard_score_bytes(key_of(3), ControlSeed{}, 1, p, one, out).ok());
  }
  Profile unknown;
  unknown.scheme = "no-such-scheme";
  CHECK_FALSE(shard_sums_exact(unknown));
}

TEST_CASE("deduplication across runs refuses inputs that do not fit", "[shard]") {
  Profile p;  // context width 2
  const std::uint32_t h = p.context_width;
  // Two runs: (1 2, 3) and (4 5, 6); run 1 repeats run 0's tuple.
  const std::vector<std::uint32_t> w0 = {1, 2, 4, 5}, t0 = {3, 6}, w1 = {1, 2}, t1 = {3};
  std::vector<ShardKeys> runs = {{w0, t0}, {w1, t1}};
  std::vector<std::vector<std::uint8_t>> keep;
  std::uint64_t dropped = 0;
  REQUIRE(shard_dedup_runs(p, runs, 0, nullptr, &keep, &dropped).ok());
  CHECK(keep == std::vector<std::vector<std::uint8_t>>{{1, 1}, {0}});
  CHECK(dropped == 1);
  // Whichever run is local, the earlier occurrence stays.
  REQUIRE(shard_dedup_runs(p, runs, 1, nullptr, &keep, &dropped).ok());
  CHECK(keep == std::vector<std::vector<std::uint8_t>>{{1, 1}, {0}});
  CHECK(shard_dedup_runs(p, runs, 2, nullptr, &keep, &dropped).code() == Code::invalid_argument);
  CHECK(shard_dedup_runs(p, runs, 0, nullptr, nullptr, &dropped).code() == Code::invalid_argument);
  // Windows that do not match the tokens and the context width.
  const std::vector<std::uint32_t> short_w = {1};
  std::vector<ShardKeys> bad = {{short_w, t1}};
  CHECK(shard_dedup_runs(p, bad, 0, nullptr, &keep, &dropped).code() == Code::invalid_argument);
  // A local run whose tuples repeat was not deduplicated: refused, not miscounted.
  const std::vector<std::uint32_t> ww = {1, 2, 1, 2}, tt = {3, 3};
  std::vector<ShardKeys> rep = {{ww, tt}, {w1, t1}};
  CHECK(shard_dedup_runs(p, rep, 0, nullptr, &keep, &dropped).code() == Code::invalid_argument);
  // A kept set that is not the local run's.
  ShardTuples c;
  c.width = h;
  c.windows = {7, 8};
  c.tokens = {9};
  c.records = {0};
  c.positions = {0};
  ShardAdmitted a;
  ShardSeen seen;
  const std::uint64_t zero = 0;
  REQUIRE(shard_admit(p, std::span(&c, 1), std::span(&zero, 1), nullptr, true, &a, &seen).ok());
  REQUIRE(seen.set != nullptr);
  CHECK(shard_dedup_runs(p, runs, 0, &seen, &keep, &dropped).code() == Code::invalid_argument);
}

TEST_CASE("curve from sums matches the curve from scores", "[shard]") {
  Profile p;
  const TokenScores scores = {1, 0, NAN, 1, 1, 0, 0, 1, NAN, 1, 0, 1};
  const Curve want = score_curve(scores, p, 4);
  std::vector<double> sums;
  const std::vector<std::uint64_t> ks = curve_checkpoints(10, 4);
  CHECK(ks == std::vector<std::uint64_t>{3, 5, 8, 10});
  double s = 0;
  std::uint64_t n = 0;
  std::size_t k = 0;
  for (double v : scores) {
    if (std::isnan(v)) continue;
    s += v;
    if (++n == ks[k]) {
      sums.push_back(s);
      ++k;
    }
  }
  Curve got;
  REQUIRE(curve_from_sums(p, ks, sums, &got).ok());
  CHECK(got.scored == want.scored);
  CHECK(got.log10_p == want.log10_p);
  CHECK(curve_from_sums(p, ks, std::vector<double>{1.0}, &got).code() == Code::invalid_argument);
}

TEST_CASE("holm's correction against values worked by hand", "[stats]") {
  // p = 0.01, 0.04, 0.03, 0.2 at alpha 0.05: sorted 0.01, 0.03, 0.04, 0.2 against 0.05/4, 0.05/3, ...:
  // 0.01 <= 0.0125 is rejected, 0.03 > 0.0167 stops. Adjusted: 4 * 0.01 = 0.04; max(0.04, 3 * 0.03) = 0.09;
  // max(0.09, 2 * 0.04) = 0.09; max(0.09, 0.2) = 0.2.
  const std::vector<double> lp = {std::log10(0.01), std::log10(0.04), std::log10(0.03), std::log10(0.2)};
  const HolmResult h = holm(lp, 0.05);
  CHECK(h.rejected == 1);
  const std::vector<double> adj = {0.04, 0.09, 0.09, 0.2};
  for (std::size_t i = 0; i < adj.size(); ++i)
    CHECK(std::pow(10.0, h.adjusted_log10_p[i]) == Approx(adj[i]).epsilon(1e-12));
  // Far below a double's range, in log space: 1000 texts at p = 1e-400 are all rejected.
  const HolmResult tiny = holm(std::vector<double>(1000, -400.0), 1e-4);
  CHECK(tiny.rejected == 1000);
  CHECK(tiny.adjusted_log10_p[0] == Approx(-397.0));
  CHECK(holm({}, 0.05).rejected == 0);
}
