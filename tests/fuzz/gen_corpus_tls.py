#!/usr/bin/python3
"""Writes the seed corpus for fuzz_tls (tests/fuzz/corpus/tls); rerun after adding seeds.

Byte 0 is the mode (fuzz_tls.c): bit 0 a real client handshakes first, bit 1 TLS 1.2, bit 2 a
tight send space, bit 3 ALPN h2 only, bits 4-5 split segments. Raw mode: length-prefixed
segments. Client mode: (offset hi, offset lo, xor) groups on the client's request records, xor 0
cuts there, 0xff ends the groups, the rest is appended raw.
"""
import hashlib
import os
import ssl
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tls")


def hello(version=None, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.maximum_version = version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="gw.authgate.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def raw(*segments):
    b = b"\x00"
    for s in segments:
        while len(s) > 255:
            b += bytes([255]) + s[:255]
            s = s[255:]
        b += bytes([len(s)]) + s
    return b


def client(mode, groups=(), tail=b""):
    b = bytes([mode])
    for off, x in groups:
        b += struct.pack("!HB", off, x)
    return b + b"\xff" + tail


def main():
    h13 = hello()
    h12 = hello(ssl.TLSVersion.TLSv1_2)
    hh2 = hello(alpn=["h2"])
    seeds = [
        raw(h13), raw(h12), raw(hh2),
        raw(h13[:5], h13[5:40], h13[40:]),            # the record header alone first
        raw(h13[: len(h13) // 2]),                      # cut short
        raw(b"GET / HTTP/1.1\r\nHost: gw\r\n\r\n"),   # plain HTTP
        raw(b"\x16\x03\x01\xff\xff" + b"\x01" * 200),  # a record longer than allowed
        raw(b"\x80\x2e\x01\x00\x02" + b"\x00" * 45),   # an SSLv2-style hello
        raw(b"\x15\x03\x03\x00\x02\x02\x28"),          # an alert before anything
        raw(b"\x17\x03\x03\x00\x10" + b"\x00" * 16),   # application data before the handshake
        raw(h13, b"\x16\x03\x03\x00\x04\x01\x00\x00\x00"),  # a second ClientHello
        raw(bytes(range(256))),
        client(1), client(3), client(9), client(5), client(7),
        client(1 | 16, [(0, 0x01)]),                    # record type flipped
        client(1, [(3, 0x40)]),                         # record length changed
        client(1, [(30, 0x01)]),                        # ciphertext flipped
        client(3, [(40, 0x80)]),
        client(1, [(20, 0)]),                           # record cut
        client(3, [(4, 0)], b"\x17\x03\x03"),
        client(1, [], b"\x15\x03\x03\x00\x02\x01\x00"),     # a close_notify in the clear
        client(3 | 32, [], b"\x16\x03\x03\x00\x04\x00\x00\x00\x00"),  # HelloRequest-shaped
        client(3, [], raw(h12)[1:]),                    # a renegotiating ClientHello, in the clear
    ]
    os.makedirs(OUT, exist_ok=True)
    for s in seeds:
        name = "seed-" + hashlib.sha256(s).hexdigest()[:16]
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(s)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
