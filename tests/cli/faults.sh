#!/bin/sh
# Faults: kill -9 during add, commit -a, checkout and gc leaves a repository
# that fsck accepts and that a re-run completes bit-exactly; concurrent
# writers serialize; damaged or truncated packs are reported (exit 3) and
# never produce a wrong file.
. "$(dirname "$0")/lib.sh"

KILLED=0
# run_killed SECS ARGS...: start 'mvm ARGS', kill -9 it after SECS seconds.
# Counts real kills in KILLED; a run that ended by itself must have succeeded.
run_killed() {
	secs=$1; shift
	"$MVM" "$@" >"$SCRATCH/killed.out" 2>&1 &
	pid=$!
	sleep "$secs"
	kill -9 "$pid" 2>/dev/null || :
	set +e
	wait "$pid" 2>/dev/null   # (no "Killed" from the shell)
	rc=$?
	set -e
	if [ $rc -eq 137 ]; then
		KILLED=$((KILLED + 1))
	elif [ $rc -ne 0 ]; then
		cat "$SCRATCH/killed.out" >&2
		fail "mvm $* exited $rc before it was killed"
	fi
}

# timed ARGS...: run 'mvm ARGS' and set T_MS to its wall time in milliseconds
timed() {
	t0=$(date +%s%3N)
	mvm "$@"
	T_MS=$(($(date +%s%3N) - t0))
}
# delays MS FRACTION...: kill delays in seconds, as fractions of a run of MS ms
delays() {
	ms=$1; shift
	for f in "$@"; do
		awk -v ms="$ms" -v f="$f" 'BEGIN { d = ms * f / 1000; if (d < 0.01) d = 0.01; printf "%.3f\n", d }'
	done
}

# clone_repo SRC DST: a copy of repository SRC whose pack files are hard links
# (packs are immutable: mvm only creates and deletes them, so sharing them is
# safe and saves copying hundreds of MB per trial; a pack changed in place
# would show up as fsck failures in later trials). Working files are hard
# linked too: checkout replaces files by rename, never writes into them.
clone_repo() {
	mkdir -p "$2/.mvm"
	for f in "$1"/.mvm/* "$1"/.mvm/.[!.]*; do
		[ -e "$f" ] || continue
		case ${f##*/} in
		packs) cp -al "$f" "$2/.mvm/packs" ;;
		*) cp -a "$f" "$2/.mvm/" ;;
		esac
	done
	for f in "$1"/* "$1"/.[!.]*; do
		[ -e "$f" ] || continue
		case ${f##*/} in
		.mvm) ;;
		*) cp -al "$f" "$2/" ;;
		esac
	done
}

