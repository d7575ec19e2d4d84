#!/bin/sh
# Error handling: exit codes (1 failed, 2 usage), exactly one 'mvm: error:'
# line, and failing mutating commands leave the repository untouched.
. "$(dirname "$0")/lib.sh"

ALL="init config add rm commit status log show ls diff checkout switch branch tag cat gc fsck stats model change deploy resolve rollback audit run lineage repro version help"

# --- the command table is what the help lists ---
mvm help >"$SCRATCH/help"
listed=$(awk '/^  [a-z]/{print $1}' "$SCRATCH/help" | tr '\n' ' ')
assert_eq "$listed" "$ALL " "commands listed by 'mvm help'"

# --- --help / help CMD for every command: exit 0, usage on stdout ---
mkdir norepo
cd norepo
for c in $ALL; do
	expect_exit 0 mvm "$c" --help
	head -1 "$SCRATCH/out" | grep -q "^usage: mvm $c" || fail "'mvm $c --help' does not print its usage"
	[ ! -s "$SCRATCH/err" ] || fail "'mvm $c --help' wrote to stderr"
	cp "$SCRATCH/out" "$SCRATCH/h1"
	expect_exit 0 mvm help "$c"
	cmp -s "$SCRATCH/out" "$SCRATCH/h1" || fail "'mvm help $c' differs from 'mvm $c --help'"
	expect_exit 0 mvm "$c" -h
	head -1 "$SCRATCH/out" | grep -q "^usage: mvm $c" || fail "'mvm $c -h' does not print its usage"
done
expect_exit 0 mvm --help
grep -q '^usage: mvm' "$SCRATCH/out" || fail "mvm --help"
expect_exit 0 mvm version
grep -q '^mvm [0-9]' "$SCRATCH/out" || fail "mvm version"
expect_exit 0 mvm --version
expect_error 2 "unknown command" mvm help nosuchcommand
expect_error 2 "unknown command 'frobnicate'" mvm frobnicate
expect_error 2 "unknown option '--frobnicate'" mvm --frobnicate status
expect_exit 2 mvm

# --- every repository command outside a repository: exit 1, points at 'mvm init' ---
for c in "config" "config user.name" "add x" "rm x" "commit -m x" "commit -a -m x" "status" "log" "show HEAD" \
	"ls HEAD" "diff" "checkout HEAD" "switch main" "branch" "branch b" "tag" "tag t" "cat HEAD:x" "gc" "fsck" "stats" \
	"audit" "audit verify" "model list" "model create m" "change list" "change show 1" \
	"deploy status m" "deploy m 1 --env prod" "resolve m --env prod" "rollback m --env prod"; do
	# shellcheck disable=SC2086
	expect_error 1 "mvm init" mvm $c
	grep -q "not an mvm repository" "$SCRATCH/err" || fail "'mvm $c' outside a repository: $(cat "$SCRATCH/err")"
done
[ ! -e .mvm ] || fail "a failing command created .mvm"
# -C pointing at a non-repository behaves the same
expect_error 1 "mvm init" mvm -C "$SCRATCH/norepo" status
cd "$SCRATCH"

# --- init ---
mvm init repo >/dev/null
[ -d repo/.mvm ] || fail "init did not create .mvm"
expect_error 1 "already" mvm init repo
cd repo
expect_error 1 "already" mvm init

# a repository with no versions yet
expect_error 1 "HEAD" mvm show HEAD
expect_error 2 "message" mvm commit
expect_error 1 "nothing to commit" mvm commit -m "empty"  # BUG-CHECK
expect_exit 0 mvm status --json
[ "$(json_get "$SCRATCH/out" 'j["head"]')" = None ] || fail "head of an empty repository is not null"

"$STGEN" --size-mb 1 --seed 1 model.safetensors
echo "lr: 1" >conf.yaml
mvm add -q model.safetensors conf.yaml
mvm commit -q -m "v1" --metric loss=2
"$STGEN" --size-mb 1 --seed 1 --perturb 0.5 model.safetensors
mvm commit -q -a -m "v2"
mvm tag v1 HEAD~1
v1=$(rev_id v1)
v2=$(rev_id HEAD)

snap_state "$SCRATCH/state0"

# --- unknown option / argument errors: 2 ---
for c in "status --bogus" "log --bogus" "add --bogus model.safetensors" "commit -m x --bogus" "show HEAD --bogus" \
	"ls HEAD --bogus" "diff --bogus" "checkout --bogus HEAD" "switch --bogus main" "branch --bogus" "tag --bogus" \
	"cat --bogus HEAD:conf.yaml" "gc --bogus" "fsck --bogus" "rm --bogus conf.yaml" "config --bogus"; do
	# shellcheck disable=SC2086
	expect_error 2 "" mvm $c
	expect_unchanged "$SCRATCH/state0" "mvm $c"
done
expect_error 2 "" mvm log -n abc
expect_error 2 "" mvm log -n -3
expect_error 2 "" mvm switch
expect_error 2 "" mvm checkout
expect_error 2 "" mvm add
expect_error 2 "" mvm rm
expect_error 2 "" mvm branch a b c
expect_error 2 "" mvm show HEAD HEAD~1
expect_unchanged "$SCRATCH/state0" "usage errors"

