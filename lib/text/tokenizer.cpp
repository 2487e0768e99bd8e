// isotope — the provider's tokenizer: a thin layer over sentencepiece.
#include "isotope/tokenizer.hpp"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <new>

#include "isotope/io.hpp"

namespace isotope {

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
  std::uint32_t vocab = 0;
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

namespace {

// Protocol buffers cannot exceed 2 GiB; real models are a few megabytes.
constexpr std::uintmax_t kMaxModelBytes = std::uintmax_t{1} << 30;

// Byte offset of the first ill-formed sequence in `s` (which is known to be
// invalid). Runs only on the error path; each character is checked by the
// shared validator so both agree on what is valid.
std::size_t first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
    } else if (c >= 0xE0) {
      len = 3;
    } else if (c >= 0xC0) {
      len = 2;
    }
    if (i + len > s.size() || !is_valid_utf8(s.substr(i, len))) return i;
    i += len;
  }
  return s.size();
}

}  // namespace

Status Tokenizer::load(const std::string& path, std::unique_ptr<Tokenizer>* out) {
  if (out == nullptr) return {Code::invalid_argument, "Tokenizer::load: null output"};
  out->reset();
  // Only regular files: reading a device or a FIFO might never end.
  std::error_code ec;
  const auto fs = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(fs) && !std::filesystem::is_regular_file(fs)) {
    return {Code::io, "tokenizer '" + path + "' is not a regular file"};
  }
  if (!ec && std::filesystem::is_regular_file(fs) &&
      std::filesystem::file_size(path, ec) > kMaxModelBytes && !ec) {
    return {Code::corrupt, "tokenizer '" + path + "' is too large to be a sentencepiece model"};
  }
  // Read the file once: the recorded hash is that of the very bytes loaded.
  std::string bytes;
  ISOTOPE_RETURN_IF_ERROR(read_file(path, &bytes, MAX_TOKENIZER_FILE_BYTES));
  if (bytes.empty()) {
    return {Code::corrupt, "tokenizer '" + path + "' is empty, not a sentencepiece model"};
  }
  std::unique_ptr<Tokenizer> tok;
  try {
    tok.reset(new Tokenizer());
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "out of memory loading tokenizer '" + path + "'"};
  }
  tok->sha256_ = ::isotope::sha256_hex(bytes);
  tok->path_ = path;

  const auto st = tok->impl_->sp.LoadFromSerializedProto(bytes);
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
    return {Code::corrupt, "tokenizer '" + path + "' is not a valid sentencepiece model: " + why};
  }
  const int n = tok->impl_->sp.GetPieceSize();
  if (n <= 0) {
    return {Code::corrupt, "tokenizer '" + path + "' has an empty vocabulary"};
  }
  tok->impl_->vocab = static_cast<std::uint32_t>(n);
  *out = std::move(tok);
  return Status::OK();
}

Status Tokenizer::encode(std::string_view text, std::vector<std::uint32_t>* ids) const {
  if (ids == nullptr) return {Code::invalid_argument, "Tokenizer::encode: null output"};
  ids->clear();
  if (text.empty()) return Status::OK();
  if (!is_valid_utf8(text)) {
    return {Code::invalid_utf8,
            "text is not valid UTF-8 (first ill-formed sequence at byte offset " +
                std::to_string(first_invalid_utf8(text)) + ")"};
  }
  std::vector<int> raw;
  const auto st = impl_->sp.Encode(text, &raw);
  if (!st.ok()) return {Code::tokenizer, "sentencepiece failed to encode text: " + st.ToString()};
  ids->resize(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) (*ids)[i] = static_cast<std::uint32_t>(raw[i]);
  return Status::OK();
}

Status Tokenizer::decode(std::span<const std::uint32_t> ids, std::string* text) const {
  if (text == nullptr) return {Code::invalid_argument, "Tokenizer::decode: null output"};
  text->clear();
  std::vector<int> raw(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= impl_->vocab) {
      return {Code::vocab_mismatch, "token id " + std::to_string(ids[i]) + " at position " +
                                        std::to_string(i) + " is outside the vocabulary of " +
                                        std::to_string(impl_->vocab) + " pieces"};
    }
    raw[i] = static_cast<int>(ids[i]);
  }
  if (raw.empty()) return Status::OK();
  const auto st = impl_->sp.Decode(raw, text);
  if (!st.ok()) return {Code::tokenizer, "sentencepiece failed to decode ids: " + st.ToString()};
  return Status::OK();
}

std::uint32_t Tokenizer::vocab_size() const noexcept { return impl_->vocab; }

}  // namespace isotope
