#!/bin/sh
# Experiments and lineage end to end: a dataset version (row counts of its
# .jsonl files) -> a training-like script run twice through 'mvm run exec'
# with different params (it reads the dataset through mvm, prints
# mvm:metric lines and writes a safetensors file) -> compare, filter
# (and/or/parentheses), sort -> a manual run (start/log/param/end) linked
# by 'commit --run' -> a second-stage run on a model -> lineage upstream,
# downstream and --depth, --dot -> repro (clean run; refusals) -> SVG plot.
# Bad inputs are one-line errors that leave the database unchanged.
. "$(dirname "$0")/lib.sh"

get() { "$@" >"$SCRATCH/get.json"; }
jq_() { json_get "$SCRATCH/get.json" "$1"; }
audit_count() { mvm audit --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
db_state() { { mvm run list --json; mvm log --json; audit_count; } | sha256sum; }

mkdir work
cd work
HAVE_GIT=
if command -v git >/dev/null 2>&1; then
	HAVE_GIT=1
	git init -q .
	git config user.email ci@example.com
	git config user.name CI
fi
mvm init . >/dev/null

# --- a dataset version: rows of each .jsonl file ---
mkdir data
$PY -c 'import json
for i in range(100): print(json.dumps({"x": i, "y": 2 * i}))' >data/train.jsonl
printf '{"x": 1}\n{"x": 2}' >data/eval.jsonl   # no newline after the last row
mvm add data
mvm commit -q -m "data v1" --kind dataset
DS=$(head_id)
get mvm show "$DS" --json
assert_eq "$(jq_ '[j["kind"], j["run"], j["rows"]]')" \
	"['dataset', None, {'data/eval.jsonl': 2, 'data/train.jsonl': 100}]" "dataset version: kind and rows"

# --- the training-like program, committed to git so the runs are clean ---
cat >train.sh <<'EOF'
#!/bin/sh
# reads the dataset version through mvm, prints metrics, writes a model
set -e
rows=$("$MVM" cat "$MVM_INPUT_1:data/train.jsonl" | wc -l)
echo "training on $rows rows with lr=$MVM_PARAM_LR (run $MVM_RUN_ID, $MVM_INPUT_COUNT input)"
loss=1
for step in 0 1 2 3 4; do
	loss=$(awk -v l="$loss" -v lr="$MVM_PARAM_LR" 'BEGIN { printf "%.4f", l * (1 - lr) }')
	echo "mvm:metric loss=$loss step=$step"
done
echo "mvm:metric rows=$rows"
"$STGEN" --size-mb 0.25 --seed "$MVM_PARAM_SEED" model.safetensors
EOF
if [ -n "$HAVE_GIT" ]; then
	printf '.mvm/\ndata/\n*.safetensors\nnotes.txt\n' >.gitignore
	git add .gitignore train.sh
	git commit -q -m "training code"
	CODE=$(git rev-parse HEAD)
fi

# --- two runs of the program through run exec ---
MVM_RUN_ENV=FOO,UNSET_VAR FOO=hello "$MVM" run exec --name train-a --param lr=0.1 --param seed=1 --input "$DS" \
	--output model.safetensors -- sh train.sh >"$SCRATCH/a.out"
grep -q "^training on 100 rows with lr=0.1 (run 1, 1 input)$" "$SCRATCH/a.out" || fail "stdout passes through"
grep -q "^mvm:metric loss=0.5905 step=4$" "$SCRATCH/a.out" || fail "metric lines pass through too"
mvm run exec --name train-b --param lr=0.3 --param seed=2 --input data-v1-unknown -- true 2>"$SCRATCH/err" &&
	fail "an unknown input revision must refuse"
mvm run exec --name train-b --param lr=0.3 --param seed=2 --input "$DS" --output model.safetensors -- sh train.sh \
	>"$SCRATCH/b.out"
assert_eq "$(mvm run list --json | $PY -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin)])')" \
	"[1, 2]" "the refused exec started no run"

get mvm run show 1 --json
assert_eq "$(jq_ '[j["name"], j["status"], j["exit_code"], j["command"], j["params"], j["env"]]')" \
	"['train-a', 'ok', 0, ['sh', 'train.sh'], {'lr': '0.1', 'seed': '1'}, {'FOO': 'hello'}]" "run 1"
assert_eq "$(jq_ '[j["metrics"]["loss"]["steps"], j["metrics"]["loss"]["values"], j["metrics"]["rows"]["last"]]')" \
	"[[0, 1, 2, 3, 4], [0.9, 0.81, 0.729, 0.6561, 0.5905], 100.0]" "run 1 metric series"
assert_eq "$(jq_ '[j["inputs"], len(j["outputs"]), j["output_paths"], j["ended"] >= j["started"]]')" \
	"[['$DS'], 1, ['model.safetensors'], True]" "run 1 inputs and outputs"
if [ -n "$HAVE_GIT" ]; then
	assert_eq "$(jq_ 'j["code"]')" "{'commit': '$CODE', 'dirty': False}" "run 1 code"
fi
MA=$(jq_ 'j["outputs"][0]')
MB=$(mvm run show 2 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["outputs"][0])')
get mvm show "$MA" --json
assert_eq "$(jq_ '[j["message"], j["params"], j["metrics"]]')" \
	"['run train-a', {'lr': '0.1', 'seed': '1'}, {'loss': 0.5905, 'rows': 100.0}]" "the run's version"

# --- a failed command: run failed, mvm exits 1, nothing committed ---
head_before=$(head_id)
expect_error 1 "run 3 failed: the command exited with status 3" \
	mvm run exec --name boom --output model.safetensors -- sh -c 'echo mvm:metric loss=7; exit 3'
get mvm run show 3 --json
assert_eq "$(jq_ '[j["status"], j["exit_code"], j["metrics"]["loss"]["last"], j["outputs"]]')" \
	"['failed', 3, 7.0, []]" "failed run"
assert_eq "$(head_id)" "$head_before" "a failed run commits nothing"
expect_error 1 "run 4 failed: cannot run '/nonexistent/cmd'" mvm run exec -- /nonexistent/cmd

# --- a manual run: start, log, param, end; commit --run ---
assert_eq "$(mvm run start --name manual --param lr=0.2 --tag team=nlp)" "5" "run start prints the id"
mvm run log 5 loss=0.5 acc=0.7
mvm run log 5 loss=0.4
mvm run log 5 loss=0.45 --step 10
mvm run param 5 batch=32
get mvm run show 5 --json
assert_eq "$(jq_ '[j["status"], j["ended"], j["params"], j["tags"], j["metrics"]["loss"]["steps"], j["metrics"]["loss"]["values"]]')" \
	"['running', None, {'batch': '32', 'lr': '0.2'}, {'team': 'nlp'}, [0, 1, 10], [0.5, 0.4, 0.45]]" "manual run"
assert_eq "$(jq_ '[j["metrics"]["loss"][k] for k in ("last", "min", "max", "points")]')" "[0.45, 0.4, 0.5, 3]" "summary"
echo notes >notes.txt
mvm add notes.txt
mvm commit -q -m manual --run 5 --metric acc=0.75
get mvm show HEAD --json
assert_eq "$(jq_ '[j["params"], j["metrics"]]')" "[{'batch': '32', 'lr': '0.2'}, {'acc': 0.75, 'loss': 0.45}]" \
	"commit --run takes the run's params and last metrics (--metric wins)"
MANUAL=$(head_id)
mvm run end 5 --status failed

# --- bad inputs: one line, right exit status, nothing changes ---
before=$(db_state)
expect_error 1 "run 5 already ended" mvm run end 5
expect_error 1 "run 5 already ended" mvm run log 5 loss=1
expect_error 2 "'abc' is not a finite number" mvm run log 1 loss=abc
expect_error 2 "must look like KEY=VALUE" mvm run param 1 batch
expect_error 1 "no run 99" mvm run log 99 loss=1
expect_error 2 "not a run id" mvm run show abc
expect_error 2 "unknown run status 'done'" mvm run end 1 --status done
expect_error 2 "param lr given twice" mvm run start --param lr=1 --param lr=2
expect_error 2 "--step does not apply to 'run start'" mvm run start --step 3
expect_error 2 "give the command after --" mvm run exec --name x
expect_error 1 "no run 42" mvm commit -m x --run 42
expect_error 2 "unknown kind 'table'" mvm commit -m x --kind table
expect_error 2 "filter: metrics compare with numbers at column 16, found 'x'" mvm run list --filter "metrics.loss < 'x'"
expect_error 2 "filter: expected a field .* at column 21, found the end" mvm run list --filter "params.lr = 0.1 and "
expect_error 2 "filter: expected ')' (for the '(' at column 1) at column 17" mvm run list --filter "(params.lr = 0.1"
expect_error 2 "unknown field 'bogus'" mvm run list --sort bogus
expect_error 1 "has no metric 'nope'" mvm run plot 1 --metric nope
assert_eq "$(db_state)" "$before" "refused commands changed nothing"

# --- compare ---
get mvm run compare 1 2 --json
assert_eq "$(jq_ '[j["runs"], j["params"]]')" \
	"[[{'id': 1, 'name': 'train-a'}, {'id': 2, 'name': 'train-b'}], {'lr': ['0.1', '0.3'], 'seed': ['1', '2']}]" \
	"compare params"
assert_eq "$(jq_ 'sorted(j["metrics"])')" "['loss']" "only differing metrics (rows is equal)"
assert_eq "$(jq_ '[[m[k] for k in ("last", "min", "max")] for m in j["metrics"]["loss"]]')" \
	"[[0.5905, 0.5905, 0.9], [0.1681, 0.1681, 0.7]]" "compare last/min/max"
mvm run compare 1 2 | grep -q "lr" || fail "human compare names the differing param"

# --- filter and sort ---
ids() { mvm run list "$@" --json | $PY -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin)])'; }
assert_eq "$(ids --filter 'metrics.loss < 0.5')" "[2, 5]" "filter on the last metric value"
assert_eq "$(ids --filter "params.lr = 0.1 or name = 'manual'")" "[1, 5]" "or"
assert_eq "$(ids --filter "params.lr = 0.1 or params.lr = 0.3 and status = 'failed'")" "[1]" "and binds tighter"
assert_eq "$(ids --filter "(params.lr = 0.1 or params.lr = 0.3) and status = 'ok'")" "[1, 2]" "parentheses"
assert_eq "$(ids --filter "tags.team = 'nlp' and metrics.acc >= 0.7")" "[5]" "tags"
assert_eq "$(ids --filter "status != 'ok'")" "[3, 4, 5]" "status"
assert_eq "$(ids --sort metrics.loss)" "[2, 5, 1, 3, 4]" "sort ascending, runs without the key last"
assert_eq "$(ids --sort -metrics.loss)" "[3, 1, 5, 2, 4]" "sort descending"
assert_eq "$(ids --filter 'params.lr > 0' --sort -params.lr)" "[2, 5, 1]" "filter and sort"

