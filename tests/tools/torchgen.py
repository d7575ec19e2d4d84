#!/usr/bin/python3
"""torchgen.py [options] OUT: write a checkpoint in torch.save's format
without torch.

The file is what torch.save writes for the same object: a zip archive
(entries stored, not compressed) holding archive/data.pkl, a protocol-2
pickle whose tensors are torch._utils._rebuild_tensor_v2 of storages named
by persistent ids ('storage', torch.FloatStorage, key, 'cpu', numel), and
archive/data/KEY with each storage's little-endian bytes. The pickle is
written by Python's own pickler against stand-ins for torch's classes, so
its opcodes are those a real torch.save writes.

With --module the object is a tree of module objects (torch.save(model)).
Else it is {'model': state_dict, 'optimizer': {'state': {0: {'step',
'exp_avg'}}, 'param_groups': [...]}, 'epoch': 3}: weights of std 0.02,
norms near 1, an int64 buffer, a tied weight (one tensor under two keys)
and a view (a tensor over part of another's storage). Same options, same
bytes; --noise moves every float weight by noise of that fraction of its
tensor's std, computed in F32 and rounded to the dtype (a full fine-tune).
"""
import argparse
import collections
import io
import pickle
import struct
import sys
import types
import zipfile
import zlib

import numpy as np


def stand_ins():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    types_ = {}
    for name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"):
        cls = type(name, (), {})
        cls.__module__ = "torch"
        cls.__qualname__ = name
        setattr(torch, name, cls)
        types_[name] = cls

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("not for loading")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    return types_, _rebuild_tensor_v2


STORAGE_TYPES, REBUILD = stand_ins()
DTYPES = {"F32": ("FloatStorage", 4), "F16": ("HalfStorage", 2), "BF16": ("BFloat16Storage", 2),
          "I64": ("LongStorage", 8)}


class Storage:
    def __init__(self, key, dtype, data):
        self.key, self.dtype, self.data = key, dtype, data

    @property
    def numel(self):
        return len(self.data) // DTYPES[self.dtype][1]


