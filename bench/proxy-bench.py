#!/usr/bin/python3
"""The reverse proxy benchmark: one client, one upstream, three paths, side by side in one run.

    bench/proxy-bench.py [--clients 5000] [--ranges 4] [--range-size 64K] [--out DIR]

authgate-burst (the BITS-like walk: HEAD, then ranged GETs) against the same nginx serving
/var/lib/authgate-lab/www (private instance on 198.18.0.1:8081 in the lab namespace):
  direct    straight to nginx, no authentication
  authgate  through the gateway (Negotiate, persistence on) which proxies to nginx
  apache    through Apache httpd mod_proxy + mod_auth_gssapi (GssapiConnectionBound On,
            the same realm and keytab) to the same nginx
Reports requests/s and latency p50/p99 of each, the ratios to direct and the latency each adds.
The gateway is stopped (SIGSTOP) while the other two run so its polling takes no CPU from them.
Needs root; AUTHGATE_LAB (default agproxy-bench) names its lab instance, taken down at the end.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("AUTHGATE_LAB", "agproxy-bench")
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import agtest as t  # noqa: E402

WWW = "/var/lib/authgate-lab/www"
UP = "198.18.0.1"
NGX_PORT = 8081
APACHE_PORT = 8080
MODS = "/usr/lib/apache2/modules"


APACHE = """
ServerRoot "{d}"
DefaultRuntimeDir "{d}"
PidFile "{d}/httpd.pid"
ErrorLog "{d}/apache-error.log"
LogLevel warn
ServerName gw.authgate.test
Listen {up}:{port}
ListenBacklog 8192
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule authn_core_module {mods}/mod_authn_core.so
LoadModule authz_user_module {mods}/mod_authz_user.so
LoadModule auth_gssapi_module {mods}/mod_auth_gssapi.so
LoadModule proxy_module {mods}/mod_proxy.so
LoadModule proxy_http_module {mods}/mod_proxy_http.so
User www-data
Group www-data
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
ProxyPass /papp/ http://{up}:{ngx}/papp/ keepalive=On
<Location /papp>
    AuthType GSSAPI
    AuthName "authgate proxy bench"
    GssapiCredStore keytab:{d}/http.keytab
    GssapiAllowedMech krb5
    GssapiBasicAuth Off
    GssapiConnectionBound On
    GssapiSignalPersistentAuth On
    Require valid-user
