// isotope — the provider's tokenizer: a sentencepiece .model, or a Hugging
// Face tokenizer.json with a BPE model (byte-level, as Llama 3, Qwen, DeepSeek
// and GPT-4o-style vocabularies; or sentencepiece-style with byte fallback, as
// Llama 2 and Gemma). A component of a tokenizer.json that is not implemented
// is refused at load (Code::tokenizer, naming it), never approximated.
#pragma once
#include "isotope/export.h"
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "isotope/status.hpp"

namespace isotope {

class ISOTOPE_API Tokenizer {
 public:
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // The kind is told by the content: a JSON object is a tokenizer.json, anything
  // else must be a sentencepiece model.
  static Status load(const std::string& path, std::unique_ptr<Tokenizer>* out);

  // Rejects invalid UTF-8 (Code::invalid_utf8). Empty text gives no ids. No
  // special tokens are added; special tokens written in the text are encoded
  // as those tokens (tokenizer.json), as the reference encoders do.
  Status encode(std::string_view text, std::vector<std::uint32_t>* ids) const;
  Status decode(std::span<const std::uint32_t> ids, std::string* text) const;
  // One more than the largest id (added tokens included).
  std::uint32_t vocab_size() const noexcept;
  // "sentencepiece", "bpe-byte-level" or "bpe-sentencepiece".
  const char* kind() const noexcept;
  const std::string& sha256_hex() const noexcept { return sha256_; }
  const std::string& path() const noexcept { return path_; }

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string sha256_;
  std::string path_;
};

}  // namespace isotope
