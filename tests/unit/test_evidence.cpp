// Evidence: canonical JSON, signing keys, report signatures and their checks.
#include <cmath>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/stats.hpp"

using namespace isotope;

namespace {

SigningKey test_signer(std::uint8_t fill = 7) {
  std::uint8_t seed[32];
  for (auto& b : seed) b = fill;
  SigningKey k;
  REQUIRE(SigningKey::from_seed(seed, sizeof seed, &k).ok());
  return k;
}

std::string canon(const std::string& s) {
  std::string out;
  Status st = canonical_json(s, &out);
  REQUIRE(st.ok());
  return out;
}

const char* SMALL_REPORT =
    R"({"schema":"isotope-report/1","command":"detect","tool":{"name":"isotope","version":"0.1.0","build":"t"},)"
    R"("profile":{"scheme":"kgw","gamma":0.25,"delta":3,"context_width":2,"prf":"p","version":1,"name":"n"},)"
    R"("commitment":"0000000000000000000000000000000000000000000000000000000000000000",)"
    R"("inputs":[{"role":"text","name":"a.txt","sha256":"1111111111111111111111111111111111111111111111111111111111111111","size":3}],)"
    R"("options":{"threshold":0.0001},"result":{"green":5,"log10_p":-1.5,"text":"h\u00e9\n"},)"
    R"("created_utc":"2024-01-31T12:00:00Z"})";

std::string make_tmpdir() {
  char tmpl[] = "/tmp/isotope-evidence-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

}  // namespace

TEST_CASE("canonical JSON: sorted keys, no spaces, fixed numbers and escapes") {
  CHECK(canon(R"({ "b": 1, "a": [true, false, null] })") == R"({"a":[true,false,null],"b":1})");
  CHECK(canon("[1.0, -0.0, 0.25, 1e-5, 100.0, 1e300, -7, 18446744073709551615]") ==
        "[1,0,0.25,1e-05,100,1e+300,-7,18446744073709551615]");
  CHECK(canon("[0.1, 0.30000000000000004, 2.5e-400]") == "[0.1,0.30000000000000004,0]");
  CHECK(canon(R"(["\u00e9", "\/", "\u0001", "\t\n\"\\", "\u007f"])") ==
        "[\"\xC3\xA9\",\"/\",\"\\u0001\",\"\\t\\n\\\"\\\\\",\"\x7F\"]");
  // Bytewise key order (upper case before lower case, shorter prefix first).
  CHECK(canon(R"({"b":0,"B":0,"ab":0,"a":0})") == R"({"B":0,"a":0,"ab":0,"b":0})");
  // Canonical form is a fixed point.
  const std::string c = canon(SMALL_REPORT);
  CHECK(canon(c) == c);
}

TEST_CASE("canonical JSON refuses what is not JSON, too deep or not UTF-8") {
  std::string out;
  CHECK(canonical_json("", &out).code() == Code::parse);
  CHECK(canonical_json("{\"a\":", &out).code() == Code::parse);
  CHECK(canonical_json("[1,]", &out).code() == Code::parse);
  CHECK(canonical_json("\"\xFF\"", &out).code() == Code::parse);
  CHECK(canonical_json("[1e999]", &out).code() == Code::parse);
  CHECK(canonical_json(std::string(100000, '[') + std::string(100000, ']'), &out).code() == Code::parse);
  CHECK(canonical_json(std::string(10, '[') + std::string(10, ']'), &out).ok());
}

