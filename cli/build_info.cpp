#include "build_info.hpp"

#include <openssl/crypto.h>
#include <sodium.h>

#include <sstream>

#include "isotope/io.hpp"

namespace isotope::cli {

nlohmann::json build_json() {
  return {{"revision", build_revision()},
          {"modified", build_tree_modified()},
          {"compiler", build_compiler()},
          {"build_type", build_type()},
          {"libraries",
           {{"openssl", OpenSSL_version(OPENSSL_VERSION_STRING)},
            {"libsodium", sodium_version_string()},
            {"sentencepiece", build_sentencepiece_version()},
            {"nlohmann_json", build_json_version()},
            {"cli11", build_cli11_version()}}}};
}

std::string version_text() {
  std::ostringstream s;
  s << "isotope " << version_string() << '\n'
    << "source revision " << build_revision() << (build_tree_modified() ? " (with uncommitted changes)" : "")
    << '\n'
    << "built with " << build_compiler() << " (" << build_type() << ")\n"
    << "libraries: OpenSSL " << OpenSSL_version(OPENSSL_VERSION_STRING) << ", libsodium " << sodium_version_string()
    << ", sentencepiece " << build_sentencepiece_version() << " (at build time), nlohmann-json "
    << build_json_version() << ", CLI11 " << build_cli11_version();
  return s.str();
}

}  // namespace isotope::cli
