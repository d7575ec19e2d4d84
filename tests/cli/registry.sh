#!/bin/sh
# Model registry: create/list/show/archive, register (numbers, --path,
# --note, the commit's params and metrics), metrics, aliases, lifecycle
# states, NAME@VER and NAME@ALIAS as revisions everywhere, gc keeping
# registered versions, audit entries, and bad input leaving the registry
# (and the audit log) unchanged.
. "$(dirname "$0")/lib.sh"

show() { mvm model show "$1" --json >"$SCRATCH/show.json"; json_get "$SCRATCH/show.json" "$2"; }
audit_count() { mvm audit --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# registry_state: a fingerprint of the registry and the audit log
registry_state() { { mvm model list --json; for m in $(mvm model list --json | $PY -c 'import json,sys; print(" ".join(m["name"] for m in json.load(sys.stdin)))'); do mvm model show "$m" --json; done; audit_count; } | sha256sum; }
# refused CODE PATTERN CMD...: fails with one error line and changes nothing
refused() {
	before=$(registry_state)
	expect_error "$@"
	[ "$(registry_state)" = "$before" ] || fail "'$*' changed the registry or the audit log"
}

mvm init repo >/dev/null
cd repo
mkdir -p ckpt
"$STGEN" --size-mb 0.25 --seed 1 ckpt/model.safetensors
echo "tok" >ckpt/tokenizer.json
echo "readme" >README
mvm add ckpt README
mvm commit -q -m base --param lr=3e-4 --metric accuracy=0.80 --metric loss=0.9
c1=$(head_id)
"$STGEN" --size-mb 0.25 --seed 1 --perturb 0.3 ckpt/model.safetensors
mvm commit -q -a -m tuned --metric accuracy=0.85 --metric loss=0.7
c2=$(head_id)

# --- create / list / show ---
mvm model list --json >"$SCRATCH/list.json"
assert_eq "$(json_get "$SCRATCH/list.json" 'j')" "[]" "empty registry"
mvm model create chat --description "support assistant" >/dev/null
mvm model create tiny-1.0_x >/dev/null
refused 1 "model 'chat' already exists" mvm model create chat
refused 2 "not a valid model name" mvm model create "bad/name"
refused 2 "not a valid model name" mvm model create "a@b"
refused 2 "not a valid model name" mvm model create -- -x
refused 2 "not a valid model name" mvm model create ""
mvm model list --json >"$SCRATCH/list.json"
assert_eq "$(json_get "$SCRATCH/list.json" '[m["name"] for m in j]')" "['chat', 'tiny-1.0_x']" "model list"
assert_eq "$(json_get "$SCRATCH/list.json" 'sorted(j[0])')" \
	"['aliases', 'archived', 'author', 'description', 'latest', 'name', 'time', 'versions']" "model list --json keys"
assert_eq "$(json_get "$SCRATCH/list.json" '[j[0]["versions"], j[0]["latest"], j[0]["description"]]')" \
	"[0, None, 'support assistant']" "empty model in list"
assert_eq "$(show chat 'sorted(j)')" \
	"['aliases', 'approvals', 'archived', 'author', 'description', 'gates', 'name', 'protected', 'time', 'versions']" "model show --json keys"
assert_eq "$(show chat '[j["versions"], j["aliases"], j["archived"], j["author"]]')" \
	"[[], {}, False, 'Test User <test@example.com>']" "empty model"
refused 1 "no model named 'nope'" mvm model show nope

# --- register ---
expect_exit 0 mvm model register chat "$c1" --note "first cut"
grep -q "Registered chat version 1" "$SCRATCH/out" || fail "register prints the number"
mvm model register chat HEAD --path ckpt/ --json >"$SCRATCH/reg.json"
assert_eq "$(json_get "$SCRATCH/reg.json" '[j["name"], j["version"], j["id"]]')" "['chat', 2, '$c2']" "register --json"
mvm model register chat main~1 --path ckpt/model.safetensors >/dev/null
assert_eq "$(show chat '[(v["version"], v["id"], v["path"], v["note"], v["state"]) for v in j["versions"]]')" \
	"[(1, '$c1', None, 'first cut', 'none'), (2, '$c2', 'ckpt', None, 'none'), (3, '$c1', 'ckpt/model.safetensors', None, 'none')]" \
	"registered versions"
assert_eq "$(show chat 'sorted(j["versions"][0])')" \
	"['aliases', 'author', 'history', 'id', 'metrics', 'note', 'params', 'path', 'state', 'time', 'version']" "version keys"
assert_eq "$(show chat '[j["versions"][0]["params"], j["versions"][0]["metrics"], j["versions"][1]["metrics"]]')" \
	"[{'lr': '3e-4'}, {'accuracy': 0.8, 'loss': 0.9}, {'accuracy': 0.85, 'loss': 0.7}]" "params and metrics carried"
refused 1 "no model named 'nope'" mvm model register nope HEAD
refused 1 "unknown revision" mvm model register chat nosuchrev
refused 1 "is not a file or folder" mvm model register chat HEAD --path nothere
refused 1 "is not a file or folder" mvm model register chat HEAD --path ckpt/model
refused 2 "relative path" mvm model register chat HEAD --path ../etc
refused 2 "relative path" mvm model register chat HEAD --path /abs
refused 2 "relative path" mvm model register chat HEAD --path a//b
refused 2 "does not apply" mvm model create x --path y
refused 2 "wrong arguments" mvm model register chat
refused 2 "unknown model subcommand" mvm model frob
refused 2 "give a subcommand" mvm model

# --- metrics ---
mvm model metric chat 2 accuracy=0.91 latency_ms=120
assert_eq "$(show chat 'j["versions"][1]["metrics"]')" "{'accuracy': 0.91, 'latency_ms': 120.0, 'loss': 0.7}" "metrics set"
refused 2 "not a finite number" mvm model metric chat 2 accuracy=high
refused 2 "not a finite number" mvm model metric chat 2 good=1 bad=nan
refused 2 "KEY=NUMBER" mvm model metric chat 2 accuracy
refused 2 "given twice" mvm model metric chat 2 a=1 a=2
refused 1 "has no version 9" mvm model metric chat 9 a=1
refused 1 "has no version or alias 'champ'" mvm model metric chat champ a=1

# --- aliases ---
mvm model alias chat production 1 >/dev/null
mvm model alias chat staging 2 >/dev/null
mvm model alias chat champion staging >/dev/null   # VER may be an alias
assert_eq "$(show chat 'j["aliases"]')" "{'champion': 2, 'production': 1, 'staging': 2}" "aliases"
assert_eq "$(show chat '[v["aliases"] for v in j["versions"]]')" "[['production'], ['champion', 'staging'], []]" "aliases per version"
mvm model alias chat production 2 >/dev/null
assert_eq "$(show chat 'j["aliases"]["production"]')" 2 "alias moved"
n=$(audit_count)
mvm model alias chat production 2 >/dev/null
assert_eq "$(audit_count)" "$n" "a move to the same version changes nothing"
mvm model alias -d chat champion >/dev/null
assert_eq "$(show chat 'j["aliases"]')" "{'production': 2, 'staging': 2}" "alias deleted"
refused 1 "has no alias 'champion'" mvm model alias -d chat champion
refused 2 "not a valid alias name" mvm model alias chat 42 1
refused 2 "not a valid alias name" mvm model alias chat "pro@d" 1
refused 1 "has no version 7" mvm model alias chat canary 7
refused 1 "no model named" mvm model alias nope production 1
refused 2 "wrong arguments" mvm model alias chat production

# --- NAME@VER and NAME@ALIAS as revisions everywhere ---
assert_eq "$(rev_id chat@1)" "$c1" "chat@1"
assert_eq "$(rev_id chat@production)" "$c2" "chat@production"
assert_eq "$(rev_id chat@2~1)" "$c1" "chat@2~1"
assert_eq "$(rev_id "chat@staging^")" "$c1" "chat@staging^"
assert_eq "$(mvm log chat@staging --json | $PY -c 'import json,sys; print([v["id"] for v in json.load(sys.stdin)])')" \
	"['$c2', '$c1']" "log chat@staging"
mvm ls chat@1 --json >"$SCRATCH/ls.json"
assert_eq "$(json_get "$SCRATCH/ls.json" '[f["path"] for f in j]')" "['README', 'ckpt/model.safetensors', 'ckpt/tokenizer.json']" "ls chat@1"
mvm cat chat@3:ckpt/tokenizer.json >"$SCRATCH/tok"
assert_eq "$(cat "$SCRATCH/tok")" "tok" "cat chat@3:PATH"
mvm diff chat@1 chat@production --json >"$SCRATCH/diff.json"
assert_eq "$(json_get "$SCRATCH/diff.json" '[j["a"], j["b"], [f["path"] for f in j["files"]]]')" \
	"['$c1', '$c2', ['ckpt/model.safetensors']]" "diff chat@1 chat@production"
mvm checkout -q chat@1
assert_eq "$(head_id)" "$c1" "checkout chat@1 detaches at version 1"
expect_clean "after checkout chat@1"
mvm checkout -q main
expect_error 1 "no model named 'nope'" mvm show nope@1
expect_error 1 "has no version 9" mvm show chat@9
expect_error 1 "has no version or alias 'canary'" mvm show chat@canary
expect_error 2 "MODEL@VERSION" mvm show chat@
expect_error_in "1 2" "" mvm show @1

# --- lifecycle states ---
mvm model state chat 2 staging >/dev/null
mvm model state chat 2 production >/dev/null
mvm model state chat 1 archived >/dev/null   # skipping states is allowed
assert_eq "$(show chat '[v["state"] for v in j["versions"]]')" "['archived', 'production', 'none']" "states"
assert_eq "$(show chat '[(h["from"], h["to"], h["actor"]) for h in j["versions"][1]["history"]]')" \
	"[('none', 'staging', 'Test User <test@example.com>'), ('staging', 'production', 'Test User <test@example.com>')]" \
	"state history"
mvm model state chat 2 --json >"$SCRATCH/hist.json"
assert_eq "$(json_get "$SCRATCH/hist.json" '[h["to"] for h in j]')" "['staging', 'production']" "state history --json"
mvm model state chat 2 >"$SCRATCH/hist.txt"
grep -q "staging -> production" "$SCRATCH/hist.txt" || fail "state history text"
refused 1 "states only move forward" mvm model state chat 2 staging
refused 1 "states only move forward" mvm model state chat 2 production
refused 1 "states only move forward" mvm model state chat 1 production
refused 2 "unknown state 'live'" mvm model state chat 3 live

# --- audit entries, filtered by model ---
mvm audit --model chat --json >"$SCRATCH/audit.json"
assert_eq "$(json_get "$SCRATCH/audit.json" 'sorted(set(e["action"] for e in j))')" \
	"['model.alias.delete', 'model.alias.set', 'model.create', 'model.metric', 'model.register', 'model.state']" "audited actions"
assert_eq "$(json_get "$SCRATCH/audit.json" 'all(e["object"] == "model/chat" or e["object"].startswith("model/chat/") for e in j)')" \
	True "audit --model keeps that model's entries"
assert_eq "$(json_get "$SCRATCH/audit.json" '[(e["object"], e["before"], e["after"]) for e in j if e["action"] == "model.alias.set" and e["object"].endswith("/production")]')" \
	"[('model/chat/alias/production', None, '1'), ('model/chat/alias/production', '1', '2')]" "alias moves audited with before/after"
assert_eq "$(json_get "$SCRATCH/audit.json" '[(e["object"], e["before"], e["after"]) for e in j if e["action"] == "model.metric"]')" \
	"[('model/chat/2/metric/accuracy', '0.85', '0.91'), ('model/chat/2/metric/latency_ms', None, '120')]" "metrics audited"
assert_eq "$(json_get "$SCRATCH/audit.json" '[e["after"] for e in j if e["action"] == "model.register"]')" \
	"['$c1', '$c2:ckpt', '$c1:ckpt/model.safetensors']" "registrations audited"
mvm audit --model tiny-1.0_x --json >"$SCRATCH/audit.json"
assert_eq "$(json_get "$SCRATCH/audit.json" '[e["action"] for e in j]')" "['model.create']" "other model's entries"
mvm audit --model cha --json >"$SCRATCH/audit.json"
assert_eq "$(json_get "$SCRATCH/audit.json" 'j')" "[]" "--model matches whole names only"

# --- archive: readable, no new versions ---
mvm model archive chat >/dev/null
assert_eq "$(show chat 'j["archived"]')" True "archived"
refused 1 "is archived" mvm model register chat HEAD
refused 1 "already archived" mvm model archive chat
assert_eq "$(rev_id chat@production)" "$c2" "archived model still resolves"
mvm model list --json >"$SCRATCH/list.json"
assert_eq "$(json_get "$SCRATCH/list.json" '[j[0]["archived"], j[0]["versions"], j[0]["latest"]]')" "[True, 3, 3]" "archived in list"

# --- gc keeps what the registry pins ---
mvm branch side "$c1"
mvm switch -q side
echo "side" >side.txt
mvm add side.txt
mvm commit -q -m side --metric accuracy=0.5
s1=$(head_id)
mvm model register tiny-1.0_x HEAD >/dev/null
mvm switch -q main
mvm branch -d side >/dev/null
mvm gc -q
assert_eq "$(rev_id tiny-1.0_x@1)" "$s1" "registered version survives gc"
mvm cat tiny-1.0_x@1:side.txt >"$SCRATCH/side"
assert_eq "$(cat "$SCRATCH/side")" "side" "its files survive gc"
expect_fsck_ok "after gc"
mvm fsck --json >"$SCRATCH/fsck.json"
assert_eq "$(json_get "$SCRATCH/fsck.json" 'j["refs"] >= 5')" True "fsck counts registered versions"
mvm audit verify >/dev/null

# a registered version that disappears is reported by fsck
cd "$SCRATCH"
cp -a repo broken
$PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE model_versions SET version = zeroblob(32) WHERE number = 1 AND model = (SELECT id FROM models WHERE name = ?)", ("tiny-1.0_x",)); c.commit()' broken/.mvm/mvm.db
cd broken
expect_exit 3 mvm fsck
grep -q "tiny-1.0_x@1" "$SCRATCH/out" || { cat "$SCRATCH/out" >&2; fail "fsck names the broken model version"; }

# --- help ---
cd "$SCRATCH/repo"
expect_exit 0 mvm model --help
grep -q "register NAME REV" "$SCRATCH/out" || fail "model --help lists subcommands"
expect_exit 0 mvm model show --help
