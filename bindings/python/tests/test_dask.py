"""isotope on a Dask cluster: a LocalCluster of two worker processes gives the
same JSON as the single-machine command, for closed (with the filter) and
open audits and for corpus scans; bad set-ups fail with distinct exit codes."""

import json
import os
import shutil
import socket
import subprocess

import pytest

import isotope
import isotope.dask

distributed = pytest.importorskip("distributed")

SEED = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


@pytest.fixture(scope="module")
def cluster():
    c = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                 silence_logs=40)
    yield c.scheduler_address
    c.close()


def _key(path, label):
    import hashlib
    isotope.Key.from_bytes(hashlib.sha256(label.encode()).digest()).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory, cli):
    """Teacher answers under k1, a student trained on them, its answers to other prompts (some repeated,
    some with token ids), and its predictions on the teacher texts."""
    d = tmp_path_factory.mktemp("dask")
    src = os.environ["ISOTOPE_SOURCE_DIR"]
    k1, k2 = _key(d / "k1", "dask-1"), _key(d / "k2", "dask-2")
    prompts = open(os.path.join(src, "corpora", "prompts.jsonl")).read().splitlines()
    (d / "tp.jsonl").write_text("\n".join(prompts[:30]) + "\n")
    (d / "sp.jsonl").write_text("\n".join(prompts[100:140]) + "\n")
    cli("generate", "-q", "-k", k1, "--prompts", d / "tp.jsonl", "-n", 120, "--seed", 3, "-o", d / "teacher.jsonl")
    cli("lm", "train", "-q", "-c", os.path.join(src, "corpora", "heldout", "devil.txt"), d / "teacher.jsonl",
        "-o", d / "student.lm")
    cli("generate", "-q", "--no-watermark", "-m", d / "student.lm", "--prompts", d / "sp.jsonl", "-n", 100,
        "--seed", 4, "-o", d / "suspect.jsonl")
    lines = (d / "suspect.jsonl").read_text().splitlines()
    # Repeats across records (dedup across partitions), a blank line, and the teacher's own answers
    # (prompt exclusion and the filter both at work).
    teacher_lines = (d / "teacher.jsonl").read_text().splitlines()
    mixed = lines + [""] + lines[:5] + teacher_lines[:5]
    (d / "suspect_mixed.jsonl").write_text("\n".join(mixed) + "\n")
    cli("audit", "-q", "--mode", "open", "--key", k1, "--teacher", d / "teacher.jsonl", "--model", d / "student.lm",
        "--control", 0, "--write-predictions", d / "preds.jsonl", "--json", "-o", d / "unused.json")
    return {"dir": d, "k1": k1, "k2": k2}


def _json(cli, *args):
    p = cli(*args)
    return json.loads(p.stdout)


def _same(a, b):
    """Identical JSON, both ways: every count, every log10_p, every control."""
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_closed_audit_with_filter_matches_one_machine(cli, data, cluster):
    d = data["dir"]
    args = ["audit", "-q", "--key", data["k1"], "--suspect", d / "suspect_mixed.jsonl", "--teacher",
            d / "teacher.jsonl", "--control", 8, "--control-seed", SEED, "--json"]
    one = _json(cli, *args)
    many = _json(cli, *args, "--scheduler", cluster)
    _same(one, many)
    # The data exercise every rule, so that the equality means something.
    assert one["flagged"] and one["filter"]["enabled"]
    assert one["skipped"]["duplicate"] > 0 and one["skipped"]["prompt"] > 0 and one["skipped"]["filter"] > 0
    assert len(one["control"]["log10_p"]) == 8 and len(one["curve"]["controls_log10_p"]) == 8


def test_filter_given_as_token_ids_matches_one_machine(cli, data, cluster):
    # A filter text given as token ids sets input_ids on both, though the suspect's records are text.
    d = data["dir"]
    teacher_lines = (d / "teacher.jsonl").read_text().splitlines()
    first = json.loads(teacher_lines[0])
    ids = isotope.Tokenizer().encode(first["response"])
    (d / "teacher_ids.jsonl").write_text("\n".join([json.dumps({"ids": ids})] + teacher_lines[1:]) + "\n")
    args = ["audit", "-q", "--key", data["k1"], "--suspect", d / "suspect.jsonl", "--teacher",
            d / "teacher_ids.jsonl", "--control", 2, "--control-seed", SEED, "--json", "--tokenizer",
            isotope.default_tokenizer_path()]
    one = _json(cli, *args)
    assert one.get("input_ids") is True
    _same(one, _json(cli, *args, "--scheduler", cluster))
    text = _json(cli, *args[:7], d / "teacher.jsonl", *args[8:], "--scheduler", cluster)
    assert "input_ids" not in text or text["input_ids"] is False


