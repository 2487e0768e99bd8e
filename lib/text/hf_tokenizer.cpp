// isotope — a Hugging Face tokenizer.json with a BPE model.
//
// The pipeline is the one of the reference encoders (the Hugging Face
// tokenizers library and transformers.js): added tokens are cut out of the
// text first; each remaining section is normalized, pre-tokenized into words
// and each word is encoded with BPE. Byte-level files (a ByteLevel
// pre-tokenizer at the end) are encoded on raw bytes: the vocabulary is
// translated back from the GPT-2 byte alphabet once at load. Regular
// expressions are PCRE2 (JIT), translated from the JavaScript dialect the
// reference encoders apply (\s, \d, \w and "." as in JavaScript);
// normalization is ICU. Anything else is refused by name.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/normalizer2.h>
#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>
#include <unicode/uniset.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "text/backend.hpp"

namespace isotope::text {

namespace {

using json = nlohmann::json;
constexpr std::uint32_t kNone = 0xFFFFFFFFu;

Status refuse(const std::string& name, const std::string& what) {
  return {Code::tokenizer, "tokenizer '" + name + "': " + what + " is not supported"};
}
Status bad(const std::string& name, const std::string& what) {
  return {Code::corrupt, "tokenizer '" + name + "' is not a valid tokenizer.json: " + what};
}

// ---------------------------------------------------------------- UTF-8

// Length of the UTF-8 sequence starting with lead byte c (text is valid).
inline std::size_t u8len(unsigned char c) noexcept { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

inline char32_t u8decode(std::string_view s, std::size_t i) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return c;
  if (c < 0xE0) return ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
  if (c < 0xF0)
    return ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
  return ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
         ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
}

// JavaScript's White_Space + line terminators (what \s, trim() and
// trimStart()/trimEnd() use in the reference encoder).
constexpr const char* kJsSpace =
    "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";
bool js_space(char32_t c) noexcept {
  return (c >= 9 && c <= 13) || c == 32 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}
std::string_view js_trim_start(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && js_space(u8decode(s, i))) i += u8len(static_cast<unsigned char>(s[i]));
  return s.substr(i);
}
std::string_view js_trim_end(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0) {
    std::size_t b = end - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    if (!js_space(u8decode(s, b))) break;
    end = b;
  }
  return s.substr(0, end);
}

// Replaces ill-formed UTF-8 by U+FFFD (as a TextDecoder that is not fatal).
std::string sanitize_utf8(const std::string& bytes) {
  UErrorCode ec = U_ZERO_ERROR;
  int32_t n16 = 0;
  u_strFromUTF8WithSub(nullptr, 0, &n16, bytes.data(), static_cast<int32_t>(bytes.size()), 0xFFFD, nullptr, &ec);
  ec = U_ZERO_ERROR;
  std::u16string u16(static_cast<std::size_t>(n16), u'\0');
  u_strFromUTF8WithSub(u16.data(), n16, nullptr, bytes.data(), static_cast<int32_t>(bytes.size()), 0xFFFD, nullptr,
                       &ec);
  std::string out;
  icu::UnicodeString(false, u16.data(), n16).toUTF8String(out);
  return out;
}

// GPT-2's byte alphabet: printable bytes stand for themselves, the others for
// U+0100 onwards.
struct ByteAlphabet {
  std::array<char32_t, 256> to_char{};
  std::unordered_map<char32_t, std::uint8_t> to_byte;
  ByteAlphabet() {
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      to_char[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[static_cast<std::size_t>(b)]] = static_cast<std::uint8_t>(b);
    }
  }
  // Raw bytes of a token written in the alphabet; nullopt if it is not.
  std::optional<std::string> unmap(std::string_view s) const {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); i += u8len(static_cast<unsigned char>(s[i]))) {
      const auto it = to_byte.find(u8decode(s, i));
      if (it == to_byte.end()) return std::nullopt;
      out.push_back(static_cast<char>(it->second));
    }
    return out;
  }
};
const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet a;
  return a;
}

// ---------------------------------------------------------------- regex

// The reference encoders' workarounds, applied to the patterns as they do.
std::string js_pattern_fixups(std::string p) {
  std::string out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size() && (p[i + 1] == '#' || p[i + 1] == '&' || p[i + 1] == '~')) continue;
    out.push_back(p[i]);
  }
  const std::string from = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
  const std::string to = "(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))";
  for (std::size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size()))
    out.replace(at, from.size(), to);
  return out;
}

// PCRE2's property tables are of an older Unicode version than ICU's. The
// characters that have property `name` but were assigned after PCRE2's
// version, as PCRE2 class ranges ("" if none); false if ICU does not know
// the property.
bool newer_ranges(const std::string& name, std::string* out) {
  static const std::string pcre_version = [] {
    char buf[32] = {0};
    pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, buf);
    std::string v = buf;  // "14.0.0"
    const std::size_t dot = v.find('.', v.find('.') + 1);
    return dot == std::string::npos ? v : v.substr(0, dot);
  }();
  UErrorCode ec = U_ZERO_ERROR;
  const std::string pat = "[[:" + name + ":]-[:age=" + pcre_version + ":]]";
  icu::UnicodeSet set(icu::UnicodeString::fromUTF8(pat), ec);
  if (U_FAILURE(ec)) return false;
  out->clear();
  char buf[48];
  for (int32_t i = 0; i < set.getRangeCount(); ++i) {
    const auto a = static_cast<unsigned>(set.getRangeStart(i)), b = static_cast<unsigned>(set.getRangeEnd(i));
    std::snprintf(buf, sizeof buf, a == b ? "\\x{%X}" : "\\x{%X}-\\x{%X}", a, b);
    *out += buf;
  }
  return true;
}

// JavaScript (flag "u") regular expression -> PCRE2 pattern with the same matches.
Status js_to_pcre2(const std::string& js, std::string* out, std::string* why) {
  const std::string p = js_pattern_fixups(js);
  out->clear();
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) {
        *why = "the pattern ends with a backslash";
        return {Code::corrupt, ""};
      }
      const char e = p[++i];
      if (e == 's') {
        *out += in_class ? std::string(kJsSpace) : "[" + std::string(kJsSpace) + "]";
      } else if (e == 'S') {
        if (in_class) {
          *why = "\\S inside a character class";
          return {Code::tokenizer, ""};
        }
        *out += "[^" + std::string(kJsSpace) + "]";
      } else if (e == 'p' || e == 'P') {
        // \p{Name} / \pL: PCRE2's property, plus the characters ICU knows
        // to have it that PCRE2's older tables do not
        std::string name;
        std::size_t end = i;
        if (i + 1 < p.size() && p[i + 1] == '{') {
          end = p.find('}', i + 2);
          if (end == std::string::npos) {
            *why = "an unterminated \\p{...}";
            return {Code::corrupt, ""};
          }
          name = p.substr(i + 2, end - i - 2);
        } else if (i + 1 < p.size()) {
          end = i + 1;
          name = p.substr(i + 1, 1);
        }
        const std::string prop = p.substr(i - 1, end - i + 2);
        i = end;
        std::string extra;
        if (!newer_ranges(name, &extra)) extra.clear();
        if (extra.empty()) {
          *out += prop;
        } else if (in_class) {
          if (e == 'P') {
            *why = "\\P{" + name + "} inside a character class";
            return {Code::tokenizer, ""};
          }
          *out += prop + extra;
        } else {
          *out += (e == 'p' ? "[\\p{" : "[^\\p{") + name + "}" + extra + "]";
        }
      } else if (e == 'u') {
        // \uXXXX or \u{X...}
        std::string hex;
        if (i + 1 < p.size() && p[i + 1] == '{') {
          const std::size_t close = p.find('}', i + 2);
          if (close == std::string::npos) {
            *why = "an unterminated \\u{...}";
            return {Code::corrupt, ""};
          }
          hex = p.substr(i + 2, close - i - 2);
          i = close;
        } else {
          hex = p.substr(i + 1, 4);
          i += 4;
        }
        *out += "\\x{" + hex + "}";
      } else {
        out->push_back('\\');
        out->push_back(e);
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out->push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out->push_back(c);
      if (i + 1 < p.size() && p[i + 1] == '^') out->push_back(p[++i]);
      continue;
    }
    if (c == '.') {
      *out += "[^\\n\\r\\x{2028}\\x{2029}]";
      continue;
    }
    out->push_back(c);
  }
  return Status::OK();
}

