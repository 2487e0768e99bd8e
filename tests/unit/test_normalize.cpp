// Text normalizers: each undoes the edit it is meant for and leaves plain
// ASCII text unchanged.
#include <catch2/catch.hpp>

#include <string>

#include "isotope/normalize.hpp"

using namespace isotope;

namespace {
std::string norm(const std::string& list, const std::string& text) {
  Normalizers n;
  REQUIRE(parse_normalizers(list, &n).ok());
  std::string out;
  REQUIRE(normalize_text(text, n, &out).ok());
  return out;
}
}  // namespace

TEST_CASE("normalizer lists parse, and unknown names are refused", "[normalize]") {
  Normalizers n;
  REQUIRE(parse_normalizers("all", &n).ok());
  CHECK(n.names() == std::vector<std::string>{"format", "spaces", "nfkc", "confusables"});
  REQUIRE(parse_normalizers("confusables,nfkc", &n).ok());
  CHECK(n.names() == std::vector<std::string>{"nfkc", "confusables"});
  REQUIRE(parse_normalizers("", &n).ok());
  CHECK_FALSE(n.any());
  REQUIRE(parse_normalizers("none", &n).ok());
  CHECK_FALSE(n.any());
  const Status st = parse_normalizers("nfkc,homoglyph", &n);
  CHECK(st.code() == Code::invalid_argument);
  CHECK(st.message().find("homoglyph") != std::string::npos);
  CHECK_FALSE(parse_normalizers("nfkc,,spaces", &n).ok());
}

TEST_CASE("each normalizer undoes its edit", "[normalize]") {
  const std::string plain = "The quick brown fox, 42 times: \"ok\" (I said) | l1O0 rn m.\n\tEnd";
  for (const char* list : {"nfkc", "spaces", "format", "confusables", "all"}) CHECK(norm(list, plain) == plain);
  // Spaces: NBSP, thin space, ideographic space.
  CHECK(norm("spaces", "a\u00a0b\u2009c\u3000d") == "a b c d");
  CHECK(norm("format", "a\u00a0b") == "a\u00a0b");
  // Format characters: zero-width space and joiner, BOM, soft hyphen, RLO.
  CHECK(norm("format", "a\u200bb\u200dc\ufeffd\u00ade\u202ef") == "abcdef");
  CHECK(norm("spaces", "a\u200bb") == "a\u200bb");
  // NFKC: full-width letters and digits, ligatures.
  CHECK(norm("nfkc", "\uff28\uff45\uff4c\uff4c\uff4f \uff11\uff12 \ufb01ne") == "Hello 12 fine");
  // Confusables: Cyrillic and Greek look-alikes become Latin letters.
  CHECK(norm("confusables", "\u0441\u043e\u0440\u0443 \u0440\u0430\u0455t\u0435 \u03bfk") == "copy paste ok");
  // Other scripts stay as they are.
  CHECK(norm("confusables", "\u65e5\u672c\u8a9e \u0416") == "\u65e5\u672c\u8a9e \u0416");
  CHECK(norm("all", "\uff48i\u00a0\u200bth\u0435re") == "hi there");
}

TEST_CASE("normalizing invalid UTF-8 is an error", "[normalize]") {
  Normalizers n;
  n.nfkc = true;
  std::string out;
  CHECK(normalize_text("a\xff", n, &out).code() == Code::invalid_utf8);
}
