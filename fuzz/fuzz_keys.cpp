// Key and signer files: watermark keys, signing keys, public signing keys.
#include <unistd.h>

#include "fuzz_common.hpp"
#include "isotope/evidence.hpp"
#include "isotope/key.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = isotope::fuzz::input_file(data, size, "key");
  if (path.empty()) return 0;
  isotope::Key key;
  (void)isotope::key_read_file(path, &key);
  isotope::SigningKey sk;
  (void)isotope::signer_read_secret(path, &sk);
  isotope::SignPublicKey pk{};
  (void)isotope::signer_read_public(path, &pk);
  (void)isotope::signer_parse_public_hex(std::string_view(reinterpret_cast<const char*>(data), size), &pk);
  ::unlink(path.c_str());
  return 0;
}
