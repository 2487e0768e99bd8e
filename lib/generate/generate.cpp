#include "isotope/generate.hpp"

#include <algorithm>

namespace isotope {

Status generate(const LanguageModel& model, Watermarker* wm, std::span<const std::uint32_t> prompt,
                std::uint32_t max_tokens, const SamplingParams& params, Rng& rng, std::vector<std::uint32_t>* out,
                std::size_t answer_start) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (wm != nullptr && wm->vocab_size() != model.vocab_size())
    return {Code::vocab_mismatch, "watermark vocabulary differs from the model's"};
  // Where the watermark's context starts: 0, or the answer's first id for a
  // scheme whose windows never reach into the prompt.
  std::size_t wm_start = 0;
  if (wm != nullptr) {
    const Scheme* s = find_scheme(wm->profile().scheme);
    if (s != nullptr && s->pad_id(wm->profile())) wm_start = std::min(answer_start, prompt.size());
  }
  std::vector<std::uint32_t> context(prompt.begin(), prompt.end());
  context.reserve(prompt.size() + max_tokens);
  std::vector<float> logits(model.vocab_size());
  for (std::uint32_t i = 0; i < max_tokens; ++i) {
    ISOTOPE_RETURN_IF_ERROR(model.next_logits(context, logits));
    std::uint32_t token = 0;
    if (wm != nullptr) {
      ISOTOPE_RETURN_IF_ERROR(
          wm->sample(std::span<const std::uint32_t>(context).subspan(wm_start), logits, params, rng, &token));
    } else {
      ISOTOPE_RETURN_IF_ERROR(sample_plain(logits, params, rng, &token));
    }
    context.push_back(token);
    out->push_back(token);
  }
  return Status::OK();
}

}  // namespace isotope
