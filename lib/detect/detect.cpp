#include "isotope/detect.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "detect/tuple_set.hpp"

namespace isotope {

// ---------------------------------------------------------------- WindowSet

struct WindowSet::Impl {
  explicit Impl(std::uint32_t w) : set(w) {}
  detail::TupleSet set;
};

WindowSet::WindowSet(std::uint32_t width) : impl_(std::make_unique<Impl>(width)) {}
WindowSet::~WindowSet() = default;
WindowSet::WindowSet(WindowSet&&) noexcept = default;
WindowSet& WindowSet::operator=(WindowSet&&) noexcept = default;

std::uint32_t WindowSet::width() const noexcept { return impl_->set.width(); }

void WindowSet::add_windows_of(std::span<const std::uint32_t> ids) {
  const std::size_t h = width();
  if (h == 0) return;  // the unigram scheme has no windows to track
  for (std::size_t i = h; i <= ids.size(); ++i) impl_->set.insert(ids.subspan(i - h, h));
}

bool WindowSet::insert(std::span<const std::uint32_t> window) { return impl_->set.insert(window); }
bool WindowSet::contains(std::span<const std::uint32_t> window) const noexcept {
  return width() > 0 && window.size() == width() && impl_->set.contains(window);
}
std::size_t WindowSet::size() const noexcept { return impl_->set.size(); }
void WindowSet::clear() noexcept { impl_->set.clear(); }

// ---------------------------------------------------------------- Scorer

struct Scorer::Impl {
  Impl(std::uint32_t h) : seen(h + 1), text_windows(h) {}
  std::unique_ptr<GreenList> list;
  Profile profile;
  ScoreRules rules;
  detail::TupleSet seen;          // (window, token) tuples already scored
  detail::TupleSet text_windows;  // windows of the current text (reading mode)
  DetectionResult counts;
  // Batch of tuples waiting for their green bits.
  std::vector<Seed> seeds;
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint32_t> positions;
  std::vector<std::uint16_t> values;

  // The rules, in order: prompt, filter, dedup. True if the tuple is to be scored.
  // `hash`, if given, is TupleSet::hash(tuple), computed by the caller.
  bool admit(std::span<const std::uint32_t> tuple, const WindowSet* exclude, const WindowSet* require,
             const std::uint64_t* hash = nullptr) {
    const auto window = tuple.first(tuple.size() - 1);
    if (exclude != nullptr && exclude->contains(window)) {
      ++counts.skipped_prompt;
      return false;
    }
    if (require != nullptr && !require->contains(window)) {
      ++counts.skipped_filter;
      return false;
    }
    if (rules.dedup && !(hash != nullptr ? seen.insert(tuple, *hash) : seen.insert(tuple))) {
      ++counts.skipped_duplicate;
      return false;
    }
    return true;
  }

  void queue(std::span<const std::uint32_t> window, std::uint32_t token, std::uint32_t pos) {
    seeds.push_back(list->seed(window));
    tokens.push_back(token);
    positions.push_back(pos);
  }

  Status flush(TokenMask* mask) {
    values.resize(tokens.size());
    if (!tokens.empty()) ISOTOPE_RETURN_IF_ERROR(list->values_at(seeds.data(), tokens.data(), tokens.size(), values.data()));
    const std::uint32_t T = list->threshold();
    std::uint64_t green = 0;
    for (std::size_t j = 0; j < values.size(); ++j) {
      const bool g = values[j] < T;
      green += g ? 1 : 0;
      if (mask != nullptr) (*mask)[positions[j]] = g ? 1 : 0;
    }
    counts.scored += values.size();
    counts.green += green;
    seeds.clear();
    tokens.clear();
    positions.clear();
    return Status::OK();
  }

