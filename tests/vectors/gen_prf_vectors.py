#!/usr/bin/python3
"""Reference implementation of the isotope PRF "siphash128-aes128ctr-u16-v1".

Independent of the C++ library: only the Python standard library is used
(hashlib.blake2b for the KDF and the key commitment; SipHash-2-4-128 and
AES-128 are written out below). It writes prf_vectors.json next to this file;
tests/unit/test_prf.cpp and tests/unit/test_key.cpp check the library against
it. docs/spec.md describes the construction.

Usage: /usr/bin/python3 tests/vectors/gen_prf_vectors.py [OUTPUT.json]
"""

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys

PRF_ID = "siphash128-aes128ctr-u16-v1"
KDF_CONTEXT = b"isotope1"
SUBKEY_ID_SIPHASH = 1
SUBKEY_ID_AES = 2
COMMITMENT_DOMAIN = b"isotope/v1/key-commitment"
MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1

# --------------------------------------------------------------------------
# Key derivation and commitment (BLAKE2b)
# --------------------------------------------------------------------------


def kdf(master_key: bytes, subkey_id: int, length: int) -> bytes:
    """libsodium crypto_kdf_derive_from_key: BLAKE2b keyed with the master
    key, empty message, salt = subkey_id (8 bytes LE) || 8 zero bytes,
    personalisation = context (8 bytes) || 8 zero bytes."""
    assert len(master_key) == 32 and len(KDF_CONTEXT) == 8 and 16 <= length <= 64
    salt = subkey_id.to_bytes(8, "little") + bytes(8)
    person = KDF_CONTEXT + bytes(8)
    return hashlib.blake2b(b"", digest_size=length, key=master_key, salt=salt, person=person).digest()


def commitment(master_key: bytes) -> bytes:
    return hashlib.blake2b(COMMITMENT_DOMAIN, digest_size=32, key=master_key).digest()


# --------------------------------------------------------------------------
# SipHash-2-4 with 128-bit output (Aumasson and Bernstein)
# --------------------------------------------------------------------------


