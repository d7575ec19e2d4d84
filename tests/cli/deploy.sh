#!/bin/sh
# Deployments: strategies (all, blue-green, canary), switch, promote,
# abort, rollback (previous, --to), health checks on a stable version,
# several environments, resolve, protected environments, JSON shapes, and
# bad input refused with one error line and no change.
. "$(dirname "$0")/lib.sh"

export MVM_USER="Ada <ada@example.com>"
st() { mvm deploy status chat --env "$1" --json >"$SCRATCH/st.json"; json_get "$SCRATCH/st.json" "$2"; }
events() { mvm deploy history chat --env "$1" --json | $PY -c 'import json,sys; print([e["event"] for e in json.load(sys.stdin)])'; }
resolve_v() { mvm resolve chat --env "$1" ${2:+--key "$2"} --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }
fp() { { mvm deploy status chat --json; for e in $(mvm deploy status chat --json | $PY -c 'import json,sys; print(" ".join(d["env"] for d in json.load(sys.stdin)))'); do mvm deploy history chat --env "$e" --json; done; mvm audit --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; } | sha256sum; }
refused() {
	before=$(fp)
	expect_error "$@"
	[ "$(fp)" = "$before" ] || fail "'$*' changed deployments, history or the audit log"
}

mvm init repo >/dev/null
cd repo
mkdir -p serve
for i in 1 2 3 4; do
	echo "weights $i" >serve/w.bin
	mvm add serve
	mvm commit -q -m "v$i"
done
mvm model create chat >/dev/null
for r in HEAD~3 HEAD~2 HEAD~1; do mvm model register chat "$r" >/dev/null; done
mvm model register chat HEAD --path serve >/dev/null

# --- nothing deployed yet ---
mvm deploy status chat --json >"$SCRATCH/s.json"
assert_eq "$(json_get "$SCRATCH/s.json" 'j')" "[]" "no deployments"
mvm deploy status chat >"$SCRATCH/s.txt"
grep -q "not deployed anywhere" "$SCRATCH/s.txt" || fail "text status without deployments"
refused 1 "'chat' is not deployed to 'prod'" mvm deploy status chat --env prod
refused 1 "'chat' is not deployed to 'prod'" mvm resolve chat --env prod
refused 1 "never deployed to 'prod'" mvm deploy history chat --env prod
refused 1 "not deployed to 'prod'" mvm rollback chat --env prod
refused 1 "not deployed to 'prod'" mvm deploy abort chat --env prod
refused 1 "not deployed to 'prod'" mvm deploy health chat --env prod error_rate=0

# --- the first deployment is all at once, whatever the strategy ---
mvm deploy chat 1 --env prod --strategy canary --weight 30 >/dev/null
assert_eq "$(st prod '[j["strategy"], j["stable"], j["candidate"], j["weight"]]')" "['all', 1, None, 0]" "first deploy"
refused 1 "already serves version 1" mvm deploy chat 1 --env prod

# --- blue-green: deployed with no traffic until switched ---
mvm deploy chat 2 --env prod --strategy blue-green >/dev/null
assert_eq "$(st prod '[j["strategy"], j["stable"], j["candidate"], j["weight"]]')" "['blue-green', 1, 2, 0]" "blue-green"
for k in a b c d e f g h; do assert_eq "$(resolve_v prod "$k")" 1 "blue-green sends no traffic ($k)"; done
refused 1 "rolling out version 2" mvm deploy chat 3 --env prod
refused 2 "not a canary" mvm deploy promote chat --env prod --weight 50
mvm deploy switch chat --env prod >/dev/null
assert_eq "$(st prod '[j["stable"], j["candidate"]]')" "[2, None]" "switched"
refused 1 "no rollout under way" mvm deploy switch chat --env prod
refused 1 "no rollout under way" mvm deploy promote chat --env prod
refused 1 "no rollout under way" mvm deploy abort chat --env prod

# --- canary: promote in steps, abort ---
mvm deploy chat 3 --env prod --strategy canary --weight 25 >/dev/null
refused 1 "already gets 25%" mvm deploy promote chat --env prod --weight 20
mvm deploy promote chat --env prod --weight 60 >/dev/null
assert_eq "$(st prod '[j["strategy"], j["stable"], j["candidate"], j["weight"]]')" "['canary', 2, 3, 60]" "canary at 60%"
mvm deploy abort chat --env prod >/dev/null
assert_eq "$(st prod '[j["stable"], j["candidate"], j["weight"]]')" "[2, None, 0]" "aborted"
mvm deploy chat 3 --env prod --strategy canary >/dev/null
mvm deploy promote chat --env prod --weight 100 >/dev/null
assert_eq "$(st prod '[j["stable"], j["candidate"]]')" "[3, None]" "promoted to 100% is stable"
assert_eq "$(events prod)" \
	"['deploy', 'deploy', 'switch', 'deploy', 'promote', 'abort', 'deploy', 'promote']" "history of prod"

