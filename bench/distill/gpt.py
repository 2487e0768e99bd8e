"""A small GPT-style causal language model (pre-norm transformer, learned
positions, tied embeddings) with a key/value cache for generation, written
for torch 1.13 (Debian 12) and later."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cache=None):
        """x: (B, T, d). cache: None, or a (k, v) pair of the previous
        positions (B, heads, T0, dh). Returns (y, (k, v)) with the cache
        extended by these T positions."""
        B, T, d = x.shape
        dh = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q = q.view(B, T, self.heads, dh).transpose(1, 2)
        k = k.view(B, T, self.heads, dh).transpose(1, 2)
        v = v.view(B, T, self.heads, dh).transpose(1, 2)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        T0 = k.shape[2] - T
        att = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
        if T > 1:
            # query t (absolute position T0 + t) sees keys up to T0 + t
            i = torch.arange(T, device=x.device)[:, None] + T0
            j = torch.arange(k.shape[2], device=x.device)[None, :]
            att = att.masked_fill(j > i, float("-inf"))
        att = self.drop(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, d)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.mlp(self.ln2(x)))
        return x, (k, v)


class GPT(nn.Module):
    def __init__(self, vocab, d=128, layers=2, heads=4, ctx=128, dropout=0.0):
        super().__init__()
        self.ctx = ctx
        self.vocab = vocab
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def parameters_count(self):
        return sum(p.numel() for p in self.parameters())

    def forward(self, ids, cache=None):
        """ids: (B, T) -> logits (B, T, vocab), new cache (one (k, v) per layer)."""
        T0 = 0 if cache is None else cache[0][0].shape[2]
        T = ids.shape[1]
        if T0 + T > self.ctx:
            raise ValueError(f"sequence of {T0 + T} tokens exceeds the context of {self.ctx}")
        pos = torch.arange(T0, T0 + T, device=ids.device)
        x = self.tok(ids) + self.pos(pos)[None]
        new = []
        for i, b in enumerate(self.blocks):
            x, kv = b(x, None if cache is None else cache[i])
            new.append(kv)
        logits = self.ln(x) @ self.tok.weight.T
        return logits, new


def train(model, sequences, *, steps, batch, lr, device, generator, log=None, log_every=100):
    """Next-token training on (N, T) token sequences, sampled with replacement.
    AdamW with warm-up and cosine decay."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps)))))
    n = sequences.shape[0]
    losses = []
    for step in range(steps):
        idx = torch.randint(0, n, (batch,), generator=generator)
        x = sequences[idx].to(device)
        logits, _ = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log is not None and (step + 1) % log_every == 0:
            log(f"    step {step + 1}/{steps}  loss {sum(losses[-log_every:]) / log_every:.3f}")
    model.eval()
    return losses


@torch.no_grad()
def generate(model, prompts, n_new, *, processors=(), temperature=1.0, generator=None):
    """Samples n_new tokens after each row of prompts (B, P), all rows the same
    length, in the shape of a Hugging Face sampling loop:
    scores = logits[:, -1]; for p in processors: scores = p(input_ids, scores);
    token ~ softmax(scores / temperature). Returns (B, P + n_new)."""
    model.eval()
    ids = prompts
    logits, cache = model(ids)
    for _ in range(n_new):
        scores = logits[:, -1, :].float()
        for p in processors:
            scores = p(ids, scores)
        probs = F.softmax(scores / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=generator)
        ids = torch.cat([ids, nxt], dim=1)
        if ids.shape[1] >= model.ctx:
            break
        logits, cache = model(nxt, cache)
    return ids


@torch.no_grad()
def next_token_logits(model, sequences, device, prefix=None, batch=64):
    """Teacher forcing: for each id list s, the (len(s), vocab) float32 CPU
    logits whose row j predicts the token after s[0..j]. `prefix`, if given,
    maps a sequence (as a tuple) to ids fed before it as context; their rows
    are dropped. Sequences of equal total length go through in batches."""
    model.eval()
    rows = []
    for s in sequences:
        pre = list(prefix.get(tuple(s), ())) if prefix is not None else []
        rows.append((pre, list(s)))
    out = [None] * len(rows)
    by_len = {}
    for i, (pre, s) in enumerate(rows):
        by_len.setdefault(len(pre) + len(s), []).append(i)
    for idx in by_len.values():
        for k in range(0, len(idx), batch):
            chunk = idx[k:k + batch]
            x = torch.tensor([rows[i][0] + rows[i][1] for i in chunk], dtype=torch.long, device=device)
            logits, _ = model(x)
            logits = logits.float().cpu()
            for r, i in enumerate(chunk):
                out[i] = logits[r, len(rows[i][0]):]
    return out
