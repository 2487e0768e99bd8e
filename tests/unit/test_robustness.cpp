// Hostile and unusual inputs to the library: the right result or an error
// that names the real cause, never a crash or a silently wrong answer.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/isotope.h"
#include "isotope/key.hpp"
#include "isotope/stats.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

Key fixed_key() {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t i = 0; i < KEY_BYTES; ++i) b[i] = static_cast<std::uint8_t>(7 * i + 1);
  Key k;
  REQUIRE(Key::from_bytes(b, KEY_BYTES, &k).ok());
  return k;
}

std::vector<float> logits_of(std::size_t v, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> n(0.0f, 2.0f);
  std::vector<float> x(v);
  for (float& f : x) f = n(g);
  return x;
}

// Every sampling path: full vocabulary, top-p, greedy, small and large top-k.
std::vector<SamplingParams> all_paths() {
  std::vector<SamplingParams> ps;
  ps.push_back({});
  SamplingParams p;
  p.top_p = 0.9f;
  ps.push_back(p);
  p = {};
  p.greedy = true;
  ps.push_back(p);
  p = {};
  p.top_k = 1;
  ps.push_back(p);
  p = {};
  p.top_k = 40;
  ps.push_back(p);
  p = {};
  p.top_k = 5000;
  p.temperature = 0.7f;
  ps.push_back(p);
  return ps;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/isotope-robust-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

}  // namespace

TEST_CASE("a +inf logit is the token drawn on every sampling path", "[robustness][sampler]") {
  const std::uint32_t V = 20000;
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(fixed_key(), Profile{}, V, &wm).ok());
  for (const std::uint32_t where : {0u, 17u, 9999u, V - 1}) {
    auto x = logits_of(V, where);
    x[where] = std::numeric_limits<float>::infinity();
    for (const SamplingParams& p : all_paths()) {
      Rng r1(5), r2(5);
      std::uint32_t t1 = V, t2 = V;
      const std::uint32_t ctx[] = {3, 4};
      INFO("+inf at " << where << ", top_k " << p.top_k << ", top_p " << p.top_p << ", greedy " << p.greedy);
      REQUIRE(wm->sample(ctx, x, p, r1, &t1).ok());
      CHECK(t1 == where);
      REQUIRE(sample_plain(x, p, r2, &t2).ok());
      CHECK(t2 == where);
    }
  }
  // Several +inf logits: the first wins.
  auto x = logits_of(V, 1);
  x[300] = x[200] = std::numeric_limits<float>::infinity();
  Rng r(1);
  std::uint32_t t = 0;
  REQUIRE(sample_plain(x, SamplingParams{}, r, &t).ok());
  CHECK(t == 200);
}

TEST_CASE("NaN logits and all -inf logits are refused naming the cause", "[robustness][sampler]") {
  const std::uint32_t V = 5000;
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(fixed_key(), Profile{}, V, &wm).ok());
  const std::uint32_t ctx[] = {3, 4};
  for (const SamplingParams& p : all_paths()) {
    auto x = logits_of(V, 2);
    x[1234] = std::numeric_limits<float>::quiet_NaN();
    x[10] = std::numeric_limits<float>::infinity();  // NaN is an error even beside +inf
    Rng r(1);
    std::uint32_t t = 0;
    Status st = wm->sample(ctx, x, p, r, &t);
    CHECK_FALSE(st.ok());
    CHECK(st.message().find("logit 1234 is NaN") != std::string::npos);
    st = sample_plain(x, p, r, &t);
    CHECK(st.message().find("logit 1234 is NaN") != std::string::npos);
    std::vector<float> dead(V, -std::numeric_limits<float>::infinity());
    st = sample_plain(dead, p, r, &t);
    CHECK_FALSE(st.ok());
    CHECK(st.message().find("every logit is -inf") != std::string::npos);
    CHECK(st.message().find("NaN") == std::string::npos);
  }
}

