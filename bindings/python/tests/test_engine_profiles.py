"""The engine profiles from Python: hf-kgw and tgi-kgw detect token ids drawn
from the green lists torch's own CPU generator makes (the engines'
construction, written here), and hf-synthid detects its own generation."""

import struct

import numpy as np
import pytest
import torch

import isotope

V = 32000


def engine_key(ints):
    if hasattr(isotope.Key, "from_engine_ints"):
        return isotope.Key.from_engine_ints(ints)
    # Interim form: the integers as the key's little-endian 64-bit words.
    return isotope.Key.from_bytes(struct.pack("<%dQ" % len(ints), *ints) + bytes(32 - 8 * len(ints)))


def green(key, prev, ratio):
    g = torch.Generator().manual_seed((key * prev) % (2**64 - 1))
    return torch.randperm(V, generator=g)[: int(V * ratio)].tolist()


@pytest.mark.parametrize("scheme,ratio", [("hf-kgw", 0.25), ("tgi-kgw", 0.5)])
def test_torch_green_ids_are_all_green(scheme, ratio):
    rnd = np.random.default_rng(4)
    ids = [int(rnd.integers(V))]
    while len(ids) < 80:
        ids.append(int(rnd.choice(green(15485863, ids[-1], ratio))))
    prof = isotope.Profile(scheme=scheme, engine_vocab_size=V)
    r = isotope.Detector(engine_key([15485863]), prof).detect_ids(ids)
    assert r["scheme"] == scheme and r["statistic"] == r["scored"] >= 75
    assert r["log10_p"] < -20 and r["watermarked"]
    other = isotope.Detector(engine_key([15485867]), prof).detect_ids(ids)
    assert other["log10_p"] > -3


def test_hf_synthid_sample_and_detect():
    prof = isotope.Profile(scheme="hf-synthid", layers=4, ngram_len=3)
    key = engine_key([654, 400, 836, 123])
    proc = isotope.WatermarkLogitsProcessor(key, prof)
    rng = isotope.Rng(3)
    gen = np.random.default_rng(1)
    ids = [5, 9, 11]
    for _ in range(300):
        logits = gen.normal(0, 2.0, 1000).astype(np.float32)
        ids.append(isotope.watermark_sample(proc, np.array(ids), logits, rng=rng))
    r = isotope.Detector(key, prof).detect_ids(ids)
    assert r["scheme"] == "hf-synthid" and r["trials"] == 4 * r["scored"]
    assert r["log10_p"] <= -6
    assert isotope.Detector(engine_key([1, 2, 3, 4]), prof).detect_ids(ids)["log10_p"] > -3
