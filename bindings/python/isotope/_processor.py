"""The watermark as a Hugging Face-style logits processor, and a sampler for
loops that let the library pick the token."""

import os
import sys

import numpy as np

from . import _core

__all__ = ["WatermarkLogitsProcessor", "watermark_sample"]


def _torch_tensor(x):
    """True if x is a torch.Tensor (without importing torch when it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _shape(x):
    return tuple(int(d) for d in x.shape)


class WatermarkLogitsProcessor:
    """Adds the key's watermark to next-token scores, as a Hugging Face
    ``LogitsProcessor``: ``processor(input_ids, scores) -> scores``, for every
    scheme (``profile=isotope.Profile(scheme=...)``).

    KGW biases the scores (below). Gumbel-max chooses the token itself and
    leaves only that token finite (-inf elsewhere), so whatever sampler runs
    next takes it; SynthID writes the log-probabilities of its tournament, to
    be sampled at temperature 1 with no further truncation. Both therefore
    apply ``temperature``, ``top_k`` and ``top_p`` themselves (give them here,
    not to the generation loop), need the whole row of ``input_ids`` (a window
    already seen in the row is left unmarked), and refuse nothing but greedy
    use, which they cannot mark: do not pass ``do_sample=False``.

    ``input_ids`` has shape (batch, seq) and ``scores`` (batch, vocab). For each
    row b the green list is seeded by the last h ids of ``input_ids[b]`` (h =
    the profile's context width) and ``delta`` is added to the green scores, in
    place; the same array or tensor is returned. Rows with fewer than h ids
    are left unchanged (such positions are never scored by the detector).

    Accepted scores:
      * numpy float32 (or torch float32 on the CPU) whose rows are contiguous:
        biased in place through the buffer, no copy;
      * other floating dtypes (float16, bfloat16, float64), rows that are not
        contiguous, or tensors on another device: the green lists are computed
        on the CPU as a (batch, vocab) uint8 mask, which is added with
        ``scores.add_(mask, alpha=delta)`` in the scores' own dtype and device
        (one extra mask of batch*vocab bytes, and its copy to the device).

    The vocabulary size is taken from ``scores.shape[1]`` (the library's
    watermarker is remade if it changes) unless ``vocab_size`` is given, in
    which case other widths are refused. One processor per decoding thread is
    the fast way; calls from several threads are serialised.

    ``account`` (a str identifier, docs/attribution.md) generates for one API
    account: at each position a keyed route on the window (from ``key``)
    gives the position to the account's key (derived from ``key``) with
    probability ``route_alpha`` (default ``isotope.route_alpha_default(profile)``:
    0.6 for KGW, 0.4 for the other schemes), else to ``key`` alone. KGW nests
    the account's mark in the master key's (only the master-green tokens of the
    account's keyed half are favoured there); Gumbel-max and SynthID use the
    account's key in place of ``key``. Without ``account`` the output is
    exactly that of the master key alone.
    """

    def __init__(self, key, profile=None, vocab_size=None, *, temperature=1.0, top_k=0, top_p=1.0, account=None,
                 route_alpha=None):
        if vocab_size is not None and (not isinstance(vocab_size, int) or vocab_size <= 0):
            raise ValueError("vocab_size must be a positive int or None")
        self._core = _core._Processor(key, profile, vocab_size or 0, float(temperature), int(top_k), float(top_p),
                                      account, None if route_alpha is None else float(route_alpha))
        self.account = self._core.account or None
        self.route_alpha = self._core.route_alpha if self.account is not None else 0.0
        self.profile = self._core.profile
        self.scheme = self.profile.scheme
        self.delta = self.profile.delta if self.scheme == "kgw" else None
        self.context_width = self.profile.context_width

    @property
    def vocab_size(self):
        """The vocabulary size in use (0 until the first call if not fixed)."""
        return self._core.vocab_size

    def __repr__(self):
        return f"<isotope.WatermarkLogitsProcessor {self.profile.name}>"

    # -- helpers --------------------------------------------------------------

    def _context(self, input_ids, batch):
        """The last h columns of input_ids as a small numpy int array."""
        shape = _shape(input_ids) if hasattr(input_ids, "shape") else np.shape(input_ids)
        if len(shape) != 2:
            raise ValueError(f"input_ids must have shape (batch, seq), got shape {tuple(shape)}")
        if shape[0] != batch:
            raise ValueError(f"input_ids has {shape[0]} rows but scores has {batch}")
        # KGW needs the window only; the distortion-free schemes the whole row.
        start = shape[1] - min(self.context_width, shape[1]) if self.scheme == "kgw" else 0
        if _torch_tensor(input_ids):
            if input_ids.is_floating_point() or input_ids.is_complex():
                raise TypeError(f"input_ids must hold integer token ids, got {input_ids.dtype}")
            return input_ids[:, start:].detach().cpu().numpy()
        ids = np.asarray(input_ids)
        if ids.size and ids.dtype.kind not in "iu":
            raise TypeError(f"input_ids must hold integer token ids, got dtype {ids.dtype}")
        return ids[:, start:]

    def green_masks(self, input_ids, vocab_size):
        """KGW: the (batch, vocab_size) uint8 green masks (1 = green) that this
        processor would add ``delta`` to; rows shorter than h give zeros."""
        if self.scheme != "kgw":
            raise ValueError("green masks exist only for the kgw scheme")
        ids = np.asarray(input_ids.detach().cpu() if _torch_tensor(input_ids) else input_ids)
        if ids.ndim != 2:
            raise ValueError(f"input_ids must have shape (batch, seq), got shape {ids.shape}")
        return self._core.green_masks(self._context(ids, ids.shape[0]), int(vocab_size))

    # -- the protocol -----------------------------------------------------------

    # Exactly (input_ids, scores): transformers' LogitsProcessorList passes
    # extra keyword arguments to processors whose signature has more.
    def __call__(self, input_ids, scores):
        if _torch_tensor(scores):
            return self._call_torch(input_ids, scores)
        if isinstance(scores, np.ndarray):
            return self._call_numpy(input_ids, scores)
        raise TypeError(
            f"scores must be a numpy array or a torch tensor of shape (batch, vocab), not {type(scores).__name__}")

    def _call_numpy(self, input_ids, scores):
        if scores.ndim != 2:
            raise ValueError(f"scores must have shape (batch, vocab), got shape {scores.shape}")
        if scores.dtype.kind != "f":
            raise TypeError(f"scores must be floating point, got dtype {scores.dtype}")
        if not scores.flags.writeable:
            raise ValueError("scores is read-only: the processor biases it in place")
        ctx = self._context(input_ids, scores.shape[0])
        if scores.dtype == np.float32 and (scores.shape[1] <= 1 or scores.strides[1] == 4):
            self._core.apply(ctx, scores)
        elif self.scheme != "kgw":
            tmp = np.ascontiguousarray(scores, dtype=np.float32)
            self._core.apply(ctx, tmp)
            scores[...] = tmp
        else:
            mask = self._core.green_masks(ctx, scores.shape[1])
            bias = np.asarray(np.float32(self.delta), dtype=scores.dtype)
            np.add(scores, mask * bias, out=scores, casting="same_kind")
        return scores

    def _call_torch(self, input_ids, scores):
        import torch

        if scores.dim() != 2:
            raise ValueError(f"scores must have shape (batch, vocab), got shape {tuple(scores.shape)}")
        if not scores.is_floating_point():
            raise TypeError(f"scores must be floating point, got {scores.dtype}")
        ctx = self._context(input_ids, scores.shape[0])
        if scores.device.type == "cpu" and scores.dtype == torch.float32 and scores.stride(1) == 1:
            # Shares memory with the tensor: biased in place, no copy.
            with torch.no_grad():
                self._core.apply(ctx, scores.detach().numpy())
        elif self.scheme != "kgw":
            tmp = scores.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()
            self._core.apply(ctx, tmp)
            with torch.no_grad():
                scores.copy_(torch.from_numpy(tmp).to(device=scores.device, dtype=scores.dtype))
        else:
            mask = torch.from_numpy(self._core.green_masks(ctx, scores.shape[1]))
            with torch.no_grad():
                scores.add_(mask.to(device=scores.device, dtype=scores.dtype), alpha=float(np.float32(self.delta)))
        return scores


_default_rng = None


def _rng(rng, seed):
    global _default_rng
    if rng is not None:
        if seed is not None:
            raise ValueError("give rng or seed, not both")
        if not isinstance(rng, _core.Rng):
            raise TypeError(f"rng must be an isotope.Rng, not {type(rng).__name__}")
        return rng
    if seed is not None:
        return _core.Rng(int(seed))
    if _default_rng is None:
        _default_rng = _core.Rng(int.from_bytes(os.urandom(8), "little"))
    return _default_rng


def _row(x, what, floats=False):
    if _torch_tensor(x):
        x = x.detach().cpu()
        if floats and x.is_floating_point():
            x = x.float()  # numpy has no bfloat16
    a = np.asarray(x)
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 1:
        raise ValueError(f"{what} must be one row (shape (n,) or (1, n)), got shape {a.shape}")
    return a


def watermark_sample(key_or_processor, input_ids, scores, *, profile=None, temperature=1.0, top_k=0, top_p=1.0,
                     greedy=False, rng=None, seed=None):
    """Picks the next token from ``scores`` (one row of logits) with the
    watermark of the key, as the library's sampler does: the same token that
    ``isotope generate`` would pick from the same logits, context and Rng. The
    scores are not modified, and green bits are computed only where they can
    change the outcome.

    ``key_or_processor`` is a WatermarkLogitsProcessor (fastest: it keeps its
    state between calls), an isotope.Key or a key file path. ``input_ids`` is
    the context (its last h ids matter). Randomness comes from ``rng`` (an
    isotope.Rng, advanced by the call), a fresh ``Rng(seed)``, or a
    process-wide Rng seeded from the OS. Returns the token id as an int.
    """
    if isinstance(key_or_processor, WatermarkLogitsProcessor):
        if profile is not None and profile != key_or_processor.profile:
            raise ValueError("profile differs from the processor's profile")
        proc = key_or_processor
    else:
        proc = WatermarkLogitsProcessor(key_or_processor, profile)
    ctx = _row(input_ids, "input_ids")
    if ctx.size and ctx.dtype.kind not in "iu":
        raise TypeError(f"input_ids must hold integer token ids, got dtype {ctx.dtype}")
    if proc.scheme == "kgw":  # the window alone; distortion-free schemes need the whole context
        ctx = ctx[len(ctx) - min(proc.context_width, len(ctx)):]
    logits = _row(scores, "scores", floats=True)
    return proc._core.sample(ctx, logits, float(temperature), int(top_k), float(top_p), bool(greedy), _rng(rng, seed))
