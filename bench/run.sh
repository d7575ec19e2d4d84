#!/bin/sh
# bench/run.sh quick|full: mvm's own figures and this machine's limits,
# measured in one run on generated BF16 safetensors files.
#   quick: 512 MiB model     full: 1 GiB model (the foundation's reference)
# Peers (git-lfs, restic, borg) join this table in issue 4's suite.
set -eu
MODE=${1:-quick}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MVM="$ROOT/build/src/cli/mvm"
STGEN="$ROOT/build/tests/tools/stgen"
case "$MODE" in
quick) MB=512 ;;
full) MB=1024 ;;
*) echo "usage: bench/run.sh quick|full" >&2; exit 2 ;;
esac
W=${BENCH_DIR:-$ROOT/bench/out}
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
export MVM_USER="Bench <bench@example.com>"

secs() { awk -v s="$1" -v e="$2" 'BEGIN {printf "%.2f", e - s}'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b / s / 1e6}'; }
now() { date +%s.%N; }
# timed NAME CMD...: run CMD under /usr/bin/time, keep seconds and peak RSS
timed() {
	name=$1; shift
	/usr/bin/time -f "%e %M" -o "$W/time.$name" "$@"
}
t_s() { cut -d' ' -f1 "$W/time.$1"; }
t_rss() { awk '{printf "%.0f", $2 / 1024}' "$W/time.$1"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "flags: $(grep -o -w -E 'sha_ni|avx2|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "date: $(date -u +%Y-%m-%d)  command: make bench$( [ "$MODE" = quick ] && echo -quick)"

"$STGEN" --size-mb $MB --dtype BF16 --seed 11 "$W/base.safetensors"
"$STGEN" --size-mb $MB --dtype BF16 --seed 11 --perturb 0.15 "$W/head.safetensors"
SIZE=$(stat -c %s "$W/base.safetensors")

# machine limits on the same file
SHA=$(openssl speed -evp sha256 -bytes 65536 -seconds 2 2>/dev/null | awk '/^sha256/ {printf "%.0f", $NF / 1000}')
ZSTD=$(zstd -b1 -i3 "$W/base.safetensors" 2>&1 | tr '\r' '\n' | grep 'MB/s' | tail -1)
ZC=$(echo "$ZSTD" | sed -E 's/.*, *([0-9.]+) MB\/s, *([0-9.]+) MB\/s.*/\1/')
ZD=$(echo "$ZSTD" | sed -E 's/.*, *([0-9.]+) MB\/s, *([0-9.]+) MB\/s.*/\2/')
ZR=$(echo "$ZSTD" | sed -E 's/.*\(x([0-9.]+)\).*/\1/')
sync
s=$(now); cat "$W/base.safetensors" >/dev/null; e=$(now); READ=$(rate $SIZE $(secs $s $e))
s=$(now); dd if="$W/base.safetensors" of="$W/copy" bs=8M conv=fsync status=none; e=$(now)
WRITE=$(rate $SIZE $(secs $s $e)); rm -f "$W/copy"

mkdir "$W/repo" && cd "$W/repo"
"$MVM" init -q .
cp "$W/base.safetensors" model.safetensors
sync
timed add "$MVM" add -q model.safetensors
"$MVM" commit -q -m base
BASE=$(du -sb .mvm/packs | cut -f1)
cp "$W/head.safetensors" model.safetensors
timed add2 "$MVM" add -q model.safetensors
"$MVM" commit -q -m head
HEAD=$(du -sb .mvm/packs | cut -f1)
timed status "$MVM" status
rm model.safetensors
sync
timed checkout "$MVM" checkout -q HEAD~1 -- model.safetensors
cmp -s model.safetensors "$W/base.safetensors" || { echo "checkout is not bit-exact" >&2; exit 1; }

A=$(t_s add); C=$(t_s checkout)
printf '\n| figure | value | vs. this machine |\n|---|---|---|\n'
printf '| model | %s MB BF16 safetensors | |\n' $((SIZE / 1000000))
printf '| add, fresh model | %s s, %s MB/s, peak RSS %s MiB | %.0f%% of one core of OpenSSL SHA-256 (%s MB/s); zstd -1 alone: %s MB/s per core |\n' \
	"$A" "$(rate $SIZE $A)" "$(t_rss add)" "$(awk -v r="$(rate $SIZE $A)" -v s=$SHA 'BEGIN {print 100 * r / s}')" "$SHA" "$ZC"
printf '| store after base | %.1f%% of the file | zstd -1 on the whole file: %.1f%% |\n' \
	"$(awk -v a=$BASE -v b=$SIZE 'BEGIN {print 100 * a / b}')" "$(awk -v r=$ZR 'BEGIN {print 100 / r}')"
printf '| add, 15%% of tensors fine-tuned | %s s, store grew %.1f%% of the file | |\n' \
	"$(t_s add2)" "$(awk -v a=$((HEAD - BASE)) -v b=$SIZE 'BEGIN {print 100 * a / b}')"
printf '| checkout into an empty folder | %s s, %s MB/s, peak RSS %s MiB | zstd -d alone: %s MB/s per core; fsync write %s MB/s |\n' \
	"$C" "$(rate $SIZE $C)" "$(t_rss checkout)" "$ZD" "$WRITE"
printf '| status, unchanged tree | %s s | page-cache read of the file: %s MB/s |\n' "$(t_s status)" "$READ"
