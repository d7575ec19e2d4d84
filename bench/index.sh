#!/bin/sh
# bench/index.sh [CHUNKS]: dedup lookups against a large chunk index.
#
# Fills a repository's chunk index with CHUNKS (default 10,000,000) rows of
# random ids (2.5 TB of 256 KiB chunks, pointing at a pack that does not
# exist: only lookups touch them), builds its chunk filter as a repository
# grown by adds would have it (an add of a 64 KiB file, timed apart), then
# adds the same generated 1 GiB BF16 model to it and to an empty
# repository, cold page cache each time, and prints both adds (wall, CPU,
# peak RSS), the index's size on disk and the extra time per new chunk.
# Every add asks the filter for each of its ~4k chunks (all new: the filter
# rules out all but ~1%, which go to the index) and inserts them at the end.
set -eu
CHUNKS=${1:-10000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MVM="$ROOT/build/src/cli/mvm"
STGEN="$ROOT/build/tests/tools/stgen"
W=${BENCH_DIR:-$ROOT/bench/out}/index
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
export MVM_USER="Bench <bench@example.com>"

"$STGEN" --size-mb 1024 --seed 21 "$W/model.safetensors"
SIZE=$(stat -c %s "$W/model.safetensors")

for r in empty big; do
	"$MVM" init -q "$W/$r"
done
start=$(date +%s)
/usr/bin/python3 - "$W/big/.mvm/mvm.db" "$CHUNKS" <<'EOF'
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
db.execute("PRAGMA journal_mode=OFF")
db.execute("PRAGMA synchronous=OFF")
batch = 200000
for start in range(0, n, batch):
    k = min(batch, n - start)
    ids = sorted(os.urandom(32) for _ in range(k))
    db.executemany("INSERT OR IGNORE INTO chunks(id, pack, offset, stored_len, raw_len, codec, base) "
                   "VALUES (?, 999999, ?, 43000, 65536, 5, NULL)",
                   ((i, j * 43000) for j, i in enumerate(ids)))
    db.commit()
db.execute("INSERT INTO packs(id, name, size, chunks) VALUES (999999, 'pack-none.pack', ?, ?)", (n * 43000, n))
db.commit()
db.execute("PRAGMA journal_mode=WAL")
db.close()
EOF
fill=$(( $(date +%s) - start ))
# the chunk filter (.mvm/chunks.filter), which a repository that grew by
# adds keeps up to date: built here once from the filled index, untimed
sync
echo 3 >/proc/sys/vm/drop_caches
head -c 65536 /dev/urandom >"$W/big/prime.bin"
/usr/bin/time -f "%e" -o "$W/time.filter" "$MVM" -C "$W/big" add -q prime.bin
"$MVM" -C "$W/big" commit -q -m prime
DBSIZE=$(stat -c %s "$W/big/.mvm/mvm.db")

add() {
	cd "$W/$1"
	ln -f "$W/model.safetensors" model.safetensors
	sync
	echo 3 >/proc/sys/vm/drop_caches
	/usr/bin/time -f "%e %U %S %M" -o "$W/time.$1" "$MVM" add -q model.safetensors
	"$MVM" commit -q -m model
}
add empty
add big
CHUNKS_ADDED=$(/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from chunks').fetchone()[0])" "$W/empty/.mvm/mvm.db")

row() {
	read -r wall user sys rss <"$W/time.$1"
	printf '| %s | %s s | %s s | %.0f MiB |\n' "$2" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
}
echo "date: $(date -u +%Y-%m-%d)  command: bench/index.sh $CHUNKS  machine: $(nproc) cores"
echo "index of $CHUNKS chunks: $(awk -v b="$DBSIZE" 'BEGIN {printf "%.0f", b / 1048576}') MiB on disk, filled in ${fill}s; its filter $(($(stat -c %s "$W/big/.mvm/chunks.filter") / 1048576)) MiB, built (cold) in $(cat "$W/time.filter") s"
echo
echo "| add $((SIZE / 1048576)) MiB BF16 model ($CHUNKS_ADDED chunks), cold cache | wall | CPU | peak RSS |"
echo "|---|---|---|---|"
row empty "empty repository"
row big "index of $CHUNKS chunks"
read -r w0 _ _ _ <"$W/time.empty"
read -r w1 _ _ _ <"$W/time.big"
echo
awk -v a="$w0" -v b="$w1" -v n="$CHUNKS_ADDED" 'BEGIN {
	d = b - a; printf "extra time for %d lookups + inserts into the big index: %.2f s (%.0f us each)\n", n, d, (d > 0 ? 1e6 * d / n : 0) }'
