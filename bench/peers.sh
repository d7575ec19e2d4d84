#!/usr/bin/env bash
# bench/peers.sh quick|full: mvm side by side with git-lfs, restic and borg on
# the same generated safetensors files, plus this machine's limits measured in
# the same run. Prints a markdown report and writes it to bench/out/RESULTS.md;
# a run with every default also replaces its section of docs/BENCHMARKS.md.
#
#   quick: 512 MiB BF16 model in 2 shards: base, head fine-tune, a chain of
#          2 checkpoints; F16/F32 models of 128 MiB; a training run's 5
#          checkpoints of a 128 MiB BF16 model; 1 run (make bench-quick,
#          ~3 min on 2 idle cores, ~6 min when the machine is busy)
#   full:  4 GiB BF16 model in 4 shards: base, head and full fine-tune
#          (BENCH_CKPTS=3 adds two chained checkpoints, ~+10 min); F16/F32
#          models of 256 MiB; a training run's 5 checkpoints of a 256 MiB
#          BF16 model; 3 runs of the fresh add, status and restore
#          (median) as far as BENCH_BUDGET allows, 1 run of the later
#          versions (make bench, < 30 min on 2 cores). A later version that
#          would start past the budget is skipped and reads "skipped".
# restic --compression max runs at ~2-3 MB/s here (hours at 4 GiB), so it
# gets a small model of the same family (32 / 64 MiB) and fewer versions;
# its MB/s and % compare, its seconds do not.
#
# Environment: BENCH_DIR (scratch folder, default bench/out/scratch; every
# repository lives there, on one disk), BENCH_RUNS (runs, default 1 quick /
# 3 full), BENCH_BUDGET (seconds; later runs are skipped when the next one
# would end past it; default 1680 for full), BENCH_CACHE=cold|warm (cold:
# drop the page cache before every timed step, the default when possible),
# BENCH_TOOLS (subset of: mvm git-lfs restic restic-max borg borg-zstd),
# BENCH_KEEP=1 (keep the scratch folder), BENCH_MB / BENCH_FMB (model sizes
# in MiB: the BF16 versions / the F16 and F32 ones), BENCH_CKPTS (length of
# the checkpoint chain, counting the full fine-tune; default 2 quick, 1 full).
set -eu
export LC_ALL=C

MODE=${1:-quick}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MVM="$ROOT/build/src/cli/mvm"
STGEN="$ROOT/build/tests/tools/stgen"
ENTROPY="$ROOT/bench/entropy.py"
case "$MODE" in
quick) MB=512 SHARDS=2 FMB=128 CKPTS=2 SMB=32 SMAX="base head" RUNS=${BENCH_RUNS:-1} BUDGET=${BENCH_BUDGET:-600} ;;
full) MB=4096 SHARDS=4 FMB=256 CKPTS=1 SMB=64 SMAX="base head ft" RUNS=${BENCH_RUNS:-3} BUDGET=${BENCH_BUDGET:-1680} ;;
*) echo "usage: bench/peers.sh quick|full" >&2; exit 2 ;;
esac
MB=${BENCH_MB:-$MB}
FMB=${BENCH_FMB:-$FMB}
CKPTS=${BENCH_CKPTS:-$CKPTS}
OUT="$ROOT/bench/out"
W=${BENCH_DIR:-$OUT/scratch}
D="$W/data"
TOOLS=${BENCH_TOOLS:-"mvm git-lfs restic restic-max borg borg-zstd"}
BORG_ZSTD=zstd,3
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

for f in "$MVM" "$STGEN"; do
	[ -x "$f" ] || { echo "peers: $f is missing; run make first" >&2; exit 1; }
done
MVM_SRC=$MVM
for c in /usr/bin/time /usr/bin/python3 openssl zstd git; do
	command -v "$c" >/dev/null || { echo "peers: $c is needed" >&2; exit 1; }
done

log() { printf 'peers [%4ss]: %s\n' $(($(date +%s) - START)) "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN {printf "%.6f", e - s}'; }
calc() { awk "BEGIN {printf $1}"; }

# ---------------------------------------------------------------- peers
# Install what is missing, quietly, like scripts/install-deps.sh; a tool
# that still cannot run is reported as n/a.
need=""
command -v git-lfs >/dev/null || need="$need git-lfs"
command -v restic >/dev/null || need="$need restic"
command -v borg >/dev/null || need="$need borgbackup"
if [ -n "$need" ]; then
	log "installing$need"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	{ DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq &&
	  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need; } \
		>/dev/null 2>&1 || log "could not install$need; those tools will read n/a"
fi
have() {
	case "$1" in
	mvm) return 0 ;;
	git-lfs) git lfs version >/dev/null 2>&1 ;;
	restic*) restic version >/dev/null 2>&1 ;;
	borg*) borg --version >/dev/null 2>&1 ;;
	esac
}
label() {
	case "$1" in
	mvm) echo mvm ;;
	git-lfs) echo git-lfs ;;
	restic) echo "restic (auto)" ;;
	restic-max) echo "restic max" ;;
	borg) echo "borg (lz4)" ;;
	borg-zstd) echo "borg $BORG_ZSTD" ;;
	esac
}
version() {
	case "$1" in
	mvm) "$MVM" version 2>/dev/null | head -1 ;;
	git-lfs) echo "$(git --version | cut -d' ' -f3), $(git lfs version | cut -d' ' -f1)" ;;
	restic*) restic version | cut -d' ' -f1-2 ;;
	borg*) borg --version ;;
	esac
}

