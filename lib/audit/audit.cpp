#include "isotope/audit.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "isotope/account.hpp"
#include "isotope/shard.hpp"
#include "isotope/stats.hpp"
#include "keys/control_key.hpp"

namespace isotope {

const char* audit_mode_name(AuditMode m) noexcept { return m == AuditMode::open ? "open" : "closed"; }

Status audit_control_key(const ControlSeed& seed, std::uint64_t index, Key* out, std::size_t engine_ints) {
  return detail::derive_control_key(seed, "isotope/v1/audit-control-key", index, 8, engine_ints, out);
}

Status predict_top1(const LanguageModel& model, std::span<const std::uint32_t> ids, std::vector<std::uint32_t>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  out->assign(ids.size(), 0);
  for (std::size_t i = 0; i < ids.size(); ++i) ISOTOPE_RETURN_IF_ERROR(model.next_argmax(ids.first(i), &(*out)[i]));
  return Status::OK();
}

struct Audit::Impl {
  AuditMode mode = AuditMode::closed;
  Profile profile;
  AuditRules rules;
  std::vector<AuditRecord> records;                 // closed
  std::vector<WindowSet> prompt_windows;            // closed: one per record
  std::unique_ptr<WindowSet> filter;                // closed, optional
  std::vector<std::vector<std::uint32_t>> teacher;  // open
  std::vector<std::vector<std::uint32_t>> predictions;
  // The rules applied once: the admitted tuples, where each record's end in
  // them, its length, and the counts after it.
  AdmittedTuples tuples;
  std::vector<std::size_t> record_end, record_len;
  std::vector<DetectionResult> counts_after;
  double alpha = 0.0;  // attribution: the routing share (0: none)
  // Schemes whose null depends on the tuples: that null over the first `end`
  // tuples, built once and shared by the provider's key and every control key.
  mutable std::mutex null_mutex;
  mutable std::map<std::size_t, std::shared_ptr<const TupleNull>> nulls;

  Status tuple_null(const Scheme& sc, std::size_t end, std::shared_ptr<const TupleNull>* out) const {
    std::lock_guard<std::mutex> lock(null_mutex);
    auto it = nulls.find(end);
    if (it == nulls.end()) {
      std::unique_ptr<TupleNull> null;
      ISOTOPE_RETURN_IF_ERROR(sc.make_tuple_null(profile, &null));
      if (null) null->add(tuples.windows.data(), tuples.tokens.data(), end);
      it = nulls.emplace(end, std::shared_ptr<const TupleNull>(std::move(null))).first;
    }
    *out = it->second;
    return Status::OK();
  }

  std::size_t count() const { return mode == AuditMode::closed ? records.size() : teacher.size(); }

  Status prepare() {
    std::unique_ptr<Scorer> c;
    ISOTOPE_RETURN_IF_ERROR(Scorer::create_collector(profile, &c, {.dedup = rules.dedup}));
    const std::size_t n = count();
    record_end.resize(n);
    record_len.resize(n);
    counts_after.resize(n);
    for (std::size_t r = 0; r < n; ++r) {
      if (mode == AuditMode::closed) {
        ISOTOPE_RETURN_IF_ERROR(
            c->add(records[r].response, rules.prompt_exclusion ? &prompt_windows[r] : nullptr, filter.get()));
        record_len[r] = records[r].response.size();
      } else {
        ISOTOPE_RETURN_IF_ERROR(c->add_predictions(teacher[r], predictions[r]));
        record_len[r] = teacher[r].size();
      }
      counts_after[r] = c->result();
      record_end[r] = static_cast<std::size_t>(counts_after[r].scored);
    }
    tuples = c->take_tuples();
    return Status::OK();
  }

  // Sum of the scores of the first `end` tuples under `scorer`, in order;
  // `scores`, if non-null, receives each tuple's score.
  Status score(TupleScorer& scorer, std::size_t end, double* sum, std::vector<double>* scores) const {
    constexpr std::size_t CHUNK = 1 << 14;
    std::vector<double> buf(std::min(end, CHUNK));
    if (scores != nullptr) scores->resize(end);
    const std::size_t h = tuples.width;
    double s = 0.0;
    for (std::size_t j = 0; j < end; j += CHUNK) {
      const std::size_t len = std::min(CHUNK, end - j);
      double* out = scores != nullptr ? scores->data() + j : buf.data();
      ISOTOPE_RETURN_IF_ERROR(scorer.score(tuples.windows.data() + j * h, tuples.tokens.data() + j, len, out));
      for (std::size_t k = 0; k < len; ++k) s += out[k];
    }
    *sum = s;
    return Status::OK();
  }

