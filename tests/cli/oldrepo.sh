#!/bin/sh
# A repository written before one-chunk entries (schema 7: version-1 trees,
# a manifest object for every file) opens, reads and grows with this mvm:
# history, status, checkout, gc and fsck as before, an unchanged file
# re-added is no change, and new versions mix both ways of naming files.
. "$(dirname "$0")/lib.sh"

mvm init -q repo
cd repo
mkdir -p data
for i in 1 2 3 4 5 6; do printf 'record %s\n' "$i" >"data/r$i.txt"; done
: >data/empty.txt
head -c 3000000 /dev/urandom >data/big.bin
"$STGEN" --size-mb 2 --seed 4 model.safetensors
mvm add -q .
mvm commit -q -m one
printf 'record 2 changed\n' >data/r2.txt
mvm commit -q -a -m two
tree_sums . >"$SCRATCH/two.sums"
mvm checkout -q HEAD~1 -- .
tree_sums . >"$SCRATCH/one.sums"
mvm checkout -q HEAD -- .

$PY "$(dirname "$0")/../tools/old_format.py" .mvm/mvm.db
[ "$($PY -c "import sqlite3; print(sqlite3.connect('.mvm/mvm.db').execute('SELECT count(*) FROM objects WHERE type = 1').fetchone()[0])")" -ge 9 ] ||
	fail "the old-format repository has no manifests of small files"

assert_eq "$(mvm log --json | $PY -c "import json,sys; print(' '.join(v['message'] for v in json.load(sys.stdin)))")" \
	"two one" "history of the old repository"
expect_clean "status of the untouched old repository"
expect_fsck_ok "fsck of the old repository"

# a small file touched and re-added is staged by its chunk now: still no change
touch -d '2001-01-01' data/r1.txt
mvm add -q data/r1.txt
expect_clean "a re-added unchanged file"
expect_error 1 "nothing to commit" mvm commit -m same

# checkout of the old versions is bit-exact; a new version mixes both kinds
mvm checkout -q HEAD~1 -- .
tree_sums . | cmp -s - "$SCRATCH/one.sums" || fail "version one differs after the conversion"
mvm checkout -q HEAD -- .
tree_sums . | cmp -s - "$SCRATCH/two.sums" || fail "version two differs after the conversion"
printf 'record 3 changed\n' >data/r3.txt
mvm commit -q -a -m three
mvm ls --json HEAD >"$SCRATCH/ls.json"
assert_eq "$(json_get "$SCRATCH/ls.json" "[e['manifest'] is None for e in j if e['path'] in ('data/r3.txt', 'data/r4.txt')]")" \
	"[True, False]" "a new version names a changed small file by its chunk and keeps the old manifest of the others"

# gc keeps what every version needs, in both forms
mvm gc -q
expect_fsck_ok "fsck after gc"
for rev in HEAD~2 HEAD~1; do
	mvm checkout -q "$rev" -- .
	tree_sums . | cmp -s - "$SCRATCH/$([ $rev = HEAD~2 ] && echo one || echo two).sums" || fail "$rev differs after gc"
done
mvm checkout -q HEAD -- .
[ "$(cat data/r3.txt)" = "record 3 changed" ] || fail "version three not restored"
