"""A battery of hostile inputs through the command line and the Python API:
every one must end in the right result or a clear error with a documented
exit code (never a crash, a hang, an internal error or a lost file), and a
result given must be a sane one."""

import hashlib
import json
import math
import os
import subprocess

import numpy as np
import pytest

import isotope

# Exit codes a command may end with on bad input (docs/cli.md): never 1
# (internal error) nor a signal.
INPUT_CODES = {0, 2, 3, 4, 5, 6, 7, 10, 11, 13, 14, 15}


def hostile_texts():
    """(name, bytes): text-like inputs an adversary or an accident produces."""
    t = {}
    t["empty"] = b""
    t["newline"] = b"\n"
    t["spaces"] = b"   \t \r\n  \n"
    t["nul"] = b"abc\x00def"
    t["nul-only"] = b"\x00"
    t["nul-line"] = b'{"text": "a"}\n\x00\n{"text": "b"}\n'
    t["invalid-utf8"] = b"caf\xc3\x28 \xff\xfe"
    t["overlong"] = b"\xc0\xaf slash"
    t["encoded-surrogate"] = b"\xed\xa0\x80 lone"
    t["truncated-utf8"] = b"abc\xe2\x82"
    t["above-max"] = b"\xf4\x90\x80\x80"
    t["bom"] = "\ufeffhello world".encode()
    t["crlf"] = b"line one\r\nline two\r\n"
    t["cr-only"] = b"a\rb\rc"
    t["controls"] = bytes(range(1, 32)) + b" text"
    t["escape-seq"] = b"\x1b[2J\x1b[31mred\x1b[0m \x07bell"
    t["bidi"] = "abc\u202edcba\u2066x\u2069".encode()
    t["zero-width"] = "a\u200bb\u200cc\u200dd\u2060e".encode()
    t["nbsp"] = "one\u00a0two\u3000three".encode()
    t["fullwidth"] = "\uff28\uff45\uff4c\uff4c\uff4f".encode()
    t["combining"] = ("e" + "\u0301" * 500).encode()
    t["emoji"] = "\U0001f600\U0001f469\u200d\U0001f469\u200d\U0001f467 flags \U0001f1fa\U0001f1f8".encode()
    t["cjk"] = "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002".encode()
    t["rtl"] = "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627".encode()
    t["private-use"] = "\ue000\U000f0000".encode()
    t["noncharacters"] = "\ufffe\uffff\U0010ffff".encode()
    t["one-char"] = b"a"
    t["repeat"] = b"the " * 20000
    t["long-word"] = b"x" * 200000
    t["long-line"] = ("word " * 100000).encode()
    t["many-lines"] = b"\n".join(b"line %d" % i for i in range(20000))
    t["binary"] = bytes((i * 37 + 11) % 256 for i in range(4096))
    # JSON and JSONL shapes
    t["json-array"] = b"[1, 2, 3]\n"
    t["json-string"] = b'"text"\n'
    t["json-number"] = b"42\n"
    t["json-null"] = b"null\n"
    t["json-empty-object"] = b"{}\n"
    t["json-dup"] = b'{"text": "a", "text": "b"}\n'
    t["json-dup-nested"] = b'{"a": {"x": 1, "x": 2}, "text": "t"}\n'
    t["json-nan"] = b'{"text": NaN}\n'
    t["json-inf"] = b'{"text": Infinity}\n'
    t["json-bignum"] = b'{"text": 1e999999}\n'
    t["json-bigint"] = b'{"text": 123456789012345678901234567890}\n'
    t["json-surrogate"] = b'{"text": "\\ud800"}\n'
    t["json-pair"] = b'{"text": "\\ud83d\\ude00 ok"}\n'
    t["json-escaped-nul"] = b'{"text": "a\\u0000b"}\n'
    t["json-raw-control"] = b'{"text": "a\x01b"}\n'
    t["json-text-null"] = b'{"text": null}\n'
    t["json-text-number"] = b'{"text": 5}\n'
    t["json-text-object"] = b'{"text": {"text": "x"}}\n'
    t["json-text-array"] = b'{"text": ["x"]}\n'
    t["json-prompt-only"] = b'{"prompt": "p"}\n'
    t["json-response-empty"] = b'{"prompt": "p", "response": ""}\n'
    t["json-response-number"] = b'{"prompt": "p", "response": 3}\n'
    t["json-trailing"] = b'{"text": "a"} trailing\n'
    t["json-two-objects"] = b'{"text": "a"}{"text": "b"}\n'
    t["json-unterminated"] = b'{"text": "a\n'
    t["json-deep"] = b"[" * 100000 + b"]" * 100000 + b"\n"
    t["json-deep-object"] = b'{"a":' * 20000 + b"1" + b"}" * 20000 + b"\n"
    t["json-huge-key"] = b'{"' + b"k" * 100000 + b'": 1, "text": "t"}\n'
    t["json-many-keys"] = b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(20000)) + b', "text": "t"}\n'
    t["jsonl-blank-lines"] = b'\n\n{"text": "a"}\n\n\n{"text": "b"}\n\n'
    t["jsonl-crlf"] = b'{"text": "a"}\r\n{"text": "b"}\r\n'
    t["jsonl-no-final-newline"] = b'{"text": "a"}'
    t["audit-like"] = json.dumps({"type": "isotope-audit", "valid": True, "log10_p": -1e308, "key_commitment": "0" * 64,
                                  "mode": "closed", "inputs": {}}).encode()
    t["audit-like-positive"] = json.dumps({"type": "isotope-audit", "valid": True, "log10_p": 5.0,
                                           "key_commitment": "1" * 64, "mode": "closed", "inputs": {}}).encode()
    t["key-like"] = b"isotope-watermark-key v1\n" + b"0" * 64 + b"\n"
    t["key-like-crlf"] = b"isotope-watermark-key v1\r\n" + b"0" * 64 + b"\r\n"
    t["key-like-short"] = b"isotope-watermark-key v1\n" + b"0" * 63 + b"\n"
    t["key-like-upper"] = b"isotope-watermark-key v1\n" + b"A" * 64 + b"\n"
    t["pub-like"] = b"isotope-signing-public-key v1\n" + b"f" * 64 + b"\n"
    t["report-like"] = b'{"schema":"isotope-report/1"}'
    t["sentencepiece-like"] = b"\x0a\x05\x0a\x01a\x15\x00\x00\x00\x00" * 100
    t["lm-like"] = b"ISOTOPE-NGRAM" + bytes(200)
    return t


