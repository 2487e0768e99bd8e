// Predictions files of the open audit, against a fixed set of teacher texts.
#include <nlohmann/json.hpp>

#include "../cli/audit.hpp"
#include "../cli/common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::vector<std::uint32_t>> teacher = {{1, 2, 3}, {4, 5}, {}, {6, 7, 8, 9}};
  try {
    (void)isotope::cli::parse_predictions(text, "fuzz.jsonl", teacher, 1000);
  } catch (const isotope::cli::Failure&) {
  }
  return 0;
}
