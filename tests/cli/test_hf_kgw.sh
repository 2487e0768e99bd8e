# The engine profiles from the command line. hf-kgw and tgi-kgw: token ids
# chosen from the green lists that torch's own CPU generator gives (the
# engines' construction, written here in Python) are all green, with the exact
# binomial tail; ids chosen without the key are not flagged; missing or CUDA
# settings are refused with their reason. hf-kgw and hf-synthid: generation,
# a closed audit with a signed report, and verify.
source "$(dirname "$0")/lib.sh" "$1"
cd "$WORK" || exit 1

# The engine keys: the integer 15485863 (KGW) and four SynthID keys.
echo 15485863 | "$ISOTOPE" key import --int - -o hf.key > /dev/null 2>&1 || die "key import"
"$ISOTOPE" key import --int 654,400,836,123 -o synthid.key > /dev/null 2>&1 || die "key import (4 integers)"

/usr/bin/python3 - <<'PY' || die "id lines"
import json, random
import torch
V, key = 32000, 15485863
def green(prev, ratio):
    g = torch.Generator().manual_seed((key * prev) % (2**64 - 1))
    return torch.randperm(V, generator=g)[: int(V * ratio)].tolist()
rnd = random.Random(3)
for name, ratio in (("hf", 0.25), ("tgi", 0.5)):
    ids = [rnd.randrange(V)]
    while len(ids) < 120:
        ids.append(rnd.choice(green(ids[-1], ratio)))
    with open(name + ".jsonl", "w") as f:
        f.write(json.dumps({"ids": ids}) + "\n")
with open("plain.jsonl", "w") as f:
    f.write(json.dumps({"ids": [rnd.randrange(V) for _ in range(120)]}) + "\n")
PY

for s in hf tgi; do
  expect_exit 0 "$ISOTOPE" detect --key hf.key --scheme "$s-kgw" --engine-vocab-size 32000 --jsonl --vocab-size 32000 \
    --json "$s.jsonl"
  cp out "$s.json"
  expect_exit 0 "$ISOTOPE" detect --key hf.key --scheme "$s-kgw" --engine-vocab-size 32000 --jsonl --vocab-size 32000 \
    --json plain.jsonl
  cp out "$s.plain.json"
  /usr/bin/python3 - "$s" "$s.json" "$s.plain.json" <<'PY' || die "$s: detection figures"
import json, math, sys
import mpmath
mpmath.mp.dps = 50
name = sys.argv[1]
mine, plain = [json.loads(open(p).read().splitlines()[0]) for p in sys.argv[2:]]
ratio = 0.25 if name == "hf" else 0.5
num, den = int(32000 * ratio), 32000
n, k = mine["scored"], int(mine["statistic"])
assert mine["profile"]["scheme"] == name + "-kgw"
assert k == n and n >= 100, (k, n)  # every distinct tuple green
tail = sum(math.comb(n, j) * num**j * (den - num)**(n - j) for j in range(k, n + 1))
ref = float(mpmath.log10(tail) - n * mpmath.log10(den))
assert abs(mine["log10_p"] - ref) <= 1e-9 * abs(ref), (mine["log10_p"], ref)
assert plain["log10_p"] > -3, plain["log10_p"]
PY
done

expect_exit 2 "$ISOTOPE" detect --key hf.key --scheme hf-kgw --jsonl --vocab-size 32000 hf.jsonl
grep -q "engine-vocab-size" err || die "missing --engine-vocab-size is not explained"
expect_exit 2 "$ISOTOPE" detect --key hf.key --scheme hf-kgw --engine-vocab-size 32000 --device 1 --jsonl \
  --vocab-size 32000 hf.jsonl
grep -q "CUDA" err || die "device=cuda is not refused with its reason"
expect_exit 2 "$ISOTOPE" detect --key hf.key --scheme tgi-kgw --engine-vocab-size 32000 -H 2 --jsonl \
  --vocab-size 32000 hf.jsonl

# Generation, a closed audit with the filter, a signed report that verifies.
src="${ISOTOPE_SOURCE_DIR:?}"
head -n 30 "$src/corpora/prompts.jsonl" > tp.jsonl
"$ISOTOPE" signer new -o sign.key -q > /dev/null || die "signer new"
kgw=(--scheme hf-kgw --engine-vocab-size 8000)
syn=(--scheme hf-synthid --layers 4 --ngram-len 3)
for s in kgw syn; do
  declare -n opts="$s"
  k=hf.key
  [ "$s" = syn ] && k=synthid.key
  "$ISOTOPE" generate -q -k "$k" "${opts[@]}" --prompts tp.jsonl -n 120 --seed 3 -o "teacher-$s.jsonl" || die "teacher $s"
  expect_exit 0 "$ISOTOPE" audit --key "$k" "${opts[@]}" --suspect "teacher-$s.jsonl" --teacher "teacher-$s.jsonl" \
    --control 5 --json --report "report-$s.json" --sign sign.key -q
  expect_in out '"flagged": true'
  expect_exit 0 "$ISOTOPE" verify "report-$s.json" --signer sign.key.pub --key "$k" --inputs "teacher-$s.jsonl" -q
  expect_in out "VERIFIED"
done
expect_in report-syn.json '"scheme":"hf-synthid"'
expect_exit 2 "$ISOTOPE" detect --key synthid.key --scheme hf-synthid --layers 4 --sampling-table-size 1000 tp.jsonl
expect_in err "power of two"
finish