TEXTS = hostile_texts()


@pytest.fixture(scope="module")
def work(tmp_path_factory, cli):
    d = tmp_path_factory.mktemp("battery")
    cli("keygen", "-o", d / "k.key", "-q")
    cli("signer", "new", "-o", d / "s.key", "-q")
    files = {}
    for name, data in TEXTS.items():
        for ext in (".txt", ".jsonl"):
            p = d / (name + ext)
            p.write_bytes(data)
        files[name] = d / (name + ".txt")
    return d, files


def run(cli, args, cwd):
    p = subprocess.run([cli.path, *map(str, args)], capture_output=True, cwd=cwd, timeout=60)
    return p


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Each entry: (label, argument list with {f} for the hostile file path).
COMMANDS = [
    ("detect", ["detect", "-k", "k.key", "--json", "{f}"]),
    ("detect-jsonl", ["detect", "-k", "k.key", "--jsonl", "--json", "{j}"]),
    ("detect-normalize", ["detect", "-k", "k.key", "--json", "--normalize", "all", "{f}"]),
    ("audit-suspect", ["audit", "-k", "k.key", "--suspect", "{j}", "--control", "1", "-q", "--json"]),
    ("audit-open-teacher", ["audit", "--mode", "open", "-k", "k.key", "--teacher", "{f}", "--predictions", "{j}",
                            "--control", "1", "-q"]),
    ("combine", ["combine", "{j}", "{f}"]),
    ("verify", ["verify", "{f}"]),
    ("report-html", ["report", "html", "{f}", "-o", "out.html"]),
    ("report-sign", ["report", "sign", "{f}", "--sign", "s.key", "-o", "signed.json"]),
    ("lm-info", ["lm", "info", "{f}"]),
    ("lm-train", ["lm", "train", "--corpus", "{f}", "-o", "m.lm"]),
    ("key", ["detect", "-k", "{f}", "--json", "one-char.txt"]),
    ("signer", ["verify", "signed-ok.json", "--signer", "{f}"]),
    ("tokenizer", ["detect", "-k", "k.key", "--tokenizer", "{f}", "one-char.txt"]),
    ("prompts", ["generate", "-k", "k.key", "--prompts", "{j}", "-n", "3", "-q"]),
]


