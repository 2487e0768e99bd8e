// isotope — language models as the watermark and the audit see them.
#pragma once
#include "isotope/export.h"
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "isotope/status.hpp"

namespace isotope {

// Anything that maps a token context to next-token logits: the reference
// n-gram model here, a user's neural model behind an adapter elsewhere.
class ISOTOPE_API LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  virtual std::uint32_t vocab_size() const noexcept = 0;
  // Next-token logits (natural-log scores) over the whole vocabulary, given
  // every previous token; out.size() must equal vocab_size().
  virtual Status next_logits(std::span<const std::uint32_t> context, std::span<float> out) const = 0;
  // Top-1 next-token prediction; the default takes the argmax of next_logits
  // (lowest id on ties).
  virtual Status next_argmax(std::span<const std::uint32_t> context, std::uint32_t* token) const;
};

struct ISOTOPE_API NgramOptions {
  std::uint32_t order = 3;        // n: the model conditions on n-1 previous tokens (1..6)
  double discount = 0.75;         // absolute discount of interpolated Kneser–Ney
};

// Interpolated Kneser–Ney n-gram model over token ids, interpolated at the
// bottom with the uniform distribution, so every token has non-zero probability.
class ISOTOPE_API NgramModel final : public LanguageModel {
 public:
  ~NgramModel() override;
  NgramModel(const NgramModel&) = delete;
  NgramModel& operator=(const NgramModel&) = delete;

  // Each document is trained as its own sequence (no n-gram spans two documents).
  // `tokenizer_sha256` (hex, may be empty) is stored so that a model is never
  // used with another tokenizer by mistake.
  static Status train(const std::vector<std::vector<std::uint32_t>>& docs, std::uint32_t vocab_size,
                      const NgramOptions& options, const std::string& tokenizer_sha256,
                      std::unique_ptr<NgramModel>* out);
  // Binary file with magic, version, sizes and a SHA-256 of the payload;
  // a damaged or foreign file gives Code::corrupt. Saved atomically.
  static Status load(const std::string& path, std::unique_ptr<NgramModel>* out);
  Status save(const std::string& path) const;

  std::uint32_t vocab_size() const noexcept override;
  std::uint32_t order() const noexcept;
  std::uint64_t trained_tokens() const noexcept;
  const std::string& tokenizer_sha256() const noexcept;
  // Only the last order()-1 tokens of the context matter.
  Status next_logits(std::span<const std::uint32_t> context, std::span<float> out) const override;

 private:
  NgramModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace isotope
