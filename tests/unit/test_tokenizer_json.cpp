// Hugging Face tokenizer.json files (BPE), built here small enough that the
// right ids can be worked out by hand.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "isotope/tokenizer.hpp"

using isotope::Code;
using isotope::Tokenizer;
using json = nlohmann::json;
using Ids = std::vector<std::uint32_t>;

namespace {

// GPT-2's byte alphabet, as the files write byte-level tokens.
std::string byte_char(unsigned b) {
  std::vector<unsigned> bs;
  for (unsigned x = 33; x <= 126; ++x) bs.push_back(x);
  for (unsigned x = 161; x <= 172; ++x) bs.push_back(x);
  for (unsigned x = 174; x <= 255; ++x) bs.push_back(x);
  unsigned cp = b, extra = 0;
  bool printable = false;
  for (unsigned x : bs) printable = printable || x == b;
  if (!printable) {
    for (unsigned x = 0; x < b; ++x) {
      bool p = false;
      for (unsigned y : bs) p = p || y == x;
      if (!p) ++extra;
    }
    cp = 256 + extra;
  }
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

std::unique_ptr<Tokenizer> load_json(const json& doc, isotope::Status* st_out = nullptr) {
  static int n = 0;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("isotope-tokjson-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".json"))
                               .string();
  std::ofstream(path) << doc.dump();
  std::unique_ptr<Tokenizer> t;
  const auto st = Tokenizer::load(path, &t);
  std::filesystem::remove(path);
  if (st_out != nullptr) *st_out = st;
  return t;
}

Ids enc(const Tokenizer& t, const std::string& text) {
  Ids ids;
  const auto st = t.encode(text, &ids);
  INFO(st.to_string());
  REQUIRE(st.ok());
  return ids;
}

// A byte-level BPE: bytes are ids 0-255, then the merges' results in order.
json byte_level(const std::vector<std::pair<std::string, std::string>>& merges, json pre = nullptr) {
  json vocab = json::object();
  for (unsigned b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  json m = json::array();
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = vocab.size();
    m.push_back(a + " " + b);
  }
  if (pre.is_null())
    pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  return {{"added_tokens", json::array()}, {"normalizer", nullptr}, {"pre_tokenizer", pre},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", vocab}, {"merges", m}}}};
}

std::uint32_t id_of(const json& doc, const std::string& tok) { return doc["model"]["vocab"][tok].get<std::uint32_t>(); }

}  // namespace

TEST_CASE("tokenizer.json: byte-level BPE merges by rank, leftmost first", "[tokenizer][json]") {
  const json doc = byte_level({{"a", "a"}, {"b", "c"}, {"aa", "a"}});
  auto t = load_json(doc);
  REQUIRE(t);
  CHECK(std::string(t->kind()) == "bpe-byte-level");
  CHECK(t->vocab_size() == 259);
  const auto aa = id_of(doc, "aa"), bc = id_of(doc, "bc"), aaa = id_of(doc, "aaa");
  // "aaa": a+a (rank 0) at the left first, then aa+a (rank 2)
  CHECK(enc(*t, "aaa") == Ids{aaa});
  // "aaaa": both a+a merges happen before aa+a could: aa|aa
  CHECK(enc(*t, "aaaa") == Ids{aa, aa});
  CHECK(enc(*t, "abc") == Ids{'a', bc});
  // bytes of any character: "é" is C3 A9
  CHECK(enc(*t, "\xC3\xA9") == Ids{0xC3, 0xA9});
  std::string back;
  REQUIRE(t->decode(Ids{aaa, 'x', 0xC3, 0xA9}, &back).ok());
  CHECK(back == "aaax\xC3\xA9");
  // a cut UTF-8 sequence decodes to U+FFFD, and ids past the vocabulary are refused
  REQUIRE(t->decode(Ids{0xC3}, &back).ok());
  CHECK(back == "\xEF\xBF\xBD");
  CHECK(t->decode(Ids{259}, &back).code() == Code::vocab_mismatch);
}

TEST_CASE("tokenizer.json: a word longer than 64 kB gives the ids of the whole", "[tokenizer][json]") {
  // "ab" merges, "ba" never does: the long word may be cut between b and a.
  const json doc = byte_level({{"a", "b"}, {"ab", "ab"}});
  auto t = load_json(doc);
  REQUIRE(t);
  std::string word;
  for (int i = 0; i < 50000; ++i) word += "ab";
  const Ids ids = enc(*t, word);
  REQUIRE(ids.size() == 25000);
  for (auto id : ids) CHECK(id == id_of(doc, "abab"));
  // "aa" merges with everything: no cut, still right
  const json doc2 = byte_level({{"a", "a"}});
  auto t2 = load_json(doc2);
  REQUIRE(t2);
  const Ids ids2 = enc(*t2, std::string(100001, 'a'));
  REQUIRE(ids2.size() == 50001);
  CHECK(ids2.back() == 'a');
  CHECK(ids2.front() == id_of(doc2, "aa"));
}

TEST_CASE("tokenizer.json: ignore_merges takes whole words from the vocabulary", "[tokenizer][json]") {
  json doc = byte_level({{"a", "b"}, {"b", "c"}});
  doc["model"]["vocab"]["abc"] = 300;  // reachable only as a whole word
  doc["model"]["ignore_merges"] = true;
  auto t = load_json(doc);
  REQUIRE(t);
  CHECK(enc(*t, "abc") == Ids{300});
  doc["model"]["ignore_merges"] = false;
  auto u = load_json(doc);
  REQUIRE(u);
  CHECK(enc(*u, "abc") == Ids{id_of(doc, "ab"), 'c'});
}

TEST_CASE("tokenizer.json: added tokens are cut out first, longest match", "[tokenizer][json]") {
  json doc = byte_level({{"<", "|"}});
  doc["added_tokens"] = json::array({
      {{"id", 400}, {"content", "<|x|>"}, {"special", true}},
      {{"id", 401}, {"content", "<|x|>y"}, {"special", false}},
      {{"id", 402}, {"content", "[S]"}, {"special", true}, {"lstrip", true}, {"rstrip", true}},
  });
  auto t = load_json(doc);
  REQUIRE(t);
  CHECK(t->vocab_size() == 403);
  CHECK(enc(*t, "a<|x|>b") == Ids{'a', 400, 'b'});
  CHECK(enc(*t, "<|x|>yz") == Ids{401, 'z'});
  CHECK(enc(*t, "<|x") == Ids{id_of(doc, "<|"), 'x'});
  // lstrip / rstrip eat the whitespace around the token
  CHECK(enc(*t, "a \t[S]\n b") == Ids{'a', 402, 'b'});
}

TEST_CASE("tokenizer.json: Split behaviours and the regex dialect", "[tokenizer][json]") {
  auto split = [](const std::string& behavior, bool invert, const json& pattern) {
    json pre = {{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}},
                  {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    // merges that would join across the cuts if there were none
    return byte_level({{"a", "-"}, {"-", "b"}, {"a", "b"}}, pre);
  };
  const json regex = {{"Regex", "-"}};
  const json d0 = split("Isolated", false, regex);
  const auto a_dash = id_of(d0, "a-"), dash_b = id_of(d0, "-b"), ab = id_of(d0, "ab");
  CHECK(enc(*load_json(d0), "a-b") == Ids{'a', '-', 'b'});
  CHECK(enc(*load_json(split("Removed", false, regex)), "a-b") == Ids{'a', 'b'});
  CHECK(enc(*load_json(split("MergedWithPrevious", false, regex)), "a-b") == Ids{a_dash, 'b'});
  CHECK(enc(*load_json(split("MergedWithNext", false, regex)), "a-b") == Ids{'a', dash_b});
  CHECK(enc(*load_json(split("Contiguous", false, {{"String", "-"}})), "a--b") == Ids{'a', '-', '-', 'b'});
  // inverted and removed: only the matches stay
  CHECK(enc(*load_json(split("Removed", true, {{"Regex", "[ab]+"}})), "ab-ab") == Ids{ab, ab});
  // \s is JavaScript's: U+FEFF is whitespace, U+0085 is not
  const json ws = split("Removed", false, {{"Regex", "\\s"}});
  CHECK(enc(*load_json(ws), "a\xEF\xBB\xBF" "b") == Ids{'a', 'b'});
  CHECK(enc(*load_json(ws), "a\xC2\x85" "b").size() == 4);
  // the reference's spelling of the case-insensitive contractions: 's and 'S, not 'ſ
  const json con = split("Removed", true, {{"Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)"}});
  CHECK(enc(*load_json(con), "'S").size() == 2);
  CHECK(enc(*load_json(con), "'\xC5\xBF").empty());
}

TEST_CASE("tokenizer.json: sentencepiece-style BPE with byte fallback", "[tokenizer][json]") {
  json vocab = {{"<unk>", 0}, {"\xE2\x96\x81", 1}, {"a", 2}, {"b", 3}, {"\xE2\x96\x81" "a", 4}, {"ab", 5}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 6 + b;
  }
  json doc = {
      {"added_tokens", json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}}})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"}, {"unk_token", "<unk>"}, {"byte_fallback", true}, {"fuse_unk", true}, {"vocab", vocab},
        {"merges", {"\xE2\x96\x81 a", "a b"}}}}};
  auto t = load_json(doc);
  REQUIRE(t);
  CHECK(std::string(t->kind()) == "bpe-sentencepiece");
  // "ab a" -> ▁ab▁a -> ▁a (rank 0) b ▁a
  CHECK(enc(*t, "ab a") == Ids{4, 3, 4});
  // characters outside the vocabulary fall back to their bytes
  CHECK(enc(*t, "\xC3\xA9") == Ids{1, 6 + 0xC3, 6 + 0xA9});
  std::string back;
  REQUIRE(t->decode(Ids{4, 3, 4, 1, 6 + 0xC3, 6 + 0xA9}, &back).ok());
  CHECK(back == "ab a \xC3\xA9");
  // without byte fallback: the unknown token, runs of them fused
  doc["model"]["byte_fallback"] = false;
  auto u = load_json(doc);
  REQUIRE(u);
  CHECK(enc(*u, "\xC3\xA9\xC3\xA8" "a") == Ids{1, 0, 2});
}

