#include "isotope/shard.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include "detect/tuple_set.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"

namespace isotope {

std::uint32_t shard_of(std::span<const std::uint32_t> window, std::uint32_t token, std::uint32_t parts) noexcept {
  if (parts <= 1) return 0;
  const std::uint64_t h = window.empty() ? detail::TupleSet::hash(std::span<const std::uint32_t>(&token, 1))
                                         : detail::TupleSet::hash(window);
  // The high half: the hash sets index their slots with the low bits.
  return static_cast<std::uint32_t>((h >> 32) % parts);
}

namespace {

Status check_parts(std::uint32_t parts, const void* out, const void* counts) {
  if (out == nullptr || counts == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (parts == 0) return {Code::invalid_argument, "the number of partitions must be at least 1"};
  return Status::OK();
}

std::vector<ShardTuples> empty_parts(std::uint32_t parts, std::uint32_t h) {
  std::vector<ShardTuples> v(parts);
  for (ShardTuples& t : v) t.width = h;
  return v;
}

void push(ShardTuples& t, std::span<const std::uint32_t> window, std::uint32_t token, std::uint32_t record,
          std::uint32_t pos) {
  t.windows.insert(t.windows.end(), window.begin(), window.end());
  t.tokens.push_back(token);
  t.records.push_back(record);
  t.positions.push_back(pos);
}

Status check_sizes(std::size_t n) {
  if (n > 0xFFFFFFFFull) return {Code::invalid_argument, "a chunk holds more than 2^32 records or positions"};
  return Status::OK();
}

}  // namespace

Status shard_closed(const Profile& profile, std::span<const AuditRecord> records, bool prompt_exclusion,
                    std::uint32_t parts, std::vector<ShardTuples>* out, ShardCounts* counts) {
  ISOTOPE_RETURN_IF_ERROR(check_parts(parts, out, counts));
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  ISOTOPE_RETURN_IF_ERROR(check_sizes(records.size()));
  const std::uint32_t h = profile.context_width;
  std::vector<ShardTuples> v = empty_parts(parts, h);
  ShardCounts c;
  c.records = records.size();
  for (std::size_t r = 0; r < records.size(); ++r) {
    const auto ids = std::span<const std::uint32_t>(records[r].response);
    ISOTOPE_RETURN_IF_ERROR(check_sizes(ids.size()));
    WindowSet prompt(h);
    if (prompt_exclusion) prompt.add_windows_of(records[r].prompt);
    c.tokens += ids.size();
    c.skipped_short += std::min<std::size_t>(h, ids.size());
    for (std::size_t i = h; i < ids.size(); ++i) {
      const auto window = ids.subspan(i - h, h);
      // The same test as the Scorer's: at h = 0 by the token, else by the
      // window.
      if (prompt_exclusion && (h == 0 ? prompt.contains_token(ids[i]) : prompt.contains(window))) {
        ++c.skipped_prompt;
        continue;
      }
      push(v[shard_of(window, ids[i], parts)], window, ids[i], static_cast<std::uint32_t>(r),
           static_cast<std::uint32_t>(i));
    }
  }
  *out = std::move(v);
  *counts = c;
  return Status::OK();
}

Status shard_open(const Profile& profile, std::span<const std::vector<std::uint32_t>> teacher,
                  std::span<const std::vector<std::uint32_t>> predictions, std::uint32_t vocab_size, bool dedup,
                  std::uint32_t parts, std::vector<ShardTuples>* out, ShardCounts* counts) {
  ISOTOPE_RETURN_IF_ERROR(check_parts(parts, out, counts));
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  ISOTOPE_RETURN_IF_ERROR(check_sizes(teacher.size()));
  if (predictions.size() != teacher.size())
    return {Code::invalid_argument, "need one line of predictions per teacher text (" + std::to_string(teacher.size()) +
                                        "), got " + std::to_string(predictions.size())};
  const std::uint32_t h = profile.context_width;
  std::vector<ShardTuples> v = empty_parts(parts, h);
  ShardCounts c;
  c.records = teacher.size();
  detail::TupleSet text_windows(h);
  for (std::size_t r = 0; r < teacher.size(); ++r) {
    const auto ids = std::span<const std::uint32_t>(teacher[r]);
    const auto& pred = predictions[r];
    ISOTOPE_RETURN_IF_ERROR(check_sizes(ids.size()));
    if (pred.size() != ids.size())
      return {Code::invalid_argument, "predictions for teacher text " + std::to_string(r + 1) + ": need " +
                                          std::to_string(ids.size()) + " (one per token), got " +
                                          std::to_string(pred.size())};
    for (std::size_t i = 0; i < pred.size(); ++i)
      if (pred[i] >= vocab_size)
        return {Code::vocab_mismatch, "predictions for teacher text " + std::to_string(r + 1) + ", entry " +
                                          std::to_string(i) + ": token id " + std::to_string(pred[i]) +
                                          " is not below the vocabulary size " + std::to_string(vocab_size)};
    c.tokens += ids.size();
    c.skipped_short += std::min<std::size_t>(h, ids.size());
    text_windows.clear();
    for (std::size_t i = h; i < ids.size(); ++i) {
      const auto window = ids.subspan(i - h, h);
      // As Scorer::add_predictions: a window seen earlier in the same text.
      if (dedup && !text_windows.insert(window)) {
        ++c.skipped_duplicate;
        continue;
      }
      push(v[shard_of(window, pred[i], parts)], window, pred[i], static_cast<std::uint32_t>(r),
           static_cast<std::uint32_t>(i));
    }
  }
  *out = std::move(v);
  *counts = c;
  return Status::OK();
}

Status shard_windows(const Profile& profile, std::span<const std::vector<std::uint32_t>> texts, std::uint32_t parts,
                     std::vector<std::vector<std::uint32_t>>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (parts == 0) return {Code::invalid_argument, "the number of partitions must be at least 1"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  const std::uint32_t h = profile.context_width;
  if (h == 0) return {Code::invalid_argument, "at context width 0 there are no filter windows"};
  std::vector<detail::TupleSet> seen(parts, detail::TupleSet(h));
  std::vector<std::vector<std::uint32_t>> v(parts);
  for (const auto& t : texts) {
    const auto ids = std::span<const std::uint32_t>(t);
    for (std::size_t i = h; i <= ids.size(); ++i) {
      const auto window = ids.subspan(i - h, h);
      const std::uint32_t p = shard_of(window, 0, parts);
      if (seen[p].insert(window)) v[p].insert(v[p].end(), window.begin(), window.end());
    }
  }
  *out = std::move(v);
  return Status::OK();
}

ShardSeen::ShardSeen() = default;
ShardSeen::~ShardSeen() = default;
ShardSeen::ShardSeen(ShardSeen&&) noexcept = default;
ShardSeen& ShardSeen::operator=(ShardSeen&&) noexcept = default;

Status shard_admit(const Profile& profile, std::span<const ShardTuples> chunks,
                   std::span<const std::uint64_t> record_offsets, const std::vector<std::vector<std::uint32_t>>* filter,
                   bool dedup, ShardAdmitted* out, ShardSeen* seen) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  const std::uint32_t h = profile.context_width;
  if (record_offsets.size() != chunks.size())
    return {Code::invalid_argument, "need one record offset per chunk (" + std::to_string(chunks.size()) + "), got " +
                                        std::to_string(record_offsets.size())};
  ShardAdmitted a;
  a.width = h;
  std::unique_ptr<detail::TupleSet> require;
  if (filter != nullptr) {
    require = std::make_unique<detail::TupleSet>(h);
    for (const auto& w : *filter) {
      if (h == 0 || w.size() % h != 0)
        return {Code::invalid_argument,
                "filter windows must hold a whole number of windows of the "
                "context width"};
      require->reserve(require->size() + w.size() / h);
      for (std::size_t j = 0; j < w.size(); j += h) require->insert(std::span<const std::uint32_t>(w).subspan(j, h));
    }
    a.filter_windows = require->size();
  }
  std::size_t total = 0;
  for (const ShardTuples& c : chunks) {
    if (c.width != h || c.windows.size() != c.tokens.size() * h || c.records.size() != c.tokens.size() ||
        c.positions.size() != c.tokens.size())
      return {Code::invalid_argument, "partition tuples do not match the profile's context width"};
    total += c.size();
  }
  detail::TupleSet seen_set(h + 1);
  if (dedup) seen_set.reserve(total);  // no rehash below, which would make the prefetches below miss
  // Room for every tuple: the arrays are never copied as they grow (pages
  // that stay unused are never touched).
  a.windows.reserve(total * h);
  a.tokens.reserve(total);
  a.order.reserve(total);
  std::vector<std::uint32_t> tuple(h + 1);
  // Both sets are large hash tables: the slots of the tuple AHEAD places on
  // are prefetched, so that their cache misses overlap with this work. Each
  // hash is computed once, AHEAD places early, and kept in a ring.
  constexpr std::size_t AHEAD = 8;
  std::uint64_t wring[AHEAD] = {}, tring[AHEAD] = {};
  for (std::size_t ci = 0; ci < chunks.size(); ++ci) {
    const ShardTuples& c = chunks[ci];
    const std::size_t n = c.size();
    const auto window_at = [&](std::size_t j) { return std::span<const std::uint32_t>(c.windows).subspan(j * h, h); };
    const auto ahead = [&](std::size_t j) {
      const auto w = window_at(j);
      if (require != nullptr) {
        wring[j % AHEAD] = detail::TupleSet::hash(w);
        require->prefetch(wring[j % AHEAD]);
      }
      if (dedup) {
        tring[j % AHEAD] = detail::TupleSet::hash_with(w, c.tokens[j]);
        seen_set.prefetch(tring[j % AHEAD]);
      }
    };
    for (std::size_t j = 0; j < n && j < AHEAD; ++j) ahead(j);
    for (std::size_t j = 0; j < n; ++j) {
      const auto window = window_at(j);
      const std::uint64_t wh = wring[j % AHEAD], th = tring[j % AHEAD];
      if (j + AHEAD < n) ahead(j + AHEAD);  // the slot just read
      if (require != nullptr && !require->contains(window, wh)) {
        ++a.skipped_filter;
        continue;
      }
      if (dedup) {
        std::copy(window.begin(), window.end(), tuple.begin());
        tuple[h] = c.tokens[j];
        if (!seen_set.insert(tuple, th)) {
          ++a.skipped_duplicate;
          continue;
        }
      }
      a.windows.insert(a.windows.end(), window.begin(), window.end());
      a.tokens.push_back(c.tokens[j]);
      a.order.push_back(((record_offsets[ci] + c.records[j]) << 32) | c.positions[j]);
    }
  }
  *out = std::move(a);
  if (seen != nullptr) seen->set = dedup ? std::make_unique<detail::TupleSet>(std::move(seen_set)) : nullptr;
  return Status::OK();
}

namespace {

// Calls f(j, hash of tuple j) for the tuples of `keys` in order, the hash of
// the tuple AHEAD places on computed early and handed to prefetch(hash), so
// that the hash tables' cache misses overlap (as in shard_admit).
template <class Prefetch, class F>
void for_each_hashed(const ShardKeys& keys, std::uint32_t h, Prefetch prefetch, F f) {
  constexpr std::size_t AHEAD = 8;
  std::uint64_t ring[AHEAD] = {};
  const std::size_t n = keys.tokens.size();
  const auto ahead = [&](std::size_t j) {
    ring[j % AHEAD] = detail::TupleSet::hash_with(keys.windows.subspan(j * h, h), keys.tokens[j]);
    prefetch(ring[j % AHEAD]);
  };
  for (std::size_t j = 0; j < n && j < AHEAD; ++j) ahead(j);
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t th = ring[j % AHEAD];
    if (j + AHEAD < n) ahead(j + AHEAD);
    f(j, th);
  }
}

}  // namespace

Status shard_dedup_runs(const Profile& profile, std::span<const ShardKeys> runs, std::size_t local,
                        const ShardSeen* seen, std::vector<std::vector<std::uint8_t>>* keep, std::uint64_t* dropped) {
  if (keep == nullptr || dropped == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  const std::uint32_t h = profile.context_width;
  if (local >= runs.size())
    return {Code::invalid_argument,
            "the local run (" + std::to_string(local) + ") is not among the " + std::to_string(runs.size()) + " runs"};
  for (const ShardKeys& r : runs)
    if (r.windows.size() != r.tokens.size() * h)
      return {Code::invalid_argument, "a run's windows do not match its tokens and the context width"};
  const std::size_t nlocal = runs[local].tokens.size();
  std::vector<std::uint32_t> tuple(h + 1);
  const auto tuple_at = [&](const ShardKeys& r, std::size_t j) {
    std::copy_n(r.windows.begin() + static_cast<std::ptrdiff_t>(j * h), h, tuple.begin());
    tuple[h] = r.tokens[j];
    return std::span<const std::uint32_t>(tuple);
  };
  // K: the local run's tuples (kept by shard_admit, or built here).
  detail::TupleSet built(h + 1);
  const detail::TupleSet* k = seen != nullptr && seen->set != nullptr ? seen->set.get() : nullptr;
  if (k != nullptr) {
    if (k->width() != h + 1 || k->size() != nlocal)
      return {Code::invalid_argument, "the kept set holds " + std::to_string(k->size()) +
                                          " tuples, not the local run's " + std::to_string(nlocal)};
  } else {
    built.reserve(nlocal);
    bool repeated = false;
    for_each_hashed(
        runs[local], h, [&](std::uint64_t th) { built.prefetch(th); },
        [&](std::size_t j, std::uint64_t th) { repeated |= !built.insert(tuple_at(runs[local], j), th); });
    if (repeated) return {Code::invalid_argument, "the local run's tuples repeat: it was not deduplicated"};
    k = &built;
  }
  // T: the other runs' first occurrences, needed only when two or more other
  // runs may share tuples; D: the local run's tuples that an earlier run
  // holds too (the local copy is then the later one).
  std::size_t others = 0;
  for (std::size_t r = 0; r < runs.size(); ++r)
    if (r != local) others += runs[r].tokens.size();
  const bool need_t = runs.size() > 2;
  detail::TupleSet t(h + 1), d(h + 1);
  if (need_t) t.reserve(others);
  std::vector<std::vector<std::uint8_t>> out(runs.size());
  std::uint64_t drops = 0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (r == local) continue;
    out[r].assign(runs[r].tokens.size(), 1);
    const bool later = r > local;
    for_each_hashed(
        runs[r], h,
        [&](std::uint64_t th) {
          k->prefetch(th);
          if (need_t) t.prefetch(th);
        },
        [&](std::size_t j, std::uint64_t th) {
          const auto tp = tuple_at(runs[r], j);
          const bool in_local = k->contains(tp, th);
          if (later && in_local) {  // the local run holds it earlier
            out[r][j] = 0;
            ++drops;
            return;
          }
          if (need_t && !t.insert(tp, th)) {  // an earlier other run holds it
            out[r][j] = 0;
            ++drops;
            return;
          }
          if (in_local) d.insert(tp, th);  // this earlier run holds the local run's tuple
        });
  }
  out[local].assign(nlocal, 1);
  if (d.size() > 0) {
    for_each_hashed(
        runs[local], h, [&](std::uint64_t th) { d.prefetch(th); },
        [&](std::size_t j, std::uint64_t th) {
          if (d.contains(tuple_at(runs[local], j), th)) {
            out[local][j] = 0;
            ++drops;
          }
        });
  }
  *keep = std::move(out);
  *dropped = drops;
  return Status::OK();
}

bool shard_sums_exact(const Profile& profile) noexcept {
  const Scheme* s = find_scheme(profile.scheme);
  if (s == nullptr || !s->integer_scores() || s->engine_key_ints(profile) != 0 || s->pad_id(profile) ||
      s->dedup_by_window(profile))
    return false;
  try {
    std::unique_ptr<TupleNull> null;
    return s->make_tuple_null(profile, &null).ok() && null == nullptr;
  } catch (...) {  // out of memory
    return false;
  }
}

namespace {

Status check_bins(const ShardAdmitted& t, std::span<const std::uint32_t> bins, std::uint32_t nbins, const void* sums) {
  if (sums == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (bins.size() != t.size())
    return {Code::invalid_argument,
            "need one bin per tuple (" + std::to_string(t.size()) + "), got " + std::to_string(bins.size())};
  for (std::uint32_t b : bins)
    if (b >= nbins) return {Code::invalid_argument, "a bin index is not below the number of bins"};
  return Status::OK();
}

// Scores the tuples in chunks, in order, adding each to its bin.
Status score_into(TupleScorer& scorer, const ShardAdmitted& t, std::span<const std::uint32_t> bins, double* sums,
                  std::vector<double>* scores) {
  constexpr std::size_t CHUNK = 1 << 14;
  const std::size_t n = t.size(), h = t.width;
  std::vector<double> buf(std::min(n, CHUNK));
  if (scores != nullptr) scores->resize(n);
  for (std::size_t j = 0; j < n; j += CHUNK) {
    const std::size_t len = std::min(CHUNK, n - j);
    double* out = scores != nullptr ? scores->data() + j : buf.data();
    ISOTOPE_RETURN_IF_ERROR(scorer.score(t.windows.data() + j * h, t.tokens.data() + j, len, out));
    for (std::size_t k = 0; k < len; ++k) sums[bins[j + k]] += out[k];
  }
  return Status::OK();
}

}  // namespace

Status shard_score(const Key& key, const Profile& profile, const ShardAdmitted& tuples,
                   std::span<const std::uint32_t> bins, std::uint32_t nbins, std::vector<double>* sums,
                   std::vector<double>* scores) {
  ISOTOPE_RETURN_IF_ERROR(check_bins(tuples, bins, nbins, sums));
  const Scheme* sc = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &sc));
  std::unique_ptr<TupleScorer> scorer;
  ISOTOPE_RETURN_IF_ERROR(sc->make_scorer(key, profile, &scorer));
  std::vector<double> s(nbins, 0.0);
  ISOTOPE_RETURN_IF_ERROR(score_into(*scorer, tuples, bins, s.data(), scores));
  *sums = std::move(s);
  return Status::OK();
}

