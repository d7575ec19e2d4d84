#!/bin/sh
# Malformed safetensors/GGUF files: 'mvm add' exits 1 with one error line
# naming the file, and stages nothing: status, packs and log are unchanged.
. "$(dirname "$0")/lib.sh"

mvm init repo >/dev/null
cd repo
"$STGEN" --size-mb 1 --seed 1 good.safetensors
"$STGEN" --size-mb 1 --seed 2 --gguf good.gguf
echo "notes" >notes.txt
mvm add -q good.safetensors good.gguf notes.txt
mvm commit -q -m base
mkdir bad

# snap_full FILE: snap_state plus the raw pack listing and the tmp folder
snap_full() {
	snap_state "$1"
	ls -la .mvm/packs | awk 'NR>1{print $5, $NF}' >>"$1"
	echo "tmp: $(ls -A .mvm/tmp 2>/dev/null | wc -l)" >>"$1"
}

# expect_rejected FILE...: 'mvm add FILE...' exits 1 naming the first (bad) one
expect_rejected() {
	bad=$1
	snap_full "$SCRATCH/before"
	expect_error 1 "$(basename "$bad")" mvm add "$@"
	snap_full "$SCRATCH/after"
	cmp -s "$SCRATCH/before" "$SCRATCH/after" || {
		diff "$SCRATCH/before" "$SCRATCH/after" >&2 || :
		fail "mvm add $*: repository changed"
	}
	assert_eq "$(status_field staged)" "[]" "mvm add $*: staged list"
}

# --- every stgen corruption ---
for kind in truncated header-length bad-json overlap offsets-past-end dtype-size; do
	"$STGEN" --size-mb 1 --seed 3 --corrupt "$kind" "bad/$kind.safetensors"
	expect_rejected "bad/$kind.safetensors"
done

# --- hand-made bad files ---
head -c 4096 /dev/urandom >bad/random.safetensors
expect_rejected bad/random.safetensors
: >bad/empty.safetensors
expect_rejected bad/empty.safetensors
printf '\010\000\000\000\000\000\000\000{"a":1}' >bad/short-header.safetensors
expect_rejected bad/short-header.safetensors
# header length 2 but a 1-byte file body
printf '\002\000\000\000\000\000\000\000{' >bad/header-past-end.safetensors
expect_rejected bad/header-past-end.safetensors
# a header that is JSON but not an object
printf '\002\000\000\000\000\000\000\000[]' >bad/array.safetensors
expect_rejected bad/array.safetensors

# GGUF: truncated inside the tensor data, inside the header, and a bad version
"$STGEN" --size-mb 1 --seed 4 --gguf full.gguf
size=$(wc -c <full.gguf)
head -c $((size / 2)) full.gguf >bad/half.gguf
expect_rejected bad/half.gguf
head -c 40 full.gguf >bad/header-cut.gguf
expect_rejected bad/header-cut.gguf
head -c 4 full.gguf >bad/magic-only.gguf
expect_rejected bad/magic-only.gguf
cp full.gguf bad/version.gguf
printf '\143' | dd of=bad/version.gguf bs=1 seek=4 conv=notrunc 2>/dev/null
expect_rejected bad/version.gguf
grep -q "version" "$SCRATCH/err" || fail "bad GGUF version: error does not mention the version"
cp full.gguf bad/version0.gguf
printf '\000' | dd of=bad/version0.gguf bs=1 seek=4 conv=notrunc 2>/dev/null
expect_rejected bad/version0.gguf
# tensor count absurdly large
cp full.gguf bad/count.gguf
printf '\377\377\377\377\377\377\377\177' | dd of=bad/count.gguf bs=1 seek=8 conv=notrunc 2>/dev/null
expect_rejected bad/count.gguf
rm full.gguf

# --- a good file together with a bad one stages nothing (either order) ---
"$STGEN" --size-mb 1 --seed 5 new.safetensors
expect_rejected bad/overlap.safetensors new.safetensors
snap_full "$SCRATCH/before"
expect_error 1 "overlap.safetensors" mvm add new.safetensors bad/overlap.safetensors
snap_full "$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" || fail "good + bad add changed the repository"
assert_eq "$(status_field staged)" "[]" "good + bad: staged"
# a folder holding one bad file stages nothing either
mkdir mixed
cp new.safetensors mixed/a.safetensors
cp bad/dtype-size.safetensors mixed/b.safetensors
echo "x" >mixed/c.txt
snap_full "$SCRATCH/before"
expect_error 1 "b.safetensors" mvm add mixed
snap_full "$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" || fail "adding a folder with a bad file changed the repository"
assert_eq "$(status_field staged)" "[]" "folder with a bad file: staged"

# --- a tracked file that turns malformed: add and commit -a refuse ---
cp bad/bad-json.safetensors good.safetensors
snap_full "$SCRATCH/before"
expect_error 1 "good.safetensors" mvm add good.safetensors
expect_error 1 "good.safetensors" mvm commit -a -m "broken"
snap_full "$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" || fail "a malformed tracked file changed the repository"
assert_eq "$(mvm log --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1 "no version was made"
assert_eq "$(status_field modified)" "['good.safetensors']" "the malformed file shows as modified"
mvm checkout -q HEAD -- good.safetensors
mvm cat HEAD:good.safetensors | cmp -s - good.safetensors || fail "restored good.safetensors"

# the good files still add and commit fine afterwards, and nothing leaked
rm -rf bad mixed
mvm add new.safetensors
mvm commit -q -m "new"
expect_clean "after the malformed adds"
[ -z "$(ls -A .mvm/tmp 2>/dev/null)" ] || fail ".mvm/tmp has leftovers: $(ls -A .mvm/tmp)"
expect_fsck_ok
mvm gc -q
expect_fsck_ok "fsck after gc"
