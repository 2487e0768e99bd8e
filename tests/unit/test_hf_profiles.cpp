// PyTorch's CPU generator, the hf-kgw / tgi-kgw green lists and the hf-synthid
// g-values against tests/vectors/hf_vectors.json (written by
// tests/vectors/gen_hf_vectors.py with torch's own CPU generator).
#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "prf/torch_cpu.hpp"
#include "schemes/hf_synthid/hf_synthid.hpp"
#include "schemes/torch_kgw/torch_kgw.hpp"

using namespace isotope;
using namespace isotope::detail;

namespace {
nlohmann::json hf_vectors() {
  std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/hf_vectors.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}
template <typename T>
std::string sha256_u32(const std::vector<T>& ids) {
  std::vector<unsigned char> bytes;
  for (T v : ids)
    for (int b = 0; b < 4; ++b)
      bytes.push_back(static_cast<unsigned char>((static_cast<std::uint32_t>(v) >> (8 * b)) & 0xFF));
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(bytes.data(), bytes.size(), d);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : d) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}
void check_summary(const std::vector<std::uint32_t>& ids, const nlohmann::json& want) {
  REQUIRE(ids.size() == want["len"].get<std::size_t>());
  const auto head = want["head"].get<std::vector<std::uint32_t>>();
  CHECK(std::vector<std::uint32_t>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(head.size())) == head);
  CHECK(sha256_u32(ids) == want["sha256"].get<std::string>());
}
std::uint64_t u64(const nlohmann::json& s) { return std::stoull(s.get<std::string>()); }
}  // namespace

TEST_CASE("torch CPU randperm is reproduced", "[hf][torch]") {
  const auto doc = hf_vectors();
  std::size_t n = 0;
  for (const auto& v : doc["randperm"]) {
    INFO(v["n"] << " " << v["seed"]);
    std::mt19937 gen = torch_cpu_generator(u64(v["seed"]));
    const auto size = v["n"].get<std::uint32_t>();
    std::vector<std::uint32_t> perm;
    REQUIRE(torch_randperm_prefix(gen, size, size, &perm).ok());
    check_summary(perm, v["perm"]);
    // A prefix is the same as the first entries of the whole permutation.
    std::mt19937 again = torch_cpu_generator(u64(v["seed"]));
    std::vector<std::uint32_t> prefix;
    REQUIRE(torch_randperm_prefix(again, size, size / 3, &prefix).ok());
    CHECK(prefix == std::vector<std::uint32_t>(perm.begin(), perm.begin() + size / 3));
    ++n;
  }
  CHECK(n == 30);
  std::vector<std::uint32_t> out;
  std::mt19937 gen = torch_cpu_generator(0);
  CHECK(!torch_randperm_prefix(gen, 0, 0, &out).ok());
  CHECK(!torch_randperm_prefix(gen, TORCH_RANDPERM_MAX_N + 1, 1, &out).ok());
  CHECK(!torch_randperm_prefix(gen, 10, 11, &out).ok());
}

TEST_CASE("torch CPU randint(0, 2) bits are reproduced", "[hf][torch]") {
  const auto doc = hf_vectors();
  for (const auto& v : doc["random_bits"]) {
    const auto bits = hf_synthid_table(v["n"].get<std::uint32_t>(), v["seed"].get<std::uint64_t>());
    std::vector<std::uint32_t> as_ids(bits.begin(), bits.end());
    std::size_t ones = 0;
    for (auto b : bits) ones += b;
    CHECK(ones == v["ones"].get<std::size_t>());
    CHECK(std::vector<std::uint32_t>(as_ids.begin(), as_ids.begin() + 32) ==
          v["head"].get<std::vector<std::uint32_t>>());
    CHECK(sha256_u32(as_ids) == v["sha256"].get<std::string>());
  }
}

TEST_CASE("mod 2^64-1 products match Python integers", "[hf][torch]") {
  const std::uint64_t M = ~std::uint64_t{0};
  CHECK(mulmod_2p64m1(0, M) == 0);
  CHECK(mulmod_2p64m1(M, 1) == 0);           // 2^64 - 1 = 0
  CHECK(mulmod_2p64m1(1ull << 63, 2) == 1);  // 2^64 = 1
  CHECK(mulmod_2p64m1(15485863, 31999) == 15485863ull * 31999ull);
  CHECK(mulmod_2p64m1(M - 1, M - 1) == 1);  // (-1)^2
}

