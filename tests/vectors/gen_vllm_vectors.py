#!/usr/bin/python3
"""Reference values of the vLLM-compatible profiles "vllm-gumbel" and
"vllm-dual-key-gumbel" (docs/compat.md, "vLLM").

Written for the tests from the construction as docs/compat.md states it, not
from the engine's code and not from the C++ library: Philox4x32-10 on numpy
uint64 arrays, the key derivation with hashlib, the detector's windows and
deduplication, the score, and the tails with mpmath (the dual-key tail by
numerical integration, a different route from the library's series). Checks
its own Philox against the Random123 known-answer vectors first.

Writes vllm_vectors.json next to this file; tests/unit/test_vllm.cpp,
tests/cli/test_vllm.sh and bindings/python/tests/test_vllm.py check isotope
against it.

Usage: /usr/bin/python3 tests/vectors/gen_vllm_vectors.py [OUTPUT.json]
"""

import hashlib
import json
import math
import os
import random
import sys

import mpmath
import numpy as np

M32 = 0xFFFFFFFF
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
CONTEXT_DOMAIN = 0x574D4358  # "WMCX"
TOKEN_DOMAIN = 0x574D544B  # "WMTK"
PAD = M32  # the engine's -1
CELL_MARGIN = 2.0 ** -23


def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint64 numpy arrays (or ints) holding 32-bit words."""
    c0, c1, c2, c3 = (np.asarray(x, dtype=np.uint64) for x in (c0, c1, c2, c3))
    k0, k1 = np.asarray(k0, dtype=np.uint64), np.asarray(k1, dtype=np.uint64)
    for r in range(10):
        p0 = c0 * np.uint64(M0)  # < 2^64: exact in uint64
        p1 = c2 * np.uint64(M1)
        hi0, lo0 = p0 >> np.uint64(32), p0 & np.uint64(M32)
        hi1, lo1 = p1 >> np.uint64(32), p1 & np.uint64(M32)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        if r != 9:
            k0 = (k0 + np.uint64(W0)) & np.uint64(M32)
            k1 = (k1 + np.uint64(W1)) & np.uint64(M32)
    return c0, c1, c2, c3


def check_random123():
    # Known-answer vectors of Philox4x32-10 from Random123 (kat_vectors).
    kats = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((M32, M32, M32, M32), (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for ctr, key, want in kats:
        got = tuple(int(x) for x in philox(*ctr, *key))
        assert got == want, (ctr, key, [hex(x) for x in got])


def context_state(key, window):
    """The state of a window: blocks of four ids, missing lanes 0xFFFFFFFF - i."""
    k0, k1 = key & M32, key >> 32
    h = len(window)
    s = [CONTEXT_DOMAIN, h, 0, 0]
    for o in range(0, h, 4):
        block = [window[o + i] if o + i < h else M32 - i for i in range(4)]
        s = [int(x) for x in philox(*(s[i] ^ block[i] for i in range(4)), k0 ^ o, k1)]
    return s


def token_words(key, window, tokens):
    k0, k1 = key & M32, key >> 32
    s = context_state(key, window)
    t = np.asarray(tokens, dtype=np.uint64)
    z = np.zeros_like(t)
    return philox(t, z + np.uint64(s[0]), z + np.uint64(s[1]), z + np.uint64(s[2]), k0 ^ s[3],
                  k1 ^ TOKEN_DOMAIN)[0]


def uniforms(words):
    """float32((top 24 bits + 1) / (2^24 + 1)), computed in float64 then rounded."""
    m = (np.asarray(words, dtype=np.uint64) >> np.uint64(8)).astype(np.float64)
    return ((m + 1.0) / float(2 ** 24 + 1)).astype(np.float32)


def f32_bits(x):
    return int(np.asarray(x, dtype=np.float32).view(np.uint32))


def derive(key, domain):
    d = hashlib.sha256(domain + key.to_bytes(8, "big")).digest()
    return int.from_bytes(d[:8], "big")


def check_cells():
    """u >= m / 2^24 for every m, and -log1p(-u) - (-log1p(-m/2^24)) < 2^-23."""
    m = np.arange(2 ** 24, dtype=np.uint64)
    u = uniforms(m << np.uint64(8)).astype(np.float64)
    c = m.astype(np.float64) / 2.0 ** 24
    assert np.all(u >= c)
    assert np.all(u[m >= 2 ** 23] == c[m >= 2 ** 23])
    assert np.all(u < 1.0) and np.all(u > 0.0)
    gap = -np.log1p(-u) + np.log1p(-c)
    assert gap.max() < CELL_MARGIN
    return float(gap.max())


def windows_of(ids, h):
    """The detector's windows: the h ids before each position, -1 before the first."""
    prefix = [PAD] * h
    out = []
    for t in ids:
        out.append(tuple(prefix[-h:]))
        prefix.append(t)
    return out


