#include "isotope/audit.hpp"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <thread>
#include <cmath>
#include <cstring>
#include <string_view>

#include "isotope/stats.hpp"

namespace isotope {

const char* audit_mode_name(AuditMode m) noexcept { return m == AuditMode::open ? "open" : "closed"; }

Status audit_control_key(const ControlSeed& seed, std::uint64_t index, Key* out, std::size_t engine_ints) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (sodium_init() < 0) return {Code::crypto, "libsodium failed to initialise"};
  static constexpr std::string_view domain = "isotope/v1/audit-control-key";
  std::uint8_t msg[domain.size() + 8];
  std::memcpy(msg, domain.data(), domain.size());
  for (int b = 0; b < 8; ++b) msg[domain.size() + b] = static_cast<std::uint8_t>(index >> (8 * b));
  std::uint8_t k[KEY_BYTES];
  if (crypto_generichash(k, sizeof k, msg, sizeof msg, seed.data(), seed.size()) != 0)
    return {Code::crypto, "BLAKE2b failed"};
  Status st = Key::from_seed(k, sizeof k, engine_ints, out);
  sodium_memzero(k, sizeof k);
  return st;
}

Status predict_top1(const LanguageModel& model, std::span<const std::uint32_t> ids, std::vector<std::uint32_t>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  out->assign(ids.size(), 0);
  for (std::size_t i = 0; i < ids.size(); ++i)
    ISOTOPE_RETURN_IF_ERROR(model.next_argmax(ids.first(i), &(*out)[i]));
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

  Status result(const Key& key, std::size_t n, DetectionResult* out, std::vector<double>* scores) const {
    const Scheme* sc = nullptr;
    ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &sc));
    ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, sc->engine_key_ints(profile), profile.scheme));
    std::unique_ptr<TupleScorer> scorer;
    ISOTOPE_RETURN_IF_ERROR(sc->make_scorer(key, profile, &scorer));
    const std::size_t end = n == 0 ? 0 : record_end[n - 1];
    double sum = 0.0;
    ISOTOPE_RETURN_IF_ERROR(score(*scorer, end, &sum, scores));
    DetectionResult r = n == 0 ? DetectionResult{} : counts_after[n - 1];
    ISOTOPE_RETURN_IF_ERROR(result_from_statistic(profile, sum, r.scored, &r));
    *out = r;
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
  ISOTOPE_RETURN_IF_ERROR(m.result(key, n, &res.detection, masks != nullptr ? &scores : nullptr));
  if (masks != nullptr) *masks = m.masks_of(scores, n);
  res.mode = m.mode;
  res.records = n;
  res.filter = m.filter != nullptr;
  res.filter_windows = m.filter != nullptr ? m.filter->size() : 0;
  res.rules = m.rules;
  if (m.mode == AuditMode::open && m.profile.context_width == 0)
    res.warnings.push_back("at context width 0 the reading mode scores only the first position of each text (every "
                           "later window repeats the empty one), so this test has almost no power");
  if (res.detection.scored < AUDIT_MIN_SCORED)
    res.warnings.push_back("only " + std::to_string(res.detection.scored) + " tuples were scored (fewer than " +
                           std::to_string(AUDIT_MIN_SCORED) +
                           "): too few for the test to have power; a 'no evidence' answer means little");
  *out = res;
  return Status::OK();
}

Status Audit::control(const ControlSeed& seed, std::uint32_t n, ControlResult* out,
                      const std::function<void(std::uint32_t, std::uint32_t)>& progress,
                      const ControlMasksFn& masks, unsigned threads) const {
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
        for (std::uint32_t i = next++; i < last; i = next++) {
          Key k;
          Status st = audit_control_key(seed, i, &k, engine_ints);
          DetectionResult r;
          if (st.ok()) st = m.result(k, m.count(), &r, masks ? &scores[i - first] : nullptr);
          if (!st.ok()) {
            errors[t] = st;
            return;
          }
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
  for (std::uint32_t i = 0; i < n; ++i)
    if (ps[i] < 0.05) ++c.below_0_05;
  c.ks_p = n == 0 ? 1.0 : ks_uniform_pvalue(ps);
  *out = std::move(c);
  return Status::OK();
}

}  // namespace isotope
