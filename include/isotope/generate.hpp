// isotope — a decoding loop over any LanguageModel, with or without the
// watermark plugged in. This is the loop a provider already has; it is here
// for the demo, the CLI and the tests.
#pragma once
#include "isotope/export.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "isotope/lm.hpp"
#include "isotope/status.hpp"
#include "isotope/watermark.hpp"

namespace isotope {

// Samples `max_tokens` tokens after `prompt` (appended to *out, without the
// prompt). With wm == nullptr it uses sample_plain. The ids of `prompt` from
// `answer_start` on (default: none) are earlier tokens of the same answer,
// e.g. from a previous call that generated it in pieces. The watermark's
// context is every id so far, except for a scheme whose windows never reach
// into the prompt (Scheme::pad_id, the vllm-* schemes): then it is the
// answer's ids only.
ISOTOPE_API Status generate(const LanguageModel& model, Watermarker* wm, std::span<const std::uint32_t> prompt,
                std::uint32_t max_tokens, const SamplingParams& params, Rng& rng, std::vector<std::uint32_t>* out,
                std::size_t answer_start = SIZE_MAX);

}  // namespace isotope