</Location>
"""


def result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return dict(f.split("=", 1) for f in line.split()[1:])
    return None


def burst(args, out, name, addr, port, auth):
    burst_bin = os.path.join(t.BUILD, "bench", "authgate-burst")
    cmd = (f'eval "$({TOP}/scripts/realm env)"; exec {burst_bin} --clients {args.clients} '
           f'--ranges {args.ranges} --range-size {args.range_size} --path /papp/64m.bin '
           f'--addr {addr} --port {port} --auth {auth} --persist-hint on '
           f'--verify-file {WWW}/64m.bin --timeout 120 --max-time {args.max_time} --label {name} '
           f'--out {out}/{name}.out --cdf {out}/{name}.cdf --allow-failures')
    print(f"\n== {name}: {args.clients} clients x (HEAD + {args.ranges} x {args.range_size}) via {addr}:{port}",
          flush=True)
    p = t.in_ns("bash", "-c", cmd, check=False)
    print(p.stdout[-1800:], end="")
    r = result(p.stdout)
    if r is None:
        print(p.stderr[-2000:], file=sys.stderr)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--ranges", type=int, default=4)
    ap.add_argument("--range-size", default="64K")
    ap.add_argument("--max-time", type=int, default=600)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    t.require_root()
    out = args.out or f"/tmp/authgate-proxy-bench-{time.strftime('%Y%m%d-%H%M%S')}"
    os.makedirs(out, exist_ok=True)
    d = tempfile.mkdtemp(prefix=f"{t.NS}-")
    os.chmod(d, 0o755)
    ngx_pid = apache = gw_pid = None
    runs = {}
    try:
        conf = open(os.path.join(TOP, "configs", "lab.ini")).read()
        conf = conf.replace("mbufs = 16383", "mbufs = 131071").replace("memory_mb = 512", "memory_mb = 1536")
        conf = conf.replace("[auth]\n", f"[site /papp]\nupstream = {UP}:{NGX_PORT}\nauth = negotiate\n"
                            "max_idle_upstream = 256\nmax_upstream_conns = 256\nresponse_timeout_s = 120\n\n[auth]\n", 1)
        t.lab_up_config(conf)
        t.run(["ip", "-n", t.NS, "link", "set", "ag0", "txqueuelen", "10000"])
        t.in_ns("sysctl", "-qw", "net.core.somaxconn=16384", "net.ipv4.tcp_max_syn_backlog=16384")
        gw_pid = int(open(f"/run/{t.NS}/authgate.pid").read())
        os.makedirs(os.path.join(d, "rcache"), exist_ok=True)
        ngx_pid = t.start_burst_nginx(d, UP, NGX_PORT, WWW)

        os.kill(gw_pid, signal.SIGSTOP)
        runs["direct"] = burst(args, out, "direct", UP, NGX_PORT, "none")
        os.kill(gw_pid, signal.SIGCONT)
        runs["authgate"] = burst(args, out, "authgate", "198.18.0.2", 80, "negotiate")
        os.kill(gw_pid, signal.SIGSTOP)
        if os.path.exists(f"{MODS}/mod_auth_gssapi.so") and os.path.exists(f"{MODS}/mod_proxy_http.so"):
            realm = f"/run/{t.NS}-realm"
            shutil.copy(f"{realm}/http.keytab", os.path.join(d, "http.keytab"))
            shutil.copy(f"{realm}/krb5.conf", os.path.join(d, "krb5.conf"))
            subprocess.run(["chown", "-R", "www-data:www-data", os.path.join(d, "rcache"),
                            os.path.join(d, "http.keytab")], check=True)
            os.chmod(os.path.join(d, "krb5.conf"), 0o644)
            with open(os.path.join(d, "httpd.conf"), "w") as f:
                f.write(APACHE.format(d=d, up=UP, port=APACHE_PORT, ngx=NGX_PORT, mods=MODS))
            apache = subprocess.Popen(
                ["ip", "netns", "exec", t.NS, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                 f"KRB5_CONFIG={d}/krb5.conf", f"KRB5_KTNAME=FILE:{d}/http.keytab",
                 f"KRB5RCACHEDIR={d}/rcache", "/usr/sbin/apache2", "-f", f"{d}/httpd.conf",
                 "-D", "FOREGROUND"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t.wait_until(lambda: os.path.exists(os.path.join(d, "httpd.pid")), 15, "Apache")
            time.sleep(1)
            runs["apache"] = burst(args, out, "apache", UP, APACHE_PORT, "negotiate")
        else:
            print("apache2 with mod_proxy_http and mod_auth_gssapi missing: no Apache run")
        os.kill(gw_pid, signal.SIGCONT)
        gw_pid = None
        tel = t.telemetry("/authgate/proxy/upstreams")
        with open(os.path.join(out, "proxy-telemetry.json"), "w") as f:
            json.dump(tel, f, indent=1)
    finally:
        if gw_pid is not None:
            os.kill(gw_pid, signal.SIGCONT)
        if apache is not None:
            apache.terminate()
            try:
                apache.wait(15)
            except subprocess.TimeoutExpired:
                apache.kill()
        if ngx_pid is not None:
            try:
                os.kill(ngx_pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass
        t.lab("down", check=False)
        shutil.rmtree(d, ignore_errors=True)

    base = runs.get("direct")
    lines = [f"{'path':10} {'ok/planned':>13} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} "
             f"{'rps/direct':>10} {'+p50 ms':>9} {'+p99 ms':>9}"]
    for name, r in runs.items():
        if r is None:
            lines.append(f"{name:10} no RESULT")
            continue
        planned = args.clients * (args.ranges + 1)
        rps, p50, p99 = float(r["rps"]), float(r["p50_ms"]), float(r["p99_ms"])
        ratio = rps / float(base["rps"]) if base and float(base["rps"]) > 0 else 0
        d50 = p50 - float(base["p50_ms"]) if base else 0
        d99 = p99 - float(base["p99_ms"]) if base else 0
        lines.append(f"{name:10} {r['requests_ok'] + '/' + str(planned):>13} {rps:8.1f} {p50:9.1f} "
                     f"{p99:9.1f} {ratio:10.2f} {d50:9.1f} {d99:9.1f}")
    report = "\n".join(lines)
    print("\n== proxy benchmark (" + time.strftime("%Y-%m-%d %H:%M") + f", load {os.getloadavg()[0]:.1f})\n"
          + report)
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write(report + "\n")
    print(f"\nraw output in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
