// Text normalizers on ICU: NFKC (unorm2), character properties (uchar) and
// the confusable skeletons of UTS #39 (uspoof).
#include "isotope/normalize.hpp"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <map>
#include <mutex>
#include <unordered_map>

#include "isotope/io.hpp"

namespace isotope {

std::vector<std::string> Normalizers::names() const {
  std::vector<std::string> v;
  if (format) v.emplace_back("format");
  if (spaces) v.emplace_back("spaces");
  if (nfkc) v.emplace_back("nfkc");
  if (confusables) v.emplace_back("confusables");
  return v;
}

Status parse_normalizers(std::string_view list, Normalizers* out) {
  if (out == nullptr) return {Code::invalid_argument, "parse_normalizers: null output"};
  Normalizers n;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    const std::string_view item = list.substr(start, end - start);
    if (item == "nfkc") n.nfkc = true;
    else if (item == "spaces") n.spaces = true;
    else if (item == "format") n.format = true;
    else if (item == "confusables") n.confusables = true;
    else if (item == "all") n.nfkc = n.spaces = n.format = n.confusables = true;
    else if (!(item == "none" || (item.empty() && list.find_first_not_of(", ") == std::string_view::npos)))
      return {Code::invalid_argument, "unknown normalizer '" + std::string(item) +
                                          "' (known: nfkc, spaces, format, confusables, all, none)"};
    start = end + 1;
  }
  *out = n;
  return Status::OK();
}

namespace {

void append_utf8(std::string* s, UChar32 c) {
  char buf[4];
  int32_t len = 0;
  UBool error = false;
  U8_APPEND(buf, len, 4, c, error);
  if (!error) s->append(buf, static_cast<std::size_t>(len));
}

// The ASCII text that a non-ASCII code point folds to, or "" to keep it.
class Confusables {
 public:
  static Confusables& instance() {
    static Confusables c;
    return c;
  }
  Status ok() const { return status_; }

  std::string fold(UChar32 c) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(c);
    if (it != cache_.end()) return it->second;
    std::string result;
    const std::string sk = skeleton(c);
    auto jt = ascii_by_skeleton_.find(sk);
    if (jt != ascii_by_skeleton_.end()) result = jt->second;
    cache_.emplace(c, result);
    return result;
  }

 private:
  Confusables() {
    UErrorCode err = U_ZERO_ERROR;
    sc_ = uspoof_open(&err);
    if (U_FAILURE(err) || sc_ == nullptr) {
      status_ = Status(Code::internal, std::string("ICU spoof checker: ") + u_errorName(err));
      return;
    }
    // Printable ASCII by skeleton; where several share one (l, I, 1, |), the
    // first in this order wins: lower-case letters, upper-case, digits, rest.
    const std::string order =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    for (char a : order) ascii_by_skeleton_.emplace(skeleton(static_cast<unsigned char>(a)), std::string(1, a));
  }
  ~Confusables() {
    if (sc_ != nullptr) uspoof_close(sc_);
  }
  std::string skeleton(UChar32 c) {
    std::string in;
    append_utf8(&in, c);
    char buf[64];
    UErrorCode err = U_ZERO_ERROR;
    const int32_t n = uspoof_getSkeletonUTF8(sc_, 0, in.data(), static_cast<int32_t>(in.size()), buf, sizeof buf, &err);
    if (U_FAILURE(err) || n < 0 || n > static_cast<int32_t>(sizeof buf)) return "\x01";  // matches no ASCII
    return std::string(buf, static_cast<std::size_t>(n));
  }

  USpoofChecker* sc_ = nullptr;
  Status status_;
  std::map<std::string, std::string> ascii_by_skeleton_;
  std::unordered_map<UChar32, std::string> cache_;
  std::mutex mu_;
};

