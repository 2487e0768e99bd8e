#!/usr/bin/env python3
"""Cost of the watermark in a Python decoding step, as a ratio in one run.

Baseline: one plain sampling step in vectorised numpy on (batch, vocab)
float32 scores -- softmax over each row, then inverse-CDF sampling of one
token per row. Against it: isotope.WatermarkLogitsProcessor on the same
scores (numpy, in place), and on a CPU torch tensor sharing the same memory.

    PYTHONPATH=build/python python3 bench/python/bench_processor.py
    PYTHONPATH=build/python python3 bench/python/bench_processor.py --batch 1 --vocab 32000

Prints median times over --repeat calls and the ratio processor / plain step
(the target: at most 0.5, i.e. watermarking adds at most 50 % to the step).
"""

import argparse
import statistics
import sys
import time

import numpy as np

import isotope


def plain_step(scores, rng):
    """softmax over rows + inverse-CDF sampling per row, vectorised."""
    m = scores.max(axis=1, keepdims=True)
    p = np.exp(scores - m)
    p /= p.sum(axis=1, keepdims=True)
    cdf = np.cumsum(p, axis=1)
    u = rng.random(scores.shape[0], dtype=np.float32) * cdf[:, -1]
    tokens = (cdf < u[:, None]).sum(axis=1)
    return np.minimum(tokens, scores.shape[1] - 1)


def timed(fn, repeat, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=128256)
    ap.add_argument("--seq", type=int, default=64, help="length of input_ids (only the last h ids are read)")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--no-torch", action="store_true", help="skip the torch tensor measurement")
    a = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    scores = (rng.standard_normal((a.batch, a.vocab)) * 3).astype(np.float32)
    input_ids = rng.integers(0, a.vocab, size=(a.batch, a.seq))
    proc = isotope.WatermarkLogitsProcessor(isotope.Key.generate())
    proc(input_ids, scores.copy())  # builds the watermarker for this vocabulary

    work = scores.copy()
    t_plain = timed(lambda: plain_step(work, rng), a.repeat)
    # The processor biases in place; adding delta repeatedly to the same
    # array does not change its cost.
    t_proc = timed(lambda: proc(input_ids, work), a.repeat)

    print(f"isotope {isotope.__version__}; scores ({a.batch}, {a.vocab}) float32; median of {a.repeat} calls")
    print(f"  plain numpy softmax sampling step : {t_plain * 1e3:9.3f} ms")
    print(f"  WatermarkLogitsProcessor (numpy)  : {t_proc * 1e3:9.3f} ms   "
          f"({t_proc / a.batch * 1e6:.1f} us per row)")
    print(f"  ratio processor / plain step      : {t_proc / t_plain:9.3f}   "
          f"(watermarking adds {100 * t_proc / t_plain:.1f}% to the step)")
    result = {"plain_ms": t_plain * 1e3, "processor_ms": t_proc * 1e3, "ratio": t_proc / t_plain}

    if not a.no_torch:
        try:
            import torch
        except Exception as e:  # pragma: no cover
            print(f"  (torch not measured: {e})")
        else:
            ts = torch.from_numpy(work)  # shares memory
            ti = torch.from_numpy(input_ids)
            t_torch = timed(lambda: proc(ti, ts), a.repeat)
            tb = torch.from_numpy(scores.copy()).to(torch.bfloat16)
            t_bf16 = timed(lambda: proc(ti, tb), a.repeat)
            print(f"  WatermarkLogitsProcessor (torch float32, shared memory) : {t_torch * 1e3:9.3f} ms")
            print(f"  WatermarkLogitsProcessor (torch bfloat16, via a mask)   : {t_bf16 * 1e3:9.3f} ms")
            result.update(torch_float32_ms=t_torch * 1e3, torch_bfloat16_ms=t_bf16 * 1e3)
    return result


if __name__ == "__main__":
    r = main()
    sys.exit(0 if r["ratio"] <= 0.5 else 1)