n_versions() { mvm log --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# expect_chain N: log has N versions, each the first parent of the one before,
# and the current branch points at the newest
expect_chain() {
	mvm log --json >"$SCRATCH/chain.json"
	assert_eq "$(json_get "$SCRATCH/chain.json" 'len(j)')" "$1" "number of versions"
	assert_eq "$(json_get "$SCRATCH/chain.json" 'all(v["parents"] == [j[i + 1]["id"]] for i, v in enumerate(j[:-1])) and j[-1]["parents"] == []')" \
		True "log is a parent chain"
	assert_eq "$(rev_id main)" "$(json_get "$SCRATCH/chain.json" 'j[0]["id"]')" "main points at the newest version"
}

"$STGEN" --size-mb 200 --seed 1 "$SCRATCH/big.orig"
"$STGEN" --size-mb 200 --seed 1 --perturb 0.3 "$SCRATCH/big.pert"
chmod a-w "$SCRATCH/big.orig" "$SCRATCH/big.pert"   # hard-linked into the repos below
sum_orig=$(sha256sum <"$SCRATCH/big.orig")
sum_pert=$(sha256sum <"$SCRATCH/big.pert")

# reference repository: uninterrupted runs of what gets killed below, timed
# so the kills land early, midway and late whatever the machine's speed:
# add + commit of big.orig (v1), commit -a of big.pert (v2), checkout v1.
# One reference run can be slowed by other work on the machine, so each
# series also kills at 5% of it, which lands inside even a run 10x faster.
# tmpl1 keeps the state at v1.
mvm init -q ref >/dev/null
cd ref
ln "$SCRATCH/big.orig" big.safetensors
timed add -q big.safetensors
t_add=$T_MS
mvm commit -q -m v1
mvm tag v1
ref_bytes=$(packs_bytes)
cd "$SCRATCH"
cp -a ref tmpl1
cd ref
rm big.safetensors
ln "$SCRATCH/big.pert" big.safetensors
timed commit -q -a -m v2
t_commit=$T_MS
v1=$(rev_id v1)
v2=$(head_id)
timed checkout -q v1
t_checkout=$T_MS
assert_eq "$(sha256sum <big.safetensors)" "$sum_orig" "uninterrupted checkout v1"
mvm checkout -q main
cd "$SCRATCH"
echo "uninterrupted: add ${t_add} ms, commit -a ${t_commit} ms, checkout ${t_checkout} ms" >&2

# --- (a) kill -9 during add ---
i=0
for d in $(delays "$t_add" 0.05 0.1 0.6); do
	i=$((i + 1))
	mvm init -q "a$i" >/dev/null
	cd "a$i"
	ln "$SCRATCH/big.orig" big.safetensors
	run_killed "$d" add big.safetensors
	expect_fsck_ok "fsck after kill -9 during add (${d}s)"
	mvm add -q big.safetensors || fail "add re-run after kill (${d}s)"
	mvm commit -q -m v1 || fail "commit after killed add (${d}s)"
	expect_chain 1
	[ -z "$(ls -A .mvm/tmp)" ] || fail "debris left in .mvm/tmp after kill (${d}s): $(ls .mvm/tmp)"
	rm big.safetensors
	mvm checkout -q HEAD -- big.safetensors
	assert_eq "$(sha256sum <big.safetensors)" "$sum_orig" "checkout after killed add (${d}s)"
	mvm gc -q
	# nothing leaked: after gc the store is no bigger than an uninterrupted one
	[ "$(packs_bytes)" -le $((ref_bytes + ref_bytes / 100 + 65536)) ] ||
		fail "store after killed add + gc is $(packs_bytes) bytes, uninterrupted $ref_bytes"
	cd "$SCRATCH"
	rm -rf "a$i"
done
[ "$KILLED" -ge 1 ] || fail "no add run was actually killed"

# --- (b1) kill -9 during commit -a ---
KILLED=0
i=0
for d in $(delays "$t_commit" 0.05 0.2 0.6); do
	i=$((i + 1))
	mkdir "c$i"
	clone_repo tmpl1 "c$i"
	cd "c$i"
	rm big.safetensors
	ln "$SCRATCH/big.pert" big.safetensors
	run_killed "$d" commit -a -m v2
	expect_fsck_ok "fsck after kill -9 during commit -a (${d}s)"
	n=$(n_versions)
	case $n in
	1) mvm commit -q -a -m v2 || fail "commit -a re-run after kill (${d}s)" ;;
	2) expect_error 1 "nothing to commit" mvm commit -a -m v2 ;;
	*) fail "after a killed commit -a there are $n versions" ;;
	esac
	expect_chain 2
	mvm cat HEAD:big.safetensors | sha256sum | cut -d' ' -f1 | grep -qx "${sum_pert%% *}" || fail "HEAD content after killed commit -a (${d}s)"
	expect_clean "after killed commit -a (${d}s)"
	[ -z "$(ls -A .mvm/tmp)" ] || fail "debris in .mvm/tmp after killed commit -a"
	cd "$SCRATCH"
	rm -rf "c$i"
done
[ "$KILLED" -ge 1 ] || fail "no commit -a run was actually killed"

# --- (b2) kill -9 during checkout of a big file ---
KILLED=0
i=0
for d in $(delays "$t_checkout" 0.05 0.2 0.6); do
	i=$((i + 1))
	mkdir "k$i"
	clone_repo ref "k$i"
	cd "k$i"
	rm big.safetensors
	ln "$SCRATCH/big.pert" big.safetensors
	expect_clean "before the killed checkout"
	run_killed "$d" checkout v1
	expect_fsck_ok "fsck after kill -9 during checkout (${d}s)"
	mvm checkout -q v1 || fail "checkout re-run after kill (${d}s)"
	assert_eq "$(sha256sum <big.safetensors)" "$sum_orig" "file after killed + re-run checkout (${d}s)"
	assert_eq "$(st_get 'j["head"]')" "$v1" "HEAD after re-run checkout (${d}s)"
	left=$(find . -path ./.mvm -prune -o -name '*.mvm-tmp-*' -print)
	[ -z "$left" ] || fail "temp files left in the working tree after a killed checkout (${d}s): $left"
	expect_clean "after killed + re-run checkout (${d}s)"
	if [ "$i" -eq 1 ]; then # and back
		mvm checkout -q main
		assert_eq "$(sha256sum <big.safetensors)" "$sum_pert" "checkout main after the kill (${d}s)"
		expect_clean "checkout main after the kill (${d}s)"
	fi
	cd "$SCRATCH"
	rm -rf "k$i"
