#!/usr/bin/python3
"""Writes the seed corpus for fuzz_h1 (tests/fuzz/corpus/h1); rerun after adding seeds."""
import hashlib
import os

H = b"GET / HTTP/1.1\r\nHost: a\r\n"
seeds = [
    # well-formed
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /pkg/a.cab HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://h.example:80/p/q?x HTTP/1.1\r\nHost: h.example\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"a-b-c\", W/\"x\"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun Nov  6 08:49:37 1994\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, keep-alive\r\n\r\n",
    # ranges
    H + b"Range: bytes=0-99\r\n\r\n",
    H + b"Range: bytes=-100\r\n\r\n",
    H + b"Range: bytes=100-\r\n\r\n",
    H + b"Range: bytes=0-0,2-2,-1\r\n\r\n",
    H + b"Range: bytes=0-,0-,0-,5-9, ,\r\n\r\n",
    H + b"Range: bytes=99999999999999999999999-\r\n\r\n",
    H + b"Range: bytes=0-99999999999999999999999\r\n\r\n",
    H + b"Range: bytes=5-1\r\n\r\n",
    H + b"Range: bytes=0-1\r\nIf-Range: \"a-b-c\"\r\n\r\n",
    H + b"Range: bytes=0-1\r\nIf-Range: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n",
    H + b"Range: bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(0, 40, 2)) + b"\r\n\r\n",
    # paths
    b"GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a/./b//c/%41?q=/../ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /.%2E/x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"/pkg/../x%2f%",
    # malformed (the unit table's inputs)
    H + b"Host: a\r\n\r\n",
    H + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\n",
    H + b"Authorization: Basic a\r\nAuthorization: Basic b\r\n\r\n",
    H + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    H + b"Transfer-Encoding: chunked\r\n\r\n",
    H + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
    b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    H + b"Content-Length: -1\r\n\r\n",
    H + b"Content-Length: 1,1\r\n\r\n",
    H + b"Content-Length: 99999999999999999999\r\n\r\n",
    H + b"X: a\r\n b\r\n\r\n",
    H + b"Host : a\r\n\r\n",
    H + b": empty\r\n\r\n",
    H + b"NoColon\r\n\r\n",
    H + b"X: a\rb\r\n\r\n",
    H + b"X: a\x00b\r\n\r\n",
    H + b"X: \x1b[31m\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
    b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / http/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
    H + b"Expect: 200-ok\r\n\r\n",
    b"\r\n" * 20 + b"GET / HTTP/1.1\r\n",
    b"GET /" + b"a" * 8300 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    H + b"".join(b"X%d: y\r\n" % i for i in range(120)) + b"\r\n",
    b"",
    b"\n",
    b"GET",
]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h1")
os.makedirs(out, exist_ok=True)
for s in seeds:
    name = "seed-" + hashlib.sha1(s).hexdigest()[:16]
    with open(os.path.join(out, name), "wb") as f:
        f.write(s)
print(len(seeds), "seeds in", out)