# --- a second stage: a run that reads model A ---
mvm run exec --name finetune --input "$MA" --output model.safetensors -- \
	sh -c '"$STGEN" --size-mb 0.25 --seed 9 model.safetensors && echo "mvm:metric loss=0.1"' >/dev/null
MC=$(mvm run show 6 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["outputs"][0])')

# --- lineage ---
get mvm lineage "$MA" --json
assert_eq "$(jq_ '[n["key"] for n in j["nodes"]]')" "['version:$MA', 'run:1', 'version:$DS']" "upstream nodes"
assert_eq "$(jq_ 'sorted((e["from"], e["to"]) for e in j["edges"])')" \
	"[('run:1', 'version:$MA'), ('version:$DS', 'run:1')]" "upstream edges"
assert_eq "$(jq_ '[n for n in j["nodes"] if n["key"] == "version:'"$DS"'"][0]["rows"]')" \
	"{'data/eval.jsonl': 2, 'data/train.jsonl': 100}" "dataset rows"
assert_eq "$(jq_ '[j["nodes"][0]["kind"], j["nodes"][2]["kind"], j["nodes"][0]["run"]]')" "['model', 'dataset', 1]" "kinds"
get mvm lineage "$MC" --json
assert_eq "$(jq_ '[n["key"] for n in j["nodes"]]')" "['version:$MC', 'run:6', 'version:$MA', 'run:1', 'version:$DS']" \
	"upstream through two runs"
