// The torch-CPU green lists of hf-kgw and tgi-kgw (torch_kgw.hpp).
#include <algorithm>
#include <limits>
#include <string>

#include "prf/torch_cpu.hpp"
#include "schemes/torch_kgw/torch_kgw.hpp"

namespace isotope::detail {
namespace {
constexpr std::size_t MAX_CACHED_LISTS = 256;
}

std::uint32_t torch_kgw_green_size(std::uint32_t vocab, double ratio) noexcept {
  const double g = static_cast<double>(vocab) * ratio;
  return g <= 0.0 ? 0u : static_cast<std::uint32_t>(g);
}

Status TorchGreenLists::create(const TorchKgwConfig& cfg, TorchGreenLists* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (cfg.vocab < 2 || cfg.vocab > TORCH_RANDPERM_MAX_N)
    return {Code::invalid_argument, "vocab_size must be between 2 and " + std::to_string(TORCH_RANDPERM_MAX_N) +
                                        " (the model config's vocab_size, the size of its logits)"};
  if (cfg.green == 0 || cfg.green >= cfg.vocab)
    return {Code::invalid_argument, "the green list would hold " + std::to_string(cfg.green) + " of " +
                                        std::to_string(cfg.vocab) + " tokens: it must hold at least one and not all"};
  if (cfg.seeding == TorchKgwSeeding::hf_selfhash && cfg.context_width == 0)
    return {Code::invalid_argument, "selfhash needs a context width of at least 1"};
  TorchGreenLists g;
  g.cfg_ = cfg;
  if (cfg.seeding == TorchKgwSeeding::hf_selfhash) {
    std::mt19937 gen = torch_cpu_generator(cfg.hashing_key);
    ISOTOPE_RETURN_IF_ERROR(torch_randperm_prefix(gen, HF_SELFHASH_TABLE_SIZE, HF_SELFHASH_TABLE_SIZE, &g.table_));
  }
  *out = std::move(g);
  return Status::OK();
}

Status TorchGreenLists::seed(std::span<const std::uint32_t> window, std::uint32_t token, std::uint64_t* out) const {
  const std::uint64_t hk = cfg_.hashing_key;
  switch (cfg_.seeding) {
    case TorchKgwSeeding::hf_lefthash:
      if (window.empty()) return {Code::invalid_argument, "lefthash needs the previous token"};
      *out = mulmod_2p64m1(hk, window.back());
      return Status::OK();
    case TorchKgwSeeding::tgi: {
      if (window.empty()) return {Code::invalid_argument, "the TGI watermark needs the previous token"};
      const std::uint64_t prev = window.back();
      if (prev != 0 && hk > std::numeric_limits<std::uint64_t>::max() / prev)
        return {Code::invalid_argument,
                "hashing key * previous token id reaches "
                "2^64: TGI's generator cannot be "
                "seeded with it (previous token " +
                    std::to_string(prev) + ")"};
      *out = hk * prev;
      return Status::OK();
    }
    case TorchKgwSeeding::hf_selfhash: {
      const std::size_t before = cfg_.context_width - 1;
      if (window.size() < before) return {Code::invalid_argument, "selfhash needs context_width - 1 previous tokens"};
      const std::uint64_t b = table_[token % HF_SELFHASH_TABLE_SIZE] + 1ull;
      // hashing_key * a * b in torch's int64 (wrapping), least as signed.
      auto term = [&](std::uint32_t id) {
        const std::uint64_t a = table_[id % HF_SELFHASH_TABLE_SIZE] + 1ull;
        return static_cast<std::int64_t>(hk * a * b);
      };
      std::int64_t least = term(token);
      for (std::size_t i = window.size() - before; i < window.size(); ++i) least = std::min(least, term(window[i]));
      // Python: least % (2^64 - 1), non-negative.
      *out = least >= 0 ? static_cast<std::uint64_t>(least) : static_cast<std::uint64_t>(least) - 1u;
      return Status::OK();
    }
  }
  return {Code::internal, "unknown seeding"};
}

Status TorchGreenLists::green_ids(std::uint64_t seed, std::vector<std::uint32_t>* out) const {
  std::mt19937 gen = torch_cpu_generator(seed);
  return torch_randperm_prefix(gen, cfg_.vocab, cfg_.green, out);
}

Status TorchGreenLists::is_green(std::uint64_t seed, std::uint32_t token, bool* out) {
  if (token >= cfg_.vocab) {  // beyond the engine's vocab_size (padded logits): never in the permutation
    *out = false;
    return Status::OK();
  }
  const auto s32 = static_cast<std::uint32_t>(seed);
  auto it = masks_.find(s32);
  if (it == masks_.end()) {
    if (masks_.size() >= MAX_CACHED_LISTS) masks_.clear();
    ISOTOPE_RETURN_IF_ERROR(green_ids(seed, &perm_));
    std::vector<std::uint8_t> mask(cfg_.vocab, 0);
    for (std::uint32_t id : perm_) mask[id] = 1;
    it = masks_.emplace(s32, std::move(mask)).first;
  }
  *out = it->second[token] != 0;
  return Status::OK();
}

}  // namespace isotope::detail
