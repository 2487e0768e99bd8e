#!/usr/bin/env bash
# Attribution: generation for an account (per line and with --account), the
# master key's text unchanged, closed and open attribution audits that name the
# right account among 300, bad account lists refused, and a signed attribution
# report that `verify --key --inputs` recomputes.
source "$(dirname "$0")/lib.sh" "$1"
SRC="${ISOTOPE_SOURCE_DIR:?}"
T="$WORK"
fixed_key "$T/k1" attribution-1
"$ISOTOPE" signer new -o "$T/sign.key" -q >/dev/null || die "signer new"

# Generation for no account does not depend on the routing share; alpha 0 is the master key alone.
G=("$ISOTOPE" generate -q -k "$T/k1" -p "In the beginning" -n 60 --seed 4)
"${G[@]}" -o "$T/plain.txt" || die "generate"
"${G[@]}" --route-alpha 0.5 -o "$T/plain2.txt" || die "generate --route-alpha"
"${G[@]}" --account acct-0017 --route-alpha 0 -o "$T/alpha0.txt" || die "generate --account --route-alpha 0"
"${G[@]}" --account acct-0017 -o "$T/acct.txt" || die "generate --account"
cmp -s "$T/plain.txt" "$T/plain2.txt" || die "--route-alpha changed text generated for no account"
cmp -s "$T/plain.txt" "$T/alpha0.txt" || die "alpha 0 differs from the master key alone"
cmp -s "$T/plain.txt" "$T/acct.txt" && die "--account changed nothing"

# Answers for one account through the "account" field of --prompts lines.
/usr/bin/python3 - "$SRC/corpora/prompts.jsonl" "$T/p.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][:40]
with open(sys.argv[2], "w") as f:
    for l in lines:
        f.write(json.dumps({"prompt": l["prompt"], "account": "acct-0017"}) + "\n")
PY
"$ISOTOPE" generate -q -k "$T/k1" --prompts "$T/p.jsonl" -n 150 --seed 3 -o "$T/answers.jsonl" || die "generate --prompts with accounts"
[ "$(head -n 1 "$T/answers.jsonl" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['account'])")" = acct-0017 ] || die "the output line does not name its account"
for i in $(seq 0 299); do printf 'acct-%04d\n' "$i"; done >"$T/accounts.txt"

# Closed: the answers themselves as the suspect's.
A=("$ISOTOPE" audit -q -k "$T/k1" --suspect "$T/answers.jsonl" --control 5 --json)
"${A[@]}" --accounts "$T/accounts.txt" -o "$T/c.json" || die "audit --accounts"
[ "$(field "$T/c.json" "[a['id'] for a in j['accounts']] == ['acct-0017'] and j['accounts'][0]['log10_p_corrected'] <= -4")" = True ] || die "closed: acct-0017 not named alone: $(field "$T/c.json" "j['accounts']")"
[ "$(field "$T/c.json" "j['attribution']['candidates'] == 300 and j['attribution']['correction'] == 'holm' and j['route_alpha'] == 0.6 and j['routed_to_accounts'] == j['attribution']['routed'] > j['attribution']['tested'] > 0 and j['account_mark'] == j['attribution']['account_mark'] == 'nested'")" = True ] || die "closed: attribution fields"
# KGW nests: the master key scores every tuple, as without accounts.
"${A[@]}" -o "$T/none.json" || die "audit without accounts"
[ "$(/usr/bin/python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print(a['scored'] == b['scored'] and a['log10_p'] == b['log10_p'])" "$T/c.json" "$T/none.json")" = True ] || die "closed: the nested master key did not score every tuple"
# Gumbel-max routes: the master key scores the tuples its route keeps (default share 0.4).
"$ISOTOPE" generate -q -k "$T/k1" --scheme gumbel --prompts "$T/p.jsonl" -n 150 --seed 3 -o "$T/gumbel.jsonl" || die "generate gumbel for an account"
"$ISOTOPE" audit -q -k "$T/k1" --scheme gumbel --suspect "$T/gumbel.jsonl" --control 0 --json --accounts "$T/accounts.txt" -o "$T/g.json" || die "audit gumbel --accounts"
"$ISOTOPE" audit -q -k "$T/k1" --scheme gumbel --suspect "$T/gumbel.jsonl" --control 0 --json -o "$T/g0.json" || die "audit gumbel"
[ "$(/usr/bin/python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print(a['route_alpha'] == 0.4 and a['account_mark'] == 'route' and a['scored'] + a['routed_to_accounts'] == b['scored'] and a['attribution']['tested'] == a['attribution']['routed'] and [x['id'] for x in a['accounts']] == ['acct-0017'])" "$T/g.json" "$T/g0.json")" = True ] || die "gumbel: routed attribution: $(field "$T/g.json" "j['accounts']")"
[ "$(field "$T/c.json" "j['flagged'] and j['inputs']['accounts']['bytes'] > 0")" = True ] || die "closed: master key or inputs"
"${A[@]}" -o "$T/none.json" || die "audit without accounts"
[ "$(field "$T/none.json" "'attribution' not in j and 'route_alpha' not in j and 'accounts' not in j")" = True ] || die "audit without --accounts has attribution fields"
"$ISOTOPE" audit -q -k "$T/k1" --suspect "$T/answers.jsonl" --control 0 --accounts "$T/accounts.txt" >"$T/c.txt" || die "explanation"
expect_in "$T/c.txt" "NAMED: acct-0017"
expect_in "$T/c.txt" "Holm"

