// The integer key(s) of another engine's watermark, as the engine profiles
// (hf-kgw, tgi-kgw, hf-synthid) take them from an engine key.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "isotope/key.hpp"

namespace isotope::detail {

// The key's `count` integers; Code::invalid_argument (naming `what`) for a
// key of another kind or count.
inline Status engine_ints(const Key& key, std::size_t count, std::string_view what, std::vector<std::uint64_t>* out) {
  ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, count, what));
  const auto ints = key.engine_ints();
  out->assign(ints.begin(), ints.end());
  return Status::OK();
}

}  // namespace isotope::detail
