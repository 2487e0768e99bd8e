# A long single-line text is encoded in bounded memory, with the ids of a
# whole-text encode.
source "$(dirname "$0")/lib.sh" "$1"
SRC="${ISOTOPE_SOURCE_DIR:?}"
python3 - "$SRC/corpora/heldout" "$WORK" <<'PY' || fail "could not write the long lines"
import glob, sys
words = " ".join(open(p, encoding="utf-8").read() for p in sorted(glob.glob(sys.argv[1] + "/*.txt"))).split()
line = " ".join(words)
def write(name, size):
    with open(sys.argv[2] + "/" + name, "w", encoding="utf-8") as f:
        n = 0
        while n < size:
            f.write(line + " ")
            n += len(line) + 1
write("3mb.txt", 3 << 20)
write("60mb.txt", 60 << 20)
PY

# 3 MB: isotope cuts it at a single space between ASCII letters or digits
# past each MiB; its ids are sentencepiece's own for the pieces (the same
# text with those spaces turned into line breaks, which spm_encode encodes
# line by line), and those of a whole-text encode up to the first cut.
expect_exit 0 "$ISOTOPE" tokenize "$WORK/3mb.txt"
cp "$WORK/out" "$WORK/3mb.ids"
python3 - "$WORK/3mb.txt" "$WORK/3mb.cut.txt" <<'PY' || die "could not cut the 3 MB line"
import sys
s = bytearray(open(sys.argv[1], "rb").read())
alnum = lambda c: 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122
start, cuts = 0, 0
while len(s) - start > (1 << 20):
    p = start + (1 << 20)
    while p + 1 < len(s) and not (s[p] == 32 and alnum(s[p - 1]) and alnum(s[p + 1])):
        p += 1
    if p + 1 >= len(s):
        break
    s[p] = 10
    start, cuts = p + 1, cuts + 1
assert cuts >= 2, cuts
open(sys.argv[2], "wb").write(bytes(s))
PY
spm_encode --model "$ISOTOPE_DATA_DIR/isotope-8k.model" --output_format=id < "$WORK/3mb.cut.txt" > "$WORK/3mb.pieces" || die "spm_encode failed"
spm_encode --model "$ISOTOPE_DATA_DIR/isotope-8k.model" --output_format=id < "$WORK/3mb.txt" > "$WORK/3mb.whole" || die "spm_encode failed"
python3 - "$WORK/3mb.ids" "$WORK/3mb.pieces" "$WORK/3mb.whole" <<'PY' || die "the 3 MB line's ids are not sentencepiece's"
import json, sys
ours = json.loads(open(sys.argv[1]).read())["ids"]
pieces = list(map(int, open(sys.argv[2]).read().split()))
whole = list(map(int, open(sys.argv[3]).read().split()))
assert ours == pieces
first = 200000  # well inside the first MiB
assert ours[:first] == whole[:first]
PY
CHECKS=$((CHECKS + 1))

# Where the two encodes differ, both are sentencepiece's own answers for a
# near-tie: the word is the same text, split into pieces whose
# log-probabilities (summed in double) differ by less than 1. sentencepiece
# keeps its path sums in single precision from the start of what it encodes
# (a step rounds by up to 0.25 at 3 MB), so far into a line it cannot tell
# such splits apart; never a different word, and under 1% of the words.
spm_export_vocab --model "$ISOTOPE_DATA_DIR/isotope-8k.model" --output "$WORK/vocab.tsv" || die "spm_export_vocab failed"
python3 - "$WORK/3mb.ids" "$WORK/3mb.whole" "$WORK/vocab.tsv" <<'PY' || die "the cut encode differs by more than near-ties"
import json, sys
ours = json.loads(open(sys.argv[1]).read())["ids"]
whole = list(map(int, open(sys.argv[2]).read().split()))
vocab = [line.rstrip("\n").split("\t") for line in open(sys.argv[3], encoding="utf-8")]
def words(ids):  # ids grouped by the word mark that starts a piece
    out = []
    for i in ids:
        if vocab[i][0].startswith("\u2581") or not out:
            out.append([])
        out[-1].append(i)
    return out
a, b = words(ours), words(whole)
assert len(a) == len(b), (len(a), len(b))
differ, worst = 0, 0.0
for x, y in zip(a, b):
    if x != y:
        differ += 1
        assert "".join(vocab[i][0] for i in x) == "".join(vocab[i][0] for i in y), (x, y)
        gap = abs(sum(float(vocab[i][1]) for i in x) - sum(float(vocab[i][1]) for i in y))
        worst = max(worst, gap)
        assert gap < 1.0, (x, y, gap)
print(f"3 MB line: {differ} of {len(a)} words split differently, largest score gap {worst:.4f}")
assert differ < len(a) // 100
PY
CHECKS=$((CHECKS + 1))

# 60 MB on one line: under 1 GB resident
python3 - "$ISOTOPE" "$WORK/60mb.txt" "$WORK/60mb.ids" <<'PY' || die "60 MB line: too much memory or a failure"
import resource, subprocess, sys
with open(sys.argv[3], "wb") as out:
    rc = subprocess.run([sys.argv[1], "tokenize", sys.argv[2]], stdout=out).returncode
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"60 MB single line: exit {rc}, peak resident {rss_mb:.0f} MB")
assert rc == 0
assert rss_mb < 1024, rss_mb
PY
CHECKS=$((CHECKS + 1))
# the ids of the 60 MB line begin with those of the 3 MB line (same text)
python3 - "$WORK/60mb.ids" "$WORK/3mb.pieces" <<'PY' || die "60 MB line: ids differ from the whole-text encode of its start"
import json, sys
big = json.loads(open(sys.argv[1]).read())["ids"]
small = list(map(int, open(sys.argv[2]).read().split()))
assert big[: len(small) - 50] == small[: len(small) - 50]
PY
CHECKS=$((CHECKS + 1))
finish
