#!/usr/bin/env bash
# Instructions per segment of the TCP engine, from callgrind (deterministic: the same binary and
# script give the same count on any machine load). Usage: bench/tcp/callgrind.sh [SEGMENTS] [BUILD]
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-20000}
BUILD=${2:-$TOP/build}
BIN=$BUILD/bench/segbench
[ -x "$BIN" ] || { echo "no $BIN: build first" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
segs=$(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.out" \
	"$BIN" "$N" 2>"$out/vg.log")
ann=$(callgrind_annotate --inclusive=yes "$out/cg.out" 2>/dev/null)
# The object-qualified line ("file:function [binary]") is a function's inclusive cost; a function
# too cheap to get one is summed from its call sites ("=> file:function (Nx)").
ir_of() {
	awk -v f="$1" '
		index($0, ":" f " [") && !own { gsub(",", "", $1); own = $1 }
		$0 ~ ("=> .*:" f " \\(") { gsub(",", "", $1); calls += $1 }
		END { print (own != "" ? own : calls + 0) }' <<<"$ann"
}
in_ir=$(ir_of tcp_input)
proc_ir=$(ir_of tcp_process)
rseg=$(echo "$segs" | sed -n 's/receive segments=//p')
sseg=$(echo "$segs" | sed -n 's/send segments=//p')
total=$((rseg + sseg))
echo "segments processed (in + out): receive $rseg, send $sseg"
echo "tcp_input (inclusive):   ${in_ir:-?} Ir"
echo "tcp_process (inclusive): ${proc_ir:-?} Ir"
echo "RESULT tcp_instructions_per_segment=$(( (${in_ir:-0} + ${proc_ir:-0}) / total )) segments=$total"
