# lib.sh: helpers for CLI tests. Each test sources this, runs in a fresh
# scratch folder (removed on success) and exits non-zero on the first failure.
# Environment from meson: MVM (the binary), STGEN (the safetensors generator).
set -eu
: "${MVM:?MVM must point at the mvm binary}"
: "${STGEN:?STGEN must point at the stgen generator}"
export MVM_USER="Test User <test@example.com>"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mvm-cli.XXXXXX")
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$SCRATCH"; else echo "kept $SCRATCH" >&2; fi' EXIT
cd "$SCRATCH"

fail() { echo "FAIL: $*" >&2; exit 1; }

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

# json_get FILE EXPR: evaluate a Python expression on the parsed JSON `j`
json_get() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# repo_state: a fingerprint of everything that defines the repository's state
repo_state() {
	mvm log --json 2>/dev/null | sha256sum
	mvm status --json | sha256sum
	mvm branch --json | sha256sum
}
