// The one place that lists the schemes. A new scheme: a folder under
// lib/schemes/ that defines its Scheme, and one line here.
#include <array>

#include "isotope/scheme.hpp"

namespace isotope {

const Scheme& kgw_scheme() noexcept;                   // lib/schemes/kgw/kgw.cpp
const Scheme& gumbel_scheme() noexcept;                // lib/schemes/gumbel/gumbel.cpp
const Scheme& synthid_scheme() noexcept;               // lib/schemes/synthid/synthid.cpp
const Scheme& vllm_gumbel_scheme() noexcept;           // lib/schemes/vllm/vllm.cpp
const Scheme& vllm_dual_key_gumbel_scheme() noexcept;  // lib/schemes/vllm/vllm.cpp
const Scheme& hf_kgw_scheme() noexcept;                // lib/schemes/torch_kgw/torch_kgw.cpp
const Scheme& tgi_kgw_scheme() noexcept;               // lib/schemes/torch_kgw/torch_kgw.cpp
const Scheme& hf_synthid_scheme() noexcept;            // lib/schemes/hf_synthid/hf_synthid.cpp

std::span<const Scheme* const> schemes() noexcept {
  static const std::array<const Scheme*, 8> all{&kgw_scheme(),         &gumbel_scheme(),
                                                &synthid_scheme(),     &vllm_gumbel_scheme(),
                                                &vllm_dual_key_gumbel_scheme(), &hf_kgw_scheme(),
                                                &tgi_kgw_scheme(),     &hf_synthid_scheme()};
  return all;
}

const Scheme* find_scheme(std::string_view name) noexcept {
  for (const Scheme* s : schemes())
    if (s->name() == name) return s;
  return nullptr;
}

Status scheme_of(const Profile& p, const Scheme** out) {
  const Scheme* s = find_scheme(p.scheme);
  if (s == nullptr) {
    std::string known;
    for (const Scheme* k : schemes()) known += (known.empty() ? "" : ", ") + std::string(k->name());
    return {Code::invalid_argument, "unknown watermark scheme '" + p.scheme + "' (known: " + known + ")"};
  }
  *out = s;
  return Status::OK();
}

}  // namespace isotope