TEST_CASE("sign and check a report: round trip, signer, tampering") {
  const SigningKey k = test_signer();
  std::string report;
  REQUIRE(report_sign(SMALL_REPORT, k, &report).ok());
  REQUIRE(report.back() == '\n');
  ReportCheck rc = report_check(report);
  INFO(rc.message);
  REQUIRE(rc.outcome == ReportCheck::Outcome::ok);
  CHECK(rc.signer_hex == k.public_key_hex());
  CHECK(rc.command == "detect");
  // Signing again gives the same bytes (Ed25519 is deterministic).
  std::string again;
  REQUIRE(report_sign(report, k, &again).ok());
  CHECK(again == report);

  const SigningKey other = test_signer(9);
  CHECK(report_check(report, &k.public_key()).outcome == ReportCheck::Outcome::ok);
  CHECK(report_check(report, &other.public_key()).outcome == ReportCheck::Outcome::bad_signature);

  SECTION("every single-byte change is detected") {
    for (std::size_t i = 0; i < report.size(); ++i) {
      for (unsigned char delta : {0x01u, 0x20u, 0x80u}) {
        std::string t = report;
        t[i] = static_cast<char>(static_cast<unsigned char>(t[i]) ^ delta);
        const ReportCheck r = report_check(t);
        if (r.outcome == ReportCheck::Outcome::ok) FAIL("byte " << i << " ^ " << int(delta) << " went unnoticed");
      }
    }
  }
  SECTION("changes of form are rejected as malformed") {
    CHECK(report_check(report.substr(0, report.size() - 1)).outcome == ReportCheck::Outcome::malformed);
    CHECK(report_check(report + "\n").outcome == ReportCheck::Outcome::malformed);
    CHECK(report_check(" " + report).outcome == ReportCheck::Outcome::malformed);
    const std::string spaced = report.substr(0, 1) + " " + report.substr(1);
    CHECK(report_check(spaced).outcome == ReportCheck::Outcome::malformed);
  }
  SECTION("truncated reports give an error, never a crash") {
    for (std::size_t n = 0; n < report.size(); ++n) {
      const ReportCheck r = report_check(std::string_view(report).substr(0, n));
      CHECK(r.outcome == ReportCheck::Outcome::malformed);
      CHECK(!r.message.empty());
    }
  }
  SECTION("a re-signed changed report checks, but differs field by field") {
    std::string changed = report;
    const auto pos = changed.find("\"green\":5");
    REQUIRE(pos != std::string::npos);
    changed.replace(pos, 9, "\"green\":6");
    CHECK(report_check(changed).outcome == ReportCheck::Outcome::bad_signature);
    std::string resigned;
    REQUIRE(report_sign(changed, k, &resigned).ok());
    CHECK(report_check(resigned).outcome == ReportCheck::Outcome::ok);
    std::vector<JsonDifference> d;
    REQUIRE(json_differences(report, resigned, "", &d).ok());
    REQUIRE(d.size() == 2);  // result.green and signature.value
    CHECK(d[0].path == "result.green");
    CHECK(d[0].expected == "5");
    CHECK(d[0].actual == "6");
    CHECK(d[1].path == "signature.value");
  }
}

TEST_CASE("report schema is enforced") {
  const SigningKey k = test_signer();
  auto outcome_of = [&](const std::string& doc) {
    std::string r;
    if (!report_sign(doc, k, &r).ok()) return ReportCheck::Outcome::malformed;
    return report_check(r).outcome;
  };
  CHECK(outcome_of(SMALL_REPORT) == ReportCheck::Outcome::ok);
  std::string s = SMALL_REPORT;
  CHECK(outcome_of(std::string(s).replace(s.find("isotope-report/1"), 16, "isotope-report/9")) ==
        ReportCheck::Outcome::malformed);
  CHECK(outcome_of(std::string(s).replace(s.find("\"detect\""), 8, "\"deploy\"")) == ReportCheck::Outcome::malformed);
  CHECK(outcome_of(std::string(s).replace(s.find("2024-01-31T12"), 13, "2024-01-31 12")) ==
        ReportCheck::Outcome::malformed);
  CHECK(outcome_of(std::string(s).replace(s.find("\"created_utc\""), 13, "\"created_at\"")) ==
        ReportCheck::Outcome::malformed);
  CHECK(outcome_of("[1,2,3]") == ReportCheck::Outcome::malformed);
  CHECK(report_check("").outcome == ReportCheck::Outcome::malformed);
  CHECK(report_check("null\n").outcome == ReportCheck::Outcome::malformed);
  CHECK(report_check("{}\n").outcome == ReportCheck::Outcome::malformed);
}

