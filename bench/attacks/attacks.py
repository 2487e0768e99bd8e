#!/usr/bin/env python3
"""Attack suite: how much of the watermark survives edits of the text.

The bundled n-gram model and tokenizer generate watermarked answers to the
bundled prompts (every scheme, several context widths); each answer is edited
as an adversary or an ordinary pipeline would, then detected again with the
same key, without and with the normalizers (`--normalize all`). Prints
markdown tables: the share of answers still flagged (true positive rate) at
the thresholds 1e-2, 1e-4 and 1e-6.

    bench/attacks/run.sh            (or: python3 bench/attacks/attacks.py --texts 30)

Attacks (a share p of the words, chosen at random):
  delete p         words removed
  insert p         words from held-out human text inserted at random places
  substitute p     words replaced by a WordNet synonym (Debian's `wordnet`
                   package: /usr/share/wordnet/data.*), where one exists
  copy-paste q     the answer pasted inside held-out human text, making up a
                   share q of the document's tokens; plain and windowed (--scan)
  lowercase, uppercase   case changes of the whole answer
  emoji            the emoji attack: at generation the model is made to write
                   an emoji after every token (it enters the context of the
                   next token), then the emoji are removed
  nbsp, double spaces, zero-width   whitespace edits
  homoglyphs p     a share p of the Latin letters a, c, e, o, p, x, y replaced
                   by their Cyrillic look-alikes
"""
import argparse
import json
import pathlib
import random
import re
import sys
import time

import numpy as np

import isotope

ROOT = pathlib.Path(__file__).resolve().parents[2]
THRESHOLDS = [1e-2, 1e-4, 1e-6]
EMOJI = "\U0001F600"
CYRILLIC = {"a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445", "y": "\u0443"}


def wordnet_synonyms(folder="/usr/share/wordnet"):
    """word -> sorted single-word synonyms, from WordNet's data files."""
    syn = {}
    for pos in ("noun", "verb", "adj", "adv"):
        path = pathlib.Path(folder) / f"data.{pos}"
        if not path.exists():
            sys.exit(f"attacks: {path} missing: install Debian's wordnet package (scripts/setup.sh)")
        for line in path.open(encoding="latin-1"):
            if line.startswith(" "):
                continue  # licence header
            f = line.split()
            count = int(f[3], 16)
            words = [f[4 + 2 * i].lower() for i in range(count)]
            words = [re.sub(r"\(.*\)$", "", w) for w in words if "_" not in w]
            for w in words:
                others = [o for o in words if o != w]
                if others:
                    syn.setdefault(w, set()).update(others)
    return {w: sorted(s) for w, s in syn.items()}


def human_text():
    return "\n\n".join((ROOT / "corpora" / "heldout" / f).read_text(encoding="utf-8")
                       for f in ("devil.txt", "jargon.txt"))


def same_case(template, word):
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def edit_words(text, rng, fn):
    """Applies fn(word) -> str|None to the chosen words (None: keep) and rejoins."""
    parts = re.split(r"(\s+)", text)
    return "".join(fn(p) if i % 2 == 0 and p else p for i, p in enumerate(parts))


def delete(text, rng, share):
    words = text.split()
    keep = [w for w in words if rng.random() >= share]
    return " ".join(keep)


def insert(text, rng, share, pool):
    out = []
    for w in text.split():
        out.append(w)
        if rng.random() < share:
            out.append(rng.choice(pool))
    return " ".join(out)


def substitute(text, rng, share, syn):
    def sub(w):
        m = re.match(r"^([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)$", w)
        if not m or rng.random() >= share:
            return w
        cands = syn.get(m.group(2).lower())
        if not cands:
            return w
        return m.group(1) + same_case(m.group(2), rng.choice(cands)) + m.group(3)
    return edit_words(text, rng, sub)


def homoglyphs(text, rng, share):
    return "".join(CYRILLIC[c] if c in CYRILLIC and rng.random() < share else c for c in text)


