#!/usr/bin/python3
"""Reference values of the distortion-free schemes' PRF
"siphash128-aes128ctr-u32-v1" (docs/spec.md, "Gumbel-max" and "SynthID").

Independent of the C++ library: it reuses the pure-Python KDF, SipHash-2-4-128
and AES-128 of gen_prf_vectors.py (only the Python standard library). For
each key, context and token: the 32-bit value, Gumbel's uniform u and score
-ln(1 - u), SynthID's number of g = 1 over 30 layers; and, on fixed logits,
the token the Gumbel-max race picks. Writes scheme_vectors.json next to this
file; tests/unit/test_scheme_vectors.cpp checks the library against it.

Usage: /usr/bin/python3 tests/vectors/gen_scheme_vectors.py [OUTPUT.json]
"""

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_prf_vectors as ref  # noqa: E402

PRF_ID = "siphash128-aes128ctr-u32-v1"
SUBKEYS = {"gumbel": (3, 4), "synthid": (5, 6)}
MASK128 = (1 << 128) - 1


class Prf32:
    def __init__(self, key, sip_id, aes_id):
        self.sip_key = ref.kdf(key, sip_id, 16)
        self.round_keys = ref.aes128_expand_key(ref.kdf(key, aes_id, 16))

    def seed(self, ctx):
        return ref.siphash24_128(self.sip_key, b"".join(t.to_bytes(4, "little") for t in ctx))

    def value(self, seed, token):
        counter = (int.from_bytes(seed, "big") + token // 4) & MASK128
        block = ref.aes128_encrypt_block(self.round_keys, counter.to_bytes(16, "big"))
        j = token % 4
        return int.from_bytes(block[4 * j:4 * j + 4], "little")


KEYS = [bytes(32), bytes(range(1, 33)), bytes.fromhex("f0" * 32)]
CONTEXTS = {0: [[]], 1: [[0], [4294967295]], 2: [[1, 2], [31999, 7]], 4: [[5, 6, 7, 8]]}
TOKENS = [0, 1, 3, 4, 255, 31999, 128255, 4294967295]
RACE_LOGITS = [1.5, -0.25, 0.75, 2.0, 0.0, -1.0, 1.0, 0.5, -2.0, 1.25, 0.25, -0.5, 1.75, -1.5, 0.125, 0.625]


def race(prf, seed, logits, temperature):
    best, best_id = math.inf, 0
    for t, l in enumerate(logits):
        v = prf.value(seed, t)
        k = math.inf if v == 0 else math.log(-math.log(v * 2.0 ** -32)) - l * (1.0 / temperature)
        if k < best:
            best, best_id = k, t
    return best_id


def build():
    vectors, races = [], []
    for key in KEYS:
        for scheme, (sip, aes) in SUBKEYS.items():
            prf = Prf32(key, sip, aes)
            for h in sorted(CONTEXTS):
                for ctx in CONTEXTS[h]:
                    seed = prf.seed(ctx)
                    for token in TOKENS:
                        v = prf.value(seed, token)
                        e = {"scheme": scheme, "key_hex": key.hex(), "context": ctx, "seed_hex": seed.hex(),
                             "token": token, "value": v}
                        if scheme == "gumbel":
                            e["u"] = v * 2.0 ** -32
                            e["score"] = -math.log1p(-v * 2.0 ** -32)
                        else:
                            e["g_ones_30"] = bin(v & ((1 << 30) - 1)).count("1")
                        vectors.append(e)
            if scheme == "gumbel":
                for ctx in ([3, 9], [10, 12], [7, 7]):
                    seed = prf.seed(ctx)
                    for temperature in (1.0, 0.5, 2.0):
                        races.append({"key_hex": key.hex(), "context": ctx, "temperature": temperature,
                                      "logits": RACE_LOGITS, "token": race(prf, seed, RACE_LOGITS, temperature)})
    return {"prf": PRF_ID, "generator": "tests/vectors/gen_scheme_vectors.py",
            "subkey_ids": {k: {"siphash": v[0], "aes": v[1]} for k, v in SUBKEYS.items()},
            "vectors": vectors, "races": races}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "scheme_vectors.json")
    doc = build()
    with open(path, "w") as f:
        f.write(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(doc['vectors'])} values and {len(doc['races'])} races to {path}")


if __name__ == "__main__":
    main()
