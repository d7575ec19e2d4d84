#!/bin/sh
# Change requests moving an alias: gates (metric rules against the current
# holder, an exec gate on the checked-out candidate), approvals (never by
# the author, counts per model and per protected target), protection of
# targets, reject, --force, show/list JSON shapes, and refusals that leave
# the registry and the audit log unchanged.
. "$(dirname "$0")/lib.sh"

ADA="Ada <ada@example.com>"
BOB="Bob <bob@example.com>"
CY="Cy <cy@example.com>"
export MVM_USER="$ADA"
as() { who=$1; shift; MVM_USER="$who" "$@"; }
audit_count() { mvm audit --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
alias_of() { mvm model show chat --json | $PY -c "import json,sys; print(json.load(sys.stdin)['aliases'].get('$1'))"; }
change_get() { mvm change show "$1" --json >"$SCRATCH/ch.json"; json_get "$SCRATCH/ch.json" "$2"; }
state_fp() { { mvm model show chat --json; mvm change list --json; audit_count; } | sha256sum; }
refused() {
	before=$(state_fp)
	expect_error "$@"
	[ "$(state_fp)" = "$before" ] || fail "'$*' changed the registry or the audit log"
}

mvm init repo >/dev/null
cd repo
mkdir ckpt
"$STGEN" --size-mb 0.25 --seed 1 ckpt/model.safetensors
echo cfg >ckpt/config.json
mvm add ckpt
mvm commit -q -m base --metric accuracy=0.90 --metric latency_ms=100
"$STGEN" --size-mb 0.25 --seed 1 --perturb 0.3 ckpt/model.safetensors
mvm commit -q -a -m tuned --metric accuracy=0.85 --metric latency_ms=105
mvm model create chat >/dev/null
mvm model register chat HEAD~1 >/dev/null
mvm model register chat HEAD --path ckpt >/dev/null
mvm model gate chat 'accuracy>=current' 'latency_ms <= 1.1*current' >/dev/null

# --- the first holder: nothing to compare with, the gates pass ---
mvm change open chat 1 --to production --json >"$SCRATCH/open.json"
assert_eq "$(json_get "$SCRATCH/open.json" 'j')" "{'id': 1}" "change open --json"
assert_eq "$(change_get 1 '[g["status"] for g in j["gates"]]')" "['pass', 'pass']" "gates pass without a current holder"
assert_eq "$(change_get 1 '[j["current"], j["diff"], j["ready"]]')" "[None, None, False]" "no holder, not approved"
refused 1 "opened by you" mvm change approve 1
as "$BOB" mvm change approve 1 >/dev/null
refused 1 "already approved" as "$BOB" mvm change approve 1
assert_eq "$(change_get 1 'j["ready"]')" True "ready once approved"
mvm change apply 1 >/dev/null
assert_eq "$(alias_of production)" 1 "change 1 applied"
refused 1 "already applied" mvm change apply 1
refused 1 "already applied" as "$CY" mvm change approve 1
refused 1 "holds version 1" mvm change open chat 1 --to production

# --- a candidate that fails a gate ---
mvm change open chat 2 --to production --reason "tuned on new data" --json >"$SCRATCH/open.json"
id=$(json_get "$SCRATCH/open.json" 'j["id"]')
assert_eq "$id" 2 "second change"
mvm change show "$id" --json >"$SCRATCH/ch.json"
assert_eq "$(json_get "$SCRATCH/ch.json" 'sorted(j)')" \
	"['approvals', 'approvals_required', 'author', 'close_reason', 'closed_by', 'closed_time', 'current', 'diff', 'forced', 'gates', 'id', 'metrics', 'model', 'ready', 'reason', 'rollback_if', 'state', 'strategy', 'target', 'time', 'version', 'version_id', 'weight']" \
	"change show --json keys"
assert_eq "$(json_get "$SCRATCH/ch.json" '[j["model"], j["version"], j["target"], j["state"], j["author"], j["reason"], j["current"]["version"]]')" \
	"['chat', 2, {'kind': 'alias', 'name': 'production'}, 'open', '$ADA', 'tuned on new data', 1]" "change show fields"
assert_eq "$(json_get "$SCRATCH/ch.json" '[(g["rule"], g["kind"], g["status"]) for g in j["gates"]]')" \
	"[('accuracy>=current', 'metric', 'fail'), ('latency_ms <= 1.1*current', 'metric', 'pass')]" "gates evaluated"
assert_eq "$(json_get "$SCRATCH/ch.json" 'j["gates"][0]["detail"]')" "accuracy = 0.85, needs >= 0.9 (current 0.9)" "gate detail"
assert_eq "$(json_get "$SCRATCH/ch.json" '{k: (v["current"], v["candidate"]) for k, v in j["metrics"].items()}')" \
	"{'accuracy': (0.9, 0.85), 'latency_ms': (100.0, 105.0)}" "metric diff"
assert_eq "$(json_get "$SCRATCH/ch.json" 'round(j["metrics"]["accuracy"]["delta"], 6)')" "-0.05" "metric delta"
assert_eq "$(json_get "$SCRATCH/ch.json" '[j["diff"]["files_changed"], j["diff"]["files"][0]["path"], j["diff"]["files"][0]["status"]]')" \
	"[1, 'ckpt/model.safetensors', 'modified']" "tensor diff summary"
assert_eq "$(json_get "$SCRATCH/ch.json" 'j["diff"]["tensors_changed"] > 0 and j["diff"]["files"][0]["tensors"]["modified"] == j["diff"]["tensors_changed"]')" \
	True "tensor counts"
mvm change show "$id" >"$SCRATCH/ch.txt"
grep -q "FAIL *accuracy>=current" "$SCRATCH/ch.txt" || fail "text show marks the failing gate"
grep -q "tensor" "$SCRATCH/ch.txt" || fail "text show summarizes the tensor diff"

# apply is refused, listing everything missing; nothing changes
refused 1 "gate 'accuracy>=current' failed: accuracy = 0.85.*0 of 1 required approval" mvm change apply "$id"
as "$BOB" mvm change approve "$id" >/dev/null
refused 1 "gate 'accuracy>=current' failed" mvm change apply "$id"
grep -q "approval" "$SCRATCH/err" && fail "approvals reported missing after an approval"
assert_eq "$(alias_of production)" 1 "refused apply left the alias"
# fix: a new evaluation of the candidate
mvm model metric chat 2 accuracy=0.93
assert_eq "$(change_get "$id" '[g["status"] for g in j["gates"]]')" "['pass', 'pass']" "gates pass after the fix"
mvm change apply "$id" >/dev/null
assert_eq "$(alias_of production)" 2 "applied after the fix"
assert_eq "$(change_get "$id" '[j["state"], j["closed_by"], j["forced"]]')" "['applied', '$ADA', False]" "applied change"
mvm audit --model chat --json >"$SCRATCH/audit.json"
assert_eq "$(json_get "$SCRATCH/audit.json" '[(e["action"], e["before"], e["actor"]) for e in j][-3:]')" \
	"[('model.metric', '0.85', '$ADA'), ('model.alias.set', '1', '$ADA'), ('change.apply', '1', '$ADA')]" "apply audited with the move"
assert_eq "$(json_get "$SCRATCH/audit.json" '[e["actor"] for e in j if e["action"] == "change.approve"]')" "['$BOB', '$BOB']" "approvals audited"

# --- protection: direct moves refused, approvals per target ---
mvm model protect chat production --approvals 2
refused 1 "protected; open a change request" mvm model alias chat production 1
refused 1 "protected" mvm model alias -d chat production
mvm model alias chat staging 1 >/dev/null   # unprotected aliases still move directly
mvm model protect chat --json >"$SCRATCH/p.json"
assert_eq "$(json_get "$SCRATCH/p.json" 'j')" "{'approvals': 1, 'protected': {'production': 2}}" "protections"
mvm change open chat 1 --to production --reason rollback >/dev/null
assert_eq "$(change_get 3 '[j["approvals_required"], [g["status"] for g in j["gates"]]]')" "[2, ['fail', 'pass']]" "protected target needs 2"
as "$BOB" mvm change approve 3 >/dev/null
refused 1 "1 of 2 required approvals" mvm change apply 3
as "$CY" mvm change approve 3 >/dev/null
refused 1 "accuracy>=current" mvm change apply 3
# --force: only for registry admins; then applies anyway, recorded as forced with what was missing
refused 1 "only registry admins may --force" mvm change apply 3 --force
mvm config registry.admins "bob@example.com, Ada <ada@example.com>"
mvm audit --json >"$SCRATCH/ca.json"
assert_eq "$(json_get "$SCRATCH/ca.json" '[(e["object"], e["after"]) for e in j if e["action"] == "config.set"]')" \
	"[('config/registry.admins', 'bob@example.com, Ada <ada@example.com>')]" "config change audited"
refused 1 "only registry admins may --force" as "$CY" mvm change apply 3 --force
mvm change apply 3 --force >/dev/null
assert_eq "$(alias_of production)" 1 "forced apply moved the alias"
assert_eq "$(change_get 3 '[j["state"], j["forced"]]')" "['applied', True]" "forced change"
mvm audit --model chat --json >"$SCRATCH/audit.json"
assert_eq "$(json_get "$SCRATCH/audit.json" '[json.loads(e["after"]).get("forced") for e in j if e["action"] == "change.apply"]')" \
	"[None, None, True]" "forced apply audited"
assert_eq "$(json_get "$SCRATCH/audit.json" '"accuracy>=current" in [json.loads(e["after"]) for e in j if e["action"] == "change.apply"][-1]["missing"]')" \
	True "forced apply records what was missing"
# the model-wide requirement
mvm model protect chat --approvals 3
mvm change open chat 2 --to staging >/dev/null
assert_eq "$(change_get 4 'j["approvals_required"]')" 3 "model-wide approvals"
mvm model protect chat --approvals 1
mvm model protect -d chat production
refused 1 "is not protected" mvm model protect -d chat production
mvm model alias chat production 2 >/dev/null

# --- reject ---
refused 2 "needs a reason" mvm change reject 4
as "$BOB" mvm change reject 4 --reason "not now" >/dev/null
assert_eq "$(change_get 4 '[j["state"], j["closed_by"], j["close_reason"]]')" "['rejected', '$BOB', 'not now']" "rejected"
refused 1 "already rejected" mvm change apply 4 --force
refused 1 "already rejected" as "$CY" mvm change approve 4

# --- the exec gate: runs on the checked-out candidate at apply ---
mvm model gate chat --clear
mvm model gate chat --json >"$SCRATCH/g.json"
assert_eq "$(json_get "$SCRATCH/g.json" 'j')" "{'rules': [], 'exec': None}" "gates cleared"
cat >"$SCRATCH/gate.sh" <<EOF
#!/bin/sh
echo "\$MVM_CANDIDATE_DIR" >"$SCRATCH/gate.dir"
echo "\$MVM_CANDIDATE_PATH \$MVM_MODEL \$MVM_MODEL_VERSION \$(pwd)" >"$SCRATCH/gate.env"
test -f "\$MVM_CANDIDATE_PATH/model.safetensors" || exit 3
cmp -s "\$MVM_CANDIDATE_PATH/config.json" "$SCRATCH/repo/ckpt/config.json" || exit 4
exit \$(cat "$SCRATCH/gate.rc")
EOF
chmod +x "$SCRATCH/gate.sh"
mvm model gate chat --exec "$SCRATCH/gate.sh" >/dev/null
echo 1 >"$SCRATCH/gate.rc"
mvm change open chat 2 --to champion >/dev/null
assert_eq "$(change_get 5 '[(g["kind"], g["status"]) for g in j["gates"]]')" "[('exec', 'not_run')]" "exec gate waits for apply"
as "$BOB" mvm change approve 5 >/dev/null
refused 1 "gate 'exec: .*gate.sh' failed: exited with status 1" mvm change apply 5
[ -s "$SCRATCH/gate.dir" ] || fail "the exec gate did not run"
[ ! -e "$(cat "$SCRATCH/gate.dir")" ] || fail "the candidate folder was not removed"
cand=$(cat "$SCRATCH/gate.dir")
assert_eq "$(cat "$SCRATCH/gate.env")" "$cand/ckpt chat 2 $cand" "exec gate environment"
echo 0 >"$SCRATCH/gate.rc"
mvm change apply 5 >"$SCRATCH/apply.out"
assert_eq "$(alias_of champion)" 2 "exec gate passed"
assert_eq "$(cat "$SCRATCH/apply.out")" "Applied change 5" "the gate's output stays off stdout"

# --- list ---
mvm change list --json >"$SCRATCH/list.json"
assert_eq "$(json_get "$SCRATCH/list.json" '[(c["id"], c["state"]) for c in j]')" \
	"[(5, 'applied'), (4, 'rejected'), (3, 'applied'), (2, 'applied'), (1, 'applied')]" "change list, newest first"
mvm change open chat 1 --to champion >/dev/null
mvm change list --open --json >"$SCRATCH/list.json"
assert_eq "$(json_get "$SCRATCH/list.json" '[c["id"] for c in j]')" "[6]" "change list --open"
mvm change list --model chat >"$SCRATCH/list.txt"
assert_eq "$(wc -l <"$SCRATCH/list.txt")" 6 "text list"
refused 1 "no model named" mvm change list --model nope

# --- bad input: one error line, nothing changes ---
refused 2 "exactly one of --to ALIAS or --deploy ENV" mvm change open chat 1
refused 2 "exactly one of" mvm change open chat 1 --to a --deploy b
refused 2 "apply to --deploy only" mvm change open chat 1 --to a --weight 10
refused 2 "apply to --deploy only" mvm change open chat 1 --to a --strategy canary
refused 2 "not a valid alias name" mvm change open chat 1 --to 12
refused 2 "--weight needs a whole number" mvm change open chat 1 --deploy prod --weight 150
refused 1 "no model named" mvm change open nope 1 --to a
refused 1 "has no version 9" mvm change open chat 9 --to a
refused 2 "not a change number" mvm change show x
refused 1 "no change request 99" mvm change show 99
refused 1 "no change request 99" mvm change apply 99
refused 2 "does not apply to 'change approve'" mvm change approve 6 --force
refused 2 "wrong arguments" mvm change apply
refused 2 "unknown change subcommand" mvm change frob
refused 2 "cannot parse rule 'accuracy=>1'" mvm model gate chat 'accuracy>=current' 'accuracy=>1'
refused 2 "from 1 to 100" mvm model protect chat production --approvals 0
refused 2 "not a valid alias or environment name" mvm model protect chat 7
mvm model archive chat >/dev/null
refused 1 "is archived" mvm change open chat 1 --to staging
expect_exit 0 mvm audit verify
expect_exit 0 mvm change --help
grep -q "apply ID" "$SCRATCH/out" || fail "change --help"
