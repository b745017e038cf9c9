#!/usr/bin/env bash
# The 5000-client burst: authgate with persistence on and off, and Apache + mod_auth_gssapi, side by side.
#
#   bench/burst.sh            5000 clients x (HEAD + 20 x 64 KiB) of /secure/64m.bin, four runs
#   bench/burst.sh --quick    5000 clients x (HEAD + 4 x 64 KiB), authgate with persistence only
#   bench/burst.sh --tls      authgate (persistence on) over HTTP and over HTTPS ([tls], RSA-2048)
#
# options: --clients N --ranges K --range-size S --path /secure/FILE --persist on|off|both
#          --no-apache --rate N --threads N --timeout S --max-time S --out DIR
#          --link tap|af_xdp (the lab's link, AUTHGATE_LAB_LINK; default af_xdp, the faster here)
#          --lcores N ([dataplane] lcores for the gateway, default the config's)
#          --mtu N (the gateway's link MTU, [port lab] mtu; af_xdp on a veth takes up to 3506)
#          --apache-link loopback|veth|veth-gso (default loopback: Apache on the client's own
#          address; veth: in a namespace of its own behind a veth pair with the gateway's MTU and
#          TSO/GSO off, so its frames are what the gateway's link carries; veth-gso: GSO left on)
#          --client-gro on|off (default off; on: GRO on the client host's end of each veth, as a
#          client's NIC has it; slower here, see bench/README.md; AUTHGATE_LAB_CLIENT_GRO)
# env: AUTHGATE_LAB (default authgate-burst), BUILD_DIR (default build), KEEP_LAB=1,
#      TAP_QLEN (default 10000: the client side of the tap queues a 5000-SYN burst)
# Needs root. Brings up its own lab instance (scripts/lab) and always takes it down.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
BURST=$BUILD/bench/authgate-burst
CTL=$BUILD/app/authgate-ctl
export AUTHGATE_BIN=${AUTHGATE_BIN:-$BUILD/app/authgate}
export AUTHGATE_LAB=${AUTHGATE_LAB:-authgate-burst}
NS=$AUTHGATE_LAB
LAB=$TOP/scripts/lab
WWW=/var/lib/authgate-lab/www
TAP_QLEN=${TAP_QLEN:-10000}
APACHE_LISTEN=198.18.0.1:8080

clients=5000 ranges=20 range_size=64K path=/secure/64m.bin persist=both apache=1
rate=0 threads=1 timeout=60 max_time=900 out="" link=af_xdp lcores="" tls=0 mtu="" apache_link=loopback
client_gro=off

die() {
	echo "burst: $*" >&2
	exit 2
}

usage() {
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) clients=5000 ranges=4 persist=on apache=0 max_time=150 ;;
	--tls) tls=1 persist=on apache=0 ;;
	--clients) clients=$2; shift ;;
	--ranges) ranges=$2; shift ;;
	--range-size) range_size=$2; shift ;;
	--path) path=$2; shift ;;
	--persist) persist=$2; shift ;;
	--no-apache) apache=0 ;;
	--apache) apache=1 ;;
	--rate) rate=$2; shift ;;
	--threads) threads=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--max-time) max_time=$2; shift ;;
	--out) out=$2; shift ;;
	--link) link=$2; shift ;;
	--lcores) lcores=$2; shift ;;
	--mtu) mtu=$2; shift ;;
	--apache-link) apache_link=$2; shift ;;
	--client-gro) client_gro=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "burst: unknown option $1" >&2; usage ;;
	esac
	shift
done
case $link in tap | af_xdp) export AUTHGATE_LAB_LINK=$link ;; *) die "--link tap|af_xdp" ;; esac
case $apache_link in loopback | veth | veth-gso) ;; *) die "--apache-link loopback|veth|veth-gso" ;; esac
case $client_gro in on | off) export AUTHGATE_LAB_CLIENT_GRO=$client_gro ;; *) die "--client-gro on|off" ;; esac
case $persist in on) modes=(on) ;; off) modes=(off) ;; both) modes=(on off) ;; *) die "--persist on|off|both" ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, net_tap)"
for b in "$BURST" "$CTL" "$AUTHGATE_BIN"; do
	[ -x "$b" ] || die "no $b: build first (meson setup build && ninja -C build)"
done
case $path in /secure/* | /pkg/*) ;; *) die "--path must be under /secure/ or /pkg/" ;; esac
file=$WWW/${path#/*/}
auth=negotiate
[ "${path#/pkg/}" != "$path" ] && auth=none
if [ "$NS" = authgate-lab ]; then
	die "AUTHGATE_LAB=authgate-lab is the shared default lab; pick another name"
