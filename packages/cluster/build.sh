#!/usr/bin/env bash
# Builds one pinned Kubernetes release (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)
# and the etcd that release is tested with, from the Go module proxy, into a cache outside the checkout
# keyed by version. A complete cache is reused as it is; prints the folder of the binaries.
#
# k8s.io/kubernetes cannot be built from its own go.mod (its `replace ./staging/...` lines point into a
# tree the module zip leaves out), so a small wrapper module requires it and points every k8s.io staging
# module at its published v0.<minor>.<patch>. etcd comes from go.etcd.io/etcd/server/v3 at the version
# Kubernetes itself requires, behind a three-line main, so both share one module graph.
set -euo pipefail

# shellcheck source=build-common.sh
. "$(dirname "$0")/build-common.sh"
OUT="$CACHE_ROOT/kube-$KUBE_VERSION"
BIN="$OUT/bin"
TOOLS=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)
exit_if_built "$OUT" "${TOOLS[@]/#/bin/}"
require_go Kubernetes
started=$(date +%s)
staging="v0.${KUBE_VERSION#v1.}"
src="$OUT/src"
rm -rf "$src" && mkdir -p "$src/etcd" "$BIN"
cd "$src"

# The staging modules, as Kubernetes' own go.mod lists them.
kube_mod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
mapfile -t staged < <(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$kube_mod")
etcd_version=$(sed -n 's#^\s*go.etcd.io/etcd/server/v3 \(v[0-9.]*\).*#\1#p' "$kube_mod")

{
  echo "module zerogate.local/kube-build"
  echo
  echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//').0"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  for module in "${staged[@]}"; do echo "replace $module => $module $staging"; done
} > go.mod
cat > etcd/main.go <<'GO'
// Command etcd is etcd's own server entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
go get "go.etcd.io/etcd/server/v3@$etcd_version" >/dev/null
GOFLAGS=-tags=tools go mod tidy >/dev/null 2>&1 || go mod tidy -e >/dev/null

export CGO_ENABLED=0
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
for tool in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  echo "build.sh: building $tool $KUBE_VERSION" >&2
  go build -trimpath -ldflags "$ldflags" -o "$BIN/$tool.tmp" "k8s.io/kubernetes/cmd/$tool"
  mv "$BIN/$tool.tmp" "$BIN/$tool"
done
echo "build.sh: building etcd $etcd_version" >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" ./etcd
mv "$BIN/etcd.tmp" "$BIN/etcd"
echo "build.sh: built in $(( $(date +%s) - started )) s" >&2
echo "$BIN"