def detect(ids, h, keys, alpha):
    """Scored tuples deduplicated by window; score in double; (N, S)."""
    seen, s, n = set(), 0.0, 0
    for w, t in zip(windows_of(ids, h), ids):
        if w in seen:
            continue
        seen.add(w)
        sc = [-math.log1p(-float(uniforms(token_words(k, list(w), [t]))[0])) for k in keys]
        s += sc[0] if len(keys) == 1 else sc[0] * (1.0 - alpha) + sc[1] * alpha
        n += 1
    return n, s


def log10_gamma_tail(s, n):
    if s <= 0:
        return 0.0
    return float(mpmath.log10(mpmath.gammainc(n, s, mpmath.inf, regularized=True)))


def log10_weighted_tail(s, n, a, b):
    """P(a X + b Y >= s), X, Y ~ Gamma(n, 1), by integrating over Y (mpmath)."""
    if s <= 0:
        return 0.0
    if a == 0 or b == 0:
        return log10_gamma_tail(s / (a + b), n)
    s, a, b = mpmath.mpf(s), mpmath.mpf(a), mpmath.mpf(b)

    def f(y):  # density of Y times P(X >= (s - b y) / a)
        return mpmath.exp((n - 1) * mpmath.log(y) - y - mpmath.loggamma(n)) * \
            mpmath.gammainc(n, (s - b * y) / a, mpmath.inf, regularized=True)

    top = s / b
    tail = mpmath.gammainc(n, top, mpmath.inf, regularized=True)
    # The integrand is sharply peaked far in the tail: many pieces, and two
    # subdivisions that must agree.
    prev, m = None, 100
    while True:
        cur = mpmath.log10(mpmath.quad(f, [top * k / m for k in range(m + 1)]) + tail)
        if prev is not None and abs(cur - prev) < mpmath.mpf(10) ** -13 * (1 + abs(cur)):
            return float(cur)
        assert m < 10000, (n, float(s), float(a), float(b))
        prev, m = cur, 2 * m


def engine_gamma_survival(score, shape):
    """The engine's double-precision Gamma(shape, 1) survival (what its detector prints)."""
    if shape <= 0 or score <= 0:
        return 1.0
    ls = math.log(score)
    terms, t = [0.0], 0.0
    for i in range(1, shape):
        t += ls - math.log(i)
        terms.append(t)
    mx = max(terms)
    lsum = mx + math.log(sum(math.exp(x - mx) for x in terms))
    return min(1.0, math.exp(min(0.0, -score + lsum)))


def gumbel_choice(key, h, context, logits, temperature, candidates=None):
    """The engine's sampler: argmax of float32 l / T - log(-log u), lowest id on ties."""
    window = ([PAD] * h + list(context))[-h:]
    logits = np.asarray(logits, dtype=np.float32)
    ids = np.arange(len(logits), dtype=np.uint64) if candidates is None else np.asarray(candidates, np.uint64)
    u = uniforms(token_words(key, window, ids))
    x = logits[ids.astype(np.int64)] / np.float32(temperature)
    v = x - np.log(-np.log(u))
    assert v.dtype == np.float32
    order = np.argsort(-v.astype(np.float64), kind="stable")
    best, second = float(v[order[0]]), float(v[order[1]])
    return int(ids[order[0]]), best - second


def check_weighted_tail():
    """The integration route against the closed form at a == b (Gamma(2n, 1/a))."""
    for n, s in [(3, 2.0), (50, 160.0), (300, 900.0)]:
        got = log10_weighted_tail(s, n, 0.5, 0.5001)
        near = log10_gamma_tail(s / 0.5, 2 * n)
        assert abs(got - near) < 0.05 * abs(near) + 1e-3, (n, s, got, near)
        a, b = mpmath.mpf(1) / 3, mpmath.mpf(1) / 3
        got = log10_weighted_tail(s, n, a, b * (1 + mpmath.mpf(10) ** -25))
        assert abs(got - log10_gamma_tail(s * 3, 2 * n)) < 1e-9 * (1 + abs(got)), (n, s)


