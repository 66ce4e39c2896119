#!/usr/bin/env bash
# Builds the pinned Knative Serving release's binaries (queue, activator, autoscaler, controller,
# webhook) from the Go module proxy into a cache outside the checkout keyed by version, for the
# benchmarks that measure Knative's own data plane beside ours. A complete cache is reused as it is;
# prints the folder of the binaries on stdout, progress on stderr.
#
# knative.dev/serving is built as a plain dependency of a small wrapper module, as build.sh builds
# Kubernetes. Its go.mod has replace directives (the k8s.io staging modules held one minor below
# what it requires, and k8s.io/gengo/v2); a dependency's replaces are ignored, so the wrapper copies
# every one of them and the build resolves exactly the module graph Knative's own release build does.
#
# Knative's release YAML stays reachable for tests: `<out>/config.env` names the module cache folders of
# knative.dev/serving (config/core: CRDs, roles, config maps, Deployments, webhooks; images as ko://
# references), knative.dev/networking (its CRDs and config-network) and knative.dev/caching (Image).
set -euo pipefail

# shellcheck source=build-common.sh
. "$(dirname "$0")/build-common.sh"
VERSION=$KNATIVE_SERVING_VERSION
OUT="$CACHE_ROOT/knative-serving-$VERSION"
BIN="$OUT/bin"
TOOLS=(queue activator autoscaler controller webhook)
exit_if_built "$OUT" "${TOOLS[@]/#/bin/}" config.env
require_go Knative
started=$(date +%s)
src="$OUT/src"
rm -rf "$src" && mkdir -p "$src" "$BIN"
cd "$src"

echo "build-knative.sh: fetching knative.dev/serving@$VERSION" >&2
download=$(go mod download -json "knative.dev/serving@$VERSION" || true)
serving_mod=$(sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p' <<<"$download")
if [ -z "$serving_mod" ]; then
  echo "build-knative.sh: knative.dev/serving@$VERSION cannot be fetched:" >&2
  sed -n 's/^\s*"Error": "\(.*\)",\?$/  \1/p' <<<"$download" >&2
  exit 1
fi

# Serving's replace directives, one `old [version] => new [version]` a line, from either form:
# `replace old => new` or inside a `replace ( ... )` block.
mapfile -t replaces < <(awk '
  /^replace[ \t]*\(/ { block = 1; next }
  block && /^\)/ { block = 0; next }
  block && /=>/ { sub(/\/\/.*/, ""); print; next }
  /^replace[ \t].*=>/ { sub(/^replace[ \t]+/, ""); sub(/\/\/.*/, ""); print }
' "$serving_mod")

{
  echo "module zerogate.local/knative-build"
  echo
  echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//').0"
  echo
  echo "require knative.dev/serving $VERSION"
} > go.mod
for line in "${replaces[@]}"; do
  read -r -a old <<<"${line%%=>*}"
  read -r -a new <<<"${line#*=>}"
  case ${new[0]} in
    ./* | ../* | /*) echo "build-knative.sh: serving replaces ${old[0]} with a path; left out" >&2; continue ;;
  esac
  from=${old[0]}${old[1]:+@${old[1]}}
  go mod edit -replace="$from=${new[0]}${new[1]:+@${new[1]}}"
done
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "knative.dev/serving/cmd/activator"
	_ "knative.dev/serving/cmd/autoscaler"
	_ "knative.dev/serving/cmd/controller"
	_ "knative.dev/serving/cmd/queue"
	_ "knative.dev/serving/cmd/webhook"
)
GO
echo "build-knative.sh: resolving modules" >&2
GOFLAGS="${GOFLAGS:-} -tags=tools" go mod tidy >/dev/null

export CGO_ENABLED=0
for tool in "${TOOLS[@]}"; do
  echo "build-knative.sh: building $tool (knative.dev/serving $VERSION)" >&2
  go build -trimpath -ldflags "-s -w" -o "$BIN/$tool.tmp" "knative.dev/serving/cmd/$tool"
  mv "$BIN/$tool.tmp" "$BIN/$tool"
done
# Where the release YAML of this module graph is (read-only, in the Go module cache), for the tests that
# install Knative: serving's config/core, networking's CRDs and config-network, caching's Image CRD.
{
  echo "SERVING_DIR=$(go list -m -f '{{.Dir}}' knative.dev/serving)"
  echo "NETWORKING_DIR=$(go list -m -f '{{.Dir}}' knative.dev/networking)"
  echo "CACHING_DIR=$(go list -m -f '{{.Dir}}' knative.dev/caching)"
} > "$OUT/config.env.tmp"
mv "$OUT/config.env.tmp" "$OUT/config.env"
echo "build-knative.sh: built in $(( $(date +%s) - started )) s" >&2
echo "$BIN"
