#!/usr/bin/env bash
# Side-by-side wrk benchmark: authgate in the lab against nginx serving the same files.
#
#   bench/http-wrk.sh            (root; builds nothing: uses build/app/authgate or $AUTHGATE_BIN)
#
# Both servers are reached by the same wrk from the authgate-lab namespace:
#   authgate  198.18.0.2:80    over the lab's net_tap (kernel ag0 <-> DPDK, 1 dataplane lcore)
#   nginx     198.18.1.2:8080  over a veth pair (MTU 1500) into a second namespace, 1 worker
# Not over the tap: the tap's far end belongs to authgate. Not on 198.18.0.1 either: a local
# address is loopback (64 KiB MTU, no link), which flatters the kernel's goodput. A veth is the
# closest kernel link to the tap: one hop, MTU 1500, both stacks doing real TCP.
#
# Environment: DURATION (s per run, default 10), AUTHGATE_BIN, KEEP_LAB=1 (leave it up if we
# started it; default: take it down).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB="$TOP/scripts/lab"
# its own lab instance by default, so it never touches a lab someone else is using
export AUTHGATE_LAB=${AUTHGATE_LAB:-authgate-wrk}
NS=$AUTHGATE_LAB
NG_NS=$AUTHGATE_LAB-nginx
WWW=/var/lib/authgate-lab/www
GW=198.18.0.2
NG_ADDR=198.18.1.2
NG_CLIENT=198.18.1.1
NG_PORT=8080
DURATION=${DURATION:-10}
export AUTHGATE_BIN=${AUTHGATE_BIN:-$TOP/build/app/authgate}

