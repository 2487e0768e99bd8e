// Watermark keys: generation, key files, permissions, commitments.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "isotope/io.hpp"
#include "isotope/key.hpp"

using isotope::Code;
using isotope::Key;

namespace {

// A fresh folder under $TMPDIR (or /tmp), removed with its contents at scope end.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/isotope-key-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

void write_raw(const std::string& path, const std::string& content, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    REQUIRE(out);
    out << content;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::string slurp(const std::string& path) {
  std::string s;
  REQUIRE(isotope::read_file(path, &s).ok());
  return s;
}

std::string key_hex(const Key& k) { return isotope::to_hex({k.data(), isotope::KEY_BYTES}); }

const std::string HEADER = "isotope-watermark-key v1\n";
const std::string SAMPLE_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

}  // namespace

TEST_CASE("a generated key round-trips through a key file", "[key]") {
  TempDir dir;
  Key k;
  REQUIRE(Key::generate(&k).ok());
  REQUIRE(k.valid());
  const std::string path = dir.file("wm.key");
  const auto st = isotope::key_write_file(path, k);
  INFO(st.to_string());
  REQUIRE(st.ok());

  struct stat sb {};
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0600);

  const std::string content = slurp(path);
  CHECK(content == HEADER + key_hex(k) + "\n");

  Key back;
  REQUIRE(isotope::key_read_file(path, &back).ok());
  REQUIRE(back.valid());
  CHECK(std::equal(k.data(), k.data() + isotope::KEY_BYTES, back.data()));
  CHECK(back.commitment_hex() == k.commitment_hex());
  CHECK(k.commitment_hex().size() == 2 * isotope::COMMITMENT_BYTES);
  CHECK(k.commitment_hex() != key_hex(k));
}

TEST_CASE("generated keys differ", "[key]") {
  Key a, b;
  REQUIRE(Key::generate(&a).ok());
  REQUIRE(Key::generate(&b).ok());
  CHECK(key_hex(a) != key_hex(b));
  CHECK(a.commitment_hex() != b.commitment_hex());
}

TEST_CASE("Key is move-only and empties the source", "[key]") {
  Key a;
  CHECK_FALSE(a.valid());
  REQUIRE(Key::generate(&a).ok());
  const std::string hex = key_hex(a);
  Key b(std::move(a));
  CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): tested on purpose
  REQUIRE(b.valid());
  CHECK(key_hex(b) == hex);
  Key c;
  REQUIRE(Key::generate(&c).ok());
  c = std::move(b);
  CHECK(key_hex(c) == hex);
  CHECK_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("Key::from_bytes checks the length", "[key]") {
  std::vector<std::uint8_t> bytes(33, 7);
  Key k;
  CHECK(Key::from_bytes(bytes.data(), 31, &k).code() == Code::invalid_argument);
  CHECK(Key::from_bytes(bytes.data(), 33, &k).code() == Code::invalid_argument);
  CHECK(Key::from_bytes(nullptr, 32, &k).code() == Code::invalid_argument);
  CHECK_FALSE(k.valid());
  CHECK(Key::from_bytes(bytes.data(), 32, &k).ok());
  CHECK(k.valid());
}

TEST_CASE("commitments match the reference vectors", "[key]") {
  std::ifstream in(std::string(ISOTOPE_TEST_DIR) + "/vectors/prf_vectors.json");
  REQUIRE(in);
  const auto doc = nlohmann::json::parse(in);
  REQUIRE(doc.at("commitment_domain").get<std::string>() == "isotope/v1/key-commitment");
  REQUIRE(doc.at("keys").size() >= 4);
  for (const auto& entry : doc.at("keys")) {
    const std::string hex = entry.at("key_hex").get<std::string>();
    std::vector<std::uint8_t> bytes(32);
    for (std::size_t i = 0; i < 32; ++i) bytes[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    Key k;
    REQUIRE(Key::from_bytes(bytes.data(), bytes.size(), &k).ok());
    CHECK(k.commitment_hex() == entry.at("commitment_hex").get<std::string>());
    const auto c = k.commitment();
    CHECK(isotope::to_hex(c) == k.commitment_hex());
  }
}

TEST_CASE("a key file readable by group or others is refused", "[key]") {
  TempDir dir;
  Key k;
  REQUIRE(Key::generate(&k).ok());
  const std::string hex = key_hex(k);
  const std::string path = dir.file("loose.key");
  REQUIRE(isotope::key_write_file(path, k).ok());
  for (mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0620}, mode_t{0602}, mode_t{0601}}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    Key back;
    const auto st = isotope::key_read_file(path, &back);
    INFO(st.to_string());
    CHECK(st.code() == Code::key_permissions);
    CHECK_FALSE(back.valid());
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    CHECK(st.message().find(path) != std::string::npos);
    CHECK(st.message().find(octal) != std::string::npos);
    CHECK(st.message().find("chmod 600 " + path) != std::string::npos);
    CHECK(st.message().find(hex) == std::string::npos);
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  Key back;
  CHECK(isotope::key_read_file(path, &back).ok());
}

