#!/usr/bin/python3
"""Reference values of the Hugging Face and TGI watermark profiles
(docs/compat.md: hf-kgw, tgi-kgw, hf-synthid).

Written for the tests from the documented construction, independent of the
C++ library and of transformers (which is not needed). The KGW green lists and
the SynthID sampling table come from torch's own CPU generator
(torch.Generator().manual_seed, torch.randperm, torch.randint), which is what
the engines call; the seeds, the selfhash table look-ups and the SynthID
hashing are computed here with Python integers.

Writes hf_vectors.json next to this file; tests/unit/test_hf_profiles.cpp
checks the library against it. Long lists are given by their length, their
first ids and the SHA-256 of their ids as little-endian uint32.

Usage: /usr/bin/python3 tests/vectors/gen_hf_vectors.py [OUTPUT.json]
"""

import hashlib
import json
import os
import struct
import sys

import torch
from fractions import Fraction

import mpmath

M64 = (1 << 64) - 1
TABLE = 1_000_003
LCG_MUL = 6364136223846793005


def digest(ids):
    return hashlib.sha256(struct.pack("<%dI" % len(ids), *ids)).hexdigest()


def summary(ids):
    return {"len": len(ids), "head": list(ids[:16]), "sha256": digest(ids)}


def randperm(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g).tolist()


def green(vocab, ratio, seed):
    return randperm(vocab, seed)[: int(vocab * ratio)]


def signed64(x):
    x &= M64
    return x - (1 << 64) if x >> 63 else x


def selfhash_seed(hk, table, window):
    """window: the context_width last ids, the scored token last."""
    b = table[window[-1] % TABLE] + 1
    least = min(signed64(hk * (table[t % TABLE] + 1) * b) for t in window)
    return least % ((1 << 64) - 1)


def synthid_hash(h, data):
    for x in data:
        h = signed64((h + x) * LCG_MUL + 1)
    return h


def synthid_gvalues(table, keys, context, token):
    h = synthid_hash(synthid_hash(1, context), [token])
    return [table[synthid_hash(h, [k]) % len(table)] for k in keys]


def synthid_exact_null(table, layers, tuples):
    """P(T >= t) for every t, T the number of ones over the tuples and layers
    when each layer's key is uniform: layer l reads table[(c_j + o_l) mod S],
    o_l uniform on 0..S-1, independent (docs/compat.md). Exact fractions."""
    S = len(table)
    res = []
    for context, token in tuples:
        h = synthid_hash(synthid_hash(1, context), [token])
        res.append(((h * LCG_MUL + 1) & ((1 << 64) - 1)) % S)
    # The rotation identity itself, checked on random keys through the full hashing.
    rnd = __import__("random").Random(5)
    for _ in range(200):
        k = rnd.getrandbits(64)
        o = (k * LCG_MUL) % S
        for (context, token), c in zip(tuples, res):
            h = synthid_hash(synthid_hash(1, context), [token])
            assert table[synthid_hash(h, [k]) % S] == table[(c + o) % S]
    one = {}
    for o in range(S):
        d = sum(table[(c + o) % S] for c in res)
        one[d] = one.get(d, 0) + Fraction(1, S)
    dist = {0: Fraction(1)}
    for _ in range(layers):
        nxt = {}
        for a, pa in dist.items():
            for b, pb in one.items():
                nxt[a + b] = nxt.get(a + b, 0) + pa * pb
        dist = nxt
    tail, out = Fraction(0), {}
    for t in sorted(dist, reverse=True):
        tail += dist[t]
        out[t] = tail
    return out


def main():
    out = {"randperm": [], "random_bits": [], "kgw": [], "selfhash": [], "tgi": [], "synthid": []}
    for n in (1, 2, 3, 10, 1000, 40000):
        for seed in (0, 1, 42, (1 << 32) + 5, (1 << 64) - 2):
            out["randperm"].append({"n": n, "seed": str(seed), "perm": summary(randperm(n, seed))})
    for seed in (0, 1, 42, 7777):
        g = torch.Generator().manual_seed(seed)
        bits = torch.randint(0, 2, (1 << 16,), generator=g).tolist()
        out["random_bits"].append({"seed": seed, "n": len(bits), "ones": sum(bits), "head": bits[:32],
                                   "sha256": digest(bits)})
    hk = 15485863
    for vocab in (32000, 128256):
        for prev in (0, 42, 31999):
            seed = (hk * prev) % ((1 << 64) - 1)
            out["kgw"].append({"vocab": vocab, "ratio": 0.25, "hashing_key": str(hk), "prev": prev,
                               "seed": str(seed), "green": summary(green(vocab, 0.25, seed))})
    for key in (1, (1 << 63) + 12345):  # large keys: the mod (2^64 - 1) matters
        for prev in (7, 150000):
            seed = (key * prev) % ((1 << 64) - 1)
            out["kgw"].append({"vocab": 151936, "ratio": 0.25, "hashing_key": str(key), "prev": prev,
                               "seed": str(seed), "green": summary(green(151936, 0.25, seed))})
    for key in (15485863, 123456789):
        g = torch.Generator().manual_seed(key)
        table = torch.randperm(TABLE, generator=g).tolist()
        for window in ([5], [17, 99], [31999, 0, 1234], [10**6 + 40, 2]):
            seed = selfhash_seed(key, table, window)
            out["selfhash"].append({"hashing_key": str(key), "window": window, "seed": str(seed),
                                    "green": summary(green(32000, 0.25, seed))})
    for prev in (0, 1, 42, 31999):
        seed = hk * prev
        out["tgi"].append({"vocab": 32000, "gamma": 0.5, "prev": prev, "seed": str(seed),
                           "green": summary(green(32000, 0.5, seed))})
    keys = [654, 400, 836, 123, 340, 443, 597, 160, 57, 29, 590, 639, 13, 715, 468, 990, 966, 226, 324, 585,
            118, 504, 421, 521, 129, 669, 732, 225, 90, 960]
    for table_size, table_seed in ((1 << 16, 0), (1 << 10, 42)):
        g = torch.Generator().manual_seed(table_seed)
        table = torch.randint(0, 2, (table_size,), generator=g).tolist()
        for context, token in (([0, 0, 0, 0], 0), ([1, 2, 3, 4], 5), ([31999, 17, 256000, 9], 128255),
                               ([2**31 - 1, 5, 6, 7], 2**31 - 2)):
            out["synthid"].append({"table_size": table_size, "table_seed": table_seed, "keys": keys,
                                   "context": context, "token": token,
                                   "g": synthid_gvalues(table, keys, context, token)})
    out["synthid_null"] = []
    mpmath.mp.dps = 40
    for table_size, table_seed, layers, n in ((64, 3, 3, 5), (256, 11, 4, 40), (1 << 16, 0, 2, 12)):
        g = torch.Generator().manual_seed(table_seed)
        table = torch.randint(0, 2, (table_size,), generator=g).tolist()
        rnd = __import__("random").Random(table_size)
        tuples = [([rnd.randrange(50000) for _ in range(2)], rnd.randrange(50000)) for _ in range(n)]
        tails = synthid_exact_null(table, layers, tuples)
        out["synthid_null"].append({
            "table_size": table_size, "table_seed": table_seed, "layers": layers,
            "windows": [c for c, _ in tuples], "tokens": [t for _, t in tuples],
            "log10_tail": {str(t): float(mpmath.log10(mpmath.mpf(p.numerator) / p.denominator))
                           for t, p in tails.items()}})
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                 "hf_vectors.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
