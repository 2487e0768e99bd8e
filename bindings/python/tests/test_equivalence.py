"""Python and the isotope command agree to the last digit: generations from
the same model, key, profile and seed; detections; audits."""

import json

import numpy as np
import pytest

import isotope

from conftest import json_lines

PROMPT = "And the LORD said unto"
PROFILES = [
    (isotope.Profile(), []),
    (isotope.Profile(gamma=0.5, delta=2.0, context_width=1),
     ["--gamma", "0.5", "--delta", "2", "--context-width", "1"]),
]


def python_generate(model, tokenizer, proc, prompt, n, seed, **sampling):
    """The loop a Python user writes: model logits -> watermark_sample."""
    rng = isotope.Rng(seed)
    ctx = list(tokenizer.encode(prompt))
    out = []
    for _ in range(n):
        logits = model.next_logits(ctx)
        t = isotope.watermark_sample(proc, ctx, logits, rng=rng, **sampling)
        ctx.append(t)
        out.append(t)
    return tokenizer.decode(out)


@pytest.mark.parametrize("profile,flags", PROFILES)
def test_generation_matches_cli(cli, key_path, model, tokenizer, profile, flags):
    proc = isotope.WatermarkLogitsProcessor(key_path, profile)
    text = cli("generate", "-k", key_path, "-p", PROMPT, "-n", 60, "--seed", 17, *flags).stdout
    assert text == python_generate(model, tokenizer, proc, PROMPT, 60, 17) + "\n"
    text = cli("generate", "-k", key_path, "-p", PROMPT, "-n", 40, "--seed", 3, "--top-k", 20, "--top-p", 0.9,
               "--temperature", 0.8, *flags).stdout
    assert text == python_generate(model, tokenizer, proc, PROMPT, 40, 3, top_k=20, top_p=0.9, temperature=0.8) + "\n"


def test_plain_generation_matches_cli(cli, model, tokenizer):
    text = cli("generate", "--no-watermark", "-p", PROMPT, "-n", 40, "--seed", 5).stdout
    rng = isotope.Rng(5)
    ctx = list(tokenizer.encode(PROMPT))
    out = []
    for _ in range(40):
        t = isotope.sample_plain(model.next_logits(ctx), rng=rng)
        ctx.append(t)
        out.append(t)
    assert text == tokenizer.decode(out) + "\n"


def without_input(d):
    return {k: v for k, v in d.items() if k != "input"}


@pytest.mark.parametrize("profile,flags", PROFILES)
def test_detect_matches_cli(cli, tmp_path, key_path, profile, flags):
    marked = cli("generate", "-k", key_path, "-p", PROMPT, "-n", 200, "--seed", 1, *flags).stdout
    plain = cli("generate", "--no-watermark", "-p", PROMPT, "-n", 200, "--seed", 2).stdout
    det = isotope.Detector(key_path, profile=profile)
    for text, marked_expected in ((marked, True), (plain, False)):
        f = tmp_path / "text.txt"
        f.write_text(text)
        want = json.loads(cli("detect", "-k", key_path, "--json", "--mask", f, *flags).stdout)
        got = det.detect(text, mask=True)
        assert got == without_input(want)  # every field, floats bit for bit
        assert got["watermarked"] is marked_expected
        assert got["log10_p"] == want["log10_p"] and got["z"] == want["z"]
        # through ids, and with another threshold
        ids = det.tokenizer.encode(text)
        g2 = det.detect_ids(ids)
        assert g2 == {k: v for k, v in want.items() if k not in ("input", "mask", "tokenizer_sha256")}
        want = json.loads(cli("detect", "-k", key_path, "--json", "--threshold", 0.01, f, *flags).stdout)
        assert isotope.Detector(key_path, profile=profile, threshold=0.01).detect(text) == without_input(want)


def test_detect_with_prompt_matches_cli(cli, tmp_path, key_path):
    det = isotope.Detector(key_path)
    recs = []
    for i, p in enumerate(["And God said", "Thou shalt not", PROMPT]):
        r = cli("generate", "-k", key_path, "-p", p, "-n", 80, "--seed", i).stdout.rstrip("\n")
        recs.append({"prompt": p + r[:20], "response": r})
    f = tmp_path / "recs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    want = json_lines(cli("detect", "-k", key_path, "--json", "--jsonl", f).stdout)
    for r, w in zip(recs, want):
        got = det.detect(r["response"], prompt=r["prompt"])
        assert got == without_input(w)
        assert got["rules"]["prompt_exclusion"] is True


