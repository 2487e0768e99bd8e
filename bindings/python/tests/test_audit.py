"""Audit round trips from Python (closed and open, with a Python callable as
the suspect) and clear errors."""

import numpy as np
import pytest

import isotope

import torch  # Debian's python3-torch, which scripts/setup.sh installs: missing, the test fails

PROMPTS = ["And God said", "Thou shalt not", "And the LORD said unto", "In the beginning", "The heaven",
           "And Moses", "Blessed are", "And it came to pass"]


def sample(model, tokenizer, key, prompt, n, seed):
    proc = isotope.WatermarkLogitsProcessor(key) if key is not None else None
    rng = isotope.Rng(seed)
    ctx = list(tokenizer.encode(prompt))
    out = []
    for _ in range(n):
        logits = model.next_logits(ctx)
        t = isotope.watermark_sample(proc, ctx, logits, rng=rng) if proc else isotope.sample_plain(logits, rng=rng)
        ctx.append(t)
        out.append(t)
    return out


@pytest.fixture(scope="module")
def answers(model, tokenizer, key):
    marked = [sample(model, tokenizer, key, p, 100, i) for i, p in enumerate(PROMPTS)]
    plain = [sample(model, tokenizer, None, p, 100, 100 + i) for i, p in enumerate(PROMPTS)]
    return marked, plain


def test_closed_round_trip(key, tokenizer, answers):
    marked, plain = answers
    recs = [{"prompt": p, "response": tokenizer.decode(a)} for p, a in zip(PROMPTS, marked)]
    r = isotope.audit_closed(key, recs, control=10, control_seed=b"\x01" * 32)
    assert r["flagged"] and r["valid"] and r["records"] == len(PROMPTS)
    assert r["key_commitment"] == key.commitment
    assert len(r["control"]["log10_p"]) == 10 and r["control"]["seed"] == "01" * 32
    assert max(r["control"]["log10_p"]) <= 0 and min(r["control"]["log10_p"]) > -4
    assert r["tokenizer_sha256"] == tokenizer.sha256
    # ids instead of text, as (prompt, response) pairs
    r_ids = isotope.audit_closed(key, [(tokenizer.encode(p), a) for p, a in zip(PROMPTS, marked)], control=0)
    assert "tokenizer_sha256" not in r_ids and r_ids["flagged"]
    rp = isotope.audit_closed(key, [(tokenizer.encode(p), a) for p, a in zip(PROMPTS, plain)], control=0)
    assert not rp["flagged"] and rp["log10_p"] > -4
    # the demonstration switches make the result invalid, never flagged
    r_nd = isotope.audit_closed(key, [(tokenizer.encode(p), a) for p, a in zip(PROMPTS, marked)], control=0,
                                dedup=False)
    assert r_nd["valid"] is False and r_nd["flagged"] is False


def test_open_round_trip_with_callable(key, model, answers):
    marked, plain = answers

    def student(batch):  # the n-gram model behaves like a student of itself
        return [np.array(model.predict_top1(list(s) + [0])[1:], dtype=np.int64) for s in batch]

    r = isotope.audit_open(key, marked, student, control=5, control_seed="ab" * 32, vocab_size=model.vocab_size)
    # its predictions do not depend on the key: nothing to find
    assert r["mode"] == "open" and r["flagged"] is False and r["scored"] > 100
    # a suspect that always predicts a green token is flagged
    proc = isotope.WatermarkLogitsProcessor(key)

    def greedy_green(batch):
        out = []
        for s in batch:
            preds = []
            for j in range(len(s)):
                m = proc.green_masks(np.array([s[max(0, j - 1):j + 1]]), model.vocab_size)[0]
                preds.append(int(np.argmax(m)))
            out.append(np.array(preds))
        return out

    r = isotope.audit_open(key, marked, greedy_green, control=0, vocab_size=model.vocab_size)
    assert r["flagged"] and r["green"] == r["scored"]


def test_open_with_torch_batch_output(key, model, answers):
    marked, _ = answers
    same_len = [a[:50] for a in marked]

    def suspect(batch):  # one (batch, seq, vocab) tensor, as a PyTorch model returns
        x = torch.tensor(batch)
        return torch.stack([torch.stack([torch.from_numpy(model.next_logits(row[:j + 1].tolist()))
                                         for j in range(x.shape[1])]) for row in x]).to(torch.bfloat16)

    r = isotope.audit_open(key, same_len, suspect, control=0, vocab_size=model.vocab_size, batch_size=4)
    assert r["records"] == len(same_len)


def test_audit_errors(key, model, answers):
    marked, _ = answers
    with pytest.raises(ValueError):
        isotope.audit_closed(key, [], control=0)
    with pytest.raises(ValueError):
        isotope.audit_closed(key, [("a", "b", "c")], control=0)
    with pytest.raises(ValueError):
        isotope.audit_closed(key, [{"prompt": "x"}], control=0)
    with pytest.raises(ValueError):
        isotope.audit_closed(key, [("a", "b")], control=0, control_seed="xyz")
    with pytest.raises(ValueError):
        isotope.audit_closed(key, [("a", "b")], control=0, threshold=2.0)
    with pytest.raises(TypeError):
        isotope.audit_closed(key, [("a", "b")], control=0, control_seed=12)
    with pytest.raises(TypeError):
        isotope.audit_closed(3, [("a", "b")], control=0)
    with pytest.raises(ValueError):  # wrong number of results
        isotope.audit_open(key, marked, lambda b: [], control=0, vocab_size=model.vocab_size)
    with pytest.raises(ValueError):  # wrong length
        isotope.audit_open(key, marked, lambda b: [np.zeros(3, dtype=np.int64) for _ in b], control=0,
                           vocab_size=model.vocab_size)
    with pytest.raises(TypeError):  # float ids
        isotope.audit_open(key, marked, lambda b: [np.zeros(len(s)) for s in b], control=0,
                           vocab_size=model.vocab_size)
    with pytest.raises(ValueError) as e:  # predictions beyond the vocabulary
        isotope.audit_open(key, marked, lambda b: [np.full(len(s), 10**6) for s in b], control=0,
                           vocab_size=model.vocab_size)
    assert e.value.code == "vocab_mismatch"
    with pytest.raises(ValueError):  # NaN logits
        isotope.audit_open(key, marked[:1], lambda b: [np.full((len(s), 10), np.nan, dtype=np.float32) for s in b],
                           control=0, vocab_size=model.vocab_size)
    with pytest.raises(ZeroDivisionError):  # the suspect's own exceptions come through unchanged
        isotope.audit_open(key, marked, lambda b: 1 / 0, control=0, vocab_size=model.vocab_size)


def test_argmax_rows_ties_go_to_lowest_id():
    a = np.array([[1.0, 3.0, 3.0], [5.0, 5.0, 0.0]], dtype=np.float32)
    assert isotope.argmax_rows(a).tolist() == [1, 0]
    with pytest.raises(ValueError):
        isotope.argmax_rows(np.zeros(3, dtype=np.float32))
