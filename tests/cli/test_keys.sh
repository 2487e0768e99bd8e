# keygen / commit: modes, refusals, and the key never printed.
source "$(dirname "$0")/lib.sh" "$1"

expect_exit 0 "$ISOTOPE" keygen -o "$WORK/k.key"
commit=$(cat "$WORK/out")
[[ "$commit" =~ ^[0-9a-f]{64}$ ]] || { echo "FAIL: commitment is not 64 hex digits: $commit"; FAILS=$((FAILS+1)); }
expect_in "$WORK/err" "publish or timestamp"
[ "$(stat -c %a "$WORK/k.key")" = "600" ] || { echo "FAIL: key file mode is not 600"; FAILS=$((FAILS+1)); }
keyhex=$(sed -n 2p "$WORK/k.key")
expect_exit 0 "$ISOTOPE" commit "$WORK/k.key"
[ "$(cat "$WORK/out")" = "$commit" ] || { echo "FAIL: commit differs from keygen's"; FAILS=$((FAILS+1)); }
expect_not_in "$WORK/out" "$keyhex"

# Refuse to overwrite, unless --force.
expect_exit 3 "$ISOTOPE" keygen -o "$WORK/k.key"
expect_exit 0 "$ISOTOPE" keygen -q -o "$WORK/k.key" --force
[ "$(cat "$WORK/out")" != "$commit" ] || { echo "FAIL: --force did not make a new key"; FAILS=$((FAILS+1)); }

# Loose permissions, malformed and missing files.
cp "$WORK/k.key" "$WORK/loose.key"; chmod 644 "$WORK/loose.key"
expect_exit 4 "$ISOTOPE" commit "$WORK/loose.key"
expect_in "$WORK/err" "chmod 600"
chmod 640 "$WORK/loose.key"
expect_exit 4 "$ISOTOPE" commit "$WORK/loose.key"
printf 'not a key\n' > "$WORK/bad.key"; chmod 600 "$WORK/bad.key"
expect_exit 4 "$ISOTOPE" commit "$WORK/bad.key"
: > "$WORK/empty.key"; chmod 600 "$WORK/empty.key"
expect_exit 4 "$ISOTOPE" commit "$WORK/empty.key"
printf 'isotope-watermark-key v1\n%s\n' "${keyhex:0:40}" > "$WORK/short.key"; chmod 600 "$WORK/short.key"
expect_exit 4 "$ISOTOPE" commit "$WORK/short.key"
expect_not_in "$WORK/err" "${keyhex:0:40}"
expect_exit 3 "$ISOTOPE" commit "$WORK/missing.key"
expect_exit 3 "$ISOTOPE" keygen -o "$WORK/no/such/dir/k.key"
expect_exit 2 "$ISOTOPE" keygen
expect_exit 2 "$ISOTOPE" frobnicate
expect_exit 0 "$ISOTOPE" --help
expect_in "$WORK/out" "Exit codes"
finish