# ---------------------------------------------------------------- scratch
# never delete a folder this script did not make
if [ -d "$W" ] && [ ! -e "$W/.bench-peers" ] && [ -n "$(ls -A "$W")" ]; then
	echo "peers: $W is not empty and not a scratch folder of bench/peers.sh; set BENCH_DIR elsewhere" >&2
	exit 1
fi
rm -rf "$W"
mkdir -p "$W/log" "$D" "$OUT"
: >"$W/.bench-peers"
# a private copy of mvm and stgen: the build folder may be relinked while we run
cp "$MVM_SRC" "$W/mvm" && cp "$STGEN" "$W/stgen" || { echo "peers: cannot copy $MVM_SRC" >&2; exit 1; }
MVM="$W/mvm" STGEN="$W/stgen"
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
: >"$W/res"

# BENCH_CACHE=cold drops the page cache before each timed step (needs root);
# when that is refused every tool runs warm: its input is read once first.
CACHE=${BENCH_CACHE:-cold}
if [ "$CACHE" = cold ] && ! { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
	CACHE=warm
	log "cannot drop the page cache (not root?): every step runs warm"
fi
# prepare [PATH...]: before a timed step: flush dirty pages, then drop the
# page cache (cold) or read PATHs into it (warm).
prepare() {
	sync
	if [ "$CACHE" = cold ]; then
		echo 3 >/proc/sys/vm/drop_caches
	elif [ $# -gt 0 ]; then
		find "$@" -type f -exec cat {} + >/dev/null
	fi
}

# ---------------------------------------------------------------- data
# Versions (file names as in a Hugging Face checkpoint):
#   base  BF16, seed 11, SHARDS shards
#   head  15% of tensors perturbed (noise 0.05 of each tensor's std)
#   ft    full fine-tune = checkpoint 1 of a training run: every tensor
#         perturbed, noise 0.05 of each tensor's std (perturb seed 8)
#   ck2.. later checkpoints: the same noise scaled to 0.07, 0.09, ... stgen
#         perturbs relative to base, so the chain is a straight-line drift
#         away from base, each step 0.02 std further
#   f16, f32  the same model family in F16 / F32 (FMB MiB, 1 shard), added
#         as their own folders (fresh data, no parent)
#   f32ft the F32 model fully fine-tuned (noise 0.05, perturb seed 8),
#         added over f32 in its folder
#   tc0..tc5  a training run's checkpoints in their own folder (FMB MiB
#         BF16, seed 13): tc0 the starting model, tck every tensor moved
#         by 0.05 + 0.02 (k - 1) of its std (perturb seed 9) from tc0, so
#         each is added over the one before, 0.02 std away
# Distinct perturb seeds keep head and the ft chain from sharing tensors.
VERSIONS="base head ft"
k=2
while [ $k -le $CKPTS ]; do VERSIONS="$VERSIONS ck$k"; k=$((k + 1)); done
VERSIONS="$VERSIONS f16 f32 f32ft tc0 tc1 tc2 tc3 tc4 tc5"
noise() { calc "\"%.2f\", 0.05 + 0.02 * (${1#??} - 1)"; }
gen_opts() {
	local m=$2
	case "$1" in
	base) echo "--size-mb $m --shards $SHARDS --dtype BF16 --seed 11" ;;
	head) echo "--size-mb $m --shards $SHARDS --dtype BF16 --seed 11 --perturb 0.15 --perturb-seed 7 --noise 0.05" ;;
	ft) echo "--size-mb $m --shards $SHARDS --dtype BF16 --seed 11 --perturb 1 --perturb-seed 8 --noise 0.05" ;;
	ck*) echo "--size-mb $m --shards $SHARDS --dtype BF16 --seed 11 --perturb 1 --perturb-seed 8 --noise $(noise $1)" ;;
	f16) echo "--size-mb $FMB --dtype F16 --seed 11" ;;
	f32) echo "--size-mb $FMB --dtype F32 --seed 11" ;;
	f32ft) echo "--size-mb $FMB --dtype F32 --seed 11 --perturb 1 --perturb-seed 8 --noise 0.05" ;;
	tc0) echo "--size-mb $FMB --dtype BF16 --seed 13" ;;
	tc*) echo "--size-mb $FMB --dtype BF16 --seed 13 --perturb 1 --perturb-seed 9 --noise $(noise $1)" ;;
	esac
}
describe() {
	case "$1" in
	base) echo "fresh BF16 model, $SHARDS shards" ;;
	head) echo "head fine-tune (15% of tensors)" ;;
	ft) echo "full fine-tune$([ "$CKPTS" -gt 1 ] && echo " = checkpoint 1") (all tensors, noise 0.05)" ;;
	ck*) echo "checkpoint ${1#ck} (all tensors, noise $(noise $1))" ;;
	f16) echo "F16 model, own folder" ;;
	f32) echo "F32 model, own folder" ;;
	f32ft) echo "F32 full fine-tune (all tensors, noise 0.05)" ;;
	tc0) echo "BF16 model a training run starts from, own folder" ;;
	tc*) echo "its training checkpoint ${1#tc} (all tensors, noise $(noise $1))" ;;
	esac
}
# data, versions and sizes of a tool: restic max gets the small set
tdata() { if [ "$1" = restic-max ]; then echo "$D/small"; else echo "$D"; fi; }
tversions() { if [ "$1" = restic-max ]; then echo "$SMAX"; else echo "$VERSIONS"; fi; }
tsize() { if [ "$1" = restic-max ]; then eval "echo \$SSIZE_$2"; else eval "echo \$SIZE_$2"; fi; }
# tree folder of a version inside each working tree
folder() { case "$1" in f16 | f32) echo "$1" ;; f32ft) echo f32 ;; tc*) echo train ;; *) echo model ;; esac; }