Status nfkc(const std::string& in, std::string* out) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* norm = unorm2_getNFKCInstance(&err);
  if (U_FAILURE(err)) return {Code::internal, std::string("ICU NFKC: ") + u_errorName(err)};
  // UTF-8 -> UTF-16 -> NFKC -> UTF-8.
  int32_t n16 = 0;
  err = U_ZERO_ERROR;
  u_strFromUTF8(nullptr, 0, &n16, in.data(), static_cast<int32_t>(in.size()), &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return {Code::invalid_utf8, "text is not valid UTF-8"};
  std::u16string u16(static_cast<std::size_t>(n16), u'\0');
  err = U_ZERO_ERROR;
  u_strFromUTF8(u16.data(), n16, nullptr, in.data(), static_cast<int32_t>(in.size()), &err);
  if (U_FAILURE(err)) return {Code::invalid_utf8, "text is not valid UTF-8"};
  err = U_ZERO_ERROR;
  int32_t nn = unorm2_normalize(norm, u16.data(), n16, nullptr, 0, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return {Code::internal, std::string("ICU NFKC: ") + u_errorName(err)};
  std::u16string normed(static_cast<std::size_t>(nn), u'\0');
  err = U_ZERO_ERROR;
  nn = unorm2_normalize(norm, u16.data(), n16, normed.data(), nn, &err);
  if (U_FAILURE(err)) return {Code::internal, std::string("ICU NFKC: ") + u_errorName(err)};
  int32_t n8 = 0;
  err = U_ZERO_ERROR;
  u_strToUTF8(nullptr, 0, &n8, normed.data(), nn, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return {Code::internal, std::string("ICU: ") + u_errorName(err)};
  std::string o(static_cast<std::size_t>(n8), '\0');
  err = U_ZERO_ERROR;
  u_strToUTF8(o.data(), n8, nullptr, normed.data(), nn, &err);
  if (U_FAILURE(err)) return {Code::internal, std::string("ICU: ") + u_errorName(err)};
  *out = std::move(o);
  return Status::OK();
}

}  // namespace

Status normalize_text(std::string_view in, const Normalizers& n, std::string* out) {
  if (out == nullptr) return {Code::invalid_argument, "normalize_text: null output"};
  if (!is_valid_utf8(in)) return {Code::invalid_utf8, "text is not valid UTF-8"};
  if (in.size() > static_cast<std::size_t>(INT32_MAX / 4))
    return {Code::invalid_argument, "text too long to normalize (over 512 MiB)"};
  std::string s(in);
  if (n.format || n.spaces) {
    std::string t;
    t.reserve(s.size());
    for (int32_t i = 0; i < static_cast<int32_t>(s.size());) {
      UChar32 c = 0;
      const int32_t at = i;
      U8_NEXT(s.data(), i, static_cast<int32_t>(s.size()), c);
      if (c < 0x80) {
        t.push_back(static_cast<char>(c));
        continue;
      }
      const int8_t type = u_charType(c);
      if (n.format && type == U_FORMAT_CHAR) continue;
      if (n.spaces && type == U_SPACE_SEPARATOR) {
        t.push_back(' ');
        continue;
      }
      t.append(s, static_cast<std::size_t>(at), static_cast<std::size_t>(i - at));
    }
    s = std::move(t);
  }
  if (n.nfkc) ISOTOPE_RETURN_IF_ERROR(nfkc(s, &s));
  if (n.confusables) {
    Confusables& cf = Confusables::instance();
    ISOTOPE_RETURN_IF_ERROR(cf.ok());
    std::string t;
    t.reserve(s.size());
    for (int32_t i = 0; i < static_cast<int32_t>(s.size());) {
      UChar32 c = 0;
      const int32_t at = i;
      U8_NEXT(s.data(), i, static_cast<int32_t>(s.size()), c);
      if (c < 0x80) {
        t.push_back(static_cast<char>(c));
        continue;
      }
      const std::string folded = cf.fold(c);
      if (!folded.empty()) t += folded;
      else t.append(s, static_cast<std::size_t>(at), static_cast<std::size_t>(i - at));
    }
    s = std::move(t);
  }
  *out = std::move(s);
  return Status::OK();
}

}  // namespace isotope
