#!/usr/bin/python3
"""TLS e2e: session resumption with the gateway's rotating ticket keys (openssl s_client
-sess_out/-sess_in, TLS 1.2 and 1.3), and a certificate reload on SIGHUP that keeps open
connections and gives new ones the new certificate and its channel binding."""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

WWW = "/var/lib/authgate-lab/www"


def make_cert(d, name, alg):
    key = ["-newkey", "rsa:2048"] if alg == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    t.run(["openssl", "req", "-x509", *key, "-sha256", "-nodes", "-days", "2", "-keyout", f"{d}/{name}.key",
           "-out", f"{d}/{name}.pem", "-subj", f"/CN={name}.authgate.test"])


def s_client(args, sess_in=None, sess_out=None, version="-tls1_3"):
    cmd = ["ip", "netns", "exec", t.NS, "openssl", "s_client", "-ign_eof", "-connect", f"{t.GW}:443", version]
    if sess_in:
        cmd += ["-sess_in", sess_in]
    if sess_out:
        cmd += ["-sess_out", sess_out]
    # TLS 1.3 tickets come after the handshake: s_client reads until the gateway closes
    return t.run(cmd + args, check=False,
                 input="GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
                 timeout=20).stdout


def resumed(out):
    return "Reused, TLSv1." in out



def main():
    t.require_root()
    if shutil.which("openssl") is None:
        t.skip("no openssl CLI")
    check = t.Check()
    d = tempfile.mkdtemp(prefix="ag-tls-resume-")
    os.chmod(d, 0o755)
    conf_path = os.path.join(d, "gw.ini")
    try:
        make_cert(d, "a", "rsa")
        make_cert(d, "b", "ec")
        shutil.copy(f"{d}/a.pem", f"{d}/cert.pem")
        shutil.copy(f"{d}/a.key", f"{d}/key.pem")
        base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
        open(conf_path, "w").write(base + f"\n[tls]\ncertificate = {d}/cert.pem\nkey = {d}/key.pem\n"
                                   "ticket_rotate_s = 3\n")
        t.lab("down", check=False)
        t.lab("up", conf_path)

        for v in ("-tls1_2", "-tls1_3"):
            sess = os.path.join(d, f"sess{v}")
            first = s_client([], sess_out=sess, version=v)
            again = s_client([], sess_in=sess, version=v)
            check("200 OK" in first and not resumed(first) and resumed(again),
                  f"{v}: a full handshake, then resumed with its ticket")
        st = t.telemetry("/authgate/tls/stats")
        check(st["resumed"] >= 2, f"resumptions counted: {st['resumed']} resumed, {st['handshakes']} full")

        # rotation every 3 s; a ticket decrypts with the current key or the one before
        sess = os.path.join(d, "sess-rot")
        s_client([], sess_out=sess)
        time.sleep(3.5)
        mid = s_client([], sess_in=sess)      # its key is still current: reused, a new key made
        time.sleep(3.5)
        s_client([])                          # a full handshake rotates again
        late = s_client([], sess_in=sess)     # its key is two rotations old
        check(resumed(mid) and not resumed(late),
              f"ticket keys rotate: reused after 3.5 s ({resumed(mid)}), refused after 7 s ({not resumed(late)})")

        # SIGHUP with another certificate: an open connection carries on, new ones get it
        res = t.in_ns("/usr/bin/python3", "-c", RELOAD_CLIENT, d, check=False, timeout=60)
        print(res.stdout, end="")
        print(res.stderr, end="", file=sys.stderr)
        check(res.returncode == 0, "certificate reload on SIGHUP: every client-side check passed")
    finally:
        t.lab("down", check=False)
        shutil.rmtree(d, ignore_errors=True)
    return check.done()


# Inside the namespace: one connection before the reload keeps working after it; the
# gateway's process gets SIGHUP from here (the pid file is in /run/<lab>).
RELOAD_CLIENT = r'''
import hashlib, os, shutil, signal, socket, ssl, sys, time
d = sys.argv[1]
ns = os.environ.get("AUTHGATE_LAB", "authgate-lab")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def conn():
    s = ctx.wrap_socket(socket.create_connection(("198.18.0.2", 443), timeout=10), server_hostname="gw")
    return s, s.getpeercert(binary_form=True)
def get(s):
    s.sendall(b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n")
    buf = b""
    while b"hello from authgate" not in buf:
        b = s.recv(4096)
        if not b: break
        buf += b
    return buf.split(b" ", 2)[1] if buf else b"-"
der = lambda name: ssl.PEM_cert_to_DER_cert(open(f"{d}/{name}.pem").read())
ok = True
old, c1 = conn()
print(("ok   " if c1 == der("a") and get(old) == b"200" else "FAIL ") + "before the reload: certificate a, 200")
ok &= c1 == der("a")
shutil.copy(f"{d}/b.pem", f"{d}/cert.pem"); shutil.copy(f"{d}/b.key", f"{d}/key.pem")
os.kill(int(open(f"/run/{ns}/authgate.pid").read()), signal.SIGHUP)
deadline = time.time() + 10
c2 = c1
while c2 != der("b") and time.time() < deadline:
    time.sleep(0.3)
    s, c2 = conn(); s.close()
r = c2 == der("b"); ok &= r
print(("ok   " if r else "FAIL ") + "after SIGHUP new connections get certificate b")
st = get(old); r = st == b"200"; ok &= r
print(("ok   " if r else "FAIL ") + f"the connection opened before the reload still answers: {st}")
sys.exit(0 if ok else 1)
'''


if __name__ == "__main__":
    sys.exit(main())
