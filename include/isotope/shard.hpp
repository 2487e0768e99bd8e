// isotope — an audit cut into pieces that run apart (on the workers of a
// cluster, see the Python module isotope.dask and docs/scale.md) and give the
// numbers of Audit (isotope/audit.hpp) exactly.
//
// The rules of an audit and where each is decided:
//  1. per record (any worker holding the record): positions without a full
//     context, prompt exclusion (closed: the record's own prompt), and in
//     reading mode the windows repeated within the same text. These depend
//     on that record alone. The tuples that survive are routed to one of P
//     partitions by a hash of their window (shard_of): every occurrence of a
//     tuple, and every filter window it could match, lands in the same
//     partition.
//  2. per partition (one worker): the filter (is the window among the
//     teacher's windows of this partition?), then deduplication: the first
//     occurrence in scoring order (record, then position) is admitted, every
//     later one skipped. The tuples arrive in scoring order (chunks are
//     concatenated in record order), so each partition takes the same
//     decisions for its tuples as one machine takes for all of them. On
//     several workers, each contiguous run of chunks is admitted where it
//     lies, then the tuples an earlier run admitted too are dropped
//     (shard_dedup_runs), which gives the same decisions.
//  3. scoring (the partition's worker): the admitted tuples under the
//     provider's key and every control key; the sums per key (and per span of
//     the scoring order, for the p-value curve) are added up across
//     partitions.
// The counts (skips per rule, tuples scored, distinct filter windows) are
// sums over records or partitions. Sums of scores are the same in any order
// when every score is a whole number (KGW, SynthID); shard_sums_exact() says
// whether a profile's are.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "isotope/audit.hpp"
#include "isotope/detect.hpp"
#include "isotope/export.h"
#include "isotope/key.hpp"
#include "isotope/profile.hpp"
#include "isotope/status.hpp"

