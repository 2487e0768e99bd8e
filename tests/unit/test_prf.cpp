// The green-list PRF against the independent Python reference
// (tests/vectors/gen_prf_vectors.py -> tests/vectors/prf_vectors.json).
#include <cpuid.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "isotope/io.hpp"
#include "isotope/key.hpp"
#include "isotope/prf.hpp"
#include "isotope/profile.hpp"
#include "prf/aes_fast.hpp"

using isotope::Code;
using isotope::GreenList;
using isotope::Key;
using isotope::Profile;
using isotope::Seed;

namespace {

const nlohmann::json& vectors_json() {
  static const nlohmann::json doc = [] {
    std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/prf_vectors.json");
    if (!in) throw std::runtime_error("cannot open tests/vectors/prf_vectors.json");
    return nlohmann::json::parse(in);
  }();
  return doc;
}

std::vector<std::uint8_t> from_hex(const std::string& hex) {
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

Key key_from_hex(const std::string& hex) {
  const auto bytes = from_hex(hex);
  Key k;
  const auto st = Key::from_bytes(bytes.data(), bytes.size(), &k);
  REQUIRE(st.ok());
  return k;
}

Seed seed_from_hex(const std::string& hex) {
  const auto bytes = from_hex(hex);
  REQUIRE(bytes.size() == 16);
  Seed s{};
  std::copy(bytes.begin(), bytes.end(), s.begin());
  return s;
}

std::unique_ptr<GreenList> make_list(const Key& key, double gamma = 0.25, std::uint32_t h = 2) {
  Profile p;
  p.params["gamma"] = gamma;
  p.context_width = h;
  std::unique_ptr<GreenList> gl;
  const auto st = GreenList::create(key, p, &gl);
  INFO(st.to_string());
  REQUIRE(st.ok());
  REQUIRE(gl != nullptr);
  return gl;
}

std::unique_ptr<GreenList> make_list_for(const nlohmann::json& v) {
  static std::map<std::string, Key> keys;
  const std::string kh = v.at("key_hex").get<std::string>();
  auto it = keys.find(kh);
  if (it == keys.end()) it = keys.emplace(kh, key_from_hex(kh)).first;
  return make_list(it->second, v.at("gamma").get<double>(), v.at("context_width").get<std::uint32_t>());
}

}  // namespace

TEST_CASE("prf vectors file is present and covers the required cases", "[prf]") {
  const auto& doc = vectors_json();
  CHECK(doc.at("prf").get<std::string>() == isotope::PRF_V1);
  CHECK(doc.at("keys").size() >= 4);
  std::map<std::uint32_t, int> per_h;
  std::map<std::uint32_t, int> tokens;
  for (const auto& v : doc.at("vectors")) {
    per_h[v.at("context_width").get<std::uint32_t>()]++;
    tokens[v.at("token").get<std::uint32_t>()]++;
  }
  for (std::uint32_t h = 0; h <= 3; ++h) CHECK(per_h[h] > 0);
  for (std::uint32_t t : {0u, 7u, 8u, 65535u, 128255u, 255999u}) CHECK(tokens[t] > 0);
  CHECK(doc.at("counter_vectors").size() > 0);
}

TEST_CASE("libsodium's KDF is BLAKE2b with the documented salt and personalisation", "[prf]") {
  REQUIRE(sodium_init() >= 0);
  const auto& doc = vectors_json();
  const std::string ctx = doc.at("kdf_context").get<std::string>();
  REQUIRE(ctx == "isotope1");
  for (const auto& k : doc.at("keys")) {
    const auto master = from_hex(k.at("key_hex").get<std::string>());
    std::uint8_t sub[16];
    REQUIRE(crypto_kdf_derive_from_key(sub, sizeof sub, 1, ctx.c_str(), master.data()) == 0);
    CHECK(isotope::to_hex(sub) == k.at("siphash_subkey_hex").get<std::string>());
    REQUIRE(crypto_kdf_derive_from_key(sub, sizeof sub, 2, ctx.c_str(), master.data()) == 0);
    CHECK(isotope::to_hex(sub) == k.at("aes_subkey_hex").get<std::string>());
  }
}

TEST_CASE("seed() and value() reproduce every reference vector", "[prf]") {
  const auto& doc = vectors_json();
  std::size_t checked = 0;
  for (const auto& v : doc.at("vectors")) {
    auto gl = make_list_for(v);
    const auto ctx = v.at("context").get<std::vector<std::uint32_t>>();
    REQUIRE(ctx.size() == gl->profile().context_width);
    const Seed s = gl->seed(ctx);
    INFO("key " << v.at("key_hex").get<std::string>() << " h " << ctx.size() << " token " << v.at("token"));
    REQUIRE(isotope::to_hex(s) == v.at("seed_hex").get<std::string>());
    std::uint16_t val = 0;
    REQUIRE(gl->value(s, v.at("token").get<std::uint32_t>(), &val).ok());
    CHECK(val == v.at("value").get<std::uint16_t>());
    CHECK((val < gl->threshold()) == v.at("green").get<bool>());
    CHECK(gl->threshold() == static_cast<std::uint32_t>(std::floor(v.at("gamma").get<double>() * 65536.0)));
    ++checked;
  }
  CHECK(checked >= 4 * 4 * 6);
}

TEST_CASE("values_at() reproduces the reference vectors in one batch", "[prf]") {
  const auto& doc = vectors_json();
  // Group by key: one GreenList per key, all its vectors in one call.
  std::map<std::string, std::vector<const nlohmann::json*>> by_key;
  for (const auto& v : doc.at("vectors")) by_key[v.at("key_hex").get<std::string>()].push_back(&v);
  for (const auto& [kh, vs] : by_key) {
    Key key = key_from_hex(kh);
    auto gl = make_list(key);
    std::vector<Seed> seeds;
    std::vector<std::uint32_t> tokens;
    for (const auto* v : vs) {
      seeds.push_back(seed_from_hex(v->at("seed_hex").get<std::string>()));
      tokens.push_back(v->at("token").get<std::uint32_t>());
    }
    std::vector<std::uint16_t> out(vs.size(), 0);
    REQUIRE(gl->values_at(seeds.data(), tokens.data(), seeds.size(), out.data()).ok());
    for (std::size_t i = 0; i < vs.size(); ++i) CHECK(out[i] == vs[i]->at("value").get<std::uint16_t>());
  }
}

TEST_CASE("counter carries across 32, 64 and 128 bits match the reference", "[prf]") {
  const auto& doc = vectors_json();
  for (const auto& v : doc.at("counter_vectors")) {
    Key key = key_from_hex(v.at("key_hex").get<std::string>());
    auto gl = make_list(key);
    const Seed s = seed_from_hex(v.at("seed_hex").get<std::string>());
    const auto token = v.at("token").get<std::uint32_t>();
    const auto expect = v.at("value").get<std::uint16_t>();
    INFO("seed " << v.at("seed_hex").get<std::string>() << " token " << token);
    std::uint16_t val = 0;
    REQUIRE(gl->value(s, token, &val).ok());
    CHECK(val == expect);
    std::uint16_t batch = 0;
    REQUIRE(gl->values_at(&s, &token, 1, &batch).ok());
    CHECK(batch == expect);
    // The one-seed batch, alone and as one of many (its vector path).
    std::vector<std::uint32_t> many(37, token / 2);
    many[5] = token;
    std::vector<std::uint16_t> got(many.size());
    REQUIRE(gl->values_at(s, many.data(), many.size(), got.data()).ok());
    CHECK(got[5] == expect);
    std::uint16_t single = 0;
    REQUIRE(gl->values_at(s, &token, 1, &single).ok());
    CHECK(single == expect);
    // The sequential CTR pass must carry the same way.
    std::vector<std::uint16_t> all(token + 1);
    REQUIRE(gl->values(s, all).ok());
    CHECK(all[token] == expect);
  }
}

TEST_CASE("values() agrees with value() at every position", "[prf]") {
  const auto& doc = vectors_json();
  const auto& first = doc.at("keys").at(2);
  Key key = key_from_hex(first.at("key_hex").get<std::string>());
  auto gl = make_list(key);
  // Reference values of the vectors of this key, checked through values() too.
  std::vector<const nlohmann::json*> refs;
  for (const auto& v : doc.at("vectors"))
    if (v.at("key_hex") == first.at("key_hex") && v.at("context_width").get<std::uint32_t>() == 2) refs.push_back(&v);
  REQUIRE(!refs.empty());

  for (std::size_t V : {std::size_t{7}, std::size_t{8}, std::size_t{9}, std::size_t{32000}, std::size_t{128256}}) {
    const std::vector<std::uint32_t> ctx = {static_cast<std::uint32_t>(V), 17};
    const Seed s = gl->seed(ctx);
    std::vector<std::uint16_t> all(V, 0);
    REQUIRE(gl->values(s, all).ok());
    std::size_t mismatches = 0;
    for (std::size_t t = 0; t < V; ++t) {
      std::uint16_t one = 0;
      REQUIRE(gl->value(s, static_cast<std::uint32_t>(t), &one).ok());
      if (one != all[t]) ++mismatches;
    }
    INFO("V = " << V);
    CHECK(mismatches == 0);

    // Same for the vectors' contexts: values() then index.
    for (const auto* v : refs) {
      const auto token = v->at("token").get<std::uint32_t>();
      if (token >= V) continue;
      const auto rctx = v->at("context").get<std::vector<std::uint32_t>>();
      std::vector<std::uint16_t> vals(V);
      REQUIRE(gl->values(gl->seed(rctx), vals).ok());
      CHECK(vals[token] == v->at("value").get<std::uint16_t>());
    }
  }
}

TEST_CASE("values() is independent of the previous call's length", "[prf]") {
  Key key;
  REQUIRE(Key::generate(&key).ok());
  auto gl = make_list(key);
  const Seed a = gl->seed(std::vector<std::uint32_t>{1, 2});
  const Seed b = gl->seed(std::vector<std::uint32_t>{3, 4});
  std::vector<std::uint16_t> ref(1000);
  REQUIRE(gl->values(b, ref).ok());
  // An odd-length pass leaves partial keystream state behind; the next call
  // must start afresh at its own seed.
  for (std::size_t odd : {1u, 3u, 13u, 999u}) {
    std::vector<std::uint16_t> junk(odd);
    REQUIRE(gl->values(a, junk).ok());
    std::vector<std::uint16_t> again(1000);
    REQUIRE(gl->values(b, again).ok());
    CHECK(again == ref);
  }
  std::vector<std::uint16_t> none;
  CHECK(gl->values(a, none).ok());
}

TEST_CASE("values_at() handles batches larger than its internal chunk", "[prf]") {
  Key key;
  REQUIRE(Key::generate(&key).ok());
  auto gl = make_list(key, 0.25, 1);
  const std::size_t n = 10007;
  std::vector<Seed> seeds(n);
  std::vector<std::uint32_t> tokens(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t c = static_cast<std::uint32_t>(i % 97);
    seeds[i] = gl->seed(std::span<const std::uint32_t>(&c, 1));
    tokens[i] = static_cast<std::uint32_t>((i * 7919) % 256000);
  }
  std::vector<std::uint16_t> out(n);
  REQUIRE(gl->values_at(seeds.data(), tokens.data(), n, out.data()).ok());
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t one = 0;
    REQUIRE(gl->value(seeds[i], tokens[i], &one).ok());
    if (one != out[i]) ++mismatches;
  }
  CHECK(mismatches == 0);
  CHECK(gl->values_at(seeds.data(), tokens.data(), 0, out.data()).ok());
}

