#!/bin/sh
# PyTorch checkpoints (torch.save's zip archive, written by torchgen.py
# without torch): each storage is a tensor named by its state-dict keys,
# float-coded, delta-coded against the parent's same tensor, diffed by
# tensor, checked out to the same bytes; an archive mvm cannot read is
# plain bytes, never an error.
. "$(dirname "$0")/lib.sh"
TORCHGEN="$(dirname "$0")/../tools/torchgen.py"

$PY "$TORCHGEN" --size-mb 8 --layers 4 base.pt
$PY "$TORCHGEN" --size-mb 8 --layers 4 --noise 0.05 ft.pt
size=$(stat -c %s base.pt)
mvm init -q repo
cd repo
cp ../base.pt model.pt
mvm add -q model.pt
mvm commit -q -m base
mvm ls HEAD model.pt >"$SCRATCH/ls"
# nested keys name the storages; the tied head and the view add none; dtypes and shapes from the pickle
grep -Eq '^BF16 +\[584, 584\] .* model\.layers\.0\.attn\.weight$' "$SCRATCH/ls" || fail "no attn weight: $(cat "$SCRATCH/ls")"
grep -Eq '^BF16 +\[584\] .* model\.layers\.0\.norm\.weight$' "$SCRATCH/ls" || fail "no norm: $(cat "$SCRATCH/ls")"
grep -Eq '^I64 +\[4\] .* model\.steps$' "$SCRATCH/ls" || fail "no int64 buffer: $(cat "$SCRATCH/ls")"
grep -Eq '^F32 +\[584\] .* optimizer\.state\.0\.exp_avg$' "$SCRATCH/ls" || fail "no optimizer state: $(cat "$SCRATCH/ls")"
assert_eq "$(wc -l <"$SCRATCH/ls")" 15 "tensors listed"
grep -q 'lm_head\|norm\.half' "$SCRATCH/ls" && fail "a tied weight or a view listed as its own tensor"
base_bytes=$(du -sb .mvm/packs | cut -f1)
[ $((base_bytes * 100)) -lt $((size * 68)) ] || fail "base stored in $base_bytes of $size bytes"

cp ../ft.pt model.pt
mvm commit -q -a -m "full fine-tune"
grown=$(($(du -sb .mvm/packs | cut -f1) - base_bytes))
[ $((grown * 100)) -lt $((size * 45)) ] || fail "the full fine-tune grew the store by $grown of $size bytes"
mvm diff HEAD~1 HEAD >"$SCRATCH/diff"
grep -q '(14 tensors changed)' "$SCRATCH/diff" || fail "diff: $(cat "$SCRATCH/diff")"
grep -Eq 'modified +model\.layers\.3\.mlp\.weight' "$SCRATCH/diff" || fail "diff: $(cat "$SCRATCH/diff")"
rm model.pt
mvm checkout -q HEAD~1 -- model.pt
cmp -s model.pt ../base.pt || fail "the base does not check out to its bytes"
mvm checkout -q HEAD -- model.pt
cmp -s model.pt ../ft.pt || fail "the fine-tune does not check out to its bytes"
mvm fsck -q

# past 4 GiB every size and offset is in zip64 records: the same tensors
$PY "$TORCHGEN" --size-mb 8 --layers 4 --zip64 ../base64.pt
cp ../base64.pt model64.pt
mvm add -q model64.pt
mvm commit -q -m zip64
mvm ls HEAD model64.pt >"$SCRATCH/ls64"
cmp -s "$SCRATCH/ls" "$SCRATCH/ls64" || fail "zip64 archive lists otherwise: $(cat "$SCRATCH/ls64")"
rm model64.pt
mvm checkout -q HEAD -- model64.pt
cmp -s model64.pt ../base64.pt || fail "the zip64 archive does not check out to its bytes"

# torch.save(model): module objects' attributes name their weights
$PY "$TORCHGEN" --module --size-mb 1 module.pt
mvm add -q module.pt
mvm commit -q -m module
assert_eq "$(mvm ls HEAD module.pt | awk '{print $NF}' | sort | tr '\n' ' ')" \
	"_modules.body._modules.fc._parameters.weight _modules.body._parameters.weight _modules.embed._parameters.weight " \
	"module tensors"

# keys that make no name (empty, or starting with a NUL): the storage's key names the tensor
$PY "$TORCHGEN" --odd-keys --size-mb 1 odd.pt
mvm add -q odd.pt
mvm commit -q -m odd
mvm ls HEAD odd.pt >"$SCRATCH/odd"
grep -Eq ' data/0$' "$SCRATCH/odd" && grep -Eq ' data/1$' "$SCRATCH/odd" && grep -Eq ' ok$' "$SCRATCH/odd" ||
	fail "odd keys: $(cat "$SCRATCH/odd")"
rm odd.pt
mvm checkout -q HEAD -- odd.pt
mvm fsck -q

# what mvm cannot read is plain bytes, added and checked out all the same
$PY - ../base.pt <<'PYEOF'
import struct, sys, zipfile
src = open(sys.argv[1], 'rb').read()
open('cut.pt', 'wb').write(src[:len(src) // 2])                        # no central directory
at = zipfile.ZipFile(sys.argv[1]).getinfo('archive/data.pkl').header_offset
n, m = struct.unpack('<HH', src[at + 26:at + 30])
bad = bytearray(src); bad[at + 30 + n + m + 2] = 0xff                  # an opcode no pickle has
open('badpickle.pt', 'wb').write(bytes(bad))
with zipfile.ZipFile('plain.zip', 'w', zipfile.ZIP_DEFLATED) as z:     # a zip, but no checkpoint
    z.writestr('notes.txt', 'weights of the model ' * 1000)
with zipfile.ZipFile('nopickle.pt', 'w') as z:                         # storages without data.pkl
    z.writestr('archive/data/0', b'\0' * 4096)
PYEOF
for f in cut.pt badpickle.pt plain.zip nopickle.pt; do
	mvm add -q "$f" || fail "$f was not added as plain bytes"
done
mvm commit -q -m "plain bytes"
for f in cut.pt badpickle.pt plain.zip nopickle.pt; do
	cp "$f" "$SCRATCH/$f.copy"
	rm "$f"
	mvm checkout -q HEAD -- "$f"
	cmp -s "$f" "$SCRATCH/$f.copy" || fail "$f does not check out to its bytes"
	[ "$(mvm ls HEAD "$f" | wc -l)" -le 1 ] || fail "$f listed tensors: $(mvm ls HEAD "$f")"
done
mvm fsck -q
