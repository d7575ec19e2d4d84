#!/bin/sh
# History: branches, tags, switch, log/show/ls, revision syntax, JSON shapes,
# rm / rm --cached, recursive add, staged removals, commit -a, detached HEAD.
. "$(dirname "$0")/lib.sh"

is_hex64() { echo "$1" | grep -Eq '^[0-9a-f]{64}$'; }

mvm init repo >/dev/null
cd repo

# --- status --json shape on an empty repository ---
mvm status --json >"$SCRATCH/st.json"
assert_eq "$(json_get "$SCRATCH/st.json" 'sorted(j)')" \
	"['branch', 'deleted', 'head', 'modified', 'staged', 'staged_changes', 'untracked']" "status --json keys"
assert_eq "$(json_get "$SCRATCH/st.json" '[j["branch"], j["head"]]')" "['main', None]" "empty repo branch/head"

# --- staged changes say what they are: added, modified, removed ---
mvm init -q "$SCRATCH/kinds"
(
	cd "$SCRATCH/kinds"
	echo 1 >keep && echo 2 >gone && echo 3 >edit
	mvm add keep gone edit && mvm commit -q -m one
	mvm rm --cached gone && echo 4 >edit && echo 5 >new && mvm add edit new
	mvm status --json >"$SCRATCH/kinds.json"
	assert_eq "$(json_get "$SCRATCH/kinds.json" '[(c["path"], c["change"]) for c in j["staged_changes"]]')" \
		"[('edit', 'modified'), ('gone', 'removed'), ('new', 'added')]" "staged change kinds"
	mvm status >"$SCRATCH/kinds.txt"
	grep -q "^  removed    gone$" "$SCRATCH/kinds.txt" || fail "status does not say 'removed'"
)

# --- recursive add of a folder ---
mkdir -p ckpt/sub/deeper
"$STGEN" --size-mb 1 --seed 1 ckpt/model.safetensors
echo "a" >ckpt/sub/a.txt
echo "b" >ckpt/sub/deeper/b.txt
echo "top" >top.txt
mvm add ckpt
assert_eq "$(status_field staged)" "['ckpt/model.safetensors', 'ckpt/sub/a.txt', 'ckpt/sub/deeper/b.txt']" "recursive add"
assert_eq "$(status_field untracked)" "['top.txt']" "untracked file"
mvm add top.txt
mvm commit -q -m "one" --param lr=0.1 --param opt=adam --metric loss=3.5
c1=$(head_id)
is_hex64 "$c1" || fail "head id '$c1'"
expect_clean "after first commit"

# --- log --json shape ---
mvm log --json >"$SCRATCH/log.json"
assert_eq "$(json_get "$SCRATCH/log.json" 'sorted(j[0])')" \
	"['author', 'id', 'message', 'metrics', 'params', 'parents', 'time']" "log --json keys"
assert_eq "$(json_get "$SCRATCH/log.json" 'j[0]["parents"]')" "[]" "root has no parents"
assert_eq "$(json_get "$SCRATCH/log.json" 'j[0]["author"]')" "Test User <test@example.com>" "author from MVM_USER"
assert_eq "$(json_get "$SCRATCH/log.json" 'j[0]["params"]')" "{'lr': '0.1', 'opt': 'adam'}" "params"
assert_eq "$(json_get "$SCRATCH/log.json" 'j[0]["metrics"]')" "{'loss': 3.5}" "metrics"
assert_eq "$(json_get "$SCRATCH/log.json" 'type(j[0]["time"]).__name__')" int "time is an integer"
now=$(date +%s)
[ "$(json_get "$SCRATCH/log.json" "abs(j[0]['time'] - $now) < 120")" = True ] || fail "commit time is not now"

# --- more versions ---
"$STGEN" --size-mb 1 --seed 1 --perturb 0.3 ckpt/model.safetensors
mvm commit -q -a -m "two"
c2=$(head_id)
mvm tag -m "first release" v1 "$c1"
mvm tag v2
echo "top2" >top.txt
mvm commit -q -a -m "three"
c3=$(head_id)
echo "top3" >top.txt
mvm add top.txt
mvm commit -q -m "four"
c4=$(head_id)

