// JSON and JSONL inputs as the command reads them: the strict parser, JSONL
// records with their text fields, audit results for combine.
#include <nlohmann/json.hpp>

#include "../cli/common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j;
  std::string why;
  (void)isotope::cli::parse_json_strict(text, &j, &why);
  try {
    isotope::cli::check_text(text, "fuzz");
    isotope::cli::for_each_jsonl(text, "fuzz", [](const nlohmann::json& obj, std::size_t lineno) {
      for (const char* f : {"text", "prompt", "response"}) {
        try {
          (void)isotope::cli::string_field(obj, f, "fuzz", lineno);
        } catch (const isotope::cli::Failure&) {
        }
      }
    });
  } catch (const isotope::cli::Failure&) {
  }
  (void)isotope::cli::term_safe(text);
  return 0;
}