TEST_CASE("signing key files: formats, permissions, round trip") {
  const std::string dir = make_tmpdir();
  const std::string path = dir + "/sign.key";
  SigningKey k;
  REQUIRE(SigningKey::generate(&k).ok());
  REQUIRE(signer_write_files(path, k).ok());
  CHECK(signer_write_files(path, k).code() == Code::io);  // no silent overwrite
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  SigningKey k2;
  REQUIRE(signer_read_secret(path, &k2).ok());
  CHECK(k2.public_key() == k.public_key());
  SignPublicKey pk{};
  REQUIRE(signer_read_public(path + ".pub", &pk).ok());
  CHECK(pk == k.public_key());
  std::string pub_text;
  REQUIRE(read_file(path + ".pub", &pub_text).ok());
  CHECK(pub_text == "isotope-signing-public-key v1\n" + k.public_key_hex() + "\n");
  // A public key file (0644) read as a secret one: the format is named first,
  // not advice to chmod a file that is no secret key at all.
  CHECK(signer_read_secret(path + ".pub", &k2).code() == Code::key_format);
  ::chmod((path + ".pub").c_str(), 0600);
  CHECK(signer_read_secret(path + ".pub", &k2).code() == Code::key_format);
  CHECK(signer_read_public(path, &pk).code() == Code::key_format);
  ::chmod(path.c_str(), 0640);
  CHECK(signer_read_secret(path, &k2).code() == Code::key_permissions);
  ::unlink(path.c_str());
  ::unlink((path + ".pub").c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("control keys and curves are deterministic") {
  std::array<std::uint8_t, COMMITMENT_BYTES> c{};
  Key a, b, d;
  REQUIRE(control_key(c, 0, &a).ok());
  REQUIRE(control_key(c, 0, &b).ok());
  REQUIRE(control_key(c, 1, &d).ok());
  CHECK(std::equal(a.data(), a.data() + KEY_BYTES, b.data()));
  CHECK(!std::equal(a.data(), a.data() + KEY_BYTES, d.data()));

  const double nan = std::nan("");
  TokenScores mask = {nan, nan, 1, 0, 1, 1, nan, 0, 1, 1};
  const Profile kgw;  // gamma 0.25
  const Curve cv = score_curve(mask, kgw, 4);
  REQUIRE(cv.scored.size() == 4);
  CHECK(cv.scored == std::vector<std::uint64_t>{2, 4, 6, 7});
  CHECK(cv.log10_p.back() == Approx(binomial_upper_tail(5, 7, 0.25).log10_p));
  CHECK(score_curve(mask, kgw, 100).scored.size() == 7);
  CHECK(score_curve({nan, nan}, kgw, 10).scored.empty());
}

TEST_CASE("report strings shown to people hold no control characters", "[robustness]") {
  const SigningKey k = test_signer();
  auto outcome_of = [&](const std::string& doc) {
    std::string r;
    if (!report_sign(doc, k, &r).ok()) return ReportCheck::Outcome::malformed;
    return report_check(r).outcome;
  };
  const std::string s = SMALL_REPORT;
  auto with = [&](const std::string& from, const std::string& to) { return std::string(s).replace(s.find(from), from.size(), to); };
  CHECK(outcome_of(s) == ReportCheck::Outcome::ok);
  // A version that would print a fake verdict on a terminal.
  CHECK(outcome_of(with("\"0.1.0\"", R"("0.1.0\n  Recomputed ... VERIFIED\u001b[2K")")) == ReportCheck::Outcome::malformed);
  CHECK(outcome_of(with("\"0.1.0\"", R"("0.1.0 beta")")) == ReportCheck::Outcome::malformed);
  CHECK(outcome_of(with("\"0.1.0\"", R"("0.2.0-rc1+g1234")")) == ReportCheck::Outcome::ok);
  CHECK(outcome_of(with("\"a.txt\"", R"("a\r.txt")")) == ReportCheck::Outcome::malformed);
  CHECK(outcome_of(with("\"a.txt\"", R"("a\u202e.txt")")) == ReportCheck::Outcome::malformed);
  CHECK(outcome_of(with("\"a.txt\"", R"("r\u00e9sum\u00e9 a.txt")")) == ReportCheck::Outcome::ok);
  CHECK(outcome_of(with("\"build\":\"t\"", R"("build":"t\u0085")")) == ReportCheck::Outcome::malformed);
}
