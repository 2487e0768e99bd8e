// isotope — the tokenizer implementations behind isotope::Tokenizer.
//
// Three are built in: a sentencepiece .model, and a Hugging Face
// tokenizer.json with a BPE model (byte-level, or sentencepiece-style with
// byte fallback). Each gets the file's bytes once and never sees invalid
// UTF-8 (Tokenizer::encode checks it first).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "isotope/status.hpp"

namespace isotope::text {

class Backend {
 public:
  virtual ~Backend() = default;
  // Appends the ids of `text` (valid UTF-8) to *ids, no special tokens added.
  virtual Status encode(std::string_view text, std::vector<std::uint32_t>* ids) const = 0;
  // Ids are known to be < vocab_size().
  virtual Status decode(std::span<const std::uint32_t> ids, std::string* text) const = 0;
  virtual std::uint32_t vocab_size() const noexcept = 0;
  // "sentencepiece", "bpe-byte-level" or "bpe-sentencepiece".
  virtual const char* kind() const noexcept = 0;
};

// A sentencepiece ModelProto. `name` is used in messages.
Status make_sentencepiece(const std::string& bytes, const std::string& name, std::unique_ptr<Backend>* out);
// A Hugging Face tokenizer.json document.
Status make_hf_tokenizer(const std::string& bytes, const std::string& name, std::unique_ptr<Backend>* out);

}  // namespace isotope::text
