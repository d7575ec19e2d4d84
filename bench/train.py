#!/usr/bin/python3
"""bench/train.py OUT [STEPS] [EVERY]: checkpoints of a model actually trained.

stgen's fine-tunes add Gaussian noise to every weight. Real training moves
weights by what the optimizer does: Adam steps of about the learning rate
whatever a weight's size, only weight decay for rows no batch touched
(an embedding's unseen tokens), then rounded to BF16. This trains a small
transformer-shaped MLP language model with Adam in numpy (no framework),
from a GPT-2-style Gaussian start (std 0.02), on text from a fixed random
teacher, and writes the starting weights and a checkpoint every EVERY steps
as safetensors, in F32 (the master weights) and BF16 (what is shipped):

  OUT/f32/step-000000.safetensors ... OUT/bf16/step-000000.safetensors ...

STEPS and EVERY default to 300 and 100. The same on a given machine and
BLAS. Needs numpy (Debian python3-numpy; libopenblas0-pthread makes it ~7x
faster).
"""
import json
import os
import sys

import numpy as np

VOCAB, DIM, HIDDEN, LAYERS, CTX, BATCH = 16384, 512, 2048, 4, 8, 64
LR, BETA1, BETA2, EPS, WD = 3e-4, 0.9, 0.95, 1e-8, 0.01


def init(rng):
    p = {"embed.weight": rng.standard_normal((VOCAB, DIM)) * 0.02}
    for i in range(LAYERS):
        p[f"layers.{i}.norm.weight"] = np.ones(DIM)
        p[f"layers.{i}.up.weight"] = rng.standard_normal((HIDDEN, DIM)) * 0.02
        p[f"layers.{i}.down.weight"] = rng.standard_normal((DIM, HIDDEN)) * 0.02 / np.sqrt(2 * LAYERS)
    p["norm.weight"] = np.ones(DIM)
    p["head.weight"] = rng.standard_normal((VOCAB, DIM)) * 0.02
    return {k: v.astype(np.float32) for k, v in p.items()}


def rms_norm(x, w):
    r = 1.0 / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
    return x * r * w, r


def rms_norm_back(g, x, w, r):
    n = x * r
    gw = (g * n).sum(0)
    gn = g * w
    gx = r * (gn - n * (gn * n).mean(-1, keepdims=True))
    return gx, gw


def step_grads(p, tokens, targets):
    """Loss and gradients: mean-pooled context embedding, residual MLP blocks, softmax head."""
    g = {k: np.zeros_like(v) for k, v in p.items()}
    e = p["embed.weight"][tokens]                   # B, CTX, DIM
    x = e.mean(1)
    saved = []
    for i in range(LAYERS):
        h, r = rms_norm(x, p[f"layers.{i}.norm.weight"])
        u = h @ p[f"layers.{i}.up.weight"].T
        a = np.maximum(u, 0)
        saved.append((x, h, r, u, a))
        x = x + a @ p[f"layers.{i}.down.weight"].T
    hf, rf = rms_norm(x, p["norm.weight"])
    logits = hf @ p["head.weight"].T
    logits -= logits.max(-1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(-1, keepdims=True)
    loss = -np.log(prob[np.arange(len(targets)), targets] + 1e-12).mean()
    dl = prob
    dl[np.arange(len(targets)), targets] -= 1
    dl /= len(targets)
    g["head.weight"] = dl.T @ hf
    dx, g["norm.weight"] = rms_norm_back(dl @ p["head.weight"], x, p["norm.weight"], rf)
    for i in reversed(range(LAYERS)):
        xi, h, r, u, a = saved[i]
        g[f"layers.{i}.down.weight"] = dx.T @ a
        du = (dx @ p[f"layers.{i}.down.weight"]) * (u > 0)
        g[f"layers.{i}.up.weight"] = du.T @ h
        dh, g[f"layers.{i}.norm.weight"] = rms_norm_back(du @ p[f"layers.{i}.up.weight"], xi, p[f"layers.{i}.norm.weight"], r)
        dx = dx + dh
    np.add.at(g["embed.weight"], tokens, np.repeat(dx[:, None, :] / CTX, CTX, axis=1))
    return loss, g


def teacher_batch(rng, teacher):
    """Context tokens from a Zipf-like unigram law, next token from a fixed random bigram-ish teacher."""
    tokens = np.minimum(rng.zipf(1.2, size=(BATCH, CTX)) - 1, VOCAB - 1)
    targets = (teacher[tokens[:, -1]] + tokens[:, 0] % 7) % VOCAB
    return tokens, targets


def adamw(p, g, m, v, t, lr):
    """One AdamW step in place (decoupled weight decay on matrices only), in F32 like torch."""
    c1, c2 = 1 - BETA1 ** t, np.sqrt(1 - BETA2 ** t)
    for k in p:
        gk = g[k].astype(np.float32, copy=False)
        m[k] *= BETA1
        m[k] += (1 - BETA1) * gk
        v[k] *= BETA2
        v[k] += (1 - BETA2) * gk * gk
        if p[k].ndim > 1:
            p[k] *= np.float32(1 - lr * WD)
        denom = np.sqrt(v[k])
        denom /= c2
        denom += EPS
        p[k] -= np.float32(lr / c1) * m[k] / denom


def to_bf16(a):
    """Round to nearest even, as torch's .to(torch.bfloat16) does (NaN-free weights)."""
    u = a.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path, tensors, dtype):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = to_bf16(tensors[name]).tobytes() if dtype == "BF16" else tensors[name].astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def save(out, step, p):
    for dtype, sub in (("F32", "f32"), ("BF16", "bf16")):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        write_safetensors(os.path.join(out, sub, f"step-{step:06d}.safetensors"), p, dtype)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench/train.py OUT [STEPS] [EVERY]")
    out = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    every = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    rng = np.random.default_rng(1234)
    p = init(rng)
    teacher = rng.permutation(VOCAB)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    save(out, 0, p)
    for t in range(1, steps + 1):
        tokens, targets = teacher_batch(rng, teacher)
        loss, g = step_grads(p, tokens, targets)
        adamw(p, g, m, v, t, LR * min(1.0, t / 20))
        if t % every == 0:
            save(out, t, p)
            print(f"train: step {t} loss {loss:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
