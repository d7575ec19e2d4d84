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
cp "$SCRATCH/ft.safetensors" model.safetensors
mvm commit -q -a -m "full fine-tune"
after=$(du -sb .mvm/packs | cut -f1)
grown=$(( (after - before) * 100 / size ))
# every weight changed: a full copy would add ~67%; deltas must do clearly better
[ "$grown" -lt 58 ] || fail "full fine-tune grew the store by $grown% of the file"
[ "$(/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('.mvm/mvm.db').execute('select count(*) from chunks where codec = 3').fetchone()[0] > 0)")" = True ] ||
	fail "no delta chunks were written"

mvm checkout -q HEAD~1
cmp -s model.safetensors "$SCRATCH/base.safetensors" || fail "base is not bit-exact"
mvm switch -q main
cmp -s model.safetensors "$SCRATCH/ft.safetensors" || fail "fine-tune is not bit-exact"
mvm cat HEAD:model.safetensors > "$SCRATCH/cat.out"
cmp -s "$SCRATCH/cat.out" "$SCRATCH/ft.safetensors" || fail "cat of deltas is not bit-exact"
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