  Status check_exclude(const WindowSet* exclude, const WindowSet* require) const {
    const std::uint32_t h = profile.context_width;
    if ((exclude != nullptr && exclude->width() != h) || (require != nullptr && require->width() != h))
      return {Code::invalid_argument, "window set width differs from the profile's context width"};
    return Status::OK();
  }
};

Scorer::Scorer() = default;
Scorer::~Scorer() = default;

Status Scorer::create(const Key& key, const Profile& profile, std::unique_ptr<Scorer>* out, ScoreRules rules) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  std::unique_ptr<Scorer> s(new Scorer());
  s->impl_ = std::make_unique<Impl>(profile.context_width);
  ISOTOPE_RETURN_IF_ERROR(GreenList::create(key, profile, &s->impl_->list));
  s->impl_->profile = profile;
  s->impl_->rules = rules;
  *out = std::move(s);
  return Status::OK();
}

const Profile& Scorer::profile() const noexcept { return impl_->profile; }
const ScoreRules& Scorer::rules() const noexcept { return impl_->rules; }

Status Scorer::add(std::span<const std::uint32_t> ids, const WindowSet* exclude, const WindowSet* require,
                   TokenMask* mask) {
  Impl& m = *impl_;
  ISOTOPE_RETURN_IF_ERROR(m.check_exclude(exclude, require));
  const std::size_t h = m.profile.context_width;
  if (mask != nullptr) mask->assign(ids.size(), -1);
  m.counts.tokens += ids.size();
  m.counts.skipped_short += std::min(h, ids.size());
  if (m.rules.dedup) m.seen.reserve(m.seen.size() + ids.size());
  // The dedup memory is a large hash table: ask for the slot of the tuple a
  // few positions ahead so that its cache miss overlaps with this work.
  // Each hash is computed once: AHEAD positions early, kept in a ring.
  constexpr std::size_t AHEAD = 8;
  std::uint64_t ring[AHEAD] = {};
  const auto hash_at = [&](std::size_t i) { return detail::TupleSet::hash(ids.subspan(i - h, h + 1)); };
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
      m.queue(tuple.first(h), ids[i], static_cast<std::uint32_t>(i));
  }
  return m.flush(mask);
}

Status Scorer::add_predictions(std::span<const std::uint32_t> ids, std::span<const std::uint32_t> predicted,
                               const WindowSet* exclude, const WindowSet* require, TokenMask* mask) {
  Impl& m = *impl_;
  ISOTOPE_RETURN_IF_ERROR(m.check_exclude(exclude, require));
  if (predicted.size() != ids.size())
    return {Code::invalid_argument, "need one prediction per input token (" + std::to_string(ids.size()) +
                                        "), got " + std::to_string(predicted.size())};
  const std::size_t h = m.profile.context_width;
  if (mask != nullptr) mask->assign(ids.size(), -1);
  m.counts.tokens += ids.size();
  m.counts.skipped_short += std::min(h, ids.size());
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
    tuple[h] = predicted[i];
    if (m.admit(tuple, exclude, require)) m.queue(window, predicted[i], static_cast<std::uint32_t>(i));
  }
  return m.flush(mask);
}

DetectionResult Scorer::result() const {
  DetectionResult r = impl_->counts;
  r.gamma = impl_->profile.gamma_effective();
  r.green_fraction = r.scored == 0 ? 0.0 : static_cast<double>(r.green) / static_cast<double>(r.scored);
  r.z = binomial_z(r.green, r.scored, r.gamma);
  const Tail t = binomial_upper_tail(r.green, r.scored, r.gamma);
  r.log10_p = t.log10_p;
  r.p_value = t.p_value;
  return r;
}

void Scorer::reset() {
  impl_->counts = DetectionResult{};
  impl_->seen.clear();
}

Status detect_ids(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids, DetectionResult* out,
                  TokenMask* mask) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  std::unique_ptr<Scorer> s;
  ISOTOPE_RETURN_IF_ERROR(Scorer::create(key, profile, &s));
  ISOTOPE_RETURN_IF_ERROR(s->add(ids, nullptr, nullptr, mask));
  *out = s->result();
  return Status::OK();
}

}  // namespace isotope
