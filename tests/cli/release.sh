#!/bin/sh
# The release lifecycle end to end: register -> change request to deploy
# as a 10% canary -> gate failure -> fix (a new metric) -> self-approval
# refused -> approval -> apply (canary 10%) -> resolve -> promote to 50% ->
# health breach -> automatic rollback, recorded in history and audit ->
# a second candidate promoted to stable -> rollback; the audit log verifies.
. "$(dirname "$0")/lib.sh"

ADA="Ada <ada@example.com>"
BOB="Bob <bob@example.com>"
export MVM_USER="$ADA"
status_get() { mvm deploy status chat --env prod --json >"$SCRATCH/st.json"; json_get "$SCRATCH/st.json" "$1"; }
history_get() { mvm deploy history chat --env prod --json >"$SCRATCH/h.json"; json_get "$SCRATCH/h.json" "$1"; }

mvm init repo >/dev/null
cd repo
"$STGEN" --size-mb 0.25 --seed 1 model.safetensors
mvm add model.safetensors
mvm commit -q -m base --metric accuracy=0.90 --metric latency_ms=100
"$STGEN" --size-mb 0.25 --seed 1 --perturb 0.2 model.safetensors
mvm commit -q -a -m tuned --metric accuracy=0.88 --metric latency_ms=104
"$STGEN" --size-mb 0.25 --seed 1 --perturb 0.4 model.safetensors
mvm commit -q -a -m tuned-again --metric accuracy=0.95 --metric latency_ms=101

# --- register, gate, protect, first deployment through a change request ---
mvm model create chat --description "support assistant" >/dev/null
mvm model register chat HEAD~2 >/dev/null
mvm model register chat HEAD~1 >/dev/null
mvm model gate chat 'accuracy>=current' 'latency_ms<=1.1*current' >/dev/null
mvm model protect chat prod
expect_error 1 "environment 'prod' of model 'chat' is protected" mvm deploy chat 1 --env prod
id=$(mvm change open chat 1 --deploy prod --reason "first release" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])')
MVM_USER="$BOB" mvm change approve "$id" >/dev/null
mvm change apply "$id" >/dev/null
assert_eq "$(status_get '[j["env"], j["strategy"], j["stable"], j["candidate"], j["weight"]]')" \
	"['prod', 'all', 1, None, 0]" "first deployment"
assert_eq "$(status_get 'sorted(j)')" \
	"['candidate', 'candidate_id', 'env', 'rollback_if', 'stable', 'stable_id', 'strategy', 'time', 'weight']" "status --json keys"

# --- version 2 as a 10% canary, through a change request ---
mvm change open chat 2 --deploy prod --strategy canary --weight 10 --rollback-if 'error_rate>0.05' \
	--rollback-if 'latency_ms>1.5*current' --reason "fine-tune" --json >"$SCRATCH/open.json"
id=$(json_get "$SCRATCH/open.json" 'j["id"]')
mvm change show "$id" --json >"$SCRATCH/ch.json"
assert_eq "$(json_get "$SCRATCH/ch.json" '[j["target"], j["strategy"], j["weight"], j["rollback_if"], j["current"]["version"]]')" \
	"[{'kind': 'environment', 'name': 'prod'}, 'canary', 10, ['error_rate>0.05', 'latency_ms>1.5*current'], 1]" "deploy change"
assert_eq "$(json_get "$SCRATCH/ch.json" '[g["status"] for g in j["gates"]]')" "['fail', 'pass']" "gate failure"
assert_eq "$(json_get "$SCRATCH/ch.json" 'j["diff"]["files"][0]["path"]')" "model.safetensors" "tensor diff against prod's version"
# refused: the gate fails and nobody approved yet; nothing moves
expect_error 1 "gate 'accuracy>=current' failed.*0 of 1 required approval" mvm change apply "$id"
assert_eq "$(status_get '[j["stable"], j["candidate"]]')" "[1, None]" "refused apply left prod"
# the author cannot approve
expect_error 1 "someone else must approve" mvm change approve "$id"
# fix: version 2 is re-evaluated
mvm model metric chat 2 accuracy=0.91
MVM_USER="$BOB" mvm change approve "$id" >/dev/null
mvm change show "$id" --json >"$SCRATCH/ch.json"
assert_eq "$(json_get "$SCRATCH/ch.json" '[[g["status"] for g in j["gates"]], j["ready"]]')" "[['pass', 'pass'], True]" "ready"
mvm change apply "$id" >/dev/null
assert_eq "$(status_get '[j["strategy"], j["stable"], j["candidate"], j["weight"], j["rollback_if"]]')" \
	"['canary', 1, 2, 10, ['error_rate>0.05', 'latency_ms>1.5*current']]" "canary at 10%"