# --- revisions ---
expect_error 1 "unknown revision 'nosuchbranch'" mvm show nosuchbranch
expect_error 1 "unknown revision" mvm show 0000000000000000000000000000000000000000000000000000000000000000
expect_error 1 "unknown revision" mvm log nosuch
expect_error 1 "unknown revision" mvm diff nosuch
expect_error 1 "unknown revision" mvm ls nosuch
expect_error 1 "unknown revision" mvm cat nosuch:conf.yaml
expect_error 1 "unknown revision" mvm checkout nosuch
expect_error 1 "first version" mvm show HEAD~2
expect_error 1 "first version" mvm show "HEAD^^"
expect_error 1 "first version" mvm show v1~1
# an unknown 4+ hex prefix (pick a first hex digit no version id starts with)
for p in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do
	[ "${v1#"$p"}" = "$v1" ] && [ "${v2#"$p"}" = "$v2" ] && { unk="${p}${p}${p}${p}${p}"; break; }
done
expect_error 1 "unknown revision '$unk'" mvm show "$unk"
# a prefix shorter than 4 hex digits is not an id
short=$(echo "$v1" | cut -c1-3)
expect_error 1 "unknown revision '$short'" mvm show "$short"
# 4-hex and longer prefixes resolve
assert_eq "$(rev_id "$(echo "$v1" | cut -c1-4)")" "$v1" "4-hex prefix"
assert_eq "$(rev_id "$(echo "$v2" | cut -c1-12)")" "$v2" "12-hex prefix"
# upper-case hex is not accepted as an id
upper=$(echo "$v1" | cut -c1-8 | tr a-f A-F)
if [ "$upper" != "$(echo "$v1" | cut -c1-8)" ]; then
	expect_error 1 "unknown revision" mvm show "$upper"
fi
expect_unchanged "$SCRATCH/state0" "revision errors"

# --- commit errors ---
expect_error 1 "nothing to commit" mvm commit -m "again"
expect_unchanged "$SCRATCH/state0" "commit with nothing staged"
expect_error 1 "nothing to commit" mvm commit -a -m "again"
expect_unchanged "$SCRATCH/state0" "commit -a with nothing changed"
echo "lr: 2" >conf.yaml
mvm add conf.yaml
snap_state "$SCRATCH/state1"
expect_error 2 "message" mvm commit
expect_unchanged "$SCRATCH/state1" "commit without -m"
expect_error 2 "message" mvm commit -a
expect_unchanged "$SCRATCH/state1" "commit -a without -m"
for bad in loss=abc loss= loss =1 loss=1.5x "loss=nan" "loss=inf" "loss=1e999"; do
	expect_error 2 "metric" mvm commit -m x --metric "$bad"
	expect_unchanged "$SCRATCH/state1" "commit --metric '$bad'"
done
expect_error 2 "param" mvm commit -m x --param lr
expect_unchanged "$SCRATCH/state1" "commit --param without ="
# the stage is still intact: the commit works now
mvm commit -q -m "v3" --metric loss=1.25 --metric acc=-3e-2
mvm log -n 1 --json >"$SCRATCH/log.json"
assert_eq "$(json_get "$SCRATCH/log.json" 'j[0]["metrics"]')" "{'acc': -0.03, 'loss': 1.25}" "metrics recorded"
v3=$(head_id)
snap_state "$SCRATCH/state0"

# --- add errors ---
expect_error 1 "nosuchfile" mvm add nosuchfile
expect_unchanged "$SCRATCH/state0" "add of a missing path"
expect_error 1 "nosuchfile" mvm add conf.yaml nosuchfile
expect_unchanged "$SCRATCH/state0" "add of a good and a missing path"
expect_error_in "1 2" "outside" mvm add "$SCRATCH/norepo"
expect_unchanged "$SCRATCH/state0" "add of a path outside the repository"
expect_error_in "1 2" "" mvm add .mvm/mvm.db
expect_unchanged "$SCRATCH/state0" "add of a file inside .mvm"

# --- rm errors ---
expect_error 1 "not tracked" mvm rm nosuchfile
echo x >untracked.txt
expect_error 1 "not tracked" mvm rm untracked.txt
[ -f untracked.txt ] || fail "rm of an untracked file deleted it"
rm untracked.txt
expect_unchanged "$SCRATCH/state0" "rm of untracked paths"

# --- cat errors ---
expect_error 2 "" mvm cat
expect_error 2 "REV:PATH" mvm cat HEAD
expect_error 2 "REV:PATH" mvm cat conf.yaml
expect_error 1 "nothere" mvm cat HEAD:nothere
expect_error 1 "no tensor 'nope'" mvm cat HEAD:model.safetensors --tensor nope
expect_error 1 "" mvm cat HEAD:conf.yaml --tensor x
expect_exit 0 mvm cat HEAD:conf.yaml
assert_eq "$(cat "$SCRATCH/out")" "lr: 2" "cat of a committed file"

# --- ls / show ---
expect_error 1 "nothere" mvm ls HEAD nothere

