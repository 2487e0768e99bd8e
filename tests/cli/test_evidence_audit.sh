#!/usr/bin/env bash
# Audit reports: the recomputation in `isotope verify` reproduces an audit
# result exactly and notices a changed input, and a re-signed report whose
# displayed profile was changed.
source "$(dirname "$0")/lib.sh" "$1"
tmp="$WORK"
cd "$tmp"
data="${ISOTOPE_DATA_DIR:?}"

"$ISOTOPE" keygen -o wm.key -q >/dev/null || fail keygen
"$ISOTOPE" signer new -o sign.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k wm.key --prompts "$data/prompts.jsonl" -n 40 -q -o suspect.jsonl || fail generate
"$ISOTOPE" audit -k wm.key --suspect suspect.jsonl --control 5 -q --report r.json --sign sign.key >/dev/null ||
  fail "audit --report"
"$ISOTOPE" verify r.json --signer sign.key.pub -q >/dev/null || fail "verify"
"$ISOTOPE" verify r.json --signer sign.key.pub --key wm.key --inputs suspect.jsonl -q >out.txt 2>&1 || { cat out.txt; fail "verify --key"; }
grep -q VERIFIED out.txt || fail "not VERIFIED"
# The curve ends at the final p-values of the real key and of every control.
python3 - <<'PY' || fail "the audit's curve does not end at its final p-values"
import json
r = json.load(open("r.json"))["result"]
c = r["curve"]
assert c["scored"] and c["scored"][-1] == r["scored"], "scored"
assert c["log10_p"][-1] == r["log10_p"], "real key"
assert [x[-1] for x in c["controls_log10_p"]] == r["control"]["log10_p"], "controls"
assert len(r["sample"]) > 0 and any(t["green"] == 1 for t in r["sample"]), "sample"
PY
sed '3s/e/a/' suspect.jsonl >changed.jsonl
"$ISOTOPE" verify r.json --signer sign.key.pub --key wm.key --inputs changed.jsonl -q >/dev/null 2>&1
[ $? -eq 13 ] || fail "changed suspect file not detected"
# Anyone can re-sign a report; the recomputation still catches a changed profile.
python3 - <<'PY' || fail "editing the report"
import json
d = json.load(open("r.json"))
d["profile"]["gamma"] = 0.5
d.pop("signature", None)
json.dump(d, open("edited.json", "w"))
PY
"$ISOTOPE" report sign edited.json --sign sign.key -o edited-signed.json || fail "report sign"
"$ISOTOPE" verify edited-signed.json --signer sign.key.pub --key wm.key --inputs suspect.jsonl -q >/dev/null 2>&1
[ $? -eq 14 ] || fail "changed profile not detected"
# The other side reruns the controls with a seed of its own, and gets a report of its own.
seed=$(printf 'the other side' | sha256sum | cut -c1-64)
"$ISOTOPE" signer new -o theirs.sign -q >/dev/null || fail "signer new (theirs)"
"$ISOTOPE" verify r.json --signer sign.key.pub --key wm.key --inputs suspect.jsonl -q --control-seed "$seed" \
  --report theirs.json --sign theirs.sign >out.txt 2>&1 || { cat out.txt; fail "verify --control-seed"; }
grep -q "Controls rerun with your seed $seed: 5 random keys" out.txt || { cat out.txt; fail "controls not rerun"; }
grep -q "p-value is unchanged" out.txt || fail "the committed key's p-value is not compared"
python3 - "$seed" <<'PY' || fail "the rerun report"
import json, sys
a = json.load(open("r.json")); b = json.load(open("theirs.json"))
assert b["options"]["control_seed"] == sys.argv[1] and b["result"]["control"]["seed"] == sys.argv[1]
assert b["result"]["log10_p"] == a["result"]["log10_p"]
assert b["result"]["control"]["log10_p"] != a["result"]["control"]["log10_p"]
PY
"$ISOTOPE" verify theirs.json --signer theirs.sign.pub --key wm.key --inputs suspect.jsonl -q >/dev/null 2>&1 ||
  fail "the rerun report does not verify"
"$ISOTOPE" verify r.json --signer sign.key.pub --control-seed "$seed" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--control-seed without --key is not a usage error"
"$ISOTOPE" report html r.json -o r.html || fail "report html"
grep -q 'id="pvalue-chart"' r.html || fail "no chart on the audit page"
echo ok