class Regex {
 public:
  static Status compile(const std::string& js, const std::string& name, std::unique_ptr<Regex>* out) {
    std::string pat, why;
    const Status t = js_to_pcre2(js, &pat, &why);
    if (!t.ok()) {
      if (t.code() == Code::tokenizer) return refuse(name, "a regular expression with " + why);
      return bad(name, "regular expression '" + js + "': " + why);
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                     PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_DOLLAR_ENDONLY, &err, &off, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return refuse(name, "the regular expression '" + js + "' (" + reinterpret_cast<const char*>(msg) + ")");
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT it still matches, slower
    auto r = std::unique_ptr<Regex>(new Regex());
    r->code_ = code;
    *out = std::move(r);
    return Status::OK();
  }
  ~Regex() { pcre2_code_free(code_); }

  // Calls f(start, end) for every match, left to right; an empty match moves
  // on by one character, as JavaScript's matchAll does.
  template <class F>
  Status for_each(std::string_view s, F&& f) const {
    struct Scratch {
      pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
      pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
      pcre2_match_context* mc = pcre2_match_context_create(nullptr);
      Scratch() { pcre2_jit_stack_assign(mc, nullptr, stack); }
      ~Scratch() {
        pcre2_match_data_free(md);
        pcre2_jit_stack_free(stack);
        pcre2_match_context_free(mc);
      }
    };
    thread_local Scratch scratch;
    if (scratch.md == nullptr || scratch.mc == nullptr) return {Code::out_of_memory, "out of memory matching"};
    std::size_t pos = 0;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    while (pos <= s.size()) {
      const int rc = pcre2_match(code_, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, scratch.md, scratch.mc);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return {Code::tokenizer, std::string("regular expression failed: ") + reinterpret_cast<const char*>(msg)};
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch.md);
      const std::size_t a = ov[0], b = ov[1];
      ISOTOPE_RETURN_IF_ERROR(f(a, b));
      if (b > a) {
        pos = b;
      } else {
        if (b >= s.size()) break;
        pos = b + u8len(static_cast<unsigned char>(s[b]));
      }
    }
    return Status::OK();
  }

 private:
  Regex() = default;
  pcre2_code* code_ = nullptr;
};

// A Split/Replace pattern: {"String": s} or {"Regex": r}.
struct Pattern {
  std::string literal;           // when regex is null
  std::unique_ptr<Regex> regex;  // when set

  static Status from_json(const json& j, const std::string& name, Pattern* out) {
    if (!j.is_object()) return bad(name, "a pattern must be an object");
    if (j.contains("String") && j["String"].is_string()) {
      out->literal = j["String"].get<std::string>();
      if (out->literal.empty()) return bad(name, "an empty String pattern");
      return Status::OK();
    }
    if (j.contains("Regex") && j["Regex"].is_string()) return Regex::compile(j["Regex"].get<std::string>(), name, &out->regex);
    return bad(name, "a pattern holds neither String nor Regex");
  }
  template <class F>
  Status for_each(std::string_view s, F&& f) const {
    if (regex) return regex->for_each(s, f);
    for (std::size_t at = s.find(literal); at != std::string_view::npos; at = s.find(literal, at + literal.size()))
      ISOTOPE_RETURN_IF_ERROR(f(at, at + literal.size()));
    return Status::OK();
  }
  Status replace_all(std::string* s, const std::string& content) const {
    std::string out;
    std::size_t prev = 0;
    bool any = false;
    ISOTOPE_RETURN_IF_ERROR(for_each(*s, [&](std::size_t a, std::size_t b) -> Status {
      out.append(*s, prev, a - prev);
      out += content;
      prev = b;
      any = true;
      return Status::OK();
    }));
    if (!any) return Status::OK();
    out.append(*s, prev, std::string::npos);
    *s = std::move(out);
    return Status::OK();
  }
};

// ---------------------------------------------------------------- normalizers

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual Status apply(std::string* s) const = 0;
};

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(const icu::Normalizer2* n) : n_(n) {}
  Status apply(std::string* s) const override {
    bool ascii = true;
    for (char c : *s) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return Status::OK();  // every form leaves ASCII alone
    UErrorCode ec = U_ZERO_ERROR;
    if (n_->isNormalizedUTF8(*s, ec) && U_SUCCESS(ec)) return Status::OK();
    ec = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out);
    n_->normalizeUTF8(0, *s, sink, nullptr, ec);
    if (U_FAILURE(ec)) return {Code::tokenizer, std::string("Unicode normalization failed: ") + u_errorName(ec)};
    *s = std::move(out);
    return Status::OK();
  }

 private:
  const icu::Normalizer2* n_;
};

class ReplaceNorm final : public Normalizer {
 public:
  Pattern pattern;
  std::string content;
  Status apply(std::string* s) const override { return pattern.replace_all(s, content); }
};

class PrependNorm final : public Normalizer {
 public:
  std::string prepend;
  Status apply(std::string* s) const override {
    s->insert(0, prepend);
    return Status::OK();
  }
};

class LowercaseNorm final : public Normalizer {
 public:
  Status apply(std::string* s) const override {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(*s);
    u.toLower(icu::Locale::getRoot());
    s->clear();
    u.toUTF8String(*s);
    return Status::OK();
  }
};

class StripNorm final : public Normalizer {
 public:
  bool left = true, right = true;
  Status apply(std::string* s) const override {
    std::string_view v = *s;
    if (left) v = js_trim_start(v);
    if (right) v = js_trim_end(v);
    *s = std::string(v);
    return Status::OK();
  }
};

class SequenceNorm final : public Normalizer {
 public:
  std::vector<std::unique_ptr<Normalizer>> parts;
  Status apply(std::string* s) const override {
    for (const auto& p : parts) ISOTOPE_RETURN_IF_ERROR(p->apply(s));
    return Status::OK();
  }
};

