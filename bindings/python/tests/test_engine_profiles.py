"""The engine profiles from Python: hf-kgw and tgi-kgw detect token ids drawn
from the green lists torch's own CPU generator makes (the engines'
construction, written here), and hf-synthid detects its own generation."""

import numpy as np
import pytest
import torch

import isotope

V = 32000


def engine_key(ints):
    return isotope.Key.from_engine_ints(ints)


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


def test_prf_values_of_the_engine_profiles():
    key = engine_key([15485863])
    prof = isotope.Profile(scheme="hf-kgw", engine_vocab_size=V)
    g = green(15485863, 42, 0.25)
    vals = isotope.prf_values(key, prof, [7, 42], g[:10] + [t for t in range(100) if t not in set(g)][:5])
    assert list(vals) == [1] * 10 + [0] * 5
    # hf-synthid: one g-value per key, from the table torch's CPU generator draws.
    keys = [654, 400, 836]
    prof = isotope.Profile(scheme="hf-synthid", layers=3, ngram_len=3)
    table = torch.randint(0, 2, (65536,), generator=torch.Generator().manual_seed(0)).tolist()
    M, mask = 6364136223846793005, 2**64 - 1

    def h(x, data):
        for d in data:
            x = ((x + d) * M + 1) & mask
        return x

    ht = h(h(1, [5, 6]), [7])
    want = [table[h(ht, [k]) % 65536] for k in keys]  # floor modulo of the signed hash = unsigned mod 2^16
    got = isotope.prf_values(engine_key(keys), prof, [1, 5, 6], [7])
    assert np.asarray(got).reshape(-1).tolist() == want
