#!/usr/bin/python3
"""TLS and authentication e2e: Basic over HTTPS (still refused over plain HTTP), tls_only, curl
--negotiate/--ntlm/-u over HTTPS with persistence, and RFC 5929 channel bindings checked for
Kerberos and NTLM against extended_protection = off | allow | require (tls_auth_checks.py)."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WWW = "/var/lib/authgate-lab/www"


def config(d):
    base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    base = base.replace("allow_basic_over_http = yes", "allow_basic_over_http = no")
    sites = ""
    for mode in ("off", "allow", "require"):
        sites += f"\n[site /ep-{mode}]\nroot = {WWW}\nauth = negotiate ntlm\nextended_protection = {mode}\n"
    sites += f"\n[site /tlsonly]\nroot = {WWW}\ntls_only = yes\n"
    # a SHA-384 signature: tls-server-end-point must hash with SHA-384, not the default SHA-256
    return (base + sites + f"\n[tls]\ncertificate = {d}/cert.pem\nkey = {d}/key.pem\n")


def main():
    t.require_root()
    if shutil.which("openssl") is None:
        t.skip("no openssl CLI")
    check = t.Check()
    d = tempfile.mkdtemp(prefix="ag-tls-auth-")
    os.chmod(d, 0o755)
    try:
        t.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha384", "-nodes", "-days", "2",
               "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem", "-subj", "/CN=gw.authgate.test",
               "-addext", "subjectAltName=DNS:gw.authgate.test"])
        t.lab_up_config(config(d))
        phases = " ".join(sys.argv[1:])
        p = t.in_ns("bash", "-c", f'eval "$({t.TOP}/scripts/realm env)"; '
                    f'NTLM_USER_FILE=$AUTHGATE_NTLM_USER_FILE AUTHGATE_BUILD={t.BUILD} AUTHGATE_LAB={t.NS} '
                    f'/usr/bin/python3 {HERE}/tls_auth_checks.py {phases}', check=False)
        print(p.stdout, end="")
        print(p.stderr, end="", file=sys.stderr)
        check(p.returncode == 0, "every client-side check passed")
    finally:
        t.lab("down", check=False)
        shutil.rmtree(d, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