die() {
	echo "http-wrk: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, the lab)"
command -v wrk >/dev/null || die "wrk is missing (scripts/install-deps)"
command -v nginx >/dev/null || die "nginx is missing (scripts/install-deps installs nginx-light)"
[ -x "$AUTHGATE_BIN" ] || die "no gateway at $AUTHGATE_BIN (build first)"

TMP=$(mktemp -d /tmp/http-wrk.XXXXXX)
STARTED_LAB=0
NGINX_PID=

cleanup() {
	set +e
	if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
		kill -TERM "$NGINX_PID"
		for _ in $(seq 1 50); do
			kill -0 "$NGINX_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	ip netns del "$NG_NS" 2>/dev/null
	ip -n "$NS" link del agb0 2>/dev/null
	if [ "$STARTED_LAB" = 1 ] && [ "${KEEP_LAB:-0}" != 1 ]; then
		"$LAB" down >/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The lab is shared: wait for whoever has it to finish, never take theirs down.
for i in $(seq 1 60); do
	if ! "$LAB" status | grep -q "gateway: running" && ! ip netns list | grep -qw "$NS"; then
		break
	fi
	[ "$i" = 60 ] && die "the lab stayed in use for 5 minutes; try later"
	[ "$i" = 1 ] && echo "http-wrk: the lab is in use; waiting (up to 5 min)"
	sleep 5
done
"$LAB" up >/dev/null
STARTED_LAB=1

# nginx's own namespace and link
ip netns add "$NG_NS"
ip -n "$NS" link add agb0 type veth peer name agb1 netns "$NG_NS"
ip -n "$NS" addr add "$NG_CLIENT/24" dev agb0
ip -n "$NS" link set agb0 mtu 1500 up
ip -n "$NG_NS" addr add "$NG_ADDR/24" dev agb1
ip -n "$NG_NS" link set agb1 mtu 1500 up
ip -n "$NG_NS" link set lo up

mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
# temporary: bench/http-wrk.sh; one worker, like authgate's one dataplane lcore
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 60s;
	keepalive_requests 1000000;
	default_type application/octet-stream;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	server {
		listen $NG_ADDR:$NG_PORT;
		location /pkg/ { alias $WWW/; }
	}
}
EOF
# ip netns exec execs nginx: $! is the master's pid (daemon off)
ip netns exec "$NG_NS" nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" \
	-c "$TMP/nginx/nginx.conf" </dev/null >"$TMP/nginx/stdout" 2>&1 &
NGINX_PID=$!

AG_URL="http://$GW/pkg"
NG_URL="http://$NG_ADDR:$NG_PORT/pkg"
for _ in $(seq 1 50); do
	ip netns exec "$NS" curl -s -o /dev/null --max-time 1 "$NG_URL/1k.bin" && break
	kill -0 "$NGINX_PID" 2>/dev/null || { cat "$TMP/nginx/"*; die "nginx did not start"; }
	sleep 0.1
done

# Same bytes from both, or the comparison means nothing.
for f in 1k.bin 64m.bin; do
	a=$(ip netns exec "$NS" curl -sS --max-time 60 "$AG_URL/$f" | sha256sum | cut -d' ' -f1)
	n=$(ip netns exec "$NS" curl -sS --max-time 60 "$NG_URL/$f" | sha256sum | cut -d' ' -f1)
	w=$(sha256sum <"$WWW/$f" | cut -d' ' -f1)
	[ "$a" = "$w" ] || die "authgate served $f wrong"
	[ "$n" = "$w" ] || die "nginx served $f wrong"
done

# wrk's summary -> "rps MiB/s non2xx sockerr"
run_wrk() { # CONNS URL [wrk options...]
	local out c=$1 u=$2
	shift 2
	out=$(ip netns exec "$NS" timeout $((DURATION + 40)) \
		wrk -t1 -c"$c" -d"${DURATION}s" --timeout 30s "$@" "$u")
	echo "$out" >>"$TMP/wrk.log"
	echo "$out" | awk '
		/^Requests\/sec:/ { rps = $2 }
		/^Transfer\/sec:/ {
			v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
			m = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1 / 1024 : 1 / 1048576
			mib = v * m
		}
		/Non-2xx or 3xx responses:/ { non2xx = $NF }
		/Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
		END { printf "%s %.1f %d %d\n", rps, mib, non2xx, err }'
}

echo "http-wrk: ${DURATION}s per run; authgate over net_tap, nginx over veth (see the top of this script)"
read -r ag_rps _ ag_e1 ag_s1 < <(run_wrk 32 "$AG_URL/1k.bin")
read -r ng_rps _ ng_e1 ng_s1 < <(run_wrk 32 "$NG_URL/1k.bin")
read -r _ ag_mib ag_e2 ag_s2 < <(run_wrk 4 "$AG_URL/64m.bin")
read -r _ ng_mib ng_e2 ng_s2 < <(run_wrk 4 "$NG_URL/64m.bin")
# one request per connection: connection set-up and teardown rate (TCP handshake, FIN, TIME_WAIT)
read -r ag_cps _ ag_e3 ag_s3 < <(run_wrk 16 "$AG_URL/1k.bin" -H "Connection: close")
read -r ng_cps _ ng_e3 ng_s3 < <(run_wrk 16 "$NG_URL/1k.bin" -H "Connection: close")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
r1=$(ratio "$ag_rps" "$ng_rps")
r2=$(ratio "$ag_mib" "$ng_mib")
r3=$(ratio "$ag_cps" "$ng_cps")

printf '\n%-34s %14s %14s %8s\n' "measure" "authgate" "nginx" "ratio"
printf '%-34s %14s %14s %8s\n' "1 KiB GET, keep-alive, c=32 req/s" "$ag_rps" "$ng_rps" "$r1"
printf '%-34s %14s %14s %8s\n' "64 MiB GET, c=4 goodput MiB/s" "$ag_mib" "$ng_mib" "$r2"
printf '%-34s %14s %14s %8s\n' "new connection per request, c=16/s" "$ag_cps" "$ng_cps" "$r3"
printf '%-34s %14s %14s\n' "non-2xx / socket errors" "$((ag_e1 + ag_e2 + ag_e3))/$((ag_s1 + ag_s2 + ag_s3))" \
	"$((ng_e1 + ng_e2 + ng_e3))/$((ng_s1 + ng_s2 + ng_s3))"
echo
echo "RESULT authgate_1k_rps=$ag_rps"
echo "RESULT nginx_1k_rps=$ng_rps"
echo "RESULT ratio_1k_rps=$r1"
echo "RESULT authgate_64m_mibps=$ag_mib"
echo "RESULT nginx_64m_mibps=$ng_mib"
echo "RESULT ratio_64m_goodput=$r2"
echo "RESULT authgate_conn_per_s=$ag_cps"
echo "RESULT nginx_conn_per_s=$ng_cps"
echo "RESULT ratio_conn_per_s=$r3"
echo "RESULT authgate_errors=$((ag_e1 + ag_e2 + ag_e3 + ag_s1 + ag_s2 + ag_s3))"
echo "RESULT nginx_errors=$((ng_e1 + ng_e2 + ng_e3 + ng_s1 + ng_s2 + ng_s3))"
echo "RESULT nginx_link=veth-mtu1500"