TEST_CASE("the green share is close to gamma", "[prf]") {
  // A fixed key: the 5-sigma checks below would fail now and then under fresh ones.
  Key key;
  std::uint8_t kb[isotope::KEY_BYTES];
  for (std::size_t i = 0; i < sizeof kb; ++i) kb[i] = static_cast<std::uint8_t>(0x5a ^ (i * 13));
  REQUIRE(Key::from_bytes(kb, sizeof kb, &key).ok());
  for (double gamma : {0.25, 0.5, 0.1}) {
    auto gl = make_list(key, gamma, 2);
    const double g = kgw_gamma_effective(gl->profile());
    const std::size_t V = 32000;
    const std::size_t contexts = 400;
    std::vector<std::uint16_t> vals(V);
    std::uint64_t green = 0;
    std::size_t outliers = 0;
    const double sd_ctx = std::sqrt(g * (1 - g) / static_cast<double>(V));
    for (std::uint32_t c = 0; c < contexts; ++c) {
      const std::vector<std::uint32_t> ctx = {c * 31 + 5, c};
      REQUIRE(gl->values(gl->seed(ctx), vals).ok());
      std::uint64_t here = 0;
      for (std::uint16_t v : vals) here += v < gl->threshold() ? 1 : 0;
      green += here;
      // 5 standard deviations per context: a false alarm has probability ~1e-4 over all contexts.
      if (std::fabs(static_cast<double>(here) / V - g) > 5 * sd_ctx) ++outliers;
    }
    const double n = static_cast<double>(V * contexts);
    const double share = static_cast<double>(green) / n;
    const double sd = std::sqrt(g * (1 - g) / n);
    INFO("gamma " << gamma << " share " << share);
    CHECK(std::fabs(share - g) < 5 * sd);
    CHECK(outliers == 0);
  }
}

