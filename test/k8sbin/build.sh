#!/usr/bin/env bash
# build.sh builds the Kubernetes control-plane binaries the cluster-in-a-box runs
# (kube-apiserver, kube-controller-manager, kubectl, etcd) from the Go module proxy
# and caches them outside the repository. It is idempotent: binaries already in the
# cache are kept, so a warm run costs nothing.
#
#   HIVENET_CACHE   cache root (default: $HOME/.cache/hivenet)
#   K8S_VERSION     Kubernetes release (default: 1.34.4)
#   ETCD_VERSION    etcd release, the one k8s.io/kubernetes pins (default: 3.6.4)
#   HIVENET_BUILD_LOG  log file (default: $cache/k8s-$K8S_VERSION.build.log)
#
# Prints the binary directory on success. Sources are built from scratch modules
# under $cache/src so the repository's go.mod is never touched.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-3.6.4}"
CACHE="${HIVENET_CACHE:-$HOME/.cache/hivenet}"
OUT="$CACHE/k8s-$K8S_VERSION"
LOG="${HIVENET_BUILD_LOG:-$CACHE/k8s-$K8S_VERSION.build.log}"
BINS=(kube-apiserver kube-controller-manager kubectl etcd)

have_all() {
	for b in "${BINS[@]}"; do
		[[ -x "$OUT/$b" ]] || return 1
	done
}

if have_all; then
	echo "$OUT"
	exit 0
fi

mkdir -p "$OUT" "$CACHE/src"
# Two callers (a background prebuild and a test run) must not build at once.
exec 9>"$CACHE/k8s-$K8S_VERSION.lock"
flock 9
if have_all; then
	echo "$OUT"
	exit 0
fi

echo "building Kubernetes v$K8S_VERSION and etcd v$ETCD_VERSION into $OUT (log: $LOG)" >&2
exec 3>&1 # keep the caller's stdout for the final path
exec >>"$LOG" 2>&1
start=$(date +%s)
echo "=== $(date -u +%FT%TZ) build start"

# Builds are CPU-heavy; share the machine politely.
NICE=(nice -n 10)
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off

# --- Kubernetes -------------------------------------------------------------
K8S_SRC="$CACHE/src/k8s-$K8S_VERSION"
mkdir -p "$K8S_SRC"
cd "$K8S_SRC"
if [[ ! -f go.mod ]] || ! grep -q "k8s.io/kubernetes v$K8S_VERSION" go.mod; then
	gomod_json=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION")
	k8s_gomod=$(printf '%s\n' "$gomod_json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
	[[ -f "$k8s_gomod" ]] || { echo "cannot find go.mod of k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
	# Each staging module is published on its own at v0.<minor>.<patch>.
	staging_version="v0.${K8S_VERSION#*.}"
	{
		echo "module hvk8s-build/k8s"
		echo
		echo "go 1.24.0"
		echo
		echo "require k8s.io/kubernetes v$K8S_VERSION"
		echo
		echo "replace ("
		sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/.*$#\t\1 => \1 '"$staging_version"'#p' "$k8s_gomod"
		echo ")"
	} >go.mod.new
	grep -q '=> k8s.io/api ' go.mod.new || { echo "no staging replaces found in $k8s_gomod"; exit 1; }
	mv go.mod.new go.mod
	cat >tools.go <<'EOF'
//go:build tools

// Package tools pins the commands this scratch module builds.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
	"${NICE[@]}" go mod tidy
fi

minor="${K8S_VERSION#*.}"
minor="${minor%%.*}"
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
for cmd in kube-apiserver kube-controller-manager kubectl; do
	if [[ ! -x "$OUT/$cmd" ]]; then
		t0=$(date +%s)
		"${NICE[@]}" go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/.$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
		mv "$OUT/.$cmd.tmp" "$OUT/$cmd"
		echo "=== built $cmd in $(($(date +%s) - t0))s"
	fi
done

# --- etcd -------------------------------------------------------------------
# The etcd binary's main package is the root of the go.etcd.io/etcd/server/v3
# module (server/main.go calls etcdmain.Main).
ETCD_SRC="$CACHE/src/etcd-$ETCD_VERSION"
mkdir -p "$ETCD_SRC"
cd "$ETCD_SRC"
if [[ ! -f go.mod ]] || ! grep -q "go.etcd.io/etcd/server/v3 v$ETCD_VERSION" go.mod; then
	cat >go.mod <<EOF
module hvk8s-build/etcd

go 1.24.0

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
EOF
	cat >tools.go <<'EOF'
//go:build tools

// Package tools pins the command this scratch module builds.
package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
	"${NICE[@]}" go mod tidy
fi
if [[ ! -x "$OUT/etcd" ]]; then
	t0=$(date +%s)
	"${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$OUT/.etcd.tmp" go.etcd.io/etcd/server/v3
	mv "$OUT/.etcd.tmp" "$OUT/etcd"
	echo "=== built etcd in $(($(date +%s) - t0))s"
fi

echo "=== $(date -u +%FT%TZ) build done in $(($(date +%s) - start))s"
"$OUT/kube-apiserver" --version
"$OUT/etcd" --version
echo "$OUT" >&3
