#!/bin/sh
# Fine-tune deltas: a fully perturbed model is stored as deltas against the
# parent's chunks, reads back bit-exact, and gc keeps a base that only a
# delta still needs.
. "$(dirname "$0")/lib.sh"

mvm init -q repo
cd repo
"$STGEN" --size-mb 16 --seed 4 "$SCRATCH/base.safetensors"
"$STGEN" --size-mb 16 --seed 4 --perturb 1 --noise 0.05 "$SCRATCH/ft.safetensors"
size=$(stat -c %s "$SCRATCH/base.safetensors")

cp "$SCRATCH/base.safetensors" model.safetensors
mvm add model.safetensors
mvm commit -q -m base
before=$(du -sb .mvm/packs | cut -f1)
# BF16 weights: exponent and top mantissa bit rANS-coded (codec 6), ~65.7% of the file; 66.3% with
# zstd on exponent-first planes (codec 5), 67% with plain byte planes
[ $((before * 1000 / size)) -lt 660 ] || fail "base stored as $((before * 1000 / size))/1000 of the file"
cp "$SCRATCH/ft.safetensors" model.safetensors
mvm commit -q -a -m "full fine-tune"
after=$(du -sb .mvm/packs | cut -f1)
grown=$(( (after - before) * 100 / size ))
# every weight changed: a full copy would add ~67%, XOR deltas ~51%, codec 4 ~41%
[ "$grown" -lt 45 ] || fail "full fine-tune grew the store by $grown% of the file"
codec_count() {
	/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('.mvm/mvm.db').execute('select count(*) from chunks where codec = $1').fetchone()[0])"
}
[ "$(codec_count 7)" -gt 0 ] || fail "no exponent-coded (codec 7) chunks were written"
# BF16 grid chunks are context-coded deltas (codec 4)
[ "$(codec_count 4)" -gt 0 ] || fail "no codec-4 delta chunks were written"

mvm checkout -q HEAD~1
cmp -s model.safetensors "$SCRATCH/base.safetensors" || fail "base is not bit-exact"
mvm switch -q main
cmp -s model.safetensors "$SCRATCH/ft.safetensors" || fail "fine-tune is not bit-exact"
mvm cat HEAD:model.safetensors > "$SCRATCH/cat.out"
cmp -s "$SCRATCH/cat.out" "$SCRATCH/ft.safetensors" || fail "cat of deltas is not bit-exact"
mvm fsck -q

# F32 deltas are codec 4 too (byte planes of the differences, by class), bit-exact
"$STGEN" --size-mb 4 --seed 5 --dtype F32 f32.safetensors
mvm add f32.safetensors
mvm commit -q -m f32
"$STGEN" --size-mb 4 --seed 5 --dtype F32 --perturb 1 --noise 0.05 "$SCRATCH/f32ft.safetensors"
cp "$SCRATCH/f32ft.safetensors" f32.safetensors
fdelta_before=$(codec_count 4)
before=$(du -sb .mvm/packs | cut -f1)
mvm commit -q -a -m "f32 fine-tune"
grown=$(( ($(du -sb .mvm/packs | cut -f1) - before) * 1000 / $(stat -c %s f32.safetensors) ))
# a full copy would add ~83%, XOR deltas (codec 3) ~76%, codec 4 ~71%
[ "$grown" -lt 730 ] || fail "F32 fine-tune grew the store by $grown/1000 of the file"
[ "$(codec_count 4)" -gt "$fdelta_before" ] || fail "no codec-4 F32 delta chunks were written"
rm f32.safetensors
mvm checkout -q HEAD -- f32.safetensors
cmp -s f32.safetensors "$SCRATCH/f32ft.safetensors" || fail "F32 fine-tune is not bit-exact"

mvm fsck -q

