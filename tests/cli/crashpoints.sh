#!/bin/sh
# Deterministic crash points: strace's fault injection delivers SIGKILL to
# mvm on entering its N-th fsync/rename/unlink/ftruncate (for every N an
# uninterrupted run reaches; first, middle and last fdatasync and write),
# during add, commit -a, checkout and gc. After each crash fsck must pass, a re-run must complete, the result must
# be bit-exact and nothing may be left behind.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || fail "strace is needed for this test"
SYSCALLS=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,ftruncate,write
# LeakSanitizer cannot run under ptrace: keep sanitizer builds testable
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS

# points DIR ARGS...: "syscall N" for every call an uninterrupted 'mvm ARGS'
# makes in a throwaway copy of DIR
points() {
	dir=$1; shift
	rm -rf "$SCRATCH/probe"
	cp -a "$dir" "$SCRATCH/probe"
	(cd "$SCRATCH/probe" && strace -f -qq -o "$SCRATCH/trace" -e trace=$SYSCALLS "$MVM" "$@" >/dev/null 2>&1) ||
		fail "uninterrupted mvm $* failed under strace"
	rm -rf "$SCRATCH/probe"
	# every call, except for the frequent database syncs and data writes:
	# there the first, the middle and the last
	sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*/\1/p' "$SCRATCH/trace" | sort | uniq -c |
		while read -r count name; do
			case $name in
			fdatasync|write) printf '%s\n' 1 $(((count + 1) / 2)) "$count" | sort -un | sed "s/^/$name /" ;;
			*) n=1; while [ $n -le "$count" ]; do echo "$name $n"; n=$((n + 1)); done ;;
			esac
		done
}

