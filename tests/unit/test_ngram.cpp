// Tests of the reference n-gram language model (lib/lm/ngram.cpp).
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "isotope/io.hpp"
#include "isotope/lm.hpp"

using isotope::Code;
using isotope::NgramModel;
using isotope::NgramOptions;
using Docs = std::vector<std::vector<std::uint32_t>>;

namespace {

// A fresh folder under the system temporary folder, removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("isotope-ngram-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::unique_ptr<NgramModel> train_ok(const Docs& docs, std::uint32_t vocab, std::uint32_t order, double discount = 0.75,
                                     const std::string& sha = "") {
  NgramOptions opt;
  opt.order = order;
  opt.discount = discount;
  std::unique_ptr<NgramModel> m;
  const isotope::Status st = NgramModel::train(docs, vocab, opt, sha, &m);
  INFO(st.to_string());
  REQUIRE(st.ok());
  REQUIRE(m != nullptr);
  return m;
}

std::vector<float> logits(const NgramModel& m, const std::vector<std::uint32_t>& ctx) {
  std::vector<float> out(m.vocab_size());
  const isotope::Status st = m.next_logits(ctx, out);
  INFO(st.to_string());
  REQUIRE(st.ok());
  return out;
}

std::vector<double> probs(const NgramModel& m, const std::vector<std::uint32_t>& ctx) {
  const auto l = logits(m, ctx);
  std::vector<double> p(l.size());
  for (std::size_t i = 0; i < l.size(); ++i) p[i] = std::exp(static_cast<double>(l[i]));
  return p;
}

