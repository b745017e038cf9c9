#!/usr/bin/python3
"""Writes the seed corpus for fuzz_tcp (tests/fuzz/corpus/tcp); rerun after adding seeds.

A seed is a script in fuzz_tcp.c's language: an opcode byte (low nibble: the operation, bit 4:
the client slot) and its operands, big-endian.
"""
import hashlib
import os
import struct

F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 1, 2, 4, 8, 16
APP, ECHO, DISCARD, CHARGEN, NONE = range(5)  # index into fuzz_tcp.c's lports


def opts(mss=None, ws=None, sack=False, ts=False, age=None):
    sel = (1 if mss is not None else 0) | (2 if ws is not None else 0) | (4 if sack else 0) | \
          (8 if ts else 0) | (0x10 if age is not None else 0)
    b = bytes([sel])
    if mss is not None:
        b += struct.pack("!H", mss)
    if ws is not None:
        b += bytes([ws])
    if age is not None:
        b += struct.pack("!H", age)
    return b


def raw_opts(raw):
    return bytes([0x80, len(raw)]) + raw


def syn(slot, port, isn, o=None, win=65535):
    return bytes([0x00 | slot << 4, port]) + struct.pack("!I", isn) + (o or opts()) + \
        struct.pack("!H", win)


def seg(slot, flags, dseq=0, dack=0, win=65535, o=None, length=0):
    return bytes([0x01 | slot << 4, flags]) + struct.pack("!hhH", dseq, dack, win) + \
        (o or opts()) + struct.pack("!H", length)


def abs_seg(slot, flags, seq, ack, win=65535, length=0):
    return bytes([0x03 | slot << 4, flags]) + struct.pack("!IIH", seq, ack, win) + opts() + \
        struct.pack("!H", length)


def ack(slot, length=0, win=65535, o=None):
    b = bytes([0x04 | slot << 4]) + (o or opts())
    b += bytes([1]) + struct.pack("!H", length) if length else bytes([0])
    return b + struct.pack("!H", win)


def advance(us, shift=0):
    return bytes([0x05]) + struct.pack("!H", us) + bytes([shift])


def app_send(n):
    return bytes([0x06, 0]) + struct.pack("!H", n)


def app(action):  # 1 shutdown, 2 abort, 3 pause, 4 resume
    return bytes([0x06, action])


def consume(n=None):
    return bytes([0x07, 0]) if n is None else bytes([0x07, 1]) + struct.pack("!H", n)


def csum(i):
    return bytes([0x08, i])


def burst(slot, flags, dseq, dack, n):
    return bytes([0x09 | slot << 4, flags]) + struct.pack("!hhB", dseq, dack, n)


def icmp(slot, sel, dseq, mtu, quote):  # sel & 0xc0: type 3 code 4, else type/code from sel
    return bytes([0x0a | slot << 4, sel]) + struct.pack("!hHB", dseq, mtu, quote)