  // Per-record masks from per-tuple scores (records 0..n-1).
  std::vector<TokenScores> masks_of(const std::vector<double>& scores, std::size_t n) const {
    std::vector<TokenScores> ms(n);
    std::size_t j = 0;
    for (std::size_t r = 0; r < n; ++r) {
      ms[r].assign(record_len[r], std::nan(""));
      for (; j < record_end[r]; ++j) ms[r][tuples.positions[j]] = scores[j];
    }
    return ms;
  }

  // The tuples among the first `end` whose route under `router` is
  // `to_account`, gathered: their indices, windows and tokens.
  struct Subset {
    std::vector<std::size_t> index;
    std::vector<std::uint32_t> windows, tokens;
    // Appends tuple j of (windows, tokens), h ids per window, as tuple `at` of the audit.
    void add(const std::uint32_t* w, const std::uint32_t* t, std::size_t j, std::size_t h, std::size_t at) {
      index.push_back(at);
      windows.insert(windows.end(), w + j * h, w + (j + 1) * h);
      tokens.push_back(t[j]);
    }
  };
  // route[j] = 1 if the first `end` tuple j goes to the accounts.
  std::vector<std::uint8_t> routes(const Router& router, std::size_t end) const {
    std::vector<std::uint8_t> route(end);
    router.route(tuples.windows.data(), tuples.width, end, route.data());
    return route;
  }
  Subset routed(const Router& router, std::size_t end, bool to_account) const {
    const std::vector<std::uint8_t> route = routes(router, end);
    Subset s;
    for (std::size_t j = 0; j < end; ++j)
      if ((route[j] != 0) == to_account) s.add(tuples.windows.data(), tuples.tokens.data(), j, tuples.width, j);
    return s;
  }

  // Sum of the scores of a gathered subset under `scorer`; `scores`, if
  // non-null, receives each tuple's score.
  static Status score_subset(TupleScorer& scorer, const Subset& s, double* sum, std::vector<double>* scores) {
    std::vector<double> out(s.tokens.size());
    if (!out.empty()) ISOTOPE_RETURN_IF_ERROR(scorer.score(s.windows.data(), s.tokens.data(), out.size(), out.data()));
    double t = 0.0;
    for (double v : out) t += v;
    *sum = t;
    if (scores != nullptr) *scores = std::move(out);
    return Status::OK();
  }

  // The counts of the first n records with the statistic `sum` over `scored` tuples.
  Status finish(std::size_t n, double sum, std::uint64_t scored, DetectionResult* out,
                const Profile* test = nullptr) const {
    DetectionResult r = n == 0 ? DetectionResult{} : counts_after[n - 1];
    ISOTOPE_RETURN_IF_ERROR(result_from_statistic(test != nullptr ? *test : profile, sum, scored, &r));
    *out = r;
    return Status::OK();
  }
  // The scheme's null of the scored tuples, for schemes whose null depends on
  // them (Scheme::make_tuple_null); null for the others.
  Status tuple_null(const std::uint32_t* windows, const std::uint32_t* tokens, std::size_t count,
                    std::unique_ptr<TupleNull>* out, const Profile* test = nullptr) const {
    const Profile& p = test != nullptr ? *test : profile;
    const Scheme* sc = nullptr;
    ISOTOPE_RETURN_IF_ERROR(scheme_of(p, &sc));
    ISOTOPE_RETURN_IF_ERROR(sc->make_tuple_null(p, out));
    if (*out) (*out)->add(windows, tokens, count);
    return Status::OK();
  }
  static void apply_null(const TupleNull* null, double sum, DetectionResult* r) {
    if (null == nullptr) return;
    const Tail t = null->tail(sum);
    r->log10_p = t.log10_p;
    r->p_value = t.p_value;
  }

