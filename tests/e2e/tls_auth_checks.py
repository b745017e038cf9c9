#!/usr/bin/python3
"""Runs inside the lab namespace with the realm's env (tls_auth.py): Basic, Negotiate and NTLM over
HTTPS with curl, tls_only, and channel bindings (RFC 5929 tls-server-end-point) right, wrong and
missing from python-gssapi clients, against extended_protection allow and require."""
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_client as ac  # noqa: E402
import gssapi  # noqa: E402

CTL = [os.path.join(os.environ["AUTHGATE_BUILD"], "app", "authgate-ctl"), "-p",
       os.environ.get("AUTHGATE_LAB", "authgate-lab")]
HTTPS = "https://gw.authgate.test"
HTTP = "http://gw.authgate.test"
NTLM = gssapi.raw.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    passed += ok
    failed += not ok


def tel(cmd):
    return json.loads(subprocess.run(CTL + [cmd, "--json"], capture_output=True, text=True, check=True).stdout)


def curl_run(args, env=None):
    """curl -sv ARGS; returns (statuses, WWW-Authenticate values, connections made)."""
    p = subprocess.run(["curl", "-skv", "--max-time", "20", *args], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    statuses = [int(x) for x in re.findall(r"^< HTTP/1.1 (\d+)", p.stderr, re.M)]
    www = re.findall(r"^< WWW-Authenticate: (.*?)\r?$", p.stderr, re.M)
    connections = len(re.findall(r"^\* Connected to", p.stderr, re.M))
    return statuses, www, connections


class TLSConn(ac.Conn):
    """auth_client.Conn over TLS on port 443; keeps the server's certificate."""

    def __init__(self, timeout=20):
        raw = socket.create_connection((ac.GW, 443), timeout=timeout)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(raw, server_hostname="gw.authgate.test")
        self.der = self.s.getpeercert(binary_form=True)
        self.buf = b""


def end_point(der, algo):
    """RFC 5929 4.1, computed here independently of the gateway: the hash the test's
    certificate was signed with (the outer test makes it SHA-384)."""
    return b"tls-server-end-point:" + hashlib.new(algo, der).digest()


def bindings(kind, der):
    if kind == "none":
        return None
    data = end_point(der, "sha384")
    if kind == "wrong":
        # what a relaying attacker's client binds to: the certificate of the server it
        # thinks it talks to, another one than ours
        data = end_point(der[:-1] + bytes([der[-1] ^ 1]), "sha384")
    if kind == "sha256":
        data = end_point(der, "sha256")  # the default hash, wrong for a SHA-384 certificate
    return gssapi.raw.ChannelBindings(application_data=data)


def krb5_request(path, kind):
    c = TLSConn()
    ctx = gssapi.SecurityContext(name=ac.SPN, creds=ac.creds("user1"), usage="initiate", mech=ac.SPNEGO,
                                 channel_bindings=bindings(kind, c.der),
                                 flags=gssapi.RequirementFlag.mutual_authentication)
    r = c.request(path, tok=ctx.step())
    c.close()
    return r[0]


def ntlm_request(path, kind, user):
    name = gssapi.Name(f"AUTHGATE\\{user}", gssapi.NameType.user)
    cred = gssapi.raw.acquire_cred_with_password(name, f"Passw0rd-{user}".encode(), mechs=[NTLM]).creds
    c = TLSConn()
    ctx = gssapi.SecurityContext(name=ac.SPN, creds=cred, usage="initiate", mech=NTLM,
                                 channel_bindings=bindings(kind, c.der))
    r = c.request(path, authz=b"NTLM " + base64.b64encode(ctx.step()))
    if r[0] != 401:
        c.close()
        return ("type1", r[0])
    www = ac.hdr(r, "WWW-Authenticate")
    r = c.request(path, authz=b"NTLM " + base64.b64encode(ctx.step(base64.b64decode(www.split()[1]))))
    c.close()
    return r[0]


def basic_and_tls_only():
    b = base64.b64encode(b"user11:Passw0rd-user11").decode()
    a0 = tel("auth")
    st, www, _ = curl_run(["-H", f"Authorization: Basic {b}", f"{HTTP}/basic/hello.txt", "-o", "/dev/null"])
    a1 = tel("auth")
    check(st == [401] and not any(w.startswith("Basic") for w in www)
          and a1["basic_refused"] - a0["basic_refused"] == 1,
          f"Basic over plain HTTP: refused, not offered, counted ({st}, {www})")
    st, www, _ = curl_run([f"{HTTPS}/basic/hello.txt", "-o", "/dev/null"])
    check(st == [401] and any(w.startswith("Basic realm=") for w in www), f"HTTPS offers Basic ({www})")
    st, _, conns = curl_run(["-u", "user11:Passw0rd-user11", f"{HTTPS}/basic/hello.txt", f"{HTTPS}/basic/1k.bin",
                             "-o", "/dev/null", "-o", "/dev/null"])
    check(st == [200, 200] and conns == 1, f"curl -u over HTTPS: {st} on {conns} connection(s)")
    st, _, _ = curl_run(["-u", "user11:wrong", f"{HTTPS}/basic/hello.txt", "-o", "/dev/null"])
    check(st == [401], f"curl -u with a wrong password over HTTPS: {st}")

    a0 = tel("auth")
    st, _, _ = curl_run([f"{HTTP}/tlsonly/hello.txt", "-o", "/dev/null"])
    a1 = tel("auth")
    check(st == [403] and a1["tls_required"] - a0["tls_required"] == 1, f"tls_only over plain HTTP: {st}, counted")
    st, _, _ = curl_run([f"{HTTPS}/tlsonly/hello.txt", "-o", "/dev/null"])
    check(st == [200], f"tls_only over HTTPS: {st}")


def curl_auth():
    env = dict(KRB5CCNAME="FILE:/tmp/ag-e2e-tls-cc")
    subprocess.run(["kinit", "-kt", os.path.join(ac.KEYTABS, "user1.keytab"), "user1"],
                   env=dict(os.environ, **env), check=True)
    try:
        a0 = tel("auth")
        st, _, conns = curl_run(["--negotiate", "-u", ":", *[f"{HTTPS}/secure/hello.txt"] * 3,
                                 *["-o", "/dev/null"] * 3], env=env)
        a1 = tel("auth")
    finally:
        os.unlink("/tmp/ag-e2e-tls-cc")
    check(st.count(200) == 3 and st.count(401) <= 1 and conns == 1
          and a1["validations"] - a0["validations"] == 1,
          f"curl --negotiate over HTTPS: {st}, {conns} connection, one validation")
    a0 = tel("auth")
    st, _, conns = curl_run(["--ntlm", "-u", "AUTHGATE\\user17:Passw0rd-user17", f"{HTTPS}/ntlm/hello.txt",
                             f"{HTTPS}/ntlm/1k.bin", "-o", "/dev/null", "-o", "/dev/null"])
    a1 = tel("auth")
    check(st == [401, 200, 200] and conns == 1 and a1["auth_ok"] - a0["auth_ok"] == 1,
          f"curl --ntlm over HTTPS: {st}, {conns} connection, one 401")


def channel_binding():
    reasons0 = tel("auth")["verdicts"].get("channel_binding", 0)
    refused = 0
    cases = [
        # (site, binding, Kerberos status, NTLM status)
        ("/ep-off", "wrong", 200, 200),
        ("/ep-allow", "right", 200, 200),
        ("/ep-allow", "wrong", 401, 401),
        ("/ep-allow", "none", 200, 200),
        ("/ep-require", "right", 200, 200),
        ("/ep-require", "wrong", 401, 401),
        ("/ep-require", "none", 401, 401),
        ("/ep-require", "sha256", 401, 401),
    ]
    n = 20
    for site, kind, want_krb, want_ntlm in cases:
        got = krb5_request(f"{site}/hello.txt", kind)
        check(got == want_krb, f"Kerberos over HTTPS, {site}, {kind} bindings: {got} (want {want_krb})")
        refused += want_krb == 401
        got = ntlm_request(f"{site}/hello.txt", kind, f"user{n}")
        n += 1
        check(got == want_ntlm, f"NTLM over HTTPS, {site}, {kind} bindings: {got} (want {want_ntlm})")
        refused += want_ntlm == 401
    reasons1 = tel("auth")["verdicts"].get("channel_binding", 0)
    check(reasons1 - reasons0 == refused, f"every refusal counted as channel_binding ({reasons1 - reasons0} of {refused})")
    # require over plain HTTP: nobody can bind there, so a relayed token is refused too
    c = ac.Conn()
    ctx = gssapi.SecurityContext(name=ac.SPN, creds=ac.creds("user1"), usage="initiate", mech=ac.SPNEGO)
    r = c.request("/ep-require/hello.txt", tok=ctx.step())
    c.close()
    check(r[0] == 401, f"Kerberos over plain HTTP to an extended_protection = require site: {r[0]}")


def main():
    phases = sys.argv[1:] or ["basic", "curl", "cb"]
    if "basic" in phases:
        basic_and_tls_only()
    if "curl" in phases:
        curl_auth()
    if "cb" in phases:
        channel_binding()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
