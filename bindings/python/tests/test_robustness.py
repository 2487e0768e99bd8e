"""Hostile and unusual arguments: a ValueError that names the argument and the
reason, or the right result; never a generic pybind error or a silent wrong
answer."""

import numpy as np
import pytest
import torch  # Debian's python3-torch, which scripts/setup.sh installs

import isotope

V = 1000


@pytest.fixture(scope="module")
def key():
    return isotope.Key.from_bytes(bytes(range(32)))


def test_lone_surrogate_is_a_value_error_with_its_index(key):
    det = isotope.Detector(key)
    with pytest.raises(ValueError, match=r"lone surrogate.*index 3"):
        det.detect("abc\ud800def")
    with pytest.raises(ValueError, match="prompt"):
        det.detect("fine", prompt="\udcff")
    with pytest.raises(ValueError, match="surrogate"):
        det.tokenizer.encode("x\udfff")


def test_empty_text_is_a_result(key):
    r = isotope.Detector(key).detect("")
    assert r["tokens"] == 0 and r["scored"] == 0
    assert r["log10_p"] == 0.0 and r["p_value"] == 1.0 and r["watermarked"] is False


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda k: isotope.Profile(context_width=-1), "context_width"),
        (lambda k: isotope.Profile(context_width=2**40), "context_width"),
        (lambda k: isotope.Rng(-1), "seed"),
        (lambda k: isotope.Rng(2**64), "seed"),
        (lambda k: isotope.WatermarkLogitsProcessor(k, vocab_size=2**40), "vocab_size"),
        (lambda k: isotope.WatermarkLogitsProcessor(k, vocab_size=-5), "vocab_size"),
        (lambda k: isotope.sample_plain(np.zeros(10, np.float32), top_k=-1, rng=isotope.Rng(1)), "top_k"),
        (lambda k: isotope.WatermarkLogitsProcessor(k).green_masks(np.array([[1, 2]]), -1), "vocab_size"),
    ],
)
def test_out_of_range_integers_name_the_argument(key, make, name):
    with pytest.raises(ValueError, match=name) as e:
        make(key)
    assert "incompatible function arguments" not in str(e.value)


def test_wrong_integer_types_are_type_errors(key):
    with pytest.raises(TypeError, match="context_width"):
        isotope.Profile(context_width=2.5)
    with pytest.raises(TypeError, match="seed"):
        isotope.Rng("7")
    assert isotope.Rng(2**64 - 1).next_u64() == isotope.Rng(2**64 - 1).next_u64()
    assert isotope.Profile(context_width=np.int64(3)).context_width == 3


def test_context_ids_outside_the_vocabulary_are_refused(key):
    proc = isotope.WatermarkLogitsProcessor(key, vocab_size=V)
    scores = np.zeros((1, V), np.float32)
    with pytest.raises(ValueError, match="outside the vocabulary") as e:
        proc(np.array([[5, V]]), scores)
    assert e.value.code == "vocab_mismatch"
    assert not scores.any()  # nothing was biased
    with pytest.raises(ValueError, match="outside the vocabulary"):
        isotope.watermark_sample(proc, [1, V + 7], np.zeros(V, np.float32), seed=1)
    proc(np.array([[5, V - 1]]), scores)  # the largest id is fine
    assert scores.any()


def test_plus_infinity_wins_on_every_path(key):
    proc = isotope.WatermarkLogitsProcessor(key, vocab_size=V)
    rng = np.random.default_rng(0)
    for where in (0, 431, V - 1):
        logits = rng.standard_normal(V).astype(np.float32)
        logits[where] = np.inf
        for kw in ({}, {"top_k": 1}, {"top_k": 50}, {"top_p": 0.5}, {"greedy": True}, {"temperature": 0.3}):
            assert isotope.sample_plain(logits, rng=isotope.Rng(3), **kw) == where, kw
            assert isotope.watermark_sample(proc, [1, 2], logits, seed=3, **kw) == where, kw
    logits = np.zeros(V, np.float32)
    logits[17] = np.nan
    with pytest.raises(ValueError, match="logit 17 is NaN"):
        isotope.sample_plain(logits, rng=isotope.Rng(1))
    with pytest.raises(ValueError, match="every logit is -inf"):
        isotope.sample_plain(np.full(V, -np.inf, np.float32), rng=isotope.Rng(1))
    with pytest.raises(ValueError, match="temperature"):
        isotope.sample_plain(np.zeros(V, np.float32), temperature=1e-39, rng=isotope.Rng(1))


def test_rows_sharing_memory_are_refused(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    row = np.zeros((1, V), np.float32)
    shared = np.lib.stride_tricks.as_strided(row, shape=(4, V), strides=(0, 4), writeable=True)
    with pytest.raises(ValueError, match="overlap"):
        proc(np.array([[1, 2], [3, 4], [5, 6], [7, 8]]), shared)
    assert not row.any()
    t = torch.zeros(1, V).expand(3, V)
    with pytest.raises(ValueError, match="overlap"):
        proc(torch.tensor([[1, 2], [3, 4], [5, 6]]), t)
    assert not t.any()
    ok = torch.zeros(3, V)
    proc(torch.tensor([[1, 2], [3, 4], [5, 6]]), ok)
    assert ok.any()


def test_normalize_restores_a_text_pasted_with_nbsp(key, cli, tmp_path):
    kf = tmp_path / "k.key"
    key.save(str(kf))
    text = cli("generate", "-k", kf, "-n", "200", "--seed", "5", "-q").stdout
    orig = isotope.Detector(key).detect(text)["log10_p"]
    assert orig < -20
    pasted = text.replace(" ", "\u00a0")
    assert isotope.Detector(key).detect(pasted)["log10_p"] > -4
    for normalize in ("spaces", "all", ["nfkc"], ("format", "spaces")):
        r = isotope.Detector(key, normalize=normalize).detect(pasted)
        assert abs(r["log10_p"] - orig) <= 1, normalize
        assert "spaces" in r["normalize"] or "nfkc" in r["normalize"]
    assert "normalize" not in isotope.Detector(key).detect(text)
    with pytest.raises(ValueError, match="homoglyphs"):
        isotope.Detector(key, normalize="nfkc,homoglyphs")
