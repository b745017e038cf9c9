#!/usr/bin/python3
"""Reverse proxy e2e with Apache httpd as the upstream (a private instance in the lab namespace).

Apache (event MPM, mod_cgid, its own ServerRoot, config, pid and logs in a temp dir) listens on
198.18.0.1; the gateway proxies /app to it. CGI scripts report the identity headers Apache got
and the SHA-256 of the request body. Checks: identity seen, spoofed copies stripped, GET/HEAD/
Range byte-exact, POST of 64 MiB with Content-Length and chunked (curl's Expect: 100-continue
relayed), keep-alive pool reuse, 502 once Apache is stopped.
"""
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

UP = "198.18.0.1"
PORT = 8083
MODS = "/usr/lib/apache2/modules"
BIG = 64 * 1024 * 1024

HTTPD_CONF = """
ServerRoot "{d}"
DefaultRuntimeDir "{d}"
PidFile "{d}/httpd.pid"
ErrorLog "{d}/error.log"
LogLevel warn
ServerName upstream.test
Listen {up}:{port}
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule alias_module {mods}/mod_alias.so
LoadModule cgid_module {mods}/mod_cgid.so
ScriptSock "{d}/cgid.sock"
User www-data
Group www-data
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
LogFormat "%h \\"%r\\" %>s %b user=%{{X-Remote-User}}i" ag
CustomLog "{d}/access.log" ag
ScriptAlias /app/cgi/ "{d}/cgi/"
Alias /app/ "{d}/www/"
<Directory "{d}">
    Require all granted
</Directory>
"""

WHOAMI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "user=[$HTTP_X_REMOTE_USER] realm=[$HTTP_X_REMOTE_REALM] scheme=[$HTTP_X_REMOTE_AUTH_SCHEME] xff=[$HTTP_X_FORWARDED_FOR]"
"""

SHA = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "sha=$(sha256sum | cut -d' ' -f1) cl=[$CONTENT_LENGTH]"
"""


def curl(*args):
    return t.in_ns("curl", "-sS", "--max-time", "120", *args, check=False)


def upstream_tel():
    tel = t.telemetry("/authgate/proxy/upstreams")
    for v in tel.values():
        if isinstance(v, dict) and v["address"] == f"{UP}:{PORT}":
            return v
    return None


def main():
    t.require_root()
    if not os.path.exists(f"{MODS}/mod_cgid.so"):
        t.skip("apache2 with mod_cgid is not installed (scripts/install-deps)")
    check = t.Check()
    d = tempfile.mkdtemp(prefix=f"{t.NS}-apache-")
    os.chmod(d, 0o755)
    big = os.urandom(BIG)
    pid = None
    try:
        for sub in ("www", "cgi"):
            os.makedirs(os.path.join(d, sub))
            os.chmod(os.path.join(d, sub), 0o755)
        for name, text in (("whoami", WHOAMI), ("sha", SHA)):
            path = os.path.join(d, "cgi", name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        with open(os.path.join(d, "www", "big.bin"), "wb") as f:
            f.write(big)
        os.chmod(os.path.join(d, "www", "big.bin"), 0o644)
        with open(os.path.join(d, "httpd.conf"), "w") as f:
            f.write(HTTPD_CONF.format(d=d, up=UP, port=PORT, mods=MODS))
        conf = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
        conf = conf.replace("[auth]\n", f"[site /app]\nupstream = {UP}:{PORT}\nauth = basic negotiate\n\n"
                            f"[site /open]\nupstream = {UP}:{PORT}\nupstream_prefix = /app\n\n[auth]\n", 1)
        t.lab_up_config(conf)
        t.in_ns("/usr/sbin/apache2", "-f", os.path.join(d, "httpd.conf"), "-k", "start")
        t.wait_until(lambda: os.path.exists(os.path.join(d, "httpd.pid")), 15, "Apache's pid file")
        pid = int(open(os.path.join(d, "httpd.pid")).read())
        t.wait_until(lambda: curl("-o", "/dev/null", "-w", "%{http_code}", f"http://{UP}:{PORT}/app/big.bin",
                                  "-I").stdout == "200", 15, "Apache to answer")

        p = curl("-u", "user11:Passw0rd-user11", "-H", "X-Remote-User: admin@AUTHGATE.TEST",
                 "-H", "X-Remote-Realm: EVIL", "-H", "X-Forwarded-For: 10.6.6.6",
                 "http://198.18.0.2/app/cgi/whoami")
        check("user=[user11@AUTHGATE.TEST] realm=[AUTHGATE.TEST] scheme=[Basic] xff=[198.18.0.1]" in p.stdout,
              f"Apache sees the gateway's identity, not the client's copies: {p.stdout.strip()}")
        out = os.path.join(d, "got.bin")
        st, n, exact, dt, err = t.get_exact(t.NS, "http://198.18.0.2/open/big.bin", out, big)
        check(st == "200" and exact, f"GET 64 MiB from Apache byte-exact: {st} {n} {dt:.1f}s {err}")
        p = curl("-I", "http://198.18.0.2/open/big.bin")
        check(p.stdout.startswith("HTTP/1.1 200") and f"Content-Length: {BIG}" in p.stdout, "HEAD")
        p = curl("-o", out, "-w", "%{http_code}", "-r", "65536-131071", "http://198.18.0.2/open/big.bin")
        check(p.stdout == "206" and open(out, "rb").read() == big[65536:131072], "Range 206 byte-exact")
        src = os.path.join(d, "up.bin")
        with open(src, "wb") as f:
            f.write(big)
        want = hashlib.sha256(big).hexdigest()
        p = curl("-D", os.path.join(d, "h1"), "--data-binary", f"@{src}", "http://198.18.0.2/open/cgi/sha")
        hdr = open(os.path.join(d, "h1")).read()
        check(f"sha={want} cl=[{BIG}]" in p.stdout,
              f"POST 64 MiB with Content-Length byte-exact: {p.stdout.strip()} {p.stderr.strip()}")
        check("HTTP/1.1 100 Continue" in hdr, "Expect: 100-continue: Apache's 100 relayed to curl")
        p = curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{src}", "http://198.18.0.2/open/cgi/sha")
        check(f"sha={want}" in p.stdout, f"POST 64 MiB chunked byte-exact: {p.stdout.strip()} {p.stderr.strip()}")
        before = upstream_tel()
        p = curl("-w", "%{http_code}\n", *(["-o", "/dev/null", "http://198.18.0.2/open/cgi/whoami"] * 10))
        after = upstream_tel()
        check(p.stdout.split() == ["200"] * 10 and after["reused"] - before["reused"] >= 9,
              f"statuses {p.stdout.split()} {p.stderr.strip()[:200]}; "
              f"10 requests, {after['reused'] - before['reused']} on pooled connections to Apache")
        alog = open(os.path.join(d, "access.log")).read()
        check("user=user11@AUTHGATE.TEST" in alog and "admin" not in alog,
              "Apache's own access log shows the identity header")
        os.kill(pid, signal.SIGTERM)
        t.wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 15, "Apache to stop")
        pid = None
        time.sleep(0.5)
        p = curl("-o", "/dev/null", "-w", "%{http_code}", "http://198.18.0.2/open/cgi/whoami")
        check(p.stdout == "502", f"Apache stopped: 502 ({p.stdout})")
    finally:
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
                t.wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 15, "Apache to stop")
            except (ProcessLookupError, AssertionError):
                pass
        t.lab("down", check=False)
        shutil.rmtree(d, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