Status make_normalizer(const json& j, const std::string& name, std::unique_ptr<Normalizer>* out) {
  out->reset();
  if (j.is_null()) return Status::OK();
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return bad(name, "a normalizer without a type");
  const std::string type = j["type"].get<std::string>();
  UErrorCode ec = U_ZERO_ERROR;
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    const icu::Normalizer2* n = type == "NFC"    ? icu::Normalizer2::getNFCInstance(ec)
                                : type == "NFD"  ? icu::Normalizer2::getNFDInstance(ec)
                                : type == "NFKC" ? icu::Normalizer2::getNFKCInstance(ec)
                                                 : icu::Normalizer2::getNFKDInstance(ec);
    if (U_FAILURE(ec) || n == nullptr) return {Code::tokenizer, "ICU has no " + type + " data"};
    *out = std::make_unique<UnicodeForm>(n);
    return Status::OK();
  }
  if (type == "Sequence") {
    auto seq = std::make_unique<SequenceNorm>();
    if (!j.contains("normalizers") || !j["normalizers"].is_array()) return bad(name, "a Sequence normalizer without a list");
    for (const json& sub : j["normalizers"]) {
      std::unique_ptr<Normalizer> n;
      ISOTOPE_RETURN_IF_ERROR(make_normalizer(sub, name, &n));
      if (n) seq->parts.push_back(std::move(n));
    }
    if (!seq->parts.empty()) *out = std::move(seq);
    return Status::OK();
  }
  if (type == "Replace") {
    auto r = std::make_unique<ReplaceNorm>();
    ISOTOPE_RETURN_IF_ERROR(Pattern::from_json(j.value("pattern", json()), name, &r->pattern));
    if (!j.contains("content") || !j["content"].is_string()) return bad(name, "a Replace normalizer without content");
    r->content = j["content"].get<std::string>();
    *out = std::move(r);
    return Status::OK();
  }
  if (type == "Prepend") {
    auto p = std::make_unique<PrependNorm>();
    if (!j.contains("prepend") || !j["prepend"].is_string()) return bad(name, "a Prepend normalizer without text");
    p->prepend = j["prepend"].get<std::string>();
    *out = std::move(p);
    return Status::OK();
  }
  if (type == "Lowercase") {
    *out = std::make_unique<LowercaseNorm>();
    return Status::OK();
  }
  if (type == "Strip") {
    auto s = std::make_unique<StripNorm>();
    s->left = j.value("strip_left", true);
    s->right = j.value("strip_right", true);
    *out = std::move(s);
    return Status::OK();
  }
  return refuse(name, "the normalizer '" + type + "'");
}

// ---------------------------------------------------------------- pre-tokenizers

using Sink = std::function<Status(std::string_view)>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual Status run(std::string_view piece, std::size_t section, const Sink& next) const = 0;
};

enum class Behavior { isolated, removed, merged_with_previous, merged_with_next, contiguous };

// Cuts `s` at the matches of `pattern` (or, inverted, at what lies between
// them) and emits the parts as the behaviour says (as the Hugging Face
// tokenizers library defines them).
template <class Finder>
Status split_by(std::string_view s, const Finder& find, bool invert, Behavior behavior, const Sink& next) {
  std::size_t ps = 0, pe = 0;  // pending part
  bool pending = false, prev_match = false, pending_is_match = false;
  auto flush = [&]() -> Status {
    if (pending && pe > ps) ISOTOPE_RETURN_IF_ERROR(next(s.substr(ps, pe - ps)));
    pending = false;
    return Status::OK();
  };
  auto segment = [&](std::size_t a, std::size_t b, bool is_match) -> Status {
    if (b <= a) return Status::OK();
    switch (behavior) {
      case Behavior::isolated:
        ISOTOPE_RETURN_IF_ERROR(next(s.substr(a, b - a)));
        break;
      case Behavior::removed:
        if (!is_match) ISOTOPE_RETURN_IF_ERROR(next(s.substr(a, b - a)));
        break;
      case Behavior::merged_with_previous:
        if (is_match && !prev_match && pending) {
          pe = b;
        } else {
          ISOTOPE_RETURN_IF_ERROR(flush());
          ps = a, pe = b, pending = true;
        }
        break;
      case Behavior::merged_with_next:
        if (is_match) {
          ISOTOPE_RETURN_IF_ERROR(flush());
          ps = a, pe = b, pending = true, pending_is_match = true;
        } else if (pending && pending_is_match) {
          pe = b;
          ISOTOPE_RETURN_IF_ERROR(flush());
        } else {
          ISOTOPE_RETURN_IF_ERROR(next(s.substr(a, b - a)));
        }
        break;
      case Behavior::contiguous:
        if (is_match && prev_match && pending) {
          pe = b;
        } else {
          ISOTOPE_RETURN_IF_ERROR(flush());
          ps = a, pe = b, pending = true;
        }
        break;
    }
    prev_match = is_match;
    return Status::OK();
  };
  std::size_t prev = 0;
  ISOTOPE_RETURN_IF_ERROR(find(s, [&](std::size_t a, std::size_t b) -> Status {
    if (b == a) return Status::OK();  // empty matches cut nothing
    ISOTOPE_RETURN_IF_ERROR(segment(prev, a, invert));
    ISOTOPE_RETURN_IF_ERROR(segment(a, b, !invert));
    prev = b;
    return Status::OK();
  }));
  ISOTOPE_RETURN_IF_ERROR(segment(prev, s.size(), invert));
  return flush();
}

class SplitPre final : public PreTokenizer {
 public:
  Pattern pattern;
  bool invert = false;
  Behavior behavior = Behavior::isolated;
  Status run(std::string_view piece, std::size_t, const Sink& next) const override {
    return split_by(
        piece, [this](std::string_view s, const auto& f) { return pattern.for_each(s, f); }, invert, behavior, next);
  }
};

// Keeps only the matches of a regular expression (JavaScript's String.match).
class MatchPre final : public PreTokenizer {
 public:
  std::unique_ptr<Regex> regex;
  Status run(std::string_view piece, std::size_t, const Sink& next) const override {
    return regex->for_each(piece, [&](std::size_t a, std::size_t b) -> Status {
      return b > a ? next(piece.substr(a, b - a)) : Status::OK();
    });
  }
};

// ByteLevel as the last step: the words stay raw bytes (the vocabulary was
// translated instead); an optional leading space and the GPT-2 split.
class ByteLevelPre final : public PreTokenizer {
 public:
  bool add_prefix_space = false;
  std::unique_ptr<Regex> regex;  // use_regex
  Status run(std::string_view piece, std::size_t, const Sink& next) const override {
    std::string with_space;
    if (add_prefix_space && (piece.empty() || piece[0] != ' ')) {
      with_space = " " + std::string(piece);
      piece = with_space;
    }
    if (!regex) return next(piece);
    return regex->for_each(piece, [&](std::size_t a, std::size_t b) -> Status {
      return b > a ? next(piece.substr(a, b - a)) : Status::OK();
    });
  }
};