# --- rollback: previous stable, a rollout, --to ---
mvm rollback chat --env prod >/dev/null
assert_eq "$(st prod 'j["stable"]')" 2 "rollback to the previous stable version"
mvm rollback chat --env prod >/dev/null
assert_eq "$(st prod 'j["stable"]')" 1 "and once more"
refused 1 "nothing to roll back to" mvm rollback chat --env prod
refused 1 "version 4 never served 'prod'" mvm rollback chat --env prod --to 4
refused 1 "already serves version 1" mvm rollback chat --env prod --to 1
mvm rollback chat --env prod --to 3 >/dev/null
assert_eq "$(st prod 'j["stable"]')" 3 "rollback --to"
mvm deploy chat 4 --env prod --strategy canary --weight 40 >/dev/null
mvm rollback chat --env prod >/dev/null
assert_eq "$(st prod '[j["stable"], j["candidate"]]')" "[3, None]" "rollback drops a rollout"

# --- health of a stable version without a rollout ---
mvm deploy chat 4 --env staging --rollback-if 'error_rate>0.1' >/dev/null
mvm deploy health chat --env staging error_rate=0.5 --json >"$SCRATCH/h.json"
assert_eq "$(json_get "$SCRATCH/h.json" '[j["version"], j["breached"], j["rolled_back"]]')" "[4, True, False]" "first version: nothing to roll back to"
assert_eq "$(events staging)" "['deploy', 'breach']" "breach recorded"
mvm deploy chat 2 --env staging >/dev/null   # keeps staging's rules
mvm deploy health chat --env staging error_rate=0.5 --json >"$SCRATCH/h.json"
assert_eq "$(json_get "$SCRATCH/h.json" '[j["version"], j["rolled_back"]]')" "[2, True]" "stable breach rolls back"
assert_eq "$(st staging '[j["stable"], j["rollback_if"]]')" "[4, ['error_rate>0.1']]" "back to the previous stable version"
mvm deploy health chat --env staging error_rate=0.01 >"$SCRATCH/h.txt"
grep -q "healthy" "$SCRATCH/h.txt" || fail "text health report"
refused 1 "version 1 is not served in 'staging'" mvm deploy health chat --env staging --version 1 error_rate=0
refused 2 "not a finite number" mvm deploy health chat --env staging error_rate=bad
refused 2 "wrong arguments" mvm deploy health chat --env staging

# --- several environments, resolve with a subpath ---
mvm deploy status chat --json >"$SCRATCH/s.json"
assert_eq "$(json_get "$SCRATCH/s.json" '[(d["env"], d["stable"]) for d in j]')" "[('prod', 3), ('staging', 4)]" "status of all environments"
mvm resolve chat --env staging --json >"$SCRATCH/r.json"
assert_eq "$(json_get "$SCRATCH/r.json" 'sorted(j)')" "['id', 'path', 'role', 'version']" "resolve --json keys"
assert_eq "$(json_get "$SCRATCH/r.json" '[j["version"], j["path"], j["role"], j["id"]]')" "[4, 'serve', 'stable', '$(rev_id chat@4)']" "resolve"
mvm resolve chat --env staging >"$SCRATCH/r.txt"
grep -q "chat@4 .*:serve (stable)" "$SCRATCH/r.txt" || fail "text resolve"

# --- protected environments ---
mvm model protect chat prod
refused 1 "environment 'prod' of model 'chat' is protected" mvm deploy chat 4 --env prod
mvm rollback chat --env prod >/dev/null   # rollbacks stay possible
assert_eq "$(st prod 'j["stable"]')" 2 "rollback of a protected environment"

# --- bad input ---
refused 2 "'deploy' needs --env" mvm deploy chat 2
refused 2 "unknown strategy 'rolling'" mvm deploy chat 2 --env dev --strategy rolling
refused 2 "--weight applies to --strategy canary only" mvm deploy chat 2 --env dev --weight 10
refused 2 "from 1 to 99" mvm deploy chat 2 --env dev --strategy canary --weight 100
refused 2 "from 1 to 99" mvm deploy chat 2 --env dev --strategy canary --weight 0
refused 2 "--weight needs a whole number" mvm deploy chat 2 --env dev --strategy canary --weight ten
refused 2 "cannot parse rule" mvm deploy chat 2 --env dev --rollback-if 'error_rate >'
refused 2 "not a valid environment name" mvm deploy chat 2 --env 'a b'
refused 1 "no model named 'nope'" mvm deploy nope 2 --env dev
refused 1 "has no version 9" mvm deploy chat 9 --env dev
refused 2 "does not apply to 'deploy status'" mvm deploy status chat --strategy all
refused 2 "does not apply to 'rollback'" mvm rollback chat --env prod --key k
refused 2 "'resolve' needs --env" mvm resolve chat
refused 2 "wrong arguments for 'resolve'" mvm resolve --env prod
refused 2 "wrong arguments for 'deploy'" mvm deploy chat --env prod
expect_exit 0 mvm audit verify
for c in deploy resolve rollback; do
	expect_exit 0 mvm "$c" --help
	head -1 "$SCRATCH/out" | grep -q "^usage: mvm $c" || fail "$c --help"
done
