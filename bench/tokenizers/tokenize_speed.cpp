// Encoding speed of one tokenizer on one text file, single-threaded.
//   isotope_tokenize_speed TOKENIZER FILE SECONDS
// prints {"bytes": N, "seconds": S, "load_seconds": L, "tokens": T}: N bytes
// encoded (the file, repeatedly) in S seconds after loading in L seconds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "isotope/io.hpp"
#include "isotope/tokenizer.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: isotope_tokenize_speed TOKENIZER FILE SECONDS\n");
    return 2;
  }
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  std::unique_ptr<isotope::Tokenizer> tok;
  if (auto st = isotope::Tokenizer::load(argv[1], &tok); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 1;
  }
  const double load = std::chrono::duration<double>(clock::now() - t0).count();
  std::string text;
  if (auto st = isotope::read_file(argv[2], &text); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 1;
  }
  const double budget = std::atof(argv[3]);
  std::vector<std::uint32_t> ids;
  std::uint64_t bytes = 0, tokens = 0;
  const auto t1 = clock::now();
  double seconds = 0;
  do {
    if (auto st = tok->encode(text, &ids); !st.ok()) {
      std::fprintf(stderr, "%s\n", st.to_string().c_str());
      return 1;
    }
    bytes += text.size();
    tokens += ids.size();
    seconds = std::chrono::duration<double>(clock::now() - t1).count();
  } while (seconds < budget);
  std::printf("{\"bytes\": %llu, \"seconds\": %.4f, \"load_seconds\": %.4f, \"tokens\": %llu}\n",
              static_cast<unsigned long long>(bytes), seconds, load, static_cast<unsigned long long>(tokens));
  return 0;
}
