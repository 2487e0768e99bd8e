// Sampling with and without the watermark.
//
// Order of operations, as in Hugging Face's generate(): the watermark bias is
// added to the raw logits, then temperature, then top-k, then top-p; greedy is
// the argmax of the biased logits. Ties are broken by the lower token id.
//
// Full-vocabulary sampling: block by block, the keystream gives the green
// bits, one pass writes the biased logits and finds their max, one computes
// the weights and their sum; the draw finds its block, then its token.
// Top-k (and greedy = top-1): one block in eight, spread over the vocabulary,
// goes through a heap of the k best raw logits; from it a threshold a little
// below the k-th best is extrapolated, and the other blocks are only
// collected at or above it (checked afterwards: if fewer than k tokens reach
// it, the heap takes the rest; top_k_plain). With the watermark, the
// threshold is instead about the lowest raw logit that might still enter the
// biased top k (scan_top_k_marked); only the collected tokens are looked up,
// best raw logit first, and only their green bits are computed
// (top_k_biased). Small vocabularies and large k use the heap throughout.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "isotope/watermark.hpp"
#include "watermark/kernels.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {

// ---------------------------------------------------------------- Rng

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(std::uint64_t seed) noexcept {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t Rng::next_u64() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::next_double() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

// ---------------------------------------------------------------- core

namespace {

struct Cand {
  float v;
  std::uint32_t id;
};
// "a is better than b": higher value, then lower id. A function object, so
// that the standard algorithms inline it.
struct Better {
  bool operator()(const Cand& a, const Cand& b) const { return a.v > b.v || (a.v == b.v && a.id < b.id); }
};
constexpr Better better{};

using kernels::order_key;
inline Cand from_key(std::uint64_t key) {
  std::uint32_t u = ~static_cast<std::uint32_t>(key >> 32);
  u = (u & 0x80000000u) != 0 ? (u & 0x7fffffffu) : ~u;
  Cand c{0.0f, static_cast<std::uint32_t>(key)};
  std::memcpy(&c.v, &u, sizeof u);
  return c;
}

// Where green bits come from: nothing (plain sampling) or a keyed green list.
struct GreenSource {
  GreenList* list = nullptr;
  Seed seed{};
  float delta = 0.0f;
  std::uint32_t threshold = 0;
  bool active() const { return list != nullptr; }
};

struct Scratch {
  std::vector<std::uint16_t> values;  // green-list values of the whole vocabulary
  std::vector<float> w;               // weights
  std::vector<float> block_sums;      // per block, in the block's own units
  std::vector<float> block_max;       // per block, max of the biased logits
  std::vector<double> scale;          // per block, exp((block max - global max) / T)
  std::vector<Cand> heap;
  std::vector<Cand> cands;
  std::vector<std::uint32_t> ids;
  std::vector<std::uint32_t> hits;      // token ids found by collect_ge (never shrinks)
  std::size_t stride = 1;               // scan_top_k_marked: one block in `stride` is scanned first ("warm"),
  std::vector<float> group_max;         // ... the max logit of each group of kernels::GROUP tokens,
  std::vector<std::uint32_t> late_ids;  // ... the later tokens at or above a collection threshold
  std::vector<float> late_logits;       // ... and their logits (the first `late` entries),
  std::size_t late = 0;
  bool late_groups = false;  // ... whether the later blocks recorded group maxima too
  double first_edge = 0.0;   // ... where top_k_biased's first band starts (NaN: no estimate)
  float maxlow = 0.0f;       // ... every token at or above it is in the list
  std::vector<std::uint16_t> cand_values;
  std::vector<float> hit_logits;        // logits of the tokens in s.hits
  std::vector<std::uint64_t> keys;      // top_k_biased: candidates as order_key()s
  std::vector<std::uint64_t> sort_tmp;  // ... room for kernels::sort_keys
  std::vector<std::uint32_t> sel_ids;   // ... the candidates that may be among the k best
  std::vector<float> sel_v;
  std::vector<double> probs;
};

Status check_params(const SamplingParams& p, std::size_t n) {
  if (n == 0) return {Code::vocab_mismatch, "empty logits array"};
  if (n > std::numeric_limits<std::int32_t>::max()) return {Code::vocab_mismatch, "vocabulary too large"};
  if (!p.greedy && !(p.temperature > 0.0f && std::isfinite(p.temperature)))
    return {Code::invalid_argument, "temperature must be a positive finite number"};
  if (!p.greedy && !std::isfinite(1.0f / p.temperature))
    return {Code::invalid_argument, "temperature " + std::to_string(p.temperature) +
                                        " is so small that 1/temperature overflows a float; use greedy decoding"};
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return {Code::invalid_argument, "top_p must lie in (0, 1]"};
  return Status::OK();
}

const Status kBadLogits{Code::invalid_argument, "logits contain NaN, or every logit is -inf"};

// Weights of `c` (sorted best first) at p.temperature into s.probs, their
// sum into *total; returns how many of the best top-p keeps (the smallest
// prefix that reaches top_p of the total; all when top_p is 1).
std::size_t nucleus(const std::vector<Cand>& c, const SamplingParams& p, Scratch& s, double* total) {
  const double inv_t = 1.0 / static_cast<double>(p.temperature);
  s.probs.resize(c.size());
  double t = 0.0;
  for (std::size_t j = 0; j < c.size(); ++j) {
    const double d = (static_cast<double>(c[j].v) - c[0].v) * inv_t;
    s.probs[j] = std::isfinite(d) ? std::exp(d) : 0.0;
    t += s.probs[j];
  }
  *total = t;
  if (!(p.top_p < 1.0f)) return c.size();
  double cum = 0.0;
  for (std::size_t j = 0; j < c.size(); ++j) {
    cum += s.probs[j];
    if (cum >= static_cast<double>(p.top_p) * t) return j + 1;
  }
  return c.size();
}

// Draws from `c` (sorted best first) after temperature and top-p.
Status draw_sorted(std::vector<Cand>& c, const SamplingParams& p, Rng& rng, Scratch& s, std::uint32_t* token) {
  if (c.empty() || !std::isfinite(c[0].v)) return kBadLogits;
  if (p.greedy) {
    *token = c[0].id;
    return Status::OK();
  }
  double total = 0.0;
  const std::size_t keep = nucleus(c, p, s, &total);
  if (p.top_p < 1.0f)
    total = std::accumulate(s.probs.begin(), s.probs.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
  const double r = rng.next_double() * total;
  double cum = 0.0;
  std::size_t last = 0;
  for (std::size_t j = 0; j < keep; ++j) {
    if (s.probs[j] <= 0.0) continue;
    last = j;
    cum += s.probs[j];
    if (r < cum) {
      *token = c[j].id;
      return Status::OK();
    }
  }
  *token = c[last].id;  // r landed on the rounding edge of the total
  return Status::OK();
}

// Whole-vocabulary weights in one pass over the logits: block by block, the
// green values come from the running keystream (so they stay in L1), the
// block's biased max is found, and w = exp((b - block max) / T). A block's
// weights are later scaled by s.scale[b] = exp((block max - global max) / T).
// Returns the total weight.
Status full_weights(std::span<const float> logits, GreenSource& g, float inv_t, Scratch& s, double* total) {
  const std::size_t n = logits.size();
  const std::size_t nb = (n + kernels::BLOCK - 1) / kernels::BLOCK;
  s.w.resize(n);
  s.block_sums.resize(nb);
  s.block_max.resize(nb);
  s.scale.resize(nb);
  if (g.active()) ISOTOPE_RETURN_IF_ERROR(g.list->stream_begin(g.seed));
  std::uint16_t vals[kernels::BLOCK];
  float M = -std::numeric_limits<float>::infinity();
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t start = b * kernels::BLOCK;
    const std::size_t len = std::min(kernels::BLOCK, n - start);
    if (g.active()) ISOTOPE_RETURN_IF_ERROR(g.list->stream_next({vals, len}));
    s.block_sums[b] = kernels::block_softmax(logits.data() + start, g.active() ? vals : nullptr, g.threshold, g.delta,
                                             inv_t, len, s.w.data() + start, &s.block_max[b]);
    if (std::isnan(s.block_max[b])) return kBadLogits;
    M = std::max(M, s.block_max[b]);
  }
  if (!(M > -std::numeric_limits<float>::infinity())) return kBadLogits;
  double t = 0.0;
  for (std::size_t b = 0; b < nb; ++b) {
    const double d = (static_cast<double>(s.block_max[b]) - M) * inv_t;
    s.scale[b] = std::isfinite(d) ? std::exp(d) : 0.0;
    t += s.scale[b] * s.block_sums[b];
  }
  if (!(t > 0.0) || !std::isfinite(t)) return kBadLogits;
  *total = t;
  return Status::OK();
}

Status draw_full(std::size_t n, double total, Rng& rng, const Scratch& s, std::uint32_t* token) {
  const double r = rng.next_double() * total;
  double cum = 0.0;
  std::size_t b = 0;
  const std::size_t nb = s.block_sums.size();
  while (b + 1 < nb && cum + s.scale[b] * s.block_sums[b] <= r) {
    cum += s.scale[b] * s.block_sums[b];
    ++b;
  }
  while (b > 0 && !(s.scale[b] * s.block_sums[b] > 0.0)) --b;  // rounding left us past the last weight
  const std::size_t start = b * kernels::BLOCK;
  const std::size_t end = std::min(n, start + kernels::BLOCK);
  const double target = (r - cum) / s.scale[b];  // in the block's own units
  double in_block = 0.0;
  std::size_t last = n;
  for (std::size_t i = start; i < end; ++i) {
    if (s.w[i] <= 0.0f) continue;
    last = i;
    in_block += s.w[i];
    if (target < in_block) {
      *token = static_cast<std::uint32_t>(i);
      return Status::OK();
    }
  }
  if (last == n) return kBadLogits;
  *token = static_cast<std::uint32_t>(last);  // target landed on the rounding edge of the block
  return Status::OK();
}

// Green values of m tokens of the window in g, into s.cand_values: one
// keystream pass over the vocabulary when they are many, else one batched
// cipher call for just those tokens.
Status candidate_values(const GreenSource& g, std::size_t vocab, const std::uint32_t* ids, std::size_t m, Scratch& s) {
  s.cand_values.resize(m);
  if (m > vocab / 16) {
    s.values.resize(vocab);
    ISOTOPE_RETURN_IF_ERROR(g.list->values(g.seed, s.values));
    for (std::size_t j = 0; j < m; ++j) s.cand_values[j] = s.values[ids[j]];
    return Status::OK();
  }
  return g.list->values_at(g.seed, ids, m, s.cand_values.data());
}

// The heap of the top-k scan: s.heap is a min-heap on better() (the
// standard heap functions keep the "largest" in front, so with better() as
// their order the front is the worst kept), seeded with the first k logits.
void heap_start(std::span<const float> logits, std::size_t k, Scratch& s) {
  auto& heap = s.heap;
  heap.clear();
  for (std::size_t i = 0; i < k; ++i) heap.push_back({logits[i], static_cast<std::uint32_t>(i)});
  std::make_heap(heap.begin(), heap.end(), better);
  if (s.hits.size() < logits.size()) s.hits.resize(logits.size());
}

// Puts token id (logit v) into the heap if it beats the front.
inline void heap_offer(std::uint32_t id, float v, std::size_t k, Scratch& s) {
  auto& heap = s.heap;
  if (id < k) return;  // already in the heap
  const Cand c{v, id};
  if (!better(c, heap.front())) return;
  std::pop_heap(heap.begin(), heap.end(), better);
  heap.back() = c;
  std::push_heap(heap.begin(), heap.end(), better);
}

// Scans logits [start, start + len) (len <= BLOCK) into the heap, looking
// only at the values at or above the current k-th best. With group_max,
// also records the maximum of every group of kernels::GROUP logits there
// (group_max[g] for the group starting at start + g * GROUP). False if a
// logit is NaN.
bool scan_block(std::span<const float> logits, std::size_t k, std::size_t start, std::size_t len, float* group_max,
                Scratch& s) {
  bool nan = false;
  const float thr = s.heap.front().v;
  const auto base = static_cast<std::uint32_t>(start);
  const std::size_t m =
      group_max != nullptr
          ? kernels::collect_ge_max(logits.data() + start, len, thr, base, s.hits.data(), group_max, &nan)
          : kernels::collect_ge(logits.data() + start, len, thr, base, s.hits.data(), &nan);
  for (std::size_t j = 0; j < m; ++j) heap_offer(s.hits[j], logits[s.hits[j]], k, s);
  return !nan;
}

// The whole top-k scan. The first k values seed the heap (heap_start); the
// scan still reads them, so that every logit is checked for NaN.
bool scan_top_k(std::span<const float> logits, std::size_t k, Scratch& s) {
  for (std::size_t start = 0; start < logits.size(); start += kernels::BLOCK)
    if (!scan_block(logits, k, start, std::min(kernels::BLOCK, logits.size() - start), nullptr, s)) return false;
  return true;
}

// Mean excess of the heap's logits over its front.
double heap_tau(const Scratch& s) {
  const double T = s.heap.front().v;
  double sum = 0.0;
  for (const Cand& c : s.heap) sum += static_cast<double>(c.v) - T;
  return sum / static_cast<double>(s.heap.size());
}

// If the counts above the k-th best logit T fall off like exp(-(y - T) /
// tau), the biased k-th best L is about T + tau ln(1 - gamma + gamma
// e^(delta / tau)). Returns that estimate of L - delta (the lowest raw
// logit that can enter the biased top k), or NaN when it cannot tell. Only
// speed depends on it.
double edge_guess(double T, double tau, const GreenSource& g) {
  const double gamma = static_cast<double>(g.threshold) / 65536.0;
  if (!(tau > 0.0 && gamma > 0.0 && std::isfinite(tau) && std::isfinite(T)))
    return std::numeric_limits<double>::quiet_NaN();
  const double x = static_cast<double>(g.delta) / tau;
  const double lift = x > 30.0 ? g.delta + tau * std::log(gamma) : tau * std::log1p(gamma * std::expm1(x));
  return T + lift - g.delta;
}

// True if the warm blocks' top k is lopsided: one warm block holds far more
// of it than an even spread would give (as when the vocabulary is ordered by
// frequency and a warm block covers the frequent tokens). The extrapolation
// from the warm blocks then overshoots, so the later blocks record their
// group maxima too, which keeps a search below the collection threshold cheap.
bool warm_lopsided(std::size_t n, std::size_t k, const Scratch& s) {
  const std::size_t per = s.stride * kernels::BLOCK;  // a power of two
  const std::size_t nwarm = (n + per - 1) / per;
  if (nwarm < 2) return false;
  const int shift = std::countr_zero(per);
  std::uint8_t counts[64] = {};
  std::size_t most = 0;
  for (const Cand& c : s.heap) {
    const std::size_t w = (c.id >> shift) % 64;  // a bucket per warm block (shared beyond 64 blocks)
    most = std::max<std::size_t>(most, ++counts[w]);
  }
  const double expect = static_cast<double>(k) / static_cast<double>(std::min<std::size_t>(nwarm, 64));
  return static_cast<double>(most) > expect + 4.0 * std::sqrt(expect) + 4.0;
}

// Scans the warm blocks (one block in s.stride, from the first) through
// the heap; *warm = how many logits they hold. False if a logit is NaN.
bool scan_warm(std::span<const float> logits, std::size_t k, Scratch& s, std::size_t* warm) {
  const std::size_t n = logits.size(), B = kernels::BLOCK;
  *warm = 0;
  for (std::size_t start = 0; start < n; start += s.stride * B) {
    const std::size_t len = std::min(B, n - start);
    if (!scan_block(logits, k, start, len, nullptr, s)) return false;
    *warm += len;
  }
  return true;
}

// The k-th best logit of the whole vocabulary, extrapolated from the heap
// after scan_warm: the counts above y are n / warm times those of the warm
// blocks, which fall off like exp(-(y - front) / tau). *tau = that spread.
double extrapolate_kth(std::size_t n, std::size_t warm, const Scratch& s, double* tau) {
  *tau = heap_tau(s);
  return s.heap.front().v + *tau * std::log(static_cast<double>(n) / static_cast<double>(warm));
}

// A collection threshold for the later blocks: `estimate`, but above the
// warm blocks' k-th best (the heap's front), so that the warm tokens at or
// above it are exactly the heap's (append_heap). NaN gives that bound.
float above_warm_kth(double estimate, const Scratch& s) {
  const float bound = std::nextafter(s.heap.front().v, std::numeric_limits<float>::infinity());
  const auto t = static_cast<float>(estimate);
  return t >= bound ? t : bound;
}

// Appends the heap's tokens at or above thr to s.late_ids / s.late_logits
// from entry m on; returns the new number of entries.
std::size_t append_heap(float thr, std::size_t m, Scratch& s) {
  for (const Cand& c : s.heap) {
    s.late_ids[m] = c.id;
    s.late_logits[m] = c.v;
    m += c.v >= thr ? 1 : 0;
  }
  return m;
}

// Appends every token of the later (not warm) blocks at or above thr to
// s.late_ids from entry `at` on, each run of blocks between two warm ones in
// one go, recording their group maxima if `groups`; then their logits to
// s.late_logits. Returns the new number of entries; *nan is set if a logit
// is NaN.
std::size_t collect_late(std::span<const float> logits, float thr, bool groups, std::size_t at, Scratch& s, bool* nan) {
  const std::size_t n = logits.size(), B = kernels::BLOCK;
  if (s.late_ids.size() < n) {  // room for every token; never shrinks
    s.late_ids.resize(n);
    s.late_logits.resize(n);
  }
  std::size_t m = at;
  for (std::size_t start = B; start < n; start += s.stride * B) {
    const std::size_t len = std::min((s.stride - 1) * B, n - start);
    const auto base = static_cast<std::uint32_t>(start);
    std::uint32_t* ids = s.late_ids.data() + m;
    m += groups ? kernels::collect_ge_max(logits.data() + start, len, thr, base, ids,
                                          s.group_max.data() + start / kernels::GROUP, nan)
                : kernels::collect_ge(logits.data() + start, len, thr, base, ids, nan);
  }
  for (std::size_t j = at; j < m; ++j) s.late_logits[j] = logits[s.late_ids[j]];
  return m;
}

// The highest y = y0 + a multiple of step / 32 below y0 + 2 step such that
// at least k of v[0, m) are at or above it (y0 if none is).
float raise_level(const float* v, std::size_t m, std::size_t k, float y0, float step) {
  float y = y0;
  for (int i = 0; i < 6; ++i, step *= 0.5f)
    if (kernels::count_ge(v, m, y + step) >= k) y += step;
  return y;
}

// Writes the order_key()s of the candidates (ids[j], v[j]) with v[j] >= y
// to keys; returns how many.
std::size_t keys_at_or_above(const std::uint32_t* ids, const float* v, std::size_t m, float y, Scratch& s,
                             std::uint64_t* keys) {
  if (s.sel_ids.size() < m) {
    s.sel_ids.resize(m);
    s.sel_v.resize(m);
  }
  const std::size_t c =
      kernels::filter_range(ids, v, m, y, std::numeric_limits<float>::quiet_NaN(), s.sel_ids.data(), s.sel_v.data());
  for (std::size_t j = 0; j < c; ++j) keys[j] = order_key(s.sel_v[j], s.sel_ids[j]);
  return c;
}

// Sorts keys[0, n) (distinct).
void sort_keys(std::uint64_t* keys, std::size_t n, Scratch& s) {
  if (s.sort_tmp.size() < 2 * n + 4) s.sort_tmp.resize(2 * n + 4);
  kernels::sort_keys(keys, n, s.sort_tmp.data());
}

// How far below its estimate of the lowest raw logit that can enter the
// biased top k the watermarked scan collects, in units of the spread of the
// warm blocks' top k. Only speed depends on it: too little, and a search
// must read the logits again (for Gaussian logits, less than one draw in a
// thousand at 0.7); too much, and more tokens are collected and looked up.
constexpr double kSpare = 0.7;
// The same for the first band of the search that follows (top_k_biased),
// which starts from the kept list's edge when that is lower.
constexpr double kFirstSpare = 0.5;
// The same for the plain top-k, below its estimate of the k-th best raw logit.
constexpr double kPlainSpare = 1.0;

// The top-k scan of the watermarked sampler. One block of kernels::BLOCK
// logits in every s.stride (the "warm" blocks, spread over the vocabulary)
// is scanned first, as without the watermark. From their top k, the final
// k-th best and the lowest raw logit that can enter the biased top k are
// extrapolated (the search's first band starts near the latter,
// s.first_edge), and the other blocks are scanned with a
// collection threshold at about that level, never at or below the warm
// blocks' k-th best (so the warm blocks' tokens above it are just the
// heap's): every token there at or above it is kept, with its logit, in
// s.late_ids / s.late_logits. The heap keeps the warm blocks' top k: its
// front is at most the k-th best raw logit, which is all the search that
// follows needs. Every token at or above s.maxlow is in the list; below it
// the search reads the logits again, through group maxima where the scan
// recorded them (s.late_groups, or every block when all are warm). False if
// a logit is NaN.
bool scan_top_k_marked(std::span<const float> logits, std::size_t k, const GreenSource& g, Scratch& s) {
  const std::size_t n = logits.size(), B = kernels::BLOCK;
  s.stride = (n <= 4 * B || k > B) ? 1 : 8;
  s.group_max.resize((n + kernels::GROUP - 1) / kernels::GROUP);
  s.late = 0;
  s.late_groups = false;
  if (s.stride == 1) {  // every block is warm; searches go through the group maxima
    s.maxlow = std::numeric_limits<float>::infinity();
    for (std::size_t start = 0; start < n; start += B)
      if (!scan_block(logits, k, start, std::min(B, n - start), s.group_max.data() + start / kernels::GROUP, s))
        return false;
    const double tau = heap_tau(s);
    s.first_edge = edge_guess(s.heap.front().v, tau, g) - kFirstSpare * tau;
    return true;
  }
  std::size_t warm = 0;
  if (!scan_warm(logits, k, s, &warm)) return false;
  double tau = 0.0;
  const double edge = edge_guess(extrapolate_kth(n, warm, s, &tau), tau, g);
  s.first_edge = edge - kFirstSpare * tau;
  const float lowf = above_warm_kth(edge - kSpare * tau, s);
  s.late_groups = warm_lopsided(n, k, s);
  // The later blocks' tokens at or above lowf. They are not offered to the
  // heap: its front, the warm blocks' k-th best, is all the search needs (a
  // lower bound on the k-th best).
  bool nan = false;
  s.late = collect_late(logits, lowf, s.late_groups, 0, s, &nan);
  if (nan) return false;
  const std::size_t first_warm = s.late;
  s.late = append_heap(lowf, s.late, s);
  s.maxlow = lowf;
  if (s.late_groups) {  // the warm blocks misled the estimate: take the k-th best from all kept tokens
    for (std::size_t j = 0; j < first_warm; ++j)
      if (s.late_logits[j] >= s.heap.front().v) heap_offer(s.late_ids[j], s.late_logits[j], k, s);
    tau = heap_tau(s);
    s.first_edge = edge_guess(s.heap.front().v, tau, g) - kFirstSpare * tau;
  }
  return true;
}

// Every token with lo <= logit and not logit >= hi (hi = NaN: no upper
// bound), after scan_top_k_marked: ids into s.hits, logits into
// s.hit_logits; returns how many.
std::size_t gather_band(std::span<const float> logits, float lo, float hi, Scratch& s) {
  const std::size_t n = logits.size(), B = kernels::BLOCK;
  if (s.hit_logits.size() < n) s.hit_logits.resize(n);
  // From the kept list down to maxlow; below that, by a second look at the
  // blocks (through their group maxima where the scan recorded them).
  std::size_t m = kernels::filter_range(s.late_ids.data(), s.late_logits.data(), s.late, std::max(lo, s.maxlow), hi,
                                        s.hits.data(), s.hit_logits.data());
  if (lo < s.maxlow) {
    const float top = (hi < s.maxlow || s.maxlow == std::numeric_limits<float>::infinity()) ? hi : s.maxlow;
    const std::size_t from = m;
    for (std::size_t start = 0; start < n; start += B) {
      const std::size_t len = std::min(B, n - start);
      const auto base = static_cast<std::uint32_t>(start);
      const bool warm = (start / B) % s.stride == 0;
      const bool groups = warm ? s.stride == 1 : s.late_groups;
      m += groups ? kernels::collect_band(logits.data() + start, len, s.group_max.data() + start / kernels::GROUP, lo,
                                          top, base, s.hits.data() + m)
                  : kernels::collect_range(logits.data() + start, len, lo, top, base, s.hits.data() + m);
    }
    for (std::size_t j = from; j < m; ++j) s.hit_logits[j] = logits[s.hits[j]];
  }
  return m;
}

// The largest float x with x + delta < L (as the sampler rounds): a raw
// logit at or below x cannot reach L, even with the green bonus.
float below_reach(float L, float delta) {
  float x = L - delta;
  while (std::isfinite(L) && !(x + delta < L)) x = std::nextafter(x, -std::numeric_limits<float>::infinity());
  return x;
}

// The k best biased logits, into s.cands (sorted best first), after
// scan_top_k_marked. With T the heap's front (at most the k-th best raw
// logit), the biased k-th best L is at least T, so a token whose raw logit
// is below T - delta can never enter; but most of those above T - delta
// cannot either. Tokens are taken in bands of falling raw logit: each band's
// green bits are computed, the k best biased logits so far are kept, and the
// search stops as soon as even a green token of the next band (raw < lo, so
// biased <= lo + delta) would fall strictly below the current k-th best. The
// first band's lower edge is a guess at L - delta from the scan's estimates
// (no lower than the kept list reaches); if it was too high, a second band
// ends just below (current k-th best) - delta, and then the search always
// stops (a band below s.maxlow, which reads logits again, comes last). For
// Gaussian logits this computes a few hundred green bits instead of the
// ~1.5% of the vocabulary that lies within delta of T.
Status top_k_biased(std::span<const float> logits, std::size_t k, const GreenSource& g, Scratch& s) {
  const std::size_t n = logits.size();
  const float T = s.heap.front().v;
  // floor: every token below it is out of reach.
  const float floor = below_reach(T, g.delta);
  float lo = floor;  // fewer than k finite logits: one band with all that could enter
  if (s.first_edge == s.first_edge) lo = std::max(static_cast<float>(s.first_edge), floor);
  // The whole kept list rather than a second look at the logits (unless
  // group maxima make that look cheap): only a band that reaches below
  // s.maxlow reads them again.
  if (!s.late_groups && lo < s.maxlow && std::isfinite(s.maxlow)) lo = s.maxlow;
  if (s.keys.size() < n + k) s.keys.resize(n + k);  // room for every token; never shrinks
  std::uint64_t* keys = s.keys.data();
  std::size_t nk = 0;                                  // the best candidates so far, sorted: keys[0, nk)
  float y = -std::numeric_limits<float>::infinity();   // the k-th best is at least y
  float hi = std::numeric_limits<float>::quiet_NaN();  // no upper bound for the first band
  for (;;) {
    const std::size_t m = gather_band(logits, lo, hi, s);
    ISOTOPE_RETURN_IF_ERROR(candidate_values(g, n, s.hits.data(), m, s));
    float* b = s.hit_logits.data();  // biased, in place
    kernels::add_bias(b, s.cand_values.data(), g.threshold, g.delta, m);
    // Raise y while k candidates stay at or above it (every candidate is at
    // least lo): only those are sorted.
    if (nk == 0 && m > k && std::isfinite(lo)) y = raise_level(b, m, k, lo, g.delta);
    nk += keys_at_or_above(s.hits.data(), b, m, y, s, keys + nk);
    sort_keys(keys, nk, s);
    nk = std::min(nk, k);
    if (!(lo > floor)) break;  // every token that could enter was a candidate
    if (nk < k) {              // not yet k candidates: all the rest that could enter
      hi = lo;
      lo = floor;
      continue;
    }
    const Cand kth = from_key(keys[k - 1]);
    if (lo + g.delta < kth.v) break;
    y = kth.v;
    // The final k-th best is at least kth.v, so a band ending just below
    // kth.v - delta is the last one: after it the test above cannot fail.
    // Bands that the kept list covers come first (they read no logits).
    hi = lo;
    float next = below_reach(kth.v, g.delta);
    if (lo > s.maxlow) next = std::max(next, s.maxlow);
    lo = std::max(next, floor);
  }
  s.cands.resize(nk);
  for (std::size_t j = 0; j < nk; ++j) s.cands[j] = from_key(keys[j]);
  return Status::OK();
}

// Sorts c best first (better()'s order), as the watermarked path sorts.
void sort_best(std::vector<Cand>& c, Scratch& s) {
  const std::size_t m = c.size();
  if (s.keys.size() < m) s.keys.resize(m);
  for (std::size_t j = 0; j < m; ++j) s.keys[j] = order_key(c[j].v, c[j].id);
  sort_keys(s.keys.data(), m, s);
  for (std::size_t j = 0; j < m; ++j) c[j] = from_key(s.keys[j]);
}

// The plain top-k into s.cands (sorted best first), the way the watermarked
// scan works: the warm blocks go through the heap, which then gives a
// threshold a little below the extrapolated k-th best (never at or below the
// warm blocks' own k-th best); the later blocks are only collected at or
// above it, without the heap. If k tokens reach the threshold, the k best of
// them are the answer; if not (the estimate was too high), the heap takes
// the rest the usual way. False if a logit is NaN.
bool top_k_plain(std::span<const float> logits, std::size_t k, Scratch& s) {
  const std::size_t n = logits.size(), B = kernels::BLOCK;
  if (n <= 4 * B || k > B) {
    if (!scan_top_k(logits, k, s)) return false;
    s.cands = s.heap;
    sort_best(s.cands, s);
    return true;
  }
  constexpr std::size_t stride = 8;
  s.stride = stride;
  std::size_t warm = 0;
  if (!scan_warm(logits, k, s, &warm)) return false;
  if (warm_lopsided(n, k, s)) {  // no estimate from these warm blocks: the heap takes the rest
    for (std::size_t start = B; start < n; start += B)
      if ((start / B) % stride != 0 && !scan_block(logits, k, start, std::min(B, n - start), nullptr, s)) return false;
    s.cands = s.heap;
    sort_best(s.cands, s);
    return true;
  }
  double tau = 0.0;
  const float thr = above_warm_kth(extrapolate_kth(n, warm, s, &tau) - kPlainSpare * tau, s);
  bool nan = false;
  const std::size_t late = collect_late(logits, thr, false, 0, s, &nan);
  if (nan) return false;
  const std::size_t m = append_heap(thr, late, s);
  if (m < k) {  // fewer than k reach thr: the heap takes everything, as scan_top_k would
    for (std::size_t j = 0; j < late; ++j)
      if (s.late_logits[j] >= s.heap.front().v) heap_offer(s.late_ids[j], s.late_logits[j], k, s);
    for (std::size_t start = B; start < n; start += B) {
      if ((start / B) % stride == 0) continue;
      const std::size_t len = std::min(B, n - start);
      const std::size_t r = kernels::collect_range(logits.data() + start, len, s.heap.front().v, thr,
                                                   static_cast<std::uint32_t>(start), s.hits.data());
      for (std::size_t j = 0; j < r; ++j) heap_offer(s.hits[j], logits[s.hits[j]], k, s);
    }
    s.cands = s.heap;
    sort_best(s.cands, s);
    return true;
  }
  // The k best of the m: raise y while k stay at or above it, sort those.
  float top = thr;
  for (std::size_t j = 0; j < m; ++j) top = std::max(top, s.late_logits[j]);
  const float y = std::isfinite(top) ? raise_level(s.late_logits.data(), m, k, thr, (top - thr) * 0.5f) : thr;
  if (s.keys.size() < m) s.keys.resize(m);
  const std::size_t c = keys_at_or_above(s.late_ids.data(), s.late_logits.data(), m, y, s, s.keys.data());
  sort_keys(s.keys.data(), c, s);
  s.cands.resize(k);
  for (std::size_t j = 0; j < k; ++j) s.cands[j] = from_key(s.keys[j]);
  return true;
}

Status sample_core(std::span<const float> logits, GreenSource& g, const SamplingParams& p, Rng& rng, Scratch& s,
                   std::uint32_t* token) {
  ISOTOPE_RETURN_IF_ERROR(check_params(p, logits.size()));
  const std::size_t n = logits.size();
  const std::size_t k = p.greedy ? 1 : (p.top_k == 0 ? n : std::min<std::size_t>(p.top_k, n));

  if (k < n) {
    heap_start(logits, k, s);
    if (g.active()) {
      if (!scan_top_k_marked(logits, k, g, s)) return kBadLogits;
      ISOTOPE_RETURN_IF_ERROR(top_k_biased(logits, k, g, s));  // sorted
    } else if (!top_k_plain(logits, k, s)) {
      return kBadLogits;
    }
    return draw_sorted(s.cands, p, rng, s, token);
  }

  // Whole vocabulary.
  double total = 0.0;
  ISOTOPE_RETURN_IF_ERROR(full_weights(logits, g, 1.0f / p.temperature, s, &total));
  if (p.top_p >= 1.0f) return draw_full(n, total, rng, s, token);

  // Nucleus over the whole vocabulary: take the K heaviest tokens, growing K
  // until they hold at least top_p of the mass, then draw among them.
  auto& c = s.cands;
  for (std::size_t K = std::min<std::size_t>(n, 1024);; K = std::min(n, K * 8)) {
    c.resize(n);
    for (std::size_t i = 0; i < n; ++i)
      c[i] = Cand{static_cast<float>(s.w[i] * s.scale[i / kernels::BLOCK]), static_cast<std::uint32_t>(i)};
    if (K < n) {
      std::nth_element(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(K - 1), c.end(), better);
      c.resize(K);
    }
    std::sort(c.begin(), c.end(), better);
    double mass = 0.0;
    std::size_t keep = c.size();
    for (std::size_t j = 0; j < c.size(); ++j) {
      mass += c[j].v;
      if (mass >= static_cast<double>(p.top_p) * total) {
        keep = j + 1;
        break;
      }
    }
    if (mass >= static_cast<double>(p.top_p) * total || K == n) {
      c.resize(keep);
      const double r = rng.next_double() * mass;
      double cum = 0.0;
      for (const Cand& x : c) {
        cum += x.v;
        if (r < cum) {
          *token = x.id;
          return Status::OK();
        }
      }
      *token = c.back().id;
      return Status::OK();
    }
  }
}

// Input validation after a failed draw, so that the common case pays nothing:
// names the real cause and index, or applies the +inf rule (docs/spec.md: a
// +inf logit is certain, so the first +inf logit is the token, whatever the
// bias or the sampling parameters).
Status explain_bad_logits(std::span<const float> logits, Status failed, std::uint32_t* token) {
  if (failed.message() != kBadLogits.message()) return failed;
  std::size_t first_inf = logits.size();
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i])) return {Code::invalid_argument, "logit " + std::to_string(i) + " is NaN"};
    if (first_inf == logits.size() && logits[i] == std::numeric_limits<float>::infinity()) first_inf = i;
  }
  if (first_inf < logits.size()) {
    *token = static_cast<std::uint32_t>(first_inf);
    return Status::OK();
  }
  bool all_minus_inf = true;
  for (float x : logits) all_minus_inf = all_minus_inf && x == -std::numeric_limits<float>::infinity();
  if (all_minus_inf) return {Code::invalid_argument, "every logit is -inf: no token can be drawn"};
  return failed;
}