def test_closed_audit_without_filter_and_switched_rules(cli, data, cluster):
    d = data["dir"]
    base = ["audit", "-q", "--key", data["k2"], "--suspect", d / "suspect_mixed.jsonl", "--control", 3,
            "--control-seed", SEED, "--json"]
    for extra in ([], ["--no-dedup"], ["--no-prompt-exclusion"], ["--scheme", "synthid"]):
        _same(_json(cli, *base, *extra), _json(cli, *base, *extra, "--scheduler", cluster))


def test_open_audit_matches_one_machine(cli, data, cluster):
    d = data["dir"]
    args = ["audit", "-q", "--mode", "open", "--key", data["k1"], "--teacher", d / "teacher.jsonl",
            "--predictions", d / "preds.jsonl", "--control", 5, "--control-seed", SEED, "--json"]
    one = _json(cli, *args)
    many = _json(cli, *args, "--scheduler", cluster)
    _same(one, many)
    assert one["skipped"]["duplicate"] > 0 and one["scored"] > 1000


def test_corpus_scan_matches_one_machine(cli, data, cluster):
    d = data["dir"]
    # Two shards; the summary corrects for the number of texts (Holm).
    args = ["detect", "-k", data["k1"], "--jsonl", "--json", "--summary", d / "teacher.jsonl",
            d / "suspect_mixed.jsonl"]
    one = cli(*args).stdout.splitlines()
    many = cli(*args, "--scheduler", cluster).stdout.splitlines()
    assert one == many
    summary = json.loads(one[-1])
    assert summary["type"] == "isotope-detect-summary" and summary["texts"] == len(one) - 1
    assert 0 < summary["flagged"] <= summary["flagged_uncorrected"]


def test_python_api(data, cluster):
    d = data["dir"]
    client = distributed.Client(cluster, set_as_default=False)
    try:
        r = isotope.dask.audit_closed(client, data["k1"], str(d / "suspect.jsonl"), str(d / "teacher.jsonl"),
                                      control=2, control_seed=SEED)
        assert r["scored"] > 0 and r["log10_p"] < -4 and len(r["control_statistics"]) == 2
        rows = list(isotope.dask.detect_corpus(client, data["k1"], [str(d / "teacher.jsonl")]))
        assert len(rows) == 30 and all(row[2]["scored"] > 0 for row in rows)
    finally:
        client.close()


def test_holm_against_an_independent_computation():
    # Sorted: 0.01 <= 0.05/4 is rejected, 0.03 > 0.05/3 stops the procedure: one rejection. The adjusted
    # p-values are recomputed here from the definition (running maximum of min(1, (n - j + 1) p_(j))).
    ps = [0.01, 0.04, 0.03, 0.2]
    n = len(ps)
    order = sorted(range(n), key=lambda i: ps[i])
    expect, running = [0.0] * n, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (n - rank) * ps[i]))
        expect[i] = running
    import math
    rejected, adjusted = isotope.holm([math.log10(p) for p in ps], 0.05)
    assert rejected == 1
    for a, e in zip(adjusted, expect):
        assert abs(10 ** a - e) < 1e-12


