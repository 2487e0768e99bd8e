// PyTorch's CPU randperm and randint(0, 2), reproduced (torch_cpu.hpp).
#include "prf/torch_cpu.hpp"

#include <numeric>
#include <string>

namespace isotope::detail {

Status torch_randperm_prefix(std::mt19937& gen, std::uint32_t n, std::uint32_t prefix,
                             std::vector<std::uint32_t>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (n == 0 || n > TORCH_RANDPERM_MAX_N)
    return {Code::invalid_argument, "a torch CPU permutation is reproduced for 1 to " +
                                        std::to_string(TORCH_RANDPERM_MAX_N) + " entries (got " + std::to_string(n) +
                                        ")"};
  if (prefix > n) return {Code::invalid_argument, "the prefix is longer than the permutation"};
  std::vector<std::uint32_t>& r = *out;
  r.resize(n);
  std::iota(r.begin(), r.end(), 0u);
  // Entry i is final once step i has run: later steps swap only i+1..n-1.
  const std::uint32_t steps = prefix < n ? prefix : n - 1;
  for (std::uint32_t i = 0; i < steps; ++i) {
    const std::uint32_t z = static_cast<std::uint32_t>(static_cast<std::uint64_t>(gen()) % (n - i));
    std::swap(r[i], r[i + z]);
  }
  r.resize(prefix);
  return Status::OK();
}

void torch_random_bits(std::mt19937& gen, std::size_t n, std::vector<std::uint8_t>* out) {
  out->resize(n);
  for (std::size_t i = 0; i < n; ++i) (*out)[i] = static_cast<std::uint8_t>(gen() & 1u);
}

std::uint64_t mulmod_2p64m1(std::uint64_t a, std::uint64_t b) noexcept {
  // 2^64 = 1 (mod 2^64 - 1): hi * 2^64 + lo = hi + lo.
  __extension__ using u128 = unsigned __int128;
  const u128 p = static_cast<u128>(a) * b;
  const std::uint64_t hi = static_cast<std::uint64_t>(p >> 64), lo = static_cast<std::uint64_t>(p);
  std::uint64_t s = hi + lo;
  if (s < lo) ++s;  // carry out of 64 bits is one more 2^64 = 1
  return s == ~std::uint64_t{0} ? 0 : s;
}

}  // namespace isotope::detail
