// isotope — a decoding loop over any LanguageModel, with or without the
// watermark plugged in. This is the loop a provider already has; it is here
// for the demo, the CLI and the tests.
#pragma once
#include "isotope/export.h"
#include <cstdint>
#include <span>
#include <vector>

#include "isotope/lm.hpp"
#include "isotope/status.hpp"
#include "isotope/watermark.hpp"

namespace isotope {

// Samples `max_tokens` tokens after `prompt` (appended to *out, without the
// prompt). With wm == nullptr it uses sample_plain.
ISOTOPE_API Status generate(const LanguageModel& model, Watermarker* wm, std::span<const std::uint32_t> prompt,
                std::uint32_t max_tokens, const SamplingParams& params, Rng& rng, std::vector<std::uint32_t>* out);

}  // namespace isotope
