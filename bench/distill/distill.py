#!/usr/bin/env python3
"""Radioactivity of the watermark in neural students.

A small GPT-style teacher is trained on the bundled human corpus and answers
prompts (snippets of that corpus) through isotope.WatermarkLogitsProcessor.
Students of the same size are trained from scratch on human text plus a
share rho of those watermarked answers; controls are trained on the same mix
with the teacher's *plain* answers (same prompts, no watermark). Every
student is then audited with isotope:

  open mode   -- the watermarked answers (those the students at that rho were
                 trained on) are fed to the student with teacher forcing;
                 its top-1 predictions are scored (isotope.audit_open with the
                 model behind a Python callable), also over the first 1/8,
                 1/4, 1/2 of the texts;
  closed mode -- the student answers held-out prompts; its answers are scored
                 with the teacher-window filter (isotope.audit_closed).

    bench/distill/run.sh                       # default size, about 20 min on 2 CPU cores
    bench/distill/run.sh --preset tiny         # a couple of minutes
    bench/distill/run.sh --preset gpu          # larger models and data, on a GPU
    bench/distill/run.sh --help

Writes OUT/results.json and OUT/results.md (the table recorded in docs/audit.md).
"""

import argparse
import glob
import json
import os
import platform
import sys
import time

import numpy as np
import torch

import isotope

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt  # noqa: E402

PRESETS = {
    # name: d_model, layers, heads, ctx, prompt, batch, teacher_steps, student_steps,
    #       student_sequences, closed_prompts
    "tiny": dict(d_model=64, layers=2, heads=4, ctx=96, prompt_tokens=16, batch=16, teacher_steps=60,
                 student_steps=60, student_sequences=400, closed_prompts=64, rhos="0.1", control_rhos="0.1"),
    "default": dict(d_model=128, layers=2, heads=4, ctx=128, prompt_tokens=16, batch=32, teacher_steps=250,
                    student_steps=150, student_sequences=1000, closed_prompts=256, rhos="0.05,0.1,0.2",
                    control_rhos="0.1"),
    "gpu": dict(d_model=384, layers=6, heads=6, ctx=256, prompt_tokens=32, batch=64, teacher_steps=4000,
                student_steps=3000, student_sequences=40000, closed_prompts=2000, rhos="0.01,0.05,0.1,0.2",
                control_rhos="0.1,0.2"),
}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default",
                    help="sizes to start from (flags below override them)")
    ap.add_argument("--out", default=None, help="output folder (default: bench/distill/out-PRESET)")
    ap.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: every core this process may use)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--key", default=None, help="watermark key file (default: a fresh key in OUT)")
    ap.add_argument("--corpus", default=None, help="folder of training .txt files (default: corpora/train)")
    ap.add_argument("--heldout", default=None, help="folder of held-out .txt files (default: corpora/heldout)")
    ap.add_argument("--control-keys", type=int, default=20)
    ap.add_argument("--human-only", action="store_true",
                    help="also train and audit a student on human text only (rho = 0)")
    for name, kind in (("d_model", int), ("layers", int), ("heads", int), ("ctx", int), ("prompt_tokens", int),
                       ("batch", int), ("teacher_steps", int), ("student_steps", int),
                       ("student_sequences", int), ("closed_prompts", int), ("rhos", str),
                       ("control_rhos", str), ("lr", float), ("temperature", float)):
        ap.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    a = ap.parse_args(argv)
    base = dict(PRESETS[a.preset], lr=3e-3, temperature=1.0)
    for k, v in base.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.rhos = [float(x) for x in str(a.rhos).split(",") if x.strip()]
    a.control_rhos = [float(x) for x in str(a.control_rhos).split(",") if x.strip()]
    if a.out is None:
        a.out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out-" + a.preset)
    if a.device == "auto":
        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    return a


class Log:
    def __init__(self, path):
        self.t0 = time.time()
        self.f = open(path, "w")

    def __call__(self, msg):
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()


def repo_root():
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def encode_folder(tok, folder):
    """Token stream of every .txt file (paragraphs joined), in name order."""
    ids = []
    for path in sorted(glob.glob(os.path.join(folder, "*.txt"))):
        with open(path, encoding="utf-8") as f:
            paras = [p.strip() for p in f.read().split("\n\n") if p.strip()]
        for p in paras:
            ids.extend(tok.encode(p.replace("\n", " ")))
    return np.asarray(ids, dtype=np.int64)


def cut(stream, length, rng):
    n = len(stream) // length
    seqs = stream[: n * length].reshape(n, length)
    return seqs[rng.permutation(n)]


