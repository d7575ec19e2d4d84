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