  Status result(const Key& key, std::size_t n, DetectionResult* out, std::vector<double>* scores,
                std::uint64_t* routed_away = nullptr) const {
    const Scheme* sc = nullptr;
    ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &sc));
    ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, sc->engine_key_ints(profile), profile.scheme));
    std::unique_ptr<TupleScorer> scorer;
    ISOTOPE_RETURN_IF_ERROR(sc->make_scorer(key, profile, &scorer));
    const std::size_t end = n == 0 ? 0 : record_end[n - 1];
    double sum = 0.0;
    if (alpha > 0.0 && !sc->nests_accounts(profile)) {
      // Only the tuples this key's route keeps for itself.
      std::unique_ptr<Router> router;
      ISOTOPE_RETURN_IF_ERROR(Router::create(key, alpha, &router));
      const Subset mine = routed(*router, end, false);
      std::vector<double> sub;
      ISOTOPE_RETURN_IF_ERROR(score_subset(*scorer, mine, &sum, scores != nullptr ? &sub : nullptr));
      if (scores != nullptr) {
        scores->assign(end, std::nan(""));
        for (std::size_t i = 0; i < sub.size(); ++i) (*scores)[mine.index[i]] = sub[i];
      }
      if (routed_away != nullptr) *routed_away = end - mine.index.size();
      ISOTOPE_RETURN_IF_ERROR(finish(n, sum, mine.index.size(), out));
      std::unique_ptr<TupleNull> null;
      ISOTOPE_RETURN_IF_ERROR(tuple_null(mine.windows.data(), mine.tokens.data(), mine.tokens.size(), &null));
      apply_null(null.get(), sum, out);
      return Status::OK();
    }
    ISOTOPE_RETURN_IF_ERROR(score(*scorer, end, &sum, scores));
    if (routed_away != nullptr) {
      // Nested: the routed tuples carry this key's mark too and are scored;
      // their number is reported all the same.
      *routed_away = 0;
      if (alpha > 0.0) {
        std::unique_ptr<Router> router;
        ISOTOPE_RETURN_IF_ERROR(Router::create(key, alpha, &router));
        const std::vector<std::uint8_t> route = routes(*router, end);
        *routed_away = static_cast<std::uint64_t>(std::count(route.begin(), route.end(), std::uint8_t{1}));
      }
    }
    ISOTOPE_RETURN_IF_ERROR(finish(n, sum, n == 0 ? 0 : counts_after[n - 1].scored, out));
    std::shared_ptr<const TupleNull> null;  // built once, shared by the provider's key and the controls
    ISOTOPE_RETURN_IF_ERROR(tuple_null(*sc, end, &null));
    apply_null(null.get(), sum, out);
    return Status::OK();
  }
};

Audit::Audit() : impl_(std::make_unique<Impl>()) {}
Audit::~Audit() = default;

AuditMode Audit::mode() const noexcept { return impl_->mode; }
const Profile& Audit::profile() const noexcept { return impl_->profile; }
std::size_t Audit::records() const noexcept { return impl_->count(); }
const std::vector<std::vector<std::uint32_t>>& Audit::predictions() const noexcept { return impl_->predictions; }

Status Audit::closed(const Profile& profile, std::vector<AuditRecord> records,
                     const std::vector<std::vector<std::uint32_t>>* teacher, AuditRules rules,
                     std::unique_ptr<Audit>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  if (records.empty()) return {Code::empty_input, "no suspect records to audit"};
  std::unique_ptr<Audit> a(new Audit());
  Impl& m = *a->impl_;
  m.mode = AuditMode::closed;
  m.profile = profile;
  m.rules = rules;
  const std::uint32_t h = profile.context_width;
  m.prompt_windows.reserve(records.size());
  for (const AuditRecord& r : records) {
    WindowSet w(h);
    if (rules.prompt_exclusion) w.add_windows_of(r.prompt);
    m.prompt_windows.push_back(std::move(w));
  }
  if (teacher != nullptr) {
    m.filter = std::make_unique<WindowSet>(h);
    // A scheme that scores the first positions with padded windows: the
    // teacher's answers start with those windows too.
    const Scheme* sc = nullptr;
    ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &sc));
    const auto pad = sc->pad_id(profile);
    std::vector<std::uint32_t> padded;
    for (const auto& t : *teacher) {
      if (!pad) {
        m.filter->add_windows_of(t);
        continue;
      }
      padded.assign(h, *pad);
      padded.insert(padded.end(), t.begin(), t.end());
      m.filter->add_windows_of(padded);
    }
    if (m.filter->size() == 0)
      return {Code::empty_input, "the teacher data hold no context window: the filter would drop everything"};
  }
  m.records = std::move(records);
  ISOTOPE_RETURN_IF_ERROR(m.prepare());
  *out = std::move(a);
  return Status::OK();
}

