# The hf-kgw and tgi-kgw profiles from the command line: token ids chosen from
# the green lists that torch's own CPU generator gives (the engines'
# construction, written here in Python) are all green, with the exact binomial
# tail; ids chosen without the key are not flagged; missing or CUDA settings
# are refused with their reason.
source "$(dirname "$0")/lib.sh" "$1"
cd "$WORK" || exit 1

# The engine key: the integer 15485863.
if "$ISOTOPE" key import --help > /dev/null 2>&1; then
  echo 15485863 | "$ISOTOPE" key import --int - -o hf.key > /dev/null 2>&1 || die "key import"
else
  /usr/bin/python3 - <<'PY' || die "interim key"
import struct
b = struct.pack("<Q", 15485863) + bytes(24)
open("hf.key", "w").write("isotope-watermark-key v1\n" + b.hex() + "\n")
PY
  chmod 600 hf.key
fi

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
finish
