#!/usr/bin/python3
"""A 5000-client burst through the reverse proxy: authgate (Negotiate, persistence on) in front of nginx.

authgate-burst opens 5000 connections at once to /papp/64m.bin; each sends a HEAD and ranged GETs of
64 KiB with a Kerberos token on its first request only. The gateway authenticates each connection once
and proxies every request to nginx (a private instance on 198.18.0.1:8081 in the lab namespace)
over its per-lcore keep-alive pool. Every request must come back right (sizes and bytes checked
against the file), validations = connections, and the pool must have carried the requests.
AUTHGATE_BURST_CLIENTS / AUTHGATE_BURST_RANGES change the size (by hand).
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

CLIENTS = int(os.environ.get("AUTHGATE_BURST_CLIENTS", "5000"))
RANGES = int(os.environ.get("AUTHGATE_BURST_RANGES", "4"))
WWW = "/var/lib/authgate-lab/www"
UP = "198.18.0.1"
PORT = 8081


def patient(fn, *args):
    """A telemetry call that may time out on a loaded two-core box: a few tries."""
    for i in range(6):
        try:
            return fn(*args)
        except (OSError, ValueError, AssertionError):
            if i == 5:
                raise
            time.sleep(2)


def auth_validations():
    return json.loads(t.ctl("auth", "--json").stdout)["validations"]


def result(stdout):
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(f.split("=", 1) for f in line.split()[1:])
    return None


def main():
    t.require_root()
    burst = os.path.join(t.BUILD, "bench", "authgate-burst")
    if not os.access(burst, os.X_OK):
        t.skip(f"no {burst}: build bench/ first")
    check = t.Check()
    d = tempfile.mkdtemp(prefix=f"{t.NS}-pburst-")
    os.chmod(d, 0o755)
    pid = None
    conf = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    assert "persist_non_ntlm = yes" in conf
    # proxied bodies are copied into mbufs (a file is sent zero-copy): 5000 flows of 64 KiB
    # ranges need far more of them than the lab's 16383
    assert "mbufs = 16383" in conf and "memory_mb = 512" in conf
    conf = conf.replace("mbufs = 16383", "mbufs = 131071").replace("memory_mb = 512", "memory_mb = 1536")
    conf = conf.replace("[auth]\n", f"[site /papp]\nupstream = {UP}:{PORT}\nauth = negotiate\n"
                        "max_idle_upstream = 256\nmax_upstream_conns = 256\nresponse_timeout_s = 120\n\n[auth]\n", 1)
    try:
        t.lab_up_config(conf)
        # the client side of the tap queues a 5000-SYN burst (1000 by default drops some)
        t.run(["ip", "-n", t.NS, "link", "set", "ag0", "txqueuelen", "10000"])
        # nginx's accept queue: the kernel caps listen backlogs at somaxconn (4096)
        t.in_ns("sysctl", "-qw", "net.core.somaxconn=16384", "net.ipv4.tcp_max_syn_backlog=16384")
        pid = t.start_burst_nginx(d, UP, PORT, WWW)
        v0 = patient(auth_validations)
        p = t.in_ns("bash", "-c",
                    f'eval "$({t.TOP}/scripts/realm env)"; exec {burst} --clients {CLIENTS} '
                    f'--ranges {RANGES} --range-size 64K --path /papp/64m.bin --auth negotiate '
                    f'--persist-hint on --verify-file {WWW}/64m.bin --timeout 120 --max-time 900 '
                    f'--label proxy-burst', check=False)
        print(p.stdout, end="")
        print(p.stderr[-2000:], end="", file=sys.stderr)
        v1 = patient(auth_validations)
        r = result(p.stdout)
        check(r is not None, "authgate-burst printed a RESULT line")
        if r is not None:
            planned = CLIENTS * (RANGES + 1)
            ok = int(r["requests_ok"])
            check(p.returncode == 0 and ok == planned and int(r["requests_failed"]) == 0,
                  f"every request through the proxy answered right: {ok}/{planned}, "
                  f"failed {r['requests_failed']}, not run {r['requests_not_run']}")
            check(int(r["body_bytes"]) == CLIENTS * RANGES * 65536,
                  f"{r['body_bytes']} body bytes verified against the file")
            want = CLIENTS + int(r["reconnects"])
            check(v1 - v0 == want, f"validations {v1 - v0} = connections {want} (persistence on)")
        tel = patient(t.telemetry, "/authgate/proxy/upstreams")
        print("proxy:", json.dumps(tel))
        tcp = patient(t.telemetry, "/authgate/tcp/stats")
        print("tcp:", {k: v for k, v in tcp.items() if k in ("no_mbuf", "send_nobufs", "retransmits",
                                                            "rto_expired", "persist_probes", "drops")})
        auth = patient(lambda: json.loads(t.ctl("auth", "--json").stdout))
        print("auth:", {k: v for k, v in auth.items() if not isinstance(v, dict) and v})
        up = [v for v in tel.values() if isinstance(v, dict) and v["address"] == f"{UP}:{PORT}"]
        if up:
            u = up[0]
            check(u["responses"] >= CLIENTS * (RANGES + 1) and u["reused"] > 0,
                  f"nginx upstream: {u['requests']} requests, {u['connects']} connects, {u['reused']} "
                  f"pooled reuses, ttfb p50 {u['ttfb_p50_us']} us p99 {u['ttfb_p99_us']} us, "
                  f"errors {sum(v for k, v in u.items() if k.startswith('err_'))}")
        else:
            check(False, "the upstream shows in telemetry")
    finally:
        if pid is not None:
            try:
                os.kill(pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass
        t.lab("down", check=False)
        shutil.rmtree(d, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
