#!/bin/sh
# cat: whole files are the original bytes; --tensor is exactly the tensor's
# byte range from the safetensors header (or the GGUF tensor listing).
. "$(dirname "$0")/lib.sh"

mvm init repo >/dev/null
cd repo
mkdir -p sub/deep
"$STGEN" --size-mb 2 --seed 1 --special model.safetensors
"$STGEN" --size-mb 1 --seed 2 --special --dtype F32 sub/f32.safetensors
"$STGEN" --size-mb 1 --seed 3 --special --dtype F16 --gguf sub/model.gguf
printf 'line 1\nline 2' >sub/deep/notes.txt
: >empty.txt
head -c 300000 /dev/urandom >blob.bin
mkst odd.safetensors one:U8:1:1 three:BF16:3:2 five:U8:5:3 f:F32:7:4
mkdir keep
for f in model.safetensors sub/f32.safetensors sub/model.gguf sub/deep/notes.txt empty.txt blob.bin odd.safetensors; do
	mkdir -p "keep/v1/$(dirname "$f")"
	cp "$f" "keep/v1/$f"
done
mvm add -q model.safetensors sub empty.txt blob.bin odd.safetensors
mvm commit -q -m v1
v1=$(head_id)

# a second version changes some files; v1 must still cat to the old bytes
"$STGEN" --size-mb 2 --seed 1 --special --perturb 0.5 model.safetensors
printf 'other' >sub/deep/notes.txt
cp model.safetensors "$SCRATCH/model.v2"
mvm commit -q -a -m v2

# --- whole files, both versions ---
for f in model.safetensors sub/f32.safetensors sub/model.gguf sub/deep/notes.txt empty.txt blob.bin odd.safetensors; do
	mvm cat "$v1:$f" >"$SCRATCH/cat.out"
	cmp "$SCRATCH/cat.out" "keep/v1/$f" || fail "cat $v1:$f differs from the original"
	mvm cat "HEAD:$f" >"$SCRATCH/cat.out"
	cmp "$SCRATCH/cat.out" "$f" || fail "cat HEAD:$f differs from the working file"
done
cmp -s keep/v1/model.safetensors model.safetensors && fail "the perturbed model did not change"
mvm cat "$v1:empty.txt" | wc -c | grep -qx 0 || fail "cat of an empty file"
# other revision spellings and a file deleted from the working tree
mvm cat "HEAD~1:sub/deep/notes.txt" | cmp -s - keep/v1/sub/deep/notes.txt || fail "cat HEAD~1:PATH"
mvm cat "$(echo "$v1" | cut -c1-8):blob.bin" | cmp -s - keep/v1/blob.bin || fail "cat PREFIX:PATH"
rm blob.bin
mvm cat HEAD:blob.bin | cmp -s - keep/v1/blob.bin || fail "cat of a file missing from the working tree"
mvm checkout -q HEAD -- blob.bin

# --- --tensor: every tensor of the --special files equals its header byte range ---
# tensors NAME...: names of a safetensors file ordered by offset
tensors_by_offset() {
	$PY - "$1" <<'PYEOF'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
h.pop("__metadata__", None)
for k in sorted(h, key=lambda k: h[k]["data_offsets"][0]):
    print(k)
PYEOF
}
check_tensor() { # REV FILE-IN-REPO ORIGINAL-FILE NAME
	mvm cat "$1:$2" --tensor "$4" >"$SCRATCH/t.out" || fail "cat $1:$2 --tensor $4 failed"
	st_tensor_bytes "$3" "$4" "$SCRATCH/t.ref"
	cmp "$SCRATCH/t.out" "$SCRATCH/t.ref" || fail "cat $1:$2 --tensor $4: wrong bytes"
}

tensors_by_offset keep/v1/model.safetensors >"$SCRATCH/names"
n=$(wc -l <"$SCRATCH/names")
[ "$n" -gt 10 ] || fail "too few tensors"
first=$(sed -n 1p "$SCRATCH/names")
middle=$(sed -n "$((n / 2))p" "$SCRATCH/names")
last=$(sed -n "${n}p" "$SCRATCH/names")
for t in "$first" "$middle" "$last" model.special_odd.bias model.special_zero.weight; do
	check_tensor "$v1" model.safetensors keep/v1/model.safetensors "$t"
	check_tensor HEAD model.safetensors "$SCRATCH/model.v2" "$t"
