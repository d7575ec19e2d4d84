#!/bin/sh
# Schema migrations: a repository written at schema 6 (objects in a WITHOUT
# ROWID table) is upgraded to 8 when mvm opens it, and nothing is lost.
. "$(dirname "$0")/lib.sh"

sql() { /usr/bin/python3 -c "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); r = db.executescript(sys.argv[2]) if sys.argv[3] == 'x' else print(db.execute(sys.argv[2]).fetchone()[0]); db.commit()" .mvm/mvm.db "$1" "$2"; }

mvm init -q repo
cd repo
"$STGEN" --size-mb 8 --seed 2 model.safetensors
mvm add -q model.safetensors
mvm commit -q -m one
"$STGEN" --size-mb 8 --seed 2 --perturb 0.3 model.safetensors
mvm commit -q -a -m two
log_before=$(mvm log --json)

# back to schema 6 as an older mvm wrote it
sql "CREATE TABLE objects_old(id BLOB PRIMARY KEY, type INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
INSERT INTO objects_old SELECT id, type, data FROM objects; DROP TABLE objects;
ALTER TABLE objects_old RENAME TO objects; ALTER TABLE stage DROP COLUMN one_chunk;
PRAGMA user_version = 6;" x
[ "$(sql "PRAGMA user_version" q)" = 6 ] || fail "could not set up a schema-6 repository"

[ "$(mvm log --json)" = "$log_before" ] || fail "history differs after the migration"
[ "$(sql "PRAGMA user_version" q)" = 9 ] || fail "schema not migrated to 9"
sql "SELECT sql FROM sqlite_master WHERE name = 'objects'" q | grep -q "WITHOUT ROWID" &&
	fail "objects is still a WITHOUT ROWID table"
mvm fsck -q
rm model.safetensors
mvm checkout -q HEAD~1 -- model.safetensors
"$STGEN" --size-mb 8 --seed 2 "$SCRATCH/one.safetensors"
cmp -s model.safetensors "$SCRATCH/one.safetensors" || fail "version one is not bit-exact after the migration"

# a schema newer than this mvm is refused, and left as it is
sql "PRAGMA user_version = 99" x
expect_exit 1 mvm status
grep -q "schema 99 is newer" "$SCRATCH/err" || fail "newer schema not named: $(cat "$SCRATCH/err")"
[ "$(sql "PRAGMA user_version" q)" = 99 ] || fail "a newer schema was touched"
