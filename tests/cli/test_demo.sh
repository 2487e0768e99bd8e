# The demo runs end to end and says what happened.
source "$(dirname "$0")/lib.sh" "$1"
expect_exit 0 "$ISOTOPE" demo
expect_in "$WORK/out" "WATERMARK|watermarked text, provider key"
expect_in "$WORK/out" "came out as expected"
finish
