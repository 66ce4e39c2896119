#!/usr/bin/env bash
# Builds the pinned Jaeger v2 (`github.com/jaegertracing/jaeger/cmd/jaeger`) from the Go module proxy into
# a cache outside the checkout keyed by version, for the tracing tests (test/tracing.test.ts): one
# backend that takes both Zipkin v2 JSON and OTLP/HTTP and answers a query API. A complete cache is
# reused as it is; prints the folder of the binary on stdout, progress on stderr.
#
# Jaeger is built as a plain dependency of a small wrapper module, as build-knative.sh builds Knative:
# its go.mod has replace directives, which a dependency's build ignores, so the wrapper copies them.
set -euo pipefail

# shellcheck source=build-common.sh
. "$(dirname "$0")/build-common.sh"
VERSION=$JAEGER_VERSION
OUT="$CACHE_ROOT/jaeger-$VERSION"
BIN="$OUT/bin"
exit_if_built "$OUT" bin/jaeger
require_go Jaeger
started=$(date +%s)
src="$OUT/src"
rm -rf "$src" && mkdir -p "$src" "$BIN"
cd "$src"

echo "build-jaeger.sh: fetching github.com/jaegertracing/jaeger@$VERSION" >&2
download=$(go mod download -json "github.com/jaegertracing/jaeger@$VERSION" || true)
jaeger_mod=$(sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p' <<<"$download")
if [ -z "$jaeger_mod" ]; then
  echo "build-jaeger.sh: github.com/jaegertracing/jaeger@$VERSION cannot be fetched:" >&2
  sed -n 's/^\s*"Error": "\(.*\)",\?$/  \1/p' <<<"$download" >&2
  exit 1
fi
mapfile -t replaces < <(awk '
  /^replace[ \t]*\(/ { block = 1; next }
  block && /^\)/ { block = 0; next }
  block && /=>/ { sub(/\/\/.*/, ""); print; next }
  /^replace[ \t].*=>/ { sub(/^replace[ \t]+/, ""); sub(/\/\/.*/, ""); print }
' "$jaeger_mod")

{
  echo "module zerogate.local/jaeger-build"
  echo
  echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//').0"
  echo
  echo "require github.com/jaegertracing/jaeger $VERSION"
} > go.mod
for line in "${replaces[@]}"; do
  read -r -a old <<<"${line%%=>*}"
  read -r -a new <<<"${line#*=>}"
  case ${new[0]} in
    ./* | ../* | /*) continue ;;
  esac
  from=${old[0]}${old[1]:+@${old[1]}}
  go mod edit -replace="$from=${new[0]}${new[1]:+@${new[1]}}"
done
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
GO
echo "build-jaeger.sh: resolving modules" >&2
GOFLAGS="${GOFLAGS:-} -tags=tools" go mod tidy >/dev/null

export CGO_ENABLED=0
echo "build-jaeger.sh: building jaeger" >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
mv "$BIN/jaeger.tmp" "$BIN/jaeger"
echo "build-jaeger.sh: built in $(( $(date +%s) - started )) s" >&2
echo "$BIN"
