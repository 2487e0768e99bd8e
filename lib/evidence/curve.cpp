// Pieces of a report's result: control keys and the p-value curve.
#include <sodium.h>

#include <cmath>
#include <string_view>

#include "isotope/evidence.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"

namespace isotope {

Status control_key(const std::array<std::uint8_t, COMMITMENT_BYTES>& commitment, std::uint32_t index, Key* out,
                   std::size_t engine_ints) {
  if (out == nullptr) return {Code::invalid_argument, "control_key: null output"};
  if (sodium_init() < 0) return {Code::crypto, "libsodium could not be initialised"};
  constexpr std::string_view domain = "isotope/v1/control-key";
  std::uint8_t msg[domain.size() + 4];
  for (std::size_t i = 0; i < domain.size(); ++i) msg[i] = static_cast<std::uint8_t>(domain[i]);
  for (std::size_t i = 0; i < 4; ++i) msg[domain.size() + i] = static_cast<std::uint8_t>(index >> (8 * i));
  std::uint8_t k[KEY_BYTES];
  if (crypto_generichash(k, sizeof k, msg, sizeof msg, commitment.data(), commitment.size()) != 0) {
    sodium_memzero(k, sizeof k);
    return {Code::crypto, "BLAKE2b failed"};
  }
  Status st = Key::from_seed(k, sizeof k, engine_ints, out);
  sodium_memzero(k, sizeof k);
  return st;
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
  if (n_total == 0 || points == 0) return c;
  const std::uint64_t m = points < n_total ? points : n_total;
  std::uint64_t k = 1, next = (n_total + m - 1) / m;  // ceil(1 * N / m)
  std::uint64_t n = 0;
  double s = 0.0;
  for (double v : scores) {
    if (std::isnan(v)) continue;
    ++n;
    s += v;
    if (n == next) {
      c.scored.push_back(n);
      c.log10_p.push_back(scheme->tail(profile, s, n).log10_p);
      ++k;
      if (k > m) break;
      next = (k * n_total + m - 1) / m;
    }
  }
  return c;
}

}  // namespace isotope