class Tensor:
    def __init__(self, storage, offset, shape):
        self.storage, self.offset, self.shape = storage, offset, tuple(shape)

    def __reduce_ex__(self, protocol):
        stride, s = [], 1
        for d in reversed(self.shape):
            stride.insert(0, s)
            s *= d
        return (REBUILD, (self.storage, self.offset, self.shape, tuple(stride), False,
                          collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", STORAGE_TYPES[DTYPES[obj.dtype][0]], obj.key, "cpu", obj.numel)
        return None


def encode(values, dtype):
    f = values.astype(np.float32)
    if dtype == "F32":
        return f.tobytes()
    if dtype == "F16":
        return f.astype(np.float16).tobytes()
    bits = f.view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16).tobytes()  # BF16, rounded


def build(args):
    rng = np.random.default_rng(args.seed)
    noise = np.random.default_rng(args.seed + 1000)
    storages = []

    def tensor(shape, std, mean=0.0, dtype=None):
        dtype = dtype or args.dtype
        v = rng.standard_normal(int(np.prod(shape))).astype(np.float32) * std + mean
        if args.noise:
            v = v + noise.standard_normal(v.size).astype(np.float32) * std * args.noise
        st = Storage(str(len(storages)), dtype, encode(v, dtype))
        storages.append(st)
        return Tensor(st, 0, shape)

    elem = 4 if args.dtype == "F32" else 2  # each layer holds 3 * hidden^2 weights
    hidden = max(8, int((args.size_mb * 2**20 / (3 * args.layers * elem)) ** 0.5) // 8 * 8)
    sd = collections.OrderedDict()
    sd["embed.weight"] = tensor((256, hidden), 0.02)
    for i in range(args.layers):
        sd["layers.%d.attn.weight" % i] = tensor((hidden, hidden), 0.02)
        sd["layers.%d.mlp.weight" % i] = tensor((hidden * 2, hidden), 0.015)
        sd["layers.%d.norm.weight" % i] = tensor((hidden,), 0.01, 1.0)
    sd["lm_head.weight"] = sd["embed.weight"]  # tied: the same tensor object
    steps = Storage(str(len(storages)), "I64", np.arange(4, dtype=np.int64).tobytes())
    storages.append(steps)
    sd["steps"] = Tensor(steps, 0, (4,))
    first = sd["layers.0.norm.weight"]
    sd["layers.0.norm.half"] = Tensor(first.storage, hidden // 2, (hidden // 2,))  # a view
    opt = {"state": {0: {"step": 5, "exp_avg": tensor((hidden,), 0.001, dtype="F32")}},
           "param_groups": [{"lr": 1e-3, "params": [0]}]}
    if args.odd_keys:  # a bare state dict whose keys make no name: empty, or starting with a NUL
        return collections.OrderedDict([("", sd["embed.weight"]), ("\0abc", sd["layers.0.attn.weight"]),
                                        ("ok", sd["layers.0.mlp.weight"])]), storages
    if args.module:  # torch.save(model): module objects, their tensors in _parameters
        head = Module({"weight": sd["embed.weight"]}, {})
        body = Module({"weight": sd["layers.0.attn.weight"]}, {"fc": Module({"weight": sd["layers.0.mlp.weight"]}, {})})
        return Module({}, {"embed": head, "body": body}), storages
    return {"model": sd, "optimizer": opt, "epoch": 3}, storages


class Module:
    """Pickled as torch.nn.Module instances are: NEWOBJ, then BUILD with their attributes."""

    def __init__(self, params, modules):
        self._parameters = collections.OrderedDict(params)
        self._modules = collections.OrderedDict(modules)
        self.training = True


def write_zip(path, entries, zip64):
    """The archive as PyTorch's writer (miniz) lays it out: entries stored,
    each one's bytes 64-byte aligned by padding in its local header's extra
    field; with zip64, every size and offset in zip64 extra fields and a
    zip64 end record, as a checkpoint past 4 GiB has them."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        name = name.encode()
        crc, n, at = zlib.crc32(data), len(data), len(out)
        z64 = struct.pack("<HHQQ", 1, 16, n, n) if zip64 else b""
        pad = (-(len(out) + 30 + len(name) + len(z64) + 4)) % 64
        extra = z64 + struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # 'FB' padding, as torch writes
        small = 0xFFFFFFFF if zip64 else n
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x5021, crc, small, small,
                           len(name), len(extra)) + name + extra + data
        cz64 = struct.pack("<HHQQQ", 1, 24, n, n, at) if zip64 else b""
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x5021, crc, small, small,
                               len(name), len(cz64), 0, 0, 0, 0, 0xFFFFFFFF if zip64 else at) + name + cz64
    cd_at, count = len(out), len(entries)
    out += central
    if zip64:
        eocd64_at = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), cd_at)
        out += struct.pack("<IIQI", 0x07064B50, 0, eocd64_at, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), cd_at, 0)
    with open(path, "wb") as f:
        f.write(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--size-mb", type=float, default=4)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dtype", choices=("F32", "F16", "BF16"), default="BF16")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--module", action="store_true", help="save module objects instead of a state_dict")
    p.add_argument("--zip64", action="store_true", help="zip64 records throughout, as past 4 GiB")
    p.add_argument("--odd-keys", action="store_true", help="state-dict keys that are empty or start with a NUL")
    args = p.parse_args()
    obj, storages = build(args)
    pkl = io.BytesIO()
    Pickler(pkl, protocol=2).dump(obj)
    entries = [("archive/data.pkl", pkl.getvalue()), ("archive/byteorder", b"little")]
    entries += [("archive/data/" + st.key, st.data) for st in storages]
    entries.append(("archive/version", b"3\n"))
    write_zip(args.out, entries, args.zip64)
    with zipfile.ZipFile(args.out) as z:  # Python's own reader agrees
        assert z.testzip() is None and z.read("archive/version") == b"3\n"


if __name__ == "__main__":
    main()
