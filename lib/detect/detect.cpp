#include "isotope/detect.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "detect/tuple_set.hpp"

namespace isotope {

// ---------------------------------------------------------------- WindowSet

struct WindowSet::Impl {
  explicit Impl(std::uint32_t w) : set(w == 0 ? 1 : w), width(w) {}
  detail::TupleSet set;  // width 0: the ids themselves, as 1-tuples
  std::uint32_t width;
};

WindowSet::WindowSet(std::uint32_t width) : impl_(std::make_unique<Impl>(width)) {}
WindowSet::~WindowSet() = default;
WindowSet::WindowSet(WindowSet&&) noexcept = default;
WindowSet& WindowSet::operator=(WindowSet&&) noexcept = default;

std::uint32_t WindowSet::width() const noexcept { return impl_->width; }

void WindowSet::add_windows_of(std::span<const std::uint32_t> ids) {
  const std::size_t h = width();
  if (h == 0) {  // every window is empty: keep the tokens (prompt exclusion at h = 0)
    for (std::size_t i = 0; i < ids.size(); ++i) impl_->set.insert(ids.subspan(i, 1));
    return;
  }
  for (std::size_t i = h; i <= ids.size(); ++i) impl_->set.insert(ids.subspan(i - h, h));
}

bool WindowSet::contains_token(std::uint32_t token) const noexcept {
  return width() == 0 && impl_->set.contains(std::span<const std::uint32_t>(&token, 1));
}

bool WindowSet::insert(std::span<const std::uint32_t> window) {
  return width() > 0 && window.size() == width() && impl_->set.insert(window);
}
bool WindowSet::contains(std::span<const std::uint32_t> window) const noexcept {
  return width() > 0 && window.size() == width() && impl_->set.contains(window);
}
std::size_t WindowSet::size() const noexcept { return width() == 0 ? 0 : impl_->set.size(); }
void WindowSet::clear() noexcept { impl_->set.clear(); }

// ---------------------------------------------------------------- Scorer

struct Scorer::Impl {
  Impl(std::uint32_t h) : seen(h + 1), text_windows(h) {}
  const Scheme* scheme = nullptr;
  std::unique_ptr<TupleScorer> tuple_scorer;  // null: collector
  std::unique_ptr<TupleNull> null;            // schemes whose null depends on the tuples
  AdmittedTuples collected;
  Profile profile;
  ScoreRules rules;
  detail::TupleSet seen;             // (window, token) tuples (or windows: dedup_by_window)
                                     // already scored
  std::uint32_t dedup_width = 0;     // h + 1, or h when the scheme deduplicates by window
  std::optional<std::uint32_t> pad;  // the scheme's pad id: positions i < h are scored too
  std::vector<std::uint32_t> padded;
  detail::TupleSet text_windows;  // windows of the current text (reading mode)
  DetectionResult counts;
  double statistic = 0.0;         // sum of the scores, in scoring order
  // Batch of tuples waiting for their scores.
  std::vector<std::uint32_t> windows;  // h ids per tuple
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint32_t> positions;
  std::vector<double> scores;

  // The rules, in order: prompt, filter, dedup. True if the tuple is to be scored.
  // `hash`, if given, is TupleSet::hash(tuple), computed by the caller.
  bool admit(std::span<const std::uint32_t> tuple, const WindowSet* exclude, const WindowSet* require,
             const std::uint64_t* hash = nullptr) {
    const auto window = tuple.first(tuple.size() - 1);
    // At h = 0 the empty window occurs in every prompt: exclude by the token instead.
    const bool in_prompt = exclude != nullptr && (window.empty() ? exclude->contains_token(tuple.back())
                                                                 : exclude->contains(window));
    if (in_prompt) {
      ++counts.skipped_prompt;
      return false;
    }
    if (require != nullptr && !require->contains(window)) {
      ++counts.skipped_filter;
      return false;
    }
    const auto key = tuple.first(dedup_width);
    if (rules.dedup && !(hash != nullptr ? seen.insert(key, *hash) : seen.insert(key))) {
      ++counts.skipped_duplicate;
      return false;
    }
    return true;
  }

  void queue(std::span<const std::uint32_t> window, std::uint32_t token, std::uint32_t pos) {
    windows.insert(windows.end(), window.begin(), window.end());
    tokens.push_back(token);
    positions.push_back(pos);
  }

  Status flush(TokenScores* mask) {
    if (!tuple_scorer) {  // collector: keep the tuples
      collected.windows.insert(collected.windows.end(), windows.begin(), windows.end());
      collected.tokens.insert(collected.tokens.end(), tokens.begin(), tokens.end());
      collected.positions.insert(collected.positions.end(), positions.begin(), positions.end());
      counts.scored += tokens.size();
      windows.clear();
      tokens.clear();
      positions.clear();
      return Status::OK();
    }
    if (null) null->add(windows.data(), tokens.data(), tokens.size());
    scores.resize(tokens.size());
    if (!tokens.empty())
      ISOTOPE_RETURN_IF_ERROR(tuple_scorer->score(windows.data(), tokens.data(), tokens.size(), scores.data()));
    for (std::size_t j = 0; j < scores.size(); ++j) {
      statistic += scores[j];
      if (mask != nullptr) (*mask)[positions[j]] = scores[j];
    }
    counts.scored += scores.size();
    windows.clear();
    tokens.clear();
    positions.clear();
    return Status::OK();
  }

