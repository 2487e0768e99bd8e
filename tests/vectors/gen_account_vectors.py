#!/usr/bin/python3
"""Reference values for attribution (tests/vectors/account_vectors.json),
computed from the construction in docs/spec.md ("Attribution") with Python's
hashlib and mpmath only:

    /usr/bin/python3 tests/vectors/gen_account_vectors.py > tests/vectors/account_vectors.json

- account key = BLAKE2b-256 keyed with the master key over
  b"isotope/v1/account-key" + uint32le(len(id)) + id (UTF-8 bytes);
- route key R = BLAKE2b-128 keyed with the master key over b"isotope/v1/account-route";
  coin(w) = SipHash-2-4 under R of the window ids as uint32le, read as uint64le;
  account iff (coin >> 32) < floor(alpha * 2^32). SipHash-2-4 is written out
  below from its paper (Aumasson and Bernstein 2012), checked against the
  paper's test vector;
- nested KGW marks: at a window routed to the account, the tokens favoured
  are those green under the master key (the profile's gamma) and green under
  the account key at gamma 1/2, the KGW green bits computed by the
  independent PRF of tests/vectors/gen_prf_vectors.py;
- Holm's adjusted p-values, computed with mpmath at 50 digits from the
  p-values themselves (not their logs): sort, multiply the j-th smallest by
  (m - j + 1), cap at 1, running maximum; reported as log10.
"""
import hashlib
import json
import os
import struct
import sys

import mpmath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_prf_vectors import GreenList, green_threshold  # noqa: E402 (the independent KGW PRF)

mpmath.mp.dps = 50
MASK = (1 << 64) - 1


def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(key16, data):
    k0, k1 = struct.unpack("<QQ", key16)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n):
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16); v3 ^= v2
            v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21); v3 ^= v0
            v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)

    n = len(data)
    tail = data[n - n % 8:] + bytes(7 - n % 8) + bytes([n & 0xFF])
    blocks = data[: n - n % 8] + tail
    for i in range(0, len(blocks), 8):
        m = struct.unpack("<Q", blocks[i:i + 8])[0]
        v3 ^= m
        rounds(2)
        v0 ^= m
    v2 ^= 0xFF
    rounds(4)
    return struct.pack("<Q", v0 ^ v1 ^ v2 ^ v3)


# The SipHash paper's vector (appendix A): key 00..0f, message 00..0e.
assert siphash24(bytes(range(16)), bytes(range(15))).hex() == "e545be4961ca29a1"

MASTERS = [bytes(range(32)), bytes([0xA5] * 32), hashlib.sha256(b"isotope account vectors").digest()]
IDS = ["alice", "acct-000001", "Ünïcödé-账户", "x", "a" * 256, "org:42/user:7"]
WINDOWS = [[], [0], [1, 2], [7999, 3, 12], [4294967295, 0], list(range(8))]
ALPHAS = [0.25, 0.1, 0.5, 0.999]


def account_key(master, ident):
    b = ident.encode("utf-8")
    msg = b"isotope/v1/account-key" + struct.pack("<I", len(b)) + b
    return hashlib.blake2b(msg, key=master, digest_size=32).digest()


def route_key(master):
    return hashlib.blake2b(b"isotope/v1/account-route", key=master, digest_size=16).digest()


def coin(master, window):
    data = b"".join(struct.pack("<I", x) for x in window)
    return struct.unpack("<Q", siphash24(route_key(master), data))[0] >> 32


def holm(log10_ps):
    m = len(log10_ps)
    ps = [mpmath.power(10, mpmath.mpf(v)) for v in log10_ps]
    order = sorted(range(m), key=lambda i: (ps[i], i))
    out = [None] * m
    run = mpmath.mpf(0)
    for j, i in enumerate(order):
        run = max(run, min(mpmath.mpf(1), (m - j) * ps[i]))
        out[i] = float(mpmath.nstr(mpmath.log10(run), 20))
    return out


HOLM_CASES = [
    [-1.0, -2.0, -0.5, -3.0],
    [-7.2, -0.01, -0.3, -12.5, -7.2, -1e-9],
    [-5000.0, -300.0, -4.0, -0.0],
    [-0.2] * 5,
    [-2.0] * 3 + [-40.0],
]


def main():
    keys = []
    for mk in MASTERS:
        for ident in IDS:
            keys.append({"master": mk.hex(), "id": ident, "key": account_key(mk, ident).hex()})
    coins = []
    for mk in MASTERS:
        for w in WINDOWS:
            c = coin(mk, w)
            coins.append({"master": mk.hex(), "window": w, "coin": c,
                          "to_account": {str(a): c < int(mpmath.floor(mpmath.mpf(a) * 2**32)) for a in ALPHAS}})
    holms = [{"log10_p": c, "holm": holm(c)} for c in HOLM_CASES]
    nested = []
    V, gamma, alpha, h = 64, 0.25, 0.5, 2
    for mk, ident in [(MASTERS[0], "acct-7"), (MASTERS[2], IDS[2])]:
        ml, al = GreenList(mk), GreenList(account_key(mk, ident))
        tm, ta = green_threshold(gamma), green_threshold(0.5)
        for w in [[1, 2], [5, 9], [63, 0], [10, 11], [40, 41], [3, 3], [17, 60], [22, 8]]:
            ms, as_ = ml.seed(w), al.seed(w)
            master_green = [t for t in range(V) if ml.value(ms, t) < tm]
            routed = coin(mk, w) < int(mpmath.floor(mpmath.mpf(alpha) * 2**32))
            favoured = [t for t in master_green if al.value(as_, t) < ta] if routed else master_green
            nested.append({"master": mk.hex(), "id": ident, "vocab": V, "gamma": gamma, "alpha": alpha,
                           "context_width": h, "window": w, "routed": routed, "master_green": master_green,
                           "favoured": favoured})
    print(json.dumps({"description": "attribution: account keys (hashlib.blake2b), routes (hashlib.blake2b + "
                                     "SipHash-2-4 written from the paper), Holm (mpmath), nested KGW marks "
                                     "(the PRF of gen_prf_vectors.py); see the script",
                      "account_keys": keys, "routes": coins, "holm": holms,
                      "nested_kgw": nested}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
