"""Attribution from Python: account keys against the independent vectors,
generation for an account, and audits that name the account."""

import json
import os

import numpy as np
import pytest

import isotope

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "vectors", "account_vectors.json")


def test_account_keys_match_the_vectors():
    with open(VECTORS) as f:
        v = json.load(f)
    for c in v["account_keys"]:
        master = isotope.Key.from_bytes(bytes.fromhex(c["master"]))
        want = isotope.Key.from_bytes(bytes.fromhex(c["key"]))
        assert isotope.account_key(master, c["id"]).commitment == want.commitment
    master = isotope.Key.from_bytes(bytes(32))
    for bad in ["", "a\nb", " a", "a" * 257]:
        with pytest.raises(ValueError):
            isotope.account_key(master, bad)


def test_processor_for_an_account_nests_the_account_mark(key):
    # KGW: at a position routed to the account, delta goes to the master-green
    # tokens in the account's half (green under the account key at gamma 1/2).
    acct = isotope.account_key(key, "acct-7")
    routed = isotope.WatermarkLogitsProcessor(key, account="acct-7", route_alpha=0.5)
    master = isotope.WatermarkLogitsProcessor(key)
    half = isotope.WatermarkLogitsProcessor(acct, isotope.Profile(gamma=0.5))
    assert routed.account == "acct-7" and routed.route_alpha == 0.5
    assert master.account is None and master.route_alpha == 0.0
    rng = np.random.default_rng(5)
    used = {"master": 0, "account": 0}
    for _ in range(60):
        ids = rng.integers(0, 1000, size=(1, 6))
        base = rng.normal(size=(1, 1000)).astype(np.float32)
        a, m, k = base.copy(), base.copy(), base.copy()
        routed(ids, a)
        master(ids, m)
        half(ids, k)
        nested = (m != base) & (k != base)
        want = base.copy()
        want[nested] = m[nested]
        assert np.array_equal(a, m) or np.array_equal(a, want)
        used["master" if np.array_equal(a, m) else "account"] += 1
    assert used["master"] > 10 and used["account"] > 10
    with pytest.raises(ValueError):
        isotope.WatermarkLogitsProcessor(key, account="bad\x01id")
    with pytest.raises(ValueError):
        isotope.WatermarkLogitsProcessor(key, account="ok", route_alpha=1.0)


def test_closed_audit_names_the_account(key, model, tokenizer):
    proc = isotope.WatermarkLogitsProcessor(key, account="acct-0003")
    recs = []
    for i in range(6):
        rng = isotope.Rng(40 + i)
        ctx = [100 + i]
        out = []
        for _ in range(300):
            t = isotope.watermark_sample(proc, ctx, model.next_logits(ctx), rng=rng)
            ctx.append(t)
            out.append(t)
        recs.append(([100 + i], out))
    ids = [f"acct-{i:04d}" for i in range(200)]
    r = isotope.audit_closed(key, recs, control=5, control_seed=b"\x02" * 32, accounts=ids)
    assert r["route_alpha"] == isotope.ROUTE_ALPHA_NESTED_DEFAULT == isotope.route_alpha_default(isotope.Profile())
    assert r["account_mark"] == "nested" and r["attribution"]["account_mark"] == "nested"
    assert 0 < r["attribution"]["tested"] < r["attribution"]["routed"]
    assert r["flagged"]
    assert r["attribution"]["candidates"] == 200 and r["attribution"]["correction"] == "holm"
    assert [a["id"] for a in r["accounts"]] == ["acct-0003"]
    assert r["accounts"][0]["log10_p_corrected"] <= -4
    assert r["accounts"][0]["log10_p_corrected"] >= r["accounts"][0]["log10_p"]
    assert r["attribution"]["best_not_named"]["log10_p_corrected"] > -4
    with pytest.raises(ValueError):
        isotope.audit_closed(key, recs, control=0, accounts=["a", "a"])
    with pytest.raises(ValueError):
        isotope.audit_closed(key, recs, control=0, accounts=ids, route_alpha=0.0)
    with pytest.raises(TypeError):
        isotope.audit_closed(key, recs, control=0, accounts="acct-0003")
    # Without accounts nothing changes.
    plain = isotope.audit_closed(key, recs, control=0)
    assert "attribution" not in plain and "route_alpha" not in plain