TEST_CASE("a temperature whose inverse overflows is refused as such", "[robustness][sampler]") {
  const auto x = logits_of(1000, 3);
  SamplingParams p;
  p.temperature = 1e-39f;
  Rng r(1);
  std::uint32_t t = 0;
  const Status st = sample_plain(x, p, r, &t);
  CHECK(st.code() == Code::invalid_argument);
  CHECK(st.message().find("temperature") != std::string::npos);
  CHECK(st.message().find("NaN") == std::string::npos);
  p.temperature = 1e-30f;  // tiny but usable: the argmax, as greedy gives
  REQUIRE(sample_plain(x, p, r, &t).ok());
  CHECK(t == static_cast<std::uint32_t>(std::max_element(x.begin(), x.end()) - x.begin()));
}

TEST_CASE("context ids outside the vocabulary are refused like candidate ids", "[robustness][sampler]") {
  const std::uint32_t V = 1000;
  std::unique_ptr<Watermarker> wm;
  REQUIRE(Watermarker::create(fixed_key(), Profile{}, V, &wm).ok());
  auto x = logits_of(V, 4);
  const std::uint32_t bad[] = {3, V};
  const std::uint32_t good[] = {3, V - 1};
  CHECK(wm->apply(bad, x).code() == Code::vocab_mismatch);
  CHECK(wm->apply(good, x).ok());
  Rng r(1);
  std::uint32_t t = 0;
  CHECK(wm->sample(bad, x, SamplingParams{}, r, &t).code() == Code::vocab_mismatch);
  std::vector<TokenLogit> cand = {{1, 0.5f, 0.0f}, {2, 0.25f, 0.0f}};
  CHECK(wm->apply_candidates(bad, cand).code() == Code::vocab_mismatch);

  // The C API.
  const auto kb = std::vector<std::uint8_t>(ISOTOPE_KEYBYTES, 9);
  isotope_key* key = nullptr;
  REQUIRE(isotope_key_from_bytes(kb.data(), kb.size(), &key) == ISOTOPE_OK);
  isotope_watermark* cw = nullptr;
  REQUIRE(isotope_watermark_create(key, nullptr, V, &cw) == ISOTOPE_OK);
  const std::int32_t cbad[] = {5, static_cast<std::int32_t>(V)};
  CHECK(isotope_watermark_apply(cw, cbad, 2, x.data(), V) == ISOTOPE_ERR_VOCAB_MISMATCH);
  isotope_rng* rng = nullptr;
  REQUIRE(isotope_rng_create(1, &rng) == ISOTOPE_OK);
  std::int32_t tok = -1;
  CHECK(isotope_watermark_sample(cw, cbad, 2, x.data(), V, nullptr, rng, &tok) == ISOTOPE_ERR_VOCAB_MISMATCH);
  // ... and the +inf rule through the C API.
  x[77] = std::numeric_limits<float>::infinity();
  const std::int32_t cgood[] = {5, 6};
  REQUIRE(isotope_watermark_sample(cw, cgood, 2, x.data(), V, nullptr, rng, &tok) == ISOTOPE_OK);
  CHECK(tok == 77);
  isotope_rng_free(rng);
  isotope_watermark_free(cw);
  isotope_key_free(key);
}

TEST_CASE("Fisher's method does not overflow into NaN", "[robustness][stats]") {
  const double two_huge[] = {-1e308, -1e308};
  const Tail t = fisher_combine(two_huge);
  CHECK_FALSE(std::isnan(t.log10_p));
  CHECK(t.log10_p == -std::numeric_limits<double>::infinity());
  const double one_huge[] = {-1e308, -2.0};
  const Tail u = fisher_combine(one_huge);
  REQUIRE(std::isfinite(u.log10_p));
  // log10 p = sum + log10(1 + y) with y = ln(10) * 1.00000000000002e308.
  CHECK(u.log10_p == Approx(-1e308).epsilon(1e-12));
  CHECK(u.p_value == 0.0);
  // Where the plain formula works the two agree.
  const double small[] = {-100.0, -200.0};
  const Tail w = fisher_combine(small);
  CHECK(w.log10_p == Approx(-300.0 + std::log10(1.0 + 300.0 * std::log(10.0))).epsilon(1e-10));
}

