#!/bin/sh
# NumPy arrays (.npy, and np.savez's .npz): each array is a tensor,
# float-coded and delta-coded against the parent's same array, diffed and
# checked out to the same bytes; compressed, big-endian or truncated
# arrays are plain bytes, never an error.
. "$(dirname "$0")/lib.sh"

mvm init -q repo
cd repo
$PY - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(1)
emb = (rng.standard_normal((2048, 256)) * 0.02).astype(np.float32)
np.save('emb.npy', emb)
noise = (rng.standard_normal(emb.shape) * 0.001).astype(np.float32)
np.save('../emb2.npy', emb + noise)
np.savez('w.npz', attn=(rng.standard_normal((512, 512)) * 0.02).astype(np.float16), ids=np.arange(1000),
         labels=np.array(['ab', 'cd']), cols=np.asfortranarray(np.ones((3, 4))))  # these two stay plain
np.savez_compressed('packed.npz', a=rng.standard_normal(1000))
np.save('big_endian.npy', rng.standard_normal(1000).astype('>f4'))
open('cut.npy', 'wb').write(open('emb.npy', 'rb').read()[:100000])
PYEOF
size=$(stat -c %s emb.npy)
mvm add -q emb.npy
mvm commit -q -m emb
base=$(du -sb .mvm/packs | cut -f1)
[ $((base * 100)) -lt $((size * 86)) ] || fail "emb.npy stored in $base of $size bytes"
mvm ls HEAD emb.npy | grep -Eq '^F32 +\[2048, 256\] .* array$' || fail "npy tensor: $(mvm ls HEAD emb.npy)"
cp ../emb2.npy emb.npy
mvm commit -q -a -m "emb moved"
grown=$(($(du -sb .mvm/packs | cut -f1) - base))
[ $((grown * 100)) -lt $((size * 80)) ] || fail "the moved array grew the store by $grown of $size bytes"
mvm diff HEAD~1 HEAD | grep -q 'modified *array' || fail "diff: $(mvm diff HEAD~1 HEAD)"

mvm add -q w.npz packed.npz big_endian.npy cut.npy
mvm commit -q -m more
mvm ls HEAD w.npz >"$SCRATCH/ls"
grep -Eq '^F16 +\[512, 512\] .* attn$' "$SCRATCH/ls" && grep -Eq '^I64 +\[1000\] .* ids$' "$SCRATCH/ls" &&
	[ "$(wc -l <"$SCRATCH/ls")" -eq 2 ] || fail "npz tensors: $(cat "$SCRATCH/ls")"
for f in packed.npz big_endian.npy cut.npy; do
	mvm ls HEAD "$f" | grep -q 'is not a tensor file' || fail "$f listed as tensors: $(mvm ls HEAD "$f")"
done
for f in emb.npy w.npz packed.npz big_endian.npy cut.npy; do
	cp "$f" "$SCRATCH/$f.copy"
	rm "$f"
	mvm checkout -q HEAD -- "$f"
	cmp -s "$f" "$SCRATCH/$f.copy" || fail "$f does not check out to its bytes"
done
mvm checkout -q HEAD~2 -- emb.npy
$PY -c "import numpy as np, sys; a = np.load('emb.npy'); b = np.load('../emb2.npy'); sys.exit(int(a.shape != b.shape or bool((a == b).all())))" ||
	fail "the first version of emb.npy does not check out"
mvm fsck -q

# float64 (NumPy's default): 8 byte planes, under what zstd alone stores;
# a version with a tenth of the values nudged is a small delta; decimals
# that repeat their low bytes (prices) keep zstd's coding, which is smaller
$PY - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(2)
x = rng.standard_normal(300000) * 0.05
np.save('f64.npy', x)
y = x.copy()
y[::10] += rng.standard_normal(30000) * 1e-9
np.save('../f64b.npy', y)
np.save('prices.npy', np.round(100 + np.cumsum(rng.integers(-5, 6, 300000)) / 100, 2))
PYEOF
for f in f64.npy prices.npy; do
	before=$(du -sb .mvm/packs | cut -f1)
	mvm add -q "$f"
	mvm commit -q -m "$f"
	stored=$(($(du -sb .mvm/packs | cut -f1) - before))
	zsize=$(zstd -1 -c "$f" | wc -c)
	if [ "$f" = f64.npy ]; then
		[ $((stored * 100)) -lt $((zsize * 94)) ] || fail "f64.npy stored in $stored bytes, zstd -1 gives $zsize"
	else # byte planes would keep ~57%
		[ $((stored * 100)) -lt $(($(stat -c %s "$f") * 30)) ] || fail "prices.npy stored in $stored bytes"
	fi
done
mvm ls HEAD f64.npy | grep -Eq '^F64 +\[300000\] .* array$' || fail "f64 tensor: $(mvm ls HEAD f64.npy)"
before=$(du -sb .mvm/packs | cut -f1)
cp f64.npy "$SCRATCH/f64.copy"
cp ../f64b.npy f64.npy
mvm commit -q -a -m "f64 nudged"
grown=$(($(du -sb .mvm/packs | cut -f1) - before))
[ $((grown * 100)) -lt $(($(stat -c %s f64.npy) * 30)) ] || fail "the nudged f64 array grew the store by $grown"
mvm diff HEAD~1 HEAD --stats --json >"$SCRATCH/f64.json"
$PY - "$SCRATCH/f64.json" "$SCRATCH/f64.copy" f64.npy <<'PYEOF' || fail "--stats of the F64 array disagree with numpy"
import json, sys
import numpy as np
t = [t for f in json.load(open(sys.argv[1]))["files"] for t in f["tensors"] if t["name"] == "array"][0]
a, b = np.load(sys.argv[2]), np.load(sys.argv[3])
want = np.abs(b - a).max()
sys.exit(int(not (abs(t["max_abs_diff"] - want) <= 1e-6 * want and
                  abs(t["rel_l2"] - np.linalg.norm(b - a) / np.linalg.norm(a)) <= 1e-6 * t["rel_l2"])))
PYEOF
mvm checkout -q HEAD~1 -- f64.npy
cmp -s f64.npy "$SCRATCH/f64.copy" || fail "f64.npy does not check out to its bytes"
mvm fsck -q
