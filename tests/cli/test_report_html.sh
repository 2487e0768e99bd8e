#!/usr/bin/env bash
# The HTML page of a report: self-contained, escaped, and rendered by headless
# Chromium (screenshot taken, chart present in the DOM).
source "$(dirname "$0")/lib.sh" "$1"
tmp="$WORK"
cd "$tmp"

"$ISOTOPE" keygen -o wm.key -q >/dev/null || fail keygen
"$ISOTOPE" signer new -o sign.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k wm.key -n 200 --seed 5 -q -o 'wm<b>&.txt' || fail generate
"$ISOTOPE" detect -k wm.key 'wm<b>&.txt' --report r.json --sign sign.key >/dev/null 2>&1 || fail "detect --report"
"$ISOTOPE" report html r.json -o r.html || fail "report html"
"$ISOTOPE" report html r.json --signer sign.key.pub -o - >/dev/null || fail "report html --signer"

grep -q '<svg id="pvalue-chart"' r.html || fail "no chart"
grep -q 'wm&lt;b&gt;&amp;.txt' r.html || fail "file name not escaped"
grep -q 'wm<b>' r.html && fail "unescaped text in the page"
grep -qiE '<script|https?://[a-z]' r.html && fail "the page has scripts or external links"
grep -q '@page{size:A4' r.html || fail "no A4 print style"
grep -q 'class="g"' r.html || fail "no green tokens in the sample"
grep -q 'isotope verify' r.html || fail "no verification instructions"

# An audit report's page: the accumulation chart and the sample of the suspect's text.
"$ISOTOPE" generate -k wm.key -n 60 --seed 6 -q -o suspect.txt || fail "generate (suspect)"
python3 -c 'import json,sys; print(json.dumps({"prompt": "Tell me a story.", "response": open("suspect.txt").read()}))' \
  >suspect.jsonl || fail "suspect.jsonl"
"$ISOTOPE" audit -k wm.key --suspect suspect.jsonl --control 3 -q --report a.json --sign sign.key >/dev/null ||
  fail "audit --report"
"$ISOTOPE" report html a.json -o a.html || fail "report html (audit)"
grep -q '<svg id="pvalue-chart"' a.html || fail "no chart on the audit page"
grep -q 'class="real"' a.html || fail "no curve for the real key on the audit page"
grep -q 'class="g"' a.html || fail "no green tokens in the audit sample"
# With a validity rule switched off, the page gives no answer.
"$ISOTOPE" audit -k wm.key --suspect suspect.jsonl --control 3 -q --no-dedup --report inv.json --sign sign.key \
  >/dev/null || fail "audit --no-dedup --report"
"$ISOTOPE" report html inv.json -o inv.html || fail "report html (invalid audit)"
grep -q 'No valid answer' inv.html || fail "an invalid audit's page gives an answer"
grep -q 'Yes: the suspect' inv.html && fail "an invalid audit's page says yes"

# An open audit whose key runs far below the controls: a second panel at the
# controls' scale shows them and the threshold.
audit_fixture
"$ISOTOPE" audit -q --mode open -k "$WORK/k1" --teacher "$WORK/teacher.jsonl" --model "$WORK/student.lm" --control 4 \
  --report open.json --sign sign.key >/dev/null || fail "open audit --report"
"$ISOTOPE" report html open.json -o open.html --signer sign.key.pub || fail "report html (open audit)"
grep -q '<svg id="pvalue-zoom"' open.html || fail "no panel at the controls' scale on the open audit's page"
grep -q 'continues below' open.html || fail "the zoom panel does not say where the committed key went"
grep -q 'Not scored in all: [0-9,]* without a full context, [0-9,]* repeats, [0-9,]* inside a prompt, [0-9,]* removed by the filter' open.html ||
  fail "the sample's legend does not count the tokens not scored"
grep -q 'fixed in advance' open.html a.html r.html && fail "the page claims the rule was fixed in advance"
# Several texts: the headline says which text its figures are about.
"$ISOTOPE" generate --no-watermark -n 120 --seed 7 -q -o plain.txt || fail "generate (plain)"
"$ISOTOPE" detect -k wm.key plain.txt 'wm<b>&.txt' --report two.json --sign sign.key >/dev/null 2>&1 || fail "detect (two texts)"
"$ISOTOPE" report html two.json -o two.html --signer sign.key.pub || fail "report html (two texts)"
grep -q 'found in 1 of 2 texts' two.html || fail "no count of texts in the headline"
grep -q 'for the text with the lowest p-value, <b>wm&lt;b&gt;&amp;.txt</b>' two.html ||
  fail "the headline does not say which text it is about"

# A tampered report gets no page.
sed 's/"green":/"green":1/' r.json >bad.json
"$ISOTOPE" report html bad.json -o bad.html >/dev/null 2>&1
[ $? -eq 11 ] || fail "page made for a report with a bad signature"

browser=""
for b in chromium chromium-browser; do command -v "$b" >/dev/null 2>&1 && browser="$b" && break; done
if [ -z "$browser" ]; then
  if [ -n "${ISOTOPE_REQUIRE_CHROMIUM:-}" ]; then fail "chromium is not installed"; fi
  echo "SKIP: chromium is not installed (scripts/setup.sh installs it)"
  exit 0
fi
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --window-size=1240,1754)
timeout 120 "$browser" "${flags[@]}" --user-data-dir="$tmp/profile1" --screenshot="$tmp/shot.png" \
  "file://$tmp/r.html" >chromium.log 2>&1 || { cat chromium.log; fail "chromium screenshot"; }
[ -s shot.png ] || fail "no screenshot"
[ "$(stat -c %s shot.png)" -gt 20000 ] || fail "screenshot too small to hold the page"
[ "$(head -c 8 shot.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "screenshot is not a PNG"
timeout 120 "$browser" "${flags[@]}" --user-data-dir="$tmp/profile2" --dump-dom "file://$tmp/r.html" \
  >dom.html 2>chromium.log || { cat chromium.log; fail "chromium dump-dom"; }
grep -q '<svg id="pvalue-chart"' dom.html || fail "chart not in the rendered DOM"
grep -q 'class="real"' dom.html || fail "no curve for the real key"
grep -q 'The answer' dom.html || fail "no answer in the rendered DOM"
timeout 120 "$browser" "${flags[@]}" --user-data-dir="$tmp/profile3" --dump-dom "file://$tmp/a.html" \
  >adom.html 2>chromium.log || { cat chromium.log; fail "chromium dump-dom (audit)"; }
grep -q '<svg id="pvalue-chart"' adom.html || fail "chart not in the rendered DOM of the audit page"
echo ok
