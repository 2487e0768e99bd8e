#!/usr/bin/env bash
# Runs isotope_bench once and prints the figures quoted in the README: the
# cost of the watermark as a ratio to plain sampling on the same logits, and
# the detection rate. Ratios come from one run (same process, same machine
# state), each time the median of R repetitions.
#
#   bench/ratios.sh [BUILD_DIR] [REPETITIONS]     (defaults: build, 5)
set -euo pipefail
build="${1:-build}"
reps="${2:-5}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
"$build/isotope_bench" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.2 --benchmark_enable_random_interleaving=true --benchmark_format=json > "$out"
python3 - "$out" <<'PY'
import json, sys
rows = {b["run_name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"}
def t(name): return rows[name]["cpu_time"]
print("| V | full vocabulary: plain / watermarked / ratio | top-k 50: plain / watermarked / ratio | top-k 50, peaked logits: ratio | top-k 50, skewed logits: ratio |")
print("| ---: | --- | --- | --- | --- |")
for v in (32000, 128256, 256000):
    p, w = t(f"BM_SamplePlain/{v}"), t(f"BM_SampleWatermarked/{v}")
    pk, wk = t(f"BM_SamplePlainTopK/{v}"), t(f"BM_SampleWatermarkedTopK/{v}")
    pp, wp = t(f"BM_SamplePlainTopKPeaked/{v}"), t(f"BM_SampleWatermarkedTopKPeaked/{v}")
    ps, ws = t(f"BM_SamplePlainTopKSkewed/{v}"), t(f"BM_SampleWatermarkedTopKSkewed/{v}")
    print(f"| {v} | {p:.0f} us / {w:.0f} us / **{w/p:.2f}x** | {pk:.0f} us / {wk:.0f} us / **{wk/pk:.2f}x** "
          f"| {wp/pp:.2f}x | {ws/ps:.2f}x |")
print()
print("Paired (BM_Paired: alternating batches of 20 plain and 20 watermarked draws, medians):")
print()
print("| V | full vocabulary: plain / watermarked / ratio | top-k 50: plain / watermarked / ratio |")
print("| ---: | --- | --- |")
for v in (32000, 128256, 256000):
    f, k = rows[f"BM_Paired/{v}/0"], rows[f"BM_Paired/{v}/50"]
    print(f"| {v} | {f['plain_us']:.0f} us / {f['watermarked_us']:.0f} us / **{f['ratio']:.2f}x** "
          f"| {k['plain_us']:.0f} us / {k['watermarked_us']:.0f} us / **{k['ratio']:.2f}x** |")
print()
print()
print("Schemes (BM_Sample<S> against BM_SamplePlain, BM_Sample<S>TopK against BM_SamplePlainTopK, same run):")
print()
print("| V | scheme | full vocabulary: time / ratio | top-k 50: time / ratio |")
print("| ---: | --- | --- | --- |")
for v in (32000, 128256, 256000):
    p, pk = t(f"BM_SamplePlain/{v}"), t(f"BM_SamplePlainTopK/{v}")
    for s in ("Kgw", "Gumbel", "SynthId"):
        f, k = t(f"BM_Sample{s}/{v}"), t(f"BM_Sample{s}TopK/{v}")
        print(f"| {v} | {s} | {f:.0f} us / **{f/p:.2f}x** | {k:.0f} us / **{k/pk:.2f}x** |")
print()
for s in ("Kgw", "Gumbel", "SynthId"):
    print(f"Detection, {s}: **{rows['BM_DetectIds' + s]['items_per_second']/1e6:.1f} million tokens/s** on one core.")
d = rows["BM_DetectIds"]
plain = rows["BM_PlainPassIds"]
print()
print(f"Detection (BM_DetectIds, 1M random ids, every tuple new, dedup on): "
      f"**{d['items_per_second']/1e6:.1f} million tokens/s** on one core "
      f"(a plain pass over the same ids: {plain['items_per_second']/1e9:.1f} billion/s). "
      f"Exact p-value for n = 10^6: {t('BM_BinomialTail/1000000'):.1f} us.")
PY