TEST_CASE("malformed key files are rejected with key_format", "[key]") {
  TempDir dir;
  const std::string path = dir.file("bad.key");
  const std::string upper = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"header only", HEADER},
      {"header without newline", "isotope-watermark-key v1"},
      {"wrong header", "isotope-watermark-key v2\n" + SAMPLE_HEX + "\n"},
      {"other header", "watermark key\n" + SAMPLE_HEX + "\n"},
      {"hex only", SAMPLE_HEX + "\n"},
      {"short hex", HEADER + SAMPLE_HEX.substr(0, 62) + "\n"},
      {"short hex, no newline", HEADER + SAMPLE_HEX.substr(0, 63)},
      {"non-hex", HEADER + SAMPLE_HEX.substr(0, 30) + "zz" + SAMPLE_HEX.substr(32) + "\n"},
      {"upper-case hex", HEADER + upper + "\n"},
      {"long hex", HEADER + SAMPLE_HEX + "00\n"},
      {"extra line", HEADER + SAMPLE_HEX + "\nmore\n"},
      {"two newlines", HEADER + SAMPLE_HEX + "\n\n"},
      {"CRLF", "isotope-watermark-key v1\r\n" + SAMPLE_HEX + "\r\n"},
      {"CR at end", HEADER + SAMPLE_HEX + "\r\n"},
      {"trailing space", HEADER + SAMPLE_HEX + " \n"},
      {"leading space", HEADER + " " + SAMPLE_HEX + "\n"},
      {"big", HEADER + SAMPLE_HEX + "\n" + std::string(10000, 'a')},
  };
  for (const auto& [name, content] : cases) {
    write_raw(path, content);
    Key k;
    const auto st = isotope::key_read_file(path, &k);
    INFO(name << ": " << st.to_string());
    CHECK(st.code() == Code::key_format);
    CHECK_FALSE(k.valid());
    CHECK(st.message().find(path) != std::string::npos);
    CHECK(st.message().find(SAMPLE_HEX.substr(0, 16)) == std::string::npos);
  }
}

TEST_CASE("well-formed key files are accepted with or without the final newline", "[key]") {
  TempDir dir;
  const std::string path = dir.file("ok.key");
  for (const std::string& content : {HEADER + SAMPLE_HEX + "\n", HEADER + SAMPLE_HEX}) {
    write_raw(path, content);
    Key k;
    REQUIRE(isotope::key_read_file(path, &k).ok());
    CHECK(key_hex(k) == SAMPLE_HEX);
  }
}

TEST_CASE("missing or unusual key paths give io errors", "[key]") {
  TempDir dir;
  Key k;
  auto st = isotope::key_read_file(dir.file("does-not-exist.key"), &k);
  CHECK(st.code() == Code::io);
  CHECK(st.message().find("does-not-exist.key") != std::string::npos);
  st = isotope::key_read_file(dir.path, &k);
  CHECK(st.code() == Code::io);
  CHECK_FALSE(k.valid());
  CHECK(isotope::key_read_file(dir.file("x"), nullptr).code() == Code::invalid_argument);
}

TEST_CASE("key files are not overwritten unless asked", "[key]") {
  TempDir dir;
  const std::string path = dir.file("wm.key");
  Key a, b;
  REQUIRE(Key::generate(&a).ok());
  REQUIRE(Key::generate(&b).ok());
  REQUIRE(isotope::key_write_file(path, a).ok());
  const auto st = isotope::key_write_file(path, b);
  CHECK(st.code() == Code::io);
  CHECK(st.message().find("exists") != std::string::npos);
  CHECK(st.message().find(key_hex(a)) == std::string::npos);
  CHECK(st.message().find(key_hex(b)) == std::string::npos);
  Key back;
  REQUIRE(isotope::key_read_file(path, &back).ok());
  CHECK(key_hex(back) == key_hex(a));

  REQUIRE(isotope::key_write_file(path, b, /*overwrite=*/true).ok());
  REQUIRE(isotope::key_read_file(path, &back).ok());
  CHECK(key_hex(back) == key_hex(b));
  struct stat sb {};
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0600);

  // Overwriting a loose file also tightens its mode.
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  REQUIRE(isotope::key_write_file(path, a, true).ok());
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0600);

  // No temporary files are left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("an empty key cannot be written and has no commitment", "[key]") {
  TempDir dir;
  Key empty;
  CHECK(isotope::key_write_file(dir.file("e.key"), empty).code() == Code::invalid_argument);
  CHECK_FALSE(std::filesystem::exists(dir.file("e.key")));
  const auto c = empty.commitment();
  CHECK(std::all_of(c.begin(), c.end(), [](std::uint8_t b) { return b == 0; }));
}

TEST_CASE("the key hex appears only in the key file itself", "[key]") {
  TempDir dir;
  Key k;
  REQUIRE(Key::generate(&k).ok());
  const std::string hex = key_hex(k);
  const std::string path = dir.file("k.key");
  REQUIRE(isotope::key_write_file(path, k).ok());
  CHECK(slurp(path).find(hex) != std::string::npos);
  CHECK(k.commitment_hex().find(hex.substr(0, 16)) == std::string::npos);

  std::vector<isotope::Status> statuses;
  statuses.push_back(isotope::key_write_file(path, k));  // exists
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  Key tmp;
  statuses.push_back(isotope::key_read_file(path, &tmp));  // permissions
  write_raw(path, HEADER + hex + "x\n");
  statuses.push_back(isotope::key_read_file(path, &tmp));  // format
  write_raw(path, "isotope-watermark-key v0\n" + hex + "\n");
  statuses.push_back(isotope::key_read_file(path, &tmp));  // format
  write_raw(path, HEADER + hex.substr(0, 40) + "\n");
  statuses.push_back(isotope::key_read_file(path, &tmp));  // format
  for (const auto& st : statuses) {
    INFO(st.to_string());
    CHECK_FALSE(st.ok());
    CHECK(st.message().find(hex.substr(0, 16)) == std::string::npos);
    CHECK(st.to_string().find(hex.substr(0, 16)) == std::string::npos);
  }
}
