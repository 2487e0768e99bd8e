// isotope — scoring token sequences for the watermark (Fernandez et al. 2023).
#pragma once
#include "isotope/export.h"
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "isotope/key.hpp"
#include "isotope/prf.hpp"
#include "isotope/profile.hpp"
#include "isotope/stats.hpp"
#include "isotope/status.hpp"

namespace isotope {

// A set of context windows (h-grams of token ids), compared exactly.
class ISOTOPE_API WindowSet {
 public:
  explicit WindowSet(std::uint32_t width = 2);
  ~WindowSet();
  WindowSet(WindowSet&&) noexcept;
  WindowSet& operator=(WindowSet&&) noexcept;

  std::uint32_t width() const noexcept;
  // Inserts every run of width() consecutive ids of `ids`. With width 0 (the
  // unigram scheme) there are no windows: the set stays empty and contains()
  // is always false.
  void add_windows_of(std::span<const std::uint32_t> ids);
  bool insert(std::span<const std::uint32_t> window);  // true if new
  bool contains(std::span<const std::uint32_t> window) const noexcept;
  std::size_t size() const noexcept;
  void clear() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ISOTOPE_API DetectionResult {
  std::uint64_t tokens = 0;             // token positions seen
  std::uint64_t scored = 0;             // N: tuples scored
  std::uint64_t green = 0;              // S: green among them
  std::uint64_t skipped_short = 0;      // positions i < h (no full window)
  std::uint64_t skipped_duplicate = 0;  // (window, token) already scored
  std::uint64_t skipped_prompt = 0;     // window occurs in the prompt
  std::uint64_t skipped_filter = 0;     // window not in the required set (audit filter)
  double gamma = 0.25;                  // effective gamma of the null
  double green_fraction = 0.0;
  double z = 0.0;
  double log10_p = 0.0;
  double p_value = 1.0;
};

// Per-token outcome for display: 1 green, 0 red, -1 not scored.
using TokenMask = std::vector<std::int8_t>;

// Rules applied by a Scorer. Dedup can be switched off only for experiments
// that show why it exists; results then say so.
struct ISOTOPE_API ScoreRules {
  bool dedup = true;
};

// Accumulates scores over any number of token sequences with one dedup memory:
// a (window, token) tuple counts only the first time it is seen.
class ISOTOPE_API Scorer {
 public:
  ~Scorer();
  Scorer(const Scorer&) = delete;
  Scorer& operator=(const Scorer&) = delete;

  static Status create(const Key& key, const Profile& profile, std::unique_ptr<Scorer>* out,
                       ScoreRules rules = {});

  const Profile& profile() const noexcept;
  const ScoreRules& rules() const noexcept;

  // Scores positions i >= h of `ids`. Tuples whose window is in `exclude`
  // (prompt windows) are skipped; if `require` is non-null, tuples whose window
  // is not in it are skipped (the audit filter). `mask`, if non-null, receives
  // one entry per id.
  Status add(std::span<const std::uint32_t> ids, const WindowSet* exclude = nullptr,
             const WindowSet* require = nullptr, TokenMask* mask = nullptr);
  // Scores externally predicted tokens: predicted[i] is scored with the window
  // ids[i-h..i) (reading mode of the open-model audit). Same rules as add().
  // `mask`, if non-null, receives one entry per position of `ids`: the outcome
  // of the prediction scored there (1 green, 0 red, -1 not scored).
  Status add_predictions(std::span<const std::uint32_t> ids, std::span<const std::uint32_t> predicted,
                         const WindowSet* exclude = nullptr, const WindowSet* require = nullptr,
                         TokenMask* mask = nullptr);

  // Counts so far with the exact p-value.
  DetectionResult result() const;
  void reset();

 private:
  Scorer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot: a fresh Scorer over one sequence.
ISOTOPE_API Status detect_ids(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids,
                  DetectionResult* out, TokenMask* mask = nullptr);

}  // namespace isotope