TEST_CASE("values are uniform over the 16-bit range", "[prf]") {
  Key key;
  REQUIRE(Key::generate(&key).ok());
  auto gl = make_list(key, 0.25, 1);
  const std::size_t V = 128256;
  std::vector<std::uint16_t> vals(V);
  std::vector<std::uint64_t> bins(16, 0);
  for (std::uint32_t c = 0; c < 50; ++c) {
    REQUIRE(gl->values(gl->seed(std::span<const std::uint32_t>(&c, 1)), vals).ok());
    for (std::uint16_t v : vals) bins[v >> 12]++;
  }
  // Chi-square with 15 degrees of freedom; 99.99th percentile is about 44.3.
  const double expect = 50.0 * V / 16.0;
  double chi2 = 0;
  for (auto b : bins) chi2 += (b - expect) * (b - expect) / expect;
  CHECK(chi2 < 44.3);
}

TEST_CASE("different keys and contexts give different green lists", "[prf]") {
  Key k1, k2;
  REQUIRE(Key::generate(&k1).ok());
  REQUIRE(Key::generate(&k2).ok());
  auto g1 = make_list(k1);
  auto g2 = make_list(k2);
  const std::size_t V = 32000;
  const std::vector<std::uint32_t> ctx = {11, 22};
  const std::vector<std::uint32_t> ctx2 = {22, 11};
  std::vector<std::uint16_t> a(V), b(V), c(V);
  REQUIRE(g1->values(g1->seed(ctx), a).ok());
  REQUIRE(g2->values(g2->seed(ctx), b).ok());
  REQUIRE(g1->values(g1->seed(ctx2), c).ok());
  auto agreement = [&](const std::vector<std::uint16_t>& x, const std::vector<std::uint16_t>& y) {
    std::size_t same = 0;
    for (std::size_t t = 0; t < V; ++t) same += ((x[t] < g1->threshold()) == (y[t] < g1->threshold())) ? 1 : 0;
    return static_cast<double>(same) / V;
  };
  // Independent lists agree on gamma^2 + (1-gamma)^2 = 0.625 of the tokens.
  CHECK(agreement(a, b) == Approx(0.625).margin(0.03));
  CHECK(agreement(a, c) == Approx(0.625).margin(0.03));
  CHECK(g1->seed(ctx) != g2->seed(ctx));
  CHECK(g1->seed(ctx) != g1->seed(ctx2));

  // The same key gives the same list in another instance.
  auto g1b = make_list(k1, 0.5, 2);
  CHECK(g1b->seed(ctx) == g1->seed(ctx));
}

