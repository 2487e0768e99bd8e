"""The vLLM-compatible profiles from Python: engine keys, prf_values against
the independent reference values (tests/vectors/gen_vllm_vectors.py),
detection and sampling."""

import json
import os

import numpy as np
import pytest

import isotope

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "vectors", "vllm_vectors.json")


@pytest.fixture(scope="module")
def vectors():
    with open(VECTORS) as f:
        return json.load(f)


def test_profiles():
    p = isotope.Profile(scheme="vllm-gumbel")
    assert p.context_width == 4 and p.prf == "philox4x32-10-v1"
    assert p.name == "vllm-gumbel/v1/skip_repeated=1/h=4/philox4x32-10-v1"
    d = isotope.Profile(scheme="vllm-dual-key-gumbel", context_width=16, alpha=0.25)
    assert d.alpha == 0.25 and d.context_width == 16
    with pytest.raises(ValueError, match="context width"):
        isotope.Profile(scheme="vllm-gumbel", context_width=17)
    with pytest.raises(ValueError, match="alpha"):
        isotope.Profile(scheme="vllm-dual-key-gumbel", alpha=2.0)


def test_engine_keys(tmp_path):
    k = isotope.Key.from_engine_ints(15485863)
    assert k.is_engine and not isotope.Key.generate().is_engine
    assert k.commitment != isotope.Key.from_engine_ints([15485863]).commitment  # salted
    path = tmp_path / "e.key"
    k.save(path)
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert isotope.load_key(path).commitment == k.commitment
    with pytest.raises(ValueError):
        isotope.Key.from_engine_ints(2 ** 64)
    with pytest.raises(ValueError):
        isotope.Key.from_engine_ints(-1)
    with pytest.raises(ValueError):
        isotope.Key.from_engine_ints([])


def test_prf_values_match_the_reference(vectors):
    n = 0
    for v in vectors["philox"]:
        key = isotope.Key.from_engine_ints(int(v["key"]))
        prof = isotope.Profile(scheme="vllm-gumbel", context_width=len(v["context"]))
        u = isotope.prf_values(key, prof, v["context"], v["tokens"])
        assert u.dtype == np.float32 and u.shape == (len(v["tokens"]),)
        assert u.view(np.uint32).tolist() == v["uniform_bits"]
        n += len(v["tokens"])
    assert n >= 1000


def test_prf_values_pad_short_contexts_and_take_minus_one():
    key = isotope.Key.from_engine_ints(42)
    prof = isotope.Profile(scheme="vllm-gumbel", context_width=4)
    a = isotope.prf_values(key, prof, [7], [1, 2, 3])
    b = isotope.prf_values(key, prof, [-1, -1, -1, 7], [1, 2, 3])
    c = isotope.prf_values(key, prof, [2 ** 32 - 1] * 3 + [7], [1, 2, 3])
    assert a.tolist() == b.tolist() == c.tolist()
    dual = isotope.prf_values(key, isotope.Profile(scheme="vllm-dual-key-gumbel"), [5, 6], [1, 2, 3])
    assert dual.shape == (3, 2) and dual.dtype == np.float32
    # Other schemes' values through the same call: KGW bits, SynthID g-values.
    iso = isotope.Key.generate()
    bits = isotope.prf_values(iso, isotope.Profile(), [1, 2], range(100))
    assert bits.dtype == np.uint8 and set(bits.tolist()) <= {0, 1}
    g = isotope.prf_values(iso, isotope.Profile(scheme="synthid", layers=12), [1, 2], [5, 6])
    assert g.shape == (2, 12) and set(g.ravel().tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="at least"):
        isotope.prf_values(iso, isotope.Profile(), [1], [5])


def test_a_key_of_the_wrong_kind_is_refused():
    with pytest.raises(ValueError, match="isotope key import"):
        isotope.prf_values(isotope.Key.generate(), isotope.Profile(scheme="vllm-gumbel"), [1], [2])
    with pytest.raises(ValueError, match="engine key"):
        isotope.Detector(isotope.Key.from_engine_ints(1)).detect_ids([1, 2, 3, 4])


def test_detection_matches_the_reference(vectors):
    for s in vectors["sequences"]:
        params = {} if s["alpha"] is None else {"alpha": s["alpha"]}
        prof = isotope.Profile(scheme=s["scheme"], context_width=s["context_width"], **params)
        r = isotope.Detector(isotope.Key.from_engine_ints(int(s["key"])), prof).detect_ids(s["ids"])
        assert r["scored"] == s["scored"]
        assert r["statistic"] == pytest.approx(s["score"], rel=1e-12)
        assert r["log10_p"] == pytest.approx(s["log10_p"], rel=1e-9, abs=1e-12)


def test_sampling_picks_the_engines_token(vectors):
    for v in vectors["generation"]:
        prof = isotope.Profile(scheme="vllm-gumbel", context_width=v["context_width"], skip_repeated=0)
        logits = np.array(v["logits_bits"], dtype=np.uint32).view(np.float32)
        key = isotope.Key.from_engine_ints(int(v["key"]))
        # For the vllm-* schemes input_ids is the answer so far (the engine's
        # windows never reach into the prompt).
        t = isotope.watermark_sample(key, np.array(v["context"], dtype=np.int64), logits, profile=prof,
                                     temperature=v["temperature"], rng=isotope.Rng(1))
        assert t == v["token"]
