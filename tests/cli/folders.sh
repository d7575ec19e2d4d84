#!/bin/sh
# Trees are stored one object per folder: a version writes only the folders
# it changed, shares the rest, and gc, fsck and checkout walk them all.
. "$(dirname "$0")/lib.sh"

trees() { $PY -c "import sqlite3; print(sqlite3.connect('.mvm/mvm.db').execute('SELECT count(*) FROM objects WHERE type = 2').fetchone()[0])"; }

mvm init -q repo
cd repo
mkdir -p a/b b deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20
printf 'x\n' >a.txt
printf 'in a\n' >a/f
printf 'in a/b\n' >a/b/g
printf 'zero\n' >a0
for i in 1 2 3; do printf 'b %s\n' "$i" >"b/$i"; done
printf 'deep\n' >deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/leaf
head -c 700000 /dev/urandom >b/big.bin
mvm add -q .
mvm commit -q -m one
tree_sums . >"$SCRATCH/one.sums"
# root, a, a/b, b, deep and its 20 folders
assert_eq "$(trees)" 25 "tree objects of version one"
mvm ls --json HEAD >"$SCRATCH/ls.json"
assert_eq "$(json_get "$SCRATCH/ls.json" "[e['path'] for e in j][:5]")" \
	"['a.txt', 'a/b/g', 'a/f', 'a0', 'b/1']" "files in bytewise order of their paths"
expect_clean "after the first commit"
# every file's sha256 is sha256sum's, one-chunk or not; only files of more than one chunk have a manifest
$PY -c "import json; [print(e['sha256'] + '  ' + e['path']) for e in json.load(open('$SCRATCH/ls.json'))]" |
	sha256sum -c --quiet - || fail "ls --json sha256 differs from sha256sum"
assert_eq "$(json_get "$SCRATCH/ls.json" "[e['path'] for e in j if e['manifest']]")" "['b/big.bin']" \
	"files with a manifest object"

printf 'b 2 changed\n' >b/2
mvm commit -q -a -m two
assert_eq "$(trees)" 27 "a change in b/ writes b and the root only"
printf 'leaf changed\n' >deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/leaf
mvm commit -q -a -m three
assert_eq "$(trees)" 49 "a change 21 folders down writes them and the root"
tree_sums . >"$SCRATCH/three.sums"

mvm gc -q
expect_fsck_ok "fsck after gc"
mvm checkout -q HEAD~2 -- .
tree_sums . | cmp -s - "$SCRATCH/one.sums" || fail "version one differs after gc"
mvm checkout -q HEAD -- .
tree_sums . | cmp -s - "$SCRATCH/three.sums" || fail "version three differs after gc"
expect_clean "back at version three"

# a lost folder object is damage: fsck names it, checkout refuses and changes nothing
assert_eq "$(trees)" 49 "gc kept every folder"
$PY - <<'PY'
import sqlite3, struct
db = sqlite3.connect(".mvm/mvm.db")
# the folder "a/b": the only tree whose one entry is the file "g"
for oid, data in db.execute("SELECT id, data FROM objects WHERE type = 2").fetchall():
    if struct.unpack_from("<I", data, 8)[0] == 1 and data[12:15] == b"\x00\x01g":
        db.execute("DELETE FROM objects WHERE id = ?", (oid,))
db.commit()
PY
[ "$(trees)" = 48 ] || fail "the test did not remove folder a/b"
expect_exit 3 mvm fsck
grep -q "tree .* not found" "$SCRATCH/out" "$SCRATCH/err" || fail "fsck does not name the lost folder: $(cat "$SCRATCH/out" "$SCRATCH/err")"
before=$(tree_sums .)
expect_error 1 "not found" mvm checkout -q HEAD~1
assert_eq "$(tree_sums .)" "$before" "working tree after a refused checkout"