def test_unreachable_scheduler_and_missing_python(cli, data):
    d = data["dir"]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, ISOTOPE_DASK_TIMEOUT="2")
    args = [cli.path, "audit", "-q", "--key", data["k1"], "--suspect", str(d / "suspect.jsonl"), "--json",
            "--scheduler", f"tcp://127.0.0.1:{port}"]
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    assert p.returncode == 8 and "cannot reach the Dask scheduler" in p.stderr
    p = subprocess.run(args, capture_output=True, text=True, env=dict(env, ISOTOPE_PYTHON="/nonexistent/python3"))
    assert p.returncode == 8 and "cannot run Python" in p.stderr
    # Gumbel-max sums of scores are not whole numbers: refused, with the reason.
    p = subprocess.run(args + ["--scheme", "gumbel"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and "whole numbers" in p.stderr
    # detect --scheduler scans JSONL files.
    p = subprocess.run([cli.path, "detect", "-k", data["k1"], str(d / "suspect.jsonl"), "--scheduler",
                        f"tcp://127.0.0.1:{port}"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and "--jsonl" in p.stderr


def test_bad_input_on_the_cluster(cli, data, cluster, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "a"}\n')
    p = cli("audit", "-q", "--key", data["k1"], "--suspect", bad, "--json", "--scheduler", cluster, check=False)
    assert p.returncode == 5 and "bad.jsonl:2" in p.stderr


def test_workers_read_their_chunks_as_the_client_cut_them(tmp_path):
    # Blank lines, CRLF, no final newline, chunk sizes from one line to the whole file: the lines a
    # worker reads back from a range are exactly the lines the client cut.
    variants = [b'{"a": 1}\n\n{"b": 2}\r\n  \n{"c": 3}', b'\n\n{"a": 1}\n{"b": 22}\n\n', b'{"only": 1}\n',
                b"".join(b'{"n": %d}\n%s' % (i, b"\n" * (i % 3)) for i in range(200))]
    for k, data in enumerate(variants):
        path = tmp_path / ("v%d.jsonl" % k)
        path.write_bytes(data)
        for target in (1, 7, 50, 1 << 20):
            chunks = isotope.dask._chunks(str(path), data, target)
            ranges = [isotope.dask._Range(str(path), c, data) for c in chunks]
            assert [r.lines() for r in ranges] == [list(c) for c in chunks]
            assert sum(r.length for r in ranges) <= len(data)


def test_chunks_hold_every_non_blank_line_once_in_order():
    # Against bytes.split: every non-blank line (spaces, tabs and CRs only are blank, even at a line's start)
    # comes once, in order, with its number; each chunk's bytes hold exactly its lines, and every chunk but
    # the last reaches the target size with its last line.
    import random

    rnd = random.Random(7)
    pieces = [b'{"a": 1}', b"", b" ", b"\t", b"\r", b' {"b": 22}', b"\t\r ", b'{"ccc": 333}\r', b"  x  ", b"\x0b"]
    for _ in range(2000):
        data = b"\n".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14))) + rnd.choice([b"", b"\n"])
        want = [(n, line) for n, line in enumerate(data.split(b"\n"), start=1) if line.strip(b" \t\r")]
        for target in (1, 4, 9, 1 << 20):
            chunks = isotope.dask._chunks("x.jsonl", data, target)
            assert [x for c in chunks for x in c] == want
            for i, c in enumerate(chunks):
                lines = list(c)
                assert len(c) == len(lines) > 0 and c.first <= lines[0][0]
                inside = data[c.offset:c.offset + c.length].split(b"\n")
                assert [(c.first + k, l) for k, l in enumerate(inside) if l.strip(b" \t\r")] == lines
                if i + 1 < len(chunks):
                    assert sum(len(l) for _, l in lines) >= target > sum(len(l) for _, l in lines[:-1])


def test_a_chunk_changed_under_the_workers_is_refused(tmp_path):
    path = tmp_path / "s.jsonl"
    data = b'{"prompt": "a", "response": "b"}\n{"prompt": "c", "response": "d"}\n'
    path.write_bytes(data)
    (chunk,) = isotope.dask._chunks(str(path), data, 1 << 20)
    r = isotope.dask._Range(str(path), chunk, data)
    path.write_bytes(data.replace(b'"b"', b'"x"'))  # same size, other bytes
    with pytest.raises(OSError, match="other bytes"):
        r.lines()
    path.unlink()
    with pytest.raises(OSError, match="cannot read"):
        r.lines()


def test_shipped_and_worker_read_chunks_give_the_same_audit(data, cluster):
    d = data["dir"]
    client = distributed.Client(cluster, set_as_default=False)
    try:
        runs = [isotope.dask.audit_closed(client, data["k1"], str(d / "suspect_mixed.jsonl"),
                                          str(d / "teacher.jsonl"), control=3, control_seed=SEED, chunk_bytes=2000,
                                          read_on_workers=how) for how in (True, False)]
        _same(runs[0], runs[1])
        assert runs[0]["log10_p"] < -4
        opened = [isotope.dask.audit_open(client, data["k1"], str(d / "teacher.jsonl"), str(d / "preds.jsonl"),
                                          control=2, control_seed=SEED, chunk_bytes=3000, read_on_workers=how)
                  for how in (True, False)]
        _same(opened[0], opened[1])
        # A path the workers cannot see (a pipe of this process) is refused when reading on the workers is
        # required, and shipped otherwise.
        for how in (True, None):
            rfd, wfd = os.pipe()
            os.write(wfd, b"".join((d / "suspect.jsonl").read_bytes().splitlines(keepends=True)[:10]))
            os.close(wfd)
            try:
                if how:
                    with pytest.raises(isotope.dask.UsageError, match="every worker"):
                        isotope.dask.audit_closed(client, data["k1"], "/dev/fd/%d" % rfd, control=0,
                                                  read_on_workers=how)
                else:
                    r = isotope.dask.audit_closed(client, data["k1"], "/dev/fd/%d" % rfd, control=0)
                    assert r["scored"] > 0
            finally:
                os.close(rfd)
    finally:
        client.close()


def test_many_chunks_on_both_workers_match_one_machine(cli, data, cluster):
    # Small chunks spread the records over both workers, so that step 2 runs in two rounds (each worker's
    # run of chunks on its own, then the duplicates across runs dropped): every count and p-value still
    # equals the single machine's.
    d = data["dir"]
    prof = isotope.Profile()

    def same_numbers(r, one):
        assert r["scored"] == one["scored"] and r["tokens"] == one["tokens"]
        for mine, theirs in (("duplicate", "duplicate"), ("prompt", "prompt"), ("filter", "filter"),
                             ("short", "short_context")):
            assert r.get("skipped_" + mine, 0) == one["skipped"][theirs], mine
        assert r["log10_p"] == one["log10_p"]
        ctl = [isotope._core._result_from_statistic(prof, s, r["scored"])["log10_p"] for s in r["control_statistics"]]
        assert ctl == one["control"]["log10_p"]

    closed = _json(cli, "audit", "-q", "--key", data["k1"], "--suspect", d / "suspect_mixed.jsonl", "--teacher",
                   d / "teacher.jsonl", "--control", 4, "--control-seed", SEED, "--json")
    opened = _json(cli, "audit", "-q", "--mode", "open", "--key", data["k1"], "--teacher", d / "teacher.jsonl",
                   "--predictions", d / "preds.jsonl", "--control", 4, "--control-seed", SEED, "--json")
    assert closed["skipped"]["duplicate"] > 0 and closed["skipped"]["filter"] > 0
    client = distributed.Client(cluster, set_as_default=False)
    try:
        for chunk in (1500, 7000):
            r = isotope.dask.audit_closed(client, data["k1"], str(d / "suspect_mixed.jsonl"), str(d / "teacher.jsonl"),
                                          control=4, control_seed=SEED, chunk_bytes=chunk)
            same_numbers(r, closed)
            r = isotope.dask.audit_open(client, data["k1"], str(d / "teacher.jsonl"), str(d / "preds.jsonl"),
                                        control=4, control_seed=SEED, chunk_bytes=chunk)
            same_numbers(r, opened)
    finally:
        client.close()


def test_a_kept_set_travels_as_nothing_and_is_built_again():
    # Two runs of one partition (context width 2) that share a tuple: the later copy is dropped whichever
    # run is local, with the local run's set kept from its admission, or after it was pickled (as when a
    # task moves to another worker), when the set is built again from the run's tuples.
    import pickle

    import numpy as np

    prof = isotope.Profile()
    u32 = lambda v: np.asarray(v, dtype=np.uint32)

    def chunk(windows, tokens):
        n = len(tokens)
        return (u32(windows), u32(tokens), u32([0] * n), u32(range(n)))

    runs = [chunk([1, 2, 4, 5, 7, 8], [3, 6, 9]), chunk([4, 5, 1, 1], [6, 2])]
    admitted = [isotope._core._shard_admit(prof, [c], np.zeros(1, dtype=np.uint64), None, True, keep_seen=True)
                for c in runs]
    for local in (0, 1):
        seen = admitted[local]["seen"]
        assert seen.kept
        travelled = pickle.loads(pickle.dumps(seen))
        assert not travelled.kept
        keys = [(a["windows"], a["tokens"]) for a in admitted]
        for s in (seen, travelled, None):
            keep, dropped = isotope._core._shard_dedup_runs(prof, keys, local, s)
            assert [k.tolist() for k in keep] == [[1, 1, 1], [0, 1]] and dropped == 1