TEST_CASE("hf-kgw and tgi-kgw green lists equal torch's", "[hf][kgw]") {
  const auto doc = hf_vectors();
  std::size_t n = 0;
  for (const auto& v : doc["kgw"]) {
    TorchKgwConfig cfg;
    cfg.seeding = TorchKgwSeeding::hf_lefthash;
    cfg.hashing_key = u64(v["hashing_key"]);
    cfg.vocab = v["vocab"];
    cfg.green = torch_kgw_green_size(cfg.vocab, v["ratio"].get<double>());
    TorchGreenLists lists;
    REQUIRE(TorchGreenLists::create(cfg, &lists).ok());
    const std::uint32_t prev = v["prev"];
    std::uint64_t seed = 0;
    REQUIRE(lists.seed(std::span<const std::uint32_t>(&prev, 1), 0, &seed).ok());
    CHECK(seed == u64(v["seed"]));
    std::vector<std::uint32_t> ids;
    REQUIRE(lists.green_ids(seed, &ids).ok());
    check_summary(ids, v["green"]);
    // is_green agrees with the list.
    bool g = false;
    REQUIRE(lists.is_green(seed, ids.front(), &g).ok());
    CHECK(g);
    std::vector<std::uint8_t> in(cfg.vocab, 0);
    for (auto id : ids) in[id] = 1;
    for (std::uint32_t t = 0; t < cfg.vocab; t += 997) {
      REQUIRE(lists.is_green(seed, t, &g).ok());
      CHECK(g == (in[t] != 0));
    }
    REQUIRE(lists.is_green(seed, cfg.vocab, &g).ok());  // beyond the engine's vocabulary: red
    CHECK(!g);
    ++n;
  }
  CHECK(n == 10);
  for (const auto& v : doc["tgi"]) {
    TorchKgwConfig cfg;
    cfg.seeding = TorchKgwSeeding::tgi;
    cfg.vocab = v["vocab"];
    cfg.green = torch_kgw_green_size(cfg.vocab, v["gamma"].get<double>());
    TorchGreenLists lists;
    REQUIRE(TorchGreenLists::create(cfg, &lists).ok());
    const std::uint32_t prev = v["prev"];
    std::uint64_t seed = 0;
    REQUIRE(lists.seed(std::span<const std::uint32_t>(&prev, 1), 0, &seed).ok());
    CHECK(seed == u64(v["seed"]));
    std::vector<std::uint32_t> ids;
    REQUIRE(lists.green_ids(seed, &ids).ok());
    check_summary(ids, v["green"]);
  }
}

TEST_CASE("hf-kgw selfhash seeds and green lists equal torch's", "[hf][kgw]") {
  const auto doc = hf_vectors();
  for (const auto& v : doc["selfhash"]) {
    const auto window = v["window"].get<std::vector<std::uint32_t>>();
    TorchKgwConfig cfg;
    cfg.seeding = TorchKgwSeeding::hf_selfhash;
    cfg.hashing_key = u64(v["hashing_key"]);
    cfg.vocab = 32000;
    cfg.green = torch_kgw_green_size(32000, 0.25);
    cfg.context_width = static_cast<std::uint32_t>(window.size());
    TorchGreenLists lists;
    REQUIRE(TorchGreenLists::create(cfg, &lists).ok());
    std::uint64_t seed = 0;
    REQUIRE(lists.seed(std::span<const std::uint32_t>(window).first(window.size() - 1), window.back(), &seed).ok());
    INFO(v.dump());
    CHECK(seed == u64(v["seed"]));
    std::vector<std::uint32_t> ids;
    REQUIRE(lists.green_ids(seed, &ids).ok());
    check_summary(ids, v["green"]);
  }
}

