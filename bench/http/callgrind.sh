#!/usr/bin/env bash
# Instructions per request head, the parser now against its old version (tests/fuzz/h1_oracle.c)
# in one run, from callgrind (deterministic). Usage: bench/http/callgrind.sh [N] [BUILD]
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-2000}
BUILD=${2:-$TOP/build}
BIN=$BUILD/bench/h1bench
[ -x "$BIN" ] || { echo "no $BIN: build first" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
per_head() { # parser head: instructions per parse (strlen of the head included, as for both)
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.out" \
		"$BIN" "$1" "$2" "$N" >"$out/info" 2>"$out/vg.log"
	local total
	total=$(callgrind_annotate "$out/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	echo $((total / N))
}
printf '%-5s %6s %7s %8s %8s %7s\n' head bytes fields old new new/old
for h in 0 1 2; do
	o=$(per_head old $h)
	n=$(per_head new $h)
	bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$out/info")
	fields=$(sed -n 's/.*fields=\([0-9]*\).*/\1/p' "$out/info")
	printf '%-5s %6s %7s %8s %8s %7s\n' "$h" "$bytes" "$fields" "$o" "$n" \
		"$(awk -v a="$n" -v b="$o" 'BEGIN { printf "%.2f", a / b }')"
	echo "RESULT head=$h bytes=$bytes fields=$fields old=$o new=$n" >>"$out/results"
done
cat "$out/results"