namespace {

// Runs one(i) for every i in [0, n), `threads` indices at a time (0: one per
// core); returns the error of the first thread that failed (running out of
// memory while `what`: Code::out_of_memory).
Status for_each_index(std::size_t n, unsigned threads, const std::function<Status(std::size_t)>& one,
                      const char* what) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<Status> errors(threads);
  std::atomic<std::size_t> next{0};
  auto work = [&](unsigned t) {
    try {
      for (std::size_t i = next++; i < n; i = next++) {
        if (Status st = one(i); !st.ok()) {
          errors[t] = st;
          return;
        }
      }
    } catch (const std::bad_alloc&) {
      errors[t] = {Code::out_of_memory, std::string("out of memory while ") + what};
    }
  };
  const auto nt = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, n)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < nt; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& th : pool) th.join();
  for (const Status& st : errors) ISOTOPE_RETURN_IF_ERROR(st);
  return Status::OK();
}

}  // namespace

Status shard_score_controls(const ControlSeed& seed, std::uint32_t first, std::uint32_t count, const Profile& profile,
                            const ShardAdmitted& tuples, std::span<const std::uint32_t> bins, std::uint32_t nbins,
                            std::vector<double>* sums, unsigned threads) {
  ISOTOPE_RETURN_IF_ERROR(check_bins(tuples, bins, nbins, sums));
  const Scheme* sc = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &sc));
  std::vector<double> s(static_cast<std::size_t>(count) * nbins, 0.0);
  // Each key into its own row: the sums do not depend on the thread count.
  ISOTOPE_RETURN_IF_ERROR(for_each_index(
      count, threads,
      [&](std::size_t i) {
        Key k;
        ISOTOPE_RETURN_IF_ERROR(audit_control_key(seed, first + static_cast<std::uint64_t>(i), &k));
        std::unique_ptr<TupleScorer> scorer;
        ISOTOPE_RETURN_IF_ERROR(sc->make_scorer(k, profile, &scorer));
        return score_into(*scorer, tuples, bins, s.data() + i * nbins, nullptr);
      },
      "scoring control keys"));
  *sums = std::move(s);
  return Status::OK();
}