get mvm lineage "$MC" --depth 1 --json
assert_eq "$(jq_ '[n["key"] for n in j["nodes"]]')" "['version:$MC', 'run:6', 'version:$MA']" "--depth 1"
get mvm lineage --downstream "$DS" --json
assert_eq "$(jq_ 'sorted(n["key"] for n in j["nodes"])')" \
	"$($PY -c "print(sorted(['version:$DS', 'run:1', 'run:2', 'run:6', 'version:$MA', 'version:$MB', 'version:$MC']))")" \
	"downstream from the dataset: both models and what was built on them"
mvm lineage "$MC" >"$SCRATCH/tree.txt"
grep -q "^    <- run 6 finetune (ok)" "$SCRATCH/tree.txt" || { cat "$SCRATCH/tree.txt" >&2; fail "text tree"; }
grep -q "data/train.jsonl: 100 rows" "$SCRATCH/tree.txt" || fail "text tree shows dataset rows"
mvm lineage "$MA" --dot >"$SCRATCH/g.dot"
head -1 "$SCRATCH/g.dot" | grep -q "^digraph lineage {$" || fail "dot header"
grep -q "\"version:$DS\" -> \"run:1\";" "$SCRATCH/g.dot" || fail "dot edge"
expect_error 2 "exclude each other" mvm lineage "$MA" --dot --json

