#!/bin/sh
# gc: drops what no branch, tag, HEAD or the stage reaches, shrinks the
# store, keeps every reachable version bit-exact, and is idempotent.
. "$(dirname "$0")/lib.sh"

gc_json() { mvm gc --json >"$SCRATCH/gc.json"; }

mvm init repo >/dev/null
cd repo
mkdir -p "$SCRATCH/sums"

# save_version NAME: remember the sha256 of every tracked file for NAME
save_version() {
	mvm ls HEAD --json | $PY -c 'import json,sys; print("\n".join(f["path"] for f in json.load(sys.stdin)))' >"$SCRATCH/sums/$1.files"
	xargs sha256sum <"$SCRATCH/sums/$1.files" >"$SCRATCH/sums/$1"
}
# check_version REV NAME: checkout REV, compare with the saved sums, clean status
check_version() {
	mvm checkout -q "$1" || fail "checkout $1"
	sha256sum -c --quiet "$SCRATCH/sums/$2" || fail "checkout $1 is not bit-exact"
	assert_eq "$(find . -path ./.mvm -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort)" \
		"$(LC_ALL=C sort "$SCRATCH/sums/$2.files")" "files of $1"
	expect_clean "checkout $1"
}

# --- history on main, a tag, a side branch that will be deleted ---
"$STGEN" --size-mb 3 --seed 1 model.safetensors
echo "cfg 1" >config.yaml
mvm add -q model.safetensors config.yaml
mvm commit -q -m m1
save_version m1
m1=$(head_id)
"$STGEN" --size-mb 3 --seed 1 --perturb 0.3 model.safetensors
mvm commit -q -a -m m2
save_version m2
m2=$(head_id)
mvm branch side
mvm switch -q side
"$STGEN" --size-mb 3 --seed 50 model.safetensors   # all new chunks
"$STGEN" --size-mb 2 --seed 51 extra.safetensors
mvm add -q model.safetensors extra.safetensors
mvm commit -q -m s1
s1=$(head_id)
"$STGEN" --size-mb 3 --seed 52 model.safetensors
mvm commit -q -a -m s2
s2=$(head_id)
# a tagged side version stays
mvm branch tagged "$m2"
mvm switch -q tagged
"$STGEN" --size-mb 2 --seed 60 tagged.safetensors
mvm add -q tagged.safetensors
mvm commit -q -m t1
save_version t1
t1=$(head_id)
mvm tag keep-t1
mvm switch -q main
mvm branch -d tagged >/dev/null
expect_fsck_ok "before gc"

# nothing is garbage yet: gc removes nothing
before=$(packs_bytes)
gc_json
assert_eq "$(json_get "$SCRATCH/gc.json" '[j["chunks_removed"], j["objects_removed"]]')" "[0, 0]" "gc with no garbage"
assert_eq "$(packs_bytes)" "$before" "store size after a no-op gc"
assert_eq "$(json_get "$SCRATCH/gc.json" 'sorted(j)')" \
	"['bytes_after', 'bytes_before', 'chunks_removed', 'objects_removed', 'packs_after', 'packs_before']" "gc --json fields"

# --- deleting the side branch makes s1 and s2 garbage ---
mvm branch -d side >/dev/null
before=$(packs_bytes)
gc_json
after=$(packs_bytes)
[ "$after" -lt "$before" ] || fail "gc did not shrink the store ($before -> $after)"
# s1/s2 held ~8 MB of unique (compressed ~6 MB) data
[ $((before - after)) -gt 3000000 ] || fail "gc freed only $((before - after)) bytes"
[ "$(json_get "$SCRATCH/gc.json" 'j["chunks_removed"] > 0 and j["objects_removed"] > 0')" = True ] || fail "gc --json removal counts"
assert_eq "$(json_get "$SCRATCH/gc.json" 'j["bytes_before"]')" "$before" "gc --json bytes_before"
assert_eq "$(json_get "$SCRATCH/gc.json" 'j["bytes_after"]')" "$after" "gc --json bytes_after"
assert_eq "$(json_get "$SCRATCH/gc.json" 'j["packs_after"]')" "$(ls .mvm/packs | wc -l)" "gc --json packs_after"
expect_fsck_ok "after gc"
# the unreachable versions are gone, the reachable ones are all intact
expect_error 1 "" mvm show "$s1"
expect_error 1 "" mvm show "$s2"
check_version "$m1" m1
check_version "$m2" m2
check_version keep-t1 t1
check_version main m2
mvm log --json >"$SCRATCH/log.json"
assert_eq "$(json_get "$SCRATCH/log.json" '[v["id"] for v in j]')" "['$m2', '$m1']" "main's history after gc"

