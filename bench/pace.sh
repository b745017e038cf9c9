#!/usr/bin/env bash
# Paced output on and off, side by side: frames the tap dropped toward the gateway, RTOs, rate.
#
#   bench/pace.sh                         2000 clients x (HEAD + 10 x 64 KiB) of /secure/64m.bin
#   bench/pace.sh --clients 5000 --rounds 2 --values "0 32 64"
#
# Each round runs the burst once per --values entry ([dataplane] tx_step_segments; 0 = not
# paced), in that order, each on a fresh lab; rounds alternate so machine noise hits every
# value alike. Prints one line per run and the medians per value.
# options: --clients N --ranges K --path P --rounds R --values "V..." --extra "INI LINES"
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

clients=2000 ranges=10 path=/secure/64m.bin rounds=1 values="0 32" extra=""
while [ $# -gt 0 ]; do
	case $1 in
	--clients) clients=$2; shift ;;
	--ranges) ranges=$2; shift ;;
	--path) path=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--values) values=$2; shift ;;
	--extra) extra=$2; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

printf '%-6s %-5s %8s %8s %8s %8s %10s %8s %8s\n' round step tap_drop rto rexmit seg_in rps p99_ms failed
for r in $(seq 1 "$rounds"); do
	for v in $values; do
		conf=$tmp/pace-$v.ini
		awk -v v="$v" -v extra="$extra" '
			{ print }
			/^\[dataplane\]/ { print "tx_step_segments = " v; if (extra != "") print extra }' \
			"$TOP/configs/lab.ini" >"$conf"
		"$LAB" down >/dev/null 2>&1 || true
		"$LAB" up "$conf" >/dev/null
		"$LAB" exec "$BURST" --clients "$clients" --ranges "$ranges" --path "$path" \
			--auth "$auth" --verify-file "$WWW/${path#/*/}" --timeout 60 --max-time 600 \
			--label "pace-$v" --out "$tmp/out" --allow-failures >/dev/null 2>&1 || true
		res=$(grep '^RESULT' "$tmp/out" | tail -1)
		field() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
		# the tap's TX (kernel to gateway) drops: frames the gateway never read
		drop=$(ip -n "$NS" -s -j link show dev "$(cat "/run/$NS/iface")" |
			jget '[0]["stats64"]["tx"]["dropped"]')
		st=$(tcp)
		printf '%-6s %-5s %8s %8s %8s %8s %10s %8s %8s\n' "$r" "$v" "$drop" \
			"$(echo "$st" | jget '["rto_expired"]')" "$(echo "$st" | jget '["retransmits"]')" \
			"$(echo "$st" | jget '["seg_in"]')" "$(field rps)" "$(field p99_ms)" \
			"$(field requests_failed)" | tee -a "$tmp/rows"
	done
done
echo
echo "medians per tx_step_segments:"
/usr/bin/python3 - "$tmp/rows" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r[1], []).append(r)
base = None
for v, rs in by.items():
    med = lambda i: statistics.median(float(x[i]) for x in rs)
    rps = med(6)
    base = base or rps
    print(f"step {v:>4}: tap drops {med(2):.0f}  RTOs {med(3):.0f}  retransmits {med(4):.0f}  "
          f"requests/s {rps:.0f} ({rps / base:.2f}x the first)  p99 {med(7):.0f} ms")
EOF
