#!/bin/sh
# The chunk filter (.mvm/chunks.filter): an add answers "not stored" from
# it without reading the index, and dedup stays exact. A damaged, missing
# or overfull filter is rebuilt from the index; one that lost bits (as a
# crash can leave it) costs a chunk stored twice, which fsck names and gc
# reclaims, rebuilding the filter; checkouts stay bit-exact throughout.
. "$(dirname "$0")/lib.sh"

F=.mvm/chunks.filter
# header_added: the filter's count of ids added (u64 LE at byte 16)
header_added() { $PY -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1], "rb").read(24), 16)[0])' $F; }
chunk_rows() { $PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from chunks").fetchone()[0])' .mvm/mvm.db; }

mvm init repo >/dev/null
cd repo
"$STGEN" --size-mb 4 --seed 1 a.safetensors
sha_a=$(sha256sum <a.safetensors)
mvm add -q a.safetensors
mvm commit -q -m a
[ -s $F ] || fail "no chunk filter after the first add"
assert_eq "$(header_added)" "$(chunk_rows)" "ids in the filter after the first add"
expect_fsck_ok "after the first add"
p1=$(packs_bytes)

# add_copy NAME WHAT: a copy of a.safetensors with a new 1 MiB file beside it, in one
# add (so chunks of a stored again would land in a new pack, not rewrite the old
# one): the store grows by the new file only, a's chunks found through the filter
n=0
add_copy() {
	n=$((n + 1))
	before=$(packs_bytes)
	cp a.safetensors "$1.safetensors"
	"$STGEN" --size-mb 1 --seed $((100 + n)) "new$n.safetensors"
	mvm add -q "$1.safetensors" "new$n.safetensors" || fail "add $2"
	grew=$(($(packs_bytes) - before))
	[ "$grew" -gt 0 ] && [ "$grew" -lt $((p1 / 2)) ] || fail "store grew $grew bytes on an add $2 (a alone: $p1)"
}

# the same bytes under another name: every chunk is a "maybe", found in the index
add_copy b "of a copy"

# cut short, a wrong magic, gone, a count past its size: rebuilt from the index
for how in cut magic gone full; do
	case $how in
	cut) truncate -s 100 $F ;;
	magic) printf 'XXXXXXXX' | dd of=$F conv=notrunc 2>/dev/null ;;
	gone) rm $F ;;
	full) printf '\377\377\377\377\377\377\377\017' | dd of=$F bs=1 seek=16 conv=notrunc 2>/dev/null ;;
	esac
	add_copy "c_$how" "with the filter $how"
	assert_eq "$(header_added)" "$(chunk_rows)" "ids in the filter rebuilt ($how)"
	expect_fsck_ok "filter $how, rebuilt"
done
mvm commit -q -m copies

# every bit lost: fsck names the filter; an add stores a's chunks again, next to new ones
$PY - $F <<'PYEOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    n = len(f.read()) - 64
    f.seek(64)
    f.write(b'\0' * n)
PYEOF
# ruled_out: how many indexed chunks fsck says the filter rules out (fsck must exit 3)
ruled_out() {
	expect_exit 3 mvm fsck
	sed -n 's/.*chunks.filter.*rules out \([0-9]*\) of the [0-9]* indexed chunks.*mvm gc.*/\1/p' \
		"$SCRATCH/out" "$SCRATCH/err" | head -1
}
m0=$(ruled_out)
assert_eq "$m0" "$(chunk_rows)" "indexed chunks a filter of no bits rules out"
p2_before=$(packs_bytes)
"$STGEN" --size-mb 1 --seed 2 new.safetensors
cp a.safetensors d.safetensors
mvm add -q d.safetensors new.safetensors
mvm commit -q -m dup
p2=$(packs_bytes)
[ "$p2" -gt $((p2_before + p1 / 2)) ] || fail "a's chunks were not stored again ($p2_before -> $p2 bytes of packs)"
# the add put back the bits of what it indexed (a's chunks): the new files' are still out
m1=$(ruled_out)
[ -n "$m1" ] && [ "$m1" -gt 0 ] && [ "$m1" -lt "$m0" ] || fail "after the add the filter rules out $m1 of $m0"
rm -f b.safetensors c_*.safetensors d.safetensors a.safetensors new*.safetensors
mvm checkout -q HEAD -- .
assert_eq "$(sha256sum <d.safetensors)" "$sha_a" "checkout of the chunks stored twice"

# gc drops the second copies and rebuilds the filter
mvm gc >/dev/null
p3=$(packs_bytes)
[ "$p3" -lt $((p2 - p1 / 2)) ] || fail "gc kept the second copies ($p2 -> $p3 bytes of packs)"
assert_eq "$(header_added)" "$(chunk_rows)" "ids in the filter gc rebuilt"
expect_fsck_ok "after gc"
rm -f ./*.safetensors
mvm checkout -q HEAD -- .
assert_eq "$(sha256sum <a.safetensors)" "$sha_a" "checkout after gc"
assert_eq "$(sha256sum <d.safetensors)" "$sha_a" "checkout after gc"
echo ok
