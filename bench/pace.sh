#!/usr/bin/env bash
# One [dataplane] key at several values, side by side: tap drops toward the gateway, RTOs, rate.
#
#   bench/pace.sh                         2000 clients x (HEAD + 10 x 64 KiB) of /secure/64m.bin
#   bench/pace.sh --clients 5000 --rounds 2 --values "0 32 64"
#   bench/pace.sh --key tap_rx_signal --values "yes no"
#   bench/pace.sh --key link --values "tap af_xdp"     the lab's link (AUTHGATE_LAB_LINK)
#   bench/pace.sh --key lcores --values "1 2"          dataplane lcores (AUTHGATE_LAB_LINK applies)
#   bench/pace.sh --key tso --values "auto no"         [port] tso: large packets to the PMD or not
#
# Each round runs the burst once per --values entry of --key (default tx_step_segments; 0 =
# not paced), in that order, each on a fresh lab; rounds alternate so machine noise hits every
# value alike. Also counted: signals delivered to the gateway (perf, signal:signal_deliver),
# the CPU seconds of its main thread and of the whole gateway, the client's CPU seconds, the
# wall time and the segments steered between lcores. Prints one line per run and the medians.
# options: --clients N --ranges K --path P --rounds R --key K --values "V..." --extra "INI LINES"
#   --section S: the key (and --extra) go into [S] instead of [dataplane], e.g. --section http
# env: AUTHGATE_LAB (default authgate-pace), BUILD_DIR (default build). Needs root.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
export AUTHGATE_BIN=${AUTHGATE_BIN:-$BUILD/app/authgate}
export AUTHGATE_LAB=${AUTHGATE_LAB:-authgate-pace}
NS=$AUTHGATE_LAB
LAB=$TOP/scripts/lab
CTL=$BUILD/app/authgate-ctl
BURST=$BUILD/bench/authgate-burst
WWW=/var/lib/authgate-lab/www

clients=2000 ranges=10 path=/secure/64m.bin rounds=1 key=tx_step_segments values="0 32" extra=""
section=dataplane
while [ $# -gt 0 ]; do
	case $1 in
	--clients) clients=$2; shift ;;
	--ranges) ranges=$2; shift ;;
	--path) path=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--values) values=$2; shift ;;
	--key) key=$2; shift ;;
	--extra) extra=$2; shift ;;
	--section) section=$2; shift ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "pace: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "pace: needs root" >&2; exit 2; }
[ "$NS" != authgate-lab ] || { echo "pace: pick an AUTHGATE_LAB other than authgate-lab" >&2; exit 2; }
auth=negotiate
[ "${path#/pkg/}" != "$path" ] && auth=none

tmp=$(mktemp -d /tmp/authgate-pace.XXXXXX)
chmod 755 "$tmp"
trap '"$LAB" down >/dev/null 2>&1; rm -rf "$tmp"' EXIT

tcp() { "$CTL" -p "$NS" tcp --json; }
jget() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

printf '%-6s %-5s %8s %8s %8s %8s %10s %8s %8s %9s %8s %8s %7s %7s %6s\n' round value tap_drop rto \
	rexmit seg_in rps p99_ms failed signals main_cpu steered gw_cpu cli_cpu wall_s