Status Audit::open(const Profile& profile, std::vector<std::vector<std::uint32_t>> teacher,
                   std::vector<std::vector<std::uint32_t>> predictions, std::uint32_t vocab_size, AuditRules rules,
                   std::unique_ptr<Audit>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  if (teacher.empty()) return {Code::empty_input, "no teacher texts to feed the suspect"};
  if (predictions.size() != teacher.size())
    return {Code::invalid_argument, "need one line of predictions per teacher text (" + std::to_string(teacher.size()) +
                                        "), got " + std::to_string(predictions.size())};
  for (std::size_t r = 0; r < teacher.size(); ++r) {
    if (predictions[r].size() != teacher[r].size())
      return {Code::invalid_argument, "predictions for teacher text " + std::to_string(r + 1) + ": need " +
                                          std::to_string(teacher[r].size()) + " (one per token), got " +
                                          std::to_string(predictions[r].size())};
    for (std::size_t i = 0; i < predictions[r].size(); ++i)
      if (predictions[r][i] >= vocab_size)
        return {Code::vocab_mismatch, "predictions for teacher text " + std::to_string(r + 1) + ", entry " +
                                          std::to_string(i) + ": token id " + std::to_string(predictions[r][i]) +
                                          " is not below the vocabulary size " + std::to_string(vocab_size)};
  }
  std::unique_ptr<Audit> a(new Audit());
  Impl& m = *a->impl_;
  m.mode = AuditMode::open;
  m.profile = profile;
  m.rules = rules;
  m.rules.prompt_exclusion = true;  // there are no prompts in reading mode: nothing to switch off
  m.teacher = std::move(teacher);
  m.predictions = std::move(predictions);
  ISOTOPE_RETURN_IF_ERROR(m.prepare());
  *out = std::move(a);
  return Status::OK();
}

Status Audit::open_with_model(const Profile& profile, std::vector<std::vector<std::uint32_t>> teacher,
                              const LanguageModel& suspect, AuditRules rules, std::unique_ptr<Audit>* out,
                              const std::function<void(std::size_t, std::size_t)>& progress) {
  std::vector<std::vector<std::uint32_t>> preds(teacher.size());
  for (std::size_t r = 0; r < teacher.size(); ++r) {
    for (std::uint32_t id : teacher[r])
      if (id >= suspect.vocab_size())
        return {Code::vocab_mismatch, "teacher text " + std::to_string(r + 1) + " holds token id " +
                                          std::to_string(id) + ", beyond the suspect's vocabulary (" +
                                          std::to_string(suspect.vocab_size()) + ")"};
    ISOTOPE_RETURN_IF_ERROR(predict_top1(suspect, teacher[r], &preds[r]));
    if (progress) progress(r + 1, teacher.size());
  }
  return open(profile, std::move(teacher), std::move(preds), suspect.vocab_size(), rules, out);
}

std::size_t Audit::admitted() const noexcept { return impl_->tuples.size(); }

Status Audit::run(const Key& key, AuditResult* out, std::size_t limit, std::vector<TokenScores>* masks) const {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  const Impl& m = *impl_;
  const std::size_t n = limit == 0 ? m.count() : std::min(limit, m.count());
  std::vector<double> scores;
  AuditResult res;
  ISOTOPE_RETURN_IF_ERROR(
      m.result(key, n, &res.detection, masks != nullptr ? &scores : nullptr, &res.routed_to_accounts));
  res.route_alpha = m.alpha;
  if (masks != nullptr) *masks = m.masks_of(scores, n);
  res.mode = m.mode;
  res.records = n;
  res.filter = m.filter != nullptr;
  res.filter_windows = m.filter != nullptr ? m.filter->size() : 0;
  res.rules = m.rules;
  res.warnings = audit_warnings(m.mode, m.profile, res.detection.scored);
  *out = res;
  return Status::OK();
}