FULL = opts(mss=1460, ws=7, sack=True, ts=True)
HS = syn(0, APP, 1000, FULL) + ack(0)
seeds = [
    # handshake, request, response, both sides close
    HS + ack(0, 100) + app_send(5000) + ack(0) + advance(50, 10) + ack(0) +
    seg(0, F_FIN | F_ACK) + app(1) + ack(0) + advance(20000, 10),
    # handshake without options, echo both ways, half-close
    syn(0, ECHO, 7, opts()) + ack(0) + ack(0, 1000) + ack(0, 500) + ack(0) +
    seg(0, F_FIN | F_ACK) + ack(0) + advance(1000, 8),
    # the second slot gets a SYN cookie (max_half_open = 1), then data on it
    syn(0, APP, 5, FULL) + syn(1, ECHO, 9, FULL) + ack(1, 0, 1000, opts(ts=True)) + ack(1, 300) +
    ack(1) + advance(100, 12),
    # a forged cookie ACK and a data segment that overtakes the handshake
    syn(1, ECHO, 77) + seg(1, F_ACK | F_PSH, 1000, 0, 512, None, 100) + seg(1, F_ACK, 0, 5),
    # out of order, duplicates, overlaps, then the hole filled
    HS + seg(0, F_ACK, 2000, 0, 65535, opts(ts=True), 1000) +
    seg(0, F_ACK, 4000, 0, 65535, opts(ts=True), 500) +
    seg(0, F_ACK, 2500, 0, 65535, opts(ts=True), 2000) + ack(0, 2000) + ack(0, 2000),
    # RSTs and SYNs into the window: challenge ACKs, per flow and engine-wide limits
    HS + burst(0, F_RST, 1, 0, 20) + burst(0, F_SYN, 5, 0, 20) + advance(600, 10) +
    seg(0, F_RST) + burst(0, F_ACK, 30000, 0, 10),
    # stale timestamps (PAWS), ACKs for unsent data and too old ones
    HS + seg(0, F_ACK | F_PSH, 0, 0, 65535, opts(ts=True, age=60000), 10) +
    seg(0, F_ACK, 0, 30000) + seg(0, F_ACK, 0, -30000),
    # the peer stops reading: zero window, persist probes, window reopens
    HS + app_send(60000) + ack(0, 0, 0) + advance(60000, 6) + advance(60000, 8) + ack(0),
    # loss: nothing acked, retransmission timeouts until the flow gives up
    HS + app_send(30000) + advance(65535, 12) + advance(65535, 12) + advance(65535, 11),
    # three duplicate ACKs with SACK blocks (raw options), fast retransmit
    HS + app_send(20000) + ack(0, 0, 65535) +
    seg(0, F_ACK, 0, -18000, 65535, raw_opts(bytes([1, 1, 5, 10]) + struct.pack("!II", 0, 0))) +
    burst(0, F_ACK, 0, -15000, 4),
    # the app pauses and consumes in pieces; the receive window closes and reopens
    HS + consume(10) + ack(0, 1400) + ack(0, 1400) + app(3) + ack(0, 1400) + app(4) + consume(),
    # TIME_WAIT and its recycling by a new SYN
    HS + app(1) + ack(0) + seg(0, F_FIN | F_ACK) + seg(0, F_FIN | F_ACK, -1) +
    syn(0, APP, 900000, FULL) + ack(0),
    # chargen, discard, nobody listening
    syn(0, CHARGEN, 1, FULL) + ack(0) + ack(0) + ack(0, 0, 0) + syn(1, DISCARD, 1) + ack(1, 800) +
    syn(1, NONE, 5),
    # checksums: NIC says NONE, BAD, GOOD, nothing
    HS + csum(3) + ack(0, 10) + csum(2) + ack(0, 10) + csum(1) + ack(0, 10) + csum(0) + ack(0, 10),
    # malformed options and absolute numbers far from the window
    HS + seg(0, F_ACK, 0, 0, 100, raw_opts(bytes([2, 0, 8, 11, 0]))) +
    abs_seg(0, F_ACK | F_FIN, 0x7fffffff, 0x80000000) + abs_seg(1, F_ACK, 1, 1, 0, 10),
    # a hole, then one-byte segments behind it (coalesced), then larger ones past the share
    HS + b"".join(seg(0, F_ACK, 1 + i, 0, 65535, opts(ts=True), 1) for i in range(40)) +
    b"".join(seg(0, F_ACK, 41 + 1000 * i, 0, 65535, opts(ts=True), 1000) for i in range(10)) +
    ack(0, 1),
    # path MTU: frag-needed inside the flight, below it, beyond it, short quotes, other types
    HS + app_send(30000) + icmp(0, 0xc0, -20000, 1280, 20) + icmp(0, 0xc0, 0, 1280, 20) +
    icmp(0, 0xc0, -100, 300, 8) + icmp(0, 0xc0, -100, 0, 8) + icmp(0, 0xc0, -100, 9000, 4) +
    icmp(0, 0x13, -100, 1280, 20) + icmp(1, 0xc0, 0, 1280, 20) + ack(0) + advance(65535, 8),
    # TIME_WAIT entry: stale data, RSTs, old and new SYNs on the tuple
    HS + app(1) + ack(0) + seg(0, F_FIN | F_ACK) + seg(0, F_ACK | F_PSH, -10, 0, 65535, None, 5) +
    burst(0, F_ACK, 20000, 0, 20) + seg(0, F_RST) + seg(0, F_RST, 5) +
    syn(0, APP, 1, opts(ts=True, age=60000)) + advance(65535, 8) + syn(0, APP, 900000, FULL),
    # a peer that never reads: every probe answered with a zero window until persist gives up
    HS + app_send(60000) + ack(0, 0, 0) + (advance(65535, 10) + ack(0, 0, 0)) * 8,
]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tcp")
os.makedirs(out, exist_ok=True)
for s in seeds:
    with open(os.path.join(out, "seed-" + hashlib.sha1(s).hexdigest()[:16]), "wb") as f:
        f.write(s)
print(f"{len(seeds)} seeds in {out}")
