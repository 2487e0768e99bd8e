# Context width 0 (the unigram scheme): prompt exclusion still means something
# (tuples whose token occurs in the prompt are dropped), so a clean model that
# repeats or reshuffles its watermarked prompt is not flagged; the open audit
# says when it has no power.
source "$(dirname "$0")/lib.sh" "$1"
src="${ISOTOPE_SOURCE_DIR:?}"
fixed_key "$WORK/k.key" unigram-1
cd "$WORK" || exit 1
head -n 20 "$src/corpora/prompts.jsonl" > p.jsonl
"$ISOTOPE" generate -q -k k.key -H 0 --prompts p.jsonl -n 120 --seed 2 -o marked.jsonl || fail "generate"
# A clean "model" that echoes the watermarked text as its answer, and one that
# answers with half of its words shuffled: the prompt is the watermarked text.
/usr/bin/python3 - marked.jsonl > echo.jsonl <<'PY'
import json, random, sys
rnd = random.Random(4)
for line in open(sys.argv[1]):
    t = json.loads(line)["response"]
    words = t.split()
    half = words[: len(words) // 2]
    rnd.shuffle(half)
    print(json.dumps({"prompt": t, "response": t}))
    print(json.dumps({"prompt": t, "response": " ".join(half)}))
PY
expect_exit 0 "$ISOTOPE" detect -k k.key -H 0 --jsonl --json echo.jsonl
/usr/bin/python3 - "$WORK/out" <<'PY' || die "echoed prompts are flagged at h = 0"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 40
flagged = [r for r in rows if r["watermarked"]]
assert not flagged, [(r["input"], r["log10_p"]) for r in flagged]
assert all(r["skipped"]["prompt"] > 0 for r in rows)
PY
expect_exit 0 "$ISOTOPE" audit -k k.key -H 0 --suspect echo.jsonl --control 5 --json
expect_in "$WORK/out" '"flagged": false'
# Without the prompts the same answers are flagged: the rule is what protects.
/usr/bin/python3 -c 'import json,sys; [print(json.dumps({"text": json.loads(l)["response"]})) for l in open(sys.argv[1])]' \
  echo.jsonl > bare.jsonl
expect_exit 0 "$ISOTOPE" detect -k k.key -H 0 --jsonl --json bare.jsonl
expect_in "$WORK/out" '"watermarked":true'
# The open audit at h = 0 scores one position per text: it says it has no power.
"$ISOTOPE" lm train -q -c "$src/corpora/heldout/devil.txt" marked.jsonl -o s.lm || fail "train"
expect_exit 0 "$ISOTOPE" audit --mode open -k k.key -H 0 --teacher marked.jsonl --model s.lm --control 3
expect_in "$WORK/out" "no power"
finish
