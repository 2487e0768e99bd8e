"""isotope.dask -- audits and corpus scans on a Dask cluster.

The scheduler and the workers are Dask's own (``distributed``); every
computation that ends up in a number runs in the C++ library on the workers
(``isotope._core``, see ``include/isotope/shard.hpp``):

* ``audit_closed`` / ``audit_open``: the suspect's (window, token) tuples and
  the teacher's filter windows are routed to partitions by a hash of the
  window, so that each tuple's fate (prompt exclusion, filter, deduplication)
  is decided as on one machine: each worker's run of chunks applies the rules
  to its own tuples, then each partition's home worker finds the tuples an
  earlier run admitted too, from their keys alone; each run scores the
  tuples that stay under the provider's key and every control key, and the
  sums are added up. The result has the same counts and the same p-values as
  ``isotope audit`` on one machine (docs/scale.md).
* ``detect_corpus``: detection over sharded JSONL files, one result per
  record, with a Holm-corrected summary.

``isotope audit --scheduler ADDRESS`` and ``isotope detect --scheduler
ADDRESS`` run ``python3 -m isotope.dask`` and print the same JSON as without
a cluster. The key is sent to the workers inside the tasks (it is never
written to their disks nor logged: its parcel pickles to 32 bytes and shows
nothing); use a TLS scheduler address (``tls://``) on a network you do not
trust.
"""

import hashlib
import json
import math
import os
import sys
import threading

import numpy as np

from . import _core

__all__ = ["InputError", "UsageError", "ClusterError", "audit_closed", "audit_open", "detect_corpus", "holm"]


class InputError(ValueError):
    """Bad input data (exit code 5 of the command line)."""


class UsageError(ValueError):
    """A bad combination of options (exit code 2)."""


class ClusterError(RuntimeError):
    """The cluster could not be reached or used (exit code 8)."""


# ---- reading JSONL as the command line does ------------------------------------

def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError('the key "%s" occurs twice in one object (which one counts would be a guess)' % k)
        d[k] = v
    return d


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def _parse_line(line, where):
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("%s: not valid UTF-8" % where) from None
    if "\0" in text:
        raise InputError("%s: holds a NUL byte" % where)
    try:
        j = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError as e:
        raise InputError("%s: invalid JSON: %s" % (where, e)) from None
    if not isinstance(j, dict):
        raise InputError("%s: a JSON %s, not an object" % (where, type(j).__name__))
    return j


def _string_field(j, name, where):
    v = j.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise InputError('%s: field "%s" is not a string' % (where, name))
    return v


def _id_array(j, field, where, vocab):
    v = j.get(field)
    if not isinstance(v, list):
        raise InputError('%s: field "%s" must be an array of token ids' % (where, field))
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int) or x < 0 or x > 0xFFFFFFFF:
            raise InputError('%s: "%s"[%d] is not a token id (an integer >= 0)' % (where, field, i))
        if x >= vocab:
            raise InputError('%s: token id %d at "%s"[%d] is not below the vocabulary size %d'
                             % (where, x, field, i, vocab))
    return v


def _id_record(j, where, vocab):
    """(prompt_ids or None, ids), or None when the record holds text."""
    has_ids, has_resp, has_prompt = "ids" in j, "response_ids" in j, "prompt_ids" in j
    if not (has_ids or has_resp or has_prompt):
        return None
    if has_ids and (has_resp or has_prompt):
        raise InputError('%s: give either "ids" or "prompt_ids"/"response_ids", not both' % where)
    if has_prompt and not has_resp:
        raise InputError('%s: "prompt_ids" without "response_ids"' % where)
    if vocab == 0:
        raise UsageError("%s: token ids are read against the provider's tokenizer: give --tokenizer FILE "
                         "(or, for detect, --vocab-size V)" % where)
    for f in ("text", "prompt", "response"):
        if f in j:
            raise InputError('%s: a record holds either text or token ids, not both ("%s")' % (where, f))
    ids = _id_array(j, "ids" if has_ids else "response_ids", where, vocab)
    prompt = _id_array(j, "prompt_ids", where, vocab) if has_prompt else None
    return prompt, ids


def _suspect_record(j, where, vocab):
    r = _id_record(j, where, vocab)
    if r is not None:
        return (r[0] if r[0] is not None else [], r[1]), True
    response = _string_field(j, "response", where)
    if response is None:
        raise InputError('%s: no "response" field (each line is {"prompt": ..., "response": ...})' % where)
    return (_string_field(j, "prompt", where), response), False


def _teacher_text(j, where, vocab):
    r = _id_record(j, where, vocab)
    if r is not None:
        return r[1], True
    t = _string_field(j, "response", where)
    if t is None:
        t = _string_field(j, "text", where)
    if t is None:
        raise InputError('%s: no "response", "text", "ids" or "response_ids" field' % where)
    return t, False


def _detect_record(j, where, vocab):
    r = _id_record(j, where, vocab)
    if r is not None:
        return r, True
    text, prompt = _string_field(j, "response", where), _string_field(j, "prompt", where)
    if text is None:
        text, prompt = _string_field(j, "text", where), None
    if text is None:
        raise InputError('%s: no "text" or "response" field' % where)
    return (prompt, text), False


def _read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise OSError("cannot read '%s': %s" % (path, e.strerror)) from None


class _Chunk:
    """The non-blank lines of one chunk of a JSONL file: iterated, [(line number, bytes)], each line cut
    from the file's bytes only then; len() is their number. Where the chunk lies in the file: bytes
    [offset, offset + length), its first line numbered `first`."""

    __slots__ = ("_data", "_lines", "offset", "length", "first")

    def __init__(self, data, lines, offset, length, first):
        self._data, self._lines = data, lines  # lines: (line index, start, end) of each non-blank line
        self.offset, self.length, self.first = offset, length, first

    def __len__(self):
        return len(self._lines[0])

    def __iter__(self):
        d = self._data
        for i, a, b in zip(*(x.tolist() for x in self._lines)):
            yield i + 1, d[a:b]