# --- config ---
expect_error 2 "unknown config key 'no.such'" mvm config no.such
expect_error 2 "unknown config key" mvm config no.such 1
expect_error 2 "compression" mvm config core.compression abc
expect_error 2 "compression" mvm config core.compression 99
expect_unchanged "$SCRATCH/state0" "config errors"
mvm config >"$SCRATCH/c0"
mvm config user.name "Some One"
assert_eq "$(mvm config user.name)" "Some One" "config set/get"
mvm config core.compression 3
assert_eq "$(mvm config core.compression)" 3 "config core.compression"

# --- branches ---
for bad in "bad name" "../x" "-x" "a..b" "" "x/" "/x" "a~1" "a^" "a:b" "HEAD"; do
	expect_exit 2 mvm branch "$bad"
	[ "$(grep -c '^mvm: error:' "$SCRATCH/err")" -eq 1 ] || fail "branch '$bad': expected one error line"
	expect_unchanged "$SCRATCH/state0" "branch '$bad'"
done
expect_error 1 "checked out" mvm branch -d main
expect_unchanged "$SCRATCH/state0" "deleting the current branch"
expect_error 1 "not found" mvm branch -d nosuch
expect_unchanged "$SCRATCH/state0" "deleting a missing branch"
mvm branch dev
snap_state "$SCRATCH/state0"
expect_error 1 "exists" mvm branch dev
expect_unchanged "$SCRATCH/state0" "creating an existing branch"
expect_error 1 "unknown revision" mvm branch dev2 nosuch
expect_unchanged "$SCRATCH/state0" "branch at an unknown revision"
expect_error 1 "" mvm switch nosuch
expect_unchanged "$SCRATCH/state0" "switch to a missing branch"
expect_error 1 "" mvm switch v1
expect_unchanged "$SCRATCH/state0" "switch to a tag"

# --- tags ---
expect_error 1 "tag 'v1' already exists" mvm tag v1
expect_unchanged "$SCRATCH/state0" "re-creating a tag"
expect_error 1 "already exists" mvm tag v1 HEAD
expect_unchanged "$SCRATCH/state0" "re-creating a tag at another version"
assert_eq "$(rev_id v1)" "$v1" "tag v1 did not move"
expect_exit 2 mvm tag "bad name"
expect_unchanged "$SCRATCH/state0" "bad tag name"
expect_error 1 "unknown revision" mvm tag t2 nosuch
expect_unchanged "$SCRATCH/state0" "tag at an unknown revision"

# --- ambiguous prefix: two versions whose ids share the first 4 hex digits ---
# A version id is sha256 of its canonical JSON (sorted keys, compact), so
# find a message that makes a sibling of $v3 collide with it on 4 hex digits.
mvm switch -q main
base=$(rev_id HEAD~1)
tree=$(mvm show HEAD --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["tree"])')
found=
for try in 1 2 3 4 5; do
	mvm branch "amb$try" "$base"
	mvm switch -q "amb$try"
	echo "lr: 2" >conf.yaml     # same tree as $v3, but on top of $base
	mvm add conf.yaml
	msg=$($PY - "$v3" "$base" "$tree" "$MVM_USER" <<'PYEOF'
import hashlib, json, sys, time
target, parent, tree, author = sys.argv[1:5]
# search a message for a commit made at second t, then wait for t to begin
while True:
    t = int(time.time()) + 2
    for i in range(10**7):
        m = "collide %d" % i
        o = {"author": author, "format": 1, "message": m, "metrics": {}, "params": {},
             "parents": [parent], "time": t, "tree": tree}
        h = hashlib.sha256(json.dumps(o, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        if h[:4] == target[:4] and h != target:
            break
    if time.time() < t:
        break
while time.time() < t:
    time.sleep(0.005)
print(m)
PYEOF
)
	mvm commit -q -m "$msg"
	cand=$(head_id)
	if [ "$(echo "$cand" | cut -c1-4)" = "$(echo "$v3" | cut -c1-4)" ]; then
		found=$cand
		break
	fi
done
[ -n "$found" ] || fail "could not craft an ambiguous prefix (clock skew?)"
pre4=$(echo "$v3" | cut -c1-4)
snap_state "$SCRATCH/state0"
expect_error 1 "ambiguous" mvm show "$pre4"
expect_error 1 "ambiguous" mvm checkout "$pre4"
expect_unchanged "$SCRATCH/state0" "checkout of an ambiguous prefix"
expect_error 1 "ambiguous" mvm branch amb "$pre4"
expect_error 1 "ambiguous" mvm tag amb "$pre4"
expect_unchanged "$SCRATCH/state0" "branch/tag at an ambiguous prefix"
# one more digit (where they differ) disambiguates
n=5
while [ "$(echo "$v3" | cut -c1-$n)" = "$(echo "$found" | cut -c1-$n)" ]; do n=$((n + 1)); done
assert_eq "$(rev_id "$(echo "$v3" | cut -c1-$n)")" "$v3" "longer prefix of v3"
assert_eq "$(rev_id "$(echo "$found" | cut -c1-$n)")" "$found" "longer prefix of the sibling"

mvm fsck -q
