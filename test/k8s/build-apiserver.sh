#!/usr/bin/env bash
# Builds kube-apiserver v1.37.0 from the Go module proxy into a cache directory
# outside the repository (reused when present). Prints the binary's path.
#
#   test/k8s/build-apiserver.sh            # -> /var/cache/tortie/kube-apiserver-v1.37.0/kube-apiserver
#   TORTIE_KAS_CACHE=/some/dir test/k8s/build-apiserver.sh
#
# k8s.io/kubernetes replaces its staging modules with ./staging paths; outside
# its own tree those must point at the published v0.37.0 modules instead.
set -euo pipefail
export PATH=$PATH:/usr/local/go/bin
KVER=v1.37.0
SVER=v0.37.0
dir=${TORTIE_KAS_CACHE:-/var/cache/tortie/kube-apiserver-$KVER}
bin=$dir/kube-apiserver
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$dir/src"
cd "$dir/src"
export GOFLAGS=-mod=mod GOWORK=off
go mod download -json k8s.io/kubernetes@$KVER >/dev/null
modfile=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$KVER.mod
{
  echo "module example.com/kas"
  echo "go 1.26.0"
  echo "require k8s.io/kubernetes $KVER"
  echo "replace ("
  grep '=> ./staging' "$modfile" | awk -v v=$SVER '{print "\t"$1" => "$1" "v}'
  echo ")"
} >go.mod
echo 'package kas' >kas.go
go get k8s.io/kubernetes/cmd/kube-apiserver@$KVER >&2
ld="-X k8s.io/component-base/version.gitVersion=$KVER -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
go build -trimpath -ldflags "$ld" -o "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
mv "$bin.tmp" "$bin"
echo "$bin"
