// Candidate-accounts files of attribution audits, then every identifier that
// is accepted through the key derivation and the route.
#include <memory>

#include "../cli/audit.hpp"
#include "../cli/common.hpp"
#include "isotope/account.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const isotope::Key master = [] {
    std::uint8_t b[isotope::KEY_BYTES] = {7};
    isotope::Key k;
    (void)isotope::Key::from_bytes(b, sizeof b, &k);
    return k;
  }();
  // The library's own check of one identifier must never crash either.
  isotope::Key k;
  (void)isotope::account_key(master, text, &k);
  try {
    isotope::cli::check_text(text, "fuzz.txt");
    const std::vector<std::string> ids = isotope::cli::parse_account_list(text, "fuzz.txt");
    std::unique_ptr<isotope::Router> router;
    if (!isotope::Router::create(master, isotope::ROUTE_ALPHA_DEFAULT, &router).ok()) __builtin_trap();
    for (const std::string& id : ids) {
      // A listed identifier is one the library accepts.
      if (!isotope::account_key(master, id, &k).ok()) __builtin_trap();
      const std::uint32_t w[2] = {static_cast<std::uint32_t>(id.size()), static_cast<std::uint32_t>(id[0])};
      (void)router->to_account(w);
    }
  } catch (const isotope::cli::Failure&) {
  }
  return 0;
}