def _rotl64(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK64


def _sipround(v):
    v0, v1, v2, v3 = v
    v0 = (v0 + v1) & MASK64
    v1 = _rotl64(v1, 13) ^ v0
    v0 = _rotl64(v0, 32)
    v2 = (v2 + v3) & MASK64
    v3 = _rotl64(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK64
    v3 = _rotl64(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK64
    v1 = _rotl64(v1, 17) ^ v2
    v2 = _rotl64(v2, 32)
    return [v0, v1, v2, v3]


def siphash24_128(key: bytes, msg: bytes) -> bytes:
    assert len(key) == 16
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")
    v = [
        0x736F6D6570736575 ^ k0,
        0x646F72616E646F6D ^ k1 ^ 0xEE,  # 128-bit output variant
        0x6C7967656E657261 ^ k0,
        0x7465646279746573 ^ k1,
    ]
    full = len(msg) - len(msg) % 8
    for off in range(0, full, 8):
        m = int.from_bytes(msg[off:off + 8], "little")
        v[3] ^= m
        v = _sipround(_sipround(v))
        v[0] ^= m
    last = ((len(msg) & 0xFF) << 56) | int.from_bytes(msg[full:], "little")
    v[3] ^= last
    v = _sipround(_sipround(v))
    v[0] ^= last
    v[2] ^= 0xEE
    for _ in range(4):
        v = _sipround(v)
    out = (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")
    v[1] ^= 0xDD
    for _ in range(4):
        v = _sipround(v)
    return out + (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")


# --------------------------------------------------------------------------
# AES-128 (FIPS 197), encryption only
# --------------------------------------------------------------------------


def _gmul(a: int, b: int) -> int:
    """Product in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1."""
    p = 0
    while b:
        if b & 1:
            p ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return p


def _make_sbox():
    sbox = []
    for x in range(256):
        # Multiplicative inverse (0 maps to 0), then the affine transform.
        inv = 0
        if x:
            inv = next(y for y in range(1, 256) if _gmul(x, y) == 1)
        s = inv
        for shift in range(1, 5):
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        sbox.append(s ^ 0x63)
    return sbox


SBOX = _make_sbox()


def aes128_expand_key(key: bytes):
    assert len(key) == 16
    words = [list(key[4 * i:4 * i + 4]) for i in range(4)]
    rcon = 1
    for i in range(4, 44):
        t = list(words[i - 1])
        if i % 4 == 0:
            t = t[1:] + t[:1]
            t = [SBOX[b] for b in t]
            t[0] ^= rcon
            rcon = _gmul(rcon, 2)
        words.append([a ^ b for a, b in zip(words[i - 4], t)])
    return [sum(words[4 * r:4 * r + 4], []) for r in range(11)]


def aes128_encrypt_block(round_keys, block: bytes) -> bytes:
    # State as a flat list in FIPS 197 input order: s[r + 4c] = in[r + 4c].
    s = [b ^ k for b, k in zip(block, round_keys[0])]
    for rnd in range(1, 11):
        s = [SBOX[b] for b in s]
        # ShiftRows: row r is rotated left by r columns.
        s = [s[r + 4 * ((c + r) % 4)] for c in range(4) for r in range(4)]
        if rnd != 10:
            t = []
            for c in range(4):
                a = s[4 * c:4 * c + 4]
                t += [
                    _gmul(a[0], 2) ^ _gmul(a[1], 3) ^ a[2] ^ a[3],
                    a[0] ^ _gmul(a[1], 2) ^ _gmul(a[2], 3) ^ a[3],
                    a[0] ^ a[1] ^ _gmul(a[2], 2) ^ _gmul(a[3], 3),
                    _gmul(a[0], 3) ^ a[1] ^ a[2] ^ _gmul(a[3], 2),
                ]
            s = t
        s = [b ^ k for b, k in zip(s, round_keys[rnd])]
    return bytes(s)


def _aes_self_test():
    """FIPS 197 appendix C.1."""
    rk = aes128_expand_key(bytes(range(16)))
    pt = bytes.fromhex("00112233445566778899aabbccddeeff")
    ct = aes128_encrypt_block(rk, pt)
    assert ct.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a", ct.hex()


# --------------------------------------------------------------------------
# The PRF
# --------------------------------------------------------------------------


class GreenList:
    def __init__(self, master_key: bytes):
        self.sip_key = kdf(master_key, SUBKEY_ID_SIPHASH, 16)
        self.aes_key = kdf(master_key, SUBKEY_ID_AES, 16)
        self.round_keys = aes128_expand_key(self.aes_key)
        self._cache = {}

    def seed(self, context) -> bytes:
        msg = b"".join(int(t).to_bytes(4, "little") for t in context)
        return siphash24_128(self.sip_key, msg)

    def block(self, seed: bytes, j: int) -> bytes:
        counter = ((int.from_bytes(seed, "big") + j) & MASK128).to_bytes(16, "big")
        if counter not in self._cache:
            self._cache[counter] = aes128_encrypt_block(self.round_keys, counter)
        return self._cache[counter]

    def value(self, seed: bytes, token: int) -> int:
        blk = self.block(seed, token // 8)
        off = 2 * (token % 8)
        return int.from_bytes(blk[off:off + 2], "little")


def green_threshold(gamma: float) -> int:
    return math.floor(gamma * 65536.0)


def openssl_cross_check(key: bytes, blocks):
    """Checks the pure-Python AES against `openssl enc -aes-128-ecb -nopad`
    when the command is available."""
    exe = shutil.which("openssl")
    if exe is None:
        return False
    data = b"".join(blocks)
    res = subprocess.run([exe, "enc", "-aes-128-ecb", "-nopad", "-K", key.hex()], input=data,
                         capture_output=True, check=True)
    rk = aes128_expand_key(key)
    mine = b"".join(aes128_encrypt_block(rk, b) for b in blocks)
    assert res.stdout == mine, "pure-Python AES disagrees with openssl"
    return True


def self_test():
    _aes_self_test()
    # SipHash-2-4-128 reference vector: key 00..0f, empty message.
    assert siphash24_128(bytes(range(16)), b"").hex() == "a3817f04ba25a8e66df67214c7550293"
    # The 128-bit SipHash reference vector for a 15-byte message 00..0e.
    assert siphash24_128(bytes(range(16)), bytes(range(15))).hex() == "5493e99933b0a8117e08ec0f97cfc3d9"


# --------------------------------------------------------------------------
# Vectors
# --------------------------------------------------------------------------

KEYS = [
    bytes(32),
    bytes(range(32)),
    bytes.fromhex("8c2f5a0e71d943b6a5e80c3f19d27b64e0953a1cf84d6b2790c1e35a4f6d8b02"),
    bytes.fromhex("3be7d10459a2c86f0d7e94b3215ac8f6e24b907dc13a5f8e6b0d27c94a51e3f7"),
]

CONTEXTS = {
    0: [[]],
    1: [[0], [1], [128255], [4294967295]],
    2: [[0, 0], [1, 2], [31999, 42], [4294967295, 7]],
    3: [[0, 0, 0], [3, 1, 4], [1000, 2000, 3000]],
}

TOKENS = [0, 1, 7, 8, 9, 15, 16, 17, 1000, 31999, 32000, 65535, 65536, 128255, 255999]

GAMMAS = [0.25, 0.5, 0.1, 0.9]

# Seeds chosen to make the counter carry across 32, 64 and 128 bits.
RAW_SEEDS = [
    "00000000000000000000000000000000",
    "000000000000000000000000fffffffe",
    "0000000000000000fffffffffffffffd",
    "fffffffffffffffffffffffffffffffe",
    "ffffffffffffffffffffffffffffffff",
]
RAW_TOKENS = [0, 7, 8, 15, 16, 23, 24, 31, 32, 100]


def build():
    self_test()
    checked = openssl_cross_check(
        kdf(KEYS[1], SUBKEY_ID_AES, 16),
        [bytes(16), bytes(range(16)), bytes.fromhex("ff" * 16)],
    )

    keys_out, vectors, counter_vectors = [], [], []
    for ki, key in enumerate(KEYS):
        gl = GreenList(key)
        keys_out.append({
            "key_hex": key.hex(),
            "commitment_hex": commitment(key).hex(),
            "siphash_subkey_hex": gl.sip_key.hex(),
            "aes_subkey_hex": gl.aes_key.hex(),
        })
        for h in sorted(CONTEXTS):
            for ci, ctx in enumerate(CONTEXTS[h]):
                gamma = GAMMAS[(ki + h + ci) % len(GAMMAS)]
                seed = gl.seed(ctx)
                for token in TOKENS:
                    v = gl.value(seed, token)
                    vectors.append({
                        "key_hex": key.hex(),
                        "gamma": gamma,
                        "context_width": h,
                        "context": ctx,
                        "seed_hex": seed.hex(),
                        "token": token,
                        "value": v,
                        "green": v < green_threshold(gamma),
                    })
        if ki in (1, 2):
            for seed_hex in RAW_SEEDS:
                seed = bytes.fromhex(seed_hex)
                for token in RAW_TOKENS:
                    counter_vectors.append({
                        "key_hex": key.hex(),
                        "seed_hex": seed_hex,
                        "token": token,
                        "value": gl.value(seed, token),
                    })
    if checked:
        print("pure-Python AES agrees with the openssl command line")
    return {
        "prf": PRF_ID,
        "generator": "tests/vectors/gen_prf_vectors.py",
        "kdf_context": KDF_CONTEXT.decode(),
        "subkey_ids": {"siphash": SUBKEY_ID_SIPHASH, "aes": SUBKEY_ID_AES},
        "commitment_domain": COMMITMENT_DOMAIN.decode(),
        "keys": keys_out,
        "vectors": vectors,
        "counter_vectors": counter_vectors,
    }


def dump(doc) -> str:
    """JSON with one vector per line, so diffs stay readable."""
    lines = ["{"]
    items = list(doc.items())
    for i, (name, value) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        if isinstance(value, list):
            lines.append(f"  {json.dumps(name)}: [")
            for j, entry in enumerate(value):
                sep = "," if j + 1 < len(value) else ""
                lines.append("    " + json.dumps(entry, separators=(", ", ": ")) + sep)
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {json.dumps(name)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "prf_vectors.json")
    text = dump(build())
    with open(path, "w", encoding="ascii") as f:
        f.write(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
