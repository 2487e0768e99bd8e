// Account keys, the keyed route and Holm's correction (isotope/account.hpp).
#include "isotope/account.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "isotope/io.hpp"
#include "isotope/profile.hpp"
#include "isotope/scheme.hpp"

namespace isotope {

namespace {
constexpr std::string_view ACCOUNT_DOMAIN = "isotope/v1/account-key";
constexpr std::string_view ROUTE_DOMAIN = "isotope/v1/account-route";
constexpr std::size_t ROUTE_KEY_BYTES = crypto_shorthash_siphash24_KEYBYTES;  // 16
}  // namespace

Status account_id_check(std::string_view id) {
  if (id.empty()) return {Code::invalid_argument, "an account identifier is empty"};
  if (id.size() > MAX_ACCOUNT_ID_BYTES)
    return {Code::invalid_argument, "account identifier longer than " + std::to_string(MAX_ACCOUNT_ID_BYTES) +
                                        " bytes (" + std::to_string(id.size()) + ")"};
  if (!is_valid_utf8(id)) return {Code::invalid_argument, "account identifier is not valid UTF-8"};
  for (std::size_t i = 0; i < id.size(); ++i) {
    const auto c = static_cast<unsigned char>(id[i]);
    // C0 and DEL; C1 (U+0080-U+009F) is encoded as 0xC2 0x80-0x9F.
    const bool c1 = c == 0xC2 && i + 1 < id.size() && static_cast<unsigned char>(id[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1)
      return {Code::invalid_argument, "account identifier holds a control character at byte " + std::to_string(i)};
  }
  if (id.front() == ' ' || id.back() == ' ')
    return {Code::invalid_argument, "account identifier begins or ends with a space"};
  return Status::OK();
}

Status account_key(const Key& master, std::string_view id, Key* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (!master.valid()) return {Code::invalid_argument, "the master key is not set"};
  ISOTOPE_RETURN_IF_ERROR(account_id_check(id));
  if (sodium_init() < 0) return {Code::crypto, "libsodium failed to initialise"};
  std::string msg(ACCOUNT_DOMAIN);
  const auto n = static_cast<std::uint32_t>(id.size());
  for (int b = 0; b < 4; ++b) msg.push_back(static_cast<char>((n >> (8 * b)) & 0xFF));
  msg.append(id);
  std::uint8_t k[KEY_BYTES];
  if (crypto_generichash(k, sizeof k, reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size(), master.data(),
                         KEY_BYTES) != 0)
    return {Code::crypto, "BLAKE2b failed"};
  Status st = Key::from_bytes(k, sizeof k, out);
  sodium_memzero(k, sizeof k);
  return st;
}

Status route_alpha_check(double alpha) {
  if (!(alpha >= 0.0 && alpha < 1.0))
    return {Code::invalid_argument, "the routing share alpha must lie in [0, 1) (got " + shortest_double(alpha) + ")"};
  return Status::OK();
}

std::uint32_t route_threshold(double alpha) noexcept {
  if (!(alpha > 0.0)) return 0;
  if (!(alpha < 1.0)) return 0xFFFFFFFFu;
  return static_cast<std::uint32_t>(std::floor(alpha * 4294967296.0));
}

const char* account_mark_name(const Profile& profile) noexcept {
  const Scheme* s = find_scheme(profile.scheme);
  return s != nullptr && s->nests_accounts(profile) ? "nested" : "route";
}

double route_alpha_default(const Profile& profile) noexcept {
  const Scheme* s = find_scheme(profile.scheme);
  return s != nullptr && s->nests_accounts(profile) ? ROUTE_ALPHA_NESTED_DEFAULT : ROUTE_ALPHA_DEFAULT;
}

Router::~Router() {
  if (key_ != nullptr) sodium_free(key_);
}

Status Router::create(const Key& master, double alpha, std::unique_ptr<Router>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (!master.valid()) return {Code::invalid_argument, "the master key is not set"};
  ISOTOPE_RETURN_IF_ERROR(route_alpha_check(alpha));
  if (sodium_init() < 0) return {Code::crypto, "libsodium failed to initialise"};
  std::unique_ptr<Router> r(new Router());
  r->key_ = static_cast<std::uint8_t*>(sodium_malloc(ROUTE_KEY_BYTES));
  if (r->key_ == nullptr) return {Code::out_of_memory, "cannot allocate guarded memory for the route key"};
  if (crypto_generichash(r->key_, ROUTE_KEY_BYTES, reinterpret_cast<const std::uint8_t*>(ROUTE_DOMAIN.data()),
                         ROUTE_DOMAIN.size(), master.data(), KEY_BYTES) != 0)
    return {Code::crypto, "BLAKE2b failed"};
  r->alpha_ = alpha;
  r->threshold_ = route_threshold(alpha);
  *out = std::move(r);
  return Status::OK();
}

std::uint32_t Router::coin(std::span<const std::uint32_t> window) const noexcept {
  std::uint8_t buf[4 * 16];
  std::uint8_t h[crypto_shorthash_siphash24_BYTES];
  const std::size_t n = std::min<std::size_t>(window.size(), 16);
  for (std::size_t i = 0; i < n; ++i)
    for (int b = 0; b < 4; ++b) buf[4 * i + b] = static_cast<std::uint8_t>(window[i] >> (8 * b));
  crypto_shorthash_siphash24(h, buf, 4 * n, key_);
  std::uint64_t v = 0;
  for (int b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>(h[b]) << (8 * b);
  return static_cast<std::uint32_t>(v >> 32);
}

void Router::route(const std::uint32_t* windows, std::size_t h, std::size_t n, std::uint8_t* out) const noexcept {
  for (std::size_t j = 0; j < n; ++j) out[j] = to_account(std::span<const std::uint32_t>(windows + j * h, h)) ? 1 : 0;
}

std::vector<double> holm_log10(std::span<const double> log10_p) {
  const std::size_t m = log10_p.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return log10_p[a] < log10_p[b]; });
  std::vector<double> out(m, 0.0);
  double running = -INFINITY;
  for (std::size_t i = 0; i < m; ++i) {
    const double lp = log10_p[order[i]];
    const double adj = std::min(0.0, std::log10(static_cast<double>(m - i)) + lp);
    running = std::max(running, adj);
    out[order[i]] = running;
  }
  return out;
}

}  // namespace isotope
