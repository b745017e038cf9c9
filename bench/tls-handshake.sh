#!/usr/bin/env bash
# TLS handshakes on one dataplane lcore: full and resumed handshakes/s against nginx (one worker)
# on the same kind of link, and what a stream of full handshakes does to another flow's latency.
#
#   bench/tls-handshake.sh          (root; uses build/app/authgate or $AUTHGATE_BIN)
#
# authgate 198.18.0.2:443 over the lab's net_tap; nginx 198.18.1.2:8443 over a veth into its own
# namespace (why a veth: see bench/http-wrk.sh). The client is `openssl s_time` in the lab
# namespace: -new (a full handshake per connection) and -reuse (resumed with the session's
# ticket), each fetching /pkg/1k.bin. The certificate is made here: CERT=rsa (2048, default) or
# CERT=ec (P-256). The gateway's own measure of each handshake step comes from
# /authgate/tls/stats (hs_step_ns total and max).
#
# Environment: DURATION (s per run, default 10), CERT, AUTHGATE_BIN, KEEP_LAB=1.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB="$TOP/scripts/lab"
export AUTHGATE_LAB=${AUTHGATE_LAB:-authgate-tlsb}
NS=$AUTHGATE_LAB
NG_NS=$AUTHGATE_LAB-nginx
WWW=/var/lib/authgate-lab/www
GW=198.18.0.2
NG_ADDR=198.18.1.2
NG_CLIENT=198.18.1.1
NG_PORT=8443
DURATION=${DURATION:-10}
CERT=${CERT:-rsa}
export AUTHGATE_BIN=${AUTHGATE_BIN:-$TOP/build/app/authgate}

die() {
	echo "tls-handshake: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, the lab)"
command -v nginx >/dev/null || die "nginx is missing (scripts/install-deps installs nginx-light)"
command -v openssl >/dev/null || die "openssl is missing"
[ -x "$AUTHGATE_BIN" ] || die "no gateway at $AUTHGATE_BIN (build first)"

TMP=$(mktemp -d /tmp/tls-handshake.XXXXXX)
chmod 755 "$TMP"
STARTED_LAB=0
NGINX_PID=
LOAD_PID=

cleanup() {
	set +e
	[ -n "$LOAD_PID" ] && kill -TERM "$LOAD_PID" 2>/dev/null
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

case "$CERT" in
rsa) keyopt=(-newkey rsa:2048) ;;
ec) keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
*) die "CERT is rsa or ec" ;;
esac
openssl req -x509 "${keyopt[@]}" -sha256 -nodes -days 2 -keyout "$TMP/key.pem" \
	-out "$TMP/cert.pem" -subj /CN=gw.authgate.test 2>/dev/null

ip netns list | grep -qw "$NS" && die "namespace $NS is in use (AUTHGATE_LAB=$AUTHGATE_LAB)"
cp "$TOP/configs/lab.ini" "$TMP/gw.ini"
printf '\n[tls]\ncertificate = %s\nkey = %s\n' "$TMP/cert.pem" "$TMP/key.pem" >>"$TMP/gw.ini"
"$LAB" up "$TMP/gw.ini" >/dev/null
STARTED_LAB=1

ip netns add "$NG_NS"
ip -n "$NS" link add agb0 type veth peer name agb1 netns "$NG_NS"
ip -n "$NS" addr add "$NG_CLIENT/24" dev agb0
ip -n "$NS" link set agb0 mtu 1500 up
ip -n "$NG_NS" addr add "$NG_ADDR/24" dev agb1
ip -n "$NG_NS" link set agb1 mtu 1500 up
ip -n "$NG_NS" link set lo up
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOC
# temporary: bench/tls-handshake.sh; one worker, like authgate's one dataplane lcore
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_timeout 60s;
	default_type application/octet-stream;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	server {
		listen $NG_ADDR:$NG_PORT ssl;
		ssl_certificate $TMP/cert.pem;
		ssl_certificate_key $TMP/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_session_tickets on;
		location /pkg/ { alias $WWW/; }
	}
}
EOC
ip netns exec "$NG_NS" nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" \
	-c "$TMP/nginx/nginx.conf" </dev/null >"$TMP/nginx/stdout" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 50); do
	ip netns exec "$NS" curl -sk -o /dev/null --max-time 1 "https://$NG_ADDR:$NG_PORT/pkg/1k.bin" && break
	kill -0 "$NGINX_PID" 2>/dev/null || { cat "$TMP/nginx/"*; die "nginx did not start"; }
	sleep 0.1
done
for u in "https://$GW/pkg/1k.bin" "https://$NG_ADDR:$NG_PORT/pkg/1k.bin"; do
	h=$(ip netns exec "$NS" curl -sSk --max-time 10 "$u" | sha256sum | cut -d' ' -f1)
	[ "$h" = "$(sha256sum <"$WWW/1k.bin" | cut -d' ' -f1)" ] || die "$u served 1k.bin wrong"
done

# connections s_time made over the wall time it ran (its "real seconds" are whole seconds)
s_time() { # HOST:PORT -new|-reuse VERSION
	local t0 t1 n
	t0=$(date +%s.%N)
	n=$(ip netns exec "$NS" timeout $((DURATION + 30)) openssl s_time -connect "$1" "$2" "$3" \
		-www /pkg/1k.bin -time "$DURATION" 2>/dev/null |
		awk '/connections in [0-9]+ real seconds/ { n = $1 } END { print n + 0 }')
	t1=$(date +%s.%N)
	awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}