# Open: a student trained on the account's answers reads them.
"$ISOTOPE" lm train -q -c "$SRC/corpora/heldout/devil.txt" "$T/answers.jsonl" -o "$T/student.lm" || die "train"
"$ISOTOPE" audit -q --mode open -k "$T/k1" --teacher "$T/answers.jsonl" --model "$T/student.lm" --control 5 --json \
  --accounts "$T/accounts.txt" -o "$T/o.json" || die "open audit --accounts"
[ "$(field "$T/o.json" "[a['id'] for a in j['accounts']] == ['acct-0017']")" = True ] || die "open: acct-0017 not named alone: $(field "$T/o.json" "j['accounts']")"

# Bad account lists and settings.
B=("$ISOTOPE" audit -q -k "$T/k1" --suspect "$T/answers.jsonl" --control 0)
printf 'a\n\nb\n' >"$T/empty-line.txt"
expect_rc 5 "${B[@]}" --accounts "$T/empty-line.txt"
expect_in "$T/err" "line 2|:2:"
printf 'a\nb\na\n' >"$T/dup.txt"
expect_rc 5 "${B[@]}" --accounts "$T/dup.txt"
expect_in "$T/err" "already listed on line 1"
printf 'a\nb\x1bc\n' >"$T/ctl.txt"
expect_rc 5 "${B[@]}" --accounts "$T/ctl.txt"
expect_in "$T/err" "control character"
printf 'a\n b\n' >"$T/space.txt"
expect_rc 5 "${B[@]}" --accounts "$T/space.txt"
: >"$T/none.txt"
expect_rc 5 "${B[@]}" --accounts "$T/none.txt"
expect_rc 2 "${B[@]}" --accounts "$T/accounts.txt" --route-alpha 0
expect_rc 2 "${B[@]}" --route-alpha 1
expect_rc 2 "$ISOTOPE" generate -q -k "$T/k1" -p x -n 5 --account "bad	id"
expect_rc 2 "$ISOTOPE" generate -q -k "$T/k1" -p x -n 5 --account acct-1 --route-alpha 1.5
printf '{"prompt": "x", "account": ""}\n' >"$T/badp.jsonl"
expect_rc 5 "$ISOTOPE" generate -q -k "$T/k1" --prompts "$T/badp.jsonl" -n 5
printf '{"prompt": "x", "account": 7}\n' >"$T/badp2.jsonl"
expect_rc 5 "$ISOTOPE" generate -q -k "$T/k1" --prompts "$T/badp2.jsonl" -n 5

# A signed attribution report, recomputed by verify; a changed accounts file is caught.
"$ISOTOPE" audit -q -k "$T/k1" --suspect "$T/answers.jsonl" --control 5 --accounts "$T/accounts.txt" \
  --report "$T/r.json" --sign "$T/sign.key" >/dev/null || die "audit --accounts --report"
[ "$(field "$T/r.json" "j['result']['accounts'][0]['id'] == 'acct-0017' and j['options']['accounts'] != '' and any(i['role'] == 'accounts' for i in j['inputs'])")" = True ] || die "report lacks the attribution"
"$ISOTOPE" verify "$T/r.json" --signer "$T/sign.key.pub" --key "$T/k1" --inputs "$T/answers.jsonl" "$T/accounts.txt" >"$T/v.txt" 2>&1 || { cat "$T/v.txt"; die "verify --key --inputs"; }
expect_in "$T/v.txt" VERIFIED
sed 's/acct-0017/acct-9999/' "$T/accounts.txt" >"$T/accounts2.txt"
expect_exit 13 "$ISOTOPE" verify "$T/r.json" --signer "$T/sign.key.pub" --key "$T/k1" --inputs "$T/answers.jsonl" "$T/accounts2.txt"
finish
