// Pieces of a report's result: control keys and the p-value curve.
#include <sodium.h>

#include <cmath>
#include <string_view>

#include "isotope/evidence.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "keys/control_key.hpp"

namespace isotope {

Status control_key(const std::array<std::uint8_t, COMMITMENT_BYTES>& commitment, std::uint32_t index, Key* out,
                   std::size_t engine_ints) {
  return detail::derive_control_key(commitment, "isotope/v1/control-key", index, 4, engine_ints, out);
}

std::vector<std::uint64_t> curve_checkpoints(std::uint64_t n_total, std::size_t points) {
  std::vector<std::uint64_t> ks;
  if (n_total == 0 || points == 0) return ks;
  const std::uint64_t m = points < n_total ? points : n_total;
  for (std::uint64_t k = 1; k <= m; ++k) ks.push_back((k * n_total + m - 1) / m);  // ceil(k N / m)
  return ks;
}

Curve score_curve(const TokenScores& scores, const Profile& profile, std::size_t points) {
  Curve c;
  const Scheme* scheme = find_scheme(profile.scheme);
  if (scheme == nullptr) return c;
  // A null that depends on the tuples is not a function of the prefix sums: no curve.
  std::unique_ptr<TupleNull> null;
  if (!scheme->make_tuple_null(profile, &null).ok() || null) return c;
  std::uint64_t n_total = 0;
  for (double v : scores) n_total += std::isnan(v) ? 0 : 1;
  const std::vector<std::uint64_t> ks = curve_checkpoints(n_total, points);
  std::size_t k = 0;
  std::uint64_t n = 0;
  double s = 0.0;
  for (double v : scores) {
    if (k == ks.size()) break;
    if (std::isnan(v)) continue;
    ++n;
    s += v;
    if (n == ks[k]) {
      c.scored.push_back(n);
      c.log10_p.push_back(scheme->tail(profile, s, n).log10_p);
      ++k;
    }
  }
  return c;
}

Status curve_from_sums(const Profile& profile, std::span<const std::uint64_t> scored, std::span<const double> statistic,
                       Curve* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (scored.size() != statistic.size()) return {Code::invalid_argument, "a curve needs one sum per checkpoint"};
  const Scheme* scheme = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &scheme));
  Curve c;
  for (std::size_t k = 0; k < scored.size(); ++k) {
    c.scored.push_back(scored[k]);
    c.log10_p.push_back(scheme->tail(profile, statistic[k], scored[k]).log10_p);
  }
  *out = std::move(c);
  return Status::OK();
}

}  // namespace isotope