std::uint32_t argmax(const std::vector<float>& v) {
  std::uint32_t best = 0;
  for (std::uint32_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

// Zipf-like random documents with some local structure (a token often follows
// a fixed successor of its predecessor), so that higher orders have data.
Docs random_docs(std::uint32_t vocab, std::size_t ndocs, std::size_t max_len, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<double> weights(vocab);
  for (std::uint32_t i = 0; i < vocab; ++i) weights[i] = 1.0 / (1.0 + i);
  std::discrete_distribution<std::uint32_t> zipf(weights.begin(), weights.end());
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  Docs docs(ndocs);
  for (auto& d : docs) {
    const std::size_t n = len(rng);
    for (std::size_t i = 0; i < n; ++i) {
      if (!d.empty() && coin(rng) < 0.5)
        d.push_back((d.back() * 7 + 3) % vocab);
      else
        d.push_back(zipf(rng));
    }
  }
  return docs;
}

std::string read_bytes(const std::string& path) {
  std::string s;
  REQUIRE(isotope::read_file(path, &s).ok());
  return s;
}

// Plain write (no fsync): the corruption tests write thousands of files.
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  REQUIRE(f.good());
}

// Replaces the trailing SHA-256 so that a deliberately edited file passes the checksum.
std::string reseal(std::string bytes) {
  REQUIRE(bytes.size() >= 32);
  bytes.resize(bytes.size() - 32);
  const auto d = isotope::sha256({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  bytes.append(reinterpret_cast<const char*>(d.data()), d.size());
  return bytes;
}

std::string load_message(const std::string& path) {
  std::unique_ptr<NgramModel> m;
  return NgramModel::load(path, &m).message();
}

Code load_code(const std::string& path) {
  std::unique_ptr<NgramModel> m;
  const isotope::Status st = NgramModel::load(path, &m);
  if (st.ok()) {
    CHECK(m != nullptr);
  } else {
    CHECK(m == nullptr);
    CHECK_FALSE(st.message().empty());
  }
  return st.code();
}

// The hand-computed example below: V = 4, D = 0.5, two documents.
const Docs kTiny = {{0, 1, 0, 2}, {1, 0, 2}};

void check_probs(const NgramModel& m, const std::vector<std::uint32_t>& ctx, const std::vector<double>& expected) {
  const auto p = probs(m, ctx);
  REQUIRE(p.size() == expected.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO("token " << i);
    CHECK(p[i] == Approx(expected[i]).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("ngram: Kneser-Ney values of a hand-computed example", "[ngram]") {
  // Corpus: A = 0 1 0 2, B = 1 0 2; V = 4 (token 3 never seen), D = 0.5.
  //
  // Order 1 (raw counts at the top level): c(0)=3, c(1)=2, c(2)=2, total 7,
  // 3 distinct types, gamma = 0.5*3/7 = 3/14, uniform share gamma/4 = 3/56.
  //   p(0) = 3/56 + 2.5/7 = 23/56, p(1) = p(2) = 3/56 + 1.5/7 = 15/56, p(3) = 3/56.
  SECTION("order 1") {
    auto m = train_ok(kTiny, 4, 1, 0.5);
    CHECK(m->trained_tokens() == 7);
    check_probs(*m, {}, {23.0 / 56, 15.0 / 56, 15.0 / 56, 3.0 / 56});
    check_probs(*m, {0, 1, 2}, {23.0 / 56, 15.0 / 56, 15.0 / 56, 3.0 / 56});  // context ignored
  }

  // Lowest level of orders >= 2: continuation counts N1+(. w), the start of a
  // document counting as one distinct left neighbour:
  //   0 follows {start(A), 1} -> 2;  1 follows {0, start(B)} -> 2;  2 follows {0} -> 1.
  // Total 5, 3 types, gamma = 0.5*3/5 = 0.3, uniform share 0.3/4 = 0.075:
  //   p1 = {0.075 + 1.5/5, 0.075 + 1.5/5, 0.075 + 0.5/5, 0.075} = {0.375, 0.375, 0.175, 0.075}.
  const std::vector<double> p1 = {0.375, 0.375, 0.175, 0.075};

  // Order 2, top level raw bigram counts: (0 1)=1, (1 0)=2, (0 2)=2.
  //   ctx 0: total 3, 2 types, gamma = 1/3:
  //     p(0|0) = 0.375/3 = 0.125;  p(1|0) = 0.125 + 0.5/3;  p(2|0) = 0.175/3 + 1.5/3;  p(3|0) = 0.025.
  //   ctx 1: total 2, 1 type, gamma = 0.25:
  //     p(0|1) = 0.25*0.375 + 1.5/2 = 0.84375;  p(1|1) = 0.09375;  p(2|1) = 0.04375;  p(3|1) = 0.01875.
  //   ctx 2 only ends documents, ctx 3 is unseen: both back off to p1.
  SECTION("order 2") {
    auto m = train_ok(kTiny, 4, 2, 0.5);
    check_probs(*m, {}, p1);
    check_probs(*m, {0}, {0.125, 0.125 + 0.5 / 3, 0.175 / 3 + 0.5, 0.025});
    check_probs(*m, {1}, {0.84375, 0.09375, 0.04375, 0.01875});
    check_probs(*m, {2}, p1);
    check_probs(*m, {3}, p1);
    check_probs(*m, {2, 3, 1}, {0.84375, 0.09375, 0.04375, 0.01875});  // only the last token counts
  }

  // Order 3. Middle level uses bigram continuation counts:
  //   (0 1) follows {start(A)} -> 1;  (1 0) follows {0, start(B)} -> 2;  (0 2) follows {1} -> 1.
  //   ctx 0: children 1 (1), 2 (1): total 2, gamma 0.5:
  //     p2(.|0) = 0.5*p1 + {0, 0.25, 0.25, 0} = {0.1875, 0.4375, 0.3375, 0.0375}.
  //   ctx 1: child 0 (2): total 2, gamma 0.25:  p2(.|1) = {0.84375, 0.09375, 0.04375, 0.01875}.
  // Top level raw trigram counts: (0 1 0)=1, (1 0 2)=2.
  //   ctx (1 0): child 2 (2), total 2, gamma 0.25:
  //     p(.|1 0) = 0.25*p2(.|0) + {0, 0, 0.75, 0} = {0.046875, 0.109375, 0.834375, 0.009375}.
  //   ctx (0 1): child 0 (1), total 1, gamma 0.5:
  //     p(.|0 1) = 0.5*p2(.|1) + {0.5, 0, 0, 0} = {0.921875, 0.046875, 0.021875, 0.009375}.
  //   ctx (2 0) is unseen: back off to p2(.|0). ctx (0 2) was never followed:
  //   p2(.|2), and 2 was never followed either: p1.
  SECTION("order 3") {
    auto m = train_ok(kTiny, 4, 3, 0.5);
    check_probs(*m, {}, p1);
    check_probs(*m, {0}, {0.1875, 0.4375, 0.3375, 0.0375});  // a short context uses the middle level
    check_probs(*m, {1}, {0.84375, 0.09375, 0.04375, 0.01875});
    check_probs(*m, {1, 0}, {0.046875, 0.109375, 0.834375, 0.009375});
    check_probs(*m, {2, 1, 0}, {0.046875, 0.109375, 0.834375, 0.009375});
    check_probs(*m, {0, 1}, {0.921875, 0.046875, 0.021875, 0.009375});
    check_probs(*m, {2, 0}, {0.1875, 0.4375, 0.3375, 0.0375});
    check_probs(*m, {0, 2}, p1);
    check_probs(*m, {3, 3}, p1);
  }
}

TEST_CASE("ngram: distributions are positive and sum to 1", "[ngram]") {
  const std::uint32_t vocab = 300;
  const Docs docs = random_docs(vocab, 60, 80, 7);
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::uint32_t> tok(0, vocab - 1);
  std::uniform_int_distribution<std::size_t> len(0, 6);
  for (std::uint32_t order = 1; order <= 4; ++order) {
    for (double d : {0.1, 0.75, 0.95}) {
      auto m = train_ok(docs, vocab, order, d);
      REQUIRE(m->order() == order);
      REQUIRE(m->vocab_size() == vocab);
      std::vector<std::vector<std::uint32_t>> contexts = {{}};
      // Contexts taken from the training data (seen at every order) ...
      for (std::size_t i = 0; i < 40; ++i) {
        const auto& doc = docs[i];
        if (doc.size() < 6) continue;
        contexts.emplace_back(doc.begin(), doc.begin() + 1 + static_cast<std::ptrdiff_t>(i % 5));
      }
      // ... and random ones (mostly unseen).
      for (int i = 0; i < 40; ++i) {
        std::vector<std::uint32_t> c(len(rng));
        for (auto& t : c) t = tok(rng);
        contexts.push_back(c);
      }
      for (const auto& c : contexts) {
        const auto l = logits(*m, c);
        double sum = 0.0;
        bool positive = true;
        for (float x : l) {
          positive = positive && std::isfinite(x);
          sum += std::exp(static_cast<double>(x));
        }
        INFO("order " << order << ", discount " << d << ", context length " << c.size());
        CHECK(positive);
        CHECK(std::abs(sum - 1.0) < 1e-6);
      }
    }
  }
}

TEST_CASE("ngram: seen continuations become the argmax", "[ngram]") {
  // Random text over ids 0..39; then 45 is always followed by 49, and
  // (42 44) by 46, while 44 alone is followed by 47 more often than by 46,
  // and after more distinct left neighbours (which is what counts at the
  // lower levels of Kneser-Ney).
  Docs docs = random_docs(40, 30, 40, 3);
  for (int i = 0; i < 20; ++i) docs.push_back({45, 49, 1, 42, 44, 46, 0});
  for (std::uint32_t i = 0; i < 30; ++i) docs.push_back({i % 10, 44, 47});
  for (std::uint32_t order = 2; order <= 4; ++order) {
    auto m = train_ok(docs, 50, order);
    std::uint32_t top = 99;
    REQUIRE(m->next_argmax(std::vector<std::uint32_t>{45}, &top).ok());
    CHECK(top == 49);
    CHECK(argmax(logits(*m, {45})) == 49);
    REQUIRE(m->next_argmax(std::vector<std::uint32_t>{44}, &top).ok());
    CHECK(top == 47);
    if (order >= 3) {
      REQUIRE(m->next_argmax(std::vector<std::uint32_t>{1, 42, 44}, &top).ok());
      CHECK(top == 46);
    }
  }
}

TEST_CASE("ngram: next_argmax agrees with the argmax of next_logits", "[ngram]") {
  const Docs docs = random_docs(200, 40, 60, 5);
  auto m = train_ok(docs, 200, 3);
  for (std::size_t d = 0; d < docs.size(); ++d) {
    const auto& doc = docs[d];
    for (std::size_t i = 0; i <= doc.size(); ++i) {
      const std::vector<std::uint32_t> ctx(doc.begin(), doc.begin() + static_cast<std::ptrdiff_t>(i));
      std::uint32_t top = 0;
      REQUIRE(m->next_argmax(ctx, &top).ok());
      CHECK(top == argmax(logits(*m, ctx)));
    }
  }
  // A model with no data beyond the floor: all tokens tie, the lowest id wins.
  auto flat = train_ok({{3}}, 8, 1);
  std::uint32_t top = 99;
  REQUIRE(flat->next_argmax(std::vector<std::uint32_t>{}, &top).ok());
  CHECK(top == 3);
  auto l = logits(*flat, {});
  l[3] = l[0];
  CHECK(argmax(l) == 0);
}

namespace {
// A model whose logits are fixed, to test LanguageModel::next_argmax.
class FixedLogits final : public isotope::LanguageModel {
 public:
  explicit FixedLogits(std::vector<float> l) : l_(std::move(l)) {}
  std::uint32_t vocab_size() const noexcept override { return static_cast<std::uint32_t>(l_.size()); }
  isotope::Status next_logits(std::span<const std::uint32_t>, std::span<float> out) const override {
    if (out.size() != l_.size()) return {Code::vocab_mismatch, "size"};
    std::copy(l_.begin(), l_.end(), out.begin());
    return isotope::Status::OK();
  }

 private:
  std::vector<float> l_;
};

isotope::Status argmax_of(std::vector<float> l, std::uint32_t* top) {
  return FixedLogits(std::move(l)).next_argmax(std::span<const std::uint32_t>(), top);
}
}  // namespace

TEST_CASE("language model: default next_argmax", "[ngram]") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::uint32_t top = 99;
  REQUIRE(argmax_of({-1.0f, -0.5f, -0.5f, -2.0f}, &top).ok());
  CHECK(top == 1);  // the lowest id among ties
  REQUIRE(argmax_of({nan, -3.0f, 5.0f, nan}, &top).ok());
  CHECK(top == 2);  // NaN never wins
  REQUIRE(argmax_of({-inf, -inf}, &top).ok());
  CHECK(top == 0);
  REQUIRE(argmax_of({nan, -inf, -inf}, &top).ok());
  CHECK(top == 1);
  REQUIRE(argmax_of({-inf, inf, inf}, &top).ok());
  CHECK(top == 1);
  CHECK(argmax_of({nan, nan}, &top).code() == Code::invalid_argument);
  CHECK(argmax_of({}, &top).code() == Code::invalid_argument);
  CHECK(argmax_of({1.0f}, nullptr).code() == Code::invalid_argument);
}

TEST_CASE("ngram: save and load round-trip", "[ngram]") {
  TempDir dir;
  const Docs docs = random_docs(500, 50, 100, 9);
  const std::string sha(64, 'a');
  for (std::uint32_t order = 1; order <= 6; ++order) {
    auto m = train_ok(docs, 500, order, 0.7, sha);
    const std::string n = std::to_string(order) + ".lm";
    const std::string p1 = dir.file(std::string("a").append(n));
    const std::string p2 = dir.file(std::string("b").append(n));
    REQUIRE(m->save(p1).ok());
    std::unique_ptr<NgramModel> loaded;
    const isotope::Status st = NgramModel::load(p1, &loaded);
    INFO(st.to_string());
    REQUIRE(st.ok());
    CHECK(loaded->vocab_size() == 500);
    CHECK(loaded->order() == order);
    CHECK(loaded->trained_tokens() == m->trained_tokens());
    CHECK(loaded->tokenizer_sha256() == sha);
    for (std::size_t d = 0; d < 10; ++d) {
      const auto& doc = docs[d];
      for (std::size_t i = 0; i <= std::min<std::size_t>(doc.size(), 12); ++i) {
        const std::vector<std::uint32_t> ctx(doc.begin(), doc.begin() + static_cast<std::ptrdiff_t>(i));
        const auto a = logits(*m, ctx);
        const auto b = logits(*loaded, ctx);
        CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      }
    }
    REQUIRE(loaded->save(p2).ok());
    CHECK(read_bytes(p1) == read_bytes(p2));
  }
}

TEST_CASE("ngram: training is deterministic", "[ngram]") {
  TempDir dir;
  const Docs docs = random_docs(1000, 80, 200, 21);
  auto a = train_ok(docs, 1000, 4);
  auto b = train_ok(docs, 1000, 4);
  REQUIRE(a->save(dir.file("a.lm")).ok());
  REQUIRE(b->save(dir.file("b.lm")).ok());
  CHECK(read_bytes(dir.file("a.lm")) == read_bytes(dir.file("b.lm")));
  // Empty documents change nothing; a different corpus changes the file.
  Docs with_empty = docs;
  with_empty.insert(with_empty.begin() + 3, std::vector<std::uint32_t>{});
  with_empty.emplace_back();
  auto c = train_ok(with_empty, 1000, 4);
  REQUIRE(c->save(dir.file("c.lm")).ok());
  CHECK(read_bytes(dir.file("a.lm")) == read_bytes(dir.file("c.lm")));
  Docs other = docs;
  other[0].push_back(1);
  auto d = train_ok(other, 1000, 4);
  REQUIRE(d->save(dir.file("d.lm")).ok());
  CHECK(read_bytes(dir.file("a.lm")) != read_bytes(dir.file("d.lm")));
}

TEST_CASE("ngram: documents are separate sequences", "[ngram]") {
  // Joining the two documents would create the bigram (2 1); keeping them apart must not.
  auto apart = train_ok({{0, 2}, {1, 3}}, 4, 2, 0.5);
  auto joined = train_ok({{0, 2, 1, 3}}, 4, 2, 0.5);
  const auto pa = probs(*apart, {2});
  const auto pj = probs(*joined, {2});
  CHECK(pj[1] > 0.5);
  CHECK(pa[1] < 0.5);
  // 2 ends its document, so the apart model backs off to the lowest level there.
  const auto p_empty = probs(*apart, {});
  for (std::size_t i = 0; i < 4; ++i) CHECK(pa[i] == Approx(p_empty[i]).epsilon(1e-6));
}

TEST_CASE("ngram: corrupt, truncated and foreign files are rejected", "[ngram]") {
  TempDir dir;
  auto m = train_ok(random_docs(40, 6, 12, 2), 40, 3, 0.75, std::string(64, 'f'));
  const std::string good_path = dir.file("good.lm");
  REQUIRE(m->save(good_path).ok());
  const std::string good = read_bytes(good_path);
  REQUIRE(load_code(good_path) == Code::ok);
  const std::string bad = dir.file("bad.lm");

  SECTION("missing file") { CHECK(load_code(dir.file("missing.lm")) == Code::io); }

  SECTION("truncation at every offset") {
    // Shrinking one file step by step (rewriting thousands of files is slow on some disks).
    write_bytes(bad, good);
    for (std::size_t n = good.size(); n-- > 0;) {
      std::filesystem::resize_file(bad, n);
      INFO("length " << n);
      CHECK(load_code(bad) == Code::corrupt);
      if (n >= 16) CHECK(load_message(bad).find("truncated") != std::string::npos);
    }
  }

  SECTION("every single-bit flip") {
    // Each flip is written in place over a copy of the good file, then undone.
    write_bytes(bad, good);
    std::fstream f(bad, std::ios::binary | std::ios::in | std::ios::out);
    REQUIRE(f.is_open());
    auto put = [&](std::size_t off, char c) {
      f.seekp(static_cast<std::streamoff>(off));
      f.put(c);
      f.flush();
      REQUIRE(f.good());
    };
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        put(i, static_cast<char>(good[i] ^ (1 << bit)));
        INFO("byte " << i << " bit " << bit);
        CHECK(load_code(bad) == Code::corrupt);
      }
      put(i, good[i]);
    }
    CHECK(load_code(bad) == Code::ok);
    // A flip inside the tables is reported as damage.
    put(good.size() - 40, static_cast<char>(good[good.size() - 40] ^ 1));
    CHECK(load_message(bad).find("checksum") != std::string::npos);
  }

  SECTION("trailing bytes") {
    write_bytes(bad, good + std::string(1, '\0'));
    CHECK(load_code(bad) == Code::corrupt);
    CHECK(load_message(bad).find("trailing") != std::string::npos);
    write_bytes(bad, good + good);
    CHECK(load_code(bad) == Code::corrupt);
  }

  SECTION("foreign files") {
    for (const std::string& s :
         {std::string(), std::string("hello world\n"), std::string(4096, '\0'), std::string("ISOTOPE-NGRAM"),
          std::string("ISOTOPE-KEY\0\0\0\0\0", 16) + good.substr(16)}) {
      write_bytes(bad, s);
      CHECK(load_code(bad) == Code::corrupt);
    }
    CHECK(load_message(bad).find("magic") != std::string::npos);
  }

  SECTION("unsupported version, even with a valid checksum") {
    std::string b = good;
    b[16] = 2;
    write_bytes(bad, reseal(b));
    std::unique_ptr<NgramModel> out;
    const isotope::Status st = NgramModel::load(bad, &out);
    CHECK(st.code() == Code::corrupt);
    CHECK(st.message().find("version") != std::string::npos);
  }

  SECTION("inconsistent contents with a valid checksum") {
    // Header: magic 16, version 4, vocab 4, order 4, flags 4, discount 8,
    // trained 8, tokenizer hash 64, then one u64 node count per level.
    const std::size_t counts = 112;
    auto edited = [&](std::size_t off, std::uint8_t value) {
      std::string b = good;
      b[off] = static_cast<char>(value);
      return reseal(b);
    };
    std::vector<std::string> cases = {
        edited(20, 0),                  // vocab 0 (the first byte of 40)
        edited(23, 0x10),               // vocab above 2^24
        edited(24, 9),                  // order 9
        edited(24, 0),                  // order 0
        edited(28, 1),                  // unknown flags
        edited(39, 0x7f),               // discount about 1e308
        edited(39, 0x40),               // discount 49152
        edited(48, 'G'),                // malformed tokenizer hash
        edited(counts, 0xff),           // level-1 node count larger than the file
        edited(counts + 8, 1),          // level-2 node count too small
        edited(counts + 24 + 4, 0),     // second unigram id lowered: out of order or a duplicate
        edited(counts + 24 + 2, 0x7f),  // token id outside the vocabulary
    };
    // A count of zero at level 1.
    {
      std::string b = good;
      std::uint64_t n1 = 0;
      for (int i = 0; i < 8; ++i)
        n1 |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[counts + i])) << (8 * i);
      const std::size_t count_off = counts + 24 + 4 * n1;
      for (int i = 0; i < 4; ++i) b[count_off + i] = 0;
      cases.push_back(reseal(b));
      // A child range that runs backwards.
      std::string c = good;
      const std::size_t child_off = counts + 24 + 8 * n1 + 4;
      c[child_off] = static_cast<char>(0xff);
      c[child_off + 1] = static_cast<char>(0xff);
      cases.push_back(reseal(c));
    }
    for (std::size_t i = 0; i < cases.size(); ++i) {
      INFO("case " << i);
      write_bytes(bad, cases[i]);
      CHECK(load_code(bad) == Code::corrupt);
    }
  }
}

TEST_CASE("ngram: resealed random damage is rejected or harmless", "[ngram]") {
  // Random edits with a recomputed checksum reach the structural checks; a
  // file that still loads must answer queries with finite log-probabilities.
  TempDir dir;
  const std::uint32_t vocab = 30;
  auto m = train_ok(random_docs(vocab, 8, 15, 4), vocab, 4);
  const std::string path = dir.file("m.lm");
  REQUIRE(m->save(path).ok());
  const std::string good = read_bytes(path);
  std::mt19937 rng(99);
  // From offset 24: the vocabulary size (offset 20) is not edited here, since a
  // larger one that still fits the tables makes big but valid models.
  std::uniform_int_distribution<std::size_t> where(24, good.size() - 33);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> edits(1, 4);
  std::uniform_int_distribution<std::uint32_t> tok(0, vocab - 1);
  int loaded = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string b = good;
    for (int e = edits(rng); e > 0; --e) b[where(rng)] = static_cast<char>(byte(rng));
    write_bytes(path, reseal(b));
    std::unique_ptr<NgramModel> x;
    const isotope::Status st = NgramModel::load(path, &x);
    if (!st.ok()) {
      CHECK(st.code() == Code::corrupt);
      continue;
    }
    ++loaded;
    std::vector<float> out(x->vocab_size());
    for (int q = 0; q < 20; ++q) {
      std::vector<std::uint32_t> ctx(static_cast<std::size_t>(q % 5));
      for (auto& t : ctx) t = tok(rng) % x->vocab_size();
      REQUIRE(x->next_logits(ctx, out).ok());
      CHECK(std::all_of(out.begin(), out.end(), [](float v) { return std::isfinite(v) && v <= 0.0f; }));
    }
  }
  INFO("loaded " << loaded << " of 3000 damaged files");
  CHECK(loaded < 3000);
}

