// isotope — the default top-1 prediction of any LanguageModel.
#include <cmath>
#include <limits>
#include <memory>
#include <new>
#include <string>

#include "isotope/lm.hpp"

namespace isotope {

Status LanguageModel::next_argmax(std::span<const std::uint32_t> context, std::uint32_t* token) const {
  if (token == nullptr) return {Code::invalid_argument, "next_argmax: the output pointer is null"};
  const std::uint32_t v = vocab_size();
  if (v == 0) return {Code::invalid_argument, "next_argmax: the model has an empty vocabulary"};
  std::unique_ptr<float[]> logits;
  try {
    logits.reset(new float[v]);
  } catch (const std::bad_alloc&) {
    return {Code::out_of_memory, "next_argmax: cannot allocate " + std::to_string(v) + " logits"};
  }
  ISOTOPE_RETURN_IF_ERROR(next_logits(context, std::span<float>(logits.get(), v)));
  // Strict '>' keeps the lowest id on ties; NaN never wins. If nothing beats
  // -infinity, the first entry that is not NaN is the answer.
  const float* l = logits.get();
  std::uint32_t best = v;
  float best_value = -std::numeric_limits<float>::infinity();
  for (std::uint32_t i = 0; i < v; ++i) {
    if (l[i] > best_value) {
      best_value = l[i];
      best = i;
    }
  }
  if (best == v) {
    for (std::uint32_t i = 0; i < v && best == v; ++i)
      if (!std::isnan(l[i])) best = i;
  }
  if (best == v) return {Code::invalid_argument, "next_argmax: every logit is NaN"};
  *token = best;
  return Status::OK();
}

}  // namespace isotope
