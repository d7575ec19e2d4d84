#!/bin/sh
# Concurrent registry writers: two processes moving one alias back and forth
# and two processes registering versions at the same time. Every move is
# serialized (BEGIN IMMEDIATE): the audit log shows an unbroken chain of
# before -> after values ending at the alias's final target, version
# numbers are unique and gapless, and the log still verifies.
. "$(dirname "$0")/lib.sh"

mvm init repo >/dev/null
cd repo
echo one >f.txt
mvm add f.txt
mvm commit -q -m one
echo two >f.txt
mvm commit -q -a -m two
mvm model create chat >/dev/null
mvm model register chat HEAD~1 >/dev/null
mvm model register chat HEAD >/dev/null

ROUNDS=${ROUNDS:-50}
mover() {
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		"$MVM" model alias chat production "$1" >/dev/null || exit 1
		"$MVM" model alias chat production "$2" >/dev/null || exit 1
		i=$((i + 1))
	done
}
mover 1 2 2>"$SCRATCH/m1.err" &
p1=$!
mover 2 1 2>"$SCRATCH/m2.err" &
p2=$!
wait $p1 || { cat "$SCRATCH/m1.err" >&2; fail "first alias writer failed"; }
wait $p2 || { cat "$SCRATCH/m2.err" >&2; fail "second alias writer failed"; }

mvm audit --model chat --json >"$SCRATCH/audit.json"
final=$(mvm model show chat --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["aliases"]["production"])')
$PY - "$SCRATCH/audit.json" "$final" <<'PYEOF' || fail "alias moves lost an update"
import json, sys
moves = [e for e in json.load(open(sys.argv[1])) if e["object"] == "model/chat/alias/production"]
assert moves[0]["before"] is None, moves[0]
for prev, cur in zip(moves, moves[1:]):
    assert cur["before"] == prev["after"], (prev, cur)
    assert cur["before"] != cur["after"], cur
assert moves[-1]["after"] == sys.argv[2], (moves[-1], sys.argv[2])
assert len(moves) >= 2, len(moves)
PYEOF

registrar() {
	i=0
	while [ $i -lt 15 ]; do
		"$MVM" model register chat HEAD >/dev/null || exit 1
		i=$((i + 1))
	done
}
registrar 2>"$SCRATCH/r1.err" &
p1=$!
registrar 2>"$SCRATCH/r2.err" &
p2=$!
wait $p1 || { cat "$SCRATCH/r1.err" >&2; fail "first registrar failed"; }
wait $p2 || { cat "$SCRATCH/r2.err" >&2; fail "second registrar failed"; }
mvm model show chat --json >"$SCRATCH/show.json"
assert_eq "$(json_get "$SCRATCH/show.json" '[v["version"] for v in j["versions"]] == list(range(1, 33))')" True \
	"concurrent registrations get unique, gapless numbers"
mvm audit --model chat --json >"$SCRATCH/audit.json"
assert_eq "$(json_get "$SCRATCH/audit.json" 'sorted(int(e["object"].split("/")[2]) for e in j if e["action"] == "model.register")')" \
	"$($PY -c 'print(list(range(1, 33)))')" "one audit entry per registration"
expect_exit 0 mvm audit verify
expect_fsck_ok "after concurrent writers"