done
[ "$KILLED" -ge 1 ] || fail "no checkout run was actually killed"
assert_eq "$(sha256sum <"$SCRATCH/big.orig")" "$sum_orig" "big.orig was modified through a hard link"
assert_eq "$(sha256sum <"$SCRATCH/big.pert")" "$sum_pert" "big.pert was modified through a hard link"
rm -rf ref tmpl1

# --- (b3) kill -9 during gc that rewrites packs ---
# 8 files added together on a branch, so every pack mixes chunks of files that
# stay (odd) and of files that become garbage (even) when the branch goes.
mvm init -q g0 >/dev/null
cd g0
echo "readme" >readme.txt
mvm add -q readme.txt
mvm commit -q -m v0
mvm tag v0
mvm branch tmp
mvm switch -q tmp
for s in 1 2 3 4 5 6 7 8; do "$STGEN" --size-mb 24 --seed "$s" "p$s.safetensors"; done
sha256sum p1.safetensors p3.safetensors p5.safetensors p7.safetensors readme.txt >"$SCRATCH/keep.sums"
mvm add -q .
mvm commit -q -m "all eight"
cp p1.safetensors p3.safetensors p5.safetensors p7.safetensors "$SCRATCH/"
mvm switch -q main
cp "$SCRATCH"/p1.safetensors "$SCRATCH"/p3.safetensors "$SCRATCH"/p5.safetensors "$SCRATCH"/p7.safetensors .
mvm add -q .
mvm commit -q -m "odd ones"
mvm branch -d tmp >/dev/null
gc_before=$(packs_bytes)
cd "$SCRATCH"
rm -f p1.safetensors p3.safetensors p5.safetensors p7.safetensors
# an uninterrupted gc, timed
clone_repo g0 gref
cd gref
timed gc -q
t_gc=$T_MS
echo "uninterrupted: gc ${t_gc} ms" >&2
expect_fsck_ok "fsck after an uninterrupted gc"
[ "$(packs_bytes)" -lt $((gc_before * 3 / 4)) ] || fail "gc did not shrink the store ($(packs_bytes) of $gc_before)"
cd "$SCRATCH"
rm -rf gref
KILLED=0
i=0
for d in $(delays "$t_gc" 0.1 0.25 0.4 0.6 0.8 0.95); do
	i=$((i + 1))
	clone_repo g0 "g$i"
	cd "g$i"
	run_killed "$d" gc
	expect_fsck_ok "fsck after kill -9 during gc (${d}s)"
	mvm gc -q || fail "gc re-run after kill (${d}s)"
	expect_fsck_ok "fsck after gc re-run (${d}s)"
	[ "$(packs_bytes)" -lt $((gc_before * 3 / 4)) ] || fail "gc after kill did not shrink the store ($(packs_bytes) of $gc_before)"
	expect_chain 2
	rm -f p*.safetensors
	mvm checkout -q v0
	assert_eq "$(ls)" "readme.txt" "checkout v0 after gc (${d}s)"
	mvm checkout -q main
	sha256sum -c --quiet "$SCRATCH/keep.sums" || fail "checkout main after killed gc (${d}s) is not bit-exact"
	expect_clean "after killed gc (${d}s)"
	cd "$SCRATCH"
	rm -rf "g$i"
done
# gc takes a few hundred ms, so a timed kill can miss on a loaded machine;
# crashpoints.sh kills gc deterministically at every fsync, rename and unlink.
[ "$KILLED" -ge 1 ] || echo "note: no timed kill landed inside gc this run (crashpoints.sh covers gc)" >&2
rm -rf g0