def main(argv=None):
    a = parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    log = Log(os.path.join(a.out, "log.txt"))
    # OpenMP may start with one thread on a busy machine: ask for every core we may use.
    torch.set_num_threads(a.threads or len(os.sched_getaffinity(0)))
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    dev = torch.device(a.device)
    log(f"isotope {isotope.__version__}, torch {torch.__version__} on {a.device} "
        f"({torch.get_num_threads()} threads), preset {a.preset}")

    root = repo_root()
    tok = isotope.Tokenizer()
    V = tok.vocab_size
    key_path = a.key or os.path.join(a.out, "provider.key")
    if a.key is None and not os.path.exists(key_path):
        isotope.Key.generate().save(key_path)
    key = isotope.load_key(key_path)
    profile = isotope.Profile()
    log(f"key commitment {key.commitment[:16]}..., profile {profile.name}")

    # ---- data ---------------------------------------------------------------
    t = time.time()
    human = cut(encode_folder(tok, a.corpus or os.path.join(root, "corpora", "train")), a.ctx, rng)
    held = cut(encode_folder(tok, a.heldout or os.path.join(root, "corpora", "heldout")), a.ctx, rng)
    half = len(human) // 2
    teacher_seqs, student_pool = human[:half], human[half:]
    log(f"corpus: {len(human)} sequences of {a.ctx} tokens ({time.time() - t:.1f}s to tokenize); "
        f"held-out {len(held)} sequences")

    def new_model():
        return gpt.GPT(V, d=a.d_model, layers=a.layers, heads=a.heads, ctx=a.ctx).to(dev)

    def gen(device_seed):
        g = torch.Generator(device=dev)
        g.manual_seed(device_seed)
        return g

    # ---- teacher ---------------------------------------------------------------
    teacher = new_model()
    log(f"teacher: {teacher.parameters_count() / 1e6:.2f}M parameters, {a.teacher_steps} steps of "
        f"{a.batch}x{a.ctx} tokens")
    t = time.time()
    losses = gpt.train(teacher, torch.from_numpy(teacher_seqs), steps=a.teacher_steps, batch=a.batch, lr=a.lr,
                       device=dev, generator=torch.Generator().manual_seed(a.seed), log=log,
                       log_every=max(1, a.teacher_steps // 5))
    train_rate = a.teacher_steps * a.batch * a.ctx / (time.time() - t)
    log(f"teacher trained: loss {np.mean(losses[-20:]):.3f}, {train_rate:.0f} tokens/s")

    # ---- the teacher's answers: watermarked, and plain for the controls -------------
    max_rho = max(a.rhos + a.control_rhos)
    n_answers = int(round(a.student_sequences * max_rho))
    prompts = torch.from_numpy(teacher_seqs[:n_answers, : a.prompt_tokens].copy())
    n_new = a.ctx - a.prompt_tokens
    proc = isotope.WatermarkLogitsProcessor(key, profile)
    t = time.time()
    wm, plain = [], []
    for k in range(0, n_answers, 256):
        p = prompts[k:k + 256].to(dev)
        wm.append(gpt.generate(teacher, p, n_new, processors=[proc], temperature=a.temperature,
                               generator=gen(a.seed + 1000 + k)).cpu())
        plain.append(gpt.generate(teacher, p, n_new, temperature=a.temperature,
                                  generator=gen(a.seed + 2000 + k)).cpu())
    wm, plain = torch.cat(wm), torch.cat(plain)
    log(f"teacher answered {n_answers} prompts twice ({n_new} tokens each, watermarked and plain) "
        f"in {time.time() - t:.1f}s")
    det = isotope.Detector(key, profile)
    wm_answers = [row[a.prompt_tokens:].tolist() for row in wm]
    plain_answers = [row[a.prompt_tokens:].tolist() for row in plain]
    wm_check = det.detect_ids(np.concatenate(wm_answers[:50]))
    plain_check = det.detect_ids(np.concatenate(plain_answers[:50]))
    log(f"teacher answers: watermarked green fraction {wm_check['green_fraction']:.3f} "
        f"(log10 p {wm_check['log10_p']:.1f} over {wm_check['scored']} tokens of 50 answers); "
        f"plain {plain_check['green_fraction']:.3f} (log10 p {plain_check['log10_p']:.2f})")
    prefix = {tuple(row[a.prompt_tokens:].tolist()): row[: a.prompt_tokens].tolist() for row in wm}

    # Held-out prompts for the closed audit.
    closed_prompts = torch.from_numpy(held[: a.closed_prompts, : a.prompt_tokens].copy())
    teacher_windows = wm_answers  # the filter: windows of every watermarked answer

    # ---- students ------------------------------------------------------------------
    configs = ([(0.0, "none")] if a.human_only else []) + [(r, "watermarked") for r in a.rhos] + \
        [(r, "plain") for r in a.control_rhos]
    results = []
    for si, (rho, kind) in enumerate(configs):
        n_a = int(round(a.student_sequences * rho))
        n_h = a.student_sequences - n_a
        human_part = student_pool[rng.permutation(len(student_pool))[:n_h]]
        answers = (wm if kind == "watermarked" else plain)[:n_a]
        student = new_model()
        label = f"rho={rho:g} {kind}"
        log(f"student {si + 1}/{len(configs)} ({label}): {n_h} human + {n_a} answer sequences, "
            f"{a.student_steps} steps")
        t = time.time()
        # every training sequence is ctx tokens: human text, or prompt + answer
        data = torch.cat([torch.from_numpy(human_part), answers]) if n_a else torch.from_numpy(human_part)
        losses = gpt.train(student, data, steps=a.student_steps, batch=a.batch, lr=a.lr, device=dev,
                           generator=torch.Generator().manual_seed(a.seed + 10 + si))
        log(f"  trained in {time.time() - t:.0f}s, loss {np.mean(losses[-20:]):.3f}")

        # Open mode: the watermarked answers of this rho (for rho = 0, those of the
        # smallest rho) go through the student, which is called once per batch of texts.
        n_audit = n_a if n_a else int(round(a.student_sequences * min(a.rhos)))
        texts = wm_answers[:n_audit]

        def suspect(batch, model=student):
            return gpt.next_token_logits(model, batch, dev, prefix=prefix)

        t = time.time()
        preds = isotope.predictions_from_callable(suspect, texts, batch_size=64)
        curve = []
        for frac in (8, 4, 2, 1):
            m = max(1, len(texts) // frac)
            r = isotope.audit_open(key, texts[:m], preds[:m], profile=profile, vocab_size=V,
                                   control=a.control_keys if frac == 1 else 0, control_seed=bytes(32))
            curve.append({"texts": m, "scored": r["scored"], "green_fraction": r["green_fraction"],
                          "log10_p": r["log10_p"]})
        open_r = r
        log(f"  open audit ({time.time() - t:.0f}s): " + ", ".join(
            f"{c['scored']} scored -> log10 p {c['log10_p']:.2f}" for c in curve))

        # Closed mode: the student answers held-out prompts (plain sampling).
        t = time.time()
        out = gpt.generate(student, closed_prompts.to(dev), n_new, temperature=a.temperature,
                           generator=gen(a.seed + 3000 + si)).cpu()
        records = [(row[: a.prompt_tokens].tolist(), row[a.prompt_tokens:].tolist()) for row in out]
        closed_f = isotope.audit_closed(key, records, profile=profile, teacher=teacher_windows,
                                        control=a.control_keys, control_seed=bytes(32))
        closed_n = isotope.audit_closed(key, records, profile=profile, control=0)
        log(f"  closed audit ({time.time() - t:.0f}s): filter {closed_f['scored']} scored -> log10 p "
            f"{closed_f['log10_p']:.2f}; no filter {closed_n['scored']} scored -> log10 p {closed_n['log10_p']:.2f}")
        results.append({
            "rho": rho, "answers": kind, "answer_sequences": n_a, "human_sequences": n_h,
            "final_loss": float(np.mean(losses[-20:])),
            "open": {"texts": len(texts), "scored": open_r["scored"], "green_fraction": open_r["green_fraction"],
                     "log10_p": open_r["log10_p"], "flagged": open_r["flagged"], "curve": curve,
                     "control_log10_p": open_r["control"]["log10_p"], "control_ks_p": open_r["control"]["ks_p"]},
            "closed_filter": {"scored": closed_f["scored"], "green_fraction": closed_f["green_fraction"],
                              "log10_p": closed_f["log10_p"], "control_ks_p": closed_f["control"]["ks_p"],
                              "control_below_0_05": closed_f["control"]["below_0_05"]},
            "closed_no_filter": {"scored": closed_n["scored"], "green_fraction": closed_n["green_fraction"],
                                 "log10_p": closed_n["log10_p"]},
        })

    summary = {
        "command": "bench/distill/run.sh " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {k: getattr(a, k) for k in ("preset", "device", "seed", "d_model", "layers", "heads", "ctx",
                                                 "prompt_tokens", "batch", "lr", "temperature", "teacher_steps",
                                                 "student_steps", "student_sequences", "closed_prompts", "rhos",
                                                 "control_rhos", "control_keys")},
        "parameters": teacher.parameters_count(),
        "train_tokens_per_s": train_rate,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {a.device}",
        "profile": profile.name,
        "key_commitment": key.commitment,
        "teacher_answers": {"count": n_answers, "tokens_each": n_new,
                            "watermarked_green_fraction": wm_check["green_fraction"],
                            "plain_green_fraction": plain_check["green_fraction"]},
        "elapsed_s": time.time() - log.t0,
        "students": results,
    }
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=1)
    md = table(summary)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    log(f"done in {summary['elapsed_s']:.0f}s; wrote {a.out}/results.json and results.md")
    return summary


def table(s):
    lines = []
    lines.append("| student (training data) | open: log10 p at 1/8, 1/4, 1/2, all texts (scored tuples) "
                 "| open green | closed + filter: log10 p (scored) | closed, no filter: log10 p (scored) |")
    lines.append("| --- | --- | --- | --- | --- |")
    for r in s["students"]:
        who = ("human text only" if r["answers"] == "none" else
               f"rho = {100 * r['rho']:g}% {'watermarked' if r['answers'] == 'watermarked' else 'plain (control)'}"
               " answers")
        curve = ", ".join(f"{c['log10_p']:.1f} ({c['scored']})" for c in r["open"]["curve"])
        lines.append(f"| {who} | {curve} | {r['open']['green_fraction']:.3f} "
                     f"| {r['closed_filter']['log10_p']:.1f} ({r['closed_filter']['scored']}) "
                     f"| {r['closed_no_filter']['log10_p']:.1f} ({r['closed_no_filter']['scored']}) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