tel() { "${AUTHGATE_CTL:-$(dirname "$AUTHGATE_BIN")/authgate-ctl}" -p "$NS" --json raw /authgate/tls/stats; }

echo "tls-handshake: ${DURATION}s per run, $CERT certificate; authgate over net_tap, nginx over veth"
declare -A R
# the lcore's time in SSL_do_handshake per handshake completed, over one run
hs_sum() { tel | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["hs_step_ns"], d["handshakes"] + d["resumed"])'; }
hs_cost() { # before after -> microseconds per handshake
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
		n = y[2] - x[2]; printf "%.0f", (n > 0 ? (y[1] - x[1]) / n / 1000 : 0) }'
}
for v in -tls1_3 -tls1_2; do
	h0=$(hs_sum)
	R[ag_new$v]=$(s_time "$GW:443" -new "$v")
	h1=$(hs_sum)
	R[ng_new$v]=$(s_time "$NG_ADDR:$NG_PORT" -new "$v")
	R[ag_reuse$v]=$(s_time "$GW:443" -reuse "$v")
	h2=$(hs_sum)
	R[ng_reuse$v]=$(s_time "$NG_ADDR:$NG_PORT" -reuse "$v")
	R[cost_new$v]=$(hs_cost "$h0" "$h1")
	R[cost_reuse$v]=$(hs_cost "$h1" "$h2")
done
st=$(tel)
steps=$(echo "$st" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["hs_steps"], d["hs_step_ns"], d["hs_step_ns_max"], d["handshakes"], d["resumed"])')
read -r hs_steps hs_ns hs_max hs_full hs_resumed <<<"$steps"

# another flow's latency, idle and under a stream of full handshakes (TLS 1.3), twice each:
# the machine is shared, one round alone says little
stall() { ip netns exec "$NS" python3 "$TOP/bench/tls_stall.py" "$GW" "$DURATION"; }
loaded_stall() {
	ip netns exec "$NS" timeout $((DURATION + 30)) openssl s_time -connect "$GW:443" -new \
		-tls1_3 -time $((DURATION + 2)) >/dev/null 2>&1 &
	LOAD_PID=$!
	sleep 1
	stall
	wait "$LOAD_PID" 2>/dev/null || true
	LOAD_PID=
}
base1=$(stall)
loaded1=$(loaded_stall)
base2=$(stall)
loaded2=$(loaded_stall)
st2=$(tel)
hs_max2=$(echo "$st2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hs_step_ns_max"])')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
printf '\n%-36s %10s %10s %7s\n' "measure" "authgate" "nginx" "ratio"
for v in -tls1_3 -tls1_2; do
	printf '%-36s %10s %10s %7s\n' "full handshakes/s ${v#-}" "${R[ag_new$v]}" "${R[ng_new$v]}" \
		"$(ratio "${R[ag_new$v]}" "${R[ng_new$v]}")"
	printf '%-36s %10s %10s %7s\n' "resumed handshakes/s ${v#-}" "${R[ag_reuse$v]}" \
		"${R[ng_reuse$v]}" "$(ratio "${R[ag_reuse$v]}" "${R[ng_reuse$v]}")"
done
echo
echo "gateway: $hs_full full + $hs_resumed resumed handshakes in $hs_steps SSL_do_handshake steps," \
	"$(awk -v a="$hs_ns" -v b="$hs_steps" 'BEGIN { printf "%.0f", b ? a / b / 1000 : 0 }') us per step," \
	"longest $(awk -v a="$hs_max2" 'BEGIN { printf "%.0f", a / 1000 }') us"
for v in -tls1_3 -tls1_2; do
	echo "lcore time per handshake ${v#-}: full ${R[cost_new$v]} us, resumed ${R[cost_reuse$v]} us"
done
echo "another flow's GET latency, us (requests p50 p99 max):"
echo "  idle                 $base1 | $base2"
echo "  under full handshakes $loaded1 | $loaded2"
read -r _ _ bp99 _ <<<"$base2"
read -r _ _ lp99 lmax <<<"$loaded2"
echo
for v in -tls1_3 -tls1_2; do
	echo "RESULT authgate_full_hs_per_s${v/-tls1_/_tls1}=${R[ag_new$v]}"
	echo "RESULT nginx_full_hs_per_s${v/-tls1_/_tls1}=${R[ng_new$v]}"
	echo "RESULT authgate_resumed_hs_per_s${v/-tls1_/_tls1}=${R[ag_reuse$v]}"
	echo "RESULT nginx_resumed_hs_per_s${v/-tls1_/_tls1}=${R[ng_reuse$v]}"
done
for v in -tls1_3 -tls1_2; do
	echo "RESULT lcore_us_per_full_hs${v/-tls1_/_tls1}=${R[cost_new$v]}"
	echo "RESULT lcore_us_per_resumed_hs${v/-tls1_/_tls1}=${R[cost_reuse$v]}"
done
echo "RESULT hs_step_us_mean=$(awk -v a="$hs_ns" -v b="$hs_steps" 'BEGIN { printf "%.0f", b ? a / b / 1000 : 0 }')"
echo "RESULT hs_step_us_max=$(awk -v a="$hs_max2" 'BEGIN { printf "%.0f", a / 1000 }')"
echo "RESULT stall_p99_us_idle=$bp99"
echo "RESULT stall_p99_us_loaded=$lp99"
echo "RESULT stall_max_us_loaded=$lmax"
echo "RESULT cert=$CERT"
