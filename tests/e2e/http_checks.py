#!/usr/bin/python3
"""Runs inside the lab namespace: HTTP behaviour a client sees, byte-exact, against 198.18.0.2."""
import hashlib
import http.client
import os
import random
import re
import socket
import subprocess
import sys
import time

GW = "198.18.0.2"
WWW = "/var/lib/authgate-lab/www"
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


def data(name):
    with open(os.path.join(WWW, name), "rb") as f:
        return f.read()


def raw(req, timeout=5.0, read_all=True):
    """Sends bytes on a fresh connection, returns everything read until close or timeout."""
    s = socket.create_connection((GW, 80), timeout=timeout)
    s.sendall(req)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if not read_all and b"\r\n\r\n" in out:
                break
    except socket.timeout:
        pass
    s.close()
    return out


def status_of(resp):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", resp)
    return int(m.group(1)) if m else None


def serving():
    r = raw(b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    return status_of(r) == 200 and r.endswith(data("hello.txt"))


def main():
    files = ["empty.bin", "one.bin", "1k.bin", "1m.bin", "64m.bin"]

    # whole files with curl, byte-exact
    for name in files:
        out = subprocess.run(["curl", "-s", "-f", f"http://{GW}/pkg/{name}"], capture_output=True)
        check(out.returncode == 0 and hashlib.sha256(out.stdout).digest() == hashlib.sha256(data(name)).digest(),
              f"curl GET /pkg/{name}: {len(out.stdout)} bytes, sha256 matches")

    # python http.client: keep-alive, whole and many ranges, one connection
    rnd = random.Random(7)
    c = http.client.HTTPConnection(GW, 80, timeout=30)
    for name in ["1m.bin", "64m.bin"]:
        body = data(name)
        c.request("GET", f"/pkg/{name}")
        r = c.getresponse()
        got = r.read()
        check(r.status == 200 and got == body, f"http.client GET {name} whole")
        ok = True
        for _ in range(40):
            a = rnd.randrange(0, len(body))
            b = min(len(body) - 1, a + rnd.randrange(0, 256 * 1024))
            c.request("GET", f"/pkg/{name}", headers={"Range": f"bytes={a}-{b}"})
            r = c.getresponse()
            got = r.read()
            if r.status != 206 or got != body[a:b + 1] or \
                    r.getheader("Content-Range") != f"bytes {a}-{b}/{len(body)}":
                ok = False
                print(f"  range {a}-{b}: {r.status} {r.getheader('Content-Range')} {len(got)}")
                break
        check(ok, f"40 random ranges of {name}: 206, Content-Range and bytes exact")
    # suffix and open ranges
    body = data("1m.bin")
    c.request("GET", "/pkg/1m.bin", headers={"Range": "bytes=-100"})
    r = c.getresponse()
    check(r.status == 206 and r.read() == body[-100:], "suffix range bytes=-100")
    c.request("GET", "/pkg/1m.bin", headers={"Range": "bytes=1048500-"})
    r = c.getresponse()
    check(r.status == 206 and r.read() == body[1048500:], "open range bytes=1048500-")
    c.request("GET", "/pkg/1m.bin", headers={"Range": "bytes=5000000-"})
    r = c.getresponse()
    r.read()
    check(r.status == 416 and r.getheader("Content-Range") == "bytes */1048576", "unsatisfiable range: 416 bytes */1048576")
    c.request("GET", "/pkg/1k.bin", headers={"Range": "bytes=0-9,20-29"})
    r = c.getresponse()
    mp = r.read()
    check(r.status == 206 and r.getheader("Content-Type", "").startswith("multipart/byteranges")
          and data("1k.bin")[0:10] in mp and data("1k.bin")[20:30] in mp, "two ranges: multipart/byteranges")
    # HEAD
    c.request("HEAD", "/pkg/64m.bin")
    r = c.getresponse()
    check(r.status == 200 and r.getheader("Content-Length") == str(64 << 20) and r.read() == b"", "HEAD gives the size, no body")
    # conditionals
    c.request("GET", "/pkg/hello.txt")
    r = c.getresponse()
    r.read()
    etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
    c.request("GET", "/pkg/hello.txt", headers={"If-None-Match": etag})
    r = c.getresponse()
    check(r.status == 304 and r.read() == b"", f"If-None-Match {etag}: 304")
    c.request("GET", "/pkg/hello.txt", headers={"If-Modified-Since": lm})
    r = c.getresponse()
    r.read()
    check(r.status == 304, "If-Modified-Since: 304")
    c.request("GET", "/pkg/1k.bin", headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    r = c.getresponse()
    check(r.status == 200 and len(r.read()) == 1024, "If-Range with a stale ETag: whole file 200")
    c.close()

    # 1000 requests on one keep-alive connection
    c = http.client.HTTPConnection(GW, 80, timeout=10)
    c.connect()
    sock = c.sock
    ok = 0
    conn_headers = []
    for _ in range(1000):
        c.request("GET", "/pkg/hello.txt")
        r = c.getresponse()
        conn_headers.append(r.getheader("Connection"))
        if r.status == 200 and r.read() == data("hello.txt"):
            ok += 1
        if c.sock is not sock and c.sock is not None:
            break
    check(ok == 1000 and (c.sock is sock or c.sock is None), f"1000 keep-alive requests on one connection: {ok} x 200")
    check(conn_headers[:999] == ["keep-alive"] * 999 and conn_headers[999] == "close",
          f"max_requests = 1000: responses 1..999 keep-alive, the 1000th says Connection: {conn_headers[-1]}")
    c.close()

    # pipelining: five requests in one write, answers in order
    reqs = (b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n"
            b"HEAD /pkg/1k.bin HTTP/1.1\r\nHost: gw\r\n\r\n"
            b"GET /pkg/nothing-here HTTP/1.1\r\nHost: gw\r\n\r\n"
            b"GET /pkg/one.bin HTTP/1.1\r\nHost: gw\r\nRange: bytes=0-0\r\n\r\n"
            b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    out = raw(reqs)
    statuses = [int(x) for x in re.findall(rb"HTTP/1\.1 (\d{3}) ", out)]
    check(statuses == [200, 200, 404, 206, 200] and out.endswith(data("hello.txt")),
          f"5 pipelined requests answered in order: {statuses}")

    # traversal and bad targets
    for target in [b"/pkg/../etc/passwd", b"/pkg/%2e%2e/%2e%2e/etc/passwd", b"/pkg/sub/..%2f..%2fetc/passwd",
                   b"/pkg/%00hello.txt", b"/pkg/sub/%2E%2e/../../etc/passwd", b"/pkg\\..\\etc\\passwd"]:
        st = status_of(raw(b"GET " + target + b" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"))
        check(st in (400, 404), f"traversal {target.decode()}: {st}")
    st = status_of(raw(b"GET /pkg/sub HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"))
    check(st == 404, f"a directory is not listed: {st}")

    # malformed requests over raw sockets, each with its status; the gateway keeps serving
    bad = [
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate Host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: x\r\nAuthorization: y\r\n\r\n", 400, "duplicate Authorization"),
        (b"POST /pkg/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Content-Length with Transfer-Encoding"),
        (b"POST /pkg/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "duplicate Content-Length"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "9000-byte request line"),
        # above max_header_bytes (72 KiB by default: a 48 KiB Kerberos token fits below it)
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Big: " + b"b" * 80000 + b"\r\n\r\n", 431, "80 KB header"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", 431, "150 headers"),
        (b"DELETE /pkg/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n", 405, "DELETE"),
        (b"POST /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "chunked body"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"),
        (b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "garbage method"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n", 400, "obs-fold"),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space before colon"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, "NUL in a header"),
        (b"GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505, "HTTP/9.9"),
        (b"POST /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n", 413, "body over max_body"),
    ]
    for req, want, what in bad:
        resp = raw(req)
        st = status_of(resp)
        check(st == want and serving(), f"{what}: {st} (want {want}), gateway still serves")
    resp = raw(b"OPTIONS /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(status_of(resp) == 200 and b"Allow: GET, HEAD, OPTIONS" in resp, "OPTIONS: 200 with Allow")
    resp = raw(b"DELETE /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(b"Allow: GET, HEAD, OPTIONS" in resp, "405 carries Allow")
    resp = raw(b"POST /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    statuses = [int(x) for x in re.findall(rb"HTTP/1\.1 (\d{3}) ", resp)]
    check(statuses == [405, 200], f"a small body is read and dropped, the next request is served: {statuses}")
    resp = raw(b"HEAD /secure/hello.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    first, _, rest = resp.partition(b"\r\n\r\n")
    check(status_of(resp) == 401 and rest.startswith(b"HTTP/1.1 200 ") and rest.endswith(data("hello.txt")),
          "a 401 to HEAD has no body: the pipelined GET behind it is answered cleanly")
    resp = raw(b"GET /pkg/hello.txt HTTP/1.0\r\n\r\n")
    check(status_of(resp) == 200 and resp.endswith(data("hello.txt")), "HTTP/1.0 without Host: 200, then close")

    # slowloris: a head that never finishes gets 408 after header_timeout_s and the connection closes
    t0 = time.time()
    resp = raw(b"GET /pkg/hello.txt HTTP/1.1\r\nHost: a\r\nX-Slow: ", timeout=15)
    dt = time.time() - t0
    check(status_of(resp) == 408, f"unfinished head: 408 after {dt:.1f} s (header_timeout_s = 2)")
    # an idle keep-alive connection is closed after keepalive_timeout_s
    s = socket.create_connection((GW, 80), timeout=15)
    s.sendall(b"GET /pkg/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    # the whole response first: head and body may come in separate segments (a response
    # sent after a parked lookup or verdict is not coalesced with its head)
    first = b""
    while not first.endswith(data("hello.txt")):
        b = s.recv(65536)
        if not b:
            break
        first += b
    t0 = time.time()
    rest = s.recv(65536)
    dt = time.time() - t0
    s.close()
    check(status_of(first) == 200 and rest == b"", f"idle keep-alive connection closed by the gateway after {dt:.1f} s (keepalive_timeout_s = 3)")
    # a file truncated in place while it is being sent: the client never gets a silently short
    # or torn body as if it were whole, and the gateway lives on
    name = f"trunc-{os.getpid()}.bin"
    path = os.path.join(WWW, name)
    with open(path, "wb") as f:
        f.write(data("64m.bin"))
    s = socket.create_connection((GW, 80), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(f"GET /pkg/{name} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
    got = s.recv(65536)
    time.sleep(0.3)
    os.truncate(path, 4096)
    clen = int(re.search(rb"Content-Length: (\d+)", got).group(1))
    body = got.split(b"\r\n\r\n", 1)[1]
    ended = "eof"
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            body += b
    except (ConnectionResetError, socket.timeout) as e:
        ended = type(e).__name__
    s.close()
    os.unlink(path)
    check(clen == 64 << 20 and len(body) < clen, f"file truncated mid-download: {len(body)} of {clen} bytes, then {ended}: the short body is visible")
    check(serving(), "the gateway still serves after a file was truncated under it")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
