#!/bin/sh
# Audit log: every commit, branch/tag change and gc appends one entry in the
# same transaction; refused commands append none; JSON shape; the chain
# re-computed independently from docs/FORMAT.md; 'audit verify' finds an
# edited, removed, reordered or cut-off entry (exit 3, naming it).
. "$(dirname "$0")/lib.sh"

audit_count() { mvm audit --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
audit_last() { mvm audit --json | $PY -c "import json,sys; e=json.load(sys.stdin)[-1]; print($1)"; }
# sql DB STATEMENT...: run SQL statements on a repository database (no sqlite3 CLI needed)
sql() { db=$1; shift; $PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [c.execute(s) for s in sys.argv[2:]]; c.commit()' "$db" "$@"; }

mvm init repo >/dev/null
cd repo
assert_eq "$(audit_count)" 0 "fresh repository has no entries"
expect_exit 0 mvm audit verify
grep -q "0 entries" "$SCRATCH/out" || fail "verify of an empty log"

"$STGEN" --size-mb 1 --seed 1 model.safetensors
mvm add model.safetensors
mvm commit -q -m one
c1=$(head_id)
assert_eq "$(audit_count)" 1 "commit appends one entry"
assert_eq "$(audit_last '[e["action"], e["object"], e["before"], e["after"], e["actor"]]')" \
	"['commit', 'refs/heads/main', None, '$c1', 'Test User <test@example.com>']" "commit entry"
mvm audit --json >"$SCRATCH/a.json"
assert_eq "$(json_get "$SCRATCH/a.json" 'sorted(j[0])')" \
	"['action', 'actor', 'after', 'before', 'hash', 'object', 'prev_hash', 'seq', 'time']" "audit --json keys"
assert_eq "$(json_get "$SCRATCH/a.json" '[j[0]["seq"], j[0]["prev_hash"]]')" "[1, '$(printf '0%.0s' $(seq 64))']" "first entry"

"$STGEN" --size-mb 1 --seed 1 --perturb 0.2 model.safetensors
MVM_USER="Other <o@example.com>" mvm commit -q -a -m two
c2=$(head_id)
assert_eq "$(audit_last '[e["action"], e["before"], e["after"], e["actor"]]')" \
	"['commit', '$c1', '$c2', 'Other <o@example.com>']" "second commit: before/after and actor"

mvm branch dev "$c1"
assert_eq "$(audit_last '[e["action"], e["object"], e["before"], e["after"]]')" \
	"['branch.create', 'refs/heads/dev', None, '$c1']" "branch create"
mvm tag v1 "$c1"
assert_eq "$(audit_last '[e["action"], e["object"], e["after"]]')" "['tag.create', 'refs/tags/v1', '$c1']" "tag create"
mvm branch -d dev >/dev/null
assert_eq "$(audit_last '[e["action"], e["object"], e["before"], e["after"]]')" \
	"['branch.delete', 'refs/heads/dev', '$c1', None]" "branch delete"
n=$(audit_count)

# refused or failed commands leave the log as it was
expect_error 1 "already exists" mvm branch main
expect_error 1 "already exists" mvm tag v1
expect_error 1 "nothing to commit" mvm commit -m nothing
expect_error 1 "not found" mvm branch -d nope
expect_error 2 "not a valid" mvm branch "bad@name"
assert_eq "$(audit_count)" "$n" "refused commands append nothing"

# checkout moves HEAD, never a branch: no entry; a commit on a detached HEAD is recorded on HEAD
mvm checkout -q "$c1"
assert_eq "$(audit_count)" "$n" "checkout appends nothing"
echo x >x.txt
mvm add x.txt
mvm commit -q -m detached
d1=$(head_id)
assert_eq "$(audit_last '[e["action"], e["object"], e["before"], e["after"]]')" \
	"['commit', 'HEAD', '$c1', '$d1']" "detached commit"
mvm checkout -q main
mvm gc -q
assert_eq "$(audit_last '[e["action"], e["object"], sorted(json.loads(e["after"]))]')" \
	"['gc', 'repository', ['chunks_removed', 'objects_removed']]" "gc entry"

# text listing: one line per entry
mvm audit >"$SCRATCH/a.txt"
assert_eq "$(wc -l <"$SCRATCH/a.txt")" "$(audit_count)" "one text line per entry"
grep -q "branch.delete" "$SCRATCH/a.txt" || fail "text listing names actions"
expect_exit 0 mvm audit verify
grep -q "intact" "$SCRATCH/out" || fail "verify says intact"
mvm audit verify --json >"$SCRATCH/v.json"
assert_eq "$(json_get "$SCRATCH/v.json" '[j["ok"], j["entries"], j["problem"]]')" "[True, $(audit_count), None]" "verify --json"

# the chain, re-computed from the encoding in docs/FORMAT.md
$PY - .mvm/mvm.db <<'PYEOF' || fail "independent chain check"
import hashlib, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
def s(v):
    if v is None:
        return struct.pack("<I", 0xffffffff)
    b = v.encode()
    return struct.pack("<I", len(b)) + b
prev = bytes(32)
rows = db.execute("SELECT seq, time, actor, action, object, before, after, prev_hash, hash FROM audit ORDER BY seq").fetchall()
for seq, t, actor, action, obj, before, after, ph, h in rows:
    enc = b"MVMA" + struct.pack("<IQq", 1, seq, t) + s(actor) + s(action) + s(obj) + s(before) + s(after) + prev
    assert ph == prev, seq
    assert hashlib.sha256(enc).digest() == h, seq
    prev = h
head = db.execute("SELECT value FROM meta WHERE key = 'audit.head'").fetchone()[0]
assert head == "%d %s" % (rows[-1][0], prev.hex()), head
PYEOF

# tampering, each on a copy of the repository
cd "$SCRATCH"
tamper() {
	rm -rf t && cp -a repo t
	sql t/.mvm/mvm.db "$@"
	(cd t && expect_error 3 "$want" mvm audit verify)
	# fsck checks the chain too
	msg=$want
	(cd t && expect_exit 3 mvm fsck -q && cat "$SCRATCH/out" "$SCRATCH/err" | grep -q "$msg") || fail "fsck missed: $msg"
}
want="audit entry 3 was altered"; tamper "UPDATE audit SET actor = 'Mallory <m@example.com>' WHERE seq = 3"
want="audit entry 2 was altered"; tamper "UPDATE audit SET after = NULL WHERE seq = 2"
want="audit entry 4 was altered"; tamper "UPDATE audit SET time = time + 1 WHERE seq = 4"
want="audit entry 3 is missing"; tamper "DELETE FROM audit WHERE seq = 3"
want="audit entry 3 does not follow"; tamper "DELETE FROM audit WHERE seq = 3" "UPDATE audit SET seq = seq - 1 WHERE seq > 3"
want="audit entry 2 does not follow"; tamper "UPDATE audit SET seq = -2 WHERE seq = 2" "UPDATE audit SET seq = 2 WHERE seq = 3" "UPDATE audit SET seq = 3 WHERE seq = -2"
last=$(cd repo && audit_count)
want="audit entry $last is missing"; tamper "DELETE FROM audit WHERE seq = $last"
# an edit followed by a re-hash of that entry alone still breaks the link to the next one
cd t
mvm audit verify --json >"$SCRATCH/v.json" || :
assert_eq "$(json_get "$SCRATCH/v.json" '[j["ok"], "missing" in j["problem"]]')" "[False, True]" "verify --json on a bad log"
cd "$SCRATCH"
rm -rf t && cp -a repo t
$PY - t/.mvm/mvm.db <<'PYEOF'
import hashlib, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
def s(v):
    if v is None:
        return struct.pack("<I", 0xffffffff)
    b = v.encode()
    return struct.pack("<I", len(b)) + b
seq, t, actor, action, obj, before, after, ph = db.execute(
    "SELECT seq, time, actor, action, object, before, after, prev_hash FROM audit WHERE seq = 2").fetchone()
actor = "Mallory <m@example.com>"
enc = b"MVMA" + struct.pack("<IQq", 1, seq, t) + s(actor) + s(action) + s(obj) + s(before) + s(after) + ph
db.execute("UPDATE audit SET actor = ?, hash = ? WHERE seq = 2", (actor, hashlib.sha256(enc).digest()))
db.commit()
PYEOF
(cd t && expect_error 3 "audit entry 3 does not follow" mvm audit verify)
# the untouched repository still verifies
(cd repo && expect_exit 0 mvm audit verify)

# usage errors
cd repo
expect_error 2 "unknown audit subcommand" mvm audit nope
expect_error 2 "takes no arguments" mvm audit verify extra
expect_exit 0 mvm audit --help
grep -q "usage: mvm audit" "$SCRATCH/out" || fail "audit --help"
