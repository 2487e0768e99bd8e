// Model files (the n-gram format), and predictions from a model.
#include <unistd.h>

#include <memory>
#include <vector>

#include "fuzz_common.hpp"
#include "isotope/lm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = isotope::fuzz::input_file(data, size, "model");
  if (path.empty()) return 0;
  std::unique_ptr<isotope::NgramModel> model;
  if (isotope::NgramModel::load(path, &model).ok()) {
    std::vector<float> logits(model->vocab_size());
    const std::uint32_t ctx[] = {0, 1, 2};
    (void)model->next_logits(std::span<const std::uint32_t>(ctx, model->vocab_size() > 2 ? 3 : 0), logits);
  }
  ::unlink(path.c_str());
  return 0;
}
