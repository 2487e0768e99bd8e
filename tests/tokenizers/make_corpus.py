#!/usr/bin/env python3
"""Writes a hard multilingual test corpus as JSONL ({"text": ...} per line).

Every text is drawn at random (seeded) from fragments of English prose, source
code, whitespace runs, tabs, CRLF, emoji with modifiers and flags, CJK,
Devanagari, Arabic, Hebrew, combining marks, full-width forms, NBSP and
zero-width characters, long repeated characters and strings that look like
special tokens. A different --seed gives texts never seen before.

    make_corpus.py --seed 1 --count 400 > corpus.jsonl
"""
import argparse
import json
import random

FRAGMENTS = [
    # English prose, contractions, numbers
    "The quick brown fox jumps over the lazy dog.",
    "It's what they'd've said: I'LL go, you'RE staying, he's DONE, we'd better not.",
    "In 1969, 3.14159 people paid $1,234,567.89 (or 12%) for 2 x 10^6 widgets on 2024-03-15T12:30:00Z.",
    "Mr. O'Neil's well-known e-mail address is o.neil+tag@example.co.uk; call +1 (555) 010-9999.",
    "   leading spaces and trailing spaces   ",
    "CamelCaseIdentifiers and snake_case_names and SCREAMING_CAPS and kebab-case-words",
    # source code
    "def f(x):\n\tif x > 0:\n\t\treturn x ** 2  # square\n\treturn -x\n",
    "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\n",
    "#include <stdio.h>\r\nint main(void) {\r\n  printf(\"%d\\n\", 42);\r\n  return 0;\r\n}\r\n",
    "const x = {a: [1, 2, 3], 'b': \"c\"}; // => {\"a\":[1,2,3]}\n",
    "SELECT * FROM users WHERE id IN (1,2,3) AND name LIKE '%o''brien%';",
    "<div class=\"x\">&nbsp;&lt;tag&gt;</div>",
    # whitespace
    "a\tb\t\tc\t\t\t d",
    "line one\r\nline two\r\n\r\nline four\n\n\n\nafter blanks",
    "          ten spaces then text",
    "\n",
    " \n \n  \t \r\n",
    "mixed\u00a0no-break\u00a0spaces\u202fand\u2009thin\u3000ideographic",
    "\u0085next-line\u000bvertical-tab\u000cform-feed\u2028line-sep\u2029para-sep",
    # emoji
    "Thumbs 👍👍🏽👍🏿 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵🇺🇸 🏳️‍🌈 keycap 1️⃣ #️⃣",
    "🙂🙃😀😃😄😁😆😅🤣😂 emoji run",
    # CJK and other scripts
    "中文文本：我们今天去公园散步，天气很好。",
    "日本語のテキスト、ひらがなとカタカナ、漢字を含む。",
    "한국어 텍스트도 포함합니다. 안녕하세요!",
    "हिन्दी पाठ: नमस्ते दुनिया, यह एक परीक्षण है।",
    "النص العربي: مرحبا بالعالم، هذا اختبار ١٢٣.",
    "טקסט בעברית: שלום עולם, זה מבחן.",
    "Ελληνικά κείμενα και Кириллица текст, ภาษาไทย ทดสอบ",
    "Tiếng Việt có dấu: Trường Đại học, người ấy.",
    # characters assigned in Unicode 15 and later
    "new: \U0001FAE8 \U0001FA77 CJK-H \U00031350\U00031351 Kawi \U00011F04\U00011F05\U00011F12",
    # combining marks, normalization
    "e\u0301 vs \u00e9, A\u030a vs \u00c5, n\u0303 vs \u00f1",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dalgo",
    "\u1100\u1161\u11a8 decomposed hangul and \uac01 composed",
    "ligature \ufb01le, \u01c4 titlecase \u01c5, Kelvin \u212a, long s \u017f, it'\u017f",
    "full-width ＡＢＣ１２３！？ and half-width ｶﾀｶﾅ",
    # zero-width
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    # long repeats
    "a" * 300,
    "!" * 120 + "?" * 50,
    " " * 80 + "x",
    "0123456789" * 12,
    "=" * 64 + "\n" + "-" * 64,
    "\u2581" * 20 + " literal lower-one-eighth blocks \u2581word",
    # special-token look-alikes (as plain text)
    "<|endoftext|> and <|im_start|>user\nhello<|im_end|>",
    "<s>[INST] hi [/INST]</s> <unk> <pad> <bos> <eos>",
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>",
    "<\uff5cbegin\u2581of\u2581sentence\uff5c> deepseek style",
    "<think>reasoning</think> <0x41><0xFF> <start_of_turn>model",
    "<|endoftext |> <| endoftext|> <|ENDOFTEXT|> <|endoftext",
]


def make_text(rng):
    k = rng.choice([1, 1, 2, 3, 4, 6])
    parts = [rng.choice(FRAGMENTS) for _ in range(k)]
    seps = ["", " ", "\n", "\t", "  ", "\r\n", "\u00a0"]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(seps) + p
    # sometimes cut inside (a character boundary: Python slices code points)
    if rng.random() < 0.2 and len(out) > 4:
        a = rng.randrange(len(out) // 2)
        out = out[a:]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--long", action="store_true", help="add a few texts of 100-300 kB (one long word, "
                    "whitespace, word marks, prose on one line)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    texts = list(FRAGMENTS) + [make_text(rng) for _ in range(args.count)]
    if args.long:
        texts += ["x" * 200_000, " " * 100_000 + "y", "\u2581" * 70_000 + "z",
                  "ab " * 60_000, " ".join(rng.choice(FRAGMENTS) for _ in range(4000)).replace("\n", " ")]
    for t in texts:
        print(json.dumps({"text": t}, ensure_ascii=False))


if __name__ == "__main__":
    main()
