// The integer key(s) of another engine's watermark, as the engine profiles
// (hf-kgw, tgi-kgw) take them from an engine key.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "isotope/key.hpp"

namespace isotope::detail {

// The key's `count` integers; Code::invalid_argument (naming `what`) for a
// key of another kind or count.
template <typename K = Key>
Status engine_ints(const K& key, std::size_t count, std::string_view what, std::vector<std::uint64_t>* out) {
  if constexpr (requires { key.engine_ints(); }) {
    ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, count, what));
    const auto ints = key.engine_ints();
    out->assign(ints.begin(), ints.end());
  } else {
    // Interim form until engine keys exist: the integers are the key's bytes
    // read as little-endian 64-bit words.
    if (!key.valid()) return {Code::invalid_argument, std::string(what) + ": no key"};
    if (count == 0 || count > KEY_BYTES / 8)
      return {Code::invalid_argument, std::string(what) + ": this build holds at most 4 integers in a key"};
    out->resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      std::uint64_t v = 0;
      for (int b = 7; b >= 0; --b) v = (v << 8) | key.data()[8 * i + static_cast<std::size_t>(b)];
      (*out)[i] = v;
    }
  }
  return Status::OK();
}

}  // namespace isotope::detail