class MetaspacePre final : public PreTokenizer {
 public:
  std::string replacement = "\xE2\x96\x81";
  enum { always, first, never } prepend = always;
  bool split = true;
  Status run(std::string_view piece, std::size_t section, const Sink& next) const override {
    std::string s;
    s.reserve(piece.size() + 3);
    for (char c : piece) {
      if (c == ' ') s += replacement;
      else s.push_back(c);
    }
    const bool starts = s.compare(0, replacement.size(), replacement) == 0;
    if (!starts && (prepend == always || (prepend == first && section == 0))) s.insert(0, replacement);
    if (!split) return next(s);
    return split_by(
        std::string_view(s),
        [this](std::string_view v, const auto& f) -> Status {
          for (std::size_t at = v.find(replacement); at != std::string_view::npos;
               at = v.find(replacement, at + replacement.size()))
            ISOTOPE_RETURN_IF_ERROR(f(at, at + replacement.size()));
          return Status::OK();
        },
        false, Behavior::merged_with_next, next);
  }
};

class SequencePre final : public PreTokenizer {
 public:
  std::vector<std::unique_ptr<PreTokenizer>> parts;
  Status run(std::string_view piece, std::size_t section, const Sink& next) const override {
    return run_from(0, piece, section, next);
  }

 private:
  Status run_from(std::size_t i, std::string_view piece, std::size_t section, const Sink& next) const {
    if (i == parts.size()) return next(piece);
    const Sink rest = [&, i](std::string_view p) { return run_from(i + 1, p, section, next); };
    return parts[i]->run(piece, section, rest);
  }
};

Status make_match_regex(const std::string& js, const std::string& name, std::unique_ptr<PreTokenizer>* out) {
  auto m = std::make_unique<MatchPre>();
  ISOTOPE_RETURN_IF_ERROR(Regex::compile(js, name, &m->regex));
  *out = std::move(m);
  return Status::OK();
}

constexpr const char* kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// `last` tells whether this step ends the pipeline (a ByteLevel step must).
Status make_pretokenizer(const json& j, const std::string& name, bool last, bool* byte_level,
                         std::unique_ptr<PreTokenizer>* out) {
  out->reset();
  if (j.is_null()) return Status::OK();
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return bad(name, "a pre-tokenizer without a type");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array()) return bad(name, "a Sequence pre-tokenizer without a list");
    auto seq = std::make_unique<SequencePre>();
    const json& list = j["pretokenizers"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::unique_ptr<PreTokenizer> p;
      ISOTOPE_RETURN_IF_ERROR(make_pretokenizer(list[i], name, last && i + 1 == list.size(), byte_level, &p));
      if (p) seq->parts.push_back(std::move(p));
    }
    if (seq->parts.size() == 1) *out = std::move(seq->parts.front());
    else if (!seq->parts.empty()) *out = std::move(seq);
    return Status::OK();
  }
  if (type == "ByteLevel") {
    if (!last) return refuse(name, "a ByteLevel pre-tokenizer followed by other pre-tokenizers");
    *byte_level = true;
    const bool prefix = j.value("add_prefix_space", false);
    const bool use_regex = j.value("use_regex", true);
    if (!prefix && !use_regex) return Status::OK();  // nothing to do on raw bytes
    auto b = std::make_unique<ByteLevelPre>();
    b->add_prefix_space = prefix;
    if (use_regex) ISOTOPE_RETURN_IF_ERROR(Regex::compile(kGpt2Pattern, name, &b->regex));
    *out = std::move(b);
    return Status::OK();
  }
  if (type == "Split") {
    auto s = std::make_unique<SplitPre>();
    ISOTOPE_RETURN_IF_ERROR(Pattern::from_json(j.value("pattern", json()), name, &s->pattern));
    s->invert = j.value("invert", false);
    const std::string b = j.value("behavior", std::string("Isolated"));
    if (b == "Isolated") s->behavior = Behavior::isolated;
    else if (b == "Removed") s->behavior = Behavior::removed;
    else if (b == "MergedWithPrevious") s->behavior = Behavior::merged_with_previous;
    else if (b == "MergedWithNext") s->behavior = Behavior::merged_with_next;
    else if (b == "Contiguous") s->behavior = Behavior::contiguous;
    else return refuse(name, "the Split behavior '" + b + "'");
    *out = std::move(s);
    return Status::OK();
  }
  if (type == "Digits") {
    return make_match_regex(j.value("individual_digits", false) ? "[^\\d]+|\\d" : "[^\\d]+|\\d+", name, out);
  }
  if (type == "Whitespace") return make_match_regex("\\w+|[^\\w\\s]+", name, out);
  if (type == "WhitespaceSplit") return make_match_regex("[^\\s]+", name, out);
  if (type == "Metaspace") {
    auto m = std::make_unique<MetaspacePre>();
    m->replacement = j.value("replacement", std::string("\xE2\x96\x81"));
    if (m->replacement.empty()) return bad(name, "a Metaspace pre-tokenizer with an empty replacement");
    const std::string scheme = j.value("prepend_scheme", std::string("always"));
    if (scheme == "always") m->prepend = MetaspacePre::always;
    else if (scheme == "first") m->prepend = MetaspacePre::first;
    else if (scheme == "never") m->prepend = MetaspacePre::never;
    else return refuse(name, "the Metaspace prepend_scheme '" + scheme + "'");
    if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean() && !j["add_prefix_space"].get<bool>())
      m->prepend = MetaspacePre::never;
    m->split = j.value("split", true);
    *out = std::move(m);
    return Status::OK();
  }
  return refuse(name, "the pre-tokenizer '" + type + "'");
}

// ---------------------------------------------------------------- decoders

struct DecodeStep {
  enum Kind { replace, byte_fallback, fuse, strip, metaspace } kind;
  std::string from, to;  // replace (literal), metaspace (replacement)
  std::size_t start = 0, stop = 0;
  bool metaspace_prefix = true;
};

// ---------------------------------------------------------------- the tokenizer