# --- repro ---
mvm repro "$MA" >"$SCRATCH/repro.txt"
grep -qx "mvm run exec --name train-a --param lr=0.1 --param seed=1 --input $DS --output model.safetensors -- sh train.sh" \
	"$SCRATCH/repro.txt" || { cat "$SCRATCH/repro.txt" >&2; fail "repro command"; }
grep -q "^# input MVM_INPUT_1 = $DS$" "$SCRATCH/repro.txt" || fail "repro names the input"
grep -q "^# param lr = 0.1$" "$SCRATCH/repro.txt" || fail "repro names the params"
grep -qx "FOO=hello \\\\" "$SCRATCH/repro.txt" || fail "repro sets the recorded environment"
get mvm repro "$MA" --json
assert_eq "$(jq_ '[j["version"], j["run"], j["command"], j["inputs"]]')" \
	"['$MA', 1, ['sh', 'train.sh'], [{'n': 1, 'id': '$DS'}]]" "repro --json"
expect_error 1 "version ${DS%"${DS#????????????}"} has no run" mvm repro "$DS"
expect_error 1 "run 5 (manual), which made version .* has no command" mvm repro "$MANUAL"
if [ -n "$HAVE_GIT" ]; then
	grep -qx "git checkout $CODE" "$SCRATCH/repro.txt" || fail "repro checks the code out"
	echo "# local edit" >>train.sh
	mvm run exec --name dirty --param lr=0.5 --param seed=3 --input "$DS" --output model.safetensors -- sh train.sh >/dev/null
	git checkout -q train.sh
	assert_eq "$(mvm run show 7 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["code"]["dirty"])')" "True" "dirty flag"
	expect_error 1 "run 7 (dirty), which made version .* ran on uncommitted code changes" mvm repro HEAD
fi

# --- plot ---
mvm run plot 1 2 --metric loss --out "$SCRATCH/loss.svg"
$PY - "$SCRATCH/loss.svg" <<'EOF' || fail "SVG"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
paths = root.findall(".//" + ns + "path")
assert len(paths) == 2, len(paths)
texts = [t.text for t in root.iter(ns + "text")]
assert "train-a" in texts and "train-b" in texts, texts
assert "loss" in texts and "step" in texts, texts
EOF
mvm run plot 5 --metric loss | $PY -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) == 1' || fail "SVG on stdout"

# --- the audit log covers runs and links ---
mvm audit verify >/dev/null
mvm audit --json >"$SCRATCH/get.json"
assert_eq "$(jq_ 'sorted(set(e["action"] for e in j if e["action"].startswith(("run.", "version."))))')" \
	"['run.end', 'run.log', 'run.param', 'run.start', 'version.link']" "audited actions"
expect_fsck_ok
