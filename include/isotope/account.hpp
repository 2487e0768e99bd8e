// isotope — attribution: per-account keys derived from the master key, and
// the keyed route that decides, position by position, which key marks a text.
//
// Account key (docs/spec.md, "Attribution"):
//   K_id = BLAKE2b-256 keyed with the master key over
//          "isotope/v1/account-key" || uint32le(len(id)) || id
//   where id is the account identifier's UTF-8 bytes. Only the master key and
//   the list of identifiers are stored; the master key's commitment covers
//   every account key.
// Route (docs/spec.md, "Attribution"):
//   R    = BLAKE2b-128 keyed with the master key over "isotope/v1/account-route"
//   c(w) = SipHash-2-4 under R of the window w (the h previous token ids as
//          little-endian uint32), read as a little-endian uint64
//   the position goes to the account key iff (c(w) >> 32) < floor(alpha 2^32),
//   else to the master key.
// The route depends on the window only, never on the token, so an auditor
// recomputes it from text alone, and it commutes with the audit's
// deduplication of (window, token) tuples and its prompt exclusion (which
// both act on whole windows or tuples).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "isotope/export.h"
#include "isotope/key.hpp"
#include "isotope/profile.hpp"
#include "isotope/status.hpp"

namespace isotope {

// Longest account identifier, in bytes of UTF-8.
inline constexpr std::size_t MAX_ACCOUNT_ID_BYTES = 256;
// The share of positions routed to accounts when none is given (chosen from
// measurements, docs/attribution.md): for a scheme that routes (the account
// key replaces the master key there: Gumbel-max, SynthID) and for one that
// nests the account's mark in the master key's (KGW), whose master key keeps
// most of its strength at routed positions.
inline constexpr double ROUTE_ALPHA_DEFAULT = 0.4;
inline constexpr double ROUTE_ALPHA_NESTED_DEFAULT = 0.6;
// The default share for the profile's scheme (one of the two above).
ISOTOPE_API double route_alpha_default(const Profile& profile) noexcept;

// Checks an account identifier: 1 to MAX_ACCOUNT_ID_BYTES bytes of valid
// UTF-8, no control character (U+0000-U+001F, U+007F-U+009F), no space at
// either end. Code::invalid_argument saying what is wrong.
ISOTOPE_API Status account_id_check(std::string_view id);

// The key of account `id` under `master` (construction above). The id is
// checked first (account_id_check).
ISOTOPE_API Status account_key(const Key& master, std::string_view id, Key* out);

// Checks a routing share: 0 <= alpha < 1 (0: no routing, every position
// marked by the master key). Code::invalid_argument otherwise.
ISOTOPE_API Status route_alpha_check(double alpha);
// The 32-bit threshold of the route: floor(alpha * 2^32).
ISOTOPE_API std::uint32_t route_threshold(double alpha) noexcept;

// How the profile's scheme marks the positions routed to an account
// (Scheme::nests_accounts): "nested" (KGW: the account marks a keyed half of
// the master key's green list; the master key's audit scores every tuple) or
// "route" (the account's key replaces the master key there). "route" for an
// unknown scheme.
ISOTOPE_API const char* account_mark_name(const Profile& profile) noexcept;

// The keyed route of one master key. Thread-safe (it holds only the route key).
class ISOTOPE_API Router {
 public:
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Code::invalid_argument for an unset key or alpha outside [0, 1).
  static Status create(const Key& master, double alpha, std::unique_ptr<Router>* out);

  double alpha() const noexcept { return alpha_; }
  std::uint32_t threshold() const noexcept { return threshold_; }
  // c(w) >> 32 for the window `window` (h <= MAX_CONTEXT_WIDTH ids).
  std::uint32_t coin(std::span<const std::uint32_t> window) const noexcept;
  // True if the position whose window is `window` goes to the account key.
  bool to_account(std::span<const std::uint32_t> window) const noexcept { return coin(window) < threshold_; }
  // out[j] = to_account(windows[j*h .. j*h+h)) for j < n.
  void route(const std::uint32_t* windows, std::size_t h, std::size_t n, std::uint8_t* out) const noexcept;

 private:
  Router() = default;
  std::uint8_t* key_ = nullptr;  // sodium_malloc'd route key (16 bytes)
  double alpha_ = 0.0;
  std::uint32_t threshold_ = 0;
};

// Holm's step-down correction (Holm 1979) of m p-values given as log10 p:
// with the p-values sorted, p_(1) <= ... <= p_(m),
//   adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)),
// computed in log space (log10(m - j + 1) + log10 p_(j)), so p-values far
// below 1e-308 keep their exact value. Rejecting every hypothesis whose
// adjusted p-value is <= level keeps the family-wise error rate at or below
// `level` under any dependence between the tests. out[i] belongs to
// log10_p[i] (input order); ties keep input order.
ISOTOPE_API std::vector<double> holm_log10(std::span<const double> log10_p);

}  // namespace isotope