# --- resolve: stable without a key, a stable answer per key ---
mvm resolve chat --env prod --json >"$SCRATCH/r.json"
assert_eq "$(json_get "$SCRATCH/r.json" '[j["version"], j["role"], len(j["id"])]')" "[1, 'stable', 64]" "resolve without a key"
cand=0
for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
	mvm resolve chat --env prod --key "user-$k" --json >"$SCRATCH/r.json"
	want=$($PY -c "import hashlib; print(2 if int.from_bytes(hashlib.sha256(b'user-$k').digest()[:8], 'big') % 10000 < 1000 else 1)")
	assert_eq "$(json_get "$SCRATCH/r.json" 'j["version"]')" "$want" "resolve user-$k"
	[ "$want" = 2 ] && cand=$((cand + 1))
done
[ "$cand" -ge 1 ] || fail "no key of 30 reached the 10% canary"
again=$(mvm resolve chat --env prod --key user-7 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["version"])')
assert_eq "$again" "$(mvm resolve chat --env prod --key user-7 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["version"])')" "same key, same answer"

# --- promote to 50%, healthy reports, then a breach rolls the canary back ---
mvm deploy promote chat --env prod --weight 50 >/dev/null
assert_eq "$(status_get '[j["stable"], j["candidate"], j["weight"]]')" "[1, 2, 50]" "canary at 50%"
mvm deploy health chat --env prod --version 1 error_rate=0.010 latency_ms=100 >/dev/null
mvm deploy health chat --env prod error_rate=0.012 latency_ms=120 --json >"$SCRATCH/hl.json"
assert_eq "$(json_get "$SCRATCH/hl.json" '[j["version"], j["breached"], j["rolled_back"], j["rule"]]')" "[2, False, False, None]" "healthy"
mvm deploy health chat --env prod error_rate=0.2 --json >"$SCRATCH/hl.json"
assert_eq "$(json_get "$SCRATCH/hl.json" '[j["version"], j["breached"], j["rolled_back"], j["rule"]]')" \
	"[2, True, True, 'error_rate>0.05']" "breach rolls back"
assert_eq "$(json_get "$SCRATCH/hl.json" 'j["detail"]')" "error_rate = 0.2 > 0.05 (version 2)" "breach detail"
assert_eq "$(status_get '[j["stable"], j["candidate"], j["weight"]]')" "[1, None, 0]" "stable version keeps serving"
assert_eq "$(mvm resolve chat --env prod --key user-1 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["version"])')" 1 \
	"every key gets the stable version after the rollback"
assert_eq "$(history_get '[(e["event"], e["stable_before"], e["stable_after"], e["candidate"], e["weight"]) for e in j]')" \
	"[('deploy', None, 1, None, 0), ('deploy', 1, 1, 2, 10), ('promote', 1, 1, 2, 50), ('auto-rollback', 1, 1, None, 0)]" \
	"history"
assert_eq "$(history_get 'j[-1]["detail"]')" "error_rate>0.05: error_rate = 0.2 > 0.05 (version 2)" "history says why"
mvm audit --model chat --json >"$SCRATCH/a.json"
assert_eq "$(json_get "$SCRATCH/a.json" '[e["action"] for e in j if e["action"].startswith("deploy.")][-5:]')" \
	"['deploy.promote', 'deploy.health', 'deploy.health', 'deploy.health', 'deploy.auto-rollback']" "audited"

# --- a relative rule: latency against the stable version's latest report ---
mvm model register chat HEAD >/dev/null
mvm model protect -d chat prod
mvm deploy chat 3 --env prod --strategy canary --weight 20 >/dev/null   # keeps prod's rules
mvm deploy health chat --env prod latency_ms=140 --json >"$SCRATCH/hl.json"
assert_eq "$(json_get "$SCRATCH/hl.json" '[j["breached"], j["rule"]]')" "[False, None]" "140 <= 1.5 x 100"
mvm deploy health chat --env prod latency_ms=151 --json >"$SCRATCH/hl.json"
assert_eq "$(json_get "$SCRATCH/hl.json" '[j["rolled_back"], j["rule"]]')" "[True, 'latency_ms>1.5*current']" "151 > 1.5 x 100"

# --- version 3 all the way, then a manual rollback ---
mvm deploy chat 3 --env prod --strategy canary >/dev/null
assert_eq "$(status_get 'j["weight"]')" 10 "default canary weight"
mvm deploy promote chat --env prod >/dev/null
assert_eq "$(status_get '[j["stable"], j["candidate"], j["weight"]]')" "[3, None, 0]" "promoted to stable"
mvm rollback chat --env prod >/dev/null
assert_eq "$(status_get '[j["stable"], j["candidate"]]')" "[1, None]" "rolled back to the previous stable version"
assert_eq "$(history_get '[e["event"] for e in j][-1]')" "rollback" "manual rollback in history"
expect_exit 0 mvm audit verify
expect_fsck_ok "after the lifecycle"