mvm log --json >"$SCRATCH/log.json"
assert_eq "$(json_get "$SCRATCH/log.json" '[v["id"] for v in j]')" "['$c4', '$c3', '$c2', '$c1']" "log order newest first"
assert_eq "$(json_get "$SCRATCH/log.json" '[v["message"] for v in j]')" "['four', 'three', 'two', 'one']" "log messages"
assert_eq "$(json_get "$SCRATCH/log.json" 'all(v["parents"] == [j[i+1]["id"]] for i, v in enumerate(j[:-1]))')" True "parent chain"
assert_eq "$(json_get "$SCRATCH/log.json" 'sorted(set(t for v in j for t in [len(v["id"])]))')" "[64]" "ids are 64 hex"
assert_eq "$(json_get "$SCRATCH/log.json" '[v["time"] for v in j] == sorted([v["time"] for v in j], reverse=True)')" True "times newest first"
assert_eq "$(json_get "$SCRATCH/log.json" 'j[1]["params"]')" "{}" "params of a version without --param"

# log -n, log REV
assert_eq "$(mvm log -n 2 --json | $PY -c 'import json,sys; print([v["message"] for v in json.load(sys.stdin)])')" \
	"['four', 'three']" "log -n 2"
assert_eq "$(mvm log -n 1 --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1 "log -n 1"
assert_eq "$(mvm log v2 --json | $PY -c 'import json,sys; print([v["message"] for v in json.load(sys.stdin)])')" \
	"['two', 'one']" "log v2"
assert_eq "$(mvm log HEAD~1 -n 1 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" "$c3" "log HEAD~1 -n 1"
[ "$(mvm log | grep -c '^version [0-9a-f]\{64\}$')" -eq 4 ] || fail "text log lists 4 versions"
mvm log -n 1 | grep -q "four" || fail "text log shows the message"
mvm log -n 1 >"$SCRATCH/l1"
grep -q "one" "$SCRATCH/l1" && fail "log -n 1 shows older versions"

# --- revision syntax ---
assert_eq "$(rev_id HEAD)" "$c4" "HEAD"
assert_eq "$(rev_id main)" "$c4" "branch name"
assert_eq "$(rev_id HEAD~1)" "$c3" "HEAD~1"
assert_eq "$(rev_id HEAD~3)" "$c1" "HEAD~3"
assert_eq "$(rev_id "HEAD^")" "$c3" "HEAD^"
assert_eq "$(rev_id "HEAD^^")" "$c2" "HEAD^^"
assert_eq "$(rev_id "HEAD~1^")" "$c2" "HEAD~1^"
assert_eq "$(rev_id "HEAD~")" "$c3" "HEAD~"
assert_eq "$(rev_id "main~2")" "$c2" "main~2"
assert_eq "$(rev_id "v2^")" "$c1" "v2^"
assert_eq "$(rev_id "$c2~1")" "$c1" "ID~1"
assert_eq "$(rev_id "$(echo "$c3" | cut -c1-4)")" "$c3" "4-hex prefix"
assert_eq "$(rev_id "$(echo "$c3" | cut -c1-10)")" "$c3" "10-hex prefix"
assert_eq "$(rev_id "$(echo "$c3" | cut -c1-10)^")" "$c2" "prefix^"
assert_eq "$(rev_id "$c3")" "$c3" "full id"
assert_eq "$(rev_id HEAD~0)" "$c4" "HEAD~0"

# --- show and ls ---
mvm show "$c2" --json >"$SCRATCH/show.json"
assert_eq "$(json_get "$SCRATCH/show.json" 'j["id"]')" "$c2" "show id"
assert_eq "$(json_get "$SCRATCH/show.json" 'j["message"]')" "two" "show message"
assert_eq "$(json_get "$SCRATCH/show.json" 'j["parents"]')" "['$c1']" "show parents"
assert_eq "$(json_get "$SCRATCH/show.json" '[f["path"] for f in j["files"]]')" \
	"['ckpt/model.safetensors', 'ckpt/sub/a.txt', 'ckpt/sub/deeper/b.txt', 'top.txt']" "show files"
