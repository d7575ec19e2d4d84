#!/bin/sh
# mvm stats: what the store holds, read from the index: packs, unique
# chunks by codec, and every stored version's files against the packs.
. "$(dirname "$0")/lib.sh"

mvm init -q repo
cd repo
mvm stats --json >"$SCRATCH/s.json"
assert_eq "$(json_get "$SCRATCH/s.json" "j['versions'], j['chunks']['chunks'], j['packs'], j['codecs']")" \
	"0 0 0 []" "empty repository"
mvm stats | grep -q '^Versions:  0, 0 files, 0 B .* in -$' || fail "empty repository's text: $(mvm stats)"

"$STGEN" --size-mb 4 --seed 4 "$SCRATCH/base.safetensors"
"$STGEN" --size-mb 4 --seed 4 --perturb 1 --noise 0.05 "$SCRATCH/ft.safetensors"
size=$(stat -c %s "$SCRATCH/base.safetensors")
cp "$SCRATCH/base.safetensors" model.safetensors
echo "lr: 0.001" >params.yaml
small=$(stat -c %s params.yaml)
mvm add model.safetensors params.yaml
mvm commit -q -m base
cp "$SCRATCH/ft.safetensors" model.safetensors
mvm commit -q -a -m "full fine-tune"
mvm stats --json >"$SCRATCH/s.json"
# two versions of two files each, every file counted in every version
assert_eq "$(json_get "$SCRATCH/s.json" "j['versions'], j['files'], j['file_bytes']")" \
	"2 4 $((2 * size + 2 * small))" "versions, files and their bytes"
# the fresh model's chunks are exponent-coded, the fine-tune's float deltas, params.yaml zstd-coded or raw
assert_eq "$(json_get "$SCRATCH/s.json" "sorted(c['name'] for c in j['codecs'] if c['name'] in ('exponent-coded', 'float delta'))")" \
	"['exponent-coded', 'float delta']" "codecs"
# by codec sums to the whole; stored bytes are the packs' data; deltas are smaller than fresh chunks
$PY -c "
import json, sys
j = json.load(open(sys.argv[1]))
c = j['codecs']; a = j['chunks']
assert sum(x['chunks'] for x in c) == a['chunks'] and sum(x['stored_bytes'] for x in c) == a['stored_bytes']
# unique chunks: the two files' shared header is stored once
assert sum(x['raw_bytes'] for x in c) == a['raw_bytes'] and 1.99 * $size < a['raw_bytes'] < 2 * $size, a
assert a['stored_bytes'] < j['pack_bytes'] < 1.2 * a['stored_bytes'], (a, j['pack_bytes'])
d = {x['name']: x['stored_bytes'] / x['raw_bytes'] for x in c}
assert d['float delta'] < 0.45 < d['exponent-coded'] < 0.662, d
assert j['packs'] >= 1 and j['db_bytes'] > 0
" "$SCRATCH/s.json" || fail "stats figures do not add up: $(cat "$SCRATCH/s.json")"
[ "$(du -sb .mvm/packs | cut -f1)" -ge "$(json_get "$SCRATCH/s.json" "j['pack_bytes']")" ] || fail "pack bytes above du"
mvm stats >"$SCRATCH/s.txt"
grep -q '^  float delta ' "$SCRATCH/s.txt" || fail "no float delta line: $(cat "$SCRATCH/s.txt")"
grep -q '^Versions:  2, 4 files' "$SCRATCH/s.txt" || fail "no versions line: $(cat "$SCRATCH/s.txt")"

expect_error 2 "takes no arguments" mvm stats HEAD
cd "$SCRATCH"
expect_error 1 "mvm init" mvm stats

# bytes of no known format that hold floats (a raw dump: here a BF16 model
# without its header, two bytes off) are coded as floats rather than zstd
mvm init -q "$SCRATCH/raw"
hl=$(od -An -t u8 -N8 "$SCRATCH/base.safetensors" | tr -d ' ')
{ printf 'xy'; tail -c +$((hl + 9)) "$SCRATCH/base.safetensors"; } >"$SCRATCH/raw/weights.bin"
(cd "$SCRATCH/raw" && mvm add -q weights.bin && mvm stats --json) >"$SCRATCH/r.json"
$PY -c "
import json, sys
j = json.load(open(sys.argv[1]))
a = j['chunks']; f = [x for x in j['codecs'] if x['name'] in ('exponent-first', 'exponent-coded')]
assert sum(x['raw_bytes'] for x in f) > 0.99 * a['raw_bytes'], j['codecs']
assert a['stored_bytes'] < 0.68 * a['raw_bytes'], a
" "$SCRATCH/r.json" || fail "a header-less BF16 file is not coded as floats: $(cat "$SCRATCH/r.json")"
cp "$SCRATCH/raw/weights.bin" "$SCRATCH/weights.copy"
(cd "$SCRATCH/raw" && mvm commit -q -m raw && rm weights.bin && mvm checkout -q HEAD -- weights.bin &&
	mvm fsck -q) || fail "checkout or fsck of header-less floats failed"
cmp -s "$SCRATCH/raw/weights.bin" "$SCRATCH/weights.copy" || fail "header-less floats do not round-trip"