# --- (c) concurrent writers ---
mvm init -q conc >/dev/null
cd conc
"$STGEN" --size-mb 12 --seed 11 a.safetensors
"$STGEN" --size-mb 12 --seed 12 b.safetensors
"$STGEN" --size-mb 12 --seed 13 c.safetensors
mvm add -q a.safetensors b.safetensors c.safetensors
mvm commit -q -m c0
commits=1
# two adds at once: both succeed
"$STGEN" --size-mb 12 --seed 97 --perturb 0.5 a.safetensors
"$STGEN" --size-mb 12 --seed 98 --perturb 0.5 b.safetensors
"$MVM" add a.safetensors >"$SCRATCH/p1.out" 2>&1 &
p1=$!
"$MVM" add b.safetensors >"$SCRATCH/p2.out" 2>&1 &
p2=$!
wait $p1 || { cat "$SCRATCH/p1.out" >&2; fail "concurrent add a"; }
wait $p2 || { cat "$SCRATCH/p2.out" >&2; fail "concurrent add b"; }
assert_eq "$(status_field staged)" "['a.safetensors', 'b.safetensors']" "both concurrent adds staged"

# conc_commits ARGS...: run two 'mvm ARGS' at once; each succeeds or fails
# cleanly (exit 1, one error line); counts successes into $commits
conc_commits() {
	"$MVM" "$@" >"$SCRATCH/p1.out" 2>"$SCRATCH/p1.err" &
	p1=$!
	"$MVM" "$@" >"$SCRATCH/p2.out" 2>"$SCRATCH/p2.err" &
	p2=$!
	set +e
	wait $p1
	r1=$?
	wait $p2
	r2=$?
	set -e
	ok=0
	for r in "$r1:p1" "$r2:p2"; do
		case ${r%%:*} in
		0) ok=$((ok + 1)) ;;
		1) [ "$(grep -c '^mvm: error:' "$SCRATCH/${r#*:}.err")" -eq 1 ] && [ "$(wc -l <"$SCRATCH/${r#*:}.err")" -eq 1 ] ||
			{ cat "$SCRATCH/${r#*:}.err" >&2; fail "concurrent mvm $*: failure is not one error line"; } ;;
		*) cat "$SCRATCH/${r#*:}.err" >&2; fail "concurrent mvm $*: exit ${r%%:*}" ;;
		esac
	done
	[ $ok -ge 1 ] || fail "concurrent mvm $*: neither succeeded"
	commits=$((commits + ok))
}
conc_commits commit -m "round 1"
expect_chain $commits
expect_clean "after concurrent commits"
for round in 2 3 4; do
	"$STGEN" --size-mb 12 --seed "$round" --perturb 0.5 a.safetensors
	"$STGEN" --size-mb 12 --seed "$round" --perturb 0.5 c.safetensors
	conc_commits commit -a -m "round $round"
	expect_chain $commits
	expect_clean "after concurrent commit -a (round $round)"
done
# a commit -a, an add, a gc, a branch, a status and a tag all at once
"$STGEN" --size-mb 12 --seed 77 b.safetensors
"$MVM" commit -a -m "mixed" >"$SCRATCH/m1.out" 2>&1 &
m1=$!
"$MVM" add b.safetensors >"$SCRATCH/m2.out" 2>&1 &
m2=$!
"$MVM" gc >"$SCRATCH/m3.out" 2>&1 &
m3=$!
"$MVM" branch side >"$SCRATCH/m4.out" 2>&1 &
m4=$!
"$MVM" status >"$SCRATCH/m5.out" 2>&1 &
m5=$!
"$MVM" tag t-mixed >"$SCRATCH/m6.out" 2>&1 &
m6=$!
for p in $m1 $m2 $m3 $m4 $m5 $m6; do
	wait "$p" || { cat "$SCRATCH"/m*.out >&2; fail "a concurrent command (pid $p) failed"; }
done
commits=$((commits + 1))
expect_chain $commits
expect_fsck_ok "fsck after concurrent writers"
mvm cat HEAD:b.safetensors | cmp -s - b.safetensors || fail "b.safetensors after the mixed round"
expect_clean "after the mixed round"
cd "$SCRATCH"
rm -rf conc

