#!/usr/bin/env bash
# Audit reports: the recomputation in `isotope verify` reproduces an audit
# result exactly and notices a changed input. Uses `isotope audit --report`
# when the command has it, else assembles the report from `audit --json`.
set -uo pipefail
ISOTOPE="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
data="${ISOTOPE_DATA_DIR:?}"

"$ISOTOPE" keygen -o wm.key -q >/dev/null || fail keygen
"$ISOTOPE" signer new -o sign.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k wm.key --prompts "$data/prompts.jsonl" -n 40 -q -o suspect.jsonl || fail generate
if "$ISOTOPE" audit --help 2>/dev/null | grep -q -- '--report'; then
  "$ISOTOPE" audit -k wm.key --suspect suspect.jsonl --control 5 -q --report r.json --sign sign.key >/dev/null ||
    fail "audit --report"
else
  "$ISOTOPE" audit -k wm.key --suspect suspect.jsonl --control 5 -q --json >a.json || fail "audit --json"
  python3 - <<'PY' || fail "assembling the report"
import json
r = json.load(open("a.json"))
doc = {"schema": "isotope-report/1", "command": "audit",
       "tool": {"name": "isotope", "version": r["tool_version"], "build": "test"},
       "profile": r["profile"], "commitment": r["key_commitment"],
       "inputs": [{"role": k, "name": v["path"], "sha256": v["sha256"], "size": v["bytes"]}
                  for k, v in sorted(r["inputs"].items())],
       "options": r["options"], "result": r, "created_utc": "2024-01-01T00:00:00Z"}
json.dump(doc, open("doc.json", "w"))
PY
  "$ISOTOPE" report sign doc.json --sign sign.key -o r.json || fail "report sign"
fi
"$ISOTOPE" verify r.json --signer sign.key.pub -q >/dev/null || fail "verify"
"$ISOTOPE" verify r.json --key wm.key --inputs suspect.jsonl -q >out.txt 2>&1 || { cat out.txt; fail "verify --key"; }
grep -q VERIFIED out.txt || fail "not VERIFIED"
sed '3s/e/a/' suspect.jsonl >changed.jsonl
"$ISOTOPE" verify r.json --key wm.key --inputs changed.jsonl -q >/dev/null 2>&1
[ $? -eq 13 ] || fail "changed suspect file not detected"
"$ISOTOPE" report html r.json -o r.html || fail "report html"
grep -q 'id="pvalue-chart"' r.html || fail "no chart on the audit page"
echo ok
