#!/usr/bin/env bash
# Apache httpd + mod_auth_gssapi for the burst side-by-side: a private instance in a lab namespace.
#
#   bench/burst-apache.sh start DIR NETNS ADDR:PORT on|off   config in DIR, run, wait until it answers
#   bench/burst-apache.sh stop DIR                            SIGTERM by the pid we recorded, wait
#
# on = GssapiConnectionBound On + GssapiSignalPersistentAuth On (authenticate once per connection,
# say so with Persistent-Auth: true); off = both Off (a token on every request).
# Never the system service: its own ServerRoot, config, pid file and logs in DIR; the realm's
# service keytab (KRB5_KTNAME) and krb5.conf (KRB5_CONFIG) are copied in for the www-data workers.
# Serves /var/lib/authgate-lab/www as /pkg (open) and /secure (Negotiate), like configs/lab.ini.
set -euo pipefail

MODS=/usr/lib/apache2/modules
WWW=/var/lib/authgate-lab/www

die() {
	echo "burst-apache: $*" >&2
	exit 1
}

cmd_start() {
	local dir=$1 ns=$2 listen=$3 persist=$4 bound pid
	[ -x /usr/sbin/apache2 ] && [ -f "$MODS/mod_auth_gssapi.so" ] ||
		die "apache2 or libapache2-mod-auth-gssapi missing: run scripts/install-deps"
	[ -n "${KRB5_KTNAME:-}" ] && [ -n "${KRB5_CONFIG:-}" ] ||
		die "KRB5_KTNAME and KRB5_CONFIG must name the lab realm (eval \"\$(scripts/realm env)\")"
	case $persist in
	on) bound=On ;;
	off) bound=Off ;;
	*) die "persistence must be on or off" ;;
	esac
	mkdir -p "$dir/rcache"
	cp "${KRB5_KTNAME#FILE:}" "$dir/http.keytab"
	cp "$KRB5_CONFIG" "$dir/krb5.conf"
	chown -R www-data:www-data "$dir/rcache" "$dir/http.keytab"
	chmod 600 "$dir/http.keytab"
	chmod 644 "$dir/krb5.conf"
	cat >"$dir/httpd.conf" <<EOF
# Written by bench/burst-apache.sh: a private Apache for the authgate burst side-by-side.
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error.log"
LogLevel warn
ServerName gw.authgate.test
Listen $listen
# the burst opens thousands of connections at once
ListenBacklog 8192

LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule authn_core_module $MODS/mod_authn_core.so
LoadModule authz_user_module $MODS/mod_authz_user.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule auth_gssapi_module $MODS/mod_auth_gssapi.so
User www-data
Group www-data

# event MPM sized for a burst on two cores: 1024 workers, idle keep-alive connections parked
StartServers 16
ServerLimit 16
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 1024
MinSpareThreads 64
MaxSpareThreads 1024
AsyncRequestWorkerFactor 8
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
Timeout 60
EnableSendfile On

DocumentRoot "$WWW"
Alias /pkg "$WWW"
Alias /secure "$WWW"
<Directory "$WWW">
	Require all granted
</Directory>
<Location /secure>
	AuthType GSSAPI
	AuthName "authgate burst"
	GssapiCredStore keytab:$dir/http.keytab
	GssapiAllowedMech krb5
	GssapiBasicAuth Off
	GssapiConnectionBound $bound
	GssapiSignalPersistentAuth $bound
	Require valid-user
</Location>
EOF
	ip netns exec "$ns" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		KRB5_CONFIG="$dir/krb5.conf" KRB5_KTNAME="FILE:$dir/http.keytab" \
		KRB5RCACHEDIR="$dir/rcache" \
		/usr/sbin/apache2 -f "$dir/httpd.conf" -D FOREGROUND </dev/null >"$dir/stdout.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/started.pid"
	for _ in $(seq 1 100); do
		if ip netns exec "$ns" curl -s -o /dev/null -m 1 "http://$listen/pkg/hello.txt"; then
			echo "burst-apache: up (pid $pid) on $listen in $ns, persistence $persist"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/stdout.log" "$dir/error.log" >&2 2>/dev/null || true
	cmd_stop "$dir"
	die "apache did not answer on $listen"
}

cmd_stop() {
	local dir=$1 pid
	pid=$(cat "$dir/started.pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	# the pid is ip-netns-exec's, which exec'd apache2: only signal it while it is apache2
	if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = apache2 ]; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/started.pid"
}

case "${1:-}" in
start)
	[ $# -eq 5 ] || die "usage: start DIR NETNS ADDR:PORT on|off"
	cmd_start "$2" "$3" "$4" "$5"
	;;
stop)
	[ $# -eq 2 ] || die "usage: stop DIR"
	cmd_stop "$2"
	;;
*)
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