SIZE_base=0   # set with the others below, by eval
bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}'; }

# peak disk: the data plus git-lfs's full copy of it, plus slack
need_mb=$(((MB * (2 + CKPTS) + FMB * 9) * 105 / 100 * 2 + 2048))
avail_mb=$(df -Pm "$W" | awk 'NR == 2 {print $4}')
if [ "$avail_mb" -lt "$need_mb" ]; then
	echo "peers: $W has $avail_mb MB free, this run needs about $need_mb MB (set BENCH_DIR elsewhere)" >&2
	exit 1
fi
log "generating $MB MiB models in $D, the byte-plane entropy of each alongside ($need_mb of $avail_mb MB free disk needed)"
for v in $VERSIONS; do
	mkdir -p "$D/$v"
	# shellcheck disable=SC2046
	"$STGEN" $(gen_opts $v $MB) "$D/$v/model.safetensors" >/dev/null
	eval "SIZE_$v=$(bytes_of "$D/$v")"
	"$ENTROPY" "$D/$v"/*.safetensors >"$W/entropy.$v" &
done
for v in $SMAX; do
	mkdir -p "$D/small/$v"
	# shellcheck disable=SC2046
	"$STGEN" $(gen_opts $v $SMB) "$D/small/$v/model.safetensors" >/dev/null
	eval "SSIZE_$v=$(bytes_of "$D/small/$v")"
done
wait

# ---------------------------------------------------------------- limits
# On the first shard of base: SHA-256 (OpenSSL, one core), zstd -1 with 1
# and 2 threads and its ratio, zstd -d (always one thread), cold and
# page-cache reads, fsync'd write through the page cache and with O_DIRECT
# (how mvm writes packs and restored files). Best of 3 where cheap.
LIMF=$(ls "$D/base"/*.safetensors | head -1)
LIMSZ=$(stat -c %s "$LIMF")
log "machine limits on $(basename "$LIMF") ($((LIMSZ / 1000000)) MB)"
rate() { calc "\"%.0f\", $1 / $2 / 1e6"; }
timeit() { s=$(now); "$@"; e=$(now); secs "$s" "$e"; }
# best of 3: other work on the machine only ever slows a limit down
best3() { { timeit "$@"; echo; timeit "$@"; echo; timeit "$@"; echo; } | sort -g | head -1; }
SHA=$(openssl speed -evp sha256 -bytes 65536 -seconds 3 2>/dev/null | awk '/^sha256/ {printf "%.0f", $NF / 1000}')
cat "$LIMF" >/dev/null
ZC1=$(rate $LIMSZ "$(timeit sh -c "zstd -1 -T1 -q -c '$LIMF' >'$W/lim.zst'")")
ZC1=$(rate $LIMSZ "$(best3 sh -c "zstd -1 -T1 -q -c '$LIMF' >/dev/null")")
ZC2=$(rate $LIMSZ "$(best3 sh -c "zstd -1 -T2 -q -c '$LIMF' >/dev/null")")
ZRATIO=$(calc "\"%.1f\", 100 * $(stat -c %s "$W/lim.zst") / $LIMSZ")
ZD=$(rate $LIMSZ "$(best3 sh -c "zstd -d -q -c '$W/lim.zst' >/dev/null")")
rm -f "$W/lim.zst"
COLD=n/a
if [ "$CACHE" = cold ]; then
	prepare
	COLD=$(rate $LIMSZ "$(timeit sh -c "cat '$LIMF' >/dev/null")")
fi
cat "$LIMF" >/dev/null
READ=$(rate $LIMSZ "$(best3 sh -c "cat '$LIMF' >/dev/null")")
sync
WRITE=$(rate $LIMSZ "$(timeit dd if="$LIMF" of="$W/lim.copy" bs=8M conv=fsync status=none)")
rm -f "$W/lim.copy"
sync
DWRITE=$(rate $LIMSZ "$(timeit dd if="$LIMF" of="$W/lim.copy" bs=8M oflag=direct conv=fsync status=none)")
rm -f "$W/lim.copy"
# reading and writing at once, as an add (model in, packs out) and a checkout
# (packs in, model out) do: one disk serves both, and less than each alone
RW=n/a
if [ "$CACHE" = cold ]; then
	prepare
	RWMB=$((LIMSZ >> 20))
	RW=$(rate $((LIMSZ + (RWMB << 20))) "$(timeit sh -c "cat '$LIMF' >/dev/null & \
		dd if=/dev/zero of='$W/lim.copy' bs=1M count=$RWMB oflag=direct conv=fsync status=none; wait")")
	rm -f "$W/lim.copy"
fi
log "sha256 $SHA MB/s, zstd -1 $ZC1/$ZC2 MB/s (T1/T2) at $ZRATIO%, zstd -d $ZD MB/s, read cold $COLD / cached $READ MB/s, fsync write $WRITE MB/s, O_DIRECT write $DWRITE MB/s, cold read + O_DIRECT write at once $RW MB/s"

# ---------------------------------------------------------------- tools
# Each tool works in $W/repos/TOOL: working tree (mvm, git) or backup source
# (restic, borg) is ./model (and ./f16, ./f32), hard links to the generated
# files, so no tool pays for a copy and all read the same inodes' bytes.
export MVM_USER="Bench <bench@example.com>"
export RESTIC_PASSWORD=mvm-bench-fixed-password
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export GIT_CONFIG_NOSYSTEM=1

tool_env() {
	R=$1
	export RESTIC_REPOSITORY="$R/repo" RESTIC_CACHE_DIR="$R/cache"
	export BORG_REPO="$R/repo" BORG_BASE_DIR="$R/home"
	export HOME="$R/home"
	mkdir -p "$R/home"
}
t_init() {
	case "$1" in
	mvm) "$MVM" init -q . ;;
	git-lfs)
		git init -q . && git config user.name Bench && git config user.email bench@example.com &&
			git lfs install --local >/dev/null && git lfs track '*.safetensors' >/dev/null &&
			git add .gitattributes && git commit -q -m init ;;
	restic*) restic init --repository-version 2 -q ;;
	borg*) borg init --encryption none ;;
	esac
}
# the timed command that records version $2 (folder $3) as a new version
t_commit_cmd() {
	case "$1" in
	mvm) echo "'$MVM' add -q $3 && '$MVM' commit -q -m $2" ;;
	git-lfs) echo "git add -A $3 && git commit -q -m $2" ;;
	restic) echo "restic backup -q --tag $2 $3" ;;
	restic-max) echo "restic backup -q --compression max --tag $2 $3" ;;
	borg) echo "borg create ::$2 $3" ;;
	borg-zstd) echo "borg create --compression $BORG_ZSTD ::$2 $3" ;;
	esac
}
t_tag() {
	case "$1" in
	mvm) "$MVM" tag base >/dev/null ;;
	git-lfs) git tag base ;;
	*) : ;;
	esac
}
t_status_cmd() {
	case "$1" in
	mvm) echo "'$MVM' status" ;;
	git-lfs) echo "git status" ;;
	*) echo "" ;;
	esac
}
# restore base into an empty place; echoes where it lands
t_restore_cmd() {
	case "$1" in
	mvm) echo "'$MVM' checkout -q base -- model" ;;
	git-lfs) echo "git checkout base -- model" ;;
	restic*) echo "restic restore -q latest --tag base --target restore" ;;
	borg*) echo "mkdir restore && cd restore && borg extract ::base" ;;
	esac
}
t_restored() { case "$1" in mvm | git-lfs) echo model ;; *) echo restore/model ;; esac; }
t_store() {
	case "$1" in
	mvm) du -sb .mvm | cut -f1 ;;
	git-lfs) du -sbc .git/objects .git/lfs/objects | tail -1 | cut -f1 ;;
	*) du -sb repo | cut -f1 ;;
	esac
}

rec() { echo "$1 $2 $3 $4" >>"$W/res"; }
# get TOOL KEY: median over the runs that recorded it (empty when none)
get() {
	awk -v t="$1" -v k="$2" '$1 == t && $3 == k {print $4}' "$W/res" | sort -g |
		awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

# timed TOOL RUN KEY CMD: run CMD (a shell string) in the tool's folder and
# record wall seconds (KEY), the sync after it (KEY.sync), user+sys CPU
# seconds (KEY.cpu) and peak RSS in KiB (KEY.rss).
timed() {
	local t=$1 r=$2 k=$3 cmd=$4 s e e2
	rec "$t" "$r" "$k.load" "$(cut -d' ' -f1 /proc/loadavg)"
	s=$(now)
	if ! /usr/bin/time -f "%U %S %M" -o "$W/tm" sh -c "$cmd" >>"$W/log/$t" 2>&1; then
		echo "peers: $t: '$cmd' failed; last lines of $W/log/$t:" >&2
		tail -5 "$W/log/$t" >&2
		return 1
	fi
	e=$(now)
	sync
	e2=$(now)
	rec "$t" "$r" "$k" "$(secs "$s" "$e")"
	rec "$t" "$r" "$k.sync" "$(secs "$e" "$e2")"
	rec "$t" "$r" "$k.cpu" "$(awk 'END {print $1 + $2}' "$W/tm")"
	rec "$t" "$r" "$k.rss" "$(awk 'END {print $3}' "$W/tm")"
	log "  $t: $k $(secs "$s" "$e") s"
}

verify() {
	local src=$1 dst=$2 f
	for f in "$src"/*; do
		cmp -s "$f" "$dst/$(basename "$f")" || { echo "peers: $dst/$(basename "$f") differs from the original" >&2; return 1; }
	done
}

# one tool, one run: fresh repository, add base, status, restore base; in
# run 1 also every later version. The repository is deleted afterwards so
# that only one tool's store occupies the disk at a time.
tool_run() {
	local t=$1 r=$2 R="$W/repos/$1" DD v f cmd
	DD=$(tdata $t)
	rm -rf "$R"
	mkdir -p "$R"
	cd "$R"
	tool_env "$R"
	t_init "$t" >>"$W/log/$t" 2>&1
	cp -al "$DD/base" model
	prepare model
	timed "$t" "$r" add.base "$(t_commit_cmd "$t" base model)"
	rec "$t" "$r" store.base "$(t_store "$t")"
	t_tag "$t" >>"$W/log/$t" 2>&1
	cmd=$(t_status_cmd "$t")
	if [ -n "$cmd" ]; then
		# 31 runs, timed by bash itself ($EPOCHREALTIME: no `date` or `sh -c`
		# forks inside the interval, which cost more than the status does)
		for _ in $(seq 31); do
			s=$EPOCHREALTIME; eval "$cmd" >/dev/null 2>>"$W/log/$t"; e=$EPOCHREALTIME
			rec "$t" "$r" status "$(secs "$s" "$e")"
		done
	fi
	rm -rf model restore
	prepare "$R"
	timed "$t" "$r" restore "$(t_restore_cmd "$t")"
	if [ "$r" -eq 1 ] || [ "$MODE" = quick ]; then
		verify "$DD/base" "$(t_restored "$t")"
	fi
	rm -rf restore
	if [ "$r" -eq 1 ]; then
		for v in $(tversions $t); do
			[ "$v" = base ] && continue
			if [ $(($(date +%s) - START)) -gt "$BUDGET" ]; then
				log "  $t: skipping $v, past the ${BUDGET}s budget"
				rec "$t" "$r" "skip.$v" 1
				continue
			fi
			f=$(folder $v)
			rm -rf "$f"
			cp -al "$DD/$v" "$f"
			prepare "$f"
			timed "$t" "$r" "add.$v" "$(t_commit_cmd "$t" $v $f)"
			rec "$t" "$r" "store.$v" "$(t_store "$t")"
		done
	fi
	cd "$W"
	rm -rf "$R"
}

AVAIL=""
for t in $TOOLS; do
	if have $t; then AVAIL="$AVAIL $t"; else log "$t is not available: n/a"; fi
done
FAILED=""
RUNS_DONE=0
r=1
while [ $r -le $RUNS ]; do
	if [ $r -gt 1 ]; then
		el=$(($(date +%s) - START))
		if [ $((el + RUN2_SECS)) -gt "$BUDGET" ]; then
			log "stopping after $RUNS_DONE runs: run $r would take ~${RUN2_SECS}s, past the ${BUDGET}s budget"
			break
		fi
	fi
	# rotate the tool order each run so slow drifts of the machine spread evenly
	order=$(echo $AVAIL | awk -v r=$r '{for (i = 0; i < NF; i++) printf "%s ", $(((i + r - 1) % NF) + 1)}')
	log "run $r/$RUNS: $order"
	for t in $order; do
		case " $FAILED " in *" $t "*) continue ;; esac
		set +e
		(set -e; tool_run $t $r)
		rc=$?
		set -e
		if [ $rc -ne 0 ]; then
			FAILED="$FAILED $t"
			log "$t failed in run $r; it reads n/a (log: $W/log/$t)"
			[ "${BENCH_KEEP:-0}" = 1 ] || cp "$W/log/$t" "$OUT/failed-$t.log"
		fi
	done
	RUNS_DONE=$r
	# later runs skip the version steps: budget them from run 1's fresh part
	if [ $r -eq 1 ]; then
		RUN2_SECS=0
		for t in $AVAIL; do
			x=$(awk -v t=$t '$1 == t && $2 == 1 && ($3 == "add.base" || $3 == "add.base.sync" || $3 == "restore" || $3 == "restore.sync") {s += $4} END {printf "%.0f", s * 1.25 + 10}' "$W/res")
			RUN2_SECS=$((RUN2_SECS + x))
		done
	fi
	r=$((r + 1))
done
ELAPSED=$(($(date +%s) - START))

# ---------------------------------------------------------------- report
ok() { case " $FAILED " in *" $1 "*) return 1 ;; esac; case " $AVAIL " in *" $1 "*) return 0 ;; esac; return 1; }
mb() { calc "\"%.0f\", $1 / 1e6"; }
ent() { tr ' ' '\n' <"$W/entropy.$1" | sed -n "s/^$2=//p"; }
# cell TOOL KIND [VERSION]
cell() {
	local t=$1 kind=$2 v=${3:-} x y z v2
	ok $t || { echo "n/a"; return; }
	case "$kind" in
	add)
		[ -n "$(get $t skip.$v)" ] && { echo "skipped (budget)"; return; }
		x=$(get $t add.$v); [ -n "$x" ] || { echo "n/a"; return; }
		z=$(tsize $t $v)
		calc "\"%.2f s · %.0f MB/s\", $x, $z / $x / 1e6" ;;
	sync) x=$(get $t $v); y=$(get $t $v.sync); calc "\"%.2f s\", $x + $y" ;;
	cpu) calc "\"%.1f s\", $(get $t $v.cpu)" ;;
	load)
		awk -v t=$t '$1 == t && $3 ~ /\.load$/ {s += $4; n++; if ($4 > m) m = $4} END {printf "%.1f (max %.1f)", s / n, m}' "$W/res" ;;
	rss)
		awk -v t=$t '$1 == t && $3 ~ /\.rss$/ {if ($4 > m) m = $4} END {printf "%.0f MiB", m / 1024}' "$W/res" ;;
	store)
		[ -n "$(get $t skip.$v)" ] && { echo "skipped (budget)"; return; }
		x=$(get $t store.$v); [ -n "$x" ] || { echo "n/a"; return; }
		y=$(prev_store $t $v)
		z=$(tsize $t $v)
		if [ "$v" = base ]; then
			calc "\"%.1f%% · %.0f MB\", 100 * $x / $z, $x / 1e6"
		else
			calc "\"+%.1f%% · %.0f MB\", 100 * ($x - $y) / $z, $x / 1e6"
		fi ;;
	restore) x=$(get $t restore); calc "\"%.2f s · %.0f MB/s\", $x, $(tsize $t base) / $x / 1e6" ;;
	status)
		x=$(get $t status)
		if [ -z "$x" ]; then echo "n/a"; else calc "\"%.2f ms\", 1000 * $x"; fi ;;
	total)
		y=0
		for v in $(tversions $t); do
			[ -n "$(get $t store.$v)" ] || continue
			y=$((y + $(tsize $t $v))); v2=$v
		done
		x=$(get $t store.$v2); [ -n "$x" ] || { echo "n/a"; return; }
		calc "\"%.1f%% · %.0f MB\", 100 * $x / $y, $x / 1e6" ;;
	esac
}
# mark the column of a tool run on the small model
smallmark() { [ "$1" = restic-max ] && echo " †"; true; }
# ratio TOOL KIND: mvm over the peer, per byte of input (time) or as % of
# input (size), so that a peer run on the small model still compares
ratio() {
	local t=$1 kind=$2 a b v vs=""
	ok mvm && ok $t || { echo "n/a"; return; }
	case "$kind" in
	add.base | restore | store.base) vs=base ;;
	adds) for v in $(tversions $t); do [ $v = base ] || vs="$vs $v"; done ;;
	final) [ "$(tversions $t)" = "$VERSIONS" ] || { echo "n/a"; return; } ;;
	esac
	a=$(per_byte mvm $kind "$vs"); b=$(per_byte $t $kind "$vs")
	[ -n "$a" ] && [ -n "$b" ] || { echo "n/a"; return; }
	calc "\"%.2f\", $a / $b"
}
per_byte() {
	local t=$1 kind=$2 vs=$3 v x n=0 s=0
	case "$kind" in
	final) x=$(get $t store.$LAST); [ -n "$x" ] && calc "\"%.6g\", $x / $TOTAL_IN"; return ;;
	adds) for v in $vs; do
			x=$(get $t add.$v); [ -n "$x" ] || return 0
			s=$(calc "\"%.6f\", $s + $x"); n=$((n + $(tsize $t $v)))
		done ;;
	*) s=$(get $t $kind); [ -n "$s" ] || return 0; n=$(tsize $t base) ;;
	esac
	calc "\"%.6g\", $s / $n"
}
# store size before version $2: after the last version recorded before it
prev_store() {
	local p=base w
	for w in $(tversions $1); do
		[ "$w" = "$2" ] && break
		[ -n "$(get $1 store.$w)" ] && p=$w
	done
	get $1 store.$p
}
LAST=base
TOTAL_IN=0
for v in $VERSIONS; do
	eval "z=\$SIZE_$v"
	TOTAL_IN=$((TOTAL_IN + z))
	LAST=$v
done
row() {
	local name=$1 kind=$2 v=${3:-} t
	printf '| %s |' "$name"
	for t in $TOOLS; do printf ' %s |' "$(cell $t $kind $v)"; done
	printf '\n'
}
header() {
	printf '| %s |' "$1"
	for t in $TOOLS; do printf ' %s%s |' "$(label $t)" "$(smallmark $t)"; done
	printf '\n|---|'
	for t in $TOOLS; do printf -- '---|'; done
	printf '\n'
}
pct() { calc "\"%.0f%%\", 100 * $1 / $2"; }

# mvm's figures against this machine (n/a when mvm failed)
if ok mvm; then
	MVMRATE=$(calc "\"%.0f\", $SIZE_base / $(get mvm add.base) / 1e6")
	MVMRES=$(get mvm restore)
	MVMRRATE=$(calc "\"%.0f\", $SIZE_base / $MVMRES / 1e6")
	MVMDUR=$(calc "\"%.0f\", $SIZE_base / ($MVMRES + $(get mvm restore.sync)) / 1e6")
	L_SHA="add base $MVMRATE MB/s = $(pct $MVMRATE $SHA)"
	L_ZC="add base = $(pct $MVMRATE $ZC1) / $(pct $MVMRATE $ZC2); store $(calc "\"%.1f%%\", 100 * $(get mvm store.base) / $SIZE_base") vs $ZRATIO%"
	L_ZD="restore $MVMRRATE MB/s = $(pct $MVMRRATE $ZD)"
	L_READ="add base = $([ "$COLD" = n/a ] && echo n/a || pct $MVMRATE $COLD) of cold read; restore = $(pct $MVMRRATE $READ) of cached read"
	L_WRITE="restore incl. sync $MVMDUR MB/s = $(pct $MVMDUR $WRITE)"
	PACKRATE=$(calc "\"%.0f\", $(get mvm store.base) / $(get mvm add.base) / 1e6")
	L_DWRITE="restore incl. sync = $(pct $MVMDUR $DWRITE); add base writes packs at $PACKRATE MB/s = $(pct $PACKRATE $DWRITE)"
	MOVED=$(calc "\"%.0f\", ($SIZE_base + $(get mvm store.base)) / 1e6")
	ADDIO=$(calc "\"%.0f\", $MOVED / $(get mvm add.base)")
	RESIO=$(calc "\"%.0f\", $MOVED / ($MVMRES + $(get mvm restore.sync))")
	L_RW="add base and restore (incl. sync) each move $MOVED MB (model + store): $ADDIO MB/s = $([ "$RW" = n/a ] && echo n/a || pct $ADDIO $RW) and $RESIO MB/s = $([ "$RW" = n/a ] && echo n/a || pct $RESIO $RW)"
else
	L_SHA=n/a L_ZC=n/a L_ZD=n/a L_READ=n/a L_WRITE=n/a L_DWRITE=n/a L_RW=n/a
fi
RUNS_NOTE="median of $RUNS_DONE runs"
[ "$RUNS_DONE" -eq 1 ] && RUNS_NOTE="1 run"

{
	echo "## mvm and its peers, side by side ($MODE)"
	echo
	echo "- command: \`make bench$([ "$MODE" = quick ] && echo -quick)\` (bench/peers.sh $MODE), $(date -u '+%Y-%m-%d %H:%M UTC'), wall time $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), flags: $(grep -o -w -E 'sha_ni|avx2|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')$(free -g | awk '/^Mem/ {print "; " $2 " GiB RAM"}'); load average (1/5/15 min) at the start: $LOAD0, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- versions: $(for t in $TOOLS; do ok $t && printf '%s: %s; ' "$(label $t)" "$(version $t)"; done | sed 's/; $//'); mvm binary $(sha256sum "$MVM" | cut -c1-12) (built $(date -u -r "$MVM_SRC" '+%H:%M UTC' 2>/dev/null)) from $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" status --porcelain -- src include 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/')"
	echo "- † restic max runs on a $SMB MiB model of the same family ($(tsize restic-max base | awk '{printf "%.0f", $1 / 1e6}') MB) and only: $SMAX (it compresses at a few MB/s); compare its MB/s and %, not its seconds"
	echo "- page cache: $CACHE$([ "$CACHE" = cold ] && echo " (sync and drop_caches before every timed step)")"
	echo "- fresh add, status and restore: $RUNS_NOTE per tool (status: 31 timings a run, by bash's \$EPOCHREALTIME); later versions: 1 run. Tool order rotates each run."
	echo
	header "$MB MiB model ($((SIZE_base / 1000000)) MB), $RUNS_NOTE"
	row "add+commit, $(describe base)" add base
	row "… then sync to disk" sync add.base
	row "… CPU time (user+sys)" cpu add.base
	row "store after it (% of input)" store base
	row "restore base into an empty place" restore
	row "… then sync to disk" sync restore
	row "status, unchanged tree" status
	row "peak RSS (any step)" rss
	row "machine load (1-min average) at its timed steps" load
	echo
	header "later versions, in order (1 run)"
	for v in $VERSIONS; do
		[ "$v" = base ] && continue
		eval "z=\$SIZE_$v"
		row "add $(describe $v), $((z / 1000000)) MB" add $v
		row "… store grew (% of its input) · total" store $v
	done
	row "final store (% of all $((TOTAL_IN / 1000000)) MB added†)" total
	echo
	printf '| mvm / peer, per byte (< 1: mvm faster or smaller) | time: add base | time: restore | time: later adds | size: store after base | size: final store |\n|---|---|---|---|---|---|\n'
	for t in $TOOLS; do
		[ $t = mvm ] && continue
		printf '| %s%s | %s | %s | %s | %s | %s |\n' "$(label $t)" "$(smallmark $t)" "$(ratio $t add.base)" \
			"$(ratio $t restore)" "$(ratio $t adds)" "$(ratio $t store.base)" "$(ratio $t final)"
	done
	echo
	echo "| this machine, same run | value | mvm against it |"
	echo "|---|---|---|"
	echo "| OpenSSL SHA-256, one core | $SHA MB/s | $L_SHA |"
	echo "| zstd -1 compress, -T1 / -T2 (first shard, best of 3) | $ZC1 / $ZC2 MB/s at $ZRATIO% | $L_ZC |"
	echo "| zstd -d (one thread, best of 3) | $ZD MB/s | $L_ZD |"
	echo "| read, cold / page cache (best of 3) | $COLD / $READ MB/s | $L_READ |"
	echo "| fsync'd write (dd conv=fsync) | $WRITE MB/s | $L_WRITE |"
	echo "| O_DIRECT write + fsync (dd oflag=direct conv=fsync), as mvm writes packs and files | $DWRITE MB/s | $L_DWRITE |"
	echo "| cold read and O_DIRECT write at once (cat of the shard while dd writes as much), bytes in + out per second | $RW MB/s | $L_RW |"
	for v in $VERSIONS; do
		ok mvm || break
		x=$(get mvm store.$v)
		[ -n "$x" ] || continue
		eval "z=\$SIZE_$v"
		if [ $v = base ]; then g=$x; else g=$((x - $(prev_store mvm $v))); fi
		echo "| byte-plane entropy bound, $v ($(sed -E 's/.*planes=//' "$W/entropy.$v")) | $(ent $v bound_pct)% (per-tensor tables: $(ent $v tensor_bound_pct)%; exponent-first planes: $(ent $v exp_bound_pct)% / $(ent $v exp_tensor_bound_pct)%) | mvm $([ $v = base ] && echo stores || echo grew) $(calc "\"%.1f%%\", 100 * $g / $z") = $(calc "\"%.2f\", 100 * $g / $z / $(ent $v bound_pct)") × bound |"
	done
	echo "| status target (DESIGN) | < 50 ms | $(cell mvm status) |"
	echo "| peak RSS target (DESIGN) | < 256 MiB | $(cell mvm rss) |"
	echo
	echo "Notes: times are wall seconds of the tool's own command(s) ($RUNS_NOTE for the first table);"
	echo "\"then sync\" adds a \`sync\` right after (mvm and borg fsync their writes, git-lfs and restic mostly leave them"
	echo "to the page cache). Store = du of .mvm / .git/objects + .git/lfs/objects / the restic or borg repository"
	echo "(caches outside it). git-lfs: \`git lfs track '*.safetensors'\`, commit = \`git add -A && git commit\`,"
	echo "restore = \`git checkout base -- model\` after deleting model/ (smudge copies from .git/lfs/objects)."
	echo "restic: repository v2, auto = default compression; borg: --encryption none (no crypto cost, like the others),"
	echo "lz4 default; borg $BORG_ZSTD (zstd -6 buys ~0.2 pp on BF16 at ~1/10 the speed). Working trees are hard links"
	echo "to the generated files."
	echo "Training checkpoints: tc0 is a fresh BF16 model in its own folder, checkpoint k is tc0 with every tensor moved"
	echo "by 0.05 + 0.02·(k-1) of its std, each added over the one before (a drift of 0.02 std a checkpoint)."
	[ "$CKPTS" -gt 1 ] && {
	echo "Checkpoint chain: stgen perturbs relative to base, so checkpoint k is base plus the full fine-tune's noise"
	echo "pattern scaled to 0.05 + 0.02·(k-1) of each tensor's std: a straight-line drift, each checkpoint 0.02 std from"
	echo "the one before and ever further from base (real training steps also change direction)."; }
	echo "Entropy bound: header bytes + Σ over byte planes of the plane's order-0 entropy, one table per plane over all"
	echo "tensors (per-tensor tables: one per tensor and plane, which adaptive block coders can approach). Exponent-first"
	echo "planes: the same after rotating each BF16/F32 element left one bit (codec 5), so the whole exponent is one plane."
} >"$W/report.md"
cp "$W/report.md" "$OUT/RESULTS.md"
cp "$W/report.md" "$OUT/RESULTS-$MODE.md"
cat "$W/report.md"
# A run with every default (all tools, sizes, runs, chain; nothing failed)
# replaces its section of docs/BENCHMARKS.md: "### Full (`make bench`)" or
# "### Quick (`make bench-quick`)", up to the next heading. The prose
# around it (what changed, why) stays the developers' to write.
DOCS="$ROOT/docs/BENCHMARKS.md"
if [ -z "${BENCH_TOOLS:-}${BENCH_MB:-}${BENCH_FMB:-}${BENCH_CKPTS:-}${BENCH_RUNS:-}${BENCH_BUDGET:-}${BENCH_CACHE:-}${FAILED:-}" ] && [ -f "$DOCS" ]; then
	case $MODE in full) heading='### Full (`make bench`)' ;; *) heading='### Quick (`make bench-quick`)' ;; esac
	/usr/bin/python3 - "$DOCS" "$W/report.md" "$heading" <<'PYEOF'
import sys
docs, report, heading = sys.argv[1:4]
text = open(docs).read()
body = open(report).read().split("\n", 1)[1].strip("\n")  # without the report's own title
at = text.find(heading + "\n")
if at < 0:
    text = text.rstrip("\n") + "\n\n" + heading + "\n\n" + body + "\n"
else:
    start = at + len(heading) + 1
    nxt = [i for i in (text.find("\n## ", start), text.find("\n### ", start)) if i >= 0]
    end = min(nxt) + 1 if nxt else len(text)
    text = text[:start] + "\n" + body + "\n\n" + text[end:].lstrip("\n") if nxt else text[:start] + "\n" + body + "\n"
open(docs + ".tmp", "w").write(text)
PYEOF
	mv "$DOCS.tmp" "$DOCS"
	log "docs/BENCHMARKS.md: its \"$heading\" section replaced by this run's report"
else
	log "docs/BENCHMARKS.md left as it is (not a run with every default, or a tool failed)"
fi
log "done in ${ELAPSED}s; report in bench/out/RESULTS.md (and RESULTS-$MODE.md)${FAILED:+; failed:$FAILED}"