fi
if "$LAB" status 2>/dev/null | grep -q "gateway: running"; then
	die "lab $NS is already running; take it down (AUTHGATE_LAB=$NS scripts/lab down) or use another AUTHGATE_LAB"
fi

tmp=$(mktemp -d /tmp/authgate-burst.XXXXXX)
chmod 755 "$tmp"
out=${out:-/tmp/authgate-burst-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
apache_dir=""
paused=""

cleanup() {
	set +e
	[ -n "$apache_dir" ] && "$TOP/bench/burst-apache.sh" stop "$apache_dir"
	[ -n "$paused" ] && kill -CONT "$paused" 2>/dev/null
	[ -n "${APACHE_NS:-}" ] && ip netns del "$APACHE_NS" 2>/dev/null
	[ -f "$tmp/sampler.pid" ] && { touch "$tmp/stop"; wait "$(cat "$tmp/sampler.pid")" 2>/dev/null; }
	if [ "${KEEP_LAB:-0}" != 1 ]; then
		"$LAB" down >/dev/null 2>&1
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

validations() {
	"$CTL" -p "$NS" auth --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["validations"])'
}

# run_burst NAME EXTRA-ARGS...: the client in the lab namespace, output kept in $out/NAME.*
run_burst() {
	local name=$1 rc=0
	shift
	echo
	echo "== $name: $clients clients x (HEAD + $ranges x $range_size) $path"
	"$LAB" exec "$BURST" --clients "$clients" --ranges "$ranges" --range-size "$range_size" \
		--path "$path" --auth "$auth" --verify-file "$file" --threads "$threads" \
		--rate "$rate" --timeout "$timeout" --max-time "$max_time" --label "$name" \
		--series "$out/$name.series" --cdf "$out/$name.cdf" --out "$out/$name.out" \
		--allow-failures "$@" || rc=$?
	[ "$rc" -eq 0 ] || echo "burst: $name: authgate-burst exited $rc" >&2
	return 0
}

lab_up() { # CONFIG
	"$LAB" down >/dev/null 2>&1 || true
	"$LAB" up "$1" >/dev/null
	# the kernel side of the tap is the client host's NIC queue; 1000 packets drop a 5000-SYN burst
	# (on a veth the same setting is the client's own queue: harmless)
	ip -n "$NS" link set ag0 txqueuelen "$TAP_QLEN"
}

run_authgate() { # on|off [tls]
	local p=$1 val conf=$tmp/lab-persist-$1.ini v0 v1 name=authgate-$1 extra=()
	val=yes
	[ "$p" = off ] && val=no
	grep -q '^persist_non_ntlm = yes$' "$TOP/configs/lab.ini" || die "configs/lab.ini has no 'persist_non_ntlm = yes' line to edit"
	sed "s/^persist_non_ntlm = yes$/persist_non_ntlm = $val/" "$TOP/configs/lab.ini" >"$conf"
	if [ -n "$lcores" ]; then
		# dataplane lcores 1..N, the main lcore 0, all on the machine's CPUs in turn
		sed -i -e "s/^lcores = 0-1$/lcores = 0-$lcores\ncpus = 0-$(($(nproc) - 1))/" \
			-e "/^\[dataplane\]/,/^\[/ s/^lcores = 1$/lcores = 1-$lcores/" "$conf"
	fi
	if [ -n "$mtu" ]; then
		grep -q '^mtu = 1500$' "$conf" || die "configs/lab.ini has no 'mtu = 1500' line to edit"
		sed -i "s/^mtu = 1500$/mtu = $mtu/" "$conf"
	fi
	if [ "${2:-}" = tls ]; then
		# HTTPS: a certificate made here; the client does not check it
		openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 2 -keyout "$tmp/key.pem" \
			-out "$tmp/cert.pem" -subj /CN=gw.authgate.test 2>/dev/null
		printf '\n[tls]\ncertificate = %s\nkey = %s\n' "$tmp/cert.pem" "$tmp/key.pem" >>"$conf"
		name=authgate-$1-tls
		extra=(--tls --port 443)
	fi
	lab_up "$conf"
	v0=$(validations)
	rm -f "$tmp/stop"
	/usr/bin/python3 "$TOP/bench/burst_sample.py" "$CTL" "$NS" "$out/$name.samples" "$tmp/stop" \
		"$((max_time + 300))" &
	echo $! >"$tmp/sampler.pid"
	run_burst "$name" --persist-hint "$p" "${extra[@]}"
	touch "$tmp/stop"
	wait "$(cat "$tmp/sampler.pid")" 2>/dev/null || true
	rm -f "$tmp/sampler.pid"
	v1=$(validations)
	printf 'server=authgate\npersist=%s\nvalidations=%s\nlink=net_%s%s\nmtu=%s\nclient_gro=%s\n' \
		"$p" "$((v1 - v0))" "$link" "${2:+-$2}" "${mtu:-1500}" \
		"$([ "$link" = af_xdp ] && echo "$client_gro" || echo -)" >"$out/$name.meta"
}

# Apache's own namespace behind a veth pair: 198.18.2.1 (lab side) - 198.18.2.2 (Apache)
apache_ns_up() {
	local m=${mtu:-1500}
	APACHE_NS=$NS-apache
	ip netns add "$APACHE_NS"
	ip -n "$APACHE_NS" link set lo up
	ip -n "$NS" link add aga0 type veth peer name aga1 netns "$APACHE_NS"
	ip -n "$NS" link set aga0 mtu "$m" up
	ip -n "$NS" addr add 198.18.2.1/24 dev aga0
	ip -n "$APACHE_NS" link set aga1 mtu "$m" up
	ip -n "$APACHE_NS" addr add 198.18.2.2/24 dev aga1
	# the client's many source addresses (198.18.0.0/24) are reached back through the lab side
	ip -n "$APACHE_NS" route add 198.18.0.0/24 via 198.18.2.1
	if [ "$apache_link" = veth ]; then
		# the kernel then cuts Apache's writes into MTU-sized frames itself, one skb each,
		# as the gateway's link carries them
		ip netns exec "$NS" "$TOP/scripts/ethtool-set" aga0 gso=off tso=off
		ip netns exec "$APACHE_NS" "$TOP/scripts/ethtool-set" aga1 gso=off tso=off
	fi
	# the client's end, as on the gateway's veth
	if [ "$client_gro" = on ]; then
		ip netns exec "$NS" "$TOP/scripts/ethtool-set" aga0 gro=on
	fi
	APACHE_LISTEN=198.18.2.2:8080
}

run_apache() { # on|off
	local p=$1 name=apache-$1 tokens ns=$NS
	apache_dir=$tmp/apache-$p
	mkdir -p "$apache_dir"
	chmod 755 "$apache_dir"
	[ "$apache_link" != loopback ] && ns=$APACHE_NS
	(
		eval "$(AUTHGATE_REALM_DIR=/run/$NS-realm "$TOP/scripts/realm" env)"
		"$TOP/bench/burst-apache.sh" start "$apache_dir" "$ns" "$APACHE_LISTEN" "$p"
	)
	run_burst "$name" --persist-hint "$p" --addr "${APACHE_LISTEN%:*}" --port "${APACHE_LISTEN#*:}"
	"$TOP/bench/burst-apache.sh" stop "$apache_dir"
	apache_dir=""
	# Apache has no counter we can read: every token it answered was one validation (tokens on
	# attempts it closed without answering never reached mod_auth_gssapi)
	tokens=$(sed -n 's/^RESULT .* tokens_sent=\([0-9]*\) tokens_unanswered=\([0-9]*\).*/\1 \2/p' "$out/$name.out")
	[ -n "$tokens" ] && tokens=$((${tokens% *} - ${tokens#* }))
	printf 'server=apache\npersist=%s\nvalidations=%s\nlink=%s\nmtu=%s\nclient_gro=%s\n' "$p" \
		"${tokens:-}" "$apache_link" \
		"$([ "$apache_link" = loopback ] && echo 65536 || echo "${mtu:-1500}")" \
		"$([ "$apache_link" = loopback ] && echo - || echo "$client_gro")" >"$out/$name.meta"
}

echo "burst: lab $NS, output in $out"
runs=()
for p in "${modes[@]}"; do
	run_authgate "$p"
	runs+=("authgate-$p")
	if [ "$tls" = 1 ]; then
		run_authgate "$p" tls
		runs+=("authgate-$p-tls")
	fi
done
if [ "$apache" = 1 ] && [ "$auth" = negotiate ]; then
	# Apache runs in the lab namespace on 198.18.0.1 (the client side of the tap, so the kernel
	# delivers locally); the gateway is paused meanwhile so its idle polling takes no CPU
	paused=$(cat "/run/$NS/authgate.pid")
	kill -STOP "$paused"
	[ "$apache_link" != loopback ] && apache_ns_up
	for p in "${modes[@]}"; do
		run_apache "$p"
		runs+=("apache-$p")
	done
	kill -CONT "$paused"
	paused=""
fi

echo
echo "== burst comparison ($clients clients x (HEAD + $ranges x $range_size) $path, auth $auth)"
/usr/bin/python3 "$TOP/bench/burst_report.py" "$out" "${runs[@]}" | tee "$out/report.txt"
grep -h '^RESULT' "$out"/*.out >"$out/results.txt"
echo
echo "burst: raw output, RESULT lines and plots in $out"