# --- (d) one flipped byte in a pack ---
mvm init -q dmg >/dev/null
cd dmg
"$STGEN" --size-mb 16 --seed 5 model.safetensors
cp model.safetensors "$SCRATCH/dmg.v1"
mvm add -q model.safetensors
mvm commit -q -m v1
mvm tag v1
pack1=$(ls .mvm/packs/)
"$STGEN" --size-mb 16 --seed 5 --perturb 0.5 model.safetensors
cp model.safetensors "$SCRATCH/dmg.v2"
mvm commit -q -a -m v2
expect_fsck_ok "fsck before damage"
[ "$(echo "$pack1" | wc -l)" -eq 1 ] || fail "expected one pack after v1"
# find the chunk stored across the middle of v1's pack (header, chunks, index, trailer)
read -r off chunk <<EOF
$($PY - ".mvm/packs/$pack1" <<'PYEOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
index_offset, count = struct.unpack("<QQ", data[-56:-40])
idx = data[index_offset:index_offset + count * 52]
mid = (16 + index_offset) // 2
for i in range(count):
    e = idx[i * 52:(i + 1) * 52]
    off, stored = struct.unpack("<QI", e[32:44])
    if off <= mid < off + stored:
        print(mid, e[:32].hex())
PYEOF
)
EOF
echo "$chunk" | grep -Eq '^[0-9a-f]{64}$' || fail "could not locate the chunk in the middle of the pack"
chmod u+w ".mvm/packs/$pack1"
old=$(od -A n -t u1 -j "$off" -N 1 ".mvm/packs/$pack1" | tr -d ' ')
if [ "$old" = 255 ]; then new='\000'; else new='\377'; fi
printf "$new" | dd of=".mvm/packs/$pack1" bs=1 seek="$off" conv=notrunc 2>/dev/null
[ "$(od -A n -t u1 -j "$off" -N 1 ".mvm/packs/$pack1" | tr -d ' ')" != "$old" ] || fail "byte not flipped"
expect_exit 3 mvm fsck
grep -q "$chunk" "$SCRATCH/out" "$SCRATCH/err" || { cat "$SCRATCH/out" "$SCRATCH/err" >&2; fail "fsck does not name the damaged chunk $chunk"; }
expect_exit 3 mvm fsck --json
assert_eq "$(json_get "$SCRATCH/out" 'j["ok"]')" False "fsck --json ok"
assert_eq "$(json_get "$SCRATCH/out" '"'"$chunk"'" in [p["id"] for p in j["problems"]]')" True "fsck --json names the chunk"
# checkout of v1 (which holds the chunk) fails and leaves v2's file alone
before=$(sha256sum <model.safetensors)
expect_error_in "1 3" "" mvm checkout v1
assert_eq "$(sha256sum <model.safetensors)" "$before" "failed checkout left the working file"
assert_eq "$(st_get 'j["head"]')" "$(rev_id main)" "failed checkout left HEAD"
[ -z "$(st_get 'j["untracked"]' | tr -d '[]')" ] || fail "failed checkout left files behind: $(st_get 'j["untracked"]')"
expect_error_in "1 3" "" mvm checkout v1 -- model.safetensors
assert_eq "$(sha256sum <model.safetensors)" "$before" "failed path checkout left the working file"
rm model.safetensors
# the damaged chunk may still decode (to other weights): checkout checks every chunk against its id
expect_error_in "1 3" "model.safetensors: " mvm checkout v1 -- model.safetensors
[ ! -e model.safetensors ] || cmp -s model.safetensors "$SCRATCH/dmg.v1" || fail "a failed checkout wrote a wrong model.safetensors"
# cat must not hand out damaged bytes as if they were fine
set +e
"$MVM" cat v1:model.safetensors >"$SCRATCH/cat.out" 2>"$SCRATCH/cat.err"
rc=$?
set -e
if [ $rc -eq 0 ]; then
	cmp -s "$SCRATCH/cat.out" "$SCRATCH/dmg.v1" || fail "cat of a damaged version exited 0 with wrong bytes"
