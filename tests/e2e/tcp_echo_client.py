#!/usr/bin/python3
"""Runs in the lab namespace: N concurrent echo transfers of SIZE bytes each, byte-exact, one thread."""
import json
import os
import selectors
import socket
import sys
import time

GW, PORT = "198.18.0.2", 7
conns, size, deadline_s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
BLOCK = os.urandom(1 << 20)
BLOCK2 = BLOCK + BLOCK
L = len(BLOCK)


def stream(conn, off, n):
    """Bytes off..off+n of connection conn's stream: a window into a random block."""
    out = bytearray()
    while n > 0:
        i = (off + conn * 7919) % L
        k = min(n, L)
        out += BLOCK2[i:i + k]
        off += k
        n -= k
    return bytes(out)


class C:
    def __init__(self, i):
        self.i = i
        self.s = socket.socket()
        self.s.setblocking(False)
        self.s.bind((f"198.18.0.{10 + i % 32}", 0))
        self.s.connect_ex((GW, PORT))
        self.sent = self.got = 0
        self.bad = False
        self.done = False


sel = selectors.DefaultSelector()
cs = [C(i) for i in range(conns)]
for c in cs:
    sel.register(c.s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
t0 = time.time()
left = conns
errors = {}
while left > 0 and time.time() - t0 < deadline_s:
    for key, ev in sel.select(timeout=1.0):
        c = key.data
        try:
            if ev & selectors.EVENT_WRITE and c.sent < size:
                n = c.s.send(stream(c.i, c.sent, min(65536, size - c.sent)))
                c.sent += n
                if c.sent == size:
                    sel.modify(c.s, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                b = c.s.recv(262144)
                if not b:
                    raise ConnectionError("closed early")
                if b != stream(c.i, c.got, len(b)):
                    c.bad = True
                c.got += len(b)
                if c.got >= size:
                    c.done = True
        except (BlockingIOError, InterruptedError):
            continue
        except OSError as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            c.done = True
        if c.done:
            sel.unregister(c.s)
            c.s.close()
            left -= 1
elapsed = time.time() - t0
ok = sum(1 for c in cs if c.done and not c.bad and c.got == size)
print(json.dumps({"conns": conns, "ok": ok, "bad": sum(c.bad for c in cs), "short": sum(1 for c in cs if c.got < size),
                  "errors": errors, "seconds": round(elapsed, 1),
                  "goodput_MBps": round(conns * size * 2 / elapsed / 1e6, 1)}))
