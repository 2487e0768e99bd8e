# Every scheme from the command line: generate, detect, the exact null's
# fields, a closed audit with the filter, a signed Gumbel report that verifies.
source "$(dirname "$0")/lib.sh" "$1"
src="${ISOTOPE_SOURCE_DIR:?}"
fixed_key "$WORK/k.key" schemes-1
fixed_key "$WORK/other.key" schemes-2
cd "$WORK" || exit 1

expect_exit 0 "$ISOTOPE" generate --no-watermark --prompt "The word" -n 300 --seed 5 -o plain.txt
for s in kgw gumbel synthid; do
  expect_exit 0 "$ISOTOPE" generate --key k.key --scheme "$s" --prompt "The word" -n 300 --seed 5 -o "$s.txt"
  expect_exit 0 "$ISOTOPE" detect --key k.key --scheme "$s" --json "$s.txt"
  cp out "$s.json"
  expect_exit 0 "$ISOTOPE" detect --key other.key --scheme "$s" --json "$s.txt"
  cp out "$s.other.json"
  expect_exit 0 "$ISOTOPE" detect --key k.key --scheme "$s" --json plain.txt
  cp out "$s.plain.json"
  /usr/bin/python3 - "$s" "$s.json" "$s.other.json" "$s.plain.json" <<'PY' || die "$s: detection figures"
import json, math, sys
import mpmath
mpmath.mp.dps = 50
scheme, mine, other, plain = sys.argv[1], *[json.load(open(p)) for p in sys.argv[2:]]
assert mine["profile"]["scheme"] == scheme and mine["scheme"] == scheme
assert mine["log10_p"] <= -6, mine["log10_p"]
assert other["log10_p"] > -3, other["log10_p"]
assert plain["log10_p"] > -3, plain["log10_p"]
for r in (mine, other, plain):
    n, s, t = r["scored"], r["statistic"], r["trials"]
    if scheme == "gumbel":
        assert t == n
        ref = mpmath.log10(mpmath.gammainc(n, s, mpmath.inf, regularized=True))
    else:
        # Exact binomial tail in integers: p = num / den.
        num, den = (round(r["gamma_effective"] * 65536), 65536) if scheme == "kgw" else (1, 2)
        if scheme == "synthid":
            assert t == 30 * n
        k = int(round(s))
        tail = sum(math.comb(t, j) * num**j * (den - num)**(t - j) for j in range(k, t + 1))
        ref = mpmath.log10(tail) - t * mpmath.log10(den)
    assert abs(r["log10_p"] - float(ref)) <= 1e-9 * max(1.0, abs(float(ref))), (r["log10_p"], float(ref))
PY
done

# Parameters belong to their scheme; greedy cannot carry a distortion-free mark.
expect_rc 2 "$ISOTOPE" detect --key k.key --scheme gumbel --gamma 0.5 gumbel.txt
expect_rc 2 "$ISOTOPE" detect --key k.key --scheme nope gumbel.txt
expect_rc 2 "$ISOTOPE" generate --key k.key --scheme synthid --greedy -n 5
expect_in err "greedy"
expect_exit 0 "$ISOTOPE" detect --key k.key --scheme synthid --layers 12 --json synthid.txt
expect_in out '"layers":12'
expect_in out '"trials":'

# A closed audit with the filter under every distortion-free scheme, and a
# signed Gumbel report that verifies.
head -n 30 "$src/corpora/prompts.jsonl" > tp.jsonl
"$ISOTOPE" signer new -o sign.key -q > /dev/null || fail "signer new"
for s in gumbel synthid; do
  "$ISOTOPE" generate -q -k k.key --scheme "$s" --prompts tp.jsonl -n 120 --seed 3 -o "teacher-$s.jsonl" || fail "teacher $s"
  expect_exit 0 "$ISOTOPE" audit --key k.key --scheme "$s" --suspect "teacher-$s.jsonl" --teacher "teacher-$s.jsonl" \
    --control 5 --json --report "report-$s.json" --sign sign.key -q
  expect_in out '"flagged": true'
done
expect_exit 0 "$ISOTOPE" verify report-gumbel.json --signer sign.key.pub --key k.key \
  --inputs teacher-gumbel.jsonl -q
expect_in out "VERIFIED"
expect_in report-gumbel.json '"scheme":"gumbel"'
expect_exit 0 "$ISOTOPE" report html report-synthid.json -o page.html
expect_in page.html "tournament"
# The same audit with 1 and 2 threads: the same JSON, to the last digit.
seed=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
for t in 1 2; do
  "$ISOTOPE" audit --key k.key --scheme gumbel --suspect teacher-gumbel.jsonl --teacher teacher-gumbel.jsonl \
    --control 7 --control-seed "$seed" --threads "$t" --json -q > "threads-$t.json" || die "audit --threads $t"
done
CHECKS=$((CHECKS + 1))
cmp -s threads-1.json threads-2.json || die "audit results differ between 1 and 2 threads"
finish