  // The scheme's own rules: what dedup compares, and the pad id.
  void set_scheme_rules() {
    const std::uint32_t h = profile.context_width;
    dedup_width = scheme->dedup_by_window(profile) ? h : h + 1;
    if (dedup_width == 0) dedup_width = 1;
    seen = detail::TupleSet(dedup_width);
    pad = scheme->pad_id(profile);
  }
  // The ids to score: `ids`, or with h pad ids in front for a padding scheme
  // (then position i of the result is position i - h of `ids`).
  std::span<const std::uint32_t> with_pad(std::span<const std::uint32_t> ids) {
    if (!pad) return ids;
    padded.assign(profile.context_width, *pad);
    padded.insert(padded.end(), ids.begin(), ids.end());
    return padded;
  }

  Status check_exclude(const WindowSet* exclude, const WindowSet* require) const {
    const std::uint32_t h = profile.context_width;
    if ((exclude != nullptr && exclude->width() != h) || (require != nullptr && require->width() != h))
      return {Code::invalid_argument, "window set width differs from the profile's context width"};
    return Status::OK();
  }
};

bool significant(double log10_p, double threshold) noexcept {
  return threshold > 0.0 && log10_p <= std::log10(threshold);
}

bool is_watermarked(const DetectionResult& r, double threshold) noexcept {
  return r.scored > 0 && significant(r.log10_p, threshold);
}

Status result_from_statistic(const Profile& profile, double statistic, std::uint64_t scored, DetectionResult* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  const Scheme* s = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &s));
  DetectionResult& r = *out;
  r.scheme = profile.scheme;
  r.scored = scored;
  r.statistic = statistic;
  r.trials = s->trials(profile, scored);
  r.null_mean = s->null_mean(profile);
  const std::optional<double> green_rate = s->green_rate(profile);  // a green-list scheme (KGW)
  r.gamma = green_rate.value_or(0.0);
  r.green = green_rate ? static_cast<std::uint64_t>(statistic) : 0;
  r.green_fraction = green_rate && scored > 0 ? statistic / static_cast<double>(scored) : 0.0;
  r.mean_score = r.trials == 0 ? 0.0 : statistic / static_cast<double>(r.trials);
  if (green_rate) {
    r.z = binomial_z(r.green, scored, r.gamma);
  } else {
    const double var = static_cast<double>(r.trials) * s->null_variance(profile);
    r.z = r.trials == 0 ? 0.0 : (statistic - static_cast<double>(r.trials) * r.null_mean) / std::sqrt(var);
  }
  const Tail t = s->tail(profile, statistic, scored);
  r.log10_p = t.log10_p;
  r.p_value = t.p_value;
  return Status::OK();
}

Scorer::Scorer() = default;
Scorer::~Scorer() = default;

Status Scorer::create(const Key& key, const Profile& profile, std::unique_ptr<Scorer>* out, ScoreRules rules) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  std::unique_ptr<Scorer> s(new Scorer());
  s->impl_ = std::make_unique<Impl>(profile.context_width);
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &s->impl_->scheme));
  ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, s->impl_->scheme->engine_key_ints(profile), profile.scheme));
  ISOTOPE_RETURN_IF_ERROR(s->impl_->scheme->make_scorer(key, profile, &s->impl_->tuple_scorer));
  ISOTOPE_RETURN_IF_ERROR(s->impl_->scheme->make_tuple_null(profile, &s->impl_->null));
  s->impl_->profile = profile;
  s->impl_->rules = rules;
  s->impl_->set_scheme_rules();
  *out = std::move(s);
  return Status::OK();
}

Status Scorer::create_collector(const Profile& profile, std::unique_ptr<Scorer>* out, ScoreRules rules) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  std::unique_ptr<Scorer> s(new Scorer());
  s->impl_ = std::make_unique<Impl>(profile.context_width);
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &s->impl_->scheme));
  s->impl_->profile = profile;
  s->impl_->rules = rules;
  s->impl_->set_scheme_rules();
  s->impl_->collected.width = profile.context_width;
  *out = std::move(s);
  return Status::OK();
}

AdmittedTuples Scorer::take_tuples() {
  AdmittedTuples t = std::move(impl_->collected);
  impl_->collected = AdmittedTuples{};
  impl_->collected.width = impl_->profile.context_width;
  return t;
}

const Profile& Scorer::profile() const noexcept { return impl_->profile; }
const ScoreRules& Scorer::rules() const noexcept { return impl_->rules; }