Status Audit::control(const ControlSeed& seed, std::uint32_t n, ControlResult* out,
                      const std::function<void(std::uint32_t, std::uint32_t)>& progress, const ControlMasksFn& masks,
                      unsigned threads, const ControlScoresFn& tuple_scores) const {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  const Impl& m = *impl_;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const Scheme* scheme = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(m.profile, &scheme));
  const std::size_t engine_ints = scheme->engine_key_ints(m.profile);
  ControlResult c;
  c.log10_p.assign(n, 0.0);
  std::vector<double> ps(n, 1.0);
  // Keys are scored `batch` at a time, each by one thread, into its own slot;
  // callbacks run afterwards on this thread, in index order.
  const std::uint32_t batch = masks ? std::max(1u, threads) : n;
  for (std::uint32_t first = 0; first < n; first += batch) {
    const std::uint32_t last = std::min(n, first + batch);
    std::vector<std::vector<double>> scores(masks ? last - first : 0);
    std::vector<Status> errors(std::max(1u, threads));
    std::atomic<std::uint32_t> next{first};
    auto work = [&](unsigned t) {
      try {
        std::vector<double> own;  // this thread's tuple scores (tuple_scores)
        for (std::uint32_t i = next++; i < last; i = next++) {
          Key k;
          Status st = audit_control_key(seed, i, &k, engine_ints);
          DetectionResult r;
          std::vector<double>* keep = masks ? &scores[i - first] : tuple_scores ? &own : nullptr;
          if (st.ok()) st = m.result(k, m.count(), &r, keep);
          if (!st.ok()) {
            errors[t] = st;
            return;
          }
          if (tuple_scores) tuple_scores(i, *keep);
          c.log10_p[i] = r.log10_p;
          ps[i] = r.p_value;
        }
      } catch (const std::bad_alloc&) {
        errors[t] = {Code::out_of_memory, "out of memory while scoring control keys"};
      }
    };
    const unsigned nt = std::min<unsigned>(threads, last - first);
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < nt; ++t) pool.emplace_back(work, t);
    work(0);
    for (std::thread& th : pool) th.join();
    for (const Status& st : errors) ISOTOPE_RETURN_IF_ERROR(st);
    if (masks)
      for (std::uint32_t i = first; i < last; ++i) masks(i, m.masks_of(scores[i - first], m.count()));
    if (progress) progress(last, n);
  }
  c = control_summary(std::move(c.log10_p), ps);
  *out = std::move(c);
  return Status::OK();
}

std::size_t AttributionResult::named() const noexcept {
  std::size_t n = 0;
  for (const AccountResult& a : accounts) n += a.named ? 1 : 0;
  return n;
}

Status Audit::set_route_alpha(double alpha) {
  ISOTOPE_RETURN_IF_ERROR(route_alpha_check(alpha));
  impl_->alpha = alpha;
  return Status::OK();
}

double Audit::route_alpha() const noexcept { return impl_->alpha; }