TEST_CASE("GreenList::create validates its inputs", "[prf]") {
  Key key;
  REQUIRE(Key::generate(&key).ok());
  std::unique_ptr<GreenList> gl;
  Profile bad;
  bad.prf = "something-else";
  CHECK(GreenList::create(key, bad, &gl).code() == Code::invalid_argument);
  bad = Profile{};
  bad.context_width = 9;
  CHECK(GreenList::create(key, bad, &gl).code() == Code::invalid_argument);
  bad = Profile{};
  bad.params["gamma"] = 1.0;
  CHECK(GreenList::create(key, bad, &gl).code() == Code::invalid_argument);
  Key empty;
  CHECK(GreenList::create(empty, Profile{}, &gl).code() == Code::invalid_argument);
  CHECK(GreenList::create(key, Profile{}, nullptr).code() == Code::invalid_argument);
  CHECK(gl == nullptr);
  REQUIRE(GreenList::create(key, Profile{}, &gl).ok());
  CHECK(gl->threshold() == 16384);
}

// The VAES code path against OpenSSL, which implements everything else.
TEST_CASE("the VAES block cipher and counter lookups equal OpenSSL's", "[prf]") {
  __builtin_cpu_init();
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool vaes = __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 9)) != 0;
  const bool cpu = vaes && __builtin_cpu_supports("aes") && __builtin_cpu_supports("avx2");
  REQUIRE(isotope::aes_fast::available() == cpu);
  if (!cpu) return;  // nothing else to compare on this CPU: GreenList uses OpenSSL alone
  // FIPS-197 appendix C.1.
  std::uint8_t key[16], rk[isotope::aes_fast::ROUND_KEY_BYTES], block[16];
  for (int i = 0; i < 16; ++i) {
    key[i] = static_cast<std::uint8_t>(i);
    block[i] = static_cast<std::uint8_t>(0x11 * i);
  }
  isotope::aes_fast::expand_key(key, rk);
  isotope::aes_fast::encrypt_blocks(rk, block, 1);
  const std::uint8_t fips[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
  CHECK(std::equal(block, block + 16, fips));

  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int trial = 0; trial < 40; ++trial) {
    for (auto& b : key) b = static_cast<std::uint8_t>(next());
    isotope::aes_fast::expand_key(key, rk);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    REQUIRE(ctx != nullptr);
    REQUIRE(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, key, nullptr) == 1);
    REQUIRE(EVP_CIPHER_CTX_set_padding(ctx, 0) == 1);
    // Whole blocks, every count up to past two groups of sixteen.
    const std::size_t n = static_cast<std::size_t>(trial);
    std::vector<std::uint8_t> a(16 * n + 16), b;
    for (auto& c : a) c = static_cast<std::uint8_t>(next());
    b = a;
    isotope::aes_fast::encrypt_blocks(rk, a.data(), n);
    int outl = 0;
    if (n > 0) REQUIRE(EVP_EncryptUpdate(ctx, b.data(), &outl, b.data(), static_cast<int>(16 * n)) == 1);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
    // Counter lookups: seeds anywhere, near the 64- and 128-bit carries too.
    std::uint8_t seed[16];
    for (auto& c : seed) c = static_cast<std::uint8_t>(next());
    if (trial % 4 == 1) std::fill(seed + 8, seed + 16, std::uint8_t{0xff});
    if (trial % 4 == 2) std::fill(seed, seed + 16, std::uint8_t{0xff});
    if (trial % 4 == 3) std::fill(seed + 8, seed + 12, std::uint8_t{0xff});
    std::vector<std::uint32_t> tokens(n + 3);
    for (auto& t : tokens) t = static_cast<std::uint32_t>(next() >> (trial % 2 == 0 ? 32 : 47));
    std::vector<std::uint16_t> got(tokens.size());
    isotope::aes_fast::ctr_values(rk, seed, tokens.data(), tokens.size(), got.data());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      // Reference: seed + tokens[i] / 8 as a 128-bit big-endian integer, through OpenSSL.
      std::uint8_t ctr[16];
      std::copy(seed, seed + 16, ctr);
      std::uint64_t add = tokens[i] / 8;
      for (int byte = 15; byte >= 0 && add != 0; --byte) {
        const std::uint64_t sum = ctr[byte] + (add & 0xff);
        ctr[byte] = static_cast<std::uint8_t>(sum);
        add = (add >> 8) + (sum >> 8);
      }
      REQUIRE(EVP_EncryptUpdate(ctx, ctr, &outl, ctr, 16) == 1);
      const auto want = static_cast<std::uint16_t>(ctr[2 * (tokens[i] % 8)] | (ctr[2 * (tokens[i] % 8) + 1] << 8));
      INFO("trial " << trial << " token " << tokens[i]);
      CHECK(got[i] == want);
    }
    EVP_CIPHER_CTX_free(ctx);
  }
}
