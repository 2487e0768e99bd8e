// isotope — a sentencepiece .model behind the tokenizer interface.
#include <sentencepiece_processor.h>

#include <exception>
#include <new>
#include <string>

#include "isotope/io.hpp"
#include "text/backend.hpp"

namespace isotope::text {

namespace {

// Texts longer than this are encoded in pieces (see SentencepieceBackend::encode).
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

bool ascii_alnum(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

class SentencepieceBackend final : public Backend {
 public:
  sentencepiece::SentencePieceProcessor sp;
  std::uint32_t vocab = 0;
  bool chunkable = false;

  Status encode_whole(std::string_view text, std::vector<std::uint32_t>* ids) const {
    std::vector<int> raw;
    const auto st = sp.Encode(text, &raw);
    if (!st.ok()) return {Code::tokenizer, "sentencepiece failed to encode text: " + st.ToString()};
    ids->reserve(ids->size() + raw.size());
    for (int r : raw) ids->push_back(static_cast<std::uint32_t>(r));
    return Status::OK();
  }

  // sentencepiece holds about 70 bytes per input byte while encoding. A model
  // that prefixes every text with the whitespace mark and never lets a piece
  // cross a space encodes "x y" as "x" followed by "y" (the space becomes the
  // mark that starts "y"). Long texts are cut at such a single space between
  // two ASCII letters or digits, which bounds the memory and cannot change
  // the ids; load() checks the model behaves so before allowing it.
  Status encode(std::string_view text, std::vector<std::uint32_t>* ids) const override {
    if (!chunkable || text.size() <= kChunkBytes) return encode_whole(text, ids);
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t cut = text.size();
      if (text.size() - start > kChunkBytes) {
        for (std::size_t p = start + kChunkBytes; p + 1 < text.size(); ++p) {
          if (text[p] == ' ' && ascii_alnum(text[p - 1]) && ascii_alnum(text[p + 1])) {
            cut = p;
            break;
          }
        }
      }
      ISOTOPE_RETURN_IF_ERROR(encode_whole(text.substr(start, cut - start), ids));
      start = cut + 1;  // the space itself is the next piece's whitespace mark
    }
    return Status::OK();
  }

  Status decode(std::span<const std::uint32_t> ids, std::string* text) const override {
    std::vector<int> raw(ids.begin(), ids.end());
    if (raw.empty()) return Status::OK();
    const auto st = sp.Decode(raw, text);
    if (!st.ok()) return {Code::tokenizer, "sentencepiece failed to decode ids: " + st.ToString()};
    return Status::OK();
  }

  std::uint32_t vocab_size() const noexcept override { return vocab; }
  const char* kind() const noexcept override { return "sentencepiece"; }

  // Checks on the loaded model the properties the cutting above relies on.
  bool probe_chunkable() const {
    auto enc = [&](std::string_view s) {
      std::vector<std::uint32_t> v;
      return encode_whole(s, &v).ok() ? v : std::vector<std::uint32_t>{0xFFFFFFFFu};
    };
    auto cat = [](std::vector<std::uint32_t> a, const std::vector<std::uint32_t>& b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    for (const auto& [l, r] : {std::pair{"the", "cat"}, std::pair{"of", "the"}, std::pair{"it", "is"},
                                 std::pair{"a1", "9z"}, std::pair{"Qx", "Wq"}}) {
      const std::string left = l, right = r;
      const auto whole = enc(left + " " + right);
      if (whole != cat(enc(left), enc(right))) return false;
    }
    return true;
  }
};

}  // namespace

Status make_sentencepiece(const std::string& bytes, const std::string& name, std::unique_ptr<Backend>* out) {
  std::unique_ptr<SentencepieceBackend> b;
  try {
    b = std::make_unique<SentencepieceBackend>();
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "out of memory loading tokenizer '" + name + "'"};
  }
  sentencepiece::util::Status st;
  try {
    st = b->sp.LoadFromSerializedProto(bytes);
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "out of memory loading tokenizer '" + name + "'"};
  } catch (const std::exception& e) {
    // sentencepiece's trie builder throws on some damaged vocabularies (an
    // empty or NUL-bearing piece, pieces out of order) instead of returning a
    // status.
    std::string what = e.what();
    if (const auto k = what.find("exception: "); k != std::string::npos) what = what.substr(k + 11);
    st = sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal,
                                     "its vocabulary cannot be indexed (" + what + ")");
  }
  if (!st.ok()) {
    std::string detail = st.error_message() != nullptr ? st.error_message() : "";
    if (!is_valid_utf8(detail)) {  // it may quote bytes of the damaged file
      for (char& ch : detail) {
        if (static_cast<unsigned char>(ch) >= 0x80) ch = '?';
      }
    }
    // sentencepiece reports a protobuf parse failure as a source location;
    // say what it means instead.
    const std::string why = detail.find("ParseFromArray") != std::string::npos
                                ? "the file does not parse as a sentencepiece model"
                                : detail;
    return {Code::corrupt, "tokenizer '" + name + "' is not a valid sentencepiece model: " + why};
  }
  const int n = b->sp.GetPieceSize();
  if (n <= 0) return {Code::corrupt, "tokenizer '" + name + "' has an empty vocabulary"};
  b->vocab = static_cast<std::uint32_t>(n);
  b->chunkable = b->probe_chunkable();
  *out = std::move(b);
  return Status::OK();
}

}  // namespace isotope::text
