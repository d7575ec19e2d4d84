#!/bin/sh
# The status cache (.mvm/status-cache): `mvm status` answers from it while
# the database files are as it recorded them, and never from a stale one.
. "$(dirname "$0")/lib.sh"

CACHE=.mvm/status-cache
# settle: wait out the clock tick of the last database write (a cache is
# only saved from a database whose file times are older than the tick) and
# the 100 ms in which a file's new stat is not trusted (stage.c)
settle() { sleep 0.15; }
# cached_status: statuses until one saves the cache (on a file system that
# keeps whole seconds that takes two). The first may still hash files whose
# stat rows were not trusted yet and refresh them, a database write that
# leaves its own cache stale.
cached_status() {
	settle
	mvm status >/dev/null
	rm -f "$CACHE"
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		settle
		mvm status >/dev/null
		[ ! -s "$CACHE" ] || return 0
	done
	fail "status saved no cache"
}
# tamper: rename branch main (side) to mXin (sXde) inside the cache, so that
# a status answered from it shows it was (stamp and lengths left as they are)
tamper() { perl -0777 -pi -e 's/main/mXin/; s/side/sXde/' "$CACHE"; }
branch_line() { mvm status | head -1; }
head_of() { mvm status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])'; }
log_head() { mvm log --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }

mvm init repo >/dev/null
cd repo
"$STGEN" --size-mb 2 --seed 1 model.safetensors
echo "lr: 0.1" > config.yaml
mvm add model.safetensors config.yaml
mvm commit -q -m base

# 1. the cache answers while nothing changed
cached_status
tamper
assert_eq "$(branch_line)" "On branch mXin" "status answered from its cache"
assert_eq "$(mvm status | tail -1)" "Nothing to commit, working tree clean" "clean from the cache"

# 2. any database write makes it stale: a branch made by another process
mvm branch side
assert_eq "$(branch_line)" "On branch main" "a new branch left the cache stale"

# 3. changes in the working tree are seen from the cache
cached_status
tamper
echo "notes" > notes.txt
echo "lr: 0.25" > config.yaml                  # another size: modified without hashing
mvm status > "$SCRATCH/st.txt"
grep -q "On branch mXin" "$SCRATCH/st.txt" || fail "tree changes: not from the cache"
grep -q "modified.*config.yaml" "$SCRATCH/st.txt" || fail "modified file of another size"
grep -q "untracked.*notes.txt" "$SCRATCH/st.txt" || fail "untracked file"
mv model.safetensors "$SCRATCH/model.keep"
mvm status | grep -q "deleted.*model.safetensors" || fail "deleted file"
mv "$SCRATCH/model.keep" model.safetensors
rm notes.txt
echo "lr: 0.1" > config.yaml

# 4. a file of the same size with a new stat is hashed: the cache cannot answer
cached_status
tamper
echo "lr: 0.9" > config.yaml
mvm status > "$SCRATCH/st.txt"
grep -q "On branch main" "$SCRATCH/st.txt" || fail "same-size edit answered from the cache"
grep -q "modified.*config.yaml" "$SCRATCH/st.txt" || fail "same-size edit not seen"
echo "lr: 0.1" > config.yaml
mvm status | grep -q "Nothing to commit" || fail "restored content: clean again"

# 5. each write right after a status that saved the cache: the next
# status shows it (the cache tampered, so a stale answer would show too)
i=0
while [ $i -lt 6 ]; do
	cached_status
	tamper
	printf 'lr: 0.%02d\n' $i > config.yaml
	mvm add config.yaml
	mvm status > "$SCRATCH/st.txt"
	grep -q "On branch main" "$SCRATCH/st.txt" || fail "round $i: add answered from a stale cache"
	grep -q "modified.*config.yaml" "$SCRATCH/st.txt" || fail "round $i: staged change not shown"
	cached_status
	tamper
	mvm commit -q -m "round $i"
	assert_eq "$(head_of)" "$(log_head)" "round $i: status shows the new HEAD"
	mvm status | grep -q "Nothing to commit" || fail "round $i: clean after the commit"
	i=$((i + 1))
done

# 6. checkout, tag and rm all leave the cache stale
cached_status
mvm checkout -q side
assert_eq "$(branch_line)" "On branch side" "checkout seen"
cached_status
tamper
mvm tag v1
assert_eq "$(branch_line)" "On branch side" "tag made the cache stale"
cached_status
mvm rm --cached config.yaml >/dev/null
mvm status | grep -q "removed.*config.yaml" || fail "unstaged removal seen"
mvm add config.yaml

# 7. a cache from before a commit, put back after it, is not used
cached_status
cp "$CACHE" "$SCRATCH/old-cache"
echo "lr: 0.5" > config.yaml
mvm commit -q -a -m later
cp "$SCRATCH/old-cache" "$CACHE"
assert_eq "$(head_of)" "$(log_head)" "an old cache put back is ignored"

# 8. a damaged cache is ignored and replaced
for damage in truncate garbage empty; do
	cached_status
	case $damage in
		truncate) head -c 100 "$CACHE" > "$SCRATCH/c" && cp "$SCRATCH/c" "$CACHE" ;;
		garbage) head -c 4096 /dev/urandom > "$CACHE" ;;
		empty) : > "$CACHE" ;;
	esac
	assert_eq "$(branch_line)" "On branch side" "$damage cache ignored"
	mvm status | grep -q "Nothing to commit" || fail "$damage cache: clean"
done
# the damaged cache was replaced by a whole one
settle
mvm status >/dev/null
tamper
assert_eq "$(branch_line)" "On branch sXde" "a whole cache again after damage"

# 9. fsck is clean with the cache there
mvm fsck >/dev/null || fail "fsck with a status cache"

# 10. no cache from database files whose times are not older than the
# clock's tick (here: an mtime in the future, as after the clock stepped back)
touch -d '+1 hour' .mvm/mvm.db
rm -f "$CACHE"
settle
mvm status | grep -q "On branch side" || fail "status with a future mtime"
[ ! -e "$CACHE" ] || fail "a cache saved from a database file dated in the future"
touch .mvm/mvm.db

# 11. statuses racing commits of another process: once the commits are
# done, every status shows the last one (no cache saved mid-commit survives)
(
	i=0
	while [ $i -lt 15 ]; do
		printf 'lr: 1.%02d\n' $i > config.yaml
		mvm commit -q -a -m "race $i"
		i=$((i + 1))
	done
) &
writer=$!
while kill -0 $writer 2>/dev/null; do mvm status >/dev/null 2>&1 || true; done
wait $writer || fail "the racing commits failed"
for _ in 1 2 3; do
	assert_eq "$(head_of)" "$(log_head)" "status after racing commits"
	settle
done
