#!/usr/bin/env bash
# bench/files.sh [NFILES]: a dataset of many small files, versioned by mvm,
# git, restic and borg side by side (make bench-files; ~3 min at the
# default 20000 files). Prints a markdown table and writes it to
# bench/out/FILES.md.
#
# The dataset: NFILES files in 100 folders, two thirds text records of
# 0.2-20 KB, one third float32 arrays of 1-16 KB (.npy, embeddings), about
# 10 KB a file. Steps, each tool in a fresh repository, page cache dropped
# before each timed step (as root; else all run warm): add+commit of the
# whole tree, `status` on it unchanged (mvm and git), a second version
# with 1% of the files changed, 1% new and 0.5% deleted, then a restore of
# the first version into an empty place, checked against the original.
# Times include a sync right after the command (mvm and borg fsync their
# writes, git and restic leave them to the page cache).
#
# Environment: BENCH_DIR (scratch, default bench/out/files), BENCH_TOOLS
# (subset of: mvm git restic borg).
set -eu
export LC_ALL=C

N=${1:-20000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MVM="$ROOT/build/src/cli/mvm"
OUT="$ROOT/bench/out"
W=${BENCH_DIR:-$OUT/files}
TOOLS=${BENCH_TOOLS:-"mvm git restic borg"}
START=$(date +%s)

[ -x "$MVM" ] || { echo "files: $MVM is missing; run make first" >&2; exit 1; }
for c in /usr/bin/time /usr/bin/python3 git; do
	command -v "$c" >/dev/null || { echo "files: $c is needed" >&2; exit 1; }
done
log() { printf 'files [%4ss]: %s\n' $(($(date +%s) - START)) "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN {printf "%.2f", e - s}'; }

need=""
command -v restic >/dev/null || need="$need restic"
command -v borg >/dev/null || need="$need borgbackup"
if [ -n "$need" ]; then
	log "installing$need"
	{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; } >/dev/null 2>&1 ||
		log "could not install$need; those tools will read n/a"
fi

if [ -d "$W" ] && [ ! -e "$W/.bench-files" ] && [ -n "$(ls -A "$W")" ]; then
	echo "files: $W is not empty and not a scratch folder of bench/files.sh; set BENCH_DIR elsewhere" >&2
	exit 1
fi
rm -rf "$W"
mkdir -p "$W/data" "$W/log" "$OUT"
: >"$W/.bench-files"
cp "$MVM" "$W/mvm"
MVM="$W/mvm"
trap 'rm -rf "$W"' EXIT
: >"$W/res"

CACHE=cold
{ sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || CACHE=warm
prepare() {
	sync
	if [ "$CACHE" = cold ]; then echo 3 >/proc/sys/vm/drop_caches; else find "$@" -type f -exec cat {} + >/dev/null; fi
}

# v1: the dataset; v2: 1% changed, 1% new, 0.5% deleted (a copy with hard links for the rest)
log "generating $N files"
/usr/bin/python3 - "$W/data" "$N" <<'EOF'
import os, random, shutil, struct, sys
root, n = sys.argv[1], int(sys.argv[2])
r = random.Random(5)
words = ["model", "train", "loss", "token", "image", "label", "cat", "dog", "the", "a", "of", "value"]
def record():
    k = r.randint(20, 2000)
    return (" ".join(r.choice(words) if r.random() < 0.6 else "%.5f" % r.gauss(0, 1) for _ in range(k)) + "\n").encode()
def npy():
    k = r.randint(256, 4096)
    head = ("{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % k).ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode() + struct.pack("<%df" % k, *(r.gauss(0, 0.05) for _ in range(k)))
def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
names = []
for i in range(n):
    name = "d%02d/%05d.%s" % (i % 100, i, "npy" if i % 3 == 2 else "txt")
    names.append(name)
    write(os.path.join(root, "v1", name), npy() if name.endswith("npy") else record())
shutil.copytree(os.path.join(root, "v1"), os.path.join(root, "v2"), copy_function=os.link)
for name in r.sample(names, n // 100):
    p = os.path.join(root, "v2", name)
    os.unlink(p)
    write(p, npy() if name.endswith("npy") else record())
for name in r.sample(names, n // 200):
    p = os.path.join(root, "v2", name)
    if os.path.exists(p):
        os.unlink(p)
for i in range(n // 100):
    write(os.path.join(root, "v2", "new/%05d.txt" % i), record())
EOF
bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}'; }
count_of() { find "$1" -type f | wc -l; }
SIZE1=$(bytes_of "$W/data/v1") SIZE2=$(bytes_of "$W/data/v2")
log "v1: $(count_of "$W/data/v1") files, $SIZE1 bytes; v2: $(count_of "$W/data/v2") files"

export MVM_USER="Bench <bench@example.com>" RESTIC_PASSWORD=mvm-bench-fixed-password
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes GIT_CONFIG_NOSYSTEM=1
have() {
	case "$1" in
	mvm | git) return 0 ;;
	restic) restic version >/dev/null 2>&1 ;;
	borg) borg --version >/dev/null 2>&1 ;;
	esac
}
t_init() {
	case "$1" in
	mvm) "$MVM" init -q . ;;
	git) git init -q . && git config user.name Bench && git config user.email bench@example.com ;;
	restic) restic init --repository-version 2 -q ;;
	borg) borg init --encryption none ;;
	esac
}
t_commit() {
	case "$1" in
	mvm) echo "'$MVM' add -q data && '$MVM' commit -q -m $2 && '$MVM' tag $2 >/dev/null" ;;
	git) echo "git add -A data && git commit -q -m $2 && git tag $2" ;;
	restic) echo "restic backup -q --tag $2 data" ;;
	borg) echo "borg create ::$2 data" ;;
	esac
}
t_status() { case "$1" in mvm) echo "'$MVM' status" ;; git) echo "git status" ;; *) echo "" ;; esac; }
t_restore() {
	case "$1" in
	mvm) echo "'$MVM' checkout -q v1 -- data" ;;
	git) echo "git checkout v1 -- data" ;;
	restic) echo "restic restore -q latest --tag v1 --target restore" ;;
	borg) echo "mkdir restore && cd restore && borg extract ::v1" ;;
	esac
}
t_restored() { case "$1" in mvm | git) echo data ;; *) echo restore/data ;; esac; }
t_store() {
	case "$1" in
	mvm) du -sb .mvm | cut -f1 ;;
	git) du -sb .git | cut -f1 ;;
	*) du -sb repo | cut -f1 ;;
	esac
}
rec() { echo "$1 $2 $3" >>"$W/res"; }
get() { awk -v t="$1" -v k="$2" '$1 == t && $2 == k {print $3}' "$W/res" | tail -1; }
timed() {
	local t=$1 k=$2 cmd=$3 s e e2
	s=$(now)
	/usr/bin/time -f "%U %S %M" -o "$W/tm" sh -c "$cmd" >>"$W/log/$t" 2>&1 ||
		{ echo "files: $t: '$cmd' failed; see $W/log/$t" >&2; tail -5 "$W/log/$t" >&2; return 1; }
	e=$(now)
	sync
	e2=$(now)
	rec "$t" "$k" "$(secs "$s" "$e2")"
	rec "$t" "$k.cpu" "$(awk 'END {print $1 + $2}' "$W/tm")"
	rec "$t" "$k.rss" "$(awk 'END {printf "%.0f", $3 / 1024}' "$W/tm")"
	log "  $t: $k $(secs "$s" "$e2") s"
}

