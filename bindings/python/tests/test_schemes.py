"""Every scheme from Python: profiles, the processor, sampling, detection and
the closed audit, against the command line's numbers."""

import json

import numpy as np
import pytest

import isotope


def test_profiles_of_every_scheme():
    assert isotope.schemes() == ["kgw", "gumbel", "synthid", "vllm-gumbel", "vllm-dual-key-gumbel", "hf-kgw",
                                 "tgi-kgw", "hf-synthid"]
    assert isotope.Profile().name == "kgw/v1/gamma=0.25/delta=3/h=2/siphash128-aes128ctr-u16-v1"
    assert isotope.Profile(0.5, 2.0, 1).gamma == 0.5  # the kgw positional form
    g = isotope.Profile(scheme="gumbel", context_width=3)
    assert g.scheme == "gumbel" and g.context_width == 3 and g.skip_repeated == 1
    assert g.gamma_effective is None
    s = isotope.Profile(scheme="synthid", layers=12)
    assert s.layers == 12 and s.params["leaves"] == 2
    assert "layers=12" in s.name
    with pytest.raises(TypeError, match="no parameter 'gamma'"):
        isotope.Profile(scheme="gumbel", gamma=0.5)
    with pytest.raises(ValueError, match="layers"):
        isotope.Profile(scheme="synthid", layers=40)
    with pytest.raises(ValueError, match="unknown watermark scheme"):
        isotope.Profile(scheme="nope")
    with pytest.raises(AttributeError):
        _ = g.delta


@pytest.mark.parametrize("scheme", ["gumbel", "synthid"])
def test_sample_and_detect(key, scheme):
    prof = isotope.Profile(scheme=scheme)
    proc = isotope.WatermarkLogitsProcessor(key, prof)
    rng = isotope.Rng(3)
    gen = np.random.default_rng(1)
    ids = [5, 9]
    for _ in range(300):
        logits = gen.normal(0, 2.0, 1000).astype(np.float32)
        ids.append(isotope.watermark_sample(proc, np.array(ids), logits, rng=rng))
    det = isotope.Detector(key, prof)
    r = det.detect_ids(ids)
    assert r["scheme"] == scheme and r["profile"]["scheme"] == scheme
    assert r["log10_p"] <= -6 and r["watermarked"]
    other = isotope.Detector(isotope.Key.generate(), prof).detect_ids(ids)
    assert other["log10_p"] > -3
    assert r["trials"] == (30 * r["scored"] if scheme == "synthid" else r["scored"])
    with pytest.raises(ValueError, match="greedy"):
        isotope.watermark_sample(proc, np.array(ids), logits, greedy=True)


def test_processor_gumbel_leaves_one_token(key):
    proc = isotope.WatermarkLogitsProcessor(key, isotope.Profile(scheme="gumbel"), temperature=0.8, top_k=20)
    gen = np.random.default_rng(2)
    scores = gen.normal(0, 2.0, (3, 500)).astype(np.float32)
    ids = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    top20 = [set(np.argsort(-row)[:20]) for row in scores]
    out = proc(ids, scores.copy())
    for b in range(3):
        finite = np.flatnonzero(np.isfinite(out[b]))
        assert len(finite) == 1 and finite[0] in top20[b]


def test_processor_synthid_writes_probabilities(key):
    import torch
    proc = isotope.WatermarkLogitsProcessor(key, isotope.Profile(scheme="synthid"), top_k=40)
    scores = torch.randn(2, 300, dtype=torch.float64)
    out = proc(torch.tensor([[1, 2], [3, 4]]), scores)
    probs = torch.exp(out)
    assert torch.allclose(probs.sum(dim=1), torch.ones(2, dtype=torch.float64), atol=1e-5)
    assert int((probs[0] > 0).sum()) <= 40


def test_detect_matches_cli(cli, key_path, key, tmp_path):
    out = tmp_path / "g.txt"
    cli("generate", "--key", key_path, "--scheme", "gumbel", "--prompt", "The word", "-n", "150", "--seed", "3",
        "-o", out)
    j = json.loads(cli("detect", "--key", key_path, "--scheme", "gumbel", "--json", out).stdout)
    r = isotope.Detector(key, isotope.Profile(scheme="gumbel")).detect(out.read_text())
    for field in ("tokens", "scored", "statistic", "trials", "mean_score", "log10_p", "p_value", "z"):
        assert r[field] == j[field], field


def test_closed_audit_any_scheme(key):
    prof = isotope.Profile(scheme="synthid")
    proc = isotope.WatermarkLogitsProcessor(key, prof)
    gen = np.random.default_rng(4)
    rng = isotope.Rng(5)
    records = []
    for r in range(8):
        ids = [r, r + 1]
        for _ in range(60):
            ids.append(isotope.watermark_sample(proc, np.array(ids), gen.normal(0, 2, 800).astype(np.float32), rng=rng))
        records.append({"prompt_ids": ids[:2], "response_ids": ids[2:]})
    out = isotope.audit_closed(key, [(rec["prompt_ids"], rec["response_ids"]) for rec in records], profile=prof,
                               control=5)
    assert out["profile"]["scheme"] == "synthid"
    assert out["flagged"] and out["log10_p"] <= -6


def test_engine_kgw_profiles():
    p = isotope.Profile(scheme="hf-kgw", engine_vocab_size=32000)
    assert p.context_width == 1
    assert p.params["greenlist_ratio"] == 0.25 and p.params["bias"] == 2.0
    assert p.params["seeding_scheme"] == 0 and p.params["device"] == 0
    t = isotope.Profile(scheme="tgi-kgw", engine_vocab_size=128256)
    assert t.params["gamma"] == 0.5 and t.params["delta"] == 2.0
    with pytest.raises(ValueError, match="vocab"):
        isotope.Profile(scheme="hf-kgw")
    with pytest.raises(ValueError, match="CUDA"):
        isotope.Profile(scheme="hf-kgw", engine_vocab_size=32000, device=1)
    with pytest.raises(ValueError, match="context width must be 1"):
        isotope.Profile(scheme="tgi-kgw", engine_vocab_size=32000, context_width=2)


def test_hf_synthid_profile():
    p = isotope.Profile(scheme="hf-synthid")
    assert p.context_width == 4 and p.params["ngram_len"] == 5
    assert p.params["sampling_table_size"] == 65536 and p.params["sampling_table_seed"] == 0
    q = isotope.Profile(scheme="hf-synthid", ngram_len=3, layers=12)
    assert q.context_width == 2 and q.params["layers"] == 12
    with pytest.raises(ValueError, match="power of two"):
        isotope.Profile(scheme="hf-synthid", sampling_table_size=1000)
    with pytest.raises(ValueError, match="CUDA"):
        isotope.Profile(scheme="hf-synthid", device=1)
