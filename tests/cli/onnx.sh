#!/bin/sh
# ONNX models (written by Debian's python3-onnx): each raw_data
# initializer is a tensor, float-coded and delta-coded against the
# parent's same initializer, diffed by name, checked out to the same
# bytes (which onnx.checker accepts); a truncated model, or a file that
# only has the name, is plain bytes.
. "$(dirname "$0")/lib.sh"

mvm init -q repo
cd repo
$PY - <<'PYEOF'
import numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
def model(noise):
    rng = np.random.default_rng(5)
    w = {'fc1.weight': (rng.standard_normal((512, 256)) * 0.02).astype(np.float32),
         'fc1.bias': np.zeros(512, dtype=np.float32),
         'fc2.weight': (rng.standard_normal((64, 512)) * 0.02).astype(np.float32),
         'steps': np.arange(7, dtype=np.int64),
         'nine_dims': np.zeros([1] * 8 + [2], dtype=np.float32)}  # more dims than mvm keeps: plain bytes
    moved = np.random.default_rng(9)
    for k in ('fc1.weight', 'fc2.weight'):
        w[k] = w[k] + (moved.standard_normal(w[k].shape) * 0.02 * noise).astype(np.float32)
    nodes = [helper.make_node('Gemm', ['x', 'fc1.weight', 'fc1.bias'], ['h'], transB=1),
             helper.make_node('Relu', ['h'], ['r']),
             helper.make_node('Transpose', ['fc2.weight'], ['fc2.wt']),
             helper.make_node('MatMul', ['r', 'fc2.wt'], ['y'])]
    g = helper.make_graph(nodes, 'mlp', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 256])],
                          [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 64])],
                          [numpy_helper.from_array(v, k) for k, v in w.items()])
    m = helper.make_model(g, producer_name='mvm-test')
    onnx.checker.check_model(m)
    return m
onnx.save(model(0), 'mlp.onnx')
onnx.save(model(0.05), '../mlp2.onnx')
open('cut.onnx', 'wb').write(open('mlp.onnx', 'rb').read()[:300000])
open('notes.onnx', 'w').write('not a model\n' * 100)
PYEOF
size=$(stat -c %s mlp.onnx)
mvm add -q mlp.onnx
mvm commit -q -m mlp
mvm ls HEAD mlp.onnx >"$SCRATCH/ls"
grep -Eq '^F32 +\[512, 256\] .* fc1\.weight$' "$SCRATCH/ls" && grep -Eq '^F32 +\[512\] .* fc1\.bias$' "$SCRATCH/ls" &&
	grep -Eq '^F32 +\[64, 512\] .* fc2\.weight$' "$SCRATCH/ls" && grep -Eq '^I64 +\[7\] .* steps$' "$SCRATCH/ls" &&
	[ "$(wc -l <"$SCRATCH/ls")" -eq 4 ] || fail "onnx tensors: $(cat "$SCRATCH/ls")"
base=$(du -sb .mvm/packs | cut -f1)
[ $((base * 100)) -lt $((size * 86)) ] || fail "mlp.onnx stored in $base of $size bytes"
cp ../mlp2.onnx mlp.onnx
mvm commit -q -a -m "fine-tuned"
grown=$(($(du -sb .mvm/packs | cut -f1) - base))
[ $((grown * 100)) -lt $((size * 80)) ] || fail "the fine-tune grew the store by $grown of $size bytes"
mvm diff HEAD~1 HEAD >"$SCRATCH/diff"
grep -q '(2 tensors changed)' "$SCRATCH/diff" && grep -Eq 'modified +fc2\.weight' "$SCRATCH/diff" ||
	fail "diff: $(cat "$SCRATCH/diff")"
mvm checkout -q HEAD~1 -- mlp.onnx
$PY -c "import onnx; onnx.checker.check_model(onnx.load('mlp.onnx'))" || fail "the base does not load after checkout"
mvm checkout -q HEAD -- mlp.onnx
cmp -s mlp.onnx ../mlp2.onnx || fail "the fine-tune does not check out to its bytes"

mvm add -q cut.onnx notes.onnx
mvm commit -q -m plain
for f in cut.onnx notes.onnx; do
	mvm ls HEAD "$f" | grep -q 'is not a tensor file' || fail "$f listed as tensors: $(mvm ls HEAD "$f")"
	cp "$f" "$SCRATCH/$f.copy"
	rm "$f"
	mvm checkout -q HEAD -- "$f"
	cmp -s "$f" "$SCRATCH/$f.copy" || fail "$f does not check out to its bytes"
done
mvm fsck -q
