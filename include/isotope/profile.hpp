// isotope — a named, versioned parameter set of a watermark scheme.
//
// A profile names the scheme ("kgw", "gumbel", "synthid", ...), its version,
// the PRF, the context width h and the scheme's own parameters (KGW: gamma
// and delta; SynthID: layers; ...). The scheme registry (isotope/scheme.hpp)
// knows each scheme's parameters, defaults and ranges; Profile::of() gives a
// scheme's defaults and validate() checks a profile against its scheme.
#pragma once
#include "isotope/export.h"
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "isotope/status.hpp"

namespace isotope {

inline constexpr const char* SCHEME_KGW = "kgw";
inline constexpr const char* SCHEME_GUMBEL = "gumbel";
inline constexpr const char* SCHEME_SYNTHID = "synthid";
inline constexpr const char* PRF_V1 = "siphash128-aes128ctr-u16-v1";
inline constexpr const char* PRF_U32_V1 = "siphash128-aes128ctr-u32-v1";
inline constexpr std::uint32_t MAX_CONTEXT_WIDTH = 8;

struct ISOTOPE_API Profile {
  std::string scheme = SCHEME_KGW;
  std::uint32_t version = 1;
  std::string prf = PRF_V1;
  std::uint32_t context_width = 2;  // h: previous tokens that seed the PRF (0..8)
  // The scheme's own parameters by name (all numbers; flags are 0 or 1). The
  // default profile is KGW with gamma 0.25 and delta 3.
  std::map<std::string, double, std::less<>> params{{"gamma", 0.25}, {"delta", 3.0}};

  // The defaults of a registered scheme (Code::invalid_argument if unknown).
  static Status of(std::string_view scheme, Profile* out);

  // A parameter's value; NaN when the profile does not hold it.
  double param(std::string_view name) const noexcept;
  // Sets a parameter the scheme declares (Code::invalid_argument otherwise);
  // the value is checked by validate().
  Status set(std::string_view name, double value);

  // Checks the scheme, version, PRF, context width and every parameter.
  Status validate() const;
  // Canonical name, e.g. "kgw/v1/gamma=0.25/delta=3/h=2/siphash128-aes128ctr-u16-v1":
  // scheme/vVERSION/ then each parameter as name=value in the scheme's order,
  // then h= and the PRF.
  std::string name() const;
  bool operator==(const Profile& o) const = default;
};

// KGW: green iff the token's 16-bit value < kgw_green_threshold(p) = floor(gamma * 65536).
ISOTOPE_API std::uint32_t kgw_green_threshold(const Profile& p) noexcept;
// KGW: exact probability that a token is green under H0: threshold / 65536.
ISOTOPE_API double kgw_gamma_effective(const Profile& p) noexcept;

// The parameters that change the pseudorandom values and scores match (for
// KGW all but delta, which only matters when generating).
ISOTOPE_API bool same_scores(const Profile& a, const Profile& b) noexcept;

// Shortest decimal text that reads back as the same double.
ISOTOPE_API std::string shortest_double(double v);

}  // namespace isotope