TEST_CASE("tokenizer.json: components that are not implemented are refused by name", "[tokenizer][json]") {
  auto refused = [](json doc, const std::string& what) {
    isotope::Status st;
    auto t = load_json(doc, &st);
    CHECK_FALSE(t);
    CHECK(st.code() == Code::tokenizer);
    INFO(st.message());
    CHECK(st.message().find(what) != std::string::npos);
  };
  json base = byte_level({{"a", "b"}});
  json d = base;
  d["model"] = {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}, {"unk_token", "[UNK]"}};
  refused(d, "WordPiece model");
  d = base;
  d["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
  refused(d, "Unigram model");
  d = base;
  d["normalizer"] = {{"type", "Precompiled"}};
  refused(d, "normalizer 'Precompiled'");
  d = base;
  d["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  refused(d, "pre-tokenizer 'BertPreTokenizer'");
  d = base;
  d["model"]["continuing_subword_prefix"] = "##";
  refused(d, "continuing_subword_prefix");
  // damaged files are corrupt, not refused
  isotope::Status st;
  d = base;
  d["model"]["merges"] = json::array({42});
  CHECK_FALSE(load_json(d, &st));
  CHECK(st.code() == Code::corrupt);
  // An id far beyond the tokens the file defines would make the id tables
  // huge (found by fuzz_tokenizer): corrupt, before anything is allocated.
  for (const std::uint64_t id : {271222222ull, 70000ull}) {
    d = base;
    d["model"]["vocab"]["zz"] = id;
    CHECK_FALSE(load_json(d, &st));
    CHECK(st.code() == Code::corrupt);
    CHECK(st.message().find("leaves most ids unused") != std::string::npos);
  }
  d = base;  // a gap that real files can have is fine
  d["model"]["vocab"]["zz"] = 1000;
  CHECK(load_json(d, &st));
}