TEST_CASE("input files: regular files only, never read until memory runs out or blocking", "[robustness][io]") {
  TempDir d;
  std::string out;
  const Status zero = read_file("/dev/zero", &out);
  CHECK(zero.code() == Code::io);
  CHECK(zero.message().find("not a regular file") != std::string::npos);
  const std::string fifo = d.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(read_file(fifo, &out).code() == Code::io);  // returns at once: no writer is waited for
  std::string hex;
  CHECK(sha256_file_hex(fifo, &hex).code() == Code::io);
  CHECK(read_file(d.path, &out).message().find("directory") != std::string::npos);
  // A size limit.
  const std::string big = d.path + "/big";
  REQUIRE(write_file_atomic(big, std::string(5000, 'x')).ok());
  CHECK(read_file(big, &out, 4096).code() == Code::io);
  REQUIRE(read_file(big, &out, 5000).ok());
  CHECK(out.size() == 5000);
  SignPublicKey pk{};
  CHECK(signer_read_public("/dev/zero", &pk).code() == Code::io);
  CHECK(signer_read_public(fifo, &pk).code() == Code::io);
}

TEST_CASE("output files: a device, pipe or link is never replaced by a regular file", "[robustness][io]") {
  TempDir d;
  const std::string fifo = d.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(write_file_atomic(fifo, "text").code() == Code::io);
  struct stat st {};
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  const std::string target = d.path + "/target", link = d.path + "/link";
  REQUIRE(write_file_atomic(target, "keep").ok());
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  CHECK(write_file_atomic(link, "text").code() == Code::io);
  REQUIRE(::lstat(link.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  std::string s;
  REQUIRE(read_file(target, &s).ok());
  CHECK(s == "keep");
  // No temporary file is left behind by a refusal.
  std::string listing;
  FILE* p = ::popen(("ls -A '" + d.path + "'").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) listing += buf;
  ::pclose(p);
  CHECK(listing.find("isotope-tmp") == std::string::npos);
}

TEST_CASE("key files: CR line endings are named, and the format is checked before the mode", "[robustness][key]") {
  TempDir d;
  const std::string path = d.path + "/k.key";
  REQUIRE(key_write_file(path, fixed_key()).ok());
  std::string text;
  REQUIRE(read_file(path, &text).ok());
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  const std::string crlf_path = d.path + "/crlf.key";
  REQUIRE(write_file_atomic(crlf_path, crlf, 0600).ok());
  Key k;
  Status st = key_read_file(crlf_path, &k);
  CHECK(st.code() == Code::key_format);
  CHECK(st.message().find("carriage return") != std::string::npos);
  // A file that is not a key at all, readable by others: not a key (not "chmod 600").
  const std::string notakey = d.path + "/notakey";
  REQUIRE(write_file_atomic(notakey, "hello\n", 0644).ok());
  st = key_read_file(notakey, &k);
  CHECK(st.code() == Code::key_format);
  CHECK(st.message().find("chmod") == std::string::npos);
  // A real key readable by others: the mode is refused, with the fix.
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  st = key_read_file(path, &k);
  CHECK(st.code() == Code::key_permissions);
  CHECK(st.message().find("chmod 600") != std::string::npos);
  // Signing keys likewise.
  SigningKey sk;
  REQUIRE(SigningKey::generate(&sk).ok());
  const std::string sp = d.path + "/s.key";
  REQUIRE(signer_write_files(sp, sk).ok());
  REQUIRE(read_file(sp, &text).ok());
  crlf.clear();
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  REQUIRE(write_file_atomic(sp, crlf, 0600).ok());
  st = signer_read_secret(sp, &sk);
  CHECK(st.code() == Code::key_format);
  CHECK(st.message().find("carriage return") != std::string::npos);
}
