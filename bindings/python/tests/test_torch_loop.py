"""A plain PyTorch generation loop (the shape of transformers' sampling loop)
with the processor in it: its text is flagged by `isotope detect`, plain text
is not, and isotope.Detector agrees with the command to the last digit."""

import json

import numpy as np
import pytest

import isotope

import torch  # Debian's python3-torch, which scripts/setup.sh installs: missing, the test fails

PROMPTS = ["And God said", "Thou shalt not", "And the LORD said unto", "In the beginning"]


class NgramAsTorch:
    """A stand-in causal LM: returns (batch, seq, vocab) float32 logits, of
    which the loop uses the last position (as model(input_ids).logits)."""

    def __init__(self, model, pad_id):
        self.model = model
        self.pad_id = pad_id

    def __call__(self, input_ids, lengths):
        rows = []
        for b in range(input_ids.shape[0]):
            ids = input_ids[b, input_ids.shape[1] - lengths[b]:].tolist()  # drop left padding
            rows.append(torch.from_numpy(self.model.next_logits(ids)))
        return torch.stack(rows)[:, None, :]


def generate(lm, tokenizer, processors, n_tokens, seed, dtype=torch.float32):
    """transformers-style sampling: logits[:, -1] -> processors -> softmax -> multinomial."""
    g = torch.Generator().manual_seed(seed)
    enc = [tokenizer.encode(p) for p in PROMPTS]
    width = max(map(len, enc))
    input_ids = torch.tensor([[0] * (width - len(e)) + e for e in enc], dtype=torch.long)  # left padding
    lengths = [len(e) for e in enc]
    for _ in range(n_tokens):
        scores = lm(input_ids, lengths)[:, -1, :].to(dtype)
        for p in processors:
            scores = p(input_ids, scores)
        probs = torch.softmax(scores.float(), dim=-1)
        nxt = torch.multinomial(probs, 1, generator=g)
        input_ids = torch.cat([input_ids, nxt], dim=1)
        lengths = [n + 1 for n in lengths]
    return [tokenizer.decode(row[-n_tokens:].tolist()) for row in input_ids]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_torch_loop_text_is_flagged_by_cli(cli, tmp_path, key_path, model, tokenizer, dtype):
    lm = NgramAsTorch(model, pad_id=0)
    proc = isotope.WatermarkLogitsProcessor(key_path)
    marked = generate(lm, tokenizer, [proc], 150, seed=1, dtype=getattr(torch, dtype))
    plain = generate(lm, tokenizer, [], 150, seed=2)
    det = isotope.Detector(key_path)
    for texts, expected in ((marked, True), (plain, False)):
        f = tmp_path / "gen.jsonl"
        f.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        want = [json.loads(line) for line in cli("detect", "-k", key_path, "--json", "--jsonl", f).stdout.splitlines()]
        for t, w in zip(texts, want):
            got = det.detect(t)
            assert got == {k: v for k, v in w.items() if k != "input"}
            assert w["watermarked"] is expected, (t, w["log10_p"])


def test_processor_list_composes_with_other_processors(key_path):
    # another processor (temperature) before and after ours, as in a LogitsProcessorList
    proc = isotope.WatermarkLogitsProcessor(key_path)
    x = torch.randint(0, 500, (2, 5))
    s = torch.randn(2, 500)
    a = proc(x, s.clone() / 0.7)
    mask = torch.from_numpy(proc.green_masks(x, 500)).float()
    assert torch.equal(a, s / 0.7 + 3.0 * mask)
