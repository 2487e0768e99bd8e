// The bundled sentencepiece tokenizer and isotope::Tokenizer's error handling.
#include <sodium.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "isotope/io.hpp"
#include "isotope/tokenizer.hpp"

using isotope::Code;
using isotope::Tokenizer;

namespace {

const std::string kModelPath = ISOTOPE_SOURCE_DIR "/corpora/tokenizer/isotope-8k.model";

const Tokenizer& bundled() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    std::unique_ptr<Tokenizer> t;
    const auto st = Tokenizer::load(kModelPath, &t);
    if (!st.ok()) FAIL("cannot load the bundled tokenizer: " << st.to_string());
    return t;
  }();
  return *tok;
}

std::vector<std::uint32_t> encode_ok(const Tokenizer& tok, const std::string& text) {
  std::vector<std::uint32_t> ids;
  const auto st = tok.encode(text, &ids);
  REQUIRE(st.ok());
  return ids;
}

std::string decode_ok(const Tokenizer& tok, const std::vector<std::uint32_t>& ids) {
  std::string text;
  const auto st = tok.decode(ids, &text);
  REQUIRE(st.ok());
  return text;
}

// A scratch file removed at the end of the test.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& name, const std::string& contents) {
    path = (std::filesystem::temp_directory_path() /
            ("isotope-test-tok-" + std::to_string(::getpid()) + "-" + name))
               .string();
    std::ofstream out(path, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

std::string read_or_fail(const std::string& path) {
  std::string bytes;
  const auto st = isotope::read_file(path, &bytes);
  REQUIRE(st.ok());
  return bytes;
}

}  // namespace

TEST_CASE("bundled tokenizer loads with 8000 pieces", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  CHECK(tok.vocab_size() == 8000);
  CHECK(tok.path() == kModelPath);
  CHECK(tok.sha256_hex().size() == 64);
}

TEST_CASE("tokenizer hash is the SHA-256 of the model file", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  const std::string bytes = read_or_fail(kModelPath);

  // An independent implementation (libsodium) of the same digest.
  REQUIRE(sodium_init() >= 0);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  CHECK(tok.sha256_hex() == isotope::to_hex({digest, sizeof digest}));

  std::string hex;
  std::uint64_t size = 0;
  REQUIRE(isotope::sha256_file_hex(kModelPath, &hex, &size).ok());
  CHECK(tok.sha256_hex() == hex);
  CHECK(size == bytes.size());
}

TEST_CASE("encode then decode gives the text back exactly", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  const std::vector<std::string> texts = {
      "In the beginning God created the heaven and the earth.",
      "hello",
      " leading space",
      "trailing space ",
      "two  spaces,\ta tab\nand a newline\n\nand a blank line",
      "Digits 1234567890 and 3.14159, and punctuation: (a) [b] {c} <d> -- \"q\" 'r'!",
      "naïve café, Straße, Ærøskøbing",
      "Japanese 日本語, Greek λόγος, Cyrillic слово, emoji 🙂🚀",
      std::string("embedded\0nul byte", 17),
      "\x7f control and \x01 bytes",
  };
  for (const auto& text : texts) {
    INFO("text: " << text);
    const auto ids = encode_ok(tok, text);
    CHECK_FALSE(ids.empty());
    for (auto id : ids) CHECK(id < tok.vocab_size());
    CHECK(decode_ok(tok, ids) == text);
  }
}

TEST_CASE("English text encodes compactly", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  const std::string text =
      "And God said, Let there be light: and there was light. The hacker wrote a program "
      "that was elegant, efficient and entirely unnecessary.";
  const auto ids = encode_ok(tok, text);
  // Two sentences of 25 words: a sane 8k vocabulary needs well under 2 pieces a word.
  CHECK(ids.size() >= 20);
  CHECK(ids.size() <= 45);
  CHECK(encode_ok(tok, text) == ids);  // deterministic
}

TEST_CASE("characters outside the vocabulary use byte fallback", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  // U+65E5 (3 UTF-8 bytes) and U+1F642 (4 bytes) are not pieces of an English
  // vocabulary: each byte becomes one of the 256 byte pieces (ids 3..258), never <unk>.
  const auto ids = encode_ok(tok, "日🙂");
  std::size_t bytes = 0;
  for (auto id : ids) {
    CHECK(id != 0);  // <unk>
    if (id >= 3 && id < 3 + 256) ++bytes;
  }
  CHECK(bytes == 7);
  CHECK(decode_ok(tok, ids) == "日🙂");
}

TEST_CASE("empty text gives no ids and empty ids give no text", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  std::vector<std::uint32_t> ids = {1, 2, 3};
  REQUIRE(tok.encode("", &ids).ok());
  CHECK(ids.empty());
  std::string text = "stale";
  REQUIRE(tok.decode({}, &text).ok());
  CHECK(text.empty());
}