def copy_paste(answer, rng, share, human, tok):
    """The answer inside human text: the answer makes up `share` of the tokens."""
    n_answer = len(tok.encode(answer))
    n_human = int(n_answer * (1 - share) / share)
    ids = tok.encode(human)
    start = rng.randrange(0, len(ids) - n_human - 1)
    before = tok.decode(ids[start:start + n_human // 2])
    after = tok.decode(ids[start + n_human // 2:start + n_human])
    return before + " " + answer + " " + after


def generate(model, proc, prompt_ids, n, rng, emoji_ids=None):
    ctx = list(prompt_ids)
    out = []
    for _ in range(n):
        logits = model.next_logits(ctx)
        t = isotope.watermark_sample(proc, np.asarray(ctx, dtype=np.int64), logits, rng=rng)
        ctx.append(t)
        out.append(t)
        if emoji_ids:  # the emoji the model was told to write after every token
            ctx.extend(emoji_ids)
            out.extend(emoji_ids)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=30, help="answers per scheme and context width")
    ap.add_argument("--tokens", type=int, default=100, help="tokens per answer")
    ap.add_argument("--schemes", default="kgw,gumbel,synthid")
    ap.add_argument("--widths", default="0,1,2,4")
    ap.add_argument("--json", help="also write every result here")
    a = ap.parse_args()

    t0 = time.time()
    tok = isotope.Tokenizer()
    model = isotope.NgramModel()
    syn = wordnet_synonyms()
    human = human_text()
    pool = [w for w in human.split() if w.isalpha()]
    prompts = [json.loads(l)["prompt"] for l in (ROOT / "corpora" / "prompts.jsonl").read_text().splitlines()]
    emoji_ids = tok.encode(" " + EMOJI)
    if tok.decode(emoji_ids).strip() != EMOJI:
        sys.exit("attacks: the tokenizer does not keep the emoji")
    key = isotope.Key.from_bytes(bytes(range(7, 39)))

    attacks = [
        ("none", lambda t, r: t),
        ("delete 10% of words", lambda t, r: delete(t, r, 0.1)),
        ("delete 30% of words", lambda t, r: delete(t, r, 0.3)),
        ("delete 50% of words", lambda t, r: delete(t, r, 0.5)),
        ("insert 10% words", lambda t, r: insert(t, r, 0.1, pool)),
        ("insert 30% words", lambda t, r: insert(t, r, 0.3, pool)),
        ("substitute 10% of words (WordNet)", lambda t, r: substitute(t, r, 0.1, syn)),
        ("substitute 30% of words (WordNet)", lambda t, r: substitute(t, r, 0.3, syn)),
        ("substitute 60% of words (WordNet)", lambda t, r: substitute(t, r, 0.6, syn)),
        ("copy-paste: 25% of a human document", lambda t, r: copy_paste(t, r, 0.25, human, tok)),
        ("copy-paste: 10% of a human document", lambda t, r: copy_paste(t, r, 0.10, human, tok)),
        ("copy-paste: 10%, detect --scan", lambda t, r: copy_paste(t, r, 0.10, human, tok)),
        ("lowercase", lambda t, r: t.lower()),
        ("uppercase", lambda t, r: t.upper()),
        ("emoji attack", None),
        ("every space a no-break space", lambda t, r: t.replace(" ", "\u00a0")),
        ("double spaces", lambda t, r: t.replace(" ", "  ")),
        ("zero-width space after every space", lambda t, r: t.replace(" ", " \u200b")),
        ("homoglyphs: 20% of a c e o p x y", lambda t, r: homoglyphs(t, r, 0.2)),
        ("homoglyphs: all of a c e o p x y", lambda t, r: homoglyphs(t, r, 1.0)),
    ]
    rows = []
    widths = [int(w) for w in a.widths.split(",")]
    def widths_of(scheme):
        # The distortion-free schemes skip the watermark on a context already
        # seen in the answer: at h = 0 every context is the empty one, so only
        # the first token carries it.
        return [h for h in widths if h > 0 or scheme == "kgw"]

    for scheme in a.schemes.split(","):
        for h in widths_of(scheme):
            profile = isotope.Profile(scheme=scheme, context_width=h)
            proc = isotope.WatermarkLogitsProcessor(key, profile)
            dets = {norm: isotope.Detector(key, profile=profile, normalize=norm) for norm in (None, "all")}
            for i in range(a.texts):
                prompt = prompts[i % len(prompts)]
                pids = tok.encode(prompt)
                answer = tok.decode(generate(model, proc, pids, a.tokens, isotope.Rng(1000 + i)))
                emoji_answer = tok.decode(generate(model, proc, pids, a.tokens, isotope.Rng(1000 + i), emoji_ids))
                for name, fn in attacks:
                    r = random.Random(f"{scheme}/{h}/{i}/{name}")
                    text = emoji_answer.replace(EMOJI, "").replace("  ", " ") if fn is None else fn(answer, r)
                    scan = "--scan" in name
                    for norm, det in dets.items():
                        res = det.detect(text, scan=scan)
                        lp = res["scan"]["log10_p"] if scan else res["log10_p"]
                        rows.append({"scheme": scheme, "h": h, "attack": name, "normalize": norm or "none",
                                     "text": i, "log10_p": lp})
            print(f"attacks: {scheme} h={h} done ({time.time() - t0:.0f} s)", file=sys.stderr)
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(rows))

    print(f"{a.texts} answers of {a.tokens} tokens per scheme and context width (bundled n-gram model, "
          f"temperature 1, one key). Each cell: the share flagged at p <= 1e-2 / 1e-4 / 1e-6 without "
          f"normalizers ‖ the same with `--normalize all`.\n")
    for scheme in a.schemes.split(","):
        print(f"### {scheme}\n")
        ws = widths_of(scheme)
        print("| attack | " + " | ".join(f"h = {h}" for h in ws) + " |")
        print("| --- |" + " ---: |" * len(ws))
        for name, _ in attacks:
            cells = []
            for h in ws:
                parts = []
                for norm in ("none", "all"):
                    lps = [x["log10_p"] for x in rows
                           if x["scheme"] == scheme and x["h"] == h and x["attack"] == name and x["normalize"] == norm]
                    parts.append(" / ".join(f"{sum(lp <= np.log10(t) for lp in lps) / len(lps):.2f}"
                                            for t in THRESHOLDS))
                cells.append(" ‖ ".join(parts))
            print(f"| {name} | " + " | ".join(cells) + " |")
        print()
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