TEST_CASE("hf-synthid g-values equal the reference hashing", "[hf][synthid]") {
  const auto doc = hf_vectors();
  std::size_t n = 0;
  for (const auto& v : doc["synthid"]) {
    const auto table = hf_synthid_table(v["table_size"].get<std::uint32_t>(), v["table_seed"].get<std::uint64_t>());
    const auto keys = v["keys"].get<std::vector<std::uint64_t>>();
    const auto ctx = v["context"].get<std::vector<std::uint32_t>>();
    std::vector<std::uint8_t> g(keys.size());
    hf_synthid_gvalues(table, keys, ctx, v["token"].get<std::uint32_t>(), g);
    INFO(v.dump());
    CHECK(std::vector<int>(g.begin(), g.end()) == v["g"].get<std::vector<int>>());
    ++n;
  }
  CHECK(n == 8);
}

// ---------------------------------------------------------------- the profiles

#include <cmath>
#include <random>

#include "isotope/detect.hpp"
#include "isotope/watermark.hpp"

namespace {
Key engine_key(std::uint64_t v) {
  Key k;
  REQUIRE(Key::from_engine_ints(std::span<const std::uint64_t>(&v, 1), &k).ok());
  return k;
}
Profile engine_profile(const char* scheme, double vocab) {
  Profile p;
  REQUIRE(Profile::of(scheme, &p).ok());
  REQUIRE(p.set("engine_vocab_size", vocab).ok());
  REQUIRE(p.validate().ok());
  return p;
}
}  // namespace

TEST_CASE("hf-kgw and tgi-kgw profiles: defaults, required vocabulary, cuda refused", "[hf][kgw]") {
  Profile p;
  REQUIRE(Profile::of("hf-kgw", &p).ok());
  CHECK(p.context_width == 1);
  CHECK(p.param("greenlist_ratio") == 0.25);
  CHECK(p.param("bias") == 2.0);
  const Status no_vocab = p.validate();
  CHECK(!no_vocab.ok());
  CHECK(no_vocab.message().find("vocab") != std::string::npos);
  REQUIRE(p.set("engine_vocab_size", 32000).ok());
  CHECK(p.validate().ok());
  REQUIRE(p.set("device", 1).ok());
  const Status cuda = p.validate();
  CHECK(!cuda.ok());
  CHECK(cuda.message().find("CUDA") != std::string::npos);

  Profile t;
  REQUIRE(Profile::of("tgi-kgw", &t).ok());
  CHECK(t.param("gamma") == 0.5);
  CHECK(t.param("delta") == 2.0);
  REQUIRE(t.set("engine_vocab_size", 32000).ok());
  CHECK(t.validate().ok());
  t.context_width = 2;
  CHECK(!t.validate().ok());
}

TEST_CASE("hf-kgw scorer values are the engine's green list", "[hf][kgw]") {
  const auto doc = hf_vectors();
  for (const auto& v : doc["kgw"]) {
    if (v["hashing_key"].get<std::string>() != "15485863") continue;
    const Profile p = engine_profile("hf-kgw", v["vocab"].get<double>());
    std::unique_ptr<TupleScorer> s;
    REQUIRE(find_scheme("hf-kgw")->make_scorer(engine_key(15485863), p, &s).ok());
    const std::uint32_t prev = v["prev"];
    const auto head = v["green"]["head"].get<std::vector<std::uint32_t>>();
    std::vector<double> out(head.size());
    REQUIRE(s->values(std::span<const std::uint32_t>(&prev, 1), head, out).ok());
    for (double x : out) CHECK(x == 1.0);
    // Over the whole vocabulary, exactly G tokens are green.
    std::vector<std::uint32_t> all(v["vocab"].get<std::uint32_t>());
    for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    std::vector<double> vals(all.size());
    REQUIRE(s->values(std::span<const std::uint32_t>(&prev, 1), all, vals).ok());
    double green = 0;
    for (double x : vals) green += x;
    CHECK(green == std::floor(all.size() * 0.25));
  }
}

TEST_CASE("hf-kgw null: binomial above the mean, 1 below (conservative)", "[hf][kgw]") {
  const Profile p = engine_profile("hf-kgw", 32000);
  const Scheme* s = find_scheme("hf-kgw");
  CHECK(s->tail(p, 100, 400).p_value == 1.0);  // mean 100
  CHECK(s->tail(p, 100, 400).log10_p == 0.0);
  const Tail t = s->tail(p, 200, 400);
  const Tail b = binomial_upper_tail(200, 400, 0.25);
  CHECK(t.log10_p == b.log10_p);
  CHECK(t.log10_p < -20);
}

