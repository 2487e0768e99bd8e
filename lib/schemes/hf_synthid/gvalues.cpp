// Hugging Face SynthID g-values (hf_synthid.hpp).
#include "prf/torch_cpu.hpp"
#include "schemes/hf_synthid/hf_synthid.hpp"

namespace isotope::detail {

std::vector<std::uint8_t> hf_synthid_table(std::uint32_t table_size, std::uint64_t seed) {
  std::mt19937 gen = torch_cpu_generator(seed);
  std::vector<std::uint8_t> bits;
  torch_random_bits(gen, table_size, &bits);
  return bits;
}

void hf_synthid_gvalues(std::span<const std::uint8_t> table, std::span<const std::uint64_t> keys,
                        std::span<const std::uint32_t> context, std::uint32_t token, std::span<std::uint8_t> out) {
  const std::uint64_t h = hf_synthid_hash1(hf_synthid_hash(1, context), token);
  const auto S = static_cast<std::uint32_t>(table.size());
  for (std::size_t l = 0; l < keys.size() && l < out.size(); ++l)
    out[l] = table[hf_synthid_index(hf_synthid_hash1(h, keys[l]), S)];
}

}  // namespace isotope::detail