Status Scorer::add(std::span<const std::uint32_t> ids_in, const WindowSet* exclude, const WindowSet* require,
                   TokenScores* mask) {
  Impl& m = *impl_;
  ISOTOPE_RETURN_IF_ERROR(m.check_exclude(exclude, require));
  const std::size_t h = m.profile.context_width;
  if (mask != nullptr) mask->assign(ids_in.size(), std::nan(""));
  m.counts.tokens += ids_in.size();
  // A padding scheme scores every position: its first h windows are padded.
  const std::span<const std::uint32_t> ids = m.with_pad(ids_in);
  const std::size_t shift = m.pad ? h : 0;
  m.counts.skipped_short += m.pad ? 0 : std::min(h, ids.size());
  if (m.rules.dedup) m.seen.reserve(m.seen.size() + ids.size());
  // The dedup memory is a large hash table: ask for the slot of the tuple a
  // few positions ahead so that its cache miss overlaps with this work.
  // Each hash is computed once: AHEAD positions early, kept in a ring.
  constexpr std::size_t AHEAD = 8;
  std::uint64_t ring[AHEAD] = {};
  const std::size_t dw = m.dedup_width;
  const auto hash_at = [&](std::size_t i) { return detail::TupleSet::hash(ids.subspan(i - h, dw)); };
  if (m.rules.dedup)
    for (std::size_t i = h; i < ids.size() && i < h + AHEAD; ++i) ring[i % AHEAD] = hash_at(i);
  for (std::size_t i = h; i < ids.size(); ++i) {
    const auto tuple = ids.subspan(i - h, h + 1);
    const std::uint64_t hash = ring[i % AHEAD];
    if (m.rules.dedup && i + AHEAD < ids.size()) {
      ring[i % AHEAD] = hash_at(i + AHEAD);  // (i + AHEAD) % AHEAD == i % AHEAD: the slot just read
      m.seen.prefetch(ring[i % AHEAD]);
    }
    if (m.admit(tuple, exclude, require, m.rules.dedup ? &hash : nullptr))
      m.queue(tuple.first(h), ids[i], static_cast<std::uint32_t>(i - shift));
  }
  return m.flush(mask);
}

Status Scorer::add_predictions(std::span<const std::uint32_t> ids_in, std::span<const std::uint32_t> predicted,
                               const WindowSet* exclude, const WindowSet* require, TokenScores* mask) {
  Impl& m = *impl_;
  ISOTOPE_RETURN_IF_ERROR(m.check_exclude(exclude, require));
  if (predicted.size() != ids_in.size())
    return {Code::invalid_argument, "need one prediction per input token (" + std::to_string(ids_in.size()) +
                                        "), got " + std::to_string(predicted.size())};
  const std::size_t h = m.profile.context_width;
  if (mask != nullptr) mask->assign(ids_in.size(), std::nan(""));
  m.counts.tokens += ids_in.size();
  const std::span<const std::uint32_t> ids = m.with_pad(ids_in);
  const std::size_t shift = m.pad ? h : 0;
  m.counts.skipped_short += m.pad ? 0 : std::min(h, ids.size());
  m.text_windows.clear();
  std::vector<std::uint32_t> tuple(h + 1);
  for (std::size_t i = h; i < ids.size(); ++i) {
    const auto window = ids.subspan(i - h, h);
    // A window seen earlier in the same text lets the suspect copy what
    // followed it there: such positions say nothing about training.
    if (m.rules.dedup && !m.text_windows.insert(window)) {
      ++m.counts.skipped_duplicate;
      continue;
    }
    std::copy(window.begin(), window.end(), tuple.begin());
    tuple[h] = predicted[i - shift];
    if (m.admit(tuple, exclude, require)) m.queue(window, predicted[i - shift], static_cast<std::uint32_t>(i - shift));
  }
  return m.flush(mask);
}

DetectionResult Scorer::result() const {
  DetectionResult r = impl_->counts;
  // The profile was validated at create(): its scheme is known.
  (void)result_from_statistic(impl_->profile, impl_->statistic, r.scored, &r);
  if (impl_->null) {
    const Tail t = impl_->null->tail(impl_->statistic);
    r.log10_p = t.log10_p;
    r.p_value = t.p_value;
  }
  return r;
}

void Scorer::reset() {
  impl_->counts = DetectionResult{};
  impl_->statistic = 0.0;
  impl_->seen.clear();
  if (impl_->null) impl_->null->clear();
  if (impl_->tuple_scorer) impl_->tuple_scorer->reset();
}

Status detect_ids(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids, DetectionResult* out,
                  TokenScores* mask) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  std::unique_ptr<Scorer> s;
  ISOTOPE_RETURN_IF_ERROR(Scorer::create(key, profile, &s));
  ISOTOPE_RETURN_IF_ERROR(s->add(ids, nullptr, nullptr, mask));
  *out = s->result();
  return Status::OK();
}

}  // namespace isotope