Scratch& plain_scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

Status sample_plain(std::span<const float> logits, const SamplingParams& params, Rng& rng, std::uint32_t* token) {
  if (token == nullptr) return {Code::invalid_argument, "token output is null"};
  GreenSource none;
  Status st = sample_core(logits, none, params, rng, plain_scratch(), token);
  return st.ok() ? st : explain_bad_logits(logits, std::move(st), token);
}

// ---------------------------------------------------------------- for the schemes

namespace detail {

Status check_sampling(const SamplingParams& p, std::size_t n) { return check_params(p, n); }

Status explain_logits(std::span<const float> logits, Status failed, std::uint32_t* token) {
  return explain_bad_logits(logits, std::move(failed), token);
}

Status green_sample(std::span<const float> logits, const GreenBias& bias, const SamplingParams& params, Rng& rng,
                    std::uint32_t* token) {
  if (token == nullptr) return {Code::invalid_argument, "token output is null"};
  GreenSource g;
  g.list = bias.list;
  g.seed = bias.seed;
  g.delta = bias.delta;
  g.threshold = bias.threshold;
  Status st = sample_core(logits, g, params, rng, plain_scratch(), token);
  return st.ok() ? st : explain_bad_logits(logits, std::move(st), token);
}

Status green_apply(std::span<float> logits, const GreenBias& bias) {
  Scratch& s = plain_scratch();
  s.values.resize(logits.size());
  ISOTOPE_RETURN_IF_ERROR(bias.list->values(bias.seed, s.values));
  kernels::add_bias(logits.data(), s.values.data(), bias.threshold, bias.delta, logits.size());
  return Status::OK();
}

Status green_apply_candidates(std::span<TokenLogit> cand, std::size_t vocab, const GreenBias& bias) {
  Scratch& s = plain_scratch();
  GreenSource g;
  g.list = bias.list;
  g.seed = bias.seed;
  g.delta = bias.delta;
  g.threshold = bias.threshold;
  s.ids.resize(cand.size());
  for (std::size_t j = 0; j < cand.size(); ++j) s.ids[j] = static_cast<std::uint32_t>(cand[j].id);
  ISOTOPE_RETURN_IF_ERROR(candidate_values(g, vocab, s.ids.data(), cand.size(), s));
  for (std::size_t j = 0; j < cand.size(); ++j)
    cand[j].logit += g.delta * static_cast<float>(s.cand_values[j] < g.threshold);
  return Status::OK();
}

Status sample_biased_copy(Generator& g, std::span<const std::uint32_t> context, std::span<const float> logits,
                          const SamplingParams& params, Rng& rng, std::vector<float>* scratch, std::uint32_t* token) {
  scratch->assign(logits.begin(), logits.end());
  ISOTOPE_RETURN_IF_ERROR(g.apply(context, *scratch, params));
  return sample_plain(*scratch, params, rng, token);
}

Status kept_candidates(std::span<const float> logits, const SamplingParams& p, std::vector<std::uint32_t>* ids,
                       std::vector<float>* vals) {
  ISOTOPE_RETURN_IF_ERROR(check_params(p, logits.size()));
  Scratch& s = plain_scratch();
  const std::size_t n = logits.size();
  const std::size_t k = p.top_k == 0 ? n : std::min<std::size_t>(p.top_k, n);
  if (k < n) {
    heap_start(logits, k, s);
    if (!top_k_plain(logits, k, s)) return kBadLogits;
  } else {
    s.cands.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(logits[i])) return kBadLogits;
      s.cands[i] = Cand{logits[i], static_cast<std::uint32_t>(i)};
    }
    std::sort(s.cands.begin(), s.cands.end(), better);
  }
  auto& c = s.cands;
  if (c.empty() || std::isnan(c[0].v) || c[0].v == -std::numeric_limits<float>::infinity()) return kBadLogits;
  if (c[0].v == std::numeric_limits<float>::infinity()) {  // a +inf logit is certain: the first one
    ids->assign(1, c[0].id);
    vals->assign(1, c[0].v);
    return Status::OK();
  }
  double total = 0.0;
  std::size_t keep = p.top_p < 1.0f ? nucleus(c, p, s, &total) : c.size();
  while (keep > 0 && c[keep - 1].v == -std::numeric_limits<float>::infinity()) --keep;
  ids->resize(keep);
  vals->resize(keep);
  for (std::size_t j = 0; j < keep; ++j) {
    (*ids)[j] = c[j].id;
    (*vals)[j] = c[j].v;
  }
  return Status::OK();
}

}  // namespace detail

}  // namespace isotope
