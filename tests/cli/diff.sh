#!/bin/sh
# diff: file and tensor statuses, --stats checked against numpy, working-tree
# diffs, PATH limits, sharded checkpoints, GGUF tensor listings.
. "$(dirname "$0")/lib.sh"

mvm init repo >/dev/null
cd repo

# summary FILE: "path status [tensor statuses...]" per file of a diff --json
summary() {
	json_get "$1" '"; ".join("%s %s %s" % (f["path"], f["status"], sorted((t["name"], t["status"]) for t in f.get("tensors", []))) for f in j["files"])'
}

# --- hand-made pair covering every tensor status ---
mkst model.safetensors a:F32:8x16:1 b:F16:32:2 c:BF16:8x8:3 d:F32:10:4 e:I32:4:5 g:F32:4x4:6 h:BF16:16:7 k:F16:8x2:8
echo "v1" >notes.txt
echo "gone" >old.txt
mvm add -q model.safetensors notes.txt old.txt
mvm commit -q -m v1
v1=$(head_id)
mkst model.safetensors a:F32:8x16:11 b:F32:32:2 c:BF16:4x16:3 e:I32:4:15 f:F32:3:9 g:F32:4x4:6 h:BF16:16:17 k:F16:8x2:18
cp model.safetensors "$SCRATCH/model.v2"
echo "v2" >notes.txt
echo "new" >new.txt
mvm rm -q old.txt
mvm add -q model.safetensors notes.txt new.txt
mvm commit -q -m v2
v2=$(head_id)

mvm diff "$v1" "$v2" --json >"$SCRATCH/d.json"
assert_eq "$(json_get "$SCRATCH/d.json" '[j["a"], j["b"]]')" "['$v1', '$v2']" "diff a/b ids"
assert_eq "$(json_get "$SCRATCH/d.json" '[(f["path"], f["status"]) for f in j["files"]]')" \
	"[('model.safetensors', 'modified'), ('new.txt', 'added'), ('notes.txt', 'modified'), ('old.txt', 'removed')]" "file statuses"
assert_eq "$(json_get "$SCRATCH/d.json" 'sorted((t["name"], t["status"]) for t in j["files"][0]["tensors"])')" \
	"[('a', 'modified'), ('b', 'dtype_changed'), ('c', 'shape_changed'), ('d', 'removed'), ('e', 'modified'), ('f', 'added'), ('h', 'modified'), ('k', 'modified')]" \
	"tensor statuses"
# without --stats no numbers are reported
assert_eq "$(json_get "$SCRATCH/d.json" 'sorted(set(k for f in j["files"] for t in f.get("tensors", []) for k in t))')" \
	"['name', 'status']" "no stats without --stats"
# text form lists the same
mvm diff "$v1" "$v2" >"$SCRATCH/d.txt"
for s in "modified *a$" "dtype_changed *b$" "shape_changed *c$" "removed *d$" "added *f$"; do
	grep -q "$s" "$SCRATCH/d.txt" || { cat "$SCRATCH/d.txt" >&2; fail "text diff lacks '$s'"; }
done
grep -q " g$" "$SCRATCH/d.txt" && fail "unchanged tensor g listed in the text diff"
# the reverse diff swaps added/removed
mvm diff "$v2" "$v1" --json >"$SCRATCH/r.json"
assert_eq "$(json_get "$SCRATCH/r.json" 'sorted((t["name"], t["status"]) for t in j["files"][0]["tensors"] if t["status"] in ("added", "removed"))')" \
	"[('d', 'added'), ('f', 'removed')]" "reverse diff"
assert_eq "$(json_get "$SCRATCH/r.json" '[(f["path"], f["status"]) for f in j["files"] if f["path"] != "model.safetensors" and f["path"] != "notes.txt"]')" \
	"[('new.txt', 'removed'), ('old.txt', 'added')]" "reverse file statuses"
# a version against itself: nothing
mvm diff "$v2" "$v2" --json >"$SCRATCH/s.json"
assert_eq "$(json_get "$SCRATCH/s.json" 'j["files"]')" "[]" "diff of a version with itself"

# --- --stats: present exactly on modified float tensors, matching numpy ---
mvm diff "$v1" "$v2" --stats --json >"$SCRATCH/st.json"
assert_eq "$(json_get "$SCRATCH/st.json" 'sorted(t["name"] for t in j["files"][0]["tensors"] if "max_abs_diff" in t)')" \
	"['a', 'h', 'k']" "tensors with stats"
