# Helpers sourced by the CLI test scripts. Usage in a script:
#   source "$(dirname "$0")/lib.sh" "$1"
set -uo pipefail
ISOTOPE="${1:?usage: bash test_X.sh PATH_TO_ISOTOPE}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FAILS=0
CHECKS=0

# expect_exit CODE COMMAND... : runs COMMAND, captures stdout/stderr in
# $WORK/out and $WORK/err, fails unless the exit status is CODE.
expect_exit() {
  local want="$1"; shift
  CHECKS=$((CHECKS + 1))
  "$@" > "$WORK/out" 2> "$WORK/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: expected exit $want, got $got: $*" >&2
    sed 's/^/  stderr: /' "$WORK/err" | head -5 >&2
    FAILS=$((FAILS + 1))
    return 1
  fi
  return 0
}

# expect_rc CODE COMMAND... : expect_exit, and a failing command must say
# "error" on stderr.
expect_rc() {
  local want="$1"
  expect_exit "$@" || return 1
  if [ "$want" != 0 ] && ! grep -q "error" "$WORK/err"; then
    echo "FAIL: no error message: ${*:2}" >&2
    FAILS=$((FAILS + 1))
  fi
}

# fail MESSAGE : stops the script at once (for scripts whose later steps
# need the earlier ones).
fail() { echo "FAIL: $*" >&2; exit 1; }

# die MESSAGE : records a failure and goes on.
die() {
  echo "FAIL: $*" >&2
  FAILS=$((FAILS + 1))
}

# expect_in FILE PATTERN : grep -E PATTERN in FILE.
expect_in() {
  CHECKS=$((CHECKS + 1))
  if ! grep -qE -- "$2" "$1"; then
    echo "FAIL: /$2/ not found in $1:" >&2
    head -5 "$1" | sed 's/^/  /' >&2
    FAILS=$((FAILS + 1))
  fi
}

expect_not_in() {
  CHECKS=$((CHECKS + 1))
  if grep -qE -- "$2" "$1"; then
    echo "FAIL: /$2/ unexpectedly found in $1" >&2
    FAILS=$((FAILS + 1))
  fi
}

# A crash (signal) shows as an exit status above 128.
no_crash() {
  CHECKS=$((CHECKS + 1))
  "$@" > "$WORK/out" 2> "$WORK/err"
  local got=$?
  if [ "$got" -ge 128 ] || [ "$got" -eq 0 ]; then
    echo "FAIL: expected a clean error, got exit $got: $*" >&2
    FAILS=$((FAILS + 1))
  fi
}

# field FILE EXPR : prints EXPR evaluated on the JSON in FILE (as j).
field() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'j': j}))" "$@"; }

# fixed_key FILE NAME : writes a watermark key derived from NAME (mode 0600),
# so that statistical checks come out the same on every run (a fresh random
# key would fail a "p > 0.001" check once in a thousand runs).
fixed_key() {
  local hex
  hex=$(printf 'isotope test key %s' "$2" | sha256sum | cut -c1-64)
  ( umask 077 && printf 'isotope-watermark-key v1\n%s\n' "$hex" > "$1" )
}

# audit_fixture : in $WORK, two fixed keys k1 and k2, 40 teacher prompts
# (tp.jsonl), the teacher's answers under k1 (teacher.jsonl) and a student
# model trained on them with held-out text (student.lm).
audit_fixture() {
  local src="${ISOTOPE_SOURCE_DIR:?}"
  fixed_key "$WORK/k1" audit-1
  fixed_key "$WORK/k2" audit-2
  head -n 40 "$src/corpora/prompts.jsonl" >"$WORK/tp.jsonl"
  "$ISOTOPE" generate -q -k "$WORK/k1" --prompts "$WORK/tp.jsonl" -n 150 --seed 3 -o "$WORK/teacher.jsonl" ||
    die "teacher"
  "$ISOTOPE" lm train -q -c "$src/corpora/heldout/devil.txt" "$WORK/teacher.jsonl" -o "$WORK/student.lm" ||
    die "train"
}

finish() {
  echo "$((CHECKS - FAILS)) passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
