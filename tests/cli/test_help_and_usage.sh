#!/usr/bin/env bash
# Help and usage: each command's --help lists only the exit codes it can
# return; `verify` finds its report after --inputs; `detect --mask` needs --json.
source "$(dirname "$0")/lib.sh" "$1"
cd "$WORK"

expect_exit 0 "$ISOTOPE" keygen --help
expect_in "$WORK/out" "Exit codes: 0 success; 1 internal error; 2 usage error; 3 file error; 4 key error\."
expect_not_in "$WORK/out" "malformed report|recomputed"
expect_exit 0 "$ISOTOPE" verify --help
expect_in "$WORK/out" "14 recomputed result differs"
expect_in "$WORK/out" "16 all checks passed but the signer was not checked"
expect_exit 0 "$ISOTOPE" report html --help
expect_in "$WORK/out" "11 bad signature"
expect_not_in "$WORK/out" "14 recomputed"
expect_exit 0 "$ISOTOPE" --version
expect_in "$WORK/out" "^source revision ([0-9a-f]{40}|unknown)"
expect_in "$WORK/out" "^built with "
expect_in "$WORK/out" "OpenSSL [0-9]"

"$ISOTOPE" keygen -o wm.key -q >/dev/null || fail keygen
"$ISOTOPE" signer new -o sign.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k wm.key -n 60 --seed 3 -q -o wm.txt || fail generate
"$ISOTOPE" detect -k wm.key wm.txt --report r.json --sign sign.key --controls 2 >/dev/null 2>&1 || fail "detect --report"
# The bundled tokenizer is recorded by its name, not by this machine's path.
expect_in r.json '"name":"isotope-8k.model"'
expect_not_in r.json "$ISOTOPE_DATA_DIR"
expect_in r.json '"revision":"([0-9a-f]{40}|unknown)"'
# The report may come after --inputs.
expect_exit 0 "$ISOTOPE" verify --signer sign.key.pub --key wm.key --inputs wm.txt r.json
expect_in "$WORK/out" "^VERIFIED"
expect_in "$WORK/out" "with isotope [0-9.]+ \(revision ([0-9a-f]{40}|unknown)"
expect_rc 2 "$ISOTOPE" verify --signer sign.key.pub --inputs wm.txt
expect_in "$WORK/err" "REPORT is missing"
# --mask without --json is refused, not ignored.
expect_exit 2 "$ISOTOPE" detect -k wm.key --mask wm.txt
expect_exit 0 "$ISOTOPE" detect -k wm.key --mask --json wm.txt
expect_in "$WORK/out" '"mask":\['
finish