def test_detect_no_dedup_matches_cli(cli, tmp_path, key_path):
    text = "the same words again and again. " * 20
    f = tmp_path / "rep.txt"
    f.write_text(text)
    want = json.loads(cli("detect", "-k", key_path, "--json", "--no-dedup", f).stdout)
    got = isotope.Detector(key_path, dedup=False).detect(text)
    assert got == without_input(want)


SEED = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
# The CLI adds what only its reports use: the files it read, its options, and
# the evidence page's accumulation curve and text sample.
AUDIT_FIELDS_SKIPPED = ("inputs", "options", "curve", "sample")


def cli_audit(cli, *args):
    return json.loads(cli("audit", "--json", "-q", "--control", 5, "--control-seed", SEED, *args).stdout)


def same_audit(got, want):
    want = {k: v for k, v in want.items() if k not in AUDIT_FIELDS_SKIPPED}
    assert got == want


@pytest.fixture(scope="module")
def audit_data(tmp_path_factory, cli, key_path):
    d = tmp_path_factory.mktemp("audit")
    prompts = d / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in
                               ["And God said", "Thou shalt not", PROMPT, "The heaven", "In the beginning"]))
    teacher = d / "teacher.jsonl"
    cli("generate", "-k", key_path, "--prompts", prompts, "-n", 120, "--seed", 9, "-q", "-o", teacher)
    suspect = d / "suspect.jsonl"
    cli("generate", "-k", key_path, "--prompts", prompts, "-n", 60, "--seed", 10, "-q", "-o", suspect)
    return d, json_lines(teacher.read_text()), json_lines(suspect.read_text())


def test_closed_audit_matches_cli(cli, key_path, audit_data):
    d, teacher, suspect = audit_data
    want = cli_audit(cli, "--mode", "closed", "-k", key_path, "--suspect", d / "suspect.jsonl")
    got = isotope.audit_closed(key_path, suspect, control=5, control_seed=SEED)
    same_audit(got, want)
    assert got["flagged"] is True and got["mode"] == "closed"
    want = cli_audit(cli, "--mode", "closed", "-k", key_path, "--suspect", d / "suspect.jsonl",
                     "--teacher", d / "teacher.jsonl")
    got = isotope.audit_closed(key_path, suspect, teacher=[t["response"] for t in teacher], control=5,
                               control_seed=bytes.fromhex(SEED))
    same_audit(got, want)
    assert got["filter"]["enabled"] is True


def test_open_audit_matches_cli(cli, key_path, audit_data, model, tokenizer, tmp_path):
    d, teacher, _ = audit_data
    texts = [t["response"] for t in teacher]
    want = cli_audit(cli, "--mode", "open", "-k", key_path, "--teacher", d / "teacher.jsonl",
                     "--model", isotope.default_model_path())
    # the n-gram model itself
    same_audit(isotope.audit_open(key_path, texts, model, control=5, control_seed=SEED), want)

    # a callable in the shape of a PyTorch causal LM: row j predicts the token after ids[0..j]
    calls = []

    def suspect(batch):
        calls.append(len(batch))
        out = []
        for seq in batch:
            logits = np.stack([model.next_logits(seq[:j + 1]) for j in range(len(seq))])
            out.append(logits)
        return out

    got = isotope.audit_open(key_path, texts, suspect, batch_size=2, control=5, control_seed=SEED)
    same_audit(got, want)
    assert calls == [2, 2, 1]

    # argmax ids instead of logits, and precomputed predictions (the CLI's PREDS.jsonl layout)
    def suspect_ids(batch):
        return [np.array(model.predict_top1(list(seq) + [0])[1:]) for seq in batch]

    same_audit(isotope.audit_open(key_path, texts, suspect_ids, control=5, control_seed=SEED), want)
    preds = [model.predict_top1(tokenizer.encode(t)) for t in texts]
    same_audit(isotope.audit_open(key_path, texts, preds, control=5, control_seed=SEED), want)
    pf = tmp_path / "preds.jsonl"
    pf.write_text("".join(json.dumps({"predictions": p}) + "\n" for p in preds))
    want_p = cli_audit(cli, "--mode", "open", "-k", key_path, "--teacher", d / "teacher.jsonl", "--predictions", pf)
    same_audit(isotope.audit_open(key_path, texts, preds, control=5, control_seed=SEED), want_p)