struct MergeTable {
  struct Slot {
    std::uint64_t key = ~std::uint64_t{0};
    std::uint32_t rank = 0, id = 0;
  };
  std::vector<Slot> slots;
  std::uint64_t mask = 0;
  static std::uint64_t key_of(std::uint32_t a, std::uint32_t b) noexcept {
    return (std::uint64_t{a} << 32) | b;
  }
  static std::size_t hash(std::uint64_t k) noexcept { return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> 20); }
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots.assign(cap, Slot{});
    mask = cap - 1;
  }
  // Keeps the first (best-ranked) entry of a pair.
  void insert(std::uint32_t a, std::uint32_t b, std::uint32_t rank, std::uint32_t id) {
    const std::uint64_t k = key_of(a, b);
    for (std::size_t i = hash(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return;
      if (slots[i].key == ~std::uint64_t{0}) {
        slots[i] = {k, rank, id};
        return;
      }
    }
  }
  const Slot* find(std::uint32_t a, std::uint32_t b) const noexcept {
    if (a == kNone || b == kNone) return nullptr;
    const std::uint64_t k = key_of(a, b);
    for (std::size_t i = hash(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return &slots[i];
      if (slots[i].key == ~std::uint64_t{0}) return nullptr;
    }
  }
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using IdMap = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;

// Words longer than this are cut where no token can straddle the cut.
constexpr std::size_t kLongWord = 64 * 1024;
// Longer words of a file that is not byte-level are cut at word marks.
constexpr std::size_t kCutWordBytes = 24;
// Words up to this length are remembered.
constexpr std::size_t kCacheWordBytes = 256;
constexpr std::size_t kCacheEntries = std::size_t{1} << 17;

class HfTokenizer final : public Backend {
 public:
  std::string name;
  bool byte_level = false;
  IdMap vocab;                         // symbol strings (raw bytes when byte-level) -> id
  std::vector<std::string> token_text;  // id -> the file's string (decode); virtual ids too
  std::vector<std::string> token_raw;   // id -> bytes (byte-level decode)
  std::vector<std::uint8_t> added;      // id -> is an added token
  std::uint32_t n_ids = 0;              // real ids are < n_ids; merge results not in the vocab are >= n_ids
  std::array<std::uint32_t, 256> byte_id{};      // byte-level initial symbols
  std::array<std::uint32_t, 256> fallback_id{};  // <0xXX>
  MergeTable merges;
  std::uint32_t unk = kNone;
  bool byte_fallback = false, fuse_unk = false, ignore_merges = false;
  // Adjacent initial symbols that some merge joins (left last, right first).
  std::vector<std::uint8_t> byte_pairs;            // 65536 flags, byte-level
  std::unordered_set<std::uint64_t> char_pairs;    // code point pairs otherwise

  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre;

  // Added tokens: a byte trie, longest match at the leftmost position.
  struct Added {
    std::string content;
    std::uint32_t id;
    bool lstrip, rstrip;
  };
  std::vector<Added> added_tokens;
  std::unordered_map<std::uint64_t, std::int32_t> trie;  // (node << 8 | byte) -> node
  std::vector<std::int32_t> trie_token;                  // node -> index in added_tokens, or -1
  std::array<bool, 256> trie_first{};

  // Decoding.
  bool decoder_byte_level = false;
  std::string decoder_refused;  // non-empty: decode fails naming it
  std::vector<DecodeStep> decode_steps;

  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>> cache;

  const char* kind() const noexcept override { return byte_level ? "bpe-byte-level" : "bpe-sentencepiece"; }
  std::uint32_t vocab_size() const noexcept override { return n_ids; }

  std::uint32_t lookup(std::string_view s) const {
    const auto it = vocab.find(s);
    return it == vocab.end() ? kNone : it->second;
  }

  // ---- BPE on one word
  Status bpe_word(std::string_view w, std::vector<std::uint32_t>* out) const {
    if (ignore_merges) {
      const std::uint32_t id = lookup(w);
      if (id != kNone && id < n_ids) {
        out->push_back(id);
        return Status::OK();
      }
    }
    if (!byte_level && w.size() > kCutWordBytes) return bpe_cut(w, out);
    return bpe_piece(w, out);
  }

  // Sentencepiece-style files have no pre-tokenizer: the whole text is one
  // word. It is cut before each word mark U+2581 that no merge joins to the
  // character before it (merges on either side cannot see across, so the
  // ids are the same), which lets the cache work.
  Status bpe_cut(std::string_view w, std::vector<std::uint32_t>* out) const {
    static constexpr std::string_view kMark = "\xE2\x96\x81";
    std::size_t start = 0;
    for (std::size_t at = w.find(kMark, 1); at != std::string_view::npos; at = w.find(kMark, at + kMark.size())) {
      std::size_t b = at - 1;
      while (b > 0 && (static_cast<unsigned char>(w[b]) & 0xC0) == 0x80) --b;
      if (char_pairs.count((std::uint64_t{u8decode(w, b)} << 32) | 0x2581u)) continue;
      ISOTOPE_RETURN_IF_ERROR(bpe_piece(w.substr(start, at - start), out));
      start = at;
    }
    return bpe_piece(w.substr(start), out);
  }

  Status bpe_piece(std::string_view w, std::vector<std::uint32_t>* out) const {
    if (w.size() > kLongWord) return bpe_long(w, out);
    if (w.size() <= kCacheWordBytes) {
      {
        std::lock_guard<std::mutex> lock(cache_mu);
        const auto it = cache.find(w);
        if (it != cache.end()) {
          out->insert(out->end(), it->second.begin(), it->second.end());
          return Status::OK();
        }
      }
      std::vector<std::uint32_t> ids;
      ISOTOPE_RETURN_IF_ERROR(bpe_merge(w, &ids));
      out->insert(out->end(), ids.begin(), ids.end());
      std::lock_guard<std::mutex> lock(cache_mu);
      if (cache.size() >= kCacheEntries) cache.clear();
      cache.emplace(std::string(w), std::move(ids));
      return Status::OK();
    }
    return bpe_merge(w, out);
  }

  // A very long word is cut between two symbols that no merge ever joins:
  // merges on either side cannot see across, so the ids are the same.
  Status bpe_long(std::string_view w, std::vector<std::uint32_t>* out) const {
    std::size_t start = 0;
    while (start < w.size()) {
      std::size_t cut = w.size();
      if (w.size() - start > kLongWord) {
        std::size_t p = start + kLongWord;
        if (!byte_level) {
          while (p < w.size() && (static_cast<unsigned char>(w[p]) & 0xC0) == 0x80) ++p;
        }
        for (; p < w.size(); p += byte_level ? 1 : u8len(static_cast<unsigned char>(w[p]))) {
          if (byte_level) {
            const unsigned l = static_cast<unsigned char>(w[p - 1]), r = static_cast<unsigned char>(w[p]);
            if (!byte_pairs[(l << 8) | r]) {
              cut = p;
              break;
            }
          } else {
            std::size_t b = p - 1;
            while (b > 0 && (static_cast<unsigned char>(w[b]) & 0xC0) == 0x80) --b;
            const std::uint64_t key = (std::uint64_t{u8decode(w, b)} << 32) | u8decode(w, p);
            if (!char_pairs.count(key)) {
              cut = p;
              break;
            }
          }
        }
      }
      ISOTOPE_RETURN_IF_ERROR(bpe_merge(w.substr(start, cut - start), out));
      start = cut;
    }
    return Status::OK();
  }

  Status emit_unknown(std::string_view bytes, std::vector<std::uint32_t>* out) const {
    if (byte_fallback) {
      bool all = true;
      for (char c : bytes) all = all && fallback_id[static_cast<unsigned char>(c)] != kNone;
      if (all) {
        for (char c : bytes) out->push_back(fallback_id[static_cast<unsigned char>(c)]);
        return Status::OK();
      }
    }
    if (unk == kNone) {
      return {Code::tokenizer, "tokenizer '" + name + "' cannot encode the text: a piece is not in its vocabulary "
                               "and it has no unknown token"};
    }
    out->push_back(unk);
    return Status::OK();
  }

  Status bpe_merge(std::string_view w, std::vector<std::uint32_t>* out) const {
    struct Sym {
      std::uint32_t id, start;
      std::int32_t prev, next;
      std::uint32_t version;
    };
    std::vector<Sym> sym;
    sym.reserve(w.size());
    if (byte_level) {
      for (std::size_t i = 0; i < w.size(); ++i)
        sym.push_back({byte_id[static_cast<unsigned char>(w[i])], static_cast<std::uint32_t>(i), 0, 0, 0});
    } else {
      for (std::size_t i = 0; i < w.size();) {
        const std::size_t n = u8len(static_cast<unsigned char>(w[i]));
        sym.push_back({lookup(w.substr(i, n)), static_cast<std::uint32_t>(i), 0, 0, 0});
        i += n;
      }
    }
    const auto n = static_cast<std::int32_t>(sym.size());
    for (std::int32_t i = 0; i < n; ++i) {
      sym[static_cast<std::size_t>(i)].prev = i - 1;
      sym[static_cast<std::size_t>(i)].next = i + 1 < n ? i + 1 : -1;
    }
    if (n > 1) {
      struct Cand {
        std::uint32_t rank, pos;
        std::int32_t left, right;
        std::uint32_t vl, vr;
        bool operator>(const Cand& o) const noexcept { return rank != o.rank ? rank > o.rank : pos > o.pos; }
      };
      std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
      auto consider = [&](std::int32_t l) {
        if (l < 0) return;
        const Sym& L = sym[static_cast<std::size_t>(l)];
        if (L.next < 0) return;
        const Sym& R = sym[static_cast<std::size_t>(L.next)];
        if (const auto* m = merges.find(L.id, R.id)) heap.push({m->rank, L.start, l, L.next, L.version, R.version});
      };
      for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);
      while (!heap.empty()) {
        const Cand c = heap.top();
        heap.pop();
        Sym& L = sym[static_cast<std::size_t>(c.left)];
        Sym& R = sym[static_cast<std::size_t>(c.right)];
        if (L.version != c.vl || R.version != c.vr || L.next != c.right || L.id == kNone) continue;
        const auto* m = merges.find(L.id, R.id);
        L.id = m->id;
        ++L.version;
        R.id = kNone;
        ++R.version;
        L.next = R.next;
        if (R.next >= 0) sym[static_cast<std::size_t>(R.next)].prev = c.left;
        consider(L.prev);
        consider(c.left);
      }
    }
    for (std::int32_t i = n > 0 ? 0 : -1; i >= 0; i = sym[static_cast<std::size_t>(i)].next) {
      const Sym& s = sym[static_cast<std::size_t>(i)];
      if (s.id != kNone && s.id < n_ids) {
        out->push_back(s.id);
        continue;
      }
      const std::size_t end = s.next >= 0 ? sym[static_cast<std::size_t>(s.next)].start : w.size();
      ISOTOPE_RETURN_IF_ERROR(emit_unknown(w.substr(s.start, end - s.start), out));
    }
    return Status::OK();
  }

  // ---- one section of text between added tokens
  Status encode_section(std::string_view text, std::size_t index, std::vector<std::uint32_t>* ids) const {
    std::string normalized;
    std::string_view s = text;
    if (normalizer) {
      normalized.assign(text);
      ISOTOPE_RETURN_IF_ERROR(normalizer->apply(&normalized));
      s = normalized;
    }
    if (s.empty()) return Status::OK();
    const std::size_t first = ids->size();
    const Sink sink = [&](std::string_view word) { return bpe_word(word, ids); };
    if (pre) {
      ISOTOPE_RETURN_IF_ERROR(pre->run(s, index, sink));
    } else {
      ISOTOPE_RETURN_IF_ERROR(sink(s));
    }
    if (fuse_unk && unk != kNone) {
      std::size_t w = first;
      for (std::size_t r = first; r < ids->size(); ++r) {
        if ((*ids)[r] == unk && w > first && (*ids)[w - 1] == unk) continue;
        (*ids)[w++] = (*ids)[r];
      }
      ids->resize(w);
    }
    return Status::OK();
  }

  Status encode(std::string_view text, std::vector<std::uint32_t>* ids) const override {
    // Sections: pieces of text and added tokens, as the reference cuts them.
    struct Section {
      std::string_view text;
      std::int32_t added;  // index into added_tokens, or -1
    };
    std::vector<Section> sections;
    std::size_t start = 0, i = 0;
    if (!added_tokens.empty()) {
      while (i < text.size()) {
        if (!trie_first[static_cast<unsigned char>(text[i])]) {
          ++i;
          continue;
        }
        std::int64_t node = 0;
        std::int32_t match = -1;
        std::size_t match_len = 0;
        for (std::size_t j = i; j < text.size(); ++j) {
          const auto it = trie.find((static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(text[j]));
          if (it == trie.end()) break;
          node = it->second;
          if (trie_token[static_cast<std::size_t>(node)] >= 0) {
            match = trie_token[static_cast<std::size_t>(node)];
            match_len = j + 1 - i;
          }
        }
        if (match < 0) {
          ++i;
          continue;
        }
        if (i > start) sections.push_back({text.substr(start, i - start), -1});
        sections.push_back({text.substr(i, match_len), match});
        i += match_len;
        start = i;
      }
    }
    if (start < text.size()) sections.push_back({text.substr(start), -1});
    for (std::size_t k = 0; k < sections.size(); ++k) {
      if (sections[k].added < 0) continue;
      const Added& a = added_tokens[static_cast<std::size_t>(sections[k].added)];
      if (a.lstrip && k > 0 && sections[k - 1].added < 0) sections[k - 1].text = js_trim_end(sections[k - 1].text);
      if (a.rstrip && k + 1 < sections.size() && sections[k + 1].added < 0)
        sections[k + 1].text = js_trim_start(sections[k + 1].text);
    }
    for (std::size_t k = 0; k < sections.size(); ++k) {
      if (sections[k].added >= 0) {
        ids->push_back(added_tokens[static_cast<std::size_t>(sections[k].added)].id);
      } else if (!sections[k].text.empty()) {
        ISOTOPE_RETURN_IF_ERROR(encode_section(sections[k].text, k, ids));
      }
    }
    return Status::OK();
  }

  // ---- decoding
  Status decode(std::span<const std::uint32_t> ids, std::string* text) const override {
    if (!decoder_refused.empty()) return refuse(name, "decoding with the decoder '" + decoder_refused + "'");
    if (decoder_byte_level) {
      std::string bytes, out;
      for (std::uint32_t id : ids) {
        if (added[id]) {
          out += sanitize_utf8(bytes);
          bytes.clear();
          out += token_text[id];
        } else {
          bytes += token_raw[id];
        }
      }
      out += sanitize_utf8(bytes);
      *text = std::move(out);
      return Status::OK();
    }
    std::vector<std::string> toks;
    toks.reserve(ids.size());
    for (std::uint32_t id : ids) toks.push_back(token_text[id]);
    for (const DecodeStep& st : decode_steps) apply_step(st, &toks);
    std::string out;
    for (const auto& t : toks) out += t;
    *text = sanitize_utf8(out);
    return Status::OK();
  }

  static bool byte_token(const std::string& t, unsigned* v) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return false;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int a = hex(t[3]), b = hex(t[4]);
    if (a < 0 || b < 0) return false;
    *v = static_cast<unsigned>(a * 16 + b);
    return true;
  }

  static void apply_step(const DecodeStep& st, std::vector<std::string>* toks) {
    switch (st.kind) {
      case DecodeStep::replace:
        for (auto& t : *toks) {
          std::string o;
          std::size_t prev = 0;
          for (std::size_t at = t.find(st.from); at != std::string::npos; at = t.find(st.from, at + st.from.size())) {
            o.append(t, prev, at - prev);
            o += st.to;
            prev = at + st.from.size();
          }
          o.append(t, prev, std::string::npos);
          t = std::move(o);
        }
        break;
      case DecodeStep::byte_fallback: {
        std::vector<std::string> out;
        std::string bytes;
        std::size_t nbytes = 0;
        auto flush = [&] {
          if (nbytes == 0) return;
          if (is_valid_utf8_local(bytes)) {
            out.push_back(bytes);
          } else {
            for (std::size_t k = 0; k < nbytes; ++k) out.push_back("\xEF\xBF\xBD");
          }
          bytes.clear();
          nbytes = 0;
        };
        for (auto& t : *toks) {
          unsigned v = 0;
          if (byte_token(t, &v)) {
            bytes.push_back(static_cast<char>(v));
            ++nbytes;
          } else {
            flush();
            out.push_back(std::move(t));
          }
        }
        flush();
        *toks = std::move(out);
        break;
      }
      case DecodeStep::fuse: {
        std::string all;
        for (const auto& t : *toks) all += t;
        toks->assign(1, all);
        break;
      }
      case DecodeStep::strip:
        for (auto& t : *toks) {
          std::size_t a = 0, b = t.size();
          for (std::size_t k = 0; k < st.start && a < b && t.compare(a, st.from.size(), st.from) == 0; ++k)
            a += st.from.size();
          for (std::size_t k = 0; k < st.stop && b >= a + st.from.size() &&
                                  t.compare(b - st.from.size(), st.from.size(), st.from) == 0;
               ++k)
            b -= st.from.size();
          t = t.substr(a, b - a);
        }
        break;
      case DecodeStep::metaspace:
        for (std::size_t k = 0; k < toks->size(); ++k) {
          std::string& t = (*toks)[k];
          std::string o;
          std::size_t prev = 0;
          for (std::size_t at = t.find(st.from); at != std::string::npos; at = t.find(st.from, at + st.from.size())) {
            o.append(t, prev, at - prev);
            o += " ";
            prev = at + st.from.size();
          }
          o.append(t, prev, std::string::npos);
          if (k == 0 && st.metaspace_prefix && !o.empty() && o[0] == ' ') o.erase(0, 1);
          t = std::move(o);
        }
        break;
    }
  }

  static bool is_valid_utf8_local(const std::string& s) {
    UErrorCode ec = U_ZERO_ERROR;
    int32_t n = 0;
    u_strFromUTF8(nullptr, 0, &n, s.data(), static_cast<int32_t>(s.size()), &ec);
    return ec != U_INVALID_CHAR_FOUND && ec != U_ILLEGAL_CHAR_FOUND;
  }
};

Status parse_decoder(const json& j, HfTokenizer* t, bool top) {
  if (j.is_null()) return Status::OK();
  const std::string type = j.value("type", std::string());
  if (type == "ByteLevel" && top) {
    t->decoder_byte_level = true;
    return Status::OK();
  }
  if (type == "Sequence" && top) {
    if (!j.contains("decoders") || !j["decoders"].is_array()) return bad(t->name, "a Sequence decoder without a list");
    for (const json& d : j["decoders"]) ISOTOPE_RETURN_IF_ERROR(parse_decoder(d, t, false));
    return Status::OK();
  }
  DecodeStep st{};
  if (type == "Replace") {
    const json pat = j.value("pattern", json());
    if (!pat.is_object() || !pat.contains("String") || !pat["String"].is_string()) {
      t->decoder_refused = "Replace with a regular expression";
      return Status::OK();
    }
    st.kind = DecodeStep::replace;
    st.from = pat["String"].get<std::string>();
    st.to = j.value("content", std::string());
  } else if (type == "ByteFallback") {
    st.kind = DecodeStep::byte_fallback;
  } else if (type == "Fuse") {
    st.kind = DecodeStep::fuse;
  } else if (type == "Strip") {
    st.kind = DecodeStep::strip;
    st.from = j.value("content", std::string(" "));
    st.start = j.value("start", std::size_t{0});
    st.stop = j.value("stop", std::size_t{0});
  } else if (type == "Metaspace") {
    st.kind = DecodeStep::metaspace;
    st.from = j.value("replacement", std::string("\xE2\x96\x81"));
    st.metaspace_prefix = j.value("prepend_scheme", std::string("always")) != "never" && j.value("add_prefix_space", true);
  } else {
    t->decoder_refused = type.empty() ? "(no type)" : type;
    return Status::OK();
  }
  t->decode_steps.push_back(st);
  return Status::OK();
}

Status build(const json& doc, HfTokenizer* t) {
  const std::string& name = t->name;
  if (!doc.is_object() || !doc.contains("model") || !doc["model"].is_object())
    return bad(name, "there is no \"model\" object");
  const json& m = doc["model"];
  const std::string type = m.value("type", std::string());
  if (type != "BPE") {
    if (type.empty()) return refuse(name, "a model without a \"type\"");
    return refuse(name, "the " + type + " model (only BPE models are implemented)");
  }
  if (m.contains("dropout") && !m["dropout"].is_null() && !(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0))
    return refuse(name, "BPE dropout");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (m.contains(k) && m[k].is_string() && !m[k].get<std::string>().empty())
      return refuse(name, std::string("a BPE model with a ") + k);
  }
  t->byte_fallback = m.value("byte_fallback", false);
  t->fuse_unk = m.value("fuse_unk", false);
  t->ignore_merges = m.value("ignore_merges", false);

  // Pipeline first: it tells whether the vocabulary is byte-level.
  ISOTOPE_RETURN_IF_ERROR(make_normalizer(doc.value("normalizer", json()), name, &t->normalizer));
  ISOTOPE_RETURN_IF_ERROR(make_pretokenizer(doc.value("pre_tokenizer", json()), name, true, &t->byte_level, &t->pre));
  ISOTOPE_RETURN_IF_ERROR(parse_decoder(doc.value("decoder", json()), t, true));

  if (!m.contains("vocab") || !m["vocab"].is_object()) return bad(name, "the BPE model has no vocab object");
  const json& vocab = m["vocab"];
  std::uint64_t max_id = 0;
  bool any = false;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_unsigned()) return bad(name, "vocab entry '" + it.key() + "' has no id");
    const std::uint64_t id = it.value().get<std::uint64_t>();
    if (id >= 0x7FFFFFFFull) return bad(name, "vocab id " + std::to_string(id) + " is too large");
    max_id = std::max(max_id, id), any = true;
  }
  const json added = doc.value("added_tokens", json::array());
  if (!added.is_array()) return bad(name, "added_tokens is not a list");
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_unsigned() || !a.contains("content") ||
        !a["content"].is_string())
      return bad(name, "an added token without id and content");
    const std::uint64_t id = a["id"].get<std::uint64_t>();
    if (id >= 0x7FFFFFFFull) return bad(name, "added token id " + std::to_string(id) + " is too large");
    max_id = std::max(max_id, id), any = true;
  }
  if (!any) return bad(name, "the vocabulary is empty");
  // The tables below hold an entry for every id up to the largest: refuse an
  // id space mostly empty (a damaged or hostile file) before allocating it.
  // Real files number their tokens 0..N-1, added tokens included.
  const std::uint64_t defined = vocab.size() + added.size();
  if (max_id >= (1ull << 24) || max_id >= 2 * defined + 65536)
    return bad(name, "token id " + std::to_string(max_id) + " leaves most ids unused (the file defines " +
                         std::to_string(defined) + " tokens; ids must stay below " +
                         std::to_string(std::min<std::uint64_t>(1ull << 24, 2 * defined + 65536)) + ")");
  t->n_ids = static_cast<std::uint32_t>(max_id + 1);
  t->token_text.assign(t->n_ids, std::string());
  t->token_raw.assign(t->n_ids, std::string());
  t->added.assign(t->n_ids, 0);
  const ByteAlphabet& alpha = byte_alphabet();
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const auto id = static_cast<std::uint32_t>(it.value().get<std::uint64_t>());
    t->token_text[id] = it.key();
    if (t->byte_level) {
      auto raw = alpha.unmap(it.key());
      if (!raw) continue;  // not in the byte alphabet: never produced by BPE
      t->token_raw[id] = *raw;
      t->vocab.emplace(std::move(*raw), id);
    } else {
      t->token_raw[id] = it.key();
      t->vocab.emplace(it.key(), id);
    }
  }
  // Added tokens: cut out of the text before anything else, and known to
  // the model's token-to-id map as in the reference.
  t->trie_token.push_back(-1);
  for (const json& a : added) {
    HfTokenizer::Added tok{a["content"].get<std::string>(), static_cast<std::uint32_t>(a["id"].get<std::uint64_t>()),
                           a.value("lstrip", false), a.value("rstrip", false)};
    if (tok.content.empty()) continue;
    t->token_text[tok.id] = tok.content;
    t->token_raw[tok.id] = tok.content;
    t->added[tok.id] = 1;
    if (t->byte_level) {
      if (auto raw = alpha.unmap(tok.content)) t->vocab.emplace(std::move(*raw), tok.id);
    } else {
      t->vocab.emplace(tok.content, tok.id);
    }
    std::int64_t node = 0;
    for (char c : tok.content) {
      const std::uint64_t key = (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(c);
      auto it = t->trie.find(key);
      if (it == t->trie.end()) {
        it = t->trie.emplace(key, static_cast<std::int32_t>(t->trie_token.size())).first;
        t->trie_token.push_back(-1);
      }
      node = it->second;
    }
    if (t->trie_token[static_cast<std::size_t>(node)] < 0) {
      t->trie_token[static_cast<std::size_t>(node)] = static_cast<std::int32_t>(t->added_tokens.size());
      t->added_tokens.push_back(std::move(tok));
    } else {
      // the same content twice: the reference keeps the last one
      t->added_tokens[static_cast<std::size_t>(t->trie_token[static_cast<std::size_t>(node)])] = std::move(tok);
    }
  }
  for (const auto& a : t->added_tokens) t->trie_first[static_cast<unsigned char>(a.content[0])] = true;

  t->byte_id.fill(kNone);
  t->fallback_id.fill(kNone);
  for (int b = 0; b < 256; ++b) {
    if (t->byte_level) t->byte_id[static_cast<std::size_t>(b)] = t->lookup(std::string(1, static_cast<char>(b)));
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    const auto it = t->vocab.find(std::string_view(hex));
    if (it != t->vocab.end()) t->fallback_id[static_cast<std::size_t>(b)] = it->second;
  }
  const std::string unk_name = m.contains("unk_token") && m["unk_token"].is_string() ? m["unk_token"].get<std::string>() : "";
  if (!unk_name.empty()) t->unk = t->lookup(unk_name);

  // Merges, in rank order: "a b" strings or [a, b] pairs.
  if (!m.contains("merges") || !m["merges"].is_array()) return bad(name, "the BPE model has no merges list");
  const json& merges = m["merges"];
  t->merges.reserve(merges.size());
  if (t->byte_level) t->byte_pairs.assign(65536, 0);
  std::uint32_t rank = 0;
  std::string left, right;
  for (const json& mg : merges) {
    if (mg.is_string()) {
      const std::string& s = mg.get_ref<const std::string&>();
      const std::size_t sp = s.find(' ');
      if (sp == std::string::npos) return bad(name, "merge '" + s + "' has no space");
      const std::size_t sp2 = s.find(' ', sp + 1);
      left = s.substr(0, sp);
      right = s.substr(sp + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp - 1);
    } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
      left = mg[0].get<std::string>();
      right = mg[1].get<std::string>();
    } else {
      return bad(name, "merge " + std::to_string(rank) + " is neither \"a b\" nor [a, b]");
    }
    const std::uint32_t r = rank++;
    if (t->byte_level) {
      auto l = alpha.unmap(left), rr = alpha.unmap(right);
      if (!l || !rr) continue;
      left = std::move(*l), right = std::move(*rr);
    }
    const std::uint32_t a = t->lookup(left), b = t->lookup(right);
    if (a == kNone || b == kNone || left.empty() || right.empty()) continue;
    std::string joined = left + right;
    std::uint32_t id = t->lookup(joined);
    if (id == kNone) {  // the result is not in the vocabulary: a symbol of its own
      id = static_cast<std::uint32_t>(t->token_text.size());
      t->token_text.push_back(joined);
      t->token_raw.push_back(joined);
      t->added.push_back(0);
      t->vocab.emplace(joined, id);
    }
    t->merges.insert(a, b, r, id);
    if (t->byte_level) {
      t->byte_pairs[(static_cast<unsigned>(static_cast<unsigned char>(left.back())) << 8) |
                    static_cast<unsigned char>(right.front())] = 1;
    } else {
      std::size_t lb = left.size() - 1;
      while (lb > 0 && (static_cast<unsigned char>(left[lb]) & 0xC0) == 0x80) --lb;
      t->char_pairs.insert((std::uint64_t{u8decode(left, lb)} << 32) | u8decode(right, 0));
    }
  }
  return Status::OK();
}

}  // namespace

Status make_hf_tokenizer(const std::string& bytes, const std::string& name, std::unique_ptr<Backend>* out) {
  json doc;
  try {
    doc = json::parse(bytes);
  } catch (const json::exception& e) {
    return bad(name, std::string("it does not parse as JSON (") + e.what() + ")");
  }
  auto t = std::make_unique<HfTokenizer>();
  t->name = name;
  try {
    ISOTOPE_RETURN_IF_ERROR(build(doc, t.get()));
  } catch (const json::exception& e) {
    return bad(name, std::string("a field has the wrong type (") + e.what() + ")");
  }
  *out = std::move(t);
  return Status::OK();
}

}  // namespace isotope::text
