#!/usr/bin/env bash
# Instructions per segment of the TCP engine, from callgrind (deterministic: the same binary and
# script give the same count on any machine load). Usage: bench/tcp/callgrind.sh [SEGMENTS] [BUILD]
# (REQUESTS=N: GETs per whole-request run, default 200)
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
# A function's inclusive cost is the sum of its call sites ("=> file:function (Nx)"). The
# object-qualified line ("file:function [binary]") can be short of it: callgrind_annotate may
# list a function twice by debug path, and the line without "[binary]" then holds the code
# inlined from headers (156 instructions a request of tcp_input's once the fast path inlined
# more). The larger of the two is taken; a function nobody calls has only its own line.
ir_of() {
	awk -v f="$1" '
		index($0, ":" f " [") && !own { gsub(",", "", $1); own = $1 }
		$0 ~ ("=> .*:" f " \\(") { gsub(",", "", $1); calls += $1 }
		END { print (calls + 0 > own + 0 ? calls + 0 : own + 0) }' <<<"$ann"
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

# A whole keep-alive authenticated GET (bench/tcp/reqbench.c): engine, HTTP and gate, crypto and
# net.c excluded; 1 KiB and 64 KiB bodies, TX checksum offload off and on, and TSO (large
# packets the port segments; its segmentation is outside the count, as on a NIC). The count splits into
# the app (HTTP parse, gate, response head, store; app_data/app_acked), segments built and sent
# (xmit_raw, checksum included when not offloaded) and the rest of the engine's receive path
# (segment parse, ACK processing, send-queue upkeep, timers), divided by what each handles.
REQ=$BUILD/bench/reqbench
NET=$BUILD/bench/netbench
[ -x "$REQ" ] || { echo "no $REQ: build first" >&2; exit 1; }
[ -x "$NET" ] || { echo "no $NET: build first" >&2; exit 1; }
R=${REQUESTS:-200}

# net.c per frame (bench/tcp/netbench.c): Ethernet and IPv4 input up to the TCP hand-off; IPv4
# output through the neighbour lookup, the Ethernet header and the TX burst (net_null's).
net_per_frame() { # in|out: everything counted while the frames pass, divided by them
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/nb.out" "$NET" 20000 \
		"$1" >"$out/nb.info" 2>"$out/vg.log"
	local frames total
	frames=$(sed -n "s/.*frames_$1=\([0-9]*\).*/\1/p" "$out/nb.info")
	total=$(callgrind_annotate "$out/nb.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	echo $((total / frames))
}
net_in=$(net_per_frame in)
net_out=$(net_per_frame out)
echo
echo "net.c per frame: in $net_in, out $net_out (neighbour lookup and TX burst included)"
echo "RESULT net_per_frame_in=$net_in net_per_frame_out=$net_out"

printf '\n%-9s %-8s %10s %10s %10s %12s %12s %12s\n' body offload "Ir/request" "app/req" \
	"Ir/seg out" "Ir/seg in" "segs out/in" "+net.c/req"
for size in 1024 65536; do
	for off in no offload tso; do
		info=$(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/rq.out" \
			"$REQ" "$R" "$size" "$off" 2>"$out/vg.log")
		ann=$(callgrind_annotate --inclusive=yes "$out/rq.out" 2>/dev/null)
		in_ir=$(ir_of tcp_input)
		proc_ir=$(ir_of tcp_process)
		x_ir=$(ir_of xmit_raw)
		app_ir=$(( $(ir_of app_data) + $(ir_of app_acked) ))
		sin=$(echo "$info" | sed -n 's/.*segments_in=\([0-9]*\).*/\1/p')
		sout=$(echo "$info" | sed -n 's/.*segments_out=\([0-9]*\) .*/\1/p')
		total=$((in_ir + proc_ir))
		# net.c sees the packets the engine hands over: with TSO, one per large packet
		pout=$(echo "$info" | sed -n 's/.*packets_out=\([0-9]*\).*/\1/p')
		whole=$(((total + sin * net_in + ${pout:-$sout} * net_out) / R))
		printf '%-9s %-8s %10d %10d %10d %12d %12s %12d\n' "$size" "${off/no/off}" $((total / R)) \
			$((app_ir / R)) $((x_ir / sout)) $(((total - app_ir - x_ir) / sin)) "$sout/$sin" \
			"$whole"
		echo "RESULT request_body=$size offload=${off/no/off} instructions_per_request=$((total / R))" \
			"app_per_request=$((app_ir / R)) per_segment_out=$((x_ir / sout))" \
			"per_segment_in=$(((total - app_ir - x_ir) / sin)) segments_out=$sout segments_in=$sin" \
			"with_net_per_request=$whole" \
			>>"$out/results"
	done
done
cat "$out/results"