_BLOCK = 1 << 26  # bytes scanned for line ends at a time (bounds the scan's temporary memory)


def _chunks(path, data, target_bytes):
    """Non-blank lines of a JSONL file, cut at line ends into chunks of about target_bytes (a list of
    _Chunk); record numbers follow from the chunk sizes. Lines are split at b"\n" as bytes.split does; a
    line is blank when only spaces, tabs and carriage returns are left; a chunk ends after the first
    non-blank line that brings its non-blank lines' bytes to target_bytes. The line ends are found by numpy
    (without Python's lock), so that cutting a large file does not hold up the threads beside it."""
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = [np.flatnonzero(arr[i:i + _BLOCK] == 10) + i for i in range(0, len(arr), _BLOCK)]
    nl = np.concatenate(nl) if nl else np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(data)]))
    length = ends - starts
    nonblank = length > 0
    filled = np.flatnonzero(nonblank)
    head = arr[starts[filled]]
    for i in filled[(head == 32) | (head == 9) | (head == 13)].tolist():  # rare: decided line by line
        nonblank[i] = bool(data[starts[i]:ends[i]].strip(b" \t\r"))
    size = np.cumsum(np.where(nonblank, length, 0))
    out, lo, n = [], 0, len(starts)
    while lo < n:
        base = int(size[lo - 1]) if lo > 0 else 0
        hi = int(np.searchsorted(size, base + max(int(target_bytes), 1), side="left"))
        last = hi >= n
        if last:
            hi = n - 1
        idx = lo + np.flatnonzero(nonblank[lo:hi + 1])
        if len(idx):
            stop = len(data) if last else min(int(ends[hi]) + 1, len(data))
            out.append(_Chunk(data, (idx, starts[idx], ends[idx]), int(starts[lo]), stop - int(starts[lo]), lo + 1))
        lo = hi + 1
    return out


class _Range:
    """A chunk that a worker reads from the file itself (a file system the client and the workers share):
    the chunk's place in the file, its BLAKE2b-256 digest and its number of records, both checked by the
    worker, so that every worker scores exactly the bytes the client read."""

    __slots__ = ("path", "offset", "length", "first", "digest", "records")

    def __init__(self, path, chunk, data):
        self.path, self.offset, self.length, self.first = path, chunk.offset, chunk.length, chunk.first
        view = memoryview(data)[chunk.offset:chunk.offset + chunk.length]  # no copy
        self.digest = hashlib.blake2b(view, digest_size=32).digest()
        self.records = len(chunk)

    def __getstate__(self):
        return (self.path, self.offset, self.length, self.first, self.digest, self.records)

    def __setstate__(self, st):
        self.path, self.offset, self.length, self.first, self.digest, self.records = st

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(self.length)
        except OSError as e:
            raise OSError("a worker cannot read '%s': %s" % (self.path, e.strerror)) from None
        if hashlib.blake2b(data, digest_size=32).digest() != self.digest:
            raise OSError("a worker read other bytes of '%s' (offset %d, %d bytes) than the client: the file "
                          "changed during the run, or the worker sees another file at that path"
                          % (self.path, self.offset, self.length))
        out = [(n, line) for n, line in enumerate(data.split(b"\n"), start=self.first) if line.strip(b" \t\r")]
        assert len(out) == self.records  # same bytes, same cut: the digest guarantees it
        return out


def _lines(chunk):
    """A task's lines: the shipped list itself, or those of a _Range read on the worker."""
    return chunk.lines() if isinstance(chunk, _Range) else chunk


