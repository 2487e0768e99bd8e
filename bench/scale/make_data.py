#!/usr/bin/python3
"""Benchmark data for bench/scale/run.sh, made from the bundled corpora
(corpora/train): deterministic, no network.

  make_data.py suspect TOKENS OUT.jsonl   closed-audit records {"prompt", "response"} whose responses hold
                                          exactly TOKENS tokens of the bundled tokenizer in all
  make_data.py teacher OUT.jsonl          the corpus as {"text"} paragraphs (the filter's data)
  make_data.py lines N OUT.jsonl          N short {"text"} lines (a corpus scan)

Past the first pass over the corpus, sentences are shuffled and words within them permuted (seeded), so
that longer files keep holding new (window, token) tuples instead of repeats.
"""
import json
import os
import random
import sys

import isotope

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "corpora", "train")


def sentences():
    out = []
    for name in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
            words = f.read().split()
        for i in range(0, len(words), 25):
            out.append(words[i:i + 25])
    return out


def passes():
    base = sentences()
    rng = random.Random(2026)
    k = 0
    while True:
        if k == 0:
            yield from base
        else:
            order = list(range(len(base)))
            rng.shuffle(order)
            for i in order:
                s = list(base[i])
                rng.shuffle(s)
                yield s
        k += 1


def suspect(total, path):
    tok = isotope.Tokenizer()
    src = passes()
    have = 0
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        while have < total:
            prompt = " ".join(next(src))
            words = next(src) + next(src) + next(src) + next(src) + next(src) + next(src) + next(src) + next(src)
            response = " ".join(words)
            n = len(tok.encode(response))
            if have + n > total:  # the last record: a prefix of words with exactly the tokens left
                need = total - have
                response = None
                for cut in range(len(words), 0, -1):
                    text = " ".join(words[:cut])
                    if len(tok.encode(text)) == need:
                        response = text
                        break
                if response is None:
                    continue  # no prefix fits: try the next sentences
                n = need
            f.write(json.dumps({"prompt": prompt, "response": response}) + "\n")
            have += n
    os.replace(path + ".tmp", path)


def teacher(path):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        s = sentences()
        for i in range(0, len(s), 8):
            f.write(json.dumps({"text": " ".join(w for x in s[i:i + 8] for w in x)}) + "\n")
    os.replace(path + ".tmp", path)


def lines(n, path):
    src = passes()
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for _ in range(n):
            f.write(json.dumps({"text": " ".join(next(src))}) + "\n")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "suspect":
        suspect(int(sys.argv[2]), sys.argv[3])
    elif what == "teacher":
        teacher(sys.argv[2])
    elif what == "lines":
        lines(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
