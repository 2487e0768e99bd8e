"""Keys, profiles, tokenizer and detector basics, and clear exceptions."""

import json
import os
import pathlib

import numpy as np
import pytest

import isotope

SOURCE = pathlib.Path(os.environ.get("ISOTOPE_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[3]))
VECTORS = json.loads((SOURCE / "tests" / "vectors" / "prf_vectors.json").read_text())


def test_key_generate_save_load(tmp_path):
    k = isotope.Key.generate()
    assert len(k.commitment) == 64
    path = tmp_path / "k.key"
    k.save(path)  # os.PathLike works as well as str
    assert (path.stat().st_mode & 0o777) == 0o600
    loaded = isotope.load_key(str(path))
    assert loaded.commitment == k.commitment
    # The key's bytes never appear in its repr or str.
    hexkey = path.read_text().splitlines()[1]
    assert hexkey not in repr(loaded) and hexkey not in str(loaded)
    assert k.commitment[:16] in repr(k)
    with pytest.raises(OSError):
        k.save(path)  # no overwrite by default
    k.save(path, overwrite=True)


def test_key_commitment_matches_vectors():
    for kv in VECTORS["keys"]:
        k = isotope.Key.from_bytes(bytes.fromhex(kv["key_hex"]))
        assert k.commitment == kv["commitment_hex"]


def test_key_commitment_matches_cli(cli, key_path, key):
    out = cli("commit", key_path).stdout
    assert key.commitment in out


def test_key_errors(tmp_path):
    with pytest.raises(ValueError):
        isotope.Key.from_bytes(b"short")
    missing = tmp_path / "missing.key"
    with pytest.raises(OSError) as e:
        isotope.load_key(str(missing))
    assert e.value.code == "io"
    loose = tmp_path / "loose.key"
    isotope.Key.generate().save(str(loose))
    os.chmod(loose, 0o644)
    with pytest.raises(PermissionError) as e:
        isotope.load_key(str(loose))
    assert e.value.code == "key_permissions"
    assert "chmod 600" in str(e.value) or "group or others" in str(e.value)
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    os.chmod(bad, 0o600)
    with pytest.raises(ValueError) as e:
        isotope.load_key(str(bad))
    assert e.value.code == "key_format"
    with pytest.raises(TypeError):
        isotope.load_key(42)
    with pytest.raises(TypeError):
        isotope.Detector(3.5)
    with pytest.raises(PermissionError):
        isotope.Detector(str(loose))
    with pytest.raises(PermissionError):
        isotope.WatermarkLogitsProcessor(str(loose))


def test_profile():
    p = isotope.Profile()
    assert p.name == "kgw/v1/gamma=0.25/delta=3/h=2/siphash128-aes128ctr-u16-v1"
    assert (p.gamma, p.delta, p.context_width) == (0.25, 3.0, 2)
    assert p.gamma_effective == 0.25
    assert p == isotope.Profile(0.25, 3.0, 2)
    assert p != isotope.Profile(gamma=0.5)
    d = p.to_dict()
    assert d["name"] == p.name and d["prf"] == "siphash128-aes128ctr-u16-v1"
    for bad in (dict(gamma=0.0), dict(gamma=1.0), dict(delta=-1.0), dict(context_width=9), dict(delta=float("nan"))):
        with pytest.raises(ValueError):
            isotope.Profile(**bad)


def test_tokenizer(tokenizer):
    ids = tokenizer.encode("And the LORD spake unto Moses, saying")
    assert len(ids) > 3 and all(0 <= i < tokenizer.vocab_size for i in ids)
    assert tokenizer.decode(ids) == "And the LORD spake unto Moses, saying"
    assert tokenizer.decode(np.array(ids)) == tokenizer.decode(ids)
    assert len(tokenizer.sha256) == 64
    with pytest.raises(ValueError) as e:
        tokenizer.encode(b"\xff\xfe bad bytes")
    assert e.value.code == "invalid_utf8"
    with pytest.raises(ValueError):
        tokenizer.decode([tokenizer.vocab_size])
    with pytest.raises(ValueError):
        tokenizer.decode([-1])
    with pytest.raises(TypeError):
        tokenizer.decode([1.5, 2.0])
    with pytest.raises(OSError):
        isotope.Tokenizer("/nonexistent/tokenizer.model")


def test_detector_basics(key, tokenizer):
    det = isotope.Detector(key)
    r = det.detect("In the beginning God created the heaven and the earth.")
    assert r["tokenizer_sha256"] == tokenizer.sha256
    assert r["scored"] == r["tokens"] - 2 - r["skipped"]["duplicate"]
    assert r["rules"] == {"dedup": True, "prompt_exclusion": False}
    assert r["watermarked"] is False
    ids = tokenizer.encode("In the beginning God created the heaven and the earth.")
    r2 = det.detect_ids(ids)
    assert "tokenizer_sha256" not in r2
    assert {k: v for k, v in r.items() if k != "tokenizer_sha256"} == r2
    # numpy and unsigned ids give the same
    assert det.detect_ids(np.array(ids, dtype=np.uint32)) == r2
    m = det.detect_ids(ids, mask=True)["mask"]
    assert len(m) == len(ids) and m[:2] == [-1, -1]
    # prompt windows are excluded
    rp = det.detect("the heaven and the earth", prompt="the heaven and the earth")
    assert rp["scored"] == 0 and rp["skipped"]["prompt"] > 0 and rp["rules"]["prompt_exclusion"]
    assert rp["watermarked"] is False


def test_tokenizer_json(tmp_path):
    # a tiny byte-level BPE tokenizer.json: bytes are ids 0-255, "ab" is 256
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): b for b, c in zip(bs, cs)}
    vocab["ab"] = 256
    doc = {"added_tokens": [], "normalizer": None, "decoder": {"type": "ByteLevel"},
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
           "model": {"type": "BPE", "vocab": vocab, "merges": ["a b"]}}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc))
    tok = isotope.Tokenizer(str(path))
    assert tok.kind == "bpe-byte-level" and tok.vocab_size == 257
    assert tok.encode("ab ab") == [256, 32, 256]
    assert tok.decode([256, 32, 256]) == "ab ab"
    assert isotope.Tokenizer(isotope.data_dir() + "/isotope-8k.model").kind == "sentencepiece"
    doc["model"]["type"] = "WordPiece"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError) as e:
        isotope.Tokenizer(str(path))
    assert e.value.code == "tokenizer" and "WordPiece" in str(e.value)