@pytest.mark.parametrize("label,args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_cli_battery(work, cli, label, args):
    d, files = work
    # A valid signed report for the --signer case.
    if not (d / "signed-ok.json").exists():
        run(cli, ["detect", "-k", "k.key", "one-char.txt", "--report", "signed-ok.json", "--sign", "s.key"], d)
    key_before = digest(d / "k.key")
    for name in TEXTS:
        if label == "key":
            os.chmod(files[name], 0o600)
        argv = [a.replace("{f}", str(files[name])).replace("{j}", str(d / (name + ".jsonl"))) for a in args]
        p = run(cli, argv, d)
        where = f"{label} on {name}: exit {p.returncode}, stderr {p.stderr[-300:]!r}"
        assert p.returncode in INPUT_CODES, where
        if p.returncode != 0:
            assert b"error" in p.stderr or p.returncode == 2, where
            assert b"\x1b" not in p.stderr, "an escape sequence reached the terminal: " + where
        if p.returncode == 0 and label.startswith("detect"):
            for line in p.stdout.decode().splitlines():
                r = json.loads(line)
                assert math.isfinite(r["log10_p"]) and r["log10_p"] <= 0, where
                assert 0 <= r["green"] <= r["scored"] <= r["tokens"], where
                assert r["watermarked"] == (r["scored"] > 0 and r["log10_p"] <= math.log10(r["threshold"])), where
        if p.returncode == 0 and label == "combine":
            assert b"nan" not in p.stdout and b"inf" not in p.stdout, where
        assert digest(d / "k.key") == key_before, "the key file changed: " + where
        assert not [x for x in os.listdir(d) if x.startswith(".isotope-tmp")], "a temporary file was left: " + where


def test_python_battery(work):
    d, files = work
    key = isotope.load_key(str(d / "k.key"))
    det = isotope.Detector(key)
    det_norm = isotope.Detector(key, normalize="all")
    for name, data in TEXTS.items():
        for arg in (data, data.decode("utf-8", "surrogateescape")):
            for dt in (det, det_norm):
                try:
                    r = dt.detect(arg)
                except ValueError as e:
                    assert str(e), name
                    continue
                assert math.isfinite(r["log10_p"]) and r["log10_p"] <= 0, name
                assert 0 <= r["green"] <= r["scored"] <= r["tokens"], name
        for loader in (isotope.load_key, isotope.Tokenizer, isotope.NgramModel):
            try:
                loader(str(files[name]))
            except (ValueError, OSError) as e:
                assert str(e), (loader, name)


def hostile_logits(v):
    rng = np.random.default_rng(7)
    out = {}
    base = rng.standard_normal(v).astype(np.float32)
    out["normal"] = base
    for where in (0, v // 2, v - 1):
        x = base.copy()
        x[where] = np.nan
        out[f"nan@{where}"] = x
        x = base.copy()
        x[where] = np.inf
        out[f"+inf@{where}"] = x
    out["all-nan"] = np.full(v, np.nan, np.float32)
    out["all--inf"] = np.full(v, -np.inf, np.float32)
    out["all-+inf"] = np.full(v, np.inf, np.float32)
    out["one-finite"] = np.where(np.arange(v) == 5, 0.0, -np.inf).astype(np.float32)
    out["huge"] = np.full(v, 3e38, np.float32)
    out["tiny"] = np.full(v, -3e38, np.float32)
    out["spread"] = np.linspace(-3e38, 3e38, v).astype(np.float32)
    out["denormal"] = np.full(v, 1e-45, np.float32)
    out["float64"] = base.astype(np.float64)
    out["float16"] = base.astype(np.float16)
    return out


def test_sampler_battery():
    v = 3000
    key = isotope.Key.from_bytes(bytes(range(32)))
    proc = isotope.WatermarkLogitsProcessor(key, vocab_size=v)
    params = [{}, {"greedy": True}, {"top_k": 1}, {"top_k": 40}, {"top_k": v}, {"top_k": v + 10},
              {"top_p": 0.1}, {"top_p": 1.0}, {"temperature": 1e-3}, {"temperature": 1e3},
              {"temperature": 1e-39}, {"temperature": 0.0}, {"temperature": -1.0}, {"top_p": 0.0}, {"top_p": 1.5},
              {"temperature": float("nan")}, {"temperature": float("inf")}]
    n = 0
    for lname, logits in hostile_logits(v).items():
        finite_max = None
        for kw in params:
            for sampler in ("plain", "watermark"):
                n += 1
                try:
                    if sampler == "plain":
                        t = isotope.sample_plain(logits, rng=isotope.Rng(1), **kw)
                    else:
                        t = isotope.watermark_sample(proc, [1, 2, 3], logits, seed=1, **kw)
                except ValueError as e:
                    assert str(e), (lname, kw)
                    continue
                assert 0 <= t < v, (lname, kw, t)
                x = np.asarray(logits, np.float32)
                assert not np.isnan(x).any(), ("a NaN logit was accepted", lname, kw)
                assert x[t] > -np.inf, ("a -inf logit was drawn", lname, kw)
                if np.isposinf(x).any():
                    assert t == int(np.argmax(np.isposinf(x))), ("+inf rule", lname, kw)
    assert n > 500
    # Shapes and contexts.
    for bad in ([], [[1.0, 2.0]], np.zeros((2, 2), np.float32), "abc", None, np.zeros(0, np.float32)):
        with pytest.raises((ValueError, TypeError)):
            isotope.sample_plain(bad, rng=isotope.Rng(1))
    for ctx in ([-1, 2], [1, v], [1, 2**32], [1.5, 2], "ab", [[1, 2], [3, 4]]):
        with pytest.raises((ValueError, TypeError)):
            isotope.watermark_sample(proc, ctx, hostile_logits(v)["normal"], seed=1)