TEST_CASE("invalid UTF-8 is rejected with the byte offset", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  struct Case {
    const char* what;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"overlong 2-byte '/'", "\xC0\xAF"},
      {"overlong 2-byte NUL", "\xC1\x80"},
      {"overlong 3-byte '/'", "\xE0\x80\xAF"},
      {"overlong 4-byte '/'", "\xF0\x80\x80\xAF"},
      {"lone continuation byte", "\x80"},
      {"continuation bytes only", "\xBF\xBF"},
      {"truncated 2-byte sequence", "\xC3"},
      {"truncated 3-byte sequence", "\xE6\x97"},
      {"truncated 4-byte sequence", "\xF0\x9F\x99"},
      {"truncated sequence before ASCII", "\xE6\x97z"},
      {"high surrogate U+D800", "\xED\xA0\x80"},
      {"low surrogate U+DFFF", "\xED\xBF\xBF"},
      {"above U+10FFFF", "\xF4\x90\x80\x80"},
      {"lead byte 0xF5", "\xF5\x80\x80\x80"},
      {"byte 0xFE", "\xFE"},
      {"byte 0xFF", "\xFF"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    std::vector<std::uint32_t> ids = {42};
    const std::string text = "ok \xC3\xA9 " + c.bytes + " tail";  // bad bytes start at offset 6
    const auto st = tok.encode(text, &ids);
    CHECK(st.code() == Code::invalid_utf8);
    CHECK(st.message().find("offset 6") != std::string::npos);
    CHECK(ids.empty());
  }
}

TEST_CASE("decode rejects ids outside the vocabulary", "[tokenizer]") {
  const Tokenizer& tok = bundled();
  std::string text;
  CHECK(tok.decode(std::vector<std::uint32_t>{100, 7999}, &text).ok());
  for (std::uint32_t bad : {8000u, 8001u, 0xFFFFFFFFu, 0x80000000u}) {
    const auto st = tok.decode(std::vector<std::uint32_t>{100, bad}, &text);
    CHECK(st.code() == Code::vocab_mismatch);
    CHECK(st.message().find("position 1") != std::string::npos);
  }
}

TEST_CASE("missing and malformed model files are rejected cleanly", "[tokenizer]") {
  std::unique_ptr<Tokenizer> tok;

  SECTION("missing file") {
    const auto st = Tokenizer::load("/nonexistent/isotope/no-such.model", &tok);
    CHECK(st.code() == Code::io);
    CHECK(tok == nullptr);
  }
  SECTION("a directory") {
    const auto st = Tokenizer::load(std::filesystem::temp_directory_path().string(), &tok);
    CHECK(st.code() == Code::io);
    CHECK(tok == nullptr);
  }
  SECTION("a device, which would never end") {
    const auto st = Tokenizer::load("/dev/zero", &tok);
    CHECK(st.code() == Code::io);
    CHECK(tok == nullptr);
  }

  const std::string model = read_or_fail(kModelPath);
  std::string garbage(4096, '\0');
  std::uint32_t x = 2463534242u;  // xorshift32: fixed pseudo-random bytes
  for (auto& ch : garbage) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    ch = static_cast<char>(x & 0xFF);
  }
  struct Bad {
    const char* name;
    std::string bytes;
  };
  const std::vector<Bad> bad = {
      {"empty", ""},
      {"random", garbage},
      {"text", "this is not a sentencepiece model\n"},
      {"truncated-half", model.substr(0, model.size() / 2)},
      {"truncated-tail", model.substr(0, model.size() - 7)},
      {"header-only", model.substr(0, 16)},
      {"zeros", std::string(1000, '\0')},
      {"ones", std::string(1000, '\xFF')},
      // A model whose vocabulary holds a piece its trie cannot index (found by
      // fuzz_tokenizer: sentencepiece throws instead of returning a status).
      {"empty-piece", read_or_fail(ISOTOPE_TEST_DIR "/fixtures/tokenizer/empty-piece.model")},
  };
  for (const auto& b : bad) {
    SECTION(b.name) {
      TempFile f(b.name, b.bytes);
      const auto st = Tokenizer::load(f.path, &tok);
      INFO(st.to_string());
      CHECK_FALSE(st.ok());
      CHECK((st.code() == Code::corrupt || st.code() == Code::tokenizer));
      CHECK(st.message().find(f.path) != std::string::npos);
      CHECK(tok == nullptr);
    }
  }
}

TEST_CASE("held-out corpus holds many chunks of 200+ tokens", "[tokenizer][corpus]") {
  const Tokenizer& tok = bundled();
  std::size_t docs = 0, long_docs = 0;
  for (const char* src : {"bible", "jargon", "devil", "wordnet"}) {
    std::ifstream in(std::string(ISOTOPE_SOURCE_DIR "/corpora/heldout/") + src + ".txt");
    REQUIRE(in);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      ++docs;
      if (encode_ok(tok, line).size() >= 200) ++long_docs;
    }
  }
  CHECK(docs >= 500);
  CHECK(long_docs * 10 >= docs * 9);
}
