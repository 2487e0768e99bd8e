// isotope — the reference language model: interpolated Kneser–Ney over token ids.
//
// Model. For an order-n model and a context h (the last n-1 tokens, or fewer
// at the start of a document), with absolute discount D:
//
//   p_0(w)     = 1 / V                                              (uniform)
//   p_k(w | h) = max(c_k(h w) - D, 0) / c_k(h) + gamma_k(h) * p_{k-1}(w | h')
//   gamma_k(h) = D * |{w : c_k(h w) > 0}| / c_k(h)
//
// where h' drops the oldest token of h and c_k(h) = sum_w c_k(h w). At the top
// level (k = n) c_k is the raw count; below it c_k(g) is the continuation
// count N1+(. g), the number of distinct tokens seen right before g, the start
// of a document counting as one more distinct left neighbour. That last rule
// gives every k-gram that occurs a count >= 1 > D, so max(c - D, 0) = c - D
// and each level sums to exactly 1. A context never followed by anything
// (gamma = 1, no successors) simply backs off.
//
// Storage: one trie level per order. Level k holds every distinct k-gram,
// sorted lexicographically, as (last token, count); a node at level k < n
// owns the contiguous range [child[x], child[x+1]) of level k+1 (its right
// extensions). The children of a context are therefore its successors.
//
// Query: p_1 and log p_1 are dense vectors computed once. Unfolding the
// recursion, p_L(w) = G * p_1(w) + acc(w), where G is the product of the
// gammas of the levels above 1 and acc is a sparse sum over the successors
// of the contexts on the path (each scaled by the gammas of the levels above
// it). Tokens outside that sparse set get log G + log p_1(w), an addition;
// only the touched tokens need a logarithm. Every successor of a longer
// context is also a successor of the one-token context, so the touched set
// is that context's child list, and the longer contexts' lists (sorted
// subsets of it) are merged into it in one linear walk.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string_view>

#include "isotope/io.hpp"
#include "isotope/lm.hpp"

