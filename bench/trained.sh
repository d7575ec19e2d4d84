#!/bin/sh
# bench/trained.sh: mvm on checkpoints of a model actually trained.
#
# bench/train.py trains a ~25M-parameter MLP language model with AdamW in
# numpy and writes its starting weights and a checkpoint every EVERY steps,
# in F32 and BF16. Each series is committed in order to a fresh repository;
# the table gives, per checkpoint, what the store grew by (% of the file),
# next to what the same file costs on its own (added to an empty
# repository: mvm's fresh encoding) and `zstd -1` of it, and the add's
# speed. Environment: BENCH_DIR (scratch, default bench/out), STEPS
# (default 300), EVERY (default 100). Installs python3-numpy and OpenBLAS
# from Debian when missing and run as root.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MVM="$ROOT/build/src/cli/mvm"
W=${BENCH_DIR:-$ROOT/bench/out}/trained
STEPS=${STEPS:-300}
EVERY=${EVERY:-100}
[ -x "$MVM" ] || { echo "trained: $MVM is missing; run make first" >&2; exit 1; }
need=""
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need="$need python3-numpy"
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need="$need libopenblas0-pthread"
if [ -n "$need" ] && [ "$(id -u)" -eq 0 ]; then
	{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; } >/dev/null 2>&1 ||
		echo "trained: could not install$need" >&2
fi
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
export MVM_USER="Bench <bench@example.com>"

echo "training $STEPS steps, a checkpoint every $EVERY (bench/train.py)" >&2
/usr/bin/python3 "$ROOT/bench/train.py" "$W/data" "$STEPS" "$EVERY"

pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f%%", 100 * a / b}'; }
echo "date: $(date -u +%Y-%m-%d)  command: bench/trained.sh (STEPS=$STEPS EVERY=$EVERY)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "| series | checkpoint | MB | mvm store grew | add s (MB/s) | alone in mvm | zstd -1 |"
echo "|---|---|---|---|---|---|---|"
for d in f32 bf16; do
	"$MVM" init -q "$W/repo-$d"
	prev=0
	for f in "$W/data/$d"/step-*.safetensors; do
		size=$(stat -c %s "$f")
		cd "$W/repo-$d"
		cp "$f" model.safetensors
		s=$(date +%s.%N)
		"$MVM" add -q model.safetensors
		e=$(date +%s.%N)
		"$MVM" commit -q -m "$(basename "$f" .safetensors)"
		now=$(du -sb .mvm/packs | cut -f1)
		rm -rf "$W/alone" && "$MVM" init -q "$W/alone" && cd "$W/alone" && cp "$f" model.safetensors
		"$MVM" add -q model.safetensors
		alone=$(du -sb .mvm/packs | cut -f1)
		z=$(zstd -1 -q -c "$f" | wc -c)
		printf '| %s | %s | %d | %s | %s | %s | %s |\n' "$d" "$(basename "$f" .safetensors)" $((size / 1000000)) \
			"$(pct $((now - prev)) "$size")" \
			"$(awk -v s="$s" -v e="$e" -v b="$size" 'BEGIN {printf "%.2f (%.0f)", e - s, b / (e - s) / 1e6}')" \
			"$(pct "$alone" "$size")" "$(pct "$z" "$size")"
		prev=$now
	done
done