assert_eq "$(json_get "$SCRATCH/st.json" 'sorted(t["name"] for t in j["files"][0]["tensors"] if set(t) & {"rel_l2", "cosine", "max_abs_diff"})')" \
	"['a', 'h', 'k']" "no stat fields on other tensors"
assert_eq "$(json_get "$SCRATCH/st.json" 'sorted(set(tuple(sorted(t)) for t in j["files"][0]["tensors"] if "cosine" in t))')" \
	"[('cosine', 'max_abs_diff', 'name', 'rel_l2', 'status')]" "stat fields"
for name in a h k; do
	mvm cat "$v1:model.safetensors" --tensor "$name" >"$SCRATCH/$name.1"
	mvm cat "$v2:model.safetensors" --tensor "$name" >"$SCRATCH/$name.2"
	dtype=$(mvm ls "$v1" model.safetensors --json | $PY -c "import json,sys; print([t['dtype'] for t in json.load(sys.stdin) if t['name']=='$name'][0])")
	$PY - "$SCRATCH/st.json" "$name" "$dtype" "$SCRATCH/$name.1" "$SCRATCH/$name.2" <<'PYEOF' || fail "--stats of $name disagree with numpy"
import json, sys
import numpy as np
js, name, dtype, fa, fb = sys.argv[1:6]
def load(p):
    raw = open(p, "rb").read()
    if dtype == "F32":
        return np.frombuffer(raw, np.float32).astype(np.float64)
    if dtype == "F16":
        return np.frombuffer(raw, np.float16).astype(np.float64)
    u = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
    return u.view(np.float32).astype(np.float64)
a, b = load(fa), load(fb)
t = [t for t in json.load(open(js))["files"][0]["tensors"] if t["name"] == name][0]
want = {"max_abs_diff": np.max(np.abs(b - a)),
        "rel_l2": np.linalg.norm(b - a) / np.linalg.norm(a),
        "cosine": float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))}
