// isotope — the provider's tokenizer (a sentencepiece model).
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

  static Status load(const std::string& path, std::unique_ptr<Tokenizer>* out);

  // Rejects invalid UTF-8 (Code::invalid_utf8). Empty text gives no ids.
  Status encode(std::string_view text, std::vector<std::uint32_t>* ids) const;
  Status decode(std::span<const std::uint32_t> ids, std::string* text) const;
  std::uint32_t vocab_size() const noexcept;
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
