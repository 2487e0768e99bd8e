"""Audits of a suspect model from Python: closed (its answers) and open
(its next-token predictions on the provider's watermarked text, "reading
mode"), with any PyTorch model behind a plain callable."""

import os
import sys

import numpy as np

from . import _core

__all__ = ["audit_closed", "audit_open", "predictions_from_callable"]


def _torch_tensor(x):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


class _Tokens:
    """Turns text into ids with one tokenizer, loaded only if text appears."""

    def __init__(self, tokenizer):
        self._arg = tokenizer
        self._tok = tokenizer if isinstance(tokenizer, _core.Tokenizer) else None
        self.used = False

    def get(self):
        if self._tok is None:
            self._tok = _core.Tokenizer(self._arg)
        return self._tok

    def ids(self, x, what):
        if isinstance(x, (str, bytes)):
            self.used = True
            return self.get().encode(x)
        if x is None:
            raise TypeError(f"{what} is None")
        return x


def _seed(control_seed):
    if control_seed is None:
        return os.urandom(32)
    return control_seed


def _profile_of(profile):
    return profile if profile is not None else _core.Profile()


def _route_alpha(accounts, route_alpha, profile):
    if route_alpha is None:
        return _core.route_alpha_default(_profile_of(profile)) if accounts is not None else 0.0
    return float(route_alpha)


def audit_closed(key, records, *, profile=None, teacher=None, tokenizer=None, control=20, control_seed=None,
                 threshold=1e-4, dedup=True, prompt_exclusion=True, accounts=None, route_alpha=None):
    """Closed-model audit: were these answers written by a model trained on
    the key's watermarked text?

    ``records``: the suspect's answers, each a dict ``{"prompt": ..., "response":
    ...}`` or a ``(prompt, response)`` pair, with text (tokenized with the
    provider's ``tokenizer``, default the bundled one) or token ids. Every
    (window, token) tuple is scored once in the whole audit, tuples whose
    window occurs in the record's prompt are skipped; with ``teacher`` (the
    provider's watermarked texts, as text or ids) only windows that occur in
    them are scored (the filter). ``control`` random keys derived from
    ``control_seed`` (32 bytes or 64 hex digits; default: fresh) repeat the
    test. Returns a dict with the fields of ``isotope audit --json``.

    Attribution (docs/attribution.md): ``accounts``, a list of candidate
    account identifiers, tests each of them on the tuples the key's route
    gives to accounts, with Holm's correction; the accounts whose corrected
    p-value is <= ``threshold`` are listed in ``"accounts"``, and
    ``"attribution"`` says how many were tested and how. ``route_alpha`` is
    the routing share of the provider's generation (default 0.4 with
    ``accounts``, else 0); above 0, the key's own test scores only the tuples
    its route keeps for itself.
    """
    toks = _Tokens(tokenizer)
    recs = []
    for i, r in enumerate(records):
        if isinstance(r, dict):
            if "response" not in r:
                raise ValueError(f"record {i} has no 'response'")
            prompt, response = r.get("prompt"), r["response"]
        else:
            try:
                prompt, response = r
            except (TypeError, ValueError):
                raise ValueError(f"record {i} must be a dict with 'prompt' and 'response' or a (prompt, response) pair")
        recs.append((toks.ids(prompt if prompt is not None else [], f"record {i} prompt"),
                     toks.ids(response, f"record {i} response")))
    t = None
    if teacher is not None:
        t = [toks.ids(x, f"teacher text {i}") for i, x in enumerate(teacher)]
    out = _core._audit_closed(key, profile, recs, t, dedup, prompt_exclusion, threshold, control, _seed(control_seed),
                              accounts, _route_alpha(accounts, route_alpha, profile))
    if toks.used or tokenizer is not None:
        out["tokenizer_sha256"] = toks.get().sha256
    return out


def _array(x):
    if _torch_tensor(x):
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.float()  # numpy has no bfloat16
    return np.asarray(x)


