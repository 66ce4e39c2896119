# Sourced by build.sh and build-knative.sh: the version pins, the cache folder outside the checkout, and
# the reuse of a complete build.
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
CACHE_ROOT=${ZEROGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zerogate}

# exit_if_built OUT FILE...: prints OUT/bin and ends the build when every FILE (relative to OUT) exists.
exit_if_built() {
  local out=$1 file
  shift
  for file in "$@"; do [ -e "$out/$file" ] || return 0; done
  echo "$out/bin"
  exit 0
}

# require_go WHAT: Go builds WHAT; without it the build stops saying so.
require_go() {
  command -v go >/dev/null || { echo "$(basename "$0"): Go is needed to build $1 (go not on PATH)" >&2; exit 1; }
}