fi
mvm cat main:model.safetensors >"$SCRATCH/cat.out" 2>/dev/null && {
	cmp -s "$SCRATCH/cat.out" "$SCRATCH/dmg.v2" || fail "cat main exited 0 with wrong bytes"
}
# damaged manifests (one byte of their chunk lists): refused before any chunk is read
$PY - .mvm/mvm.db <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for mid, data in db.execute("SELECT id, data FROM objects WHERE type = 1").fetchall():
    data = bytearray(data)
    data[len(data) // 2] ^= 0x01
    db.execute("UPDATE objects SET data = ? WHERE id = ?", (bytes(data), mid))
db.commit()
PYEOF
expect_error_in "3" "manifest [0-9a-f]* is damaged: its bytes do not match its id" mvm checkout main -- model.safetensors
cd "$SCRATCH"

# --- (e) a truncated pack ---
mvm init -q trunc >/dev/null
cd trunc
"$STGEN" --size-mb 8 --seed 6 model.safetensors
mvm add -q model.safetensors
mvm commit -q -m v1
rm model.safetensors
pack=.mvm/packs/$(ls .mvm/packs/)
chmod u+w "$pack"
cp "$pack" "$SCRATCH/pack.keep"
size=$(wc -c <"$pack")
"$STGEN" --size-mb 8 --seed 6 "$SCRATCH/trunc.orig"
# checkout_or_nothing: checkout HEAD -- model.safetensors either fails (1 or 3)
# writing nothing, or succeeds bit-exactly (only possible if no chunk is lost)
checkout_or_nothing() {
	set +e
	"$MVM" checkout HEAD -- model.safetensors >"$SCRATCH/out" 2>"$SCRATCH/err"
	rc=$?
	set -e
	case $rc in
	0) cmp -s model.safetensors "$SCRATCH/trunc.orig" || fail "$1: checkout exited 0 with a wrong file" ;;
	1|3) [ ! -e model.safetensors ] || fail "$1: failed checkout wrote a file"
		[ "$(grep -c '^mvm: error:' "$SCRATCH/err")" -eq 1 ] || fail "$1: expected one error line" ;;
	*) cat "$SCRATCH/err" >&2; fail "$1: checkout exited $rc" ;;
	esac
	rm -f model.safetensors
	set +e
	"$MVM" cat HEAD:model.safetensors >"$SCRATCH/cat.out" 2>"$SCRATCH/cat.err"
	rc=$?
	set -e
	[ $rc -ne 0 ] || cmp -s "$SCRATCH/cat.out" "$SCRATCH/trunc.orig" || fail "$1: cat exited 0 with wrong bytes"
}
for cut in $((size / 2)) $((size - 3)) 20 0; do
	truncate -s "$cut" "$pack"
	expect_exit 3 mvm fsck
	[ -s "$SCRATCH/out" ] || [ -s "$SCRATCH/err" ] || fail "fsck printed nothing for a pack cut to $cut bytes"
	checkout_or_nothing "pack cut to $cut bytes"
	cp "$SCRATCH/pack.keep" "$pack"
done
# cut in half, the data really is gone: checkout must fail
truncate -s $((size / 2)) "$pack"
expect_error_in "1 3" "" mvm checkout HEAD -- model.safetensors
cp "$SCRATCH/pack.keep" "$pack"
expect_fsck_ok "fsck with the pack restored"
# a missing pack
rm "$pack"
expect_exit 3 mvm fsck
grep -q "$(basename "$pack")" "$SCRATCH/out" "$SCRATCH/err" || fail "fsck does not name the missing pack"
checkout_or_nothing "missing pack"
expect_error_in "1 3" "" mvm checkout HEAD -- model.safetensors
cd "$SCRATCH"

# --- (f) several damaged chunks side by side: fsck decodes chunks in groups (their entropy
# decoding together) on several threads; each bad chunk is named on its own, in pack order, and
# no good one is: a header byte that cannot decode, a byte in the middle (other bytes, or no
# decode), and a good chunk between them
mvm init -q groups >/dev/null
cd groups
"$STGEN" --size-mb 16 --seed 7 model.safetensors
mvm add -q model.safetensors
mvm commit -q -m v1
expect_fsck_ok "fsck before damaging a group"
bad=$($PY - .mvm/mvm.db <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT hex(chunks.id), packs.name, offset, stored_len FROM chunks JOIN packs ON packs.id = chunks.pack"
                  " WHERE codec = 7 ORDER BY chunks.pack, offset").fetchall()
assert len(rows) > 12, len(rows)
picked = [rows[9], rows[11], rows[12]]  # two neighbours, and one with a good chunk before it
for n, (cid, pack, off, stored) in enumerate(picked):
    with open('.mvm/packs/' + pack, 'r+b') as f:
        at = off if n == 0 else off + stored // 2  # codec 7's element size byte; a byte of its planes
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([3 if n == 0 else b[0] ^ 0x5a]))
print(" ".join(c.lower() for c, _, _, _ in picked))
PYEOF
)
expect_exit 3 mvm fsck --json
named=$(json_get "$SCRATCH/out" '" ".join(p["id"] for p in j["problems"] if p["kind"] == "chunk")')
assert_eq "$named" "$bad" "chunks fsck named in a damaged group"
cd "$SCRATCH"
