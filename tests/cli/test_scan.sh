#!/usr/bin/env bash
# detect --scan: 100 watermarked tokens pasted inside about 3,400 tokens of
# human text are missed by plain detection and found by the scan, with the
# span's offsets and text; the scan is recorded in reports, which verify;
# bad scan options are usage errors.
source "$(dirname "$0")/lib.sh" "$1"
cd "$WORK"
src="${ISOTOPE_SOURCE_DIR:?}"

# Fixed keys: the outcome does not depend on the run.
printf 'isotope-watermark-key v1\n%s\n' 4f3af8a7e2a7454639e21d13990bb37a782ddc0e03eb8f1f1746c91a82602ded > k.key
printf 'isotope-watermark-key v1\n%s\n' 11a75ec7712409a50bda3ad75640619ae12d39787246b50a7a89792e72fab7c5 > other.key
chmod 600 k.key other.key
"$ISOTOPE" signer new -o s.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k k.key -n 100 --seed 3 -q -o w.txt || fail generate
# About 1,700 human tokens before and after the watermarked text.
python3 - "$src/corpora/heldout/jargon.txt" <<'PY' || fail "making the mixed document"
import json, sys
human = open(sys.argv[1], encoding="utf-8").read()[20000:]
w = open("w.txt", encoding="utf-8").read().strip()
doc = human[:6000] + " " + w + " " + human[6000:12000]
open("mixed.txt", "w", encoding="utf-8").write(doc)
open("human.txt", "w", encoding="utf-8").write(human[:12000])
with open("mixed.jsonl", "w", encoding="utf-8") as f:
    f.write(json.dumps({"text": doc}) + "\n" + json.dumps({"text": human[:12000]}) + "\n")
PY

expect_rc 0 "$ISOTOPE" detect -k k.key --json mixed.txt
python3 - "$WORK/out" <<'PY' || die "plain detection: expected no watermark found and no scan member"
import json, sys
j = json.loads(open(sys.argv[1]).readline())
assert 3300 <= j["tokens"] <= 3700, j["tokens"]
assert j["log10_p"] > -4 and not j["watermarked"], j["log10_p"]
assert "scan" not in j
PY

expect_rc 0 "$ISOTOPE" detect -k k.key --json --scan mixed.txt
cp "$WORK/out" scan.json
python3 - "$WORK/out" <<'PY' || die "the scan did not find the watermarked span: $(cat scan.json)"
import json, sys
j = json.loads(open(sys.argv[1]).readline())
s = j["scan"]
assert s["log10_p"] <= -4 and s["watermarked"], s
assert s["correction"] == "bonferroni" and s["min_length"] == 32
assert 300 <= s["windows"] <= 600, s["windows"]
# corrected = the window's own p-value times the number of windows
import math
assert abs(s["log10_p"] - (s["window"]["log10_p"] + math.log10(s["windows"]))) < 1e-9, s
assert 0 <= s["start"] < s["end"] <= j["tokens"]
w = open("w.txt", encoding="utf-8").read()
# The span's text is mostly watermarked text: one stretch of w.txt makes up
# at least half of it.
import difflib
t = s["text"]
m = difflib.SequenceMatcher(None, t, w, autojunk=False).find_longest_match(0, len(t), 0, len(w))
assert m.size >= 0.5 * len(t), (t, m.size)
assert j["log10_p"] > -4  # the plain result is unchanged
PY

expect_rc 0 "$ISOTOPE" detect -k k.key --scan mixed.txt
expect_in "$WORK/out" "Scan: WATERMARKED span"
expect_in "$WORK/out" "windows tried, Bonferroni-corrected"
expect_in "$WORK/out" "best window: tokens [0-9]+-[0-9]+"
expect_in "$WORK/out" "Span: \""

# Another key, and the human text alone: nothing found.
expect_rc 0 "$ISOTOPE" detect -k other.key --json --scan mixed.txt
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).readline())["scan"]; assert s["log10_p"] > -4 and not s["watermarked"], s' \
  "$WORK/out" || die "another key's scan flagged the document"
expect_rc 0 "$ISOTOPE" detect -k k.key --scan human.txt
expect_in "$WORK/out" "Scan: no watermarked span found"

# JSONL: one scan per record, streamed; the same numbers as for the file.
expect_rc 0 "$ISOTOPE" detect -k k.key --json --scan --jsonl mixed.jsonl
python3 - "$WORK/out" <<'PY' || die "the JSONL scan differs"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 2
assert lines[0]["scan"]["watermarked"] and not lines[1]["scan"]["watermarked"]
PY

# A shorter shortest window, recorded.
expect_rc 0 "$ISOTOPE" detect -k k.key --json --scan --scan-min-length 64 mixed.txt
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).readline())["scan"]; assert s["min_length"] == 64 and s["windows"] < 300, s' \
  "$WORK/out" || die "--scan-min-length 64 not applied"

# Reports record the scan and verify recomputes it.
expect_rc 0 "$ISOTOPE" detect -k k.key --scan mixed.txt --report r.json --sign s.key
python3 -c 'import json,sys; d=json.load(open("r.json")); assert d["options"]["scan"] == {"min_length": 32}; assert d["result"]["texts"][0]["scan"]["watermarked"]' ||
  die "the report does not record the scan"
expect_rc 0 "$ISOTOPE" verify r.json --signer s.key.pub --key k.key --inputs mixed.txt -q
expect_in "$WORK/out" VERIFIED

# Usage errors.
expect_rc 2 "$ISOTOPE" detect -k k.key --scan --scan-min-length 33 mixed.txt
expect_in "$WORK/err" "even"
expect_exit 2 "$ISOTOPE" detect -k k.key --scan-min-length 64 mixed.txt
expect_in "$WORK/err" "requires --scan"
expect_exit 2 "$ISOTOPE" detect -k k.key --scan --scan-min-length 0 mixed.txt
expect_in "$WORK/err" "not in range"

finish