Status shard_score_bytes(const Key& key, const ControlSeed& seed, std::uint32_t controls, const Profile& profile,
                         const ShardAdmitted& tuples, std::span<std::uint8_t> out, unsigned threads) {
  const std::size_t n = tuples.size(), h = tuples.width, rows = std::size_t{1} + controls;
  if (out.size() != rows * n)
    return {Code::invalid_argument,
            "the output must hold " + std::to_string(rows * n) + " bytes, not " + std::to_string(out.size())};
  if (!shard_sums_exact(profile))
    return {Code::invalid_argument,
            "the " + profile.scheme + " scheme's scores are not whole numbers that a byte holds"};
  const Scheme* sc = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &sc));
  // Each key into its own row: the bytes do not depend on the thread count.
  return for_each_index(
      rows, threads,
      [&](std::size_t row) {
        Key control;
        if (row > 0) ISOTOPE_RETURN_IF_ERROR(audit_control_key(seed, row - 1, &control));
        std::unique_ptr<TupleScorer> scorer;
        ISOTOPE_RETURN_IF_ERROR(sc->make_scorer(row == 0 ? key : control, profile, &scorer));
        constexpr std::size_t CHUNK = 1 << 14;
        std::vector<double> buf(std::min(n, CHUNK));
        std::uint8_t* dst = out.data() + row * n;
        for (std::size_t j = 0; j < n; j += CHUNK) {
          const std::size_t len = std::min(CHUNK, n - j);
          ISOTOPE_RETURN_IF_ERROR(
              scorer->score(tuples.windows.data() + j * h, tuples.tokens.data() + j, len, buf.data()));
          for (std::size_t k = 0; k < len; ++k) {
            const double v = buf[k];
            if (!(v >= 0.0 && v <= 255.0 && v == std::floor(v)))
              return Status(Code::invalid_argument, "a score is not a whole number from 0 to 255");
            dst[j + k] = static_cast<std::uint8_t>(v);
          }
        }
        return Status::OK();
      },
      "scoring");
}

ControlResult control_summary(std::vector<double> log10_p, std::span<const double> p_values) {
  ControlResult c;
  c.log10_p = std::move(log10_p);
  for (double p : p_values)
    if (p < 0.05) ++c.below_0_05;
  c.ks_p = p_values.empty() ? 1.0 : ks_uniform_pvalue(p_values);
  return c;
}

std::vector<std::string> audit_warnings(AuditMode mode, const Profile& profile, std::uint64_t scored) {
  std::vector<std::string> w;
  if (mode == AuditMode::open && profile.context_width == 0)
    w.push_back(
        "at context width 0 the reading mode scores only the first "
        "position of each text (every "
        "later window repeats the empty one), so this test has almost "
        "no power");
  if (scored < AUDIT_MIN_SCORED)
    w.push_back("only " + std::to_string(scored) + " tuples were scored (fewer than " +
                std::to_string(AUDIT_MIN_SCORED) +
                "): too few for the test to have power; a 'no evidence' answer "
                "means little");
  return w;
}

}  // namespace isotope
