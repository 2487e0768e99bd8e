#!/usr/bin/env bash
# isotope audit (closed model): a student trained on watermarked answers is
# flagged, the wrong key is not, results are reproducible, bad inputs fail cleanly.
source "$(dirname "$0")/lib.sh" "$1"
SRC="${ISOTOPE_SOURCE_DIR:?}"
T="$WORK"
audit_fixture
sed -n '101,160p' "$SRC/corpora/prompts.jsonl" >"$T/sp.jsonl"
"$ISOTOPE" generate -q --no-watermark -m "$T/student.lm" --prompts "$T/sp.jsonl" -n 120 --seed 4 -o "$T/suspect.jsonl" || die "suspect"

SEED=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
A=("$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/suspect.jsonl" --control 10 --control-seed $SEED)
"${A[@]}" --teacher "$T/teacher.jsonl" --json -o "$T/r1.json" || die "audit with filter"
"${A[@]}" --teacher "$T/teacher.jsonl" --json -o "$T/r2.json" || die "audit again"
cmp -s "$T/r1.json" "$T/r2.json" || die "the same audit gave different results"
[ "$(field "$T/r1.json" "j['flagged'] and j['valid'] and j['mode']=='closed' and j['log10_p'] < -6")" = True ] || die "student not flagged with the filter: $(field "$T/r1.json" "j['log10_p']")"
[ "$(field "$T/r1.json" "j['filter']['enabled'] and j['filter']['teacher_windows'] > 1000 and j['skipped']['filter'] > 0")" = True ] || die "filter fields"
[ "$(field "$T/r1.json" "j['records'] == 60 and len(j['control']['log10_p']) == 10 and j['control']['seed'] == '$SEED'")" = True ] || die "records/control fields"
[ "$(field "$T/r1.json" "j['skipped']['prompt'] > 0 and j['rules']['dedup'] and j['rules']['prompt_exclusion']")" = True ] || die "rule counters"
"${A[@]}" --json -o "$T/nf.json" || die "audit without filter"
[ "$(field "$T/nf.json" "(not j['filter']['enabled']) and j['skipped']['filter'] == 0")" = True ] || die "no-filter fields"
"$ISOTOPE" audit -q --key "$T/k2" --suspect "$T/suspect.jsonl" --teacher "$T/teacher.jsonl" --control 0 --json -o "$T/w.json" || die "wrong key audit"
[ "$(field "$T/w.json" "(not j['flagged']) and j['log10_p'] > -4")" = True ] || die "wrong key flagged: $(field "$T/w.json" "j['log10_p']")"

"${A[@]}" --teacher "$T/teacher.jsonl" >"$T/human.txt" || die "human output"
grep -q "^Answer: YES" "$T/human.txt" || die "human output lacks the answer"
grep -q "Control:" "$T/human.txt" || die "human output lacks the control summary"
"${A[@]}" --no-dedup --json -o "$T/nd.json" || die "--no-dedup"
[ "$(field "$T/nd.json" "(not j['valid']) and (not j['flagged']) and not j['rules']['dedup']")" = True ] || die "--no-dedup not marked invalid"
"${A[@]}" --no-prompt-exclusion >"$T/np.txt" || die "--no-prompt-exclusion"
grep -q "NOT valid" "$T/np.txt" || die "--no-prompt-exclusion not marked invalid"

# Bad inputs: clear errors, distinct exit codes.
expect_rc 3 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/missing.jsonl"
: >"$T/empty.jsonl"
expect_rc 5 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/empty.jsonl"
echo '{"prompt": "a", "response": ' >"$T/bad.jsonl"
expect_rc 5 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/bad.jsonl"
echo '{"prompt": "a"}' >"$T/noresp.jsonl"
expect_rc 5 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/noresp.jsonl"
printf '{"prompt": "a", "response": "b \xff c"}\n' >"$T/utf8.jsonl"
expect_rc 5 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/utf8.jsonl"
expect_rc 5 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/suspect.jsonl" --teacher "$T/empty.jsonl"
expect_rc 2 "$ISOTOPE" audit -q --key "$T/k1"
expect_rc 2 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/suspect.jsonl" --control-seed 1234
expect_rc 2 "$ISOTOPE" audit -q --key "$T/k1" --suspect "$T/suspect.jsonl" --model "$T/student.lm"
chmod 644 "$T/k2"
expect_rc 4 "$ISOTOPE" audit -q --key "$T/k2" --suspect "$T/suspect.jsonl"

finish
