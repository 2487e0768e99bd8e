// Tokenizer files (sentencepiece models), then encoding and decoding with one.
#include <unistd.h>

#include <memory>
#include <vector>

#include "fuzz_common.hpp"
#include "isotope/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = isotope::fuzz::input_file(data, size, "tokenizer");
  if (path.empty()) return 0;
  std::unique_ptr<isotope::Tokenizer> tok;
  if (isotope::Tokenizer::load(path, &tok).ok()) {
    std::vector<std::uint32_t> ids;
    if (tok->encode("Hello, world: a test of 12 tokens.", &ids).ok()) {
      std::string back;
      (void)tok->decode(ids, &back);
    }
  }
  ::unlink(path.c_str());
  return 0;
}
