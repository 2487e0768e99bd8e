// The 32-bit keyed PRF of the distortion-free schemes ("siphash128-aes128ctr-u32-v1").
// Internal.
//
// seed(ctx) = SipHash-128 (libsodium crypto_shorthash_siphashx24) of the h
//             context ids as little-endian uint32, under sub-key `sip_id`
//             derived from the watermark key (crypto_kdf, context "isotope1").
// value(t)  = little-endian uint32 number (t mod 4) of block floor(t/4) of
//             AES-128-CTR keystream under sub-key `aes_id`, the counter
//             starting at the seed (a big-endian 128-bit integer).
// Each scheme uses its own pair of sub-key ids (docs/spec.md), so one master
// key gives independent values to every scheme.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "isotope/key.hpp"
#include "isotope/prf.hpp"
#include "isotope/status.hpp"

namespace isotope::detail {

class Prf32 {
 public:
  ~Prf32();
  Prf32(const Prf32&) = delete;
  Prf32& operator=(const Prf32&) = delete;

  static Status create(const Key& key, std::uint64_t sip_id, std::uint64_t aes_id, std::unique_ptr<Prf32>* out);

  Seed seed(std::span<const std::uint32_t> ctx) const noexcept;
  // Values of tokens 0..out.size()-1 in one keystream pass.
  Status values(const Seed& seed, std::span<std::uint32_t> out);
  // Values of n tokens of one seed.
  Status values_at(const Seed& seed, const std::uint32_t* tokens, std::size_t n, std::uint32_t* out);
  // Values of n (seed, token) pairs.
  Status values_at(const Seed* seeds, const std::uint32_t* tokens, std::size_t n, std::uint32_t* out);

 struct Impl;  // internal

 private:
  Prf32() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace isotope::detail
