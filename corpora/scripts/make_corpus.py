#!/usr/bin/python3
"""Assemble isotope's human-text corpus from installed Debian packages.

Reads the King James Bible (bible-kjv), the Jargon File (jargon-text), Bierce's
Devil's Dictionary (dict-devil) and WordNet 3.0 glosses (wordnet-base), cleans
them into plain prose and writes, under OUT_DIR:

  train/<source>.txt     about 90% of the documents of each source
  heldout/<source>.txt   the other 10% (every tenth document)
  prompts.jsonl          short prompts cut from held-out documents

A corpus file holds one document per paragraph: each document is a single
line, and documents are separated by one blank line. Documents are packed from
consecutive source paragraphs (verses of one chapter, dictionary entries,
glosses) until they hold at least MIN_WORDS words, so that almost every
document is longer than 200 tokens.

The output depends only on the installed package versions: no randomness, no
clock, no locale, no hash randomisation (only positions and SHA-256 are used).
"""

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import unicodedata

MIN_WORDS = 200        # a document is closed once it holds this many words
HELDOUT_EVERY = 10     # document i goes to heldout/ iff i % 10 == HELDOUT_SLOT
HELDOUT_SLOT = 9
WORDNET_KEEP = 2       # keep one synset in WORDNET_KEEP (by position in its file)
PROMPTS = {"bible": 80, "jargon": 50, "devil": 20, "wordnet": 50}

JARGON_PATH = "/usr/share/doc/jargon-text/jargon.txt.gz"
DEVIL_PATH = "/usr/share/dictd/devil.dict.dz"
WORDNET_DIR = "/usr/share/wordnet"
BIBLE_RANGE = "Gen1:1-Rev22:21"

# Typographic characters mapped to plain ones, so that every source uses the
# same quotes and spaces.
CHAR_MAP = str.maketrans({
    "\u00a0": " ", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\t": " ", "\r": " ",
})
BOX_DRAWING = re.compile("[\u2500-\u257f\u2550-\u256c]")


def clean(text):
    """Normalises characters and whitespace of one paragraph."""
    text = unicodedata.normalize("NFC", text).translate(CHAR_MAP)
    return " ".join(text.split())


def words(text):
    return len(text.split())


def pack(units, min_words=MIN_WORDS):
    """Joins consecutive units into documents of at least min_words words."""
    docs, cur, n = [], [], 0
    for u in units:
        if not u:
            continue
        cur.append(u)
        n += words(u)
        if n >= min_words:
            docs.append(" ".join(cur))
            cur, n = [], 0
    if cur:
        docs.append(" ".join(cur))
    return docs


# --- King James Bible ---------------------------------------------------------

VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def bible_docs():
    out = subprocess.run(["bible", "-f", BIBLE_RANGE], check=True,
                         capture_output=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                   "LC_ALL": "C.UTF-8"}).stdout
    chapters, order = {}, []
    for line in out.decode("utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        m = VERSE.match(line)
        if not m:
            raise SystemExit("make_corpus: unexpected line from bible: %r" % line[:80])
        key = (m.group(1), int(m.group(2)))
        if key not in chapters:
            chapters[key] = []
            order.append(key)
        chapters[key].append(clean(m.group(4)))
    docs = []
    for key in order:
        verses = chapters[key]
        total = sum(words(v) for v in verses)
        # Split a chapter into k nearly equal parts at verse boundaries, each
        # of at least MIN_WORDS words (a short chapter stays whole).
        k = max(1, total // MIN_WORDS)
        part, acc, j = [], 0, 1
        for v in verses:
            part.append(v)
            acc += words(v)
            if j < k and acc * k >= j * total:
                docs.append(" ".join(part))
                part, j = [], j + 1
        if part:
            docs.append(" ".join(part))
    return docs


# --- The Jargon File ------------------------------------------------------------

HEADWORD = re.compile(r"^   :(.+?):(.*)$")
LETTER = re.compile(r"^  [A-Z0-9]$")


def jargon_docs():
    with gzip.open(JARGON_PATH, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    # Body: from the welcome page to the bibliography (excluded).
    # (the centred title, not the table of contents entry of the same name)
    start = next(i for i, l in enumerate(lines)
                 if l.strip() == "Welcome to the Jargon File" and l.startswith(" " * 10))
    end = next(i for i, l in enumerate(lines) if l == "Bibliography")
    lines = lines[start + 1:end]

    blocks, cur = [], []
    for l in lines:
        if l.strip():
            cur.append(l)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)

    units = []
    skipping_index = False   # inside the glossary's lists of headwords
    pending_head = None
    for b in blocks:
        first = b[0]
        if first == "Glossary" or LETTER.match(first):
            skipping_index = True
            continue
        m = HEADWORD.match(first) if len(b) == 1 else None
        if m:
            skipping_index = False
            pending_head = clean(m.group(1))
            continue
        if skipping_index:
            continue
        if any(BOX_DRAWING.search(l) for l in b):
            continue
        indents = {len(l) - len(l.lstrip(" ")) for l in b}
        if not indents <= {3, 5}:
            continue   # headings, code, tables, verse layouts
        text = clean(" ".join(b)).replace("{", "").replace("}", "")
        if words(text) < 6 or not re.search("[a-z]", text) or text.startswith("\u2022"):
            continue   # table-of-contents lines, tags such as [WPI], bullet lists
        if len(b) == 1 and text[-1] not in ".?!:;\"')":
            continue   # titles and table-of-contents lines
        if pending_head:
            text = pending_head + ": " + text
            pending_head = None
        units.append(text)
    return pack(units)


# --- The Devil's Dictionary ---------------------------------------------------------

DEVIL_HEAD = re.compile(r"^([A-Z][A-Z'\- ]*[A-Z])(?=[,.])")


def devil_docs():
    with gzip.open(DEVIL_PATH, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.strip() == "PREFACE")
    units, cur = [], []
    for l in lines[start + 1:]:
        if l.strip() == "abcdefghijklmnopqrstuvwxyz":
            break   # dictfmt's trailing alphabet entry
        indent = len(l) - len(l.lstrip(" "))
        if indent >= 20:
            continue   # right-aligned attributions of quoted verse
        m = DEVIL_HEAD.match(l)
        if m and indent == 0:
            if cur:
                units.append(clean(" ".join(cur)))
            head = m.group(1)
            cur = [head[0] + head[1:].lower() + l[m.end():]]
        elif l.strip():
            cur.append(l)
    if cur:
        units.append(clean(" ".join(cur)))
    # Italics underscores go; cross-references "{EPITAPH}" become "Epitaph".
    units = [re.sub(r"\{([^{}]+)\}", lambda m: m.group(1)[0] + m.group(1)[1:].lower(),
                    u.replace("_", "")) for u in units]
    return pack(units)


# --- WordNet glosses --------------------------------------------------------------


def wordnet_docs():
    units = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(WORDNET_DIR, "data." + pos), encoding="utf-8") as f:
            synsets = [l for l in f.read().split("\n") if l and not l.startswith("  ")]
        for i, line in enumerate(synsets):
            if i % WORDNET_KEEP != 0:
                continue
            head, _, gloss = line.partition(" | ")
            lemma = head.split(" ")[4]
            lemma = re.sub(r"\([a-z]+\)$", "", lemma).replace("_", " ")
            gloss = clean(gloss)
            if not gloss:
                continue
            if gloss[-1] not in '.!?"':
                gloss += "."
            units.append(lemma + ": " + gloss)
    return pack(units)


# --- output ---------------------------------------------------------------------


def write(path, docs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = "\n\n".join(docs) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(data)


def prompt_of(doc):
    """First sentence fragment of a document, 5 to 15 words long."""
    n = 5 + int.from_bytes(hashlib.sha256(doc.encode("utf-8")).digest()[:4], "big") % 11
    ws = doc.split()
    sentence = []
    for w in ws:
        sentence.append(w)
        if w[-1] in ".?!;:" and len(sentence) >= 5:
            break
    text = " ".join(sentence[:n]).rstrip(",;:")
    return re.sub(r"^\d+\. ", "", text)   # no leading sense number


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_corpus.py OUT_DIR")
    out = sys.argv[1]
    sources = [("bible", bible_docs), ("jargon", jargon_docs), ("devil", devil_docs),
               ("wordnet", wordnet_docs)]
    prompts = []
    for name, fn in sources:
        docs = fn()
        docs = [d for d in docs if d]
        train = [d for i, d in enumerate(docs) if i % HELDOUT_EVERY != HELDOUT_SLOT]
        held = [d for i, d in enumerate(docs) if i % HELDOUT_EVERY == HELDOUT_SLOT]
        write(os.path.join(out, "train", name + ".txt"), train)
        write(os.path.join(out, "heldout", name + ".txt"), held)
        want = min(PROMPTS[name], len(held))
        for j in range(want):
            prompts.append(prompt_of(held[(j * len(held)) // want]))
        print("%-8s train %6d docs %8d words   heldout %5d docs %7d words" % (
            name, len(train), sum(words(d) for d in train),
            len(held), sum(words(d) for d in held)))
    with open(os.path.join(out, "prompts.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for p in prompts:
            f.write(json.dumps({"prompt": p}, ensure_ascii=False) + "\n")
    print("prompts  %d" % len(prompts))


if __name__ == "__main__":
    main()
