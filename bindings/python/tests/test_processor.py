"""WatermarkLogitsProcessor: shapes, dtypes, batches, green lists against the
specification's test vectors, and clear exceptions."""

import collections
import json
import os
import pathlib

import numpy as np
import pytest

import isotope

SOURCE = pathlib.Path(os.environ.get("ISOTOPE_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[3]))
VECTORS = json.loads((SOURCE / "tests" / "vectors" / "prf_vectors.json").read_text())

import torch  # Debian's python3-torch, which scripts/setup.sh installs: missing, the test fails

V = 1000


def scores(b=3, v=V, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((b, v)).astype(dtype)


def ids(b=3, s=6, seed=1):
    return np.random.default_rng(seed).integers(0, V, size=(b, s))


def test_green_lists_match_spec_vectors():
    groups = collections.defaultdict(list)
    for v in VECTORS["vectors"]:
        groups[(v["key_hex"], v["gamma"], v["context_width"], tuple(v["context"]))].append(v)
    checked = 0
    for (key_hex, gamma, h, ctx), vs in groups.items():
        key = isotope.Key.from_bytes(bytes.fromhex(key_hex))
        proc = isotope.WatermarkLogitsProcessor(key, isotope.Profile(gamma=gamma, context_width=h))
        vocab = max(v["token"] for v in vs) + 1
        mask = proc.green_masks(np.array([list(ctx)], dtype=np.int64).reshape(1, len(ctx)), vocab)[0]
        for v in vs:
            assert bool(mask[v["token"]]) == v["green"], v
            checked += 1
    assert checked == len(VECTORS["vectors"])


def test_numpy_in_place_and_exact(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    s = scores()
    before = s.copy()
    x = ids()
    out = proc(x, s)
    assert out is s
    mask = proc.green_masks(x, V)
    np.testing.assert_array_equal(s, before + np.float32(3.0) * mask)
    # about gamma of the vocabulary is green
    assert 0.2 < mask.mean() < 0.3


def test_rows_use_their_own_context(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    x = ids(b=4, s=7, seed=3)
    s = scores(b=4)
    batch = proc(x, s.copy())
    for b in range(4):
        row = proc(x[b:b + 1], s[b:b + 1].copy())
        np.testing.assert_array_equal(batch[b], row[0])
        # only the last h = 2 ids matter
        np.testing.assert_array_equal(row, proc(x[b:b + 1, -2:], s[b:b + 1].copy()))
    # different contexts give different green lists
    masks = proc.green_masks(x, V)
    assert not np.array_equal(masks[0], masks[1])


def test_short_rows_unchanged_and_h0(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    s = scores()
    before = s.copy()
    proc(np.zeros((3, 1), dtype=np.int64), s)
    np.testing.assert_array_equal(s, before)
    proc(np.zeros((3, 0), dtype=np.int64), s)
    np.testing.assert_array_equal(s, before)
    uni = isotope.WatermarkLogitsProcessor(key, isotope.Profile(context_width=0))
    uni(np.zeros((3, 0), dtype=np.int64), s)
    assert not np.array_equal(s, before)
    np.testing.assert_array_equal(s[0] != before[0], s[1] != before[1])  # one green list for all


def test_other_numpy_dtypes_and_layouts(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    x = ids()
    ref = proc(x, scores())
    mask = proc.green_masks(x, V)
    s64 = scores(dtype=np.float64)
    np.testing.assert_array_equal(proc(x, s64), scores(dtype=np.float64) + 3.0 * mask)
    s16 = scores(dtype=np.float16)
    np.testing.assert_array_equal(proc(x, s16), (scores(dtype=np.float16) + np.float16(3.0) * mask))
    # non-contiguous rows (a strided view) are biased in place too
    wide = np.zeros((3, 2 * V), dtype=np.float32)
    wide[:, ::2] = scores()
    view = wide[:, ::2]
    assert proc(x, view) is view
    np.testing.assert_array_equal(wide[:, ::2], ref)
    np.testing.assert_array_equal(wide[:, 1::2], 0)
    # Fortran order: rows are not contiguous
    f = np.asfortranarray(scores())
    np.testing.assert_array_equal(proc(x, f), ref)
    # input ids as a list of lists, or unsigned
    np.testing.assert_array_equal(proc(x.tolist(), scores()), ref)
    np.testing.assert_array_equal(proc(x.astype(np.uint16), scores()), ref)


def test_vocab_size_follows_scores_or_is_fixed(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    proc(ids() % 500, scores(v=500))
    assert proc.vocab_size == 500
    proc(ids() % 500, scores(v=700))
    assert proc.vocab_size == 700
    fixed = isotope.WatermarkLogitsProcessor(key, vocab_size=V)
    with pytest.raises(ValueError) as e:
        fixed(ids(), scores(v=V + 1))
    assert e.value.code == "vocab_mismatch"
    with pytest.raises(ValueError):
        isotope.WatermarkLogitsProcessor(key, vocab_size=0)


def test_errors(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    with pytest.raises(ValueError, match="shape"):
        proc(ids(), scores()[0])
    with pytest.raises(ValueError, match="shape"):
        proc(ids(), scores()[None])
    with pytest.raises(ValueError, match="rows"):
        proc(ids(b=2), scores(b=3))
    with pytest.raises(ValueError, match="shape"):
        proc(ids()[0], scores())
    with pytest.raises(TypeError):
        proc(ids(), np.zeros((3, V), dtype=np.int32))
    with pytest.raises(TypeError):
        proc(ids().astype(np.float32), scores())
    with pytest.raises(ValueError):
        proc(-ids() - 1, scores())
    with pytest.raises(TypeError):
        proc(ids(), scores().tolist())
    ro = scores()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        proc(ids(), ro)
    with pytest.raises(TypeError):
        isotope.WatermarkLogitsProcessor(b"0" * 32)
    with pytest.raises(OSError):
        isotope.WatermarkLogitsProcessor("/nonexistent/key")


def test_torch_float32_shares_memory(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    x = ids()
    ref = proc(x, scores())
    t = torch.from_numpy(scores())
    ptr = t.data_ptr()
    out = proc(torch.from_numpy(x), t)
    assert out is t and t.data_ptr() == ptr
    np.testing.assert_array_equal(t.numpy(), ref)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_torch_other_dtypes(key, dtype):
    dt = getattr(torch, dtype)
    proc = isotope.WatermarkLogitsProcessor(key)
    x = torch.from_numpy(ids())
    mask = torch.from_numpy(proc.green_masks(x, V))
    t = torch.from_numpy(scores()).to(dt)
    want = (t.float() + 3.0 * mask.float()).to(dt) if dt != torch.float64 else t + 3.0 * mask.double()
    out = proc(x, t)
    assert out is t and out.dtype == dt
    assert torch.equal(out, want)


def test_torch_strided_and_errors(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    x = torch.from_numpy(ids())
    ref = proc(x, scores())
    t = torch.from_numpy(np.ascontiguousarray(scores().T)).T  # column-major view
    assert not t.is_contiguous()
    np.testing.assert_array_equal(proc(x, t).numpy(), ref)
    with pytest.raises(TypeError):
        proc(x.float(), torch.from_numpy(scores()))
    with pytest.raises(TypeError):
        proc(x, torch.zeros((3, V), dtype=torch.int64))
    with pytest.raises(ValueError):
        proc(x, torch.zeros(V))
    with pytest.raises(ValueError):
        proc(x[:2], torch.from_numpy(scores()))


def test_torch_with_grad_tracking(key):
    proc = isotope.WatermarkLogitsProcessor(key)
    x = torch.from_numpy(ids())
    base = torch.from_numpy(scores())
    ref = proc(x, base.clone())
    out = proc(x, base.clone().requires_grad_(False))
    assert torch.equal(out, ref)


def test_watermark_sample_agrees_with_processor(key):
    # greedy choice = argmax of the biased logits
    proc = isotope.WatermarkLogitsProcessor(key)
    for seed in range(20):
        s = scores(b=1, seed=seed)
        x = ids(b=1, seed=seed + 100)
        tok = isotope.watermark_sample(proc, x[0], s[0], greedy=True)
        assert tok == int(np.argmax(proc(x, s.copy())[0]))
    s = scores(b=1)
    x = ids(b=1)
    a = isotope.watermark_sample(proc, x, s, seed=9)
    b = isotope.watermark_sample(key, x[0].tolist(), s[0], seed=9)
    assert a == b
    rng1, rng2 = isotope.Rng(4), isotope.Rng(4)
    assert [isotope.watermark_sample(proc, x[0], s[0], rng=rng1) for _ in range(5)] == \
           [isotope.watermark_sample(proc, x[0], s[0], rng=rng2) for _ in range(5)]
    assert 0 <= isotope.watermark_sample(proc, x[0], s[0], top_k=5, top_p=0.9, temperature=0.7) < V
    with pytest.raises(ValueError):
        isotope.watermark_sample(proc, x[0], s[0], temperature=-1.0)
    with pytest.raises(ValueError):
        isotope.watermark_sample(proc, x[0], s, rng=isotope.Rng(1), seed=3)
    with pytest.raises(ValueError):
        isotope.watermark_sample(proc, x[0], np.zeros((2, V), dtype=np.float32))
    with pytest.raises(TypeError):
        isotope.watermark_sample(proc, x[0].astype(float), s[0])


def test_watermark_sample_statistics(key):
    # with delta = 3 the sampled tokens are green far more often than gamma
    proc = isotope.WatermarkLogitsProcessor(key)
    rng = isotope.Rng(11)
    s = np.zeros(V, dtype=np.float32)
    greens = 0
    for i in range(400):
        ctx = np.array([i, i + 1])
        tok = isotope.watermark_sample(proc, ctx, s, rng=rng)
        greens += int(proc.green_masks(ctx[None], V)[0][tok])
    assert greens / 400 > 0.7


def test_signature_is_exactly_the_logits_processor_protocol(key):
    # transformers.LogitsProcessorList inspects __call__: any parameter after
    # (input_ids, scores) must then be passed as a keyword argument.
    import inspect
    params = list(inspect.signature(isotope.WatermarkLogitsProcessor(key).__call__).parameters)
    assert params == ["input_ids", "scores"]