TEST_CASE("ngram: invalid training input", "[ngram]") {
  std::unique_ptr<NgramModel> m;
  NgramOptions opt;
  SECTION("token id outside the vocabulary") {
    const isotope::Status st = NgramModel::train({{1, 2}, {3, 10}}, 10, opt, "", &m);
    CHECK(st.code() == Code::vocab_mismatch);
    CHECK(m == nullptr);
  }
  SECTION("no tokens") {
    CHECK(NgramModel::train({}, 10, opt, "", &m).code() == Code::empty_input);
    CHECK(NgramModel::train({{}, {}}, 10, opt, "", &m).code() == Code::empty_input);
    CHECK(m == nullptr);
  }
  SECTION("order and discount") {
    for (std::uint32_t order : {0u, 7u, 100u}) {
      opt.order = order;
      CHECK(NgramModel::train({{1, 2}}, 10, opt, "", &m).code() == Code::invalid_argument);
    }
    opt.order = 3;
    for (double d : {0.0, 1.0, -0.5, 1.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
      opt.discount = d;
      CHECK(NgramModel::train({{1, 2}}, 10, opt, "", &m).code() == Code::invalid_argument);
    }
    CHECK(m == nullptr);
  }
  SECTION("vocabulary size, tokenizer hash, null output") {
    CHECK(NgramModel::train({{0}}, 0, opt, "", &m).code() == Code::invalid_argument);
    CHECK(NgramModel::train({{0}}, (1u << 24) + 1, opt, "", &m).code() == Code::invalid_argument);
    CHECK(NgramModel::train({{0}}, 10, opt, "abc", &m).code() == Code::invalid_argument);
    CHECK(NgramModel::train({{0}}, 10, opt, std::string(64, 'z'), &m).code() == Code::invalid_argument);
    CHECK(NgramModel::train({{0}}, 10, opt, "", nullptr).code() == Code::invalid_argument);
    // Upper-case hex is accepted and stored in lower case.
    REQUIRE(NgramModel::train({{0}}, 10, opt, std::string(64, 'A'), &m).ok());
    CHECK(m->tokenizer_sha256() == std::string(64, 'a'));
  }
}

TEST_CASE("ngram: invalid queries", "[ngram]") {
  auto m = train_ok({{1, 2, 3}}, 10, 3);
  std::vector<float> small(9);
  CHECK(m->next_logits(std::vector<std::uint32_t>{1}, small).code() == Code::vocab_mismatch);
  std::vector<float> out(10);
  CHECK(m->next_logits(std::vector<std::uint32_t>{1, 10}, out).code() == Code::vocab_mismatch);
  // Tokens older than the model's window are not looked at.
  CHECK(m->next_logits(std::vector<std::uint32_t>{99, 1, 2}, out).ok());
  CHECK(m->next_argmax(std::vector<std::uint32_t>{1}, nullptr).code() == Code::invalid_argument);
  std::uint32_t top = 0;
  CHECK(m->next_argmax(std::vector<std::uint32_t>{10}, &top).code() == Code::vocab_mismatch);
}