namespace isotope {

namespace {

constexpr char kMagic[16] = {'I', 'S', 'O', 'T', 'O', 'P', 'E', '-', 'N', 'G', 'R', 'A', 'M', '\0', '\0', '\0'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint32_t kMaxOrder = 6;
// Far above any tokenizer's vocabulary; keeps a damaged header from asking
// for gigabytes of per-token tables.
constexpr std::uint32_t kMaxVocab = 1u << 24;
// Below this the products of back-off weights could underflow a double.
constexpr double kMinDiscount = 1e-6;
constexpr std::size_t kShaHexChars = 64;
constexpr std::size_t kHeaderBytes = 16 + 4 + 4 + 4 + 4 + 8 + 8 + kShaHexChars;  // 112
constexpr std::size_t kChecksumBytes = 32;
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
// Flattened training documents are separated by this value.
constexpr std::uint32_t kSeparator = std::numeric_limits<std::uint32_t>::max();

struct Level {
  std::vector<std::uint32_t> token;  // last token of each k-gram; increasing among siblings
  std::vector<std::uint32_t> count;  // raw count (top level) or continuation count (below)
  std::vector<std::uint32_t> child;  // below the top only: size nodes + 1, ranges into the next level
  std::vector<std::uint64_t> total;  // derived, below the top only: sum of the children's counts
};

bool discount_ok(double d) { return std::isfinite(d) && d >= kMinDiscount && d < 1.0; }

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- little-endian encoding ----

void put_u32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u32_array(std::string& s, const std::vector<std::uint32_t>& a) {
  for (std::uint32_t v : a) put_u32(s, v);
}

// Bounds-checked cursor over a byte buffer: every read fails cleanly past the end.
class Reader {
 public:
  Reader(const unsigned char* data, std::size_t size) : p_(data), n_(size) {}
  std::size_t pos() const { return pos_; }
  bool u32(std::uint32_t* v) {
    if (n_ - pos_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= static_cast<std::uint32_t>(p_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return true;
  }
  bool u64(std::uint64_t* v) {
    if (n_ - pos_ < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= static_cast<std::uint64_t>(p_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return true;
  }
  bool bytes(void* out, std::size_t len) {
    if (n_ - pos_ < len) return false;
    std::memcpy(out, p_ + pos_, len);
    pos_ += len;
    return true;
  }
  bool u32_array(std::size_t count, std::vector<std::uint32_t>* out) {
    if ((n_ - pos_) / 4 < count) return false;
    out->resize(count);
    for (std::size_t i = 0; i < count; ++i) u32(&(*out)[i]);
    return true;
  }

 private:
  const unsigned char* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

// Natural logarithm of a positive normal double from IEEE-754 basic
// operations only, so that logits do not depend on the platform's libm
// (relative error below 1e-13), and written without 64-bit signed shifts or
// integer-to-double conversions so that loops over it vectorise.
// x = 2^e * m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s) with
// s = (m-1)/(m+1), |s| <= 0.172, summed up to s^15.
inline double portable_log(double x) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  // Adding 1.0 - sqrt(1/2) (as bit patterns) moves the exponent boundary to sqrt(1/2).
  const std::uint64_t k = (bits + (0x3FF0000000000000ull - 0x3FE6A09E667F3BCDull)) >> 52;  // e + 1023
  const double m = std::bit_cast<double>(bits - (k << 52) + (1023ull << 52));
  // 2^52 + k as a double, exactly; minus 2^52 + 1023 gives e.
  const double e = std::bit_cast<double>(0x4330000000000000ull | k) - (4503599627370496.0 + 1023.0);
  const double s = (m - 1.0) / (m + 1.0);
  const double z = s * s;
  const double series =
      2.0 +
      z * (2.0 / 3 + z * (2.0 / 5 + z * (2.0 / 7 + z * (2.0 / 9 + z * (2.0 / 11 + z * (2.0 / 13 + z * (2.0 / 15)))))));
  return e * 0.69314718055994530942 + s * series;
}

// Per-thread buffer for the successors of the current context.
std::vector<double>& scratch_for(std::size_t size) {
  thread_local std::vector<double> buf;
  if (buf.size() < size) buf.resize(size);
  return buf;
}

}  // namespace

struct NgramModel::Impl {
  std::uint32_t vocab = 0;
  std::uint32_t order = 0;
  double discount = 0.0;
  std::uint64_t trained = 0;
  std::string tokenizer_sha;
  std::vector<Level> levels;  // levels[k - 1] holds the k-grams

  // Derived at construction.
  std::vector<std::uint32_t> unigram_node;  // token -> level-1 node, kNone if unseen
  std::vector<double> p1;                   // lowest level, interpolated with uniform
  std::vector<double> log_p1;

  void derive();
  std::uint32_t find(std::span<const std::uint32_t> gram) const;
  std::size_t context_chain(std::span<const std::uint32_t> context, std::uint32_t* chain) const;
  std::string serialize() const;
};

void NgramModel::Impl::derive() {
  for (std::uint32_t k = 1; k < order; ++k) {
    Level& lv = levels[k - 1];
    const Level& next = levels[k];
    const std::size_t nodes = lv.token.size();
    lv.total.assign(nodes, 0);
    for (std::size_t x = 0; x < nodes; ++x) {
      std::uint64_t t = 0;
      for (std::uint32_t c = lv.child[x]; c < lv.child[x + 1]; ++c) t += next.count[c];
      lv.total[x] = t;
    }
  }
  const Level& l1 = levels[0];
  std::uint64_t root_total = 0;
  for (std::uint32_t c : l1.count) root_total += c;
  const double t1 = static_cast<double>(root_total);
  const double gamma1 = discount * static_cast<double>(l1.token.size()) / t1;
  const double floor = gamma1 / static_cast<double>(vocab);
  p1.assign(vocab, floor);
  unigram_node.assign(vocab, kNone);
  for (std::size_t x = 0; x < l1.token.size(); ++x) {
    const std::uint32_t w = l1.token[x];
    unigram_node[w] = static_cast<std::uint32_t>(x);
    p1[w] = floor + (static_cast<double>(l1.count[x]) - discount) / t1;
  }
  log_p1.resize(vocab);
  for (std::uint32_t w = 0; w < vocab; ++w) log_p1[w] = portable_log(p1[w]);
}

// Node of `gram` (1 <= size <= order - 1) at level gram.size(), or kNone.
std::uint32_t NgramModel::Impl::find(std::span<const std::uint32_t> gram) const {
  std::uint32_t node = unigram_node[gram[0]];
  for (std::size_t k = 1; k < gram.size() && node != kNone; ++k) {
    const Level& parent = levels[k - 1];
    const std::vector<std::uint32_t>& tokens = levels[k].token;
    const auto first = tokens.begin() + parent.child[node];
    const auto last = tokens.begin() + parent.child[node + 1];
    const auto it = std::lower_bound(first, last, gram[k]);
    node = (it != last && *it == gram[k]) ? static_cast<std::uint32_t>(it - tokens.begin()) : kNone;
  }
  return node;
}

// chain[j - 1] = node of the context's last j tokens, for every j whose
// context has been followed by something; returns the number of entries.
// Both properties pass to shorter suffixes, so the chain stops at the first miss.
std::size_t NgramModel::Impl::context_chain(std::span<const std::uint32_t> context, std::uint32_t* chain) const {
  std::size_t depth = 0;
  const std::size_t m = std::min<std::size_t>(context.size(), order - 1);
  for (std::size_t j = 1; j <= m; ++j) {
    const std::uint32_t node = find(context.subspan(context.size() - j));
    if (node == kNone) break;
    const Level& lv = levels[j - 1];
    if (lv.child[node + 1] == lv.child[node]) break;
    chain[depth++] = node;
  }
  return depth;
}

std::string NgramModel::Impl::serialize() const {
  std::size_t size = kHeaderBytes + 8 * order + kChecksumBytes;
  for (std::uint32_t k = 1; k <= order; ++k)
    size += 8 * levels[k - 1].token.size() + (k < order ? 4 * (levels[k - 1].token.size() + 1) : 0);
  std::string s;
  s.reserve(size);
  s.append(kMagic, sizeof kMagic);
  put_u32(s, kFormatVersion);
  put_u32(s, vocab);
  put_u32(s, order);
  put_u32(s, 0);  // flags, reserved
  put_u64(s, std::bit_cast<std::uint64_t>(discount));
  put_u64(s, trained);
  if (tokenizer_sha.empty())
    s.append(kShaHexChars, '\0');
  else
    s.append(tokenizer_sha);
  for (std::uint32_t k = 1; k <= order; ++k) put_u64(s, levels[k - 1].token.size());
  for (std::uint32_t k = 1; k <= order; ++k) {
    const Level& lv = levels[k - 1];
    put_u32_array(s, lv.token);
    put_u32_array(s, lv.count);
    if (k < order) put_u32_array(s, lv.child);
  }
  const Sha256 digest = sha256({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  s.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return s;
}

NgramModel::NgramModel() : impl_(std::make_unique<Impl>()) {}
NgramModel::~NgramModel() = default;

std::uint32_t NgramModel::vocab_size() const noexcept { return impl_->vocab; }
std::uint32_t NgramModel::order() const noexcept { return impl_->order; }
std::uint64_t NgramModel::trained_tokens() const noexcept { return impl_->trained; }
const std::string& NgramModel::tokenizer_sha256() const noexcept { return impl_->tokenizer_sha; }

Status NgramModel::next_logits(std::span<const std::uint32_t> context, std::span<float> out) const {
  const Impl& m = *impl_;
  if (out.size() != m.vocab)
    return {Code::vocab_mismatch, "logits buffer holds " + std::to_string(out.size()) +
                                      " entries, the model's vocabulary " + std::to_string(m.vocab)};
  const std::size_t used = std::min<std::size_t>(context.size(), m.order - 1);
  const auto tail = context.subspan(context.size() - used);
  for (std::uint32_t t : tail)
    if (t >= m.vocab)
      return {Code::vocab_mismatch, "context token id " + std::to_string(t) + " is outside the vocabulary (size " +
                                        std::to_string(m.vocab) + ")"};
  std::uint32_t chain[kMaxOrder];
  const std::size_t depth = m.context_chain(tail, chain);
  float* o = out.data();
  const double* lp = m.log_p1.data();
  if (depth == 0) {
    for (std::uint32_t w = 0; w < m.vocab; ++w) o[w] = static_cast<float>(lp[w]);
    return Status::OK();
  }
  // Level j + 1 is predicted from chain[j - 1]: weight[j - 1] = (product of
  // the gammas above it) / total, and G = the product of all gammas.
  double weight[kMaxOrder];
  double g = 1.0;
  for (std::size_t j = depth; j >= 1; --j) {
    const Level& lv = m.levels[j - 1];
    const std::uint32_t x = chain[j - 1];
    const double total = static_cast<double>(lv.total[x]);
    weight[j - 1] = g / total;
    g *= m.discount * static_cast<double>(lv.child[x + 1] - lv.child[x]) / total;
  }
  // The successors of the one-token context include those of every longer
  // one (h w occurring implies h' w occurring): they are the touched tokens.
  const Level& l1 = m.levels[0];
  const Level& l2 = m.levels[1];
  const std::uint32_t base = l1.child[chain[0]];
  const std::uint32_t n = l1.child[chain[0] + 1] - base;
  const std::uint32_t* tok = l2.token.data() + base;
  const std::uint32_t* cnt = l2.count.data() + base;
  double* v = nullptr;
  try {
    v = scratch_for(n).data();
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "cannot allocate the n-gram query buffer"};
  }
  const double* p1 = m.p1.data();
  for (std::uint32_t i = 0; i < n; ++i) v[i] = g * p1[tok[i]] + weight[0] * (static_cast<double>(cnt[i]) - m.discount);
  for (std::size_t j = 2; j <= depth; ++j) {
    const Level& lv = m.levels[j - 1];
    const Level& next = m.levels[j];
    std::uint32_t i = 0;
    for (std::uint32_t c = lv.child[chain[j - 1]]; c < lv.child[chain[j - 1] + 1]; ++c) {
      const std::uint32_t w = next.token[c];
      while (i < n && tok[i] < w) ++i;
      if (i == n) break;
      if (tok[i] == w) v[i] += weight[j - 1] * (static_cast<double>(next.count[c]) - m.discount);
    }
  }
  for (std::uint32_t i = 0; i < n; ++i) v[i] = portable_log(v[i]);
  const double log_g = portable_log(g);
  for (std::uint32_t w = 0; w < m.vocab; ++w) o[w] = static_cast<float>(log_g + lp[w]);
  for (std::uint32_t i = 0; i < n; ++i) o[tok[i]] = static_cast<float>(v[i]);
  return Status::OK();
}

// ---- training ----

namespace {

Status check_options(std::uint32_t vocab_size, const NgramOptions& options) {
  if (vocab_size == 0 || vocab_size > kMaxVocab)
    return {Code::invalid_argument, "the vocabulary size must be between 1 and " + std::to_string(kMaxVocab) +
                                        ", got " + std::to_string(vocab_size)};
  if (options.order < 1 || options.order > kMaxOrder)
    return {Code::invalid_argument, "n-gram order must be between 1 and 6, got " + std::to_string(options.order)};
  if (!discount_ok(options.discount))
    return {Code::invalid_argument,
            "the Kneser-Ney discount must satisfy 1e-6 <= D < 1, got " + std::to_string(options.discount)};
  return Status::OK();
}

}  // namespace

Status NgramModel::train(const std::vector<std::vector<std::uint32_t>>& docs, std::uint32_t vocab_size,
                         const NgramOptions& options, const std::string& tokenizer_sha256,
                         std::unique_ptr<NgramModel>* out) {
  if (out == nullptr) return {Code::invalid_argument, "train: the output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(check_options(vocab_size, options));
  std::string sha = tokenizer_sha256;
  std::transform(sha.begin(), sha.end(), sha.begin(),
                 [](char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c; });
  if (!sha.empty() && (sha.size() != kShaHexChars || !is_lower_hex(sha)))
    return {Code::invalid_argument, "the tokenizer SHA-256 must be 64 hexadecimal characters or empty"};

  std::uint64_t total = 0;
  std::uint64_t nonempty = 0;
  for (std::size_t d = 0; d < docs.size(); ++d) {
    const auto& doc = docs[d];
    for (std::size_t i = 0; i < doc.size(); ++i)
      if (doc[i] >= vocab_size)
        return {Code::vocab_mismatch, "document " + std::to_string(d) + ", position " + std::to_string(i) +
                                          ": token id " + std::to_string(doc[i]) + " is outside the vocabulary (size " +
                                          std::to_string(vocab_size) + ")"};
    total += doc.size();
    nonempty += doc.empty() ? 0 : 1;
  }
  if (total == 0) return {Code::empty_input, "no tokens to train the n-gram model on"};
  if (total + nonempty >= kSeparator)
    return {Code::invalid_argument, "too many tokens for one n-gram model (at most about 4.29e9)"};

  try {
    std::unique_ptr<NgramModel> model(new NgramModel());
    Impl& m = *model->impl_;
    m.vocab = vocab_size;
    m.order = options.order;
    m.discount = options.discount;
    m.trained = total;
    m.tokenizer_sha = sha;
    m.levels.resize(m.order);
    const std::uint32_t n = m.order;

    // All documents back to back, each followed by a separator.
    std::vector<std::uint32_t> flat;
    flat.reserve(total + nonempty);
    for (const auto& doc : docs) {
      if (doc.empty()) continue;
      flat.insert(flat.end(), doc.begin(), doc.end());
      flat.push_back(kSeparator);
    }
    const std::uint32_t size = static_cast<std::uint32_t>(flat.size());

    // Level 1: distinct tokens, in id order; cur[i] = node of the k-gram starting at i.
    std::vector<std::uint32_t> cur(size, kNone);
    {
      std::vector<std::uint32_t> freq(vocab_size, 0);
      for (std::uint32_t t : flat)
        if (t != kSeparator) ++freq[t];
      std::vector<std::uint32_t> rank(vocab_size, kNone);
      Level& l1 = m.levels[0];
      for (std::uint32_t w = 0; w < vocab_size; ++w) {
        if (freq[w] == 0) continue;
        rank[w] = static_cast<std::uint32_t>(l1.token.size());
        l1.token.push_back(w);
        l1.count.push_back(freq[w]);
      }
      for (std::uint32_t i = 0; i < size; ++i)
        if (flat[i] != kSeparator) cur[i] = rank[flat[i]];
    }

    // Level k + 1 from level k: the (k+1)-gram at i is (node cur[i], token flat[i + k]).
    // Two stable counting sorts (by token, then by parent node) group the
    // occurrences by (k+1)-gram in lexicographic order.
    for (std::uint32_t k = 1; k < n; ++k) {
      Level& parent = m.levels[k - 1];
      Level& next = m.levels[k];
      const std::uint32_t parents = static_cast<std::uint32_t>(parent.token.size());

      std::vector<std::uint32_t> tok_off(static_cast<std::size_t>(vocab_size) + 1, 0);
      std::uint32_t valid = 0;
      for (std::uint32_t i = 0; i < size; ++i) {
        if (cur[i] == kNone || flat[i + k] == kSeparator) continue;
        ++tok_off[flat[i + k] + 1];
        ++valid;
      }
      for (std::uint32_t w = 0; w < vocab_size; ++w) tok_off[w + 1] += tok_off[w];

      struct PosParent {
        std::uint32_t pos, parent;
      };
      struct PosToken {
        std::uint32_t pos, token;
      };
      std::vector<PosToken> sorted(valid);
      std::vector<std::uint32_t> par_off(static_cast<std::size_t>(parents) + 1, 0);
      {
        std::vector<PosParent> by_token(valid);
        std::vector<std::uint32_t> fill(tok_off.begin(), tok_off.end() - 1);
        for (std::uint32_t i = 0; i < size; ++i) {
          if (cur[i] == kNone || flat[i + k] == kSeparator) continue;
          by_token[fill[flat[i + k]]++] = {i, cur[i]};
          ++par_off[cur[i] + 1];
        }
        for (std::uint32_t p = 0; p < parents; ++p) par_off[p + 1] += par_off[p];
        fill.assign(par_off.begin(), par_off.end() - 1);
        std::uint32_t w = 0;
        for (std::uint32_t j = 0; j < valid; ++j) {
          while (tok_off[w + 1] <= j) ++w;
          sorted[fill[by_token[j].parent]++] = {by_token[j].pos, w};
        }
      }

      std::vector<std::uint32_t> nxt(size, kNone);
      // Continuation counts of level k: one per distinct left extension...
      std::vector<std::uint32_t> cont(parents, 0);
      parent.child.assign(static_cast<std::size_t>(parents) + 1, 0);
      for (std::uint32_t p = 0; p < parents; ++p) {
        parent.child[p] = static_cast<std::uint32_t>(next.token.size());
        std::uint32_t prev = kNone;
        for (std::uint32_t j = par_off[p]; j < par_off[p + 1]; ++j) {
          const PosToken e = sorted[j];
          if (e.token != prev) {
            prev = e.token;
            next.token.push_back(e.token);
            next.count.push_back(0);
            // The new (k+1)-gram is a distinct left extension of the k-gram at pos + 1.
            ++cont[cur[e.pos + 1]];
          }
          ++next.count.back();
          nxt[e.pos] = static_cast<std::uint32_t>(next.token.size() - 1);
        }
      }
      parent.child[parents] = static_cast<std::uint32_t>(next.token.size());
      next.token.shrink_to_fit();
      next.count.shrink_to_fit();
      // ...plus one if the k-gram starts some document.
      {
        std::vector<std::uint8_t> starts(parents, 0);
        for (std::uint32_t i = 0; i < size; ++i)
          if ((i == 0 || flat[i - 1] == kSeparator) && cur[i] != kNone) starts[cur[i]] = 1;
        for (std::uint32_t p = 0; p < parents; ++p) cont[p] += starts[p];
      }
      parent.count = std::move(cont);
      cur.swap(nxt);
    }

    m.derive();
    *out = std::move(model);
    return Status::OK();
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "not enough memory to train the n-gram model"};
  }
}

// ---- files ----

Status NgramModel::save(const std::string& path) const {
  std::string bytes;
  try {
    bytes = impl_->serialize();
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "not enough memory to serialise the n-gram model"};
  }
  return write_file_atomic(path, bytes);
}

namespace {

Status corrupt(const std::string& path, const std::string& what) {
  return {Code::corrupt, "'" + path + "' is not a valid isotope n-gram model: " + what};
}

}  // namespace

Status NgramModel::load(const std::string& path, std::unique_ptr<NgramModel>* out) {
  if (out == nullptr) return {Code::invalid_argument, "load: the output pointer is null"};
  std::string data;
  ISOTOPE_RETURN_IF_ERROR(read_file(path, &data));
  try {
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t size = data.size();
    if (size < sizeof kMagic || std::memcmp(bytes, kMagic, sizeof kMagic) != 0)
      return {Code::corrupt, "'" + path + "' is not an isotope n-gram model (wrong magic bytes)"};
    Reader r(bytes, size);
    char magic[sizeof kMagic];
    r.bytes(magic, sizeof magic);
    std::uint32_t version = 0;
    if (!r.u32(&version)) return corrupt(path, "the file is truncated (" + std::to_string(size) + " bytes)");
    if (version != kFormatVersion)
      return corrupt(path, "unsupported format version " + std::to_string(version) + " (this build reads version " +
                               std::to_string(kFormatVersion) + ")");

    std::unique_ptr<NgramModel> model(new NgramModel());
    Impl& m = *model->impl_;
    std::uint32_t flags = 0;
    std::uint64_t discount_bits = 0;
    char sha[kShaHexChars];
    if (!r.u32(&m.vocab) || !r.u32(&m.order) || !r.u32(&flags) || !r.u64(&discount_bits) || !r.u64(&m.trained) ||
        !r.bytes(sha, sizeof sha))
      return corrupt(path, "the file is truncated (" + std::to_string(size) + " bytes)");
    if (m.order < 1 || m.order > kMaxOrder) return corrupt(path, "invalid order " + std::to_string(m.order));
    std::vector<std::uint64_t> nodes(m.order);
    for (auto& c : nodes)
      if (!r.u64(&c)) return corrupt(path, "the file is truncated (" + std::to_string(size) + " bytes)");

    // Expected size from the header; node counts are u32 indices.
    std::uint64_t expected = r.pos() + kChecksumBytes;
    bool sizes_ok = true;
    for (std::uint32_t k = 1; k <= m.order; ++k) {
      const std::uint64_t c = nodes[k - 1];
      if (c >= kNone) {
        sizes_ok = false;
        break;
      }
      expected += 8 * c + (k < m.order ? 4 * (c + 1) : 0);
    }
    if (size < r.pos() + kChecksumBytes)
      return corrupt(path, "the file is truncated (" + std::to_string(size) + " bytes)");
    const Sha256 digest = sha256({reinterpret_cast<const std::uint8_t*>(bytes), size - kChecksumBytes});
    const bool sum_ok = std::memcmp(digest.data(), bytes + size - kChecksumBytes, kChecksumBytes) == 0;
    if (!sum_ok) {
      if (sizes_ok && expected > size)
        return corrupt(path, "the file is truncated (" + std::to_string(size) + " bytes, the header announces " +
                                 std::to_string(expected) + ")");
      if (sizes_ok && expected < size)
        return corrupt(path, "unexpected " + std::to_string(size - expected) + " trailing bytes after the model");
      return corrupt(path, "checksum mismatch (the file is damaged)");
    }
    if (!sizes_ok || expected != size)
      return corrupt(path, "inconsistent sizes: the header announces tables that do not match the file length");

    // The checksum holds; now check every structural invariant the queries rely on.
    m.discount = std::bit_cast<double>(discount_bits);
    if (m.vocab == 0 || m.vocab > kMaxVocab) return corrupt(path, "vocabulary size " + std::to_string(m.vocab));
    if (flags != 0) return corrupt(path, "unknown flags " + std::to_string(flags));
    if (!discount_ok(m.discount)) return corrupt(path, "discount out of range");
    if (m.trained == 0) return corrupt(path, "no trained tokens");
    const std::string_view sha_view(sha, sizeof sha);
    if (sha_view.find_first_not_of('\0') == std::string_view::npos)
      m.tokenizer_sha.clear();
    else if (is_lower_hex(sha_view))
      m.tokenizer_sha.assign(sha_view);
    else
      return corrupt(path, "malformed tokenizer SHA-256 field");
    if (nodes[0] == 0 || nodes[0] > m.vocab) return corrupt(path, "inconsistent number of unigrams");
    for (std::uint64_t c : nodes)
      if (c > m.trained) return corrupt(path, "more n-grams than trained tokens");

    m.levels.resize(m.order);
    for (std::uint32_t k = 1; k <= m.order; ++k) {
      Level& lv = m.levels[k - 1];
      const std::size_t c = nodes[k - 1];
      if (!r.u32_array(c, &lv.token) || !r.u32_array(c, &lv.count) || (k < m.order && !r.u32_array(c + 1, &lv.child)))
        return corrupt(path, "the file is truncated");
      for (std::size_t x = 0; x < c; ++x) {
        if (lv.token[x] >= m.vocab) return corrupt(path, "token id outside the vocabulary");
        if (lv.count[x] == 0) return corrupt(path, "zero count");
      }
    }
    // Level 1 is the root's child range; each level's child array partitions the next.
    for (std::size_t x = 1; x < nodes[0]; ++x)
      if (m.levels[0].token[x] <= m.levels[0].token[x - 1]) return corrupt(path, "unigrams out of order");
    for (std::uint32_t k = 1; k < m.order; ++k) {
      const Level& lv = m.levels[k - 1];
      const Level& next = m.levels[k];
      if (lv.child.front() != 0 || lv.child.back() != next.token.size())
        return corrupt(path, "child ranges do not cover level " + std::to_string(k + 1));
      for (std::size_t x = 0; x < lv.token.size(); ++x) {
        const std::uint32_t b = lv.child[x];
        const std::uint32_t e = lv.child[x + 1];
        if (e < b || e > next.token.size()) return corrupt(path, "child ranges out of order");
        for (std::uint32_t c = b + 1; c < e; ++c)
          if (next.token[c] <= next.token[c - 1]) return corrupt(path, "successors out of order");
      }
    }
    std::uint64_t top = 0;
    for (std::uint32_t c : m.levels[m.order - 1].count) top += c;
    if (top > m.trained) return corrupt(path, "counts exceed the number of trained tokens");
    if (r.pos() + kChecksumBytes != size) return corrupt(path, "inconsistent sizes");

    m.derive();
    *out = std::move(model);
    return Status::OK();
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "not enough memory to load '" + path + "'"};
  }
}

}  // namespace isotope