def main():
    mpmath.mp.dps = 40
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                    "vllm_vectors.json")
    check_random123()
    max_gap = check_cells()
    check_weighted_tail()
    rng = random.Random(20260512)
    keys = [0, 1, 42, 2 ** 64 - 1] + [rng.getrandbits(64) for _ in range(4)]

    philox_vectors = []
    for key in keys:
        for h in range(1, 17):
            for _ in range(2):
                window = [rng.choice([0, 1, M32 - 1, M32, rng.getrandbits(32), rng.randrange(256000)])
                          for _ in range(h)]
                if rng.random() < 0.3:  # a padded window, as at the start of an answer
                    pad = rng.randrange(1, h + 1)
                    window = [PAD] * pad + window[pad:]
                tokens = [0, M32, rng.getrandbits(32), rng.randrange(256000)]
                w = token_words(key, window, tokens)
                u = uniforms(w)
                philox_vectors.append({
                    "key": str(key), "context": window, "tokens": tokens,
                    "words": [int(x) for x in w], "uniform_bits": [f32_bits(x) for x in u],
                })

    derive_vectors = [{"key": str(k), "key_a": str(derive(k, b"key_a")), "key_b": str(derive(k, b"key_b"))}
                      for k in keys]

    # Token-id sequences: random ones, repetitive ones (deduplication) and
    # watermarked ones (generated here by the engine's rule on random logits).
    sequences = []
    for i, (h, alpha, length, kind) in enumerate([
        (4, None, 200, "random"), (1, None, 60, "repeats"), (4, None, 1500, "marked"),
        (16, None, 120, "random"), (2, None, 400, "marked"),
        (4, 0.1, 200, "random"), (4, 0.1, 800, "marked"), (3, 0.5, 300, "marked"),
        (4, 0.3, 150, "repeats"),
    ]):
        key = keys[(i + 2) % len(keys)]
        ks = [key] if alpha is None else [derive(key, b"key_a"), derive(key, b"key_b")]
        if kind == "random":
            ids = [rng.randrange(32000) for _ in range(length)]
        elif kind == "repeats":
            ids = [rng.randrange(5) for _ in range(length)]
        else:
            vocab, ids = 400, []
            gen = np.random.default_rng(i)
            for _ in range(length):
                logits = (gen.standard_normal(vocab) * 2.0).astype(np.float32)
                which = 0 if alpha is None or rng.random() >= alpha else 1
                ids.append(gumbel_choice(ks[which], h, ids, logits, 1.0)[0])
        n, s = detect(ids, h, ks, 0.0 if alpha is None else alpha)
        shifted = s - n * CELL_MARGIN
        if alpha is None:
            l10 = log10_gamma_tail(shifted, n)
            engine_p = engine_gamma_survival(s, n)
        else:
            l10 = log10_weighted_tail(shifted, n, 1.0 - alpha, alpha)
            # The engine's moment-matched Gamma(N / v, 1) at S / v, v = (1 - alpha)^2 + alpha^2,
            # evaluated here with mpmath (the engine's double-precision value is 0 below 1e-308).
            v = (1.0 - alpha) ** 2 + alpha ** 2
            engine_p = float(mpmath.log10(mpmath.gammainc(n / v, s / v, mpmath.inf, regularized=True)))
        sequences.append({
            "scheme": "vllm-gumbel" if alpha is None else "vllm-dual-key-gumbel", "key": str(key),
            "context_width": h, "alpha": alpha, "ids": ids, "scored": n, "score": s, "log10_p": l10,
            ("engine_p_value" if alpha is None else "engine_moment_matched_log10_p"): engine_p,
        })

    # The dual-key tail alone, at points where the weighted sum matters.
    weighted = []
    for n, a, s in [(1, 0.1, 3.0), (5, 0.1, 2.0), (10, 0.1, 25.0), (50, 0.3, 80.0), (200, 0.1, 260.0),
                    (200, 0.1, 600.0), (100, 0.25, 120.0), (400, 0.05, 1200.0), (30, 0.9, 45.0)]:
        weighted.append({"n": n, "alpha": a, "s": s, "log10_p": log10_weighted_tail(s, n, 1.0 - a, a)})

    # Generation: the token the engine's sampler picks on float32 logits. Only
    # cases whose best value leads the next by more than 1e-4 are kept, so that
    # a last-bit difference between two float32 logarithms cannot change them.
    generation = []
    gen = np.random.default_rng(7)
    while len(generation) < 18:
        key = keys[len(generation) % len(keys)]
        h = [1, 4, 4, 7, 16][len(generation) % 5]
        vocab = [50, 500, 2000][len(generation) % 3]
        temperature = [1.0, 0.7, 1.3][len(generation) % 3]
        context = [int(x) for x in gen.integers(0, vocab, size=int(gen.integers(0, 2 * h)))]
        logits = (gen.standard_normal(vocab) * 3.0).astype(np.float32)
        logits[gen.integers(0, vocab, size=vocab // 10)] = -np.inf
        token, lead = gumbel_choice(key, h, context, logits, temperature)
        if lead <= 1e-4:
            continue
        generation.append({"key": str(key), "context_width": h, "context": context, "temperature": temperature,
                           "logits_bits": [f32_bits(x) for x in logits], "token": token})

    doc = {
        "about": "vLLM philox4x32-10-v1 reference values (tests/vectors/gen_vllm_vectors.py)",
        "cell_margin": CELL_MARGIN, "max_cell_gap": max_gap,
        "philox": philox_vectors, "derive": derive_vectors, "sequences": sequences,
        "weighted_tail": weighted, "generation": generation,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