# crash SYSCALL N ARGS...: run 'mvm ARGS' in the current folder, killed on
# entering its N-th SYSCALL
crash() {
	sc=$1 n=$2; shift 2
	set +e
	{ strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc":signal=KILL:when="$n" "$MVM" "$@" >/dev/null 2>&1; } 2>/dev/null
	rc=$?
	set -e
	[ $rc -eq 137 ] || [ $rc -eq 0 ] || fail "mvm $* with a crash at $sc #$n exited $rc"
	[ $rc -eq 137 ] && CRASHES=$((CRASHES + 1))
	return 0
}

# no_debris: no temp files in .mvm/tmp or the working tree
no_debris() {
	[ -z "$(ls -A .mvm/tmp 2>/dev/null)" ] || fail "$1: debris in .mvm/tmp: $(ls .mvm/tmp)"
	left=$(find . -path ./.mvm -prune -o -name '*.mvm-tmp-*' -print)
	[ -z "$left" ] || fail "$1: temp files left in the working tree: $left"
}

tree_sums() {
	find . -path ./.mvm -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum
}

# --- the template: v1, v2 on main, a tag, and pending work in the tree ---
mvm init -q base >/dev/null
cd base
mkdir -p sub
"$STGEN" --size-mb 4 --seed 1 model.safetensors
echo "one" >sub/notes.txt
echo "old" >old.txt
mvm add -q .
mvm commit -q -m v1
mvm tag v1
tree_sums >"$SCRATCH/v1.sums"
"$STGEN" --size-mb 4 --seed 1 --perturb 0.5 model.safetensors
echo "two" >sub/notes.txt
mkdir -p new/deep
echo "new" >new/deep/file.txt
mvm rm -q old.txt
mvm add -q .
mvm commit -q -m v2
tree_sums >"$SCRATCH/v2.sums"
cd "$SCRATCH"
# work: base plus changes in the working tree, for add and commit -a
cp -a base work
cd work
"$STGEN" --size-mb 4 --seed 2 model.safetensors
echo "three" >sub/notes.txt
"$STGEN" --size-mb 2 --seed 3 extra.safetensors
cd "$SCRATCH"
# work2: the same with extra.safetensors staged, for commit -a
cp -a work work2
(cd work2 && mvm add -q extra.safetensors)

CRASHES=0
# --- add ---
for p in $(points work add model.safetensors sub/notes.txt extra.safetensors | tr ' ' :); do
	sc=${p%:*} n=${p#*:}
	rm -rf t
	cp -a work t
	cd t
	crash "$sc" "$n" add model.safetensors sub/notes.txt extra.safetensors
	expect_fsck_ok "fsck after a crash in add at $sc #$n"
	mvm add -q model.safetensors sub/notes.txt extra.safetensors || fail "add after a crash at $sc #$n"
	no_debris "add crashed at $sc #$n"
	mvm commit -q -m v3 || fail "commit after a crash in add at $sc #$n"
	for f in model.safetensors sub/notes.txt extra.safetensors; do
		mvm cat "HEAD:$f" | cmp -s - "$f" || fail "HEAD:$f after a crash in add at $sc #$n"
	done
	expect_clean "add crashed at $sc #$n"
	cd "$SCRATCH"
done
[ "$CRASHES" -ge 5 ] || fail "only $CRASHES crash points in add"

# --- commit -a ---
CRASHES=0
for p in $(points work2 commit -a -m v3 | tr ' ' :); do
	sc=${p%:*} n=${p#*:}
	rm -rf t
	cp -a work2 t
	cd t
	crash "$sc" "$n" commit -a -m v3
	expect_fsck_ok "fsck after a crash in commit -a at $sc #$n"
	count=$(mvm log --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
	case $count in
	2) mvm commit -q -a -m v3 || fail "commit -a after a crash at $sc #$n" ;;
	3) expect_error 1 "nothing to commit" mvm commit -a -m v3 ;;
	*) fail "$count versions after a crash in commit -a at $sc #$n" ;;
	esac
	no_debris "commit -a crashed at $sc #$n"
	mvm log --json >"$SCRATCH/log.json"
	assert_eq "$(json_get "$SCRATCH/log.json" '[v["message"] for v in j]')" "['v3', 'v2', 'v1']" "log after a crash in commit -a at $sc #$n"
	assert_eq "$(json_get "$SCRATCH/log.json" 'all(v["parents"] == [j[i + 1]["id"]] for i, v in enumerate(j[:-1]))')" True "parent chain"
	assert_eq "$(rev_id main)" "$(json_get "$SCRATCH/log.json" 'j[0]["id"]')" "main after a crash in commit -a at $sc #$n"
	for f in model.safetensors sub/notes.txt extra.safetensors; do
		mvm cat "HEAD:$f" | cmp -s - "$f" || fail "HEAD:$f after a crash in commit -a at $sc #$n"
	done
	expect_clean "commit -a crashed at $sc #$n"
	cd "$SCRATCH"
done
[ "$CRASHES" -ge 3 ] || fail "only $CRASHES crash points in commit -a"

# --- checkout (both directions: v2 -> v1 removes folders, v1 -> v2 creates them) ---
CRASHES=0
cp -a base base1
(cd base1 && mvm checkout -q v1)
for dir in base base1; do
	if [ $dir = base ]; then target=v1 want=v1.sums; else target=main want=v2.sums; fi
	for p in $(points $dir checkout $target | tr ' ' :); do
		sc=${p%:*} n=${p#*:}
		rm -rf t
		cp -a $dir t
		cd t
		crash "$sc" "$n" checkout $target
		expect_fsck_ok "fsck after a crash in checkout $target at $sc #$n"
		mvm checkout -q $target || fail "checkout $target after a crash at $sc #$n"
		no_debris "checkout $target crashed at $sc #$n"
		tree_sums | cmp -s - "$SCRATCH/$want" || fail "tree after a crash in checkout $target at $sc #$n"
		assert_eq "$(st_get 'j["head"]')" "$(rev_id $target)" "HEAD after a crash in checkout $target at $sc #$n"
		expect_clean "checkout $target crashed at $sc #$n"
		[ $target = v1 ] && { [ ! -e new ] || fail "folder new/ left after checkout v1 (crash at $sc #$n)"; }
		cd "$SCRATCH"
	done
done
[ "$CRASHES" -ge 4 ] || fail "only $CRASHES crash points in checkout"

# --- gc rewriting three packs that mix live and dead chunks ---
CRASHES=0
mvm init -q g >/dev/null
cd g
echo "readme" >readme.txt
mvm add -q readme.txt
mvm commit -q -m g0
mvm tag g0
mvm branch tmp
mvm switch -q tmp
for s in 1 2 3 4 5 6; do "$STGEN" --size-mb 2 --seed "$s" "p$s.safetensors"; done
cp p1.safetensors p3.safetensors p5.safetensors "$SCRATCH/"
for pair in "1 2" "3 4" "5 6"; do   # one pack each, half of it garbage later
	set -- $pair
	mvm add -q "p$1.safetensors" "p$2.safetensors"
	mvm commit -q -m "p$1 p$2"
done
mvm switch -q main
cp "$SCRATCH/p1.safetensors" "$SCRATCH/p3.safetensors" "$SCRATCH/p5.safetensors" .
mvm add -q .
mvm commit -q -m "odd"
mvm branch -d tmp >/dev/null
tree_sums >"$SCRATCH/g.sums"
g_before=$(packs_bytes)
cd "$SCRATCH"
for p in $(points g gc | tr ' ' :); do
	sc=${p%:*} n=${p#*:}
	rm -rf t
	cp -a g t
	cd t
	crash "$sc" "$n" gc
	expect_fsck_ok "fsck after a crash in gc at $sc #$n"
	mvm gc -q || fail "gc after a crash at $sc #$n"
	expect_fsck_ok "fsck after gc re-run (crash at $sc #$n)"
	[ "$(packs_bytes)" -lt $((g_before * 3 / 4)) ] || fail "gc after a crash at $sc #$n did not shrink the store"
	no_debris "gc crashed at $sc #$n"
	rm p*.safetensors
	mvm checkout -q g0
	assert_eq "$(ls)" "readme.txt" "checkout g0 after a crash in gc at $sc #$n"
	mvm checkout -q main
	tree_sums | cmp -s - "$SCRATCH/g.sums" || fail "checkout main after a crash in gc at $sc #$n"
	expect_clean "gc crashed at $sc #$n"
	cd "$SCRATCH"
done
[ "$CRASHES" -ge 3 ] || fail "only $CRASHES crash points in gc"
