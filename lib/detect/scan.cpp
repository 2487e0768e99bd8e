// Windowed detection (isotope/detect.hpp, "Scan"): every window of a fixed
// dyadic family scored on its own, Bonferroni over the family.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "isotope/detect.hpp"

namespace isotope {

namespace {

// Calls f(start, end) for every window of the family, shortest lengths first,
// earlier starts first; the whole document last.
template <class F>
void for_each_window(std::uint64_t t, std::uint32_t min_length, F&& f) {
  if (t == 0) return;
  for (std::uint64_t len = min_length; len < t; len *= 2) {
    const std::uint64_t stride = len / 2;
    std::uint64_t s = 0;
    for (; s + len <= t; s += stride) f(s, s + len);
    const std::uint64_t last_end = s - stride + len;  // s > 0 here: len < t
    if (last_end < t) f(t - len, t);
  }
  f(0, t);
}

}  // namespace

std::uint64_t scan_window_count(std::uint64_t tokens, std::uint32_t min_length) noexcept {
  if (min_length < 2 || min_length % 2 != 0) return 0;
  std::uint64_t m = 0;
  for_each_window(tokens, min_length, [&](std::uint64_t, std::uint64_t) { ++m; });
  return m;
}

Status scan_ids(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids, const WindowSet* exclude,
                const ScanOptions& options, ScanResult* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (options.min_length < 2 || options.min_length % 2 != 0)
    return {Code::invalid_argument, "the scan's shortest window must be an even number of tokens >= 2, got " +
                                        std::to_string(options.min_length)};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  const Scheme* scheme = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &scheme));
  const std::size_t h = profile.context_width;
  if (exclude != nullptr && exclude->width() != h)
    return {Code::invalid_argument, "window set width differs from the profile's context width"};
  const std::size_t t = ids.size();

  // Per position i >= h: excluded by the prompt, and prev[i], the last
  // earlier position holding the same (context, token) tuple (or none). A
  // window [s, e) counts position i iff it is not excluded and prev[i] < s:
  // the tuple's first occurrence inside the window.
  constexpr std::uint64_t NONE = ~std::uint64_t{0};
  std::vector<std::uint64_t> prev(t, NONE);
  std::vector<char> excluded(t, 0);
  std::vector<std::uint32_t> order;  // positions i >= h holding a tuple
  for (std::size_t i = h; i < t; ++i) {
    const auto window = ids.subspan(i - h, h);
    excluded[i] = exclude != nullptr && (h == 0 ? exclude->contains_token(ids[i]) : exclude->contains(window));
    if (!excluded[i]) order.push_back(static_cast<std::uint32_t>(i));
  }
  if (options.rules.dedup) {
    // Exact: sort the positions by their tuple (then by position); equal
    // neighbours are repeats.
    const auto tuple = [&](std::uint32_t i) { return ids.subspan(i - h, h + 1); };
    std::vector<std::uint32_t> sorted = order;
    std::sort(sorted.begin(), sorted.end(), [&](std::uint32_t a, std::uint32_t b) {
      const auto ta = tuple(a), tb = tuple(b);
      if (std::lexicographical_compare(ta.begin(), ta.end(), tb.begin(), tb.end())) return true;
      if (std::lexicographical_compare(tb.begin(), tb.end(), ta.begin(), ta.end())) return false;
      return a < b;
    });
    for (std::size_t j = 1; j < sorted.size(); ++j) {
      const auto a = tuple(sorted[j - 1]), b = tuple(sorted[j]);
      if (std::equal(a.begin(), a.end(), b.begin())) prev[sorted[j]] = sorted[j - 1];
    }
  }

  // Every admitted tuple's score, once (a tuple's score depends on the tuple
  // only).
  std::unique_ptr<TupleScorer> scorer;
  ISOTOPE_RETURN_IF_ERROR(scheme->make_scorer(key, profile, &scorer));
  std::vector<std::uint32_t> windows, tokens;
  windows.reserve(order.size() * h);
  tokens.reserve(order.size());
  for (std::uint32_t i : order) {
    windows.insert(windows.end(), ids.begin() + (i - h), ids.begin() + i);
    tokens.push_back(ids[i]);
  }
  std::vector<double> tuple_scores(tokens.size());
  if (!tokens.empty())
    ISOTOPE_RETURN_IF_ERROR(scorer->score(windows.data(), tokens.data(), tokens.size(), tuple_scores.data()));
  std::vector<double> score(t, 0.0);
  for (std::size_t j = 0; j < order.size(); ++j) score[order[j]] = tuple_scores[j];

  ScanResult r;
  r.min_length = options.min_length;
  bool have = false;
  DetectionResult w;
  std::uint64_t best_s = 0, best_e = 0;
  std::uint64_t m = 0;
  for_each_window(t, options.min_length, [&](std::uint64_t s, std::uint64_t e) {
    ++m;
    double statistic = 0.0;  // in position order, as plain detection sums it
    std::uint64_t scored = 0, dup = 0, prompt = 0;
    for (std::uint64_t i = std::max<std::uint64_t>(s, h); i < e; ++i) {
      if (excluded[i]) {
        ++prompt;
      } else if (options.rules.dedup && prev[i] != NONE && prev[i] >= s) {
        ++dup;
      } else {
        statistic += score[i];
        ++scored;
      }
    }
    const Tail tail = scheme->tail(profile, statistic, scored);
    if (have && !(tail.log10_p < w.log10_p)) return;
    have = true;
    best_s = s;
    best_e = e;
    w = DetectionResult{};
    w.tokens = e - s;
    w.skipped_short = s < h ? std::min<std::uint64_t>(h, e) - s : 0;
    w.skipped_duplicate = dup;
    w.skipped_prompt = prompt;
    (void)result_from_statistic(profile, statistic, scored,
                                &w);  // the profile was validated above
  });
  r.windows = m;
  r.start = best_s;
  r.end = best_e;
  if (!have) {  // no tokens: nothing scored, p = 1
    (void)result_from_statistic(profile, 0.0, 0, &w);
  }
  r.window = w;
  r.log10_p = std::min(0.0, w.log10_p + std::log10(static_cast<double>(std::max<std::uint64_t>(m, 1))));
  r.p_value = std::pow(10.0, r.log10_p);
  *out = r;
  return Status::OK();
}

}  // namespace isotope