for r in $(seq 1 "$rounds"); do
	for v in $values; do
		conf=$tmp/pace-$v.ini
		awk -v key="$key" -v v="$v" -v extra="$extra" -v sec="[$section]" '
			{ print }
			$0 == sec { print key " = " v; if (extra != "") print extra }' \
			"$TOP/configs/lab.ini" >"$conf"
		"$LAB" down >/dev/null 2>&1 || true
		if [ "$key" = lcores ]; then
			# N dataplane lcores (1..N) beside the main lcore 0, on the CPUs in turn
			cp "$TOP/configs/lab.ini" "$conf"
			[ -z "$extra" ] || sed -i "s/^\[dataplane\]$/[dataplane]\n$extra/" "$conf"
			AUTHGATE_LAB_LCORES=$v "$LAB" up "$conf" >/dev/null
		elif [ "$key" = tso ]; then
			# a [port] key: TSO on (auto, where the PMD offers it) or off
			sed "s/^\[port lab\]$/[port lab]\ntso = $v/" "$TOP/configs/lab.ini" >"$conf"
			[ -z "$extra" ] || sed -i "s/^\[dataplane\]$/[dataplane]\n$extra/" "$conf"
			"$LAB" up "$conf" >/dev/null
		elif [ "$key" = link ]; then
			cp "$TOP/configs/lab.ini" "$conf"
			[ -z "$extra" ] || sed -i "s/^\[dataplane\]$/[dataplane]\n$extra/" "$conf"
			AUTHGATE_LAB_LINK=$v "$LAB" up "$conf" >/dev/null
		else
			"$LAB" up "$conf" >/dev/null
		fi
		gw=$(cat "/run/$NS/authgate.pid")
		perf stat -x, -e signal:signal_deliver -p "$gw" -o "$tmp/perf" &
		perf_pid=$!
		cpu0=$(awk '{print $14 + $15}' "/proc/$gw/task/$gw/stat")
		gcpu0=$(awk '{print $14 + $15}' "/proc/$gw/stat")
		# the client's CPU (user + sys of the burst) and the wall time, from bash's time
		TIMEFORMAT='%R %U %S'
		{ time "$LAB" exec "$BURST" --clients "$clients" --ranges "$ranges" --path "$path" \
			--auth "$auth" --verify-file "$WWW/${path#/*/}" --timeout 60 --max-time 600 \
			--label "pace-$v" --out "$tmp/out" --allow-failures >/dev/null 2>&1 || true; } \
			2>"$tmp/time"
		cpu1=$(awk '{print $14 + $15}' "/proc/$gw/task/$gw/stat")
		gcpu1=$(awk '{print $14 + $15}' "/proc/$gw/stat")
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		sigs=$(awk -F, '/signal_deliver/ {print $1}' "$tmp/perf")
		res=$(grep '^RESULT' "$tmp/out" | tail -1)
		field() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
		# frames lost before the gateway read them: the kernel's count (the tap's TX drops,
		# the veth's RX drops) and the PMD's (an AF_XDP ring full is rx_missed)
		drop=$("$CTL" -p "$NS" ports --json | /usr/bin/python3 -c 'import json,sys
p = json.load(sys.stdin)["lab"]
print(p.get("kernel_drops_toward_port", 0) + p.get("rx_missed", 0))')
		st=$(tcp)
		# segments one lcore handed to another (the flow's owner), all lcores
		steered=$("$CTL" -p "$NS" lcores --json | /usr/bin/python3 -c 'import json,sys
d = json.load(sys.stdin)
print(sum(v.get("steered_out", 0) for v in d.values() if isinstance(v, dict)))')
		read -r wall cli_u cli_s <"$tmp/time"
		hz=$(getconf CLK_TCK)
		printf '%-6s %-5s %8s %8s %8s %8s %10s %8s %8s %9s %8s %8s %7s %7s %6s\n' "$r" "$v" "$drop" \
			"$(echo "$st" | jget '["rto_expired"]')" "$(echo "$st" | jget '["retransmits"]')" \
			"$(echo "$st" | jget '["seg_in"]')" "$(field rps)" "$(field p99_ms)" \
			"$(field requests_failed)" "${sigs:-?}" \
			"$(echo "($cpu1 - $cpu0) / $hz" | bc -l | xargs printf '%.2f')" "$steered" \
			"$(echo "($gcpu1 - $gcpu0) / $hz" | bc -l | xargs printf '%.2f')" \
			"$(echo "$cli_u + $cli_s" | bc -l | xargs printf '%.2f')" "$wall" |
			tee -a "$tmp/rows"
	done
done
echo
echo "medians per $key:"
/usr/bin/python3 - "$tmp/rows" <<'EOF'
import os, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r[1], []).append(r)
base = None
for v, rs in by.items():
    med = lambda i: statistics.median(float(x[i]) for x in rs)
    rps = med(6)
    base = base or rps
    sig = statistics.median(float(x[9]) for x in rs if x[9] != "?") if any(x[9] != "?" for x in rs) else -1
    print(f"{v:>5}: tap drops {med(2):.0f}  RTOs {med(3):.0f}  retransmits {med(4):.0f}  "
          f"requests/s {rps:.0f} ({rps / base:.2f}x the first)  p99 {med(7):.0f} ms  "
          f"signals {sig:.0f}  main thread CPU {med(10):.2f} s")
    # where the CPU went: gateway and client CPU seconds against what the CPUs gave
    print(f"       steered {med(11):.0f}  gateway CPU {med(12):.2f} s  client CPU {med(13):.2f} s  "
          f"wall {med(14):.2f} s  ({(med(12) + med(13)) / med(14):.2f} of {os.cpu_count()} CPUs)")
EOF