assert_eq "$(json_get "$SCRATCH/show.json" '[f["size"] for f in j["files"]][1:]')" "[2, 2, 4]" "show sizes"
mvm show v1 | grep -q "one" || fail "text show of a tag"
mvm ls HEAD --json >"$SCRATCH/ls.json"
assert_eq "$(json_get "$SCRATCH/ls.json" '[(f["path"], f["size"]) for f in j][1:]')" \
	"[('ckpt/sub/a.txt', 2), ('ckpt/sub/deeper/b.txt', 2), ('top.txt', 5)]" "ls --json"
mvm ls HEAD >"$SCRATCH/ls.txt"
[ "$(wc -l <"$SCRATCH/ls.txt")" -eq 4 ] || fail "text ls lists 4 files"
mvm ls v1 ckpt/model.safetensors --json >"$SCRATCH/lst.json"
assert_eq "$(json_get "$SCRATCH/lst.json" 'sorted(j[0])')" "['digest', 'dtype', 'length', 'name', 'offset', 'shape']" "tensor listing keys"
[ "$(json_get "$SCRATCH/lst.json" 'len(j) > 5')" = True ] || fail "tensor list too short"

# --- tags never move, branches do ---
assert_eq "$(rev_id v1)" "$c1" "tag v1"
assert_eq "$(rev_id v2)" "$c2" "tag v2"
mvm tag --json >"$SCRATCH/tags.json"
assert_eq "$(json_get "$SCRATCH/tags.json" '[(t["name"], t["target"], t["message"]) for t in j]')" \
	"[('v1', '$c1', 'first release'), ('v2', '$c2', None)]" "tag --json"

# --- branches and switch ---
mvm branch exp v2
mvm branch --json >"$SCRATCH/br.json"
assert_eq "$(json_get "$SCRATCH/br.json" '[(b["name"], b["target"]) for b in j]')" "[('exp', '$c2'), ('main', '$c4')]" "branch --json"
mvm branch | grep -q '^\* main' || fail "current branch is starred"
mvm switch -q exp
assert_eq "$(st_get 'j["branch"]')" exp "switched to exp"
assert_eq "$(head_id)" "$c2" "HEAD after switch"
expect_clean "after switch"
assert_eq "$(cat top.txt)" "top" "working tree follows the branch"
echo "exp" >exp.txt
mvm add exp.txt
mvm commit -q -m "on exp"
e1=$(head_id)
assert_eq "$(rev_id exp)" "$e1" "branch moved"
assert_eq "$(rev_id main)" "$c4" "main did not move"
assert_eq "$(rev_id v2)" "$c2" "tag v2 did not move with the branch"
mvm switch -q main
[ ! -e exp.txt ] || fail "exp.txt present on main"
assert_eq "$(cat top.txt)" "top3" "main's top.txt"
mvm branch -d exp
expect_error 1 "" mvm show exp
# the version survives through its id
assert_eq "$(rev_id "$e1")" "$e1" "version of a deleted branch"

# --- rm and rm --cached ---
mvm rm ckpt/sub/a.txt
[ ! -e ckpt/sub/a.txt ] || fail "rm did not delete the file"
assert_eq "$(status_field staged)" "['ckpt/sub/a.txt']" "rm stages the removal"
mvm rm --cached top.txt
[ -f top.txt ] || fail "rm --cached deleted the file"
assert_eq "$(status_field staged)" "['ckpt/sub/a.txt', 'top.txt']" "rm --cached stages the removal"
assert_eq "$(status_field untracked)" "['top.txt']" "rm --cached leaves it untracked"
mvm commit -q -m "removals"
mvm ls HEAD --json >"$SCRATCH/ls.json"
assert_eq "$(json_get "$SCRATCH/ls.json" '[f["path"] for f in j]')" "['ckpt/model.safetensors', 'ckpt/sub/deeper/b.txt']" "files after removals"
assert_eq "$(status_field untracked)" "['top.txt']" "top.txt untracked after commit"
# rm of a file that is only staged (never committed) unstages and deletes it
echo "n" >new.txt
mvm add new.txt
mvm rm new.txt
[ ! -e new.txt ] || fail "rm of a staged-only file did not delete it"
assert_eq "$(status_field staged)" "[]" "rm of a staged-only file unstages it"
mvm add top.txt
mvm commit -q -m "readd top"

