#!/bin/sh
# A tree of many files (a dataset): add, status, checkout and restore of a
# few hundred files in nested folders, at the sizes where add and checkout
# change how they work (files read inline up to 1 MiB, hashed and coded on
# the main thread up to 256 KiB, one 8 MiB batch, checkout groups of 128
# files), with empty files and files sharing their bytes.
. "$(dirname "$0")/lib.sh"

mvm init repo >/dev/null
cd repo

# 300 small files in 3 levels of folders, then files at the thresholds
/usr/bin/python3 - <<'EOF'
import os, random
r = random.Random(7)
def text(n):
    return (" ".join("%.6f" % r.random() for _ in range(n // 9 + 1))).encode()[:n]
for i in range(300):
    d = "data/%02d/%d" % (i % 12, i % 3)
    os.makedirs(d, exist_ok=True)
    with open("%s/f%03d.txt" % (d, i), "wb") as f:
        f.write(text(r.randint(0, 20000)))
os.makedirs("sizes", exist_ok=True)
for n in (0, 1, 4095, 262143, 262144, 262145, 1048575, 1048576, 1048577, 3000000, 9 * 1048576 + 5):
    with open("sizes/s%d.bin" % n, "wb") as f:
        f.write(r.randbytes(n // 2) + text(n - n // 2))
same = text(150000)
for name in ("dup/a.txt", "dup/b.txt", "dup/deep/c.txt"):
    os.makedirs(os.path.dirname(name), exist_ok=True)
    open(name, "wb").write(same)
EOF
chmod 755 data/00/0/f000.txt
cp data/05/2/f005.txt "$SCRATCH/f005.v1"
nfiles=$(find . -path ./.mvm -prune -o -type f -print | wc -l)
mvm add -q .
mvm commit -q -m v1
v1=$(head_id)
tree_sums >"$SCRATCH/v1.sums"
expect_clean "v1"
assert_eq "$(mvm ls HEAD --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" "$nfiles" "files in v1"
expect_fsck_ok "fsck after v1"

# --- status sees each kind of change in one walk ---
printf 'changed' >data/05/2/f005.txt
/usr/bin/python3 -c "
import sys
p = 'sizes/s262144.bin'; b = bytearray(open(p, 'rb').read()); b[1000] ^= 1; open(p, 'wb').write(b)"
touch -d "2001-01-01 00:00:00" sizes/s262144.bin # same size, other bytes, other mtime
rm data/07/1/f007.txt sizes/s1.bin
echo new >data/new.txt
mkdir -p fresh/deeper && echo n2 >fresh/deeper/n2.txt
touch data/00/0/f012.txt # stat changed, bytes the same: not modified
assert_eq "$(status_field modified)" "['data/05/2/f005.txt', 'sizes/s262144.bin']" "modified files"
assert_eq "$(status_field deleted)" "['data/07/1/f007.txt', 'sizes/s1.bin']" "deleted files"
assert_eq "$(status_field untracked)" "['data/new.txt', 'fresh/deeper/n2.txt']" "untracked files"

mvm add -q . # stages the deletions too
mvm commit -q -m v2
tree_sums >"$SCRATCH/v2.sums"
expect_clean "v2"

# --- checkout between them, both ways, bit-exact ---
mvm checkout -q "$v1"
tree_sums | cmp -s - "$SCRATCH/v1.sums" || fail "tree after checkout of v1"
expect_clean "after checkout of v1"
[ ! -e fresh ] || fail "checkout of v1 left the folder only v2 has"
mvm checkout -q main
tree_sums | cmp -s - "$SCRATCH/v2.sums" || fail "tree after checkout of main"
expect_clean "after checkout of main"

# --- a file named twice, directly and by its folder, is restored once ---
mvm checkout -q "$v1" -- data/05/2/f005.txt data/05/2/f005.txt data/05 # in one group
cmp -s data/05/2/f005.txt "$SCRATCH/f005.v1" || fail "checkout of a file named twice"
[ -z "$(find data -name "*.mvm-tmp-*")" ] || fail "temp files after checkout of a path named twice"
mvm checkout -q main -- data

# --- a file staged through a symlinked folder is not deleted ---
mkdir real && echo r >real/f && ln -s real link
mvm add -q real/f link/f
assert_eq "$(status_field deleted)" "[]" "deleted files with a symlinked folder staged"
assert_eq "$(status_field modified)" "[]" "modified files with a symlinked folder staged"
echo r2 >real/f
touch -d "2001-01-01 00:00:00" real/f
assert_eq "$(status_field modified)" "['link/f', 'real/f']" "a file changed under a symlinked folder"
mvm rm -q --cached real/f link/f
rm -rf real link

# --- everything deleted, then restored from the store ---
find . -mindepth 1 -maxdepth 1 ! -name .mvm -exec rm -rf {} +
mvm checkout -q "$v1" -- .
tree_sums | cmp -s - "$SCRATCH/v1.sums" || fail "tree restored from v1"
[ -z "$(find . -name '*.mvm-tmp-*')" ] || fail "checkout left temp files"
expect_fsck_ok "fsck at the end"

# --- every file's stat changed, bytes not (a hard-linked copy): status re-hashes once and caches the new stats ---
stage_ctimes() { $PY -c "import sqlite3; print(sqlite3.connect('.mvm/mvm.db').execute('SELECT total(ctime_ns % 1000000007) FROM stage').fetchone()[0])"; }
before=$(stage_ctimes)
sleep 0.2
find data -type f -exec chmod u+w {} + # a no-op chmod moves ctime
sleep 0.2 # past the racy window: the new stats can be trusted
assert_eq "$(status_field modified)" "[]" "modified files after every file's ctime moved"
[ "$(stage_ctimes)" != "$before" ] || fail "status did not cache the new stats"
after=$(stage_ctimes)
echo changed >>data/05/2/f005.txt
assert_eq "$(status_field modified)" "['data/05/2/f005.txt']" "a file changed after the stat cache was refreshed"
[ "$(stage_ctimes)" = "$after" ] || fail "status cached the stat of a changed file"
mvm checkout -q "$v1" -- data/05/2/f005.txt
assert_eq "$(status_field modified)" "[]" "modified files after the changed file was restored"
expect_fsck_ok "fsck after the stat refresh"

# one folder of an odd number of files past the walk's two-thread minimum
# (the cut between the threads must find no folder change and give up)
mkdir one && i=0 && while [ $i -lt 301 ]; do echo $i > one/f$i; i=$((i + 1)); done
timeout 60 "$MVM" status --json > "$SCRATCH/one.json" || fail "status on 301 files in one folder"
assert_eq "$(json_get "$SCRATCH/one.json" 'len(j["untracked"])')" "301" "301 untracked files in one folder"
timeout 60 "$MVM" add -q one || fail "add of one folder of 301 files (its walk sees that folder alone)"
mvm commit -q -m one
timeout 60 "$MVM" status --json > "$SCRATCH/one.json" || fail "status after adding one folder of 301 files"
assert_eq "$(json_get "$SCRATCH/one.json" '[p for p in j["untracked"] + j["modified"] + j["deleted"] if p.startswith("one/")]')" \
	"[]" "the folder of 301 files clean once committed"