def predictions_from_callable(suspect, sequences, *, batch_size=8):
    """Runs ``suspect`` over token-id sequences with teacher forcing and
    returns its top-1 predictions, one uint32 array per sequence, aligned as
    the open audit wants them: entry i is the prediction after tokens
    0..i-1 (entry 0, after no token, is 0 and is never scored when h >= 1).

    ``suspect(batch)`` gets a list of up to ``batch_size`` lists of ids and
    returns, for each sequence of length n, either its logits of shape
    (n, vocab) or argmax ids of shape (n,), where row j is the model's
    prediction for the token after ids[0..j] -- what a causal language model
    gives for the whole sequence in one forward pass (``model(x).logits``).
    It may return a list (one array per sequence, numpy or torch) or one
    array of shape (batch, n, vocab) / (batch, n) when all n are equal.
    Ties in logits go to the lowest id.
    """
    if not callable(suspect):
        raise TypeError(f"suspect must be callable, not {type(suspect).__name__}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    seqs = [np.asarray(s, dtype=np.int64).tolist() for s in sequences]
    preds = []
    for start in range(0, len(seqs), batch_size):
        batch = seqs[start:start + batch_size]
        out = suspect(batch)
        if _torch_tensor(out) or isinstance(out, np.ndarray):
            out = [out[i] for i in range(out.shape[0])]
        out = list(out)
        if len(out) != len(batch):
            raise ValueError(f"the suspect returned {len(out)} results for a batch of {len(batch)} sequences")
        for j, (seq, o) in enumerate(zip(batch, out)):
            a = _array(o)
            n = len(seq)
            if a.ndim == 2:
                if a.shape[0] != n:
                    raise ValueError(f"sequence {start + j}: the suspect returned {a.shape[0]} rows of logits "
                                     f"for {n} tokens")
                ids = _core.argmax_rows(a)
            elif a.ndim == 1:
                if a.shape[0] != n:
                    raise ValueError(f"sequence {start + j}: the suspect returned {a.shape[0]} predictions "
                                     f"for {n} tokens")
                if a.size and a.dtype.kind not in "iu":
                    raise TypeError(f"sequence {start + j}: 1-D results must be integer token ids, "
                                    f"got dtype {a.dtype}")
                if a.size and a.min() < 0:
                    raise ValueError(f"sequence {start + j}: negative token id in the suspect's predictions")
                ids = a.astype(np.uint32)
            else:
                raise ValueError(f"sequence {start + j}: the suspect must return (n, vocab) logits or (n,) ids, "
                                 f"got shape {a.shape}")
            p = np.zeros(n, dtype=np.uint32)
            p[1:] = ids[:-1]
            preds.append(p)
    return preds


def audit_open(key, teacher, suspect, *, profile=None, tokenizer=None, vocab_size=None, batch_size=8,
               control=20, control_seed=None, threshold=1e-4, dedup=True, accounts=None, route_alpha=None):
    """Open-model audit ("reading mode"): feed the provider's watermarked
    texts to the suspect with teacher forcing and score its top-1
    predictions against windows taken from the texts.

    ``teacher``: the provider's watermarked texts, as text (tokenized with
    ``tokenizer``) or token ids. ``suspect`` is one of
      * a callable ``suspect(list of id lists) -> logits or ids`` (see
        predictions_from_callable): any PyTorch model, called once per batch
        of whole texts;
      * an isotope.NgramModel;
      * precomputed predictions, one sequence per text, entry i being the
        suspect's top-1 after tokens 0..i-1 (the CLI's PREDS.jsonl layout).
    Every prediction must be below ``vocab_size`` (default: the tokenizer's).
    With context width 0 the first token of each text (predicted after no
    context) is left out for callables, which cannot predict it. Returns a
    dict with the fields of ``isotope audit --mode open --json``.
    ``accounts`` and ``route_alpha``: attribution, as in audit_closed.
    """
    prof = _profile_of(profile)
    toks = _Tokens(tokenizer)
    ids = [np.asarray(toks.ids(x, f"teacher text {i}"), dtype=np.int64) for i, x in enumerate(teacher)]
    seed = _seed(control_seed)
    if isinstance(suspect, _core.NgramModel):
        out = _core._audit_open_model(key, prof, ids, suspect, dedup, threshold, control, seed, accounts,
                                      _route_alpha(accounts, route_alpha, prof))
    else:
        if callable(suspect):
            preds = predictions_from_callable(suspect, ids, batch_size=batch_size)
            if prof.context_width == 0:
                ids = [t[1:] for t in ids]
                preds = [p[1:] for p in preds]
        else:
            preds = [np.asarray(_array(p)) for p in suspect]
        if vocab_size is None:
            vocab_size = toks.get().vocab_size
            toks.used = True
        out = _core._audit_open(key, prof, ids, preds, int(vocab_size), dedup, threshold, control, seed, accounts,
                                _route_alpha(accounts, route_alpha, prof))
    if toks.used or tokenizer is not None:
        out["tokenizer_sha256"] = toks.get().sha256
    return out
