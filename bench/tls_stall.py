#!/usr/bin/python3
"""Latency of small GETs on one keep-alive plain-HTTP connection, for bench/tls-handshake.sh:
what other flows on the lcore see while it does TLS handshakes. Runs inside the lab namespace.

usage: tls_stall.py HOST SECONDS  ->  one line "n p50_us p99_us max_us"
"""
import socket
import sys
import time


def main():
    host, seconds = sys.argv[1], float(sys.argv[2])
    s = socket.create_connection((host, 80), timeout=10)
    req = b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n"
    lat = []
    end = time.monotonic() + seconds
    buf = b""
    while time.monotonic() < end and len(lat) < 200000:
        t0 = time.monotonic()
        s.sendall(req)
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0 and len(buf) >= i + 4 + 20:  # hello.txt is 20 bytes
                buf = buf[i + 4 + 20:]
                break
            d = s.recv(65536)
            if not d:
                raise SystemExit("closed")
            buf += d
        lat.append((time.monotonic() - t0) * 1e6)
        time.sleep(0.002)  # a light flow: ~400 requests/s, not a load of its own
    lat.sort()
    n = len(lat)
    print(n, int(lat[n // 2]), int(lat[min(n - 1, n * 99 // 100)]), int(lat[-1]))


if __name__ == "__main__":
    main()