done
# the odd-length tensor really is odd-length and unaligned for the next one
[ "$(wc -c <"$SCRATCH/t.out")" -gt 0 ] || fail "empty tensor output"
mvm cat "$v1:model.safetensors" --tensor model.special_odd.bias | wc -c | grep -qx 6 || fail "special_odd.bias is 3 BF16 = 6 bytes"
# every tensor of the F32 file and of the hand-made odd-sized file
for t in $(tensors_by_offset keep/v1/sub/f32.safetensors); do
	check_tensor "$v1" sub/f32.safetensors keep/v1/sub/f32.safetensors "$t"
done
for t in one three five f; do
	check_tensor "$v1" odd.safetensors keep/v1/odd.safetensors "$t"
done
mvm cat "$v1:odd.safetensors" --tensor one | wc -c | grep -qx 1 || fail "1-byte tensor"

# --- GGUF: --tensor equals the listed range, whose 256 KiB grid chunks give the listed digest ---
mvm ls "$v1" sub/model.gguf --json >"$SCRATCH/g.json"
$PY - "$SCRATCH/g.json" >"$SCRATCH/gnames" <<'PYEOF'
import json, sys
j = sorted(json.load(open(sys.argv[1])), key=lambda t: t["offset"])
for t in [j[0], j[len(j) // 2], j[-1]]:
    print(t["name"], t["offset"], t["length"], t["digest"])
PYEOF
while read -r name off len sha; do
	mvm cat "$v1:sub/model.gguf" --tensor "$name" >"$SCRATCH/g.out"
	$PY - keep/v1/sub/model.gguf "$off" "$len" "$SCRATCH/g.out" "$sha" <<'PYEOF' || fail "GGUF --tensor $name"
import hashlib, sys
data = open(sys.argv[1], "rb").read()
off, n = int(sys.argv[2]), int(sys.argv[3])
got = open(sys.argv[4], "rb").read()
assert got == data[off:off + n], "bytes differ"
ids = b"".join(hashlib.sha256(got[i:i + 262144]).digest() for i in range(0, len(got), 262144))
assert hashlib.sha256(ids).hexdigest() == sys.argv[5], "digest differs"
PYEOF
done <"$SCRATCH/gnames"
[ "$(wc -l <"$SCRATCH/gnames")" -eq 3 ] || fail "GGUF names"

# --- errors ---
expect_error 1 "no tensor 'nope'" mvm cat "$v1:model.safetensors" --tensor nope
[ ! -s "$SCRATCH/out" ] || fail "unknown tensor wrote data to stdout"
expect_error 1 "" mvm cat "$v1:sub/model.gguf" --tensor nope
expect_error 1 "" mvm cat "$v1:sub/deep/notes.txt" --tensor x
expect_error 1 "" mvm cat "$v1:nothere.safetensors" --tensor x
expect_error 1 "" mvm cat "$v1:sub"
expect_error 1 "" mvm cat "$v1:sub/"
expect_error 2 "" mvm cat "$v1:model.safetensors" --tensor
expect_error 2 "" mvm cat "$v1:model.safetensors" "HEAD:blob.bin"
expect_error 2 "" mvm cat ":model.safetensors"
expect_error 2 "" mvm cat "$v1:"
mvm fsck -q

# --- a model large enough that reads of 4 MiB and more decode on the pool, in batches, as a
# checkout does: the whole file, and every tensor, which starts and ends mid-chunk and mid-batch ---
"$STGEN" --size-mb 40 --seed 9 big.safetensors
cp big.safetensors "$SCRATCH/big.orig"
mvm add -q big.safetensors
mvm commit -q -m big
rm big.safetensors
mvm cat HEAD:big.safetensors | cmp -s - "$SCRATCH/big.orig" || fail "cat of a 40 MiB file"
large=0
for t in $(tensors_by_offset "$SCRATCH/big.orig"); do
	check_tensor HEAD big.safetensors "$SCRATCH/big.orig" "$t"
	[ "$(wc -c <"$SCRATCH/t.out")" -lt 4194304 ] || large=$((large + 1))
done
[ "$large" -ge 2 ] || fail "only $large tensors of 4 MiB or more: the pooled reads went untested"
mvm checkout -q HEAD -- big.safetensors
