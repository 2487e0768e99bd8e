#!/usr/bin/env bash
# The vLLM-compatible profiles from the command line: engine key import,
# detection on token ids against the independent reference values, the
# refusal of a key of the wrong kind, and the experiment: an n-gram student
# trained on answers watermarked under the vLLM profile is flagged by the
# closed audit with the filter, and the signed report verifies.
source "$(dirname "$0")/lib.sh" "$1"
src="${ISOTOPE_SOURCE_DIR:?}"
cd "$WORK" || exit 1

# Key import: from standard input, mode 0600, never over an existing file.
echo 15485863 | "$ISOTOPE" key import --int - -o v.key -q >commit.txt || fail "key import"
CHECKS=$((CHECKS + 1))
[ "$(stat -c %a v.key)" = 600 ] || die "engine key file mode $(stat -c %a v.key)"
expect_in v.key "isotope-engine-key v1"
expect_exit 0 "$ISOTOPE" commit v.key
CHECKS=$((CHECKS + 1))
cmp -s out commit.txt || die "commit does not print the import's commitment"
expect_rc 3 "$ISOTOPE" key import --int 7 -o v.key
echo "1;2" | expect_rc 5 "$ISOTOPE" key import --int - -o bad.key
expect_rc 5 "$ISOTOPE" key import --int 18446744073709551616 -o bad.key
expect_rc 2 "$ISOTOPE" key import -o bad.key
"$ISOTOPE" key import --int 1,2 -o two.key -q >/dev/null || fail "two-integer key"

# Detection on token ids gives the reference count, score and tail.
python3 - "$src/tests/vectors/vllm_vectors.json" <<'PY' || fail "writing the id inputs"
import json, sys
doc = json.load(open(sys.argv[1]))
for i, s in enumerate(doc["sequences"]):
    with open(f"seq{i}.jsonl", "w") as f:
        f.write(json.dumps({"ids": s["ids"]}) + "\n")
    with open(f"seq{i}.args", "w") as f:
        args = ["--scheme", s["scheme"], "--context-width", str(s["context_width"])]
        if s["alpha"] is not None:
            args += ["--alpha", repr(s["alpha"])]
        f.write(" ".join(args) + "\n" + s["key"] + "\n")
PY
for args in seq*.args; do
  i="${args%.args}"
  rm -f "$i.key"
  sed -n 2p "$args" | "$ISOTOPE" key import --int - -o "$i.key" -q >/dev/null || fail "import $i"
  # shellcheck disable=SC2046
  expect_exit 0 "$ISOTOPE" detect --key "$i.key" $(sed -n 1p "$args") --vocab-size 32000 --json --jsonl "$i.jsonl"
  cp out "$i.out"
done
python3 - "$src/tests/vectors/vllm_vectors.json" <<'PY' || die "detection differs from the reference"
import json, sys
doc = json.load(open(sys.argv[1]))
for i, s in enumerate(doc["sequences"]):
    r = json.loads(open(f"seq{i}.out").read())
    assert r["scored"] == s["scored"], (i, r["scored"], s["scored"])
    assert abs(r["statistic"] - s["score"]) <= 1e-12 * abs(s["score"]), (i, r["statistic"], s["score"])
    assert abs(r["log10_p"] - s["log10_p"]) <= 1e-9 * abs(s["log10_p"]) + 1e-12, (i, r["log10_p"], s["log10_p"])
    if s.get("engine_p_value") == 0.0:  # where the engine's double tail says 0
        assert r["log10_p"] < -308, (i, r["log10_p"])
PY

# A key of the wrong kind is refused, naming the right one (exit 4).
fixed_key iso.key vllm-1
expect_rc 4 "$ISOTOPE" detect --key iso.key --scheme vllm-gumbel --vocab-size 32000 --jsonl seq0.jsonl
expect_in err "isotope key import"
expect_rc 4 "$ISOTOPE" detect --key v.key --vocab-size 32000 --jsonl seq0.jsonl
expect_in err "engine key"
expect_rc 4 "$ISOTOPE" detect --key two.key --scheme vllm-gumbel --vocab-size 32000 --jsonl seq0.jsonl
chmod 644 v.key
expect_rc 4 "$ISOTOPE" detect --key v.key --scheme vllm-gumbel --vocab-size 32000 --jsonl seq0.jsonl
chmod 600 v.key
expect_rc 2 "$ISOTOPE" detect --key v.key --scheme vllm-gumbel --context-width 17 --vocab-size 32000 --jsonl seq0.jsonl
expect_rc 2 "$ISOTOPE" detect --key v.key --scheme vllm-gumbel --context-width 0 --vocab-size 32000 --jsonl seq0.jsonl
expect_rc 2 "$ISOTOPE" detect --key v.key --scheme vllm-dual-key-gumbel --alpha 1.5 --vocab-size 32000 --jsonl seq0.jsonl

# The experiment: teacher answers under vllm-gumbel, a student trained on
# them, the closed audit with the filter, a signed report that verifies.
head -n 40 "$src/corpora/prompts.jsonl" >tp.jsonl
sed -n '101,160p' "$src/corpora/prompts.jsonl" >sp.jsonl
"$ISOTOPE" generate -q -k v.key --scheme vllm-gumbel --prompts tp.jsonl -n 150 --seed 3 -o teacher.jsonl ||
  fail "teacher"
"$ISOTOPE" lm train -q -c "$src/corpora/heldout/devil.txt" teacher.jsonl -o student.lm || fail "train"
"$ISOTOPE" generate -q --no-watermark -m student.lm --prompts sp.jsonl -n 120 --seed 4 -o suspect.jsonl ||
  fail "suspect"
"$ISOTOPE" signer new -o sign.key -q >/dev/null || fail "signer new"
expect_exit 0 "$ISOTOPE" audit -q --key v.key --scheme vllm-gumbel --suspect suspect.jsonl --teacher teacher.jsonl \
  --control 10 --json --report report.json --sign sign.key
cp out audit.json
[ "$(field audit.json "j['flagged'] and j['valid'] and j['filter']['enabled'] and j['log10_p'] < -6")" = True ] ||
  die "student not flagged under vllm-gumbel: $(field audit.json "j['log10_p']")"
[ "$(field audit.json "max(j['control']['log10_p']) > -4")" = True ] || die "a control key was flagged"
expect_exit 0 "$ISOTOPE" verify report.json --signer sign.key.pub --key v.key --inputs suspect.jsonl teacher.jsonl -q
expect_in out "VERIFIED"
expect_in report.json '"scheme":"vllm-gumbel"'
expect_not_in report.json "15485863"
# The wrong engine key does not flag it.
echo 15485864 | "$ISOTOPE" key import --int - -o w.key -q >/dev/null || fail "import w"
expect_exit 0 "$ISOTOPE" audit -q --key w.key --scheme vllm-gumbel --suspect suspect.jsonl --teacher teacher.jsonl \
  --control 0 --json
[ "$(field out "(not j['flagged']) and j['log10_p'] > -4")" = True ] || die "wrong engine key flagged"
finish
