// isotope — the provider's tokenizer: loads the file and hands the work to
// one of the implementations in text/backend.hpp.
#include "isotope/tokenizer.hpp"

#include <filesystem>
#include <new>

#include "isotope/io.hpp"
#include "text/backend.hpp"

namespace isotope {

struct Tokenizer::Impl {
  std::unique_ptr<text::Backend> backend;
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

namespace {

// Protocol buffers cannot exceed 2 GiB; real models are a few megabytes, the
// largest tokenizer.json files some tens.
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

bool looks_like_json(const std::string& bytes) {
  for (char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{';
  }
  return false;
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
    return {Code::corrupt, "tokenizer '" + path + "' is too large to be a tokenizer"};
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
  if (looks_like_json(bytes)) {
    ISOTOPE_RETURN_IF_ERROR(text::make_hf_tokenizer(bytes, path, &tok->impl_->backend));
  } else {
    ISOTOPE_RETURN_IF_ERROR(text::make_sentencepiece(bytes, path, &tok->impl_->backend));
  }
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
  try {
    return impl_->backend->encode(text, ids);
  } catch (const std::bad_alloc&) {
    ids->clear();
    return {Code::out_of_memory, "out of memory encoding text"};
  }
}

Status Tokenizer::decode(std::span<const std::uint32_t> ids, std::string* text) const {
  if (text == nullptr) return {Code::invalid_argument, "Tokenizer::decode: null output"};
  text->clear();
  const std::uint32_t vocab = impl_->backend->vocab_size();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= vocab) {
      return {Code::vocab_mismatch, "token id " + std::to_string(ids[i]) + " at position " +
                                        std::to_string(i) + " is outside the vocabulary of " +
                                        std::to_string(vocab) + " pieces"};
    }
  }
  if (ids.empty()) return Status::OK();
  try {
    return impl_->backend->decode(ids, text);
  } catch (const std::bad_alloc&) {
    text->clear();
    return {Code::out_of_memory, "out of memory decoding ids"};
  }
}

std::uint32_t Tokenizer::vocab_size() const noexcept { return impl_->backend->vocab_size(); }
const char* Tokenizer::kind() const noexcept { return impl_->backend->kind(); }

}  // namespace isotope
