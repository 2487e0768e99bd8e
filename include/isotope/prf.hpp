// isotope — the keyed pseudorandom function behind the green lists.
//
// seed(ctx)  = SipHash-128 (libsodium crypto_shorthash_siphashx24) under a
//              sub-key derived from the watermark key, of the h context ids as
//              little-endian uint32.
// value(t)   = little-endian uint16 number (t mod 8) of block floor(t/8) of
//              AES-128-CTR keystream under a second derived sub-key, the
//              counter starting at the seed (a big-endian 128-bit integer).
// green(t)   = value(t) < profile.green_threshold().
// docs/spec.md has the byte-exact construction and test vectors.
#pragma once
#include "isotope/export.h"
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "isotope/key.hpp"
#include "isotope/profile.hpp"
#include "isotope/status.hpp"

namespace isotope {

using Seed = std::array<std::uint8_t, 16>;

// Not thread-safe (it holds cipher contexts): use one per thread.
class ISOTOPE_API GreenList {
 public:
  ~GreenList();
  GreenList(const GreenList&) = delete;
  GreenList& operator=(const GreenList&) = delete;

  static Status create(const Key& key, const Profile& profile, std::unique_ptr<GreenList>* out);

  const Profile& profile() const noexcept { return profile_; }
  std::uint32_t threshold() const noexcept { return threshold_; }

  // Seed of a context window; ctx.size() must equal profile().context_width.
  Seed seed(std::span<const std::uint32_t> ctx) const noexcept;
  // Values of tokens 0..out.size()-1 in one sequential keystream pass.
  Status values(const Seed& seed, std::span<std::uint16_t> out);
  // The same pass in pieces: stream_begin(seed) positions the keystream at
  // token 0; each stream_next(out) gives the values of the next out.size()
  // tokens. Every piece but the last must be a multiple of 8 tokens long.
  Status stream_begin(const Seed& seed);
  Status stream_next(std::span<std::uint16_t> out);
  // Value of one token: one AES block.
  Status value(const Seed& seed, std::uint32_t token, std::uint16_t* out);
  // Values of n (seed, token) pairs in one batched cipher call.
  Status values_at(const Seed* seeds, const std::uint32_t* tokens, std::size_t n, std::uint16_t* out);
  // Values of n tokens of one context, in one batched cipher call.
  Status values_at(const Seed& seed, const std::uint32_t* tokens, std::size_t n, std::uint16_t* out);

 private:
  GreenList() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Profile profile_;
  std::uint32_t threshold_ = 0;
};

}  // namespace isotope