# a base only a delta needs: stage v1, stage v2 over it, commit v2 alone
mvm init -q "$SCRATCH/repo2"
cd "$SCRATCH/repo2"
cp "$SCRATCH/base.safetensors" model.safetensors
mvm add model.safetensors
cp "$SCRATCH/ft.safetensors" model.safetensors
mvm add model.safetensors
mvm commit -q -m "fine-tune only"
mvm gc -q
mvm fsck -q
rm model.safetensors
mvm checkout -q HEAD -- model.safetensors
cmp -s model.safetensors "$SCRATCH/ft.safetensors" || fail "delta lost its base in gc"

# checkout reads the deltas' bases as a set of their own: a base whose index row is gone, or
# whose stored bytes are damaged, fails the checkout with one error naming the file, and the
# working file is left as it was
base_of_a_delta() {
	/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('.mvm/mvm.db').execute('select hex(base) from chunks where base is not null limit 1').fetchone()[0])"
}
cp -a "$SCRATCH/repo2" "$SCRATCH/repo3"
cd "$SCRATCH/repo3"
/usr/bin/python3 -c "import sqlite3; c = sqlite3.connect('.mvm/mvm.db'); c.execute('delete from chunks where id = x\'$(base_of_a_delta)\''); c.commit()"
printf 'old' > model.safetensors
expect_error_in "1 3" "model.safetensors: .*base" mvm checkout -q HEAD -- model.safetensors
assert_eq "$(cat model.safetensors)" old "failed checkout left the working file"
cd "$SCRATCH/repo2"
base=$(base_of_a_delta)
/usr/bin/python3 - "$base" <<'PY'
import sqlite3, sys
c = sqlite3.connect('.mvm/mvm.db')
pack, off, n = c.execute("select packs.name, offset, stored_len from chunks join packs on packs.id = chunks.pack where chunks.id = x'%s'" % sys.argv[1]).fetchone()
with open('.mvm/packs/' + pack, 'r+b') as f:
    f.seek(off + n // 2)
    b = f.read(1)
    f.seek(off + n // 2)
    f.write(bytes([b[0] ^ 0x5a]))
PY
printf 'old' > model.safetensors
expect_error_in "1 3" "model.safetensors: " mvm checkout -q HEAD -- model.safetensors
assert_eq "$(cat model.safetensors)" old "failed checkout left the working file"

# an add decodes its chunks' bases in groups: a base that no longer decodes (its header byte
# damaged) costs only its own chunk the delta, coded on its own; the group's others stay deltas
ft_add_codec7() { # $1: damage a base first (1) or not (0); prints the codec-7 chunks the add wrote
	rm -rf "$SCRATCH/g$1"
	mvm init -q "$SCRATCH/g$1"
	cd "$SCRATCH/g$1"
	cp "$SCRATCH/base.safetensors" model.safetensors
	mvm add model.safetensors
	mvm commit -q -m base
	if [ "$1" = 1 ]; then
		/usr/bin/python3 - <<'PY'
import sqlite3
c = sqlite3.connect('.mvm/mvm.db')
pack, off = c.execute("select packs.name, offset from chunks join packs on packs.id = chunks.pack where codec = 7 order by chunks.pack, offset limit 1 offset 20").fetchone()
with open('.mvm/packs/' + pack, 'r+b') as f:
    f.seek(off)
    f.write(b'\x03')  # codec 7's element size: 2 or 4
PY
	fi
	n7=$(codec_count 7)
	cp "$SCRATCH/ft.safetensors" model.safetensors
	mvm commit -q -a -m ft
	rm model.safetensors
	mvm checkout -q HEAD -- model.safetensors
	cmp -s model.safetensors "$SCRATCH/ft.safetensors" || fail "fine-tune over a damaged base is not bit-exact"
	echo $(($(codec_count 7) - n7))
}
clean=$(ft_add_codec7 0)
damaged=$(ft_add_codec7 1)
assert_eq "$damaged" "$((clean + 1))" "codec-7 chunks a fine-tune wrote with one base damaged (clean: $clean)"
