// isotope — a named, versioned parameter set of the watermark.
#pragma once
#include "isotope/export.h"
#include <cstdint>
#include <string>

#include "isotope/status.hpp"

namespace isotope {

inline constexpr const char* SCHEME_KGW = "kgw";
inline constexpr const char* PRF_V1 = "siphash128-aes128ctr-u16-v1";
inline constexpr std::uint32_t MAX_CONTEXT_WIDTH = 8;

struct ISOTOPE_API Profile {
  std::string scheme = SCHEME_KGW;   // only "kgw" for now
  double gamma = 0.25;               // share of the vocabulary that is green, 0 < gamma < 1
  double delta = 3.0;                // logit bias added to green tokens, >= 0
  std::uint32_t context_width = 2;   // h: previous tokens that seed the green list (0..8)
  std::string prf = PRF_V1;
  std::uint32_t version = 1;

  Status validate() const;
  // Green iff the token's 16-bit value < green_threshold() = floor(gamma * 65536).
  std::uint32_t green_threshold() const noexcept;
  // Exact probability that a token is green under H0: green_threshold() / 65536.
  double gamma_effective() const noexcept;
  // Canonical name, e.g. "kgw/v1/gamma=0.25/delta=3/h=2/siphash128-aes128ctr-u16-v1".
  std::string name() const;
  bool operator==(const Profile& o) const = default;
};

// The parameters that change which tokens are green (all but delta) match.
ISOTOPE_API bool same_green_lists(const Profile& a, const Profile& b) noexcept;

}  // namespace isotope