Status Audit::attribute(const Key& master, std::span<const std::string> ids, double level, AttributionResult* out,
                        unsigned threads, const std::function<void(std::size_t, std::size_t)>& progress) const {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  const Impl& m = *impl_;
  if (!(m.alpha > 0.0))
    return {Code::invalid_argument, "attribution needs a routing share alpha > 0 (set_route_alpha)"};
  if (!(level > 0.0 && level < 1.0)) return {Code::invalid_argument, "the naming level must lie in (0, 1)"};
  if (ids.empty()) return {Code::empty_input, "no candidate accounts to test"};
  {
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (Status st = account_id_check(ids[i]); !st.ok())
        return {st.code(), "candidate account " + std::to_string(i + 1) + ": " + st.message()};
      if (!seen.insert(ids[i]).second)
        return {Code::invalid_argument, "candidate account " + std::to_string(i + 1) + " is listed twice"};
    }
  }
  const Scheme* sc = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(m.profile, &sc));
  std::unique_ptr<Router> router;
  ISOTOPE_RETURN_IF_ERROR(Router::create(master, m.alpha, &router));
  // The route runs once: every account scores the same gathered tuples.
  const std::size_t n = m.count();
  Impl::Subset theirs = m.routed(*router, n == 0 ? 0 : m.record_end[n - 1], true);
  AttributionResult res;
  res.route_alpha = m.alpha;
  res.level = level;
  res.routed = theirs.index.size();
  res.nested = sc->nests_accounts(m.profile);
  Profile test;  // the profile of every account's test
  ISOTOPE_RETURN_IF_ERROR(sc->account_profile(m.profile, &test));
  if (res.nested) {
    // Nested: the accounts' tests score the routed tuples the master key
    // scores non-zero (KGW: master-green), the same for every account.
    std::unique_ptr<TupleScorer> ms;
    ISOTOPE_RETURN_IF_ERROR(sc->make_scorer(master, m.profile, &ms));
    std::vector<double> v;
    double ignored = 0.0;
    ISOTOPE_RETURN_IF_ERROR(Impl::score_subset(*ms, theirs, &ignored, &v));
    Impl::Subset kept;
    for (std::size_t j = 0; j < v.size(); ++j)
      if (v[j] != 0.0) kept.add(theirs.windows.data(), theirs.tokens.data(), j, m.tuples.width, theirs.index[j]);
    theirs = std::move(kept);
  }
  res.tested = theirs.index.size();
  res.accounts.resize(ids.size());
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const auto nt = static_cast<unsigned>(std::min<std::size_t>(threads, ids.size()));
  std::vector<Status> errors(nt);
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  auto work = [&](unsigned t) {
    try {
      for (std::size_t i = next++; i < ids.size(); i = next++) {
        Key k;
        std::unique_ptr<TupleScorer> scorer;
        double sum = 0.0;
        Status st = account_key(master, ids[i], &k);
        if (st.ok()) st = sc->make_scorer(k, test, &scorer);
        if (st.ok()) st = Impl::score_subset(*scorer, theirs, &sum, nullptr);
        if (st.ok()) st = m.finish(n, sum, theirs.index.size(), &res.accounts[i].detection, &test);
        if (!st.ok()) {
          errors[t] = st;
          return;
        }
        res.accounts[i].id = ids[i];
        ++done;
        if (t == 0 && progress) progress(done.load(), ids.size());
      }
    } catch (const std::bad_alloc&) {
      errors[t] = {Code::out_of_memory, "out of memory while scoring candidate accounts"};
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < nt; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& th : pool) th.join();
  for (const Status& st : errors) ISOTOPE_RETURN_IF_ERROR(st);
  if (progress) progress(ids.size(), ids.size());
  {  // every account scored the same tuples: one null for all
    std::unique_ptr<TupleNull> null;
    ISOTOPE_RETURN_IF_ERROR(
        m.tuple_null(theirs.windows.data(), theirs.tokens.data(), theirs.tokens.size(), &null, &test));
    for (std::size_t i = 0; i < ids.size(); ++i)
      Impl::apply_null(null.get(), res.accounts[i].detection.statistic, &res.accounts[i].detection);
  }
  std::vector<double> lp(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) lp[i] = res.accounts[i].detection.log10_p;
  const std::vector<double> adj = holm_log10(lp);
  const double log_level = std::log10(level);
  const bool valid = m.rules.dedup && m.rules.prompt_exclusion;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    res.accounts[i].log10_p_corrected = adj[i];
    // A switched-off validity rule makes no p-value valid: nothing is named.
    res.accounts[i].named = valid && res.tested > 0 && adj[i] <= log_level;
  }
  if (res.tested < AUDIT_MIN_SCORED)
    res.warnings.push_back("only " + std::to_string(res.tested) + " tuples were tested for the accounts (fewer than " +
                           std::to_string(AUDIT_MIN_SCORED) +
                           "): too few for the account tests to have power; an account not named means little");
  *out = std::move(res);
  return Status::OK();
}

}  // namespace isotope
