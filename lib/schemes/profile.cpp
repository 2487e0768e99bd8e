#include "isotope/profile.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "isotope/scheme.hpp"

namespace isotope {

Status Profile::of(std::string_view scheme_name, Profile* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  Profile p;
  p.scheme = std::string(scheme_name);
  const Scheme* s = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(p, &s));
  p.prf = std::string(s->default_prf());
  p.context_width = s->default_context_width();
  p.params.clear();
  for (const ParamSpec& spec : s->params()) p.params.emplace(spec.name, spec.def);
  *out = std::move(p);
  return Status::OK();
}

double Profile::param(std::string_view n) const noexcept {
  auto it = params.find(n);
  return it == params.end() ? std::nan("") : it->second;
}

Status Profile::set(std::string_view n, double value) {
  const Scheme* s = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(*this, &s));
  for (const ParamSpec& spec : s->params())
    if (n == spec.name) {
      params[std::string(n)] = value;
      return Status::OK();
    }
  return {Code::invalid_argument, "the " + scheme + " scheme has no parameter '" + std::string(n) + "'"};
}

Status Profile::validate() const {
  const Scheme* s = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(*this, &s));
  if (prf != s->default_prf())
    return {Code::invalid_argument, "unknown PRF '" + prf + "' for the " + scheme + " scheme (known: " +
                                        std::string(s->default_prf()) + ")"};
  if (version != 1) return {Code::invalid_argument, "unknown profile version " + std::to_string(version)};
  const std::uint32_t hmin = s->pad_id(*this) ? 1 : 0;
  if (context_width < hmin || context_width > s->max_context_width())
    return {Code::invalid_argument, "context width must be between " + std::to_string(hmin) + " and " +
                                        std::to_string(s->max_context_width()) + " for the " + scheme + " scheme"};
  for (const auto& [k, v] : params) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& ps : s->params())
      if (k == ps.name) spec = &ps;
    if (spec == nullptr) return {Code::invalid_argument, "the " + scheme + " scheme has no parameter '" + k + "'"};
    if (!std::isfinite(v) || v < spec->min || v > spec->max)
      return {Code::invalid_argument, k + " must be a finite number between " + shortest_double(spec->min) + " and " +
                                          shortest_double(spec->max) + " (got " + shortest_double(v) + ")"};
    if (spec->integer && std::floor(v) != v) return {Code::invalid_argument, k + " must be a whole number"};
  }
  for (const ParamSpec& ps : s->params())
    if (!params.contains(ps.name))
      return {Code::invalid_argument, "the profile lacks the " + scheme + " parameter '" + ps.name + "'"};
  return s->validate(*this);
}

std::string shortest_double(double v) {
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string Profile::name() const {
  std::string out = scheme + "/v" + std::to_string(version) + "/";
  const Scheme* s = find_scheme(scheme);
  if (s != nullptr) {
    for (const ParamSpec& ps : s->params()) {
      const double v = param(ps.name);
      const bool whole = ps.integer && v == std::floor(v) && std::fabs(v) < 1e15;
      out += std::string(ps.name) + "=" + (whole ? std::to_string(static_cast<long long>(v)) : shortest_double(v)) + "/";
    }
  } else {
    for (const auto& [k, v] : params) out += k + "=" + shortest_double(v) + "/";
  }
  return out + "h=" + std::to_string(context_width) + "/" + prf;
}

std::uint32_t kgw_green_threshold(const Profile& p) noexcept {
  const double gamma = p.param("gamma");
  if (!(gamma > 0.0 && gamma < 1.0)) return 0;
  return static_cast<std::uint32_t>(std::floor(gamma * 65536.0));
}

double kgw_gamma_effective(const Profile& p) noexcept {
  return static_cast<double>(kgw_green_threshold(p)) / 65536.0;
}

bool same_scores(const Profile& a, const Profile& b) noexcept {
  if (a.scheme != b.scheme || a.version != b.version || a.prf != b.prf || a.context_width != b.context_width)
    return false;
  if (a.scheme == SCHEME_KGW) return kgw_green_threshold(a) == kgw_green_threshold(b);
  return a.params == b.params;
}

}  // namespace isotope
