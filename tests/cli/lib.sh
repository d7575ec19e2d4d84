# lib.sh: helpers for CLI tests. Each test sources this, runs in a fresh
# scratch folder (removed on success) and exits non-zero on the first failure.
# Environment from meson: MVM (the binary), STGEN (the safetensors generator).
set -eu
: "${MVM:?MVM must point at the mvm binary}"
: "${STGEN:?STGEN must point at the stgen generator}"
export MVM_USER="Test User <test@example.com>"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mvm-cli.XXXXXX")
FAILED=
trap 'rc=$?; [ -z "$FAILED" ] || rc=1; if [ $rc -eq 0 ]; then rm -rf "$SCRATCH"; else echo "kept $SCRATCH" >&2; exit $rc; fi' EXIT
cd "$SCRATCH"

# fail MSG: stop the test. With MVM_TEST_KEEP_GOING=1 (debugging aid) it only
# records the failure and the test goes on, still exiting 1 at the end.
fail() {
	echo "FAIL: $*" >&2
	[ -n "${MVM_TEST_KEEP_GOING:-}" ] || exit 1
	FAILED=1
}

mvm() { "$MVM" "$@"; }

# expect_exit CODE CMD...: run CMD, require exit status CODE; stderr kept in $SCRATCH/err
expect_exit() {
	want=$1; shift
	set +e
	"$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
	got=$?
	set -e
	[ "$got" -eq "$want" ] || { cat "$SCRATCH/err" >&2; fail "'$*' exited $got, expected $want"; }
}

# expect_error CODE PATTERN CMD...: exit CODE and one 'mvm: error:' line matching PATTERN
expect_error() {
	code=$1; pat=$2; shift 2
	expect_exit "$code" "$@"
	grep -q "^mvm: error: .*$pat" "$SCRATCH/err" || { cat "$SCRATCH/err" >&2; fail "'$*': no error matching '$pat'"; }
	[ "$(grep -c '^mvm: error:' "$SCRATCH/err")" -eq 1 ] || fail "'$*': expected exactly one error line"
}

# expect_error_in "CODES" PATTERN CMD...: like expect_error, exit status one of CODES
expect_error_in() {
	codes=$1; pat=$2; shift 2
	set +e
	"$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
	got=$?
	set -e
	case " $codes " in *" $got "*) ;; *) cat "$SCRATCH/err" >&2; fail "'$*' exited $got, expected one of $codes";; esac
	grep -q "^mvm: error: .*$pat" "$SCRATCH/err" || { cat "$SCRATCH/err" >&2; fail "'$*': no error matching '$pat'"; }
	[ "$(grep -c '^mvm: error:' "$SCRATCH/err")" -eq 1 ] || fail "'$*': expected exactly one error line"
}

# json_get FILE EXPR: evaluate a Python expression on the parsed JSON `j`
json_get() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# repo_state: a fingerprint of everything that defines the repository's state
repo_state() {
	mvm log --json 2>/dev/null | sha256sum
	mvm status --json | sha256sum
	mvm branch --json | sha256sum
}

# ---- helpers added for the topic tests ----

PY=/usr/bin/python3

# assert_eq GOT WANT MSG
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

# snap_state FILE: repo_state plus tags and the pack folder listing (names and
# sizes), written to FILE for before/after comparison
snap_state() {
	{
		repo_state
		mvm tag --json | sha256sum
		(cd "$(mvm_root)/.mvm/packs" && ls -l --time-style=+ . | awk 'NR>1{print $5, $NF}')
	} >"$1"
}

# mvm_root: the folder holding .mvm, searched upwards from the current one
mvm_root() {
	d=$(pwd)
	while [ "$d" != / ] && [ ! -d "$d/.mvm" ]; do d=$(dirname "$d"); done
	echo "$d"
}

# expect_unchanged BEFORE-FILE MSG: the repository state equals the snapshot
expect_unchanged() {
	snap_state "$SCRATCH/state.after"
	cmp -s "$1" "$SCRATCH/state.after" || {
		diff "$1" "$SCRATCH/state.after" >&2 || :
		fail "$2: repository state changed"
	}
}

# head_id: the full id HEAD points at (empty when there is no version)
head_id() { mvm status --json | $PY -c 'import json,sys; h=json.load(sys.stdin)["head"]; print(h or "")'; }

# rev_id REV: the full id of REV
rev_id() { mvm show "$1" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# status_field FIELD: a status --json list as a Python list literal (sorted)
status_field() { mvm status --json | $PY -c "import json,sys; print(sorted(json.load(sys.stdin)['$1']))"; }

# st_get EXPR: evaluate EXPR on the parsed 'mvm status --json' as j
st_get() {
	mvm status --json >"$SCRATCH/st_get.json"
	json_get "$SCRATCH/st_get.json" "$1"
}

# tree_sums: mode and sha256 of every file in the working tree (not .mvm), sorted
tree_sums() {
	find . -path ./.mvm -prune -o -type f -print | LC_ALL=C sort | while read -r f; do
		printf '%s %s\n' "$(stat -c %a "$f")" "$(sha256sum "$f")"
	done
}

# expect_clean: status --json shows nothing staged, modified, deleted or untracked
expect_clean() {
	mvm status --json >"$SCRATCH/clean.json"
	[ "$(json_get "$SCRATCH/clean.json" 'j["staged"]+j["modified"]+j.get("deleted",[])+j["untracked"]')" = "[]" ] ||
		{ cat "$SCRATCH/clean.json" >&2; fail "${1:-status}: working tree is not clean"; }
}

# expect_fsck_ok: fsck exits 0
expect_fsck_ok() {
	set +e
	mvm fsck >"$SCRATCH/fsck.out" 2>&1
	rc=$?
	set -e
	[ $rc -eq 0 ] || { cat "$SCRATCH/fsck.out" >&2; fail "${1:-fsck}: fsck exited $rc"; }
}

# mkst OUT NAME:DTYPE:SHAPE:SEED...: write a small safetensors file with
# tensors of random values (SHAPE like 4x8; DTYPE F32, F16, BF16, I32, U8)
mkst() {
	$PY - "$@" <<'PYEOF'
import json, struct, sys
import numpy as np
out, specs = sys.argv[1], sys.argv[2:]
header, blobs, off = {}, [], 0
for spec in specs:
    name, dtype, shape, seed = spec.split(":")
    shape = [int(d) for d in shape.split("x")] if shape else []
    n = int(np.prod(shape)) if shape else 1
    rng = np.random.default_rng(int(seed))
    x = rng.standard_normal(n).astype(np.float32)
    if dtype == "F32":
        b = x.tobytes()
    elif dtype == "F16":
        b = x.astype(np.float16).tobytes()
    elif dtype == "BF16":
        b = (x.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    elif dtype == "I32":
        b = rng.integers(-1000, 1000, n, dtype=np.int32).tobytes()
    elif dtype == "U8":
        b = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    else:
        raise SystemExit("mkst: dtype " + dtype)
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
PYEOF
}

# st_tensor_bytes FILE NAME OUT: copy the exact byte range of tensor NAME of
# a safetensors FILE into OUT, computed from the header
st_tensor_bytes() {
	$PY - "$@" <<'PYEOF'
import json, struct, sys
path, name, out = sys.argv[1:4]
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
    a, b = h[name]["data_offsets"]
    f.seek(8 + n + a)
    data = f.read(b - a)
open(out, "wb").write(data)
PYEOF
}

# packs_bytes: total size of the pack files (like 'du -sb .mvm/packs' without the folder)
packs_bytes() { find "$(mvm_root)/.mvm/packs" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
