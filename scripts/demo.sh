#!/bin/sh
# demo.sh: mvm's main job on generated data, narrated.
# Usage: scripts/demo.sh [BUILD_DIR]   (run by `make demo`)
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MVM="$ROOT/$BUILD/src/cli/mvm"
STGEN="$ROOT/$BUILD/tests/tools/stgen"
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/mvm-demo.XXXXXX")
trap 'rm -rf "$DEMO"' EXIT
export MVM_USER="${MVM_USER:-Demo User <demo@example.com>}"

say() { printf '\n==> %s\n' "$*"; }
store_bytes() { du -sb .mvm/packs .mvm/mvm.db* | awk '{s += $1} END {print s}'; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1e6}'; }

mkdir "$DEMO/repo"
cd "$DEMO/repo"
say "Creating a repository in $DEMO/repo"
"$MVM" init -q .

say "Generating a ~200 MB BF16 safetensors model (transformer-shaped, Gaussian weights)"
"$STGEN" --size-mb 200 --dtype BF16 --seed 42 model.safetensors
ls -l model.safetensors
sha256sum model.safetensors > "$DEMO/v1.sha256"

say "Committing it: mvm add + mvm commit"
start=$(date +%s.%N)
"$MVM" add model.safetensors
"$MVM" commit -m "base model" --param lr=3e-4 --param epochs=3 --metric eval_loss=2.31
end=$(date +%s.%N)
size=$(stat -c %s model.safetensors)
base=$(store_bytes)
echo "stored $(mb "$size") as $(mb "$base") ($(awk -v a="$base" -v b="$size" 'BEGIN {printf "%.1f%%", 100 * a / b}') of the file) in $(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.2f s", e - s}')"

say "Fine-tuning: 15% of the tensors get new weights"
"$STGEN" --size-mb 200 --dtype BF16 --seed 42 --perturb 0.15 model.safetensors
"$MVM" status

say "Committing the fine-tune: only changed chunks are stored"
"$MVM" commit -a -m "fine-tune on domain data" --param lr=1e-5 --metric eval_loss=1.87
after=$(store_bytes)
echo "store before: $(mb "$base"); after: $(mb "$after"); the fine-tune added $(mb $((after - base))) ($(awk -v a="$((after - base))" -v b="$size" 'BEGIN {printf "%.1f%%", 100 * a / b}') of the file)"

say "History: mvm log"
"$MVM" log

say "Which tensors changed, and by how much: mvm diff HEAD~1 HEAD --stats"
"$MVM" diff HEAD~1 HEAD --stats

say "Going back to the base model: mvm checkout HEAD~1"
"$MVM" checkout HEAD~1
echo "verifying with sha256sum:"
sha256sum -c "$DEMO/v1.sha256"

say "Releasing: register both versions of the model 'chat' and serve version 1 in prod"
"$MVM" switch -q main
"$MVM" model create chat --description "demo assistant"
"$MVM" model register chat HEAD~1 --note "base"
"$MVM" model metric chat 1 accuracy=0.81 latency_ms=40
"$MVM" model register chat HEAD --note "fine-tune"
"$MVM" deploy chat 1 --env prod
"$MVM" model gate chat 'accuracy>=current' 'latency_ms<=1.1*current'
"$MVM" model protect chat prod

say "A change request to canary version 2 at 10%: gates fail until version 2 has its metrics"
cr=$("$MVM" change open chat 2 --deploy prod --strategy canary --weight 10 \
	--rollback-if 'error_rate>0.05' --reason "domain fine-tune" --json |
	/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$MVM" change apply "$cr" || echo "(refused, as it should be: no metrics, no approval)"
"$MVM" model metric chat 2 accuracy=0.86 latency_ms=41
MVM_USER="Reviewer <reviewer@example.com>" "$MVM" change approve "$cr"
"$MVM" change show "$cr" | head -20
"$MVM" change apply "$cr"
"$MVM" deploy status chat --env prod
echo "which version serves a request: a stable hash of its key, ~10% of keys get version 2"
v2=0
for i in $(seq 1 50); do
	v=$("$MVM" resolve chat --env prod --key "user-$i" --json |
		/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
	[ "$i" -le 3 ] && echo "  user-$i -> chat version $v"
	[ "$v" = 2 ] && v2=$((v2 + 1))
done
echo "  ... $v2 of 50 keys get version 2"

say "The canary misbehaves: a health report breaks the rollback rule"
"$MVM" deploy health chat --env prod error_rate=0.09
"$MVM" deploy status chat --env prod
"$MVM" deploy history chat --env prod

say "Every change above is in the hash-chained audit log"
"$MVM" audit --model chat | tail -8
"$MVM" audit verify

say "Experiments: a dataset version and two training runs that read it"
mkdir -p data
for i in $(seq 1 200); do echo "{\"text\": \"example $i\", \"label\": $((i % 2))}"; done > data/train.jsonl
"$MVM" add data
"$MVM" commit -m "training data v1" --kind dataset
cat > "$DEMO/train.sh" <<'TRAIN'
#!/bin/sh
# a stand-in for a training script: reads the dataset version it was given,
# reports a loss curve, writes weights
rows=$("$MVM" cat "$MVM_INPUT_1:data/train.jsonl" | wc -l)
for step in 1 2 3 4 5; do
	echo "mvm:metric loss=$(awk -v s="$step" -v lr="$MVM_PARAM_LR" 'BEGIN {printf "%.3f", 2.5 / (1 + s * lr * 10)}') step=$step"
done
echo "trained on $rows rows"
"$STGEN" --size-mb 8 --seed "$MVM_PARAM_SEED" model-small.safetensors
TRAIN
chmod +x "$DEMO/train.sh"
export MVM STGEN
"$MVM" run exec --name lr-0.1 --param lr=0.1 --param seed=1 --input HEAD --output model-small.safetensors -- "$DEMO/train.sh"
"$MVM" run exec --name lr-0.3 --param lr=0.3 --param seed=2 --input HEAD~1 --output model-small.safetensors -- "$DEMO/train.sh"
"$MVM" run list --sort metrics.loss
"$MVM" run compare 1 2
"$MVM" run plot 1 2 --metric loss --out "$DEMO/loss.svg" && echo "loss curves written as SVG ($(wc -c < "$DEMO/loss.svg") bytes)"
say "Lineage: what produced the last model, and what was built from the dataset"
"$MVM" lineage HEAD
"$MVM" lineage --downstream HEAD~2
"$MVM" repro HEAD

say "Checking the whole repository: mvm fsck"
"$MVM" fsck
say "Done. Everything above ran in a throwaway folder, now removed."