namespace isotope {

// The partition (0 .. parts-1) of a tuple: a 64-bit mix of its window
// (h ids; at h = 0 of its token, since every window is then the empty one),
// reduced modulo `parts`. Deterministic across machines. parts >= 1.
ISOTOPE_API std::uint32_t shard_of(std::span<const std::uint32_t> window, std::uint32_t token,
                                   std::uint32_t parts) noexcept;

// Tuples bound for one partition, in scoring order.
struct ISOTOPE_API ShardTuples {
  std::uint32_t width = 0;               // h
  std::vector<std::uint32_t> windows;    // h ids per tuple
  std::vector<std::uint32_t> tokens;     // one per tuple
  std::vector<std::uint32_t> records;    // the record's index in its chunk
  std::vector<std::uint32_t> positions;  // the tuple's position in its record
  std::size_t size() const noexcept { return tokens.size(); }
};

// Counts of step 1: tokens, skipped_short, skipped_prompt and (reading mode)
// skipped_duplicate for windows repeated within a text; `records` records read.
struct ISOTOPE_API ShardCounts {
  std::uint64_t records = 0, tokens = 0, skipped_short = 0, skipped_prompt = 0, skipped_duplicate = 0;
};

// Step 1, closed model: the per-record rules over a chunk of records, the
// survivors routed into out[0 .. parts-1]. With prompt_exclusion, tuples whose
// window occurs in their record's prompt (h = 0: whose token does) are
// dropped, as Audit::closed does.
ISOTOPE_API Status shard_closed(const Profile& profile, std::span<const AuditRecord> records, bool prompt_exclusion,
                                std::uint32_t parts, std::vector<ShardTuples>* out, ShardCounts* counts);
// Step 1, open model (reading mode): predictions[r][i] is the suspect's top-1
// token after teacher[r][0..i); with dedup, windows repeated within a text are
// dropped (Audit::open). Every prediction must be below vocab_size.
ISOTOPE_API Status shard_open(const Profile& profile, std::span<const std::vector<std::uint32_t>> teacher,
                              std::span<const std::vector<std::uint32_t>> predictions, std::uint32_t vocab_size,
                              bool dedup, std::uint32_t parts, std::vector<ShardTuples>* out, ShardCounts* counts);
// The filter's windows of a chunk of teacher texts, routed: out[p] holds the
// distinct windows (h ids each) of partition p. Requires h >= 1.
ISOTOPE_API Status shard_windows(const Profile& profile, std::span<const std::vector<std::uint32_t>> texts,
                                 std::uint32_t parts, std::vector<std::vector<std::uint32_t>>* out);

// What a partition admitted, in scoring order: order[j] = (record << 32) |
// position, the record counted over the whole audit.
struct ISOTOPE_API ShardAdmitted {
  std::uint32_t width = 0;
  std::vector<std::uint32_t> windows;
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint64_t> order;
  std::uint64_t skipped_filter = 0, skipped_duplicate = 0;
  std::uint64_t filter_windows = 0;  // distinct filter windows of this partition
  std::size_t size() const noexcept { return tokens.size(); }
};

namespace detail {
class TupleSet;
}

// The (window, token) tuples that shard_admit admitted for one partition,
// kept as the hash set it deduplicated them with, so that shard_dedup_runs
// need not build it again. Move-only; `set` is internal (null: none kept).
struct ISOTOPE_API ShardSeen {
  ShardSeen();
  ~ShardSeen();
  ShardSeen(ShardSeen&&) noexcept;
  ShardSeen& operator=(ShardSeen&&) noexcept;
  std::unique_ptr<detail::TupleSet> set;
};

// Step 2 for one partition: `chunks` are the partition's tuples from each
// chunk of records, in record order; record_offsets[c] is the index (over
// the whole audit) of chunk c's first record. `filter`, if non-null, holds
// the partition's filter windows (h ids each, repeats allowed, from every
// teacher chunk). With dedup, each (window, token) tuple is admitted once:
// at its first occurrence that passed the filter. `seen`, if non-null,
// receives with dedup the set of the admitted tuples (for shard_dedup_runs;
// its table has 4 (h + 2) bytes per slot and 1.3 to 2.7 slots per tuple of
// the chunks, sized before the filter and deduplication), without dedup
// nothing.
ISOTOPE_API Status shard_admit(const Profile& profile, std::span<const ShardTuples> chunks,
                               std::span<const std::uint64_t> record_offsets,
                               const std::vector<std::vector<std::uint32_t>>* filter, bool dedup, ShardAdmitted* out,
                               ShardSeen* seen = nullptr);

// The keys of the tuples a run admitted (ShardAdmitted's windows and tokens),
// viewed: h ids per window, one token per tuple.
struct ShardKeys {
  std::span<const std::uint32_t> windows;
  std::span<const std::uint32_t> tokens;
};

// Step 2, across runs: when the chunks of records are cut into runs
// (contiguous, in record order) and each run's tuples of a partition were
// admitted on their own (shard_admit with dedup: each run's tuples are
// distinct), a tuple that an earlier run admitted is a duplicate in every
// later run. runs[i] are run i's admitted tuples of the partition, the runs
// in record order. keep[i][j] = 1 if tuple j of run i is its first
// occurrence over all runs, else 0; `dropped` counts the zeros. Run `local`'s
// tuples are given as the set shard_admit kept for them (`seen`, which must
// hold exactly those tuples) or, with seen null or empty, built here; only
// the other runs' keys are then hashed. The decisions are those of one
// shard_admit over all the runs' chunks, whatever `local` is. Errors:
// Code::invalid_argument for keys that do not match the context width, a
// `local` not below runs.size(), or a `seen` of another size.
ISOTOPE_API Status shard_dedup_runs(const Profile& profile, std::span<const ShardKeys> runs, std::size_t local,
                                    const ShardSeen* seen, std::vector<std::vector<std::uint8_t>>* keep,
                                    std::uint64_t* dropped);

// Whether this profile's audit can run by partitions with the single-machine
// result exactly: every score a whole number (sums are then the same in every
// order), an isotope key (control keys derived as on one machine), windows
// without padding, deduplication by (window, token), and a null that depends
// on the statistic alone (no TupleNull). Today: KGW and SynthID.
ISOTOPE_API bool shard_sums_exact(const Profile& profile) noexcept;

// Step 3: sums[b] = the sum of the scores under `key` of the tuples j with
// bins[j] == b (b < nbins), in order; `scores`, if non-null, receives each
// tuple's score.
ISOTOPE_API Status shard_score(const Key& key, const Profile& profile, const ShardAdmitted& tuples,
                               std::span<const std::uint32_t> bins, std::uint32_t nbins, std::vector<double>* sums,
                               std::vector<double>* scores = nullptr);
// The same under control keys first .. first+count-1 (audit_control_key):
// sums[(i - first) * nbins + b]. `threads` keys at a time (0: one per core).
ISOTOPE_API Status shard_score_controls(const ControlSeed& seed, std::uint32_t first, std::uint32_t count,
                                        const Profile& profile, const ShardAdmitted& tuples,
                                        std::span<const std::uint32_t> bins, std::uint32_t nbins,
                                        std::vector<double>* sums, unsigned threads = 1);

// Step 3 when the scores are kept for later (a cluster scores each partition
// before the curve's cut points are known): each tuple's score under `key`
// (row 0) and under control keys 0 .. controls-1 (audit_control_key; row
// 1 + i), one byte each: out[row * n + j] for tuple j of n. Needs whole-number
// scores from 0 to 255 (shard_sums_exact profiles: KGW 0 or 1, SynthID the
// g = 1 among its layers); out must hold (1 + controls) * n bytes. `threads`
// rows at a time (0: one per core); the bytes do not depend on it. Errors:
// Code::invalid_argument for another profile, a score that is not such a
// whole number, or an output of another size.
ISOTOPE_API Status shard_score_bytes(const Key& key, const ControlSeed& seed, std::uint32_t controls,
                                     const Profile& profile, const ShardAdmitted& tuples, std::span<std::uint8_t> out,
                                     unsigned threads = 1);

// The control summary from the control keys' p-values (index order): how
// many fell below 0.05 and the Kolmogorov-Smirnov p-value against U(0, 1),
// as Audit::control gives them.
ISOTOPE_API ControlResult control_summary(std::vector<double> log10_p, std::span<const double> p_values);

// The warnings of an audit that scored `scored` tuples (Audit::run).
ISOTOPE_API std::vector<std::string> audit_warnings(AuditMode mode, const Profile& profile, std::uint64_t scored);

}  // namespace isotope