def test_detect_batch(key):
    det = isotope.Detector(key)
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 8000, size=(4, 120), dtype=np.int64)
    want = [det.detect_ids(r) for r in rows]
    assert det.detect_batch(rows) == want                      # 2-D array
    assert det.detect_batch([list(map(int, r)) for r in rows]) == want
    ragged = [rows[0][:50], rows[1]]                            # sequences of any lengths
    assert det.detect_batch(ragged) == [det.detect_ids(rows[0][:50]), want[1]]
    got = det.detect_batch(rows[:2], prompt_ids=[rows[0][:60], None])
    assert got[0] == det.detect_ids(rows[0], prompt_ids=rows[0][:60]) and got[1] == want[1]
    assert got[0]["rules"]["prompt_exclusion"] is True
    assert det.detect_batch(np.zeros((0, 5), dtype=np.int64)) == []
    with pytest.raises(ValueError):
        det.detect_batch(rows, prompt_ids=[None])
    with pytest.raises(ValueError):
        det.detect_batch([[1, 2], [3, -4]])
    with pytest.raises(TypeError):
        det.detect_batch("not ids")


def test_detector_errors(key):
    det = isotope.Detector(key)
    # An empty text is a result, as whitespace is: nothing scored, p = 1.
    empty = det.detect("")
    assert empty["scored"] == 0 and empty["log10_p"] == 0.0 and not empty["watermarked"]
    with pytest.raises(TypeError):
        det.detect(123)
    with pytest.raises(ValueError):
        det.detect_ids([[1, 2], [3, 4]])
    with pytest.raises(TypeError):
        det.detect_ids([0.5, 1.5])
    with pytest.raises(ValueError):
        det.detect_ids([1, -2, 3])
    with pytest.raises(ValueError):
        det.detect_ids(np.array([1, 2**33], dtype=np.int64))
    with pytest.raises(ValueError):
        isotope.Detector(key, threshold=0.0)
    with pytest.raises(TypeError):
        isotope.Detector(key, profile="kgw")
    with pytest.raises(OSError):
        isotope.Detector(key, tokenizer="/nonexistent.model")


def test_rng_and_plain_sampler():
    a, b = isotope.Rng(5), isotope.Rng(5)
    assert [a.next_u64() for _ in range(3)] == [b.next_u64() for _ in range(3)]
    logits = np.zeros(100, dtype=np.float32)
    logits[42] = 50.0
    assert isotope.sample_plain(logits, rng=isotope.Rng(1)) == 42
    assert isotope.sample_plain(logits, greedy=True, rng=isotope.Rng(1)) == 42
    with pytest.raises(ValueError):
        isotope.sample_plain(logits, temperature=0.0, rng=isotope.Rng(1))
    with pytest.raises(ValueError):
        isotope.sample_plain(np.zeros((2, 3), dtype=np.float32), rng=isotope.Rng(1))
