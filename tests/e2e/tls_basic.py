#!/usr/bin/python3
"""TLS e2e: --check-config on certificate problems, then the lab with [tls]: HTTPS downloads,
versions, ALPN, and broken clients (tls_checks.py inside the namespace), counted by reason."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def make_certs(d):
    """A self-signed RSA certificate and key, and a key of another pair (openssl CLI)."""
    t.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "2",
           "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem", "-subj", "/CN=gw.authgate.test",
           "-addext", "subjectAltName=DNS:gw.authgate.test"])
    t.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
           "-out", f"{d}/other.pem"])


def tls_section(d, extra=""):
    # a 1 µs handshake budget: after one handshake step an iteration puts the others off
    return (f"\n[tls]\ncertificate = {d}/cert.pem\nkey = {d}/key.pem\n"
            f"handshake_timeout_s = 2\nhandshake_budget_us = 1\n{extra}")


def check_config(check, base, d):
    """--check-config names file, line and key for each certificate problem."""
    cases = [
        ("certificate = /nonexistent/cert.pem", "[tls] certificate: cannot load '/nonexistent/cert.pem'"),
        (f"key = {d}/other.pem", "[tls] key: '" + f"{d}/other.pem' does not match the certificate"),
        ("ciphers = NOT-A-CIPHER", "[tls] ciphers: no usable cipher in 'NOT-A-CIPHER'"),
        ("min_version = 1.1", "[tls] min_version:"),
        ("port = 80", "[tls] port: port 80 is also the [http] port"),
    ]
    for override, want in cases:
        key = override.split(" = ")[0]
        text = base + tls_section(d)
        lines = [ln for ln in text.split("\n") if not ln.startswith(key + " = ") or "[" in ln]
        text = "\n".join(lines) + f"\n{override}\n"
        path = os.path.join(d, "bad.ini")
        open(path, "w").write(text)
        line = text.split("\n").index(override) + 1
        p = t.run([os.path.join(t.BUILD, "app", "authgate"), "--check-config", path], check=False)
        err = p.stdout + p.stderr
        check(p.returncode != 0 and f"{path}:{line}: {want}" in err,
              f"--check-config: {want} at line {line}")
    path = os.path.join(d, "good.ini")
    open(path, "w").write(base + tls_section(d))
    p = t.run([os.path.join(t.BUILD, "app", "authgate"), "--check-config", path], check=False)
    check(p.returncode == 0, "--check-config: certificate and key load and match")


def main():
    t.require_root()
    if shutil.which("openssl") is None:
        t.skip("no openssl CLI")
    check = t.Check()
    d = tempfile.mkdtemp(prefix="ag-tls-")
    os.chmod(d, 0o755)
    base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    try:
        make_certs(d)
        check_config(check, base, d)
        t.lab_up_config(base + tls_section(d))
        inner = t.in_ns("/usr/bin/python3", os.path.join(HERE, "tls_checks.py"), d, check=False,
                        timeout=600)
        print(inner.stdout, end="")
        print(inner.stderr, end="", file=sys.stderr)
        check(inner.returncode == 0, "every client-side TLS check passed")
        st = t.telemetry("/authgate/tls/stats")
        e = st["errors"]
        check(st["tls12"] >= 2 and st["tls13"] >= 2, f"handshakes by version: 1.2 {st['tls12']}, 1.3 {st['tls13']}")
        check(e["not_tls"] >= 2, f"not_tls counted ({e['not_tls']})")
        check(e["alpn"] >= 1, f"alpn refusals counted ({e['alpn']})")
        check(e["renegotiation"] >= 1, f"renegotiation attempts counted ({e['renegotiation']})")
        check(e["handshake_timeout"] >= 1, f"handshake timeouts counted ({e['handshake_timeout']})")
        check(e["truncated"] >= 2, f"truncations counted ({e['truncated']})")
        check(e["bad_record"] >= 1, f"bad records counted ({e['bad_record']})")
        check(st["hs_deferred"] >= 1, f"handshakes put off by the budget and finished later ({st['hs_deferred']})")
        hs = t.telemetry("/authgate/http/stats")
        t.wait_until(lambda: t.telemetry("/authgate/http/stats")["active"] == 0, 15, "connections to close")
        check(True, f"no connection left open ({hs['connections']} served)")
    finally:
        t.lab("down", check=False)
        shutil.rmtree(d, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
