#!/usr/bin/python3
"""HTTPS client checks, run inside the lab namespace by tls_basic.py: curl, openssl s_client and
raw sockets playing broken clients. Prints ok/FAIL lines; exit 1 on any failure."""
import hashlib
import os
import socket
import ssl
import subprocess
import sys
import time

GW = "198.18.0.2"
PORT = 443
WWW = "/var/lib/authgate-lab/www"
URL = f"https://{GW}:{PORT}"
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    failed += 0 if ok else 1


def run(cmd, inp=None, timeout=60):
    return subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=timeout)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_hello():
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname="gw.authgate.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def connect():
    s = socket.create_connection((GW, PORT), timeout=10)
    return s


def closed_within(s, seconds):
    """True when the server ends the connection (FIN or RST) within seconds; what it sent."""
    s.settimeout(seconds)
    got = b""
    end = time.time() + seconds
    try:
        while time.time() < end:
            d = s.recv(65536)
            if not d:
                return True, got
            got += d
    except ConnectionResetError:
        return True, got
    except socket.timeout:
        return False, got
    return False, got


def memory_handshake(s):
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname="gw.authgate.test")
    while True:
        try:
            obj.do_handshake()
            s.sendall(out.read())
            return obj, inc, out
        except ssl.SSLWantReadError:
            s.sendall(out.read())
            d = s.recv(65536)
            if not d:
                raise ConnectionError("closed during the handshake")
            inc.write(d)


def main():
    tmp = sys.argv[1]
    # downloads: byte-exact, ranged, two requests on one connection
    out = os.path.join(tmp, "64m.out")

    p = run(["curl", "-sSk", "--max-time", "120", "-o", out, "-w", "%{http_code}", f"{URL}/pkg/64m.bin"], timeout=130)
    check(p.stdout == "200" and sha(out) == sha(f"{WWW}/64m.bin"), f"64 MiB over HTTPS byte-exact ({p.stdout} {p.stderr.strip()})")
    os.unlink(out)
    rng = os.path.join(tmp, "range.out")
    p = run(["curl", "-sSk", "-r", "1000000-5194303", "-o", rng, "-w", "%{http_code}", f"{URL}/pkg/64m.bin"])
    with open(f"{WWW}/64m.bin", "rb") as f:
        f.seek(1000000)
        want = f.read(4194304)
    check(p.stdout == "206" and open(rng, "rb").read() == want, f"ranged 4 MiB over HTTPS byte-exact ({p.stdout})")
    os.unlink(rng)
    p = run(["curl", "-sSk", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}:%{num_connects} ",
             f"{URL}/pkg/hello.txt", f"{URL}/pkg/1m.bin"])
    check(p.stdout.split() == ["200:1", "200:0"], f"two requests, one TLS connection ({p.stdout.strip()})")
    # 40 handshakes at once: with a tiny handshake_budget_us most are put off a loop iteration
    burst = [subprocess.Popen(["curl", "-sk", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}",
                               f"{URL}/pkg/1k.bin"], stdout=subprocess.PIPE, text=True) for _ in range(40)]
    codes = [b.communicate(timeout=60)[0] for b in burst]
    check(codes.count("200") == 40, f"40 concurrent HTTPS clients: {codes.count('200')} got 200")
    p = run(["curl", "-sSk", "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", f"{URL}/pkg/hello.txt"])
    check(p.stdout == "200 1.1", f"curl --http2 gets HTTP/1.1 by ALPN ({p.stdout})")

    return rest()


def rest():
    # versions and ALPN with openssl s_client
    for v, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        p = run(["openssl", "s_client", "-connect", f"{GW}:{PORT}", v, "-alpn", "h2,http/1.1"], inp="", timeout=20)
        check(f"Protocol  : {name}" in p.stdout or f"New, {name}" in p.stdout, f"s_client {v}: {name}")
        check("ALPN protocol: http/1.1" in p.stdout, f"s_client {v} offering h2,http/1.1: ALPN http/1.1")
    p = run(["openssl", "s_client", "-connect", f"{GW}:{PORT}", "-alpn", "h2"], inp="", timeout=20)
    check(p.returncode != 0 and "no application protocol" in (p.stdout + p.stderr),
          "s_client offering only h2: no_application_protocol alert")

    # renegotiation: s_client's 'R' asks for one; the gateway answers no_renegotiation
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"{GW}:{PORT}", "-tls1_2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    p.stdin.write("R\n")
    p.stdin.flush()
    time.sleep(1.5)
    p.stdin.close()
    p.wait(timeout=20)
    outp = p.stdout.read()
    check("RENEGOTIATING" in outp and ("no renegotiation" in outp or "no_renegotiation" in outp
                                         or p.returncode != 0), "TLS 1.2 renegotiation refused")

    # not TLS at all: plain HTTP to the TLS port, then random bytes
    s = connect()
    s.sendall(b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n")
    closed, got = closed_within(s, 5)
    check(closed and b"HTTP/1.1" not in got, f"plain HTTP on the TLS port: closed, {len(got)} bytes back, no HTTP")
    s.close()
    s = connect()
    s.sendall(os.urandom(3000))
    closed, _ = closed_within(s, 5)
    check(closed, "random bytes instead of a ClientHello: closed")
    s.close()

    # a ClientHello cut short, then FIN: truncated
    hello = client_hello()
    s = connect()
    s.sendall(hello[: len(hello) // 2])
    s.shutdown(socket.SHUT_WR)
    closed, _ = closed_within(s, 5)
    check(closed, "half a ClientHello then FIN: closed")
    s.close()

    # half a ClientHello and silence: the handshake timeout (2 s in this config) resets it
    s = connect()
    s.sendall(hello[: len(hello) // 2])
    t0 = time.time()
    closed, _ = closed_within(s, 8)
    check(closed and time.time() - t0 >= 1.5, f"a client stopping mid-handshake is cut after {time.time() - t0:.1f} s")
    s.close()

    # a request, then FIN without close_notify: the response still comes whole (half-close)
    s = connect()
    obj, inc, out = memory_handshake(s)
    obj.write(b"GET /pkg/1m.bin HTTP/1.1\r\nHost: gw\r\n\r\n")
    s.sendall(out.read())
    s.shutdown(socket.SHUT_WR)
    plain = b""
    s.settimeout(10)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            inc.write(d)
            while True:
                try:
                    got = obj.read(65536)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    break
                if not got:
                    break
                plain += got
    except (socket.timeout, ConnectionResetError):
        pass
    body = plain.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in plain else b""
    check(plain.startswith(b"HTTP/1.1 200") and body == open(f"{WWW}/1m.bin", "rb").read(),
          f"request then FIN (no close_notify): 1 MiB response whole ({len(body)} bytes)")
    s.close()

    # a tampered record after the handshake: bad_record_mac, connection closed
    s = connect()
    obj, inc, out = memory_handshake(s)
    obj.write(b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n")
    rec = bytearray(out.read())
    rec[-1] ^= 0x01
    s.sendall(bytes(rec))
    closed, _ = closed_within(s, 5)
    check(closed, "a record with a flipped bit: closed")
    s.close()

    # a record whose length runs past what is sent, then FIN: truncated
    s = connect()
    obj, inc, out = memory_handshake(s)
    obj.write(b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n")
    rec = out.read()
    s.sendall(rec[:-5])
    s.shutdown(socket.SHUT_WR)
    closed, _ = closed_within(s, 5)
    check(closed, "a record cut short, then FIN: closed")
    s.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
