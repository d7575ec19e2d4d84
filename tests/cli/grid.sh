#!/bin/sh
# The chunk grid inside tensors is the repository's own, read from its
# metadata: a new repository cuts tensors every 256 KiB; one made when the
# grid was 64 KiB (its metadata says so) keeps cutting every 64 KiB, so
# its new versions still dedup and delta against the old ones; a chunker
# this mvm does not know stops add and diff with one line, changing nothing.
. "$(dirname "$0")/lib.sh"

sql() { $PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [c.execute(s) for s in sys.argv[2:]]; c.commit()' "$@"; }
sql_get() { $PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$@"; }

# grid_of LS_JSON FILE: the grid (65536 or 262144) whose chunk ids give every listed tensor digest, else "none"
grid_of() {
	$PY - "$1" "$2" <<'PYEOF'
import hashlib, json, sys
data = open(sys.argv[2], "rb").read()
tensors = json.load(open(sys.argv[1]))
assert any(t["length"] > 262144 for t in tensors), "no tensor spans more than one grid chunk"
def digest(b, g):
    return hashlib.sha256(b"".join(hashlib.sha256(b[i:i + g]).digest() for i in range(0, len(b), g))).hexdigest()
for g in (65536, 262144):
    if all(digest(data[t["offset"]:t["offset"] + t["length"]], g) == t["digest"] for t in tensors):
        print(g)
        break
else:
    print("none")
PYEOF
}

# add_base NAME GRID: commit the base model here; its tensor digests must follow GRID-byte chunks
add_base() {
	cp ../base.safetensors m.safetensors
	mvm add -q m.safetensors
	mvm commit -q -m base
	mvm ls HEAD m.safetensors --json >"$SCRATCH/$1.json"
	assert_eq "$(grid_of "$SCRATCH/$1.json" m.safetensors)" "$2" "grid of the $1 repository"
}

"$STGEN" --size-mb 8 --seed 5 base.safetensors
"$STGEN" --size-mb 8 --seed 5 --perturb 1 --noise 0.05 ft.safetensors

# --- a new repository: 256 KiB ---
mvm init -q new
cd new
assert_eq "$(sql_get .mvm/mvm.db "SELECT value FROM meta WHERE key = 'chunker'")" \
	"fastcdc-v1 16384/65536/262144 tensor-grid 262144" "chunker of a new repository"
add_base new 262144
[ "$(sql_get .mvm/mvm.db "SELECT max(raw_len) FROM chunks")" -eq 262144 ] || fail "no 256 KiB chunk stored"
cp ../ft.safetensors m.safetensors
mvm commit -q -a -m ft
[ "$(sql_get .mvm/mvm.db "SELECT count(*) FROM chunks WHERE codec = 4 AND raw_len = 262144")" -gt 0 ] ||
	fail "no 256 KiB codec-4 deltas"
expect_fsck_ok "fsck of the new repository"
cd ..

# --- a repository made with the 64 KiB grid ---
mvm init -q old
cd old
sql .mvm/mvm.db "UPDATE meta SET value = 'fastcdc-v1 16384/65536/262144 tensor-grid 65536' WHERE key = 'chunker'"
add_base old 65536
[ "$(sql_get .mvm/mvm.db "SELECT max(raw_len) FROM chunks")" -le 65536 ] || fail "a chunk over 64 KiB in a 64 KiB repository"
chunks=$(sql_get .mvm/mvm.db "SELECT count(*) FROM chunks")
# the same bytes under another name: every chunk already stored
cp m.safetensors copy.safetensors
mvm add -q copy.safetensors
assert_eq "$(sql_get .mvm/mvm.db "SELECT count(*) FROM chunks")" "$chunks" "a copy added to a 64 KiB repository stores new chunks"
mvm diff --json -- copy.safetensors >/dev/null
cp ../ft.safetensors m.safetensors
mvm diff --json -- m.safetensors >"$SCRATCH/d.json"
assert_eq "$(json_get "$SCRATCH/d.json" 'sorted(set(t["status"] for t in j["files"][0]["tensors"]))')" "['modified']" \
	"working-tree diff in a 64 KiB repository"
mvm commit -q -a -m ft
[ "$(sql_get .mvm/mvm.db "SELECT count(*) FROM chunks WHERE codec = 4 AND raw_len = 65536")" -gt 0 ] ||
	fail "no 64 KiB codec-4 deltas in a 64 KiB repository"
expect_fsck_ok "fsck of the 64 KiB repository"
mvm checkout -q HEAD~1 -- m.safetensors
cmp -s m.safetensors ../base.safetensors || fail "64 KiB repository: base differs after checkout"
mvm checkout -q HEAD -- m.safetensors
cmp -s m.safetensors ../ft.safetensors || fail "64 KiB repository: fine-tune differs after checkout"

# --- the first builds' name for the chunker: those repositories have been cut on the 64 KiB grid since ---
cd ..
mvm init -q first
cd first
sql .mvm/mvm.db "UPDATE meta SET value = 'fastcdc-v1 16384/65536/262144 tensor-aligned' WHERE key = 'chunker'"
add_base first 65536
cd ../old

# --- a chunker this mvm does not know ---
for bad in "fastcdc-v1 16384/65536/262144 tensor-grid 100000" "fastcdc-v1 16384/65536/262144 tensor-grid 524288" \
	"fastcdc-v1 16384/65536/262144 tensor-grid 65536x" "fastcdc-v2 16384/65536/262144 tensor-grid 65536" \
	"fastcdc-v1 16384/65536/262144 tensor-grid "; do
	sql .mvm/mvm.db "UPDATE meta SET value = '$bad' WHERE key = 'chunker'"
	cp ../base.safetensors m.safetensors
	snap_state "$SCRATCH/before"
	expect_error 1 "repository chunker '$bad' is not one this mvm knows" mvm add m.safetensors
	expect_error 1 "is not one this mvm knows" mvm diff -- m.safetensors
	expect_unchanged "$SCRATCH/before" "add under chunker '$bad'"
done
