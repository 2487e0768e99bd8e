// isotope — text normalizers applied before tokenization (opt-in), so that
// edits that keep a text's look but change its bytes (non-breaking spaces,
// full-width letters, zero-width characters, look-alike letters from other
// scripts) do not erase the watermark. docs/cli.md says when to use which.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "isotope/status.hpp"

namespace isotope {

struct Normalizers {
  bool format = false;       // remove format characters (Unicode Cf: zero-width spaces and joiners, BOM, soft hyphen, bidi controls)
  bool spaces = false;       // every Unicode space separator (Zs: NBSP, U+2000-200A, U+3000, ...) to U+0020
  bool nfkc = false;         // Unicode NFKC (full-width and other compatibility forms to their plain letters)
  bool confusables = false;  // a non-ASCII letter whose Unicode confusable skeleton is an ASCII one becomes it

  bool any() const noexcept { return format || spaces || nfkc || confusables; }
  // The canonical list, in the order they are applied: e.g. {"format", "spaces", "nfkc", "confusables"}.
  std::vector<std::string> names() const;
  bool operator==(const Normalizers&) const = default;
};

// Parses "nfkc,spaces,format,confusables" (any order, any subset), "all", or
// "" / "none" (no normalizer). Code::invalid_argument names an unknown entry.
Status parse_normalizers(std::string_view list, Normalizers* out);

// Applies the normalizers to valid UTF-8 `in`, in the order format, spaces,
// nfkc, confusables. Code::invalid_utf8 if `in` is not UTF-8.
Status normalize_text(std::string_view in, const Normalizers& n, std::string* out);

}  // namespace isotope
