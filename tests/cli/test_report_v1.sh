# Reports written before the scheme interface (schema isotope-report/1) still
# verify: signature, inputs and every recomputed number.
source "$(dirname "$0")/lib.sh" "$1"
fx="${ISOTOPE_SOURCE_DIR:?}/tests/fixtures/report-v1"
fixed_key "$WORK/k.key" report-v1
expect_exit 0 "$ISOTOPE" verify "$fx/detect.json" --signer "$fx/sign.pub" --key "$WORK/k.key" --inputs "$fx/text.txt"
expect_in "$WORK/out" "VERIFIED"
expect_exit 0 "$ISOTOPE" verify "$fx/audit.json" --signer "$fx/sign.pub" --key "$WORK/k.key" --inputs "$fx/answers.jsonl"
expect_in "$WORK/out" "VERIFIED"
finish