# --- a second gc is a no-op ---
ls -l .mvm/packs >"$SCRATCH/packs.1"
gc_json
assert_eq "$(json_get "$SCRATCH/gc.json" '[j["chunks_removed"], j["objects_removed"], j["bytes_before"] == j["bytes_after"], j["packs_before"] == j["packs_after"]]')" \
	"[0, 0, True, True]" "second gc"
ls -l .mvm/packs | cmp -s - "$SCRATCH/packs.1" || fail "second gc touched the packs"
expect_fsck_ok "after the second gc"

# --- staged but uncommitted data survives gc ---
"$STGEN" --size-mb 3 --seed 70 staged.safetensors
cp staged.safetensors "$SCRATCH/staged.orig"
mvm add -q staged.safetensors
gc_json
assert_eq "$(json_get "$SCRATCH/gc.json" 'j["chunks_removed"]')" 0 "gc removed staged chunks"
expect_fsck_ok "after gc with a stage"
# the stage still holds it even with the working file gone: commit, then restore it
rm staged.safetensors
mvm commit -q -m "staged" || fail "commit of the staged file after gc"
mvm checkout -q HEAD -- staged.safetensors
cmp -s staged.safetensors "$SCRATCH/staged.orig" || fail "staged file after gc is not bit-exact"
save_version m3
m3=$(head_id)
# replacing a staged file before committing makes the old staged data garbage
"$STGEN" --size-mb 3 --seed 71 staged.safetensors
mvm add -q staged.safetensors
"$STGEN" --size-mb 3 --seed 72 staged.safetensors
cp staged.safetensors "$SCRATCH/staged.72"
mvm add -q staged.safetensors
before=$(packs_bytes)
gc_json
[ "$(packs_bytes)" -lt "$before" ] || fail "gc kept data of a replaced staged file"
mvm commit -q -m "staged 72"
mvm cat HEAD:staged.safetensors | cmp -s - "$SCRATCH/staged.72" || fail "re-staged file after gc"
save_version m4
expect_fsck_ok "after staged gc"

# --- a detached HEAD keeps its versions; leaving it makes them garbage ---
mvm checkout -q "$m1"
"$STGEN" --size-mb 2 --seed 80 detached.safetensors
mvm add -q detached.safetensors
mvm commit -q -m "detached"
d1=$(head_id)
save_version d1
gc_json
assert_eq "$(json_get "$SCRATCH/gc.json" '[j["chunks_removed"], j["objects_removed"]]')" "[0, 0]" "gc while detached"
check_version "$d1" d1
mvm switch -q main
before=$(packs_bytes)
gc_json
[ "$(packs_bytes)" -lt "$before" ] || fail "gc kept an abandoned detached version"
expect_error 1 "" mvm show "$d1"

# --- every remaining version is still bit-exact ---
check_version "$m1" m1
check_version "$m2" m2
check_version "$m3" m3
check_version keep-t1 t1
check_version main m4
expect_fsck_ok "at the end"
gc_json
assert_eq "$(json_get "$SCRATCH/gc.json" '[j["chunks_removed"], j["objects_removed"]]')" "[0, 0]" "final gc is a no-op"