ok = True
for k, v in want.items():
    if not np.isclose(t[k], v, rtol=1e-6, atol=1e-9):
        print("%s %s: mvm %r numpy %r" % (name, k, t[k], v), file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
PYEOF
done
# the tensor bytes from 'cat --tensor' are the ones in the original files
st_tensor_bytes "$SCRATCH/model.v2" a "$SCRATCH/a.ref"
cmp -s "$SCRATCH/a.ref" "$SCRATCH/a.2" || fail "cat --tensor a of v2"

# --- working tree diffs ---
mvm diff --json >"$SCRATCH/w.json"
assert_eq "$(json_get "$SCRATCH/w.json" 'j["files"]')" "[]" "clean working tree diff"
assert_eq "$(json_get "$SCRATCH/w.json" 'j["a"]')" "$v2" "working tree diff base is HEAD"
assert_eq "$(json_get "$SCRATCH/w.json" 'j["b"]')" "None" "working tree side is null"
mkst model.safetensors a:F32:8x16:21 b:F32:32:2 c:BF16:4x16:3 e:I32:4:15 f:F32:3:9 g:F32:4x4:6 h:BF16:16:17 k:F16:8x2:18 z:F32:2:1
echo "v3" >notes.txt
mvm diff --json >"$SCRATCH/w.json"
assert_eq "$(summary "$SCRATCH/w.json")" \
	"model.safetensors modified [('a', 'modified'), ('z', 'added')]; notes.txt modified []" "working tree diff"
# with --stats on the working tree, numbers come from the working file
mvm diff --stats --json >"$SCRATCH/ws.json"
mvm cat "HEAD:model.safetensors" --tensor a >"$SCRATCH/a.h"
st_tensor_bytes model.safetensors a "$SCRATCH/a.w"
$PY - "$SCRATCH/ws.json" "$SCRATCH/a.h" "$SCRATCH/a.w" <<'PYEOF' || fail "working-tree --stats"
import json, sys
import numpy as np
j = json.load(open(sys.argv[1]))
t = [t for t in j["files"][0]["tensors"] if t["name"] == "a"][0]
a = np.fromfile(sys.argv[2], np.float32).astype(np.float64)
b = np.fromfile(sys.argv[3], np.float32).astype(np.float64)
assert np.isclose(t["max_abs_diff"], np.max(np.abs(b - a)), rtol=1e-6), t
assert np.isclose(t["rel_l2"], np.linalg.norm(b - a) / np.linalg.norm(a), rtol=1e-6), t
assert "max_abs_diff" not in [u for u in j["files"][0]["tensors"] if u["name"] == "z"][0]
PYEOF
# one REV: that version against the working tree
mvm diff "$v1" --json >"$SCRATCH/w1.json"
assert_eq "$(json_get "$SCRATCH/w1.json" '[j["a"], j["b"]]')" "['$v1', None]" "diff REV ids"
assert_eq "$(json_get "$SCRATCH/w1.json" '[(f["path"], f["status"]) for f in j["files"]]')" \
	"[('model.safetensors', 'modified'), ('new.txt', 'added'), ('notes.txt', 'modified'), ('old.txt', 'removed')]" "diff REV vs working tree"
assert_eq "$(json_get "$SCRATCH/w1.json" '("z", "added") in [(t["name"], t["status"]) for t in j["files"][0]["tensors"]]')" True "diff REV sees working tensors"
# a working-tree deletion shows as removed; untracked files are not listed
rm new.txt
echo "u" >untracked.txt
mvm diff --json >"$SCRATCH/w.json"
assert_eq "$(json_get "$SCRATCH/w.json" '[(f["path"], f["status"]) for f in j["files"]]')" \
	"[('model.safetensors', 'modified'), ('new.txt', 'removed'), ('notes.txt', 'modified')]" "working tree deletion"
mvm checkout -q HEAD -- new.txt
rm untracked.txt

# --- diff limited to PATHs ---
mvm diff "$v1" "$v2" --json -- notes.txt >"$SCRATCH/p.json"
assert_eq "$(json_get "$SCRATCH/p.json" '[f["path"] for f in j["files"]]')" "['notes.txt']" "diff PATH"
mvm diff "$v1" "$v2" --json notes.txt old.txt >"$SCRATCH/p.json"
assert_eq "$(json_get "$SCRATCH/p.json" '[f["path"] for f in j["files"]]')" "['notes.txt', 'old.txt']" "diff two PATHs"
mvm diff --json -- model.safetensors >"$SCRATCH/p.json"
assert_eq "$(json_get "$SCRATCH/p.json" '[f["path"] for f in j["files"]]')" "['model.safetensors']" "working diff PATH"
mvm diff "$v1" "$v2" --json -- nothing-here >"$SCRATCH/p.json"
assert_eq "$(json_get "$SCRATCH/p.json" 'j["files"]')" "[]" "diff of an unchanged/unknown PATH"
mvm commit -q -a -m v3

# --- stgen pairs: every tensor dtype_changed / shape_changed ---
mkdir st
"$STGEN" --size-mb 1 --seed 5 --dtype BF16 st/m.safetensors
mvm add -q st
mvm commit -q -m bf16
"$STGEN" --size-mb 1 --seed 5 --dtype F16 st/m.safetensors
mvm commit -q -a -m f16
mvm diff HEAD~1 HEAD --json -- st/m.safetensors >"$SCRATCH/dt.json"
assert_eq "$(json_get "$SCRATCH/dt.json" 'sorted(set(t["status"] for t in j["files"][0]["tensors"]))')" "['dtype_changed']" "stgen dtype change"
[ "$(json_get "$SCRATCH/dt.json" 'len(j["files"][0]["tensors"])')" -gt 5 ] || fail "dtype change lists every tensor"
n_tensors=$(mvm ls HEAD st/m.safetensors --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
assert_eq "$(json_get "$SCRATCH/dt.json" 'len(j["files"][0]["tensors"])')" "$n_tensors" "dtype change covers all tensors"
"$STGEN" --size-mb 3 --seed 5 --dtype F16 st/m.safetensors
mvm commit -q -a -m bigger
mvm diff HEAD~1 HEAD --json >"$SCRATCH/sh.json"
assert_eq "$(json_get "$SCRATCH/sh.json" 'sorted(set(t["status"] for t in j["files"][0]["tensors"]))')" "['shape_changed']" "stgen size change"
# --stats adds nothing to dtype/shape changes
mvm diff HEAD~2 HEAD --stats --json >"$SCRATCH/sh.json"
assert_eq "$(json_get "$SCRATCH/sh.json" 'any("max_abs_diff" in t for t in j["files"][0]["tensors"])')" False "no stats on shape/dtype changes"
# perturbation: only the perturbed tensors, all modified, stats small but non-zero
"$STGEN" --size-mb 3 --seed 5 --dtype F16 --perturb 0.25 st/m.safetensors
mvm commit -q -a -m perturbed
mvm diff HEAD~1 HEAD --stats --json >"$SCRATCH/pt.json"
assert_eq "$(json_get "$SCRATCH/pt.json" 'sorted(set(t["status"] for t in j["files"][0]["tensors"]))')" "['modified']" "perturb statuses"
[ "$(json_get "$SCRATCH/pt.json" 'len(j["files"][0]["tensors"]) < '"$n_tensors")" = True ] || fail "perturb 0.25 changed every tensor"
assert_eq "$(json_get "$SCRATCH/pt.json" 'all(0 < t["rel_l2"] < 0.2 and 0.98 < t["cosine"] <= 1 and t["max_abs_diff"] > 0 for t in j["files"][0]["tensors"])')" True "perturb stats plausible"

# --- sharded checkpoints: per-shard diff ---
mkdir shards
"$STGEN" --size-mb 2 --seed 8 --shards 3 shards/model.safetensors
mvm add -q shards
mvm commit -q -m shards
"$STGEN" --size-mb 2 --seed 8 --shards 3 --perturb 0.3 shards/model.safetensors
mvm diff --json >"$SCRATCH/sd.json"
$PY - "$SCRATCH/sd.json" shards <<'PYEOF' || fail "sharded diff does not match the shard contents"
import json, struct, sys, os, glob
j = json.load(open(sys.argv[1]))
files = {f["path"]: f for f in j["files"]}
# every changed file is a shard (the index is unchanged), each tensor of it lives in that shard
for p, f in files.items():
    assert p.startswith("shards/model-") and p.endswith(".safetensors"), p
    with open(p, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        names = set(json.loads(fh.read(n))) - {"__metadata__"}
    for t in f["tensors"]:
        assert t["status"] == "modified", t
        assert t["name"] in names, (p, t["name"])
assert files, "no shard changed"
PYEOF
mvm diff --json -- shards >"$SCRATCH/sdp.json"
assert_eq "$(summary "$SCRATCH/sdp.json")" "$(summary "$SCRATCH/sd.json")" "diff limited to a folder"
mvm diff --json -- st >"$SCRATCH/sdp.json"
assert_eq "$(json_get "$SCRATCH/sdp.json" 'j["files"]')" "[]" "diff limited to an unchanged folder"
mvm commit -q -a -m "shards perturbed"
mvm diff HEAD~1 HEAD --json >"$SCRATCH/sd2.json"
assert_eq "$(summary "$SCRATCH/sd2.json")" "$(summary "$SCRATCH/sd.json")" "committed shard diff equals the working-tree one"

# --- GGUF ---
"$STGEN" --size-mb 1 --seed 3 --gguf g.gguf
mvm add g.gguf
mvm commit -q -m gguf
mvm ls HEAD g.gguf --json >"$SCRATCH/g.json"
[ "$(json_get "$SCRATCH/g.json" 'len(j)')" -gt 5 ] || fail "GGUF tensor list too short"
assert_eq "$(json_get "$SCRATCH/g.json" 'sorted(set(tuple(sorted(t)) for t in j))')" \
	"[('digest', 'dtype', 'length', 'name', 'offset', 'shape')]" "GGUF tensor fields"
assert_eq "$(json_get "$SCRATCH/g.json" 'all(t["offset"] + t["length"] <= '"$(wc -c <g.gguf)"' for t in j)')" True "GGUF ranges inside the file"
# each listed range gives the listed digest: SHA-256 over the ids of its 256 KiB grid chunks
$PY - "$SCRATCH/g.json" g.gguf <<'PYEOF' || fail "GGUF tensor sha256"
import hashlib, json, sys
data = open(sys.argv[2], "rb").read()
for t in json.load(open(sys.argv[1])):
    b = data[t["offset"]:t["offset"] + t["length"]]
    ids = b"".join(hashlib.sha256(b[i:i + 262144]).digest() for i in range(0, len(b), 262144))
    assert hashlib.sha256(ids).hexdigest() == t["digest"], t["name"]
PYEOF
"$STGEN" --size-mb 1 --seed 3 --gguf --perturb 0.3 g.gguf
mvm diff --json -- g.gguf >"$SCRATCH/gd.json"
assert_eq "$(json_get "$SCRATCH/gd.json" 'sorted(set(t["status"] for t in j["files"][0]["tensors"]))')" "['modified']" "GGUF diff"

# safetensors ls: the listed ranges give the listed digests too
mvm ls HEAD st/m.safetensors --json >"$SCRATCH/s.json"
$PY - "$SCRATCH/s.json" st/m.safetensors <<'PYEOF' || fail "safetensors tensor sha256"
import hashlib, json, sys
data = open(sys.argv[2], "rb").read()
for t in json.load(open(sys.argv[1])):
    b = data[t["offset"]:t["offset"] + t["length"]]
    ids = b"".join(hashlib.sha256(b[i:i + 262144]).digest() for i in range(0, len(b), 262144))
    assert hashlib.sha256(ids).hexdigest() == t["digest"], t["name"]
PYEOF
mvm fsck -q
