// Uses the C++ API of an installed isotope: a key, a watermark on logits,
// the bundled tokenizer found relative to the installed library.
#include <isotope/io.hpp>
#include <isotope/key.hpp>
#include <isotope/profile.hpp>
#include <isotope/tokenizer.hpp>
#include <isotope/watermark.hpp>

#include <cstdio>
#include <memory>
#include <span>
#include <vector>

int main() {
  isotope::Key key;
  if (!isotope::Key::generate(&key).ok()) return 1;
  std::unique_ptr<isotope::Watermarker> wm;
  if (isotope::Status st = isotope::Watermarker::create(key, isotope::Profile{}, 100, &wm); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 2;
  }
  std::unique_ptr<isotope::Tokenizer> tok;
  if (isotope::Status st = isotope::Tokenizer::load(isotope::default_tokenizer_path(), &tok); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 3;
  }
  std::vector<std::uint32_t> ids;
  if (!tok->encode("A moved installation still finds its data.", &ids).ok() || ids.empty()) return 4;
  std::printf("ok data=%s tokens=%zu commitment=%s\n", isotope::data_dir().c_str(), ids.size(),
              key.commitment_hex().c_str());
  return 0;
}