def _file_size(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size if os.path.isfile(path) else None


def _ranges(path, data, chunks, read_on_workers):
    """Each chunk's _Range (its place and digest), computed before the client is connected, or None when
    the workers are never to read the file themselves (read_on_workers False)."""
    if read_on_workers is False:
        return None
    apath = os.path.abspath(path)
    return [_Range(apath, c, data) for c in chunks]


def _shippable(client, path, data, chunks, read_on_workers, ranges=None):
    """What the tasks get for each chunk: a _Range when every worker sees `path` at the same size as the
    client (read_on_workers None: find out; True: require it; False: never), else the lines themselves.
    ranges: the chunks' _Range if already computed (_ranges)."""
    if read_on_workers is None or read_on_workers:
        sizes = client.run(_file_size, os.path.abspath(path))
        seen = bool(sizes) and all(s == len(data) for s in sizes.values())
        if read_on_workers and not seen:
            raise UsageError("read_on_workers: not every worker sees '%s' at the same path with the same size"
                             % path)
        if seen:
            return ranges if ranges is not None else _ranges(path, data, chunks, read_on_workers)
    return [list(c) for c in chunks]


def _documents(path, data):
    """A plain-text file's documents: blocks separated by blank lines."""
    docs, doc = [], []
    for line in data.decode("utf-8").split("\n"):
        if not line.strip(" \t\r"):
            if doc:
                docs.append("\n".join(doc))
            doc = []
        else:
            doc.append(line)
    if doc:
        docs.append("\n".join(doc))
    return docs


# ---- worker side ---------------------------------------------------------------------

_TOKENIZERS = {}


def _tokenizer(path, sha256=""):
    """The tokenizer, loaded once per worker process; `sha256`, if given, must be its file's hash (every
    worker must tokenize with the same file as the client)."""
    tok = _TOKENIZERS.get(path)
    if tok is None:
        tok = _core.Tokenizer(path if path else None)
        _TOKENIZERS[path] = tok
    if sha256 and tok.sha256 != sha256:
        raise UsageError("the tokenizer '%s' on this worker differs from the client's (SHA-256 %s, expected %s)"
                         % (path, tok.sha256, sha256))
    return tok


def _records(cfg, path, lines, read):
    """A chunk's records, each JSON line read by `read` (_suspect_record, _teacher_text), a plain-text
    document (a str) as it is; and whether any record held token ids."""
    items, ids_given = [], False
    for n, line in _lines(lines):
        if isinstance(line, str):
            items.append(line)
            continue
        where = "%s:%d" % (path, n)
        item, ids = read(_parse_line(line, where), where, cfg["id_vocab"])
        items.append(item)
        ids_given |= ids
    return items, ids_given


def _w_closed(cfg, path, lines, parts):
    recs, ids_given = _records(cfg, path, lines, _suspect_record)
    tok = _tokenizer(cfg["tokenizer"], cfg["tokenizer_sha256"])
    counts, routed = _core._shard_closed(tok, cfg["normalize"], tok.vocab_size, cfg["profile"], recs,
                                         cfg["prompt_exclusion"], parts)
    first = _first_ids(tok, cfg, recs[0][1]) if cfg["want_first"] else None  # the sample's tokens
    return counts, routed, ids_given, first


def _first_ids(tok, cfg, item):
    if not isinstance(item, str):
        return list(item)
    return _core._encode_normalized(tok, cfg["normalize"], item)


def _w_open(cfg, path, lines, preds, parts):
    texts, ids_given = _records(cfg, path, lines, _teacher_text)
    tok = _tokenizer(cfg["tokenizer"], cfg["tokenizer_sha256"])
    counts, routed = _core._shard_open(tok, cfg["normalize"], tok.vocab_size, cfg["profile"], texts, preds,
                                       cfg["dedup"], parts)
    first = _first_ids(tok, cfg, texts[0]) if cfg["want_first"] else None
    return counts, routed, ids_given, first


def _w_windows(cfg, path, lines, parts):
    texts, ids_given = _records(cfg, path, lines, _teacher_text)
    tok = _tokenizer(cfg["tokenizer"], cfg["tokenizer_sha256"])
    return _core._shard_windows(tok, cfg["normalize"], tok.vocab_size, cfg["profile"], texts, parts), ids_given


def _w_counts(*results):
    """The small part of step-1 results (counts, whether ids were given, the sample's tokens)."""
    return [(r[0], r[2], r[3]) for r in results]


def _w_admit(cfg, offsets, p, keep_seen, *results):
    """Partition p of a run of chunks: the step-1 results of its chunks (one per offset), then those of
    the filter's window tasks (every one, with the filter). keep_seen: keep the set of the admitted tuples
    ("seen") for the deduplication across runs (_w_dedup_runs) on this worker."""
    n = len(offsets)
    chunks = [r[1][p] for r in results[:n]]
    filt = [w[0][p] for w in results[n:]]
    a = _core._shard_admit(cfg["profile"], chunks, np.asarray(offsets, dtype=np.uint64),
                           filt if cfg["filter"] else None, cfg["dedup"], keep_seen=keep_seen)
    a["filter_ids_given"] = any(w[1] for w in results[n:])  # whether a filter text held token ids
    return a


def _w_keys(a):
    """What a run sends to a partition's home for the deduplication across runs: its admitted tuples' keys
    (not their order keys, which stay with the run)."""
    return a["windows"], a["tokens"]


def _w_dedup_runs(cfg, local, *runs):
    """Partition p's deduplication across runs, on its home worker (isotope::shard_dedup_runs): runs[local]
    is the home run's own _w_admit result, with the set of its tuples kept there, the others the keys of
    their tuples (_w_keys), the runs in record order. Returns each run's keep mask (uint8, one per admitted
    tuple; None where it keeps them all)."""
    own = runs[local]
    keys = [(own["windows"], own["tokens"]) if i == local else r for i, r in enumerate(runs)]
    # The kept set is used here only: released with this task (an empty one if it travelled: then built).
    keep, _ = _core._shard_dedup_runs(cfg["profile"], keys, local, own.pop("seen", None))
    return [None if k.all() else k for k in keep]


def _w_final(a, keep, k):
    """A piece (run k's admitted tuples of a partition): the order keys of the tuples that stay after the
    deduplication across runs (keep: the partition's _w_dedup_runs result; None for the first run, which
    loses no tuple across runs, with one run or without deduplication), checked to ascend (the
    checkpoints and spans are found by searching them), and its mask."""
    mask = keep[k] if keep is not None else None
    order = a["order"] if mask is None else a["order"][mask.view(bool)]
    return {"order": _ascending(order), "keep": mask}


def _w_summary(a, final, first_run, nrecords):
    """A piece's counts for the curve's plan and the result. A partition's filter windows are counted by
    the first run's piece (every run of the partition has the same)."""
    rec = (final["order"] >> np.uint64(32)).astype(np.int64)
    return {"skipped_filter": a["skipped_filter"],
            "skipped_duplicate": a["skipped_duplicate"] + len(a["order"]) - len(final["order"]),
            "filter_windows": a["filter_windows"] if first_run else 0, "scored": len(final["order"]),
            "filter_ids_given": a["filter_ids_given"],
            "per_record": np.bincount(rec, minlength=nrecords).astype(np.uint64)}


def _w_plan(curve_points, nrecords, *summaries):
    """Where the p-value curve is read: the number of tuples scored, the checkpoint ranks (1-based, in
    scoring order: records, then positions) and, for each, its record and its rank within the record; and
    the pieces' counts added up (the client needs only these, not the pieces' per-record counts)."""
    scored = sum(int(s["scored"]) for s in summaries)
    per_record = np.zeros(nrecords, dtype=np.uint64)
    for s in summaries:
        per_record += s["per_record"]
    ranks = _checkpoints(scored, curve_points) if curve_points > 0 else []
    cum = np.cumsum(per_record.astype(np.int64))
    where = []
    for k in ranks:
        r = int(np.searchsorted(cum, k, side="left"))
        before = int(cum[r - 1]) if r > 0 else 0
        where.append((r, k - before))
    counts = {k: sum(int(s[k]) for s in summaries) for k in ("skipped_filter", "skipped_duplicate", "filter_windows")}
    counts["filter_ids_given"] = any(s["filter_ids_given"] for s in summaries)
    return {"scored": scored, "ranks": ranks, "where": where, "records": sorted({r for r, _ in where}),
            "counts": counts}


def _ascending(order):
    """A piece's order keys, which _shard_admit gives in scoring order (ascending): checked once per piece
    (_w_final), since the checkpoints and spans are found by searching them."""
    if len(order) > 1 and bool(np.any(order[1:] < order[:-1])):
        raise ClusterError("a partition's tuples are not in scoring order")
    return order


def _w_positions(final, plan):
    """Each checkpoint record's order keys in this piece (a slice: the keys ascend)."""
    order = final["order"]
    out = {}
    for r in plan["records"]:
        lo, hi = np.searchsorted(order, np.asarray([r, r + 1], dtype=np.uint64) << np.uint64(32), side="left")
        out[r] = order[lo:hi]
    return out


def _w_cuts(plan, *found):
    """For each checkpoint the order key of the tuple at its rank: a tuple goes to the first checkpoint
    whose key is at least its own (_bins)."""
    cuts = []
    for r, o in plan["where"]:
        orders = np.sort(np.concatenate([f[r] for f in found]))
        cuts.append(orders[o - 1])
    return np.asarray(cuts, dtype=np.uint64)


def _spans(order, cuts):
    """Where each span of the curve ends in a piece's ascending order keys: a tuple belongs to the first
    checkpoint whose cut key is at least its own, so span b is [ends[b-1], ends[b]) (one span, the whole
    piece, without checkpoints)."""
    if len(cuts) == 0:
        return np.asarray([len(order)], dtype=np.int64)
    return np.searchsorted(order, cuts, side="right").astype(np.int64)


def _w_score(cfg, parcel, seed, control, a, final=None):
    """Step 3 for a piece: the score of each of its tuples that stay (final: its _w_final result, whose
    mask says which; None: every tuple, as for the first run, which holds the earliest records and so
    never loses a tuple across runs, and can score as soon as it has admitted them) under the key (row 0)
    and under control keys 0 .. control-1, kept where the piece lies until _w_bin adds them up by
    checkpoint. A cluster audit's scores are whole numbers from 0 to 32 (KGW: 0 or 1; SynthID: the g = 1
    among at most 32 layers, shard_sums_exact), so each takes one byte (isotope::shard_score_bytes)."""
    windows, tokens = a["windows"], a["tokens"]
    if final is not None and final["keep"] is not None:
        stay = final["keep"].view(bool)
        h = cfg["profile"].context_width
        tokens = tokens[stay]
        windows = windows.reshape(-1, h)[stay].ravel() if h > 0 else windows
    return _core._shard_score_bytes(parcel.key(), seed, control, cfg["profile"], windows, tokens,
                                    cfg["threads"])


def _w_bin(scores, final, cuts):
    """The sums of a piece's scores (those of the tuples that stay, _w_score) per span of the curve (each
    row: the key, then the controls), and the key's scores of the first record's tuples (the sample)."""
    order = final["order"]
    if scores.shape[1] != len(order):
        raise ClusterError("a piece's scores do not match the tuples that stay in it")
    ends = _spans(order, cuts)
    if ends[-1] != len(order):
        raise ClusterError("a partition holds tuples past the curve's last checkpoint")
    starts = np.concatenate(([0], ends[:-1]))
    sums = np.zeros((scores.shape[0], len(ends)))
    for b in np.flatnonzero(ends > starts):
        # Each span summed on its own (np.add.reduceat would first cast every score to the sum's type).
        sums[:, b] = scores[:, starts[b]:ends[b]].sum(axis=1, dtype=np.int64)
    first = int(np.searchsorted(order, np.uint64(1) << np.uint64(32), side="left"))  # record 0's tuples
    sample = ((order[:first] & np.uint64(0xFFFFFFFF)).astype(np.int64), scores[0][:first].astype(np.float64))
    return sums[0], sums[1:], sample


def _w_detect(cfg, parcel, path, lines):
    recs, names, ids_flags = [], [], []
    for n, line in _lines(lines):
        where = "%s:%d" % (path, n)
        rec, ids = _detect_record(_parse_line(line, where), where, cfg["id_vocab"])
        recs.append(rec)
        names.append(n)
        ids_flags.append(ids)
    tok = _tokenizer(cfg["tokenizer"], cfg["tokenizer_sha256"]) if cfg["has_tokenizer"] else None
    vocab = tok.vocab_size if tok is not None else cfg["id_vocab"]
    if tok is None:
        for (prompt, text), ids in zip(recs, ids_flags):
            if not ids:
                raise UsageError("text needs a tokenizer (--tokenizer); --vocab-size is for token ids")
    r = _core._detect_records(parcel.key(), tok, cfg["normalize"], vocab, cfg["profile"], recs, cfg["dedup"])
    r["line"] = np.asarray(names, dtype=np.uint64)
    r["input_ids"] = np.asarray(ids_flags, dtype=bool)
    r["prompt"] = np.asarray([p is not None for p, _ in recs], dtype=bool)
    return r


# ---- driver side ---------------------------------------------------------------------

def _submit(client, fn, *args, **kwargs):
    """client.submit from a frame of two lines: on every submit, distributed reads the source of the
    calling function to show it in its dashboard, which for a long function costs milliseconds each."""
    return client.submit(fn, *args, **kwargs)


def _client(scheduler):
    """A distributed.Client for an address, or the client given."""
    try:
        import distributed
    except ImportError:
        raise ClusterError("the Python module 'distributed' (Dask) is not installed "
                           "(Debian: python3-distributed)") from None
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    try:
        return distributed.Client(scheduler, timeout=float(os.environ.get("ISOTOPE_DASK_TIMEOUT", "10")),
                                  set_as_default=False), True
    except (OSError, TimeoutError) as e:
        raise ClusterError("cannot reach the Dask scheduler at '%s': %s" % (scheduler, e)) from None


def _workers(client):
    n = sum(client.nthreads().values())
    if n == 0:
        raise ClusterError("the Dask cluster has no workers")
    return n


def _checkpoints(total, points):
    """The ranks at which the p-value curve is read (the library's rule,
    isotope::curve_checkpoints)."""
    return list(_core._curve_checkpoints(total, points))


def _placement(client, n):
    """The worker of each of n chunks: contiguous runs of chunks per worker, in worker order, so that a
    worker's chunks follow each other in scoring order (step 2 deduplicates them where they lie)."""
    workers = sorted(client.scheduler_info()["workers"])
    return [workers[i * len(workers) // n] for i in range(n)]


def _audit(client, cfg, key, stage1, nrecords, window_tasks, control, control_seed, curve_points, parts):
    """Steps 2 and 3, submitted at once as one graph of tasks while step 1 runs: the client waits only for
    the final numbers. nrecords[i]: the records of chunk i (one per non-blank line, known from the cut).
    stage1 and window_tasks (lists of futures) are emptied: the client lets go of them."""
    offsets = [int(x) for x in np.cumsum([0] + list(nrecords))[:-1]]
    nrec = int(sum(nrecords))
    # Step 2. The chunks placed on one worker form a run (_placement: contiguous, the runs in record
    # order). Each run applies the rules to its own tuples of partition p where they lie (_w_admit). With
    # several runs, partition p's home (the worker of run p mod R) then decides which of them an earlier
    # run admitted too (_w_dedup_runs, from the keys alone: the home run's set is kept from its admission,
    # the others send their windows and tokens) and returns a mask to each later run. Exact: the filter
    # acts on whole tuples, so a tuple's first occurrence overall is the first of some run, and that one
    # survives its run. Only keys and masks move between workers. Step 3 (_w_score): the first run loses
    # no tuple across runs, so it scores its tuples as soon as it has admitted them; a later run scores
    # the tuples its mask keeps.
    workers = sorted(client.scheduler_info()["workers"])
    at = _placement(client, len(stage1))
    runs = [[i for i in range(len(stage1)) if at[i] == w] for w in workers]
    runs = [(w, r) for w, r in zip(workers, runs) if r]
    across = len(runs) > 1 and cfg["dedup"]
    parcel = _core._KeyParcel(key)

    # Every task on a piece runs where the piece lies; a worker first admits (and sends) what another
    # worker's deduplication waits for, then the rest, and scores in between.
    def on(w, priority=0):
        return {"workers": [w], "allow_other_workers": True, "priority": priority, "pure": False}

    pieces = []  # (run index, worker, admitted, final, scores)
    for p in range(parts):
        home = p % len(runs)
        admitted = []
        for k, (w, r) in enumerate(runs):
            # The run's step-1 results lie on this worker: no partition is cut out and moved first.
            args = [stage1[i] for i in r] + list(window_tasks or [])
            admitted.append(_submit(client, _w_admit, cfg, [offsets[i] for i in r], p, across and k == home, *args,
                                    **on(w, 3 if across and k != home else 2)))
        keep = None
        if across:
            keys = [a if k == home else _submit(client, _w_keys, a, **on(runs[k][0], 3))
                    for k, a in enumerate(admitted)]
            keep = _submit(client, _w_dedup_runs, cfg, home, *keys, **on(runs[home][0], 2))
        for k, a in enumerate(admitted):
            w = runs[k][0]
            # The first run never loses a tuple across runs: it needs no mask and scores at once; a later
            # run scores only the tuples that stay, once its mask is known.
            f = _submit(client, _w_final, a, keep if k > 0 else None, k, **on(w, 2))
            score = _submit(client, _w_score, cfg, parcel, control_seed, control, a, f if k > 0 else None, **on(w))
            pieces.append((k, w, a, f, score))
    # One task per run gathers its chunks' counts where they lie.
    s1 = [_submit(client, _w_counts, *[stage1[i] for i in r], **on(w)) for w, r in runs]
    summaries = [_submit(client, _w_summary, a, f, k == 0, nrec, **on(w, 2)) for k, w, a, f, _ in pieces]
    plan = _submit(client, _w_plan, curve_points, nrec, *summaries, pure=False)
    cuts = _submit(client, _w_cuts, plan, *[_submit(client, _w_positions, f, plan, **on(w, 2))
                                            for _, w, _, f, _ in pieces], pure=False)
    binned = [_submit(client, _w_bin, sc, f, cuts, **on(w)) for _, w, _, f, sc in pieces]
    # The client keeps only the futures it gathers: the others are released now (the caller's lists are
    # emptied too), so the scheduler does not report each of them to the client, and drops each result as
    # soon as the tasks that need it are done.
    del pieces, admitted, keep, args, a, f, score, summaries
    if across:
        del keys
    stage1.clear()
    if window_tasks:
        window_tasks.clear()
    s1, plan, cuts, binned = client.gather([s1, plan, cuts, binned])
    s1 = [c for run in s1 for c in run]  # in chunk order: the runs are contiguous and in order
    counts = {"records": 0, "tokens": 0, "skipped_short": 0, "skipped_prompt": 0, "skipped_duplicate": 0}
    ids_given = False
    for c, ids, _ in s1:
        for k in counts:
            counts[k] += c[k]
        ids_given |= ids
    if counts["records"] != nrec:
        raise ClusterError("the workers read %d records where the client counted %d" % (counts["records"], nrec))
    first_ids = s1[0][2]
    filter_ids_given = plan["counts"]["filter_ids_given"]
    ranks, scored = plan["ranks"], plan["scored"]
    nb = max(len(cuts), 1)
    sums = np.zeros(nb)
    csums = np.zeros((control, nb))
    for s, c, _ in binned:
        sums += s  # whole numbers (shard_sums_exact): the same in every order
        csums += c
    sample_len = len(first_ids) if first_ids is not None else 0
    sample = [None] * sample_len
    for _, _, smp in binned:
        if smp is not None:
            for pos, v in zip(smp[0].tolist(), smp[1].tolist()):
                sample[pos] = v
    out = dict(counts)
    out["skipped_filter"] = plan["counts"]["skipped_filter"]
    out["skipped_duplicate"] += plan["counts"]["skipped_duplicate"]
    out["filter_windows"] = plan["counts"]["filter_windows"]
    out["scored"] = scored
    out["statistic"] = float(sums.sum())
    out["control_statistics"] = [float(x) for x in csums.sum(axis=1)] if control > 0 else []
    out["curve"] = {"scored": ranks, "statistic": [float(x) for x in np.cumsum(sums)[:len(ranks)]],
                    "controls_statistic": [[float(x) for x in np.cumsum(row)[:len(ranks)]] for row in csums]}
    out["sample_ids"] = [int(x) for x in first_ids] if first_ids is not None else []
    out["sample_mask"] = sample
    out["input_ids"] = bool(ids_given or filter_ids_given)
    return out


def _profile_dict(profile):
    """A profile as keyword arguments of isotope.Profile (profiles travel to the workers in this form)."""
    return dict(profile.params, scheme=profile.scheme, context_width=profile.context_width)


class _Config(dict):
    """A task's settings; "profile" is rebuilt on the worker from its keyword form."""

    def __getitem__(self, k):
        if k == "profile":
            p = dict.get(self, "_profile")
            if p is None:
                p = _core.Profile(**dict.__getitem__(self, "profile_kw"))
                dict.__setitem__(self, "_profile", p)
            return p
        return dict.__getitem__(self, k)

    def __reduce__(self):
        return (_Config, ({k: v for k, v in self.items() if k != "_profile"},))


def _config(profile, tokenizer, normalize, id_vocab, tokenizer_sha256="", **extra):
    profile = profile if profile is not None else _core.Profile()
    cfg = {"profile_kw": _profile_dict(profile), "tokenizer": tokenizer or "",
           "normalize": normalize or None, "id_vocab": id_vocab, "tokenizer_sha256": tokenizer_sha256}
    cfg.update(extra)
    return _Config(cfg)


def _check_exact(profile):
    if not _core._shard_sums_exact(profile):
        raise UsageError("a cluster audit adds up per-partition sums of scores, which is exact only for schemes "
                         "whose scores are whole numbers (kgw, synthid); audit the %s scheme on one machine"
                         % profile.scheme)


def _start_audit(scheduler, profile, control_seed):
    """What both audits begin with: the profile (the default one if None; refused unless its sums are exact
    on a cluster), the control seed (fresh if None), and the connection to the cluster, made on a thread
    (_Connect) while the caller reads its input files."""
    profile = profile if profile is not None else _core.Profile()
    _check_exact(profile)
    if control_seed is None:
        control_seed = os.urandom(32)
    return profile, control_seed, _Connect(scheduler)


class _Connect:
    """A distributed.Client for `scheduler` (an address or a client, as _client), made on a thread: importing
    distributed and the handshake with the scheduler take a few tenths of a second, in which the caller reads
    and cuts its input files. get() waits for it; close() closes it if it is ours (even after an error)."""

    def __init__(self, scheduler):
        self._client, self._own, self._error = None, False, None
        self._thread = threading.Thread(target=self._run, args=(scheduler,), daemon=True)
        self._thread.start()

    def _run(self, scheduler):
        try:
            self._client, self._own = _client(scheduler)
        except BaseException as e:  # raised again by get(), in the caller's thread
            self._error = e

    def get(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._client

    def close(self):
        self._thread.join()
        if self._own and self._client is not None:
            self._client.close()


def audit_closed(scheduler, key, suspect, teacher=None, profile=None, tokenizer=None, normalize=None,
                 control=20, control_seed=None, dedup=True, prompt_exclusion=True, curve_points=50,
                 id_vocab=0, chunk_bytes=1 << 20, parts=None, threads=1, tokenizer_sha256="", read_on_workers=None):
    """A closed-model audit on a Dask cluster.

    scheduler: a scheduler address ("tcp://host:8786") or a distributed.Client.
    key: an isotope.Key or a key file path. suspect: JSONL path ({"prompt", "response"} or token-id
    records); teacher: the filter's data (JSONL or plain text path) or None. control: control keys,
    derived from control_seed (32 bytes or 64 hex digits) as isotope::audit_control_key does.
    id_vocab: the vocabulary token-id records are read against (0: refuse them).
    read_on_workers: None (default) lets each worker read its chunks of the input files itself when every
    worker sees them at the same path with the same size (a shared file system), checking each chunk's
    digest, and has the client send the bytes otherwise; True requires the former, False forces the latter.
    Returns a dict of counts and sums (statistic, control_statistics, curve, sample) from which
    ``isotope audit`` composes its JSON; ``log10_p`` is added for convenience.
    """
    profile, control_seed, connect = _start_audit(scheduler, profile, control_seed)
    try:
        cfg = _config(profile, tokenizer, normalize, id_vocab, tokenizer_sha256, prompt_exclusion=prompt_exclusion,
                      dedup=dedup, filter=teacher is not None, threads=threads)
        # The inputs are read and cut while the client connects.
        data = _read_bytes(suspect)
        chunks = _chunks(suspect, data, chunk_bytes)
        if not chunks:
            raise InputError("'%s' holds no suspect records" % suspect)
        ranges = _ranges(suspect, data, chunks, read_on_workers)
        teacher_data = _teacher_chunks(teacher, chunk_bytes, read_on_workers) if teacher is not None else None
        client = connect.get()
        parts = parts or 2 * _workers(client)
        shipped = _shippable(client, suspect, data, chunks, read_on_workers, ranges)
        del data
        window_tasks = None
        if teacher is not None:
            window_tasks = _window_tasks(client, cfg, teacher, teacher_data, parts, read_on_workers)
            del teacher_data
        at = _placement(client, len(shipped))
        stage1 = [_submit(client, _w_closed, _Config(cfg, want_first=(i == 0)), suspect, c, parts, pure=False,
                          workers=[at[i]], allow_other_workers=True) for i, c in enumerate(shipped)]
        out = _audit(client, cfg, key, stage1, [len(c) for c in chunks], window_tasks, control, control_seed,
                     curve_points, parts)
        if teacher is not None and out["filter_windows"] == 0:
            raise InputError("the teacher data hold no context window: the filter would drop everything")
        out["log10_p"] = _core._result_from_statistic(profile, out["statistic"], out["scored"])["log10_p"]
        return out
    finally:
        connect.close()


def _teacher_chunks(teacher, chunk_bytes, read_on_workers):
    """The filter's data read and cut: (bytes, chunks, the chunks' _Range or None); plain text is cut into
    chunks of whole documents, which are sent as they are (no _Range)."""
    data = _read_bytes(teacher)
    if teacher.endswith(".jsonl") or teacher.endswith(".json"):
        chunks = _chunks(teacher, data, chunk_bytes)
        return data, chunks, _ranges(teacher, data, chunks, read_on_workers) if chunks else None
    chunks, cur, size = [], [], 0
    for d in _documents(teacher, data):
        cur.append((0, d))
        size += len(d)
        if size >= chunk_bytes:
            chunks.append(cur)
            cur, size = [], 0
    if cur:
        chunks.append(cur)
    return data, chunks, None


def _window_tasks(client, cfg, teacher, teacher_data, parts, read_on_workers):
    data, chunks, ranges = teacher_data
    if chunks and (teacher.endswith(".jsonl") or teacher.endswith(".json")):
        chunks = _shippable(client, teacher, data, chunks, read_on_workers, ranges)
    if not chunks:
        raise InputError("'%s' holds no teacher texts" % teacher)
    # Spread over the workers by hand, ahead of step 1 on each (priority): every partition's deduplication
    # needs all of them, and a run of chunks can then start its own as soon as its chunks are done.
    workers = sorted(client.scheduler_info()["workers"])
    return [_submit(client, _w_windows, cfg, teacher, c, parts, pure=False, workers=[workers[i % len(workers)]],
                    priority=1, allow_other_workers=True) for i, c in enumerate(chunks)]


def audit_open(scheduler, key, teacher, predictions, profile=None, tokenizer=None, normalize=None, control=20,
               control_seed=None, dedup=True, curve_points=50, id_vocab=0, chunk_bytes=1 << 20, parts=None,
               threads=1, tokenizer_sha256="", read_on_workers=None):
    """An open-model (reading mode) audit on a Dask cluster: teacher is the JSONL of watermarked texts fed
    to the suspect, predictions the PREDS.jsonl of its top-1 predictions (one line per teacher text).
    Arguments and result as audit_closed."""
    profile, control_seed, connect = _start_audit(scheduler, profile, control_seed)
    try:
        cfg = _config(profile, tokenizer, normalize, id_vocab, tokenizer_sha256, dedup=dedup, filter=False,
                      threads=threads)
        if not (teacher.endswith(".jsonl") or teacher.endswith(".json")):
            raise UsageError("a cluster audit reads the teacher texts from JSONL (.jsonl)")
        # The inputs are read and cut while the client connects.
        data = _read_bytes(teacher)
        chunks = _chunks(teacher, data, chunk_bytes)
        if not chunks:
            raise InputError("'%s' holds no teacher texts" % teacher)
        preds = _read_predictions(predictions)
        nrec = sum(len(c) for c in chunks)
        if len(preds) != nrec:
            raise InputError("'%s' has %d prediction lines, but the teacher data hold %d texts (need one line "
                             "per teacher text, in order)" % (predictions, len(preds), nrec))
        ranges = _ranges(teacher, data, chunks, read_on_workers)
        client = connect.get()
        parts = parts or 2 * _workers(client)
        shipped = _shippable(client, teacher, data, chunks, read_on_workers, ranges)
        del data
        stage1, at, where = [], 0, _placement(client, len(shipped))
        for i, (c, sc) in enumerate(zip(chunks, shipped)):
            stage1.append(_submit(client, _w_open, _Config(cfg, want_first=(i == 0)), teacher, sc,
                                        preds[at:at + len(c)], parts, pure=False, workers=[where[i]],
                                        allow_other_workers=True))
            at += len(c)
        out = _audit(client, cfg, key, stage1, [len(c) for c in chunks], None, control, control_seed,
                     curve_points, parts)
        out["log10_p"] = _core._result_from_statistic(profile, out["statistic"], out["scored"])["log10_p"]
        return out
    finally:
        connect.close()


def _read_predictions(path):
    preds = []
    for lines in _chunks(path, _read_bytes(path), 1 << 62):
        for n, line in lines:
            where = "%s:%d" % (path, n)
            j = _parse_line(line, where)
            p = j.get("predictions")
            if not isinstance(p, list):
                raise InputError('%s: no "predictions" array' % where)
            for i, v in enumerate(p):
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise InputError("%s: entry %d is not a non-negative integer token id" % (where, i))
            preds.append(np.asarray(p, dtype=np.uint32))
    return preds


def holm(log10_p, alpha):
    """Holm's step-down procedure over exact p-values given as log10, at family-wise error rate alpha
    (isotope::holm): (how many are rejected, the Holm-adjusted log10 p-values in input order)."""
    return _core.holm(list(log10_p), alpha)


def detect_corpus(scheduler, key, paths, profile=None, tokenizer=None, normalize=None, dedup=True, vocab_size=0,
                  chunk_bytes=1 << 20, id_vocab=None, tokenizer_sha256="", read_on_workers=None):
    """Detection over JSONL files (shards of a corpus), each record on its own, as ``isotope detect
    --jsonl``. Yields, in input order, (path, line number, counts dict) per record; the counts hold
    tokens, scored, statistic, skipped_short, skipped_duplicate, skipped_prompt, input_ids, prompt.
    vocab_size: read token-id records without a tokenizer (then text records are refused).
    read_on_workers: as in audit_closed."""
    profile = profile if profile is not None else _core.Profile()
    client, own = _client(scheduler)
    try:
        _workers(client)
        if id_vocab is None:  # as the command: ids need --vocab-size or a tokenizer named explicitly
            id_vocab = vocab_size if vocab_size else (_core.Tokenizer(tokenizer).vocab_size if tokenizer else 0)
        cfg = _config(profile, tokenizer, normalize, id_vocab, tokenizer_sha256, dedup=dedup,
                      has_tokenizer=vocab_size == 0)
        parcel = _core._KeyParcel(key)
        for path in paths:
            data = _read_bytes(path)
            chunks = _chunks(path, data, chunk_bytes)
            if not chunks:
                raise InputError("'%s' holds no JSON lines" % path)
            chunks = _shippable(client, path, data, chunks, read_on_workers)
            del data
            # A bounded window of chunks in flight: results are yielded in order.
            futures = [_submit(client, _w_detect, cfg, parcel, path, c, pure=False) for c in chunks[:4]]
            nxt = len(futures)
            while futures:
                r = futures.pop(0).result()
                if nxt < len(chunks):
                    futures.append(_submit(client, _w_detect, cfg, parcel, path, chunks[nxt], pure=False))
                    nxt += 1
                for i in range(len(r["line"])):
                    yield path, int(r["line"][i]), {
                        "tokens": int(r["tokens"][i]), "scored": int(r["scored"][i]),
                        "statistic": float(r["statistic"][i]), "skipped_short": int(r["skipped_short"][i]),
                        "skipped_duplicate": int(r["skipped_duplicate"][i]),
                        "skipped_prompt": int(r["skipped_prompt"][i]), "input_ids": bool(r["input_ids"][i]),
                        "prompt": bool(r["prompt"][i])}
    finally:
        if own:
            client.close()


# ---- the command line's helper: python3 -m isotope.dask {audit|detect} < request.json ----

EXIT = {"usage": 2, "io": 3, "key": 4, "input": 5, "cluster": 8}
# The exit code of each kind of error, the first match in this order. A ValueError from the library means
# the data are at fault.
_EXIT_OF = ((UsageError, "usage"), (InputError, "input"), (ClusterError, "cluster"), (PermissionError, "key"),
            (OSError, "io"), (ValueError, "input"))
_ERRORS = tuple(kind for kind, _ in _EXIT_OF)


def _profile_from(j):
    """A profile in the form the command records in its options (profile_options_json)."""
    return _core.Profile(**j)


def _main(argv):
    if len(argv) != 2 or argv[1] not in ("audit", "detect"):
        sys.stderr.write("usage: python3 -m isotope.dask {audit|detect} < REQUEST.json "
                         "(run by 'isotope audit/detect --scheduler')\n")
        return EXIT["usage"]
    req = json.loads(sys.stdin.read())
    profile = _profile_from(req["profile"])
    try:
        if argv[1] == "audit":
            common = dict(profile=profile, tokenizer=req["tokenizer"], tokenizer_sha256=req["tokenizer_sha256"],
                          normalize=req["normalize"] or None,
                          control=req["control"], control_seed=bytes.fromhex(req["control_seed"]),
                          dedup=req["dedup"], curve_points=req["curve_points"], id_vocab=req["id_vocab"])
            if req["mode"] == "closed":
                out = audit_closed(req["scheduler"], req["key"], req["suspect"], req["teacher"] or None,
                                   prompt_exclusion=req["prompt_exclusion"], **common)
            else:
                out = audit_open(req["scheduler"], req["key"], req["teacher"], req["predictions"], **common)
            sys.stdout.write(json.dumps(out) + "\n")
        else:
            for path, line, r in detect_corpus(req["scheduler"], req["key"], req["inputs"], profile=profile,
                                               tokenizer=req["tokenizer"], normalize=req["normalize"] or None,
                                               dedup=req["dedup"], vocab_size=req["vocab_size"],
                                               id_vocab=req["id_vocab"], tokenizer_sha256=req["tokenizer_sha256"]):
                r["path"], r["line"] = path, line
                sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()
        return 0
    except _ERRORS as e:
        sys.stderr.write("isotope: %s\n" % e)
        return next(EXIT[what] for kind, what in _EXIT_OF if isinstance(e, kind))
    except Exception as e:  # anything else the cluster raised (a worker lost, out of memory, ...)
        sys.stderr.write("isotope: the cluster run failed: %s: %s\n" % (type(e).__name__, e))
        return EXIT["cluster"]


if __name__ == "__main__":
    # Run as `python3 -m isotope.dask`, this file is the module __main__, whose functions Dask would send to
    # the workers by value with every task (and with them fresh copies of this module's caches, such as the
    # loaded tokenizers). The importable module's own functions travel by name.
    from isotope.dask import _main as _imported_main

    code = _imported_main(sys.argv)
    # The answer is written and the client closed: leave without the interpreter's teardown (Dask's threads
    # and finalizers take a tenth of a second or more), which the command would wait for.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