TEST_CASE(
    "hf-kgw and tgi-kgw text generated under the key is detected, other "
    "keys are not",
    "[hf][kgw]") {
  for (const char* scheme : {"hf-kgw", "tgi-kgw"}) {
    for (double selfhash : {0.0, 1.0}) {
      if (std::string(scheme) == "tgi-kgw" && selfhash == 1.0) continue;
      Profile p = engine_profile(scheme, 2000);
      if (selfhash == 1.0) {
        REQUIRE(p.set("seeding_scheme", 1).ok());
        p.context_width = 2;
        REQUIRE(p.validate().ok());
      }
      INFO(scheme << " selfhash " << selfhash);
      std::unique_ptr<Watermarker> w;
      REQUIRE(Watermarker::create(engine_key(15485863), p, 2000, &w).ok());
      std::mt19937 logit_rng(7);
      std::normal_distribution<float> nd(0.0f, 2.0f);
      std::vector<std::uint32_t> ids{1, 2};
      std::vector<float> logits(2000);
      Rng rng(11);
      for (int i = 0; i < 300; ++i) {
        for (float& x : logits) x = nd(logit_rng);
        std::uint32_t tok = 0;
        REQUIRE(w->sample(ids, logits, SamplingParams{}, rng, &tok).ok());
        ids.push_back(tok);
      }
      std::unique_ptr<Scorer> own, other;
      REQUIRE(Scorer::create(engine_key(15485863), p, &own).ok());
      REQUIRE(Scorer::create(engine_key(987654321), p, &other).ok());
      REQUIRE(own->add(ids).ok());
      REQUIRE(other->add(ids).ok());
      CHECK(own->result().log10_p < -6);
      CHECK(other->result().log10_p > -3);
    }
  }
}

// ---------------------------------------------------------------- hf-synthid

namespace {
Key engine_keys(const std::vector<std::uint64_t>& v) {
  Key k;
  REQUIRE(Key::from_engine_ints(std::span<const std::uint64_t>(v), &k).ok());
  return k;
}
Profile synthid_profile(double table_size, double table_seed, double layers, double ngram_len) {
  Profile p;
  REQUIRE(Profile::of("hf-synthid", &p).ok());
  REQUIRE(p.set("sampling_table_size", table_size).ok());
  REQUIRE(p.set("sampling_table_seed", table_seed).ok());
  REQUIRE(p.set("layers", layers).ok());
  REQUIRE(p.set("ngram_len", ngram_len).ok());
  p.context_width = static_cast<std::uint32_t>(ngram_len) - 1;
  REQUIRE(p.validate().ok());
  return p;
}
}  // namespace

TEST_CASE("hf-synthid profile: defaults and refusals", "[hf][synthid]") {
  Profile p;
  REQUIRE(Profile::of("hf-synthid", &p).ok());
  CHECK(p.context_width == 4);
  CHECK(p.param("ngram_len") == 5);
  CHECK(p.param("sampling_table_size") == 65536);
  CHECK(p.param("context_history_size") == 1024);
  CHECK(p.validate().ok());
  Profile q = p;
  REQUIRE(q.set("sampling_table_size", 1000).ok());
  CHECK(q.validate().message().find("power of two") != std::string::npos);
  q = p;
  REQUIRE(q.set("device", 1).ok());
  CHECK(q.validate().message().find("CUDA") != std::string::npos);
  q = p;
  q.context_width = 3;
  CHECK(!q.validate().ok());
}

