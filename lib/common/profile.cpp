#include "isotope/profile.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace isotope {

Status Profile::validate() const {
  if (scheme != SCHEME_KGW) return {Code::invalid_argument, "unknown watermark scheme '" + scheme + "' (known: kgw)"};
  if (prf != PRF_V1) return {Code::invalid_argument, "unknown PRF '" + prf + "' (known: " + PRF_V1 + ")"};
  if (version != 1) return {Code::invalid_argument, "unknown profile version " + std::to_string(version)};
  if (!(gamma > 0.0 && gamma < 1.0)) return {Code::invalid_argument, "gamma must lie strictly between 0 and 1"};
  if (green_threshold() == 0 || green_threshold() >= 65536)
    return {Code::invalid_argument, "gamma is too close to 0 or 1 for 16-bit green values"};
  if (!(delta >= 0.0 && std::isfinite(delta)) || delta > 100.0)
    return {Code::invalid_argument, "delta must be a finite number between 0 and 100"};
  if (context_width > MAX_CONTEXT_WIDTH)
    return {Code::invalid_argument, "context width must be between 0 and " + std::to_string(MAX_CONTEXT_WIDTH)};
  return Status::OK();
}

std::uint32_t Profile::green_threshold() const noexcept {
  if (!(gamma > 0.0 && gamma < 1.0)) return 0;
  return static_cast<std::uint32_t>(std::floor(gamma * 65536.0));
}

double Profile::gamma_effective() const noexcept { return static_cast<double>(green_threshold()) / 65536.0; }

static std::string shortest(double v) {
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string Profile::name() const {
  return scheme + "/v" + std::to_string(version) + "/gamma=" + shortest(gamma) + "/delta=" + shortest(delta) +
         "/h=" + std::to_string(context_width) + "/" + prf;
}

bool same_green_lists(const Profile& a, const Profile& b) noexcept {
  return a.scheme == b.scheme && a.version == b.version && a.prf == b.prf &&
         a.context_width == b.context_width && a.green_threshold() == b.green_threshold();
}

}  // namespace isotope
