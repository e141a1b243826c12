#!/bin/sh
# compare.sh runs the workloads on hivenet's statedb and on cilium/statedb
# side by side and prints a benchstat comparison (cilium is the base).
#
# The two run at the same time, each on one core (GOMAXPROCS=1), so that
# both see the same load on a shared machine; compare objects/cpu-s (CPU
# time of the process, GC included), which varies far less there than
# wall-clock objects/s.
#
# Usage: ./compare.sh [rounds] [benchtime] [bench regexp]
# (default 6 rounds of 300ms of every benchmark)
set -eu
rounds=${1:-6}
benchtime=${2:-300ms}
bench=${3:-.}
cd "$(dirname "$0")"
out=$(mktemp -d /tmp/hvdb-benchcmp.XXXXXX)
trap 'rm -rf "$out"' EXIT
go test -c -o "$out/hivenet.test" ./hivenet
go test -c -o "$out/cilium.test" ./cilium
i=0
while [ "$i" -lt "$rounds" ]; do
	GOMAXPROCS=1 "$out/hivenet.test" -test.run - -test.bench "$bench" -test.benchtime "$benchtime" -test.benchmem >>"$out/hivenet.txt" &
	pid=$!
	GOMAXPROCS=1 "$out/cilium.test" -test.run - -test.bench "$bench" -test.benchtime "$benchtime" -test.benchmem >>"$out/cilium.txt"
	wait "$pid"
	i=$((i + 1))
done
cd "$out"
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -ignore pkg cilium.txt hivenet.txt
