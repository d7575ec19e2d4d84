#!/usr/bin/python3
"""bench/entropy.py FILE...: byte-plane order-0 entropy bound of safetensors files.

Each tensor's data is split into byte planes (byte k of every element: 2
planes for BF16/F16, 4 for F32, ...); a 256-bin histogram is kept per
(dtype, plane) over all tensors of all FILEs (the shards of one model).
The bound is

    header bytes + sum over planes of (plane bytes x H0(plane) / 8)

i.e. what an ideal order-0 coder reaches when it codes every byte plane
on its own with one static table per plane and stores the headers raw.
No order-0 coder working byte plane by byte plane can beat it (context
models and deltas against another version can).  tensor_bound_pct is the
same with one table per (tensor, plane): what a coder that adapts its table
to each tensor can approach (it is always <= bound_pct).  exp_bound_pct and
exp_tensor_bound_pct are the same over the planes mvm's codec 5 codes:
BF16 and F32 elements rotated left one bit first, so the whole exponent
fills the top plane.  Prints one line:

    bound_pct=67.30 tensor_bound_pct=66.46 exp_bound_pct=66.6 exp_tensor_bound_pct=65.8
    bound_bytes=... file_bytes=...
    planes=BF16:7.97,2.80   (order-0 bits per byte of each plane, low first)
"""
import json
import struct
import sys

import numpy as np

WIDTH = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I8": 1, "U8": 1,
         "I16": 2, "U16": 2, "I32": 4, "U32": 4, "I64": 8, "U64": 8,
         "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
CHUNK = 64 << 20


def h0(hist):
    n = hist.sum()
    if n == 0:
        return 0.0
    p = hist[hist > 0] / n
    return float(-(p * np.log2(p)).sum())


ROTATED = {"BF16": np.uint16, "F32": np.uint32}   # codec 5's element rotation


def add_planes(th, b, w, rotate):
    """Add the byte planes of whole elements b (uint8, w bytes each) to th[w, 256]."""
    if w % 2:
        b = b.reshape(-1, w)
        for k in range(w):
            th[k] += np.bincount(b[:, k], minlength=256)
        return
    if rotate:
        u = b.view("<" + np.dtype(rotate).str[1:])
        bits = 8 * w
        u = (u << rotate(1)) | (u >> rotate(bits - 1))
        b = u.astype("<" + np.dtype(rotate).str[1:]).view(np.uint8)
    # bytes 2j, 2j+1 as one uint16: one bincount per pair
    u = b.view("<u2").reshape(-1, w // 2)
    for j in range(w // 2):
        c = np.bincount(u[:, j], minlength=65536)
        c = c.reshape(256, 256)     # [high byte, low byte]
        th[2 * j] += c.sum(axis=0)
        th[2 * j + 1] += c.sum(axis=1)


def bits_of(hists):
    return sum(h0(h[k]) * h[k].sum() for h in hists.values() for k in range(h.shape[0]))


def main(paths):
    hists = {}          # dtype -> array [width, 256]
    rhists = {}         # the same over codec 5's rotated elements
    header = 0
    total = 0
    tbits = 0.0         # one table per tensor and plane
    rtbits = 0.0        # the same, rotated
    for path in paths:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            meta = json.loads(f.read(n))
            base = 8 + n
            header += base
            f.seek(0, 2)
            total += f.tell()
            for name, t in meta.items():
                if name == "__metadata__":
                    continue
                w = WIDTH[t["dtype"]]
                lo, hi = t["data_offsets"]
                dt = t["dtype"]
                th = np.zeros((w, 256), np.int64)
                rth = np.zeros((w, 256), np.int64)
                f.seek(base + lo)
                left = hi - lo
                step = CHUNK - CHUNK % w
                while left > 0:
                    b = np.frombuffer(f.read(min(left, step)), np.uint8)
                    left -= b.size
                    b = b[: b.size - b.size % w]
                    add_planes(th, b, w, None)
                    add_planes(rth, b, w, ROTATED.get(dt))
                hists[dt] = hists.get(dt, 0) + th
                rhists[dt] = rhists.get(dt, 0) + rth
                tbits += bits_of({dt: th})
                rtbits += bits_of({dt: rth})
    planes = [dt + ":" + ",".join("%.2f" % h0(h[k]) for k in range(h.shape[0]))
              for dt, h in sorted(hists.items())]
    bound = header + bits_of(hists) / 8
    tbound = header + tbits / 8
    rbound = header + bits_of(rhists) / 8
    rtbound = header + rtbits / 8
    print("bound_pct=%.2f tensor_bound_pct=%.2f exp_bound_pct=%.2f exp_tensor_bound_pct=%.2f "
          "bound_bytes=%.0f file_bytes=%d planes=%s"
          % (100 * bound / total, 100 * tbound / total, 100 * rbound / total, 100 * rtbound / total,
             bound, total, ";".join(planes)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench/entropy.py FILE...")
    main(sys.argv[1:])
