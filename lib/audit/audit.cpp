#include "isotope/audit.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "isotope/stats.hpp"

namespace isotope {

const char* audit_mode_name(AuditMode m) noexcept { return m == AuditMode::open ? "open" : "closed"; }

Status audit_control_key(const ControlSeed& seed, std::uint64_t index, Key* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (sodium_init() < 0) return {Code::crypto, "libsodium failed to initialise"};
  static constexpr std::string_view domain = "isotope/v1/audit-control-key";
  std::uint8_t msg[domain.size() + 8];
  std::memcpy(msg, domain.data(), domain.size());
  for (int b = 0; b < 8; ++b) msg[domain.size() + b] = static_cast<std::uint8_t>(index >> (8 * b));
  std::uint8_t k[KEY_BYTES];
  if (crypto_generichash(k, sizeof k, msg, sizeof msg, seed.data(), seed.size()) != 0)
    return {Code::crypto, "BLAKE2b failed"};
  Status st = Key::from_bytes(k, sizeof k, out);
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

  std::size_t count() const { return mode == AuditMode::closed ? records.size() : teacher.size(); }
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
    for (const auto& t : *teacher) m.filter->add_windows_of(t);
    if (m.filter->size() == 0)
      return {Code::empty_input, "the teacher data hold no context window: the filter would drop everything"};
  }
  m.records = std::move(records);
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

Status Audit::run(const Key& key, AuditResult* out, std::size_t limit, std::vector<TokenScores>* masks) const {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  const Impl& m = *impl_;
  std::unique_ptr<Scorer> s;
  ISOTOPE_RETURN_IF_ERROR(Scorer::create(key, m.profile, &s, {.dedup = m.rules.dedup}));
  const std::size_t n = limit == 0 ? m.count() : std::min(limit, m.count());
  std::vector<TokenScores> ms;
  if (masks != nullptr) ms.resize(n);
  auto mask_of = [&](std::size_t r) { return masks != nullptr ? &ms[r] : nullptr; };
  if (m.mode == AuditMode::closed) {
    for (std::size_t r = 0; r < n; ++r)
      ISOTOPE_RETURN_IF_ERROR(s->add(m.records[r].response, m.rules.prompt_exclusion ? &m.prompt_windows[r] : nullptr,
                                     m.filter.get(), mask_of(r)));
  } else {
    for (std::size_t r = 0; r < n; ++r)
      ISOTOPE_RETURN_IF_ERROR(s->add_predictions(m.teacher[r], m.predictions[r], nullptr, nullptr, mask_of(r)));
  }
  if (masks != nullptr) *masks = std::move(ms);
  AuditResult res;
  res.mode = m.mode;
  res.detection = s->result();
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
                      const ControlMasksFn& masks) const {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ControlResult c;
  c.log10_p.reserve(n);
  std::vector<double> ps;
  ps.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    Key k;
    ISOTOPE_RETURN_IF_ERROR(audit_control_key(seed, i, &k));
    AuditResult r;
    std::vector<TokenScores> ms;
    ISOTOPE_RETURN_IF_ERROR(run(k, &r, 0, masks ? &ms : nullptr));
    if (masks) masks(i, ms);
    c.log10_p.push_back(r.detection.log10_p);
    ps.push_back(r.detection.p_value);
    if (r.detection.p_value < 0.05) ++c.below_0_05;
    if (progress) progress(i + 1, n);
  }
  c.ks_p = n == 0 ? 1.0 : ks_uniform_pvalue(ps);
  *out = std::move(c);
  return Status::OK();
}

}  // namespace isotope
