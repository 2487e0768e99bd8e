"""Detector(...).detect*(scan=True): windowed detection finds a watermarked
span inside a longer sequence, and its numbers are those of scoring every
window of the family on its own with detect_ids, Bonferroni-corrected."""

import math

import numpy as np
import pytest

import isotope

V = 1000


def family(t, min_length):
    """The windows of the scan, written out from docs/statistics.md, section 8."""
    out = []
    length = min_length
    while length < t:
        starts = list(range(0, t - length + 1, length // 2))
        out += [(s, s + length) for s in starts]
        if starts[-1] + length < t:
            out.append((t - length, t))
        length *= 2
    if t > 0:
        out.append((0, t))
    return out


@pytest.fixture(scope="module")
def mixed():
    """1,700 random ids, 100 watermarked ones sampled on random logits, 1,700 more."""
    key = isotope.Key.from_bytes(bytes(range(32)))
    gen = np.random.default_rng(7)
    ids = [int(x) for x in gen.integers(0, V, 1700)]
    rng = isotope.Rng(3)
    for _ in range(100):
        logits = gen.normal(0.0, 2.0, V).astype(np.float32)
        ids.append(isotope.watermark_sample(key, np.array(ids, dtype=np.int64), logits, rng=rng))
    ids += [int(x) for x in gen.integers(0, V, 1700)]
    return key, ids


def test_scan_finds_the_span_that_plain_detection_misses(mixed):
    key, ids = mixed
    det = isotope.Detector(key)
    plain = det.detect_ids(ids)
    assert "scan" not in plain
    r = det.detect_ids(ids, scan=True)
    assert r["log10_p"] == plain["log10_p"]  # the plain result is unchanged
    assert plain["log10_p"] > -4
    s = r["scan"]
    assert s["watermarked"] and s["log10_p"] <= -4
    assert s["correction"] == "bonferroni" and s["min_length"] == 32
    overlap = max(0, min(s["end"], 1800) - max(s["start"], 1700))
    assert 2 * overlap >= s["end"] - s["start"], s
    other = isotope.Detector(isotope.Key.from_bytes(bytes(range(1, 33)))).detect_ids(ids, scan=True)
    assert not other["scan"]["watermarked"]


@pytest.mark.parametrize("min_length", [32, 64, 100])
def test_scan_is_the_best_window_of_the_family_times_its_size(mixed, min_length):
    key, ids = mixed
    det = isotope.Detector(key)
    s = det.detect_ids(ids, scan=True, scan_min_length=min_length)["scan"]
    h = det.profile.context_width
    windows = family(len(ids), min_length)
    assert s["windows"] == len(windows)
    each = [det.detect_ids(ids[max(0, a - h):b])["log10_p"] for a, b in windows]
    best = min(range(len(windows)), key=lambda i: (each[i], windows[i][1] - windows[i][0], windows[i][0]))
    assert (s["start"], s["end"]) == windows[best]
    assert s["window"]["log10_p"] == each[best]
    assert s["log10_p"] == pytest.approx(min(0.0, each[best] + math.log10(len(windows))), abs=1e-12)


def test_scan_on_text_gives_the_span_text_and_batches_agree(mixed):
    key, ids = mixed
    det = isotope.Detector(key)
    r = det.detect("A short text of human words, shorter than any window.", scan=True)
    assert r["scan"]["windows"] == 1 and r["scan"]["log10_p"] == r["log10_p"]
    assert "text" in r["scan"]
    batch = det.detect_batch([ids, ids[:500]], scan=True)
    assert batch[0]["scan"] == det.detect_ids(ids, scan=True)["scan"]
    assert batch[1]["scan"] == det.detect_ids(ids[:500], scan=True)["scan"]


@pytest.mark.parametrize("bad", [0, 33, -1, 2**40])
def test_bad_scan_min_length_is_a_value_error(mixed, bad):
    key, ids = mixed
    with pytest.raises(ValueError, match="scan_min_length"):
        isotope.Detector(key).detect_ids(ids, scan=True, scan_min_length=bad)
