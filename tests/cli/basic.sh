#!/bin/sh
# The main flow: init, add, commit, fine-tune, diff, checkout bit-for-bit.
. "$(dirname "$0")/lib.sh"

mvm init repo >/dev/null
cd repo
assert_eq "$(mvm status | head -1)" "On branch main (no commits yet)" "status line before the first commit"
"$STGEN" --size-mb 8 --seed 3 model.safetensors
echo "lr: 0.001" > config.yaml
sha256sum model.safetensors config.yaml > "$SCRATCH/v1.sum"

mvm add model.safetensors config.yaml
mvm status --json > "$SCRATCH/st.json"
[ "$(json_get "$SCRATCH/st.json" 'sorted(j["staged"])')" = "['config.yaml', 'model.safetensors']" ] || fail "staged list"
mvm commit -q -m "base" --param lr=0.001 --metric loss=2.5
v1=$(mvm log --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
[ ${#v1} -eq 64 ] || fail "log id is not 64 hex"

"$STGEN" --size-mb 8 --seed 3 --perturb 0.2 model.safetensors
mvm commit -q -a -m "fine-tune"
mvm log --json > "$SCRATCH/log.json"
[ "$(json_get "$SCRATCH/log.json" 'len(j)')" = 2 ] || fail "two versions"
[ "$(json_get "$SCRATCH/log.json" 'j[0]["parents"][0] == j[1]["id"]')" = True ] || fail "parent link"
[ "$(json_get "$SCRATCH/log.json" 'j[1]["metrics"]["loss"]')" = 2.5 ] || fail "metric kept"

mvm diff HEAD~1 HEAD --json > "$SCRATCH/diff.json"
[ "$(json_get "$SCRATCH/diff.json" '[f["path"] for f in j["files"]]')" = "['model.safetensors']" ] || fail "only the model changed"
[ "$(json_get "$SCRATCH/diff.json" 'all(t["status"]=="modified" for t in j["files"][0]["tensors"])')" = True ] || fail "tensor statuses"

mvm checkout -q "$v1"
sha256sum -c --quiet "$SCRATCH/v1.sum" || fail "checkout is not bit-for-bit"
mvm switch -q main
mvm fsck -q

# core.compression is the zstd level of new chunks: text stored at 19 takes fewer bytes than at 1
cd "$SCRATCH"
$PY -c "
import random; r = random.Random(4); w = ['alpha', 'beta', 'gamma', 'delta', 'loss', 'step', 'epoch']
open('log.txt', 'w').write(''.join('%s %d %s %.3f\n' % (r.choice(w), i, r.choice(w), r.random()) for i in range(100000)))"
for level in 1 19; do
	mvm init -q "lv$level"
	cp log.txt "lv$level/"
	(cd "lv$level" && mvm config core.compression $level && mvm add -q log.txt && mvm commit -q -m log)
done
lv1=$(cat lv1/.mvm/packs/*.pack | wc -c)
lv19=$(cat lv19/.mvm/packs/*.pack | wc -c)
[ "$lv19" -lt $((lv1 * 9 / 10)) ] || fail "core.compression 19 stored $lv19 bytes against level 1's $lv1"
# WAL mode is set when the schema is made, and is in the file from then on
assert_eq "$($PY -c "import sqlite3; print(sqlite3.connect('lv1/.mvm/mvm.db').execute('PRAGMA journal_mode').fetchone()[0])")" wal \
	"journal mode of a new repository"

# the first process to open mvm.db resets its wal-index (mvm.db-shm) in place (dbvfs.c): a
# commit left in the WAL by a killed process, with a -shm full of other bytes, is still read
rc=0
$PY - lv1/.mvm/mvm.db <<'PYEOF' || rc=$?
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT OR REPLACE INTO config VALUES ('user.name', 'left in the wal')")
db.commit()
os.kill(os.getpid(), 9)  # no close: the commit stays in mvm.db-wal, not checkpointed
PYEOF
assert_eq "$rc" 137 "the writer killing itself"
[ -s lv1/.mvm/mvm.db-wal ] || fail "the killed writer left no WAL"
head -c 32768 /dev/urandom > lv1/.mvm/mvm.db-shm
assert_eq "$(cd lv1 && mvm config user.name)" "left in the wal" "a commit in the WAL after the -shm was garbled"
(cd lv1 && mvm fsck -q) || fail "fsck after a garbled -shm"
