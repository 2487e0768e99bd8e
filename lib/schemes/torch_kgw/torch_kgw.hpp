// Green lists of the KGW watermarks that draw them from PyTorch's CPU
// generator: Hugging Face transformers' WatermarkLogitsProcessor (profile
// hf-kgw, seeding schemes lefthash and selfhash) and TGI's
// WatermarkLogitsProcessor (profile tgi-kgw). docs/compat.md gives the
// construction in words; lib/prf/torch_cpu.hpp the generator.
//
// Green list after a seed s: the first G = floor(V * ratio) entries of
// torch.randperm(V) drawn after manual_seed(s), V the vocabulary size.
// Seeds:
//  - hf lefthash: (hashing_key * last id) mod (2^64 - 1);
//  - hf selfhash: over the window w (the context_width last ids, the scored
//    token last), a_i = T[w_i mod 1000003] + 1 and b = T[token mod 1000003] +
//    1, T = torch.randperm(1000003) after manual_seed(hashing_key); the seed is
//    the least of hashing_key * a_i * b in wrapping signed 64-bit arithmetic,
//    then taken mod (2^64 - 1) as Python does (negative values gain 2^64 - 1);
//  - tgi: hashing_key * last id, which must stay below 2^64 (TGI's
//    manual_seed refuses larger values).
// Only the low 32 bits of a seed reach the generator.
#pragma once
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "isotope/status.hpp"

namespace isotope::detail {

enum class TorchKgwSeeding { hf_lefthash, hf_selfhash, tgi };

inline constexpr std::uint32_t HF_SELFHASH_TABLE_SIZE = 1000003;

struct TorchKgwConfig {
  TorchKgwSeeding seeding = TorchKgwSeeding::hf_lefthash;
  std::uint64_t hashing_key = 15485863;
  std::uint32_t vocab = 0;          // V: the model's vocabulary size (logits dimension)
  std::uint32_t green = 0;          // G = floor(V * ratio), computed in double as Python does
  std::uint32_t context_width = 1;  // selfhash: ids in the window, the token included
};

// G = int(V * ratio) with Python's float product and truncation.
std::uint32_t torch_kgw_green_size(std::uint32_t vocab, double ratio) noexcept;

// The engine's green lists with a cache of recent ones. Not thread-safe.
class TorchGreenLists {
 public:
  static Status create(const TorchKgwConfig& cfg, TorchGreenLists* out);
  // The seed of a scored token. `window` holds the ids before it (at least
  // one; selfhash uses the last context_width - 1 of them).
  Status seed(std::span<const std::uint32_t> window, std::uint32_t token, std::uint64_t* out) const;
  // Whether `token` is green under `seed` (ids from V on, which the engine's
  // permutation never holds, are red).
  Status is_green(std::uint64_t seed, std::uint32_t token, bool* out);
  // The green ids under `seed`, in the engine's order (the permutation's first
  // G).
  Status green_ids(std::uint64_t seed, std::vector<std::uint32_t>* out) const;
  const TorchKgwConfig& config() const noexcept { return cfg_; }

 private:
  TorchKgwConfig cfg_;
  std::vector<std::uint32_t> table_;                                    // selfhash: T
  std::unordered_map<std::uint32_t, std::vector<std::uint8_t>> masks_;  // low 32 bits of the seed -> green mask
  std::vector<std::uint32_t> perm_;
};

}  // namespace isotope::detail