for t in $TOOLS; do
	have "$t" || { log "$t is not available: n/a"; continue; }
	R="$W/repos/$t"
	mkdir -p "$R/home"
	cd "$R"
	export HOME="$R/home" RESTIC_REPOSITORY="$R/repo" RESTIC_CACHE_DIR="$R/cache" BORG_REPO="$R/repo" BORG_BASE_DIR="$R/home"
	t_init "$t" >>"$W/log/$t" 2>&1
	cp -al "$W/data/v1" data
	prepare data
	timed "$t" add1 "$(t_commit "$t" v1)"
	rec "$t" store1 "$(t_store "$t")"
	cmd=$(t_status "$t")
	if [ -n "$cmd" ]; then
		eval "$cmd" >/dev/null 2>&1
		s=$EPOCHREALTIME; eval "$cmd" >/dev/null 2>>"$W/log/$t"; e=$EPOCHREALTIME
		rec "$t" status "$(awk -v s="$s" -v e="$e" 'BEGIN {printf "%.0f", (e - s) * 1000}')"
	fi
	rm -rf data
	cp -al "$W/data/v2" data
	prepare data
	timed "$t" add2 "$(t_commit "$t" v2)"
	rec "$t" store2 "$(t_store "$t")"
	rm -rf data
	prepare "$R"
	timed "$t" restore "$(t_restore "$t")"
	diff -r -q "$W/data/v1" "$(t_restored "$t")" >/dev/null || { echo "files: $t restored v1 wrong" >&2; exit 1; }
	cd "$W"
	rm -rf "$R"
done

cell() {
	local v
	v=$(get "$1" "$2")
	[ -n "$v" ] || { echo "n/a"; return; }
	case "$2" in
	add1 | restore) awk -v s="$v" -v b="$SIZE1" 'BEGIN {printf "%.2f s · %.0f MB/s", s, b / s / 1e6}' ;;
	add2) awk -v s="$v" -v b="$SIZE2" 'BEGIN {printf "%.2f s · %.0f MB/s", s, b / s / 1e6}' ;;
	store1) awk -v s="$v" -v b="$SIZE1" 'BEGIN {printf "%.1f%% · %.0f MB", 100 * s / b, s / 1e6}' ;;
	store2) awk -v s="$v" -v a="$(get "$1" store1)" 'BEGIN {printf "+%.2f MB", (s - a) / 1e6}' ;;
	status) echo "$v ms" ;;
	*.cpu) echo "$v s" ;;
	*.rss) echo "$v MiB" ;;
	esac
}
row() {
	local line="| $1 |" t
	for t in $TOOLS; do line="$line $(cell "$t" "$2") |"; done
	echo "$line"
}
{
	echo "- command: \`make bench-files\` (bench/files.sh $N), $(date -u '+%Y-%m-%d %H:%M') UTC, wall time $(($(date +%s) - START)) s"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); page cache: $CACHE"
	echo "- dataset: $N files in 100 folders ($SIZE1 bytes: text records of 0.2-20 KB, float32 .npy of 1-16 KB); v2: 1% changed, 1% new, 0.5% deleted"
	echo
	printf '| %s files, 1 run |' "$N"
	for t in $TOOLS; do printf ' %s |' "$t"; done
	echo
	printf '|---|'
	for t in $TOOLS; do printf -- '---|'; done
	echo
	row "add+commit v1 (then sync)" add1
	row "… CPU time (user+sys)" add1.cpu
	row "store after v1 (% of input)" store1
	row "status, unchanged tree" status
	row "add+commit v2 (then sync)" add2
	row "… store grew" store2
	row "restore v1 into an empty place (then sync)" restore
	row "… CPU time (user+sys)" restore.cpu
	row "peak RSS, add v1" add1.rss
	row "peak RSS, restore" restore.rss
} | tee "$OUT/FILES.md"