# --- a tracked file deleted on disk: status shows it, 'mvm add' stages the removal ---
rm ckpt/sub/deeper/b.txt
assert_eq "$(status_field deleted)" "['ckpt/sub/deeper/b.txt']" "deleted on disk"
assert_eq "$(status_field staged)" "[]" "not staged yet"
mvm add ckpt/sub/deeper/b.txt
assert_eq "$(status_field staged)" "['ckpt/sub/deeper/b.txt']" "add of a deleted file stages its removal"
assert_eq "$(status_field deleted)" "[]" "no longer listed as deleted"
mvm commit -q -m "drop b"
mvm ls HEAD --json >"$SCRATCH/ls.json"
assert_eq "$(json_get "$SCRATCH/ls.json" '[f["path"] for f in j]')" "['ckpt/model.safetensors', 'top.txt']" "b.txt gone"
expect_clean "after staged removal"

# --- commit -a: modified + deleted files, untracked ignored ---
echo "t5" >top.txt
"$STGEN" --size-mb 1 --seed 9 ckpt/model.safetensors
echo "u" >untracked.txt
mvm commit -q -a -m "all"
mvm show HEAD --json >"$SCRATCH/show.json"
assert_eq "$(json_get "$SCRATCH/show.json" '[f["path"] for f in j["files"]]')" "['ckpt/model.safetensors', 'top.txt']" "commit -a files"
assert_eq "$(status_field untracked)" "['untracked.txt']" "commit -a leaves untracked alone"
mvm cat HEAD:ckpt/model.safetensors | cmp -s - ckpt/model.safetensors || fail "commit -a stored the new model"
rm top.txt untracked.txt
mvm commit -q -a -m "rm top via -a"
mvm ls HEAD --json >"$SCRATCH/ls.json"
assert_eq "$(json_get "$SCRATCH/ls.json" '[f["path"] for f in j]')" "['ckpt/model.safetensors']" "commit -a stages deletions"
expect_clean "after commit -a"
last=$(head_id)

# --- detached HEAD ---
mvm checkout -q v2
mvm status --json >"$SCRATCH/st.json"
assert_eq "$(json_get "$SCRATCH/st.json" '[j["branch"], j["head"]]')" "[None, '$c2']" "detached status"
assert_eq "$(mvm status | head -1)" "On detached HEAD at $c2" "detached status line"
expect_clean "detached checkout"
# listing branches while detached works and stars nothing
expect_exit 0 mvm branch
grep -q '^\*' "$SCRATCH/out" && fail "a branch is starred while detached"
grep -q 'main' "$SCRATCH/out" || fail "branch list while detached lacks main"
expect_exit 0 mvm branch --json
expect_exit 0 mvm tag
echo "d" >detached.txt
mvm add detached.txt
mvm commit -q -m "detached work"
d1=$(head_id)
mvm status --json >"$SCRATCH/st.json"
assert_eq "$(json_get "$SCRATCH/st.json" '[j["branch"], j["head"]]')" "[None, '$d1']" "detached commit moves HEAD"
assert_eq "$(rev_id "$d1^")" "$c2" "detached commit's parent"
assert_eq "$(rev_id main)" "$last" "main untouched by detached commit"
assert_eq "$(rev_id v2)" "$c2" "tag untouched by detached commit"
# keep it on a branch, then go back to main: checkout of a branch name re-attaches
mvm branch keep
assert_eq "$(rev_id keep)" "$d1" "branch from detached HEAD"
mvm checkout -q main
assert_eq "$(st_get 'j["branch"]')" main "checkout main re-attaches"
assert_eq "$(mvm status | head -1)" "On branch main" "status line on a branch"
[ ! -e detached.txt ] || fail "detached.txt left on main"
expect_clean "back on main"
mvm fsck -q