TEST_CASE("hf-synthid exact null equals the exact fractions of the reference", "[hf][synthid]") {
  const auto doc = hf_vectors();
  std::size_t n = 0;
  for (const auto& v : doc["synthid_null"]) {
    const auto windows = v["windows"].get<std::vector<std::vector<std::uint32_t>>>();
    const auto tokens = v["tokens"].get<std::vector<std::uint32_t>>();
    const Profile p = synthid_profile(v["table_size"].get<double>(), v["table_seed"].get<double>(),
                                      v["layers"].get<double>(), static_cast<double>(windows[0].size() + 1));
    std::unique_ptr<TupleNull> null;
    REQUIRE(find_scheme("hf-synthid")->make_tuple_null(p, &null).ok());
    REQUIRE(null);
    std::vector<std::uint32_t> flat;
    for (const auto& w : windows) flat.insert(flat.end(), w.begin(), w.end());
    null->add(flat.data(), tokens.data(), tokens.size());
    for (const auto& [t, want] : v["log10_tail"].items()) {
      INFO("t = " << t);
      const Tail got = null->tail(std::stod(t));
      CHECK(std::fabs(got.log10_p - want.get<double>()) <= 1e-12 * std::max(1.0, std::fabs(want.get<double>())));
      ++n;
    }
    // Above the largest possible count the tail is empty; at 0 it is 1.
    CHECK(null->tail(0).log10_p == 0.0);
    null->clear();
    CHECK(null->tail(3).log10_p == 0.0);
  }
  CHECK(n == 16 + 64 + 25);
}

TEST_CASE("hf-synthid: each layer reads the table at one key-given rotation of the tuples' residues", "[hf][synthid]") {
  // The identity the exact null rests on, through the scorer's full hashing.
  const Profile p = synthid_profile(1 << 10, 7, 3, 3);
  const auto table = hf_synthid_table(1 << 10, 7);
  std::mt19937_64 rng(9);
  std::vector<std::uint32_t> windows, tokens;
  for (int j = 0; j < 50; ++j) {
    windows.push_back(static_cast<std::uint32_t>(rng() % 100000));
    windows.push_back(static_cast<std::uint32_t>(rng() % 100000));
    tokens.push_back(static_cast<std::uint32_t>(rng() % 100000));
  }
  for (int trial = 0; trial < 20; ++trial) {
    const std::vector<std::uint64_t> keys{rng(), rng(), rng()};
    std::unique_ptr<TupleScorer> s;
    REQUIRE(find_scheme("hf-synthid")->make_scorer(engine_keys(keys), p, &s).ok());
    std::vector<double> scores(tokens.size());
    REQUIRE(s->score(windows.data(), tokens.data(), tokens.size(), scores.data()).ok());
    double total = 0.0, want = 0.0;
    for (double x : scores) total += x;
    for (std::uint64_t k : keys) {
      const std::uint64_t o = (k * HF_SYNTHID_LCG_MUL) % (1u << 10);
      for (std::size_t j = 0; j < tokens.size(); ++j) {
        const std::uint64_t h =
            hf_synthid_hash1(hf_synthid_hash(1, std::span<const std::uint32_t>(windows).subspan(2 * j, 2)), tokens[j]);
        want += table[((h * HF_SYNTHID_LCG_MUL + 1) + o) % (1u << 10)];
      }
    }
    CHECK(total == want);
  }
}

TEST_CASE("hf-synthid text generated under the keys is detected, other keys are not", "[hf][synthid]") {
  const Profile p = synthid_profile(65536, 0, 4, 3);
  const Key key = engine_keys({654, 400, 836, 123}), other = engine_keys({1, 2, 3, 4});
  std::unique_ptr<Watermarker> w;
  REQUIRE(Watermarker::create(key, p, 2000, &w).ok());
  std::mt19937 logit_rng(7);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<std::uint32_t> ids{1, 2, 3};
  std::vector<float> logits(2000);
  Rng rng(11);
  for (int i = 0; i < 300; ++i) {
    for (float& x : logits) x = nd(logit_rng);
    std::uint32_t tok = 0;
    REQUIRE(w->sample(ids, logits, SamplingParams{}, rng, &tok).ok());
    ids.push_back(tok);
  }
  DetectionResult mine, theirs;
  REQUIRE(detect_ids(key, p, ids, &mine).ok());
  REQUIRE(detect_ids(other, p, ids, &theirs).ok());
  CHECK(mine.trials == 4 * mine.scored);
  CHECK(mine.log10_p < -6);
  CHECK(theirs.log10_p > -3);
  // The smallest p-value the exact null allows is S^-m.
  CHECK(mine.log10_p >= -4 * std::log10(65536.0) - 1e-9);
}
