#!/usr/bin/python3
"""Writes the authgate lab's traffic as pcaps: flood classes for Pktgen-DPDK and the hostile set.

    mkpcap.py [--gw-mac MAC] [--gw-ip IP] [--seed N] [--count N] SET OUT.pcap

SET is one of: syn-flood, ack-flood, fin-flood, rst-flood, icmp-arp, hostile, replay (every
class below once or more, the set tests/e2e/pcap_replay.py plays through net_pcap).

The same module is the test's source of truth: CLASSES says, for every class, what authgate must
send back and which counter must name each frame. Frames are deterministic for a seed.
"""
import argparse
import random
import struct
import sys

from scapy.all import ARP, Dot1Q, Ether, ICMP, IP, IPv6, IPOption_NOP, IPOption_EOL, Raw, TCP, UDP

GW_MAC = "02:70:63:61:70:00"  # net_pcap's own address for its first port (02:'pcap':00)
GW_IP = "198.18.0.2"
OPEN_PORT = 80  # [http] port
ECHO_PORT = 7  # [diag] echo_port
CLOSED_PORT = 81

# Replies: "synack" one SYN-ACK whose ack is seq+1; "rst" RFC 9293 reset for a closed or unknown
# flow; "arp" an ARP reply; "echo" an ICMP echo reply; "none" nothing at all.
# Counters: "dp.X" /authgate/drops, "tcp.X" /authgate/tcp/stats drops, "tcpstat.X" a
# /authgate/tcp/stats counter, "stats.X" /authgate/stats. Each value is per frame of the class.
CLASSES = {
    # --- valid traffic: answered
    "syn": ("synack", {"tcpstat.cookies_sent": 1}, "SYN to the HTTP port, options like Linux's"),
    "syn_bare": ("synack", {"tcpstat.cookies_sent": 1}, "SYN without options (Pktgen's kind)"),
    "syn_echo": ("synack", {"tcpstat.cookies_sent": 1}, "SYN to the echo port, completed later"),
    "syn_data": ("synack", {"tcpstat.cookies_sent": 1}, "data on a SYN: the SYN-ACK acks only the SYN"),
    "syn_ip_options": ("synack", {"tcpstat.cookies_sent": 1}, "IPv4 options (NOP, EOL) on a SYN"),
    "syn_option_soup": ("synack", {"tcpstat.cookies_sent": 1},
                        "NOPs, unknown kinds, duplicate MSS, odd lengths, junk after EOL"),
    "syn_closed_port": ("rst", {"tcpstat.rst_out": 1, "tcp.no_listener": 1}, "SYN to a port nobody listens on"),
    "arp_request": ("arp", {"stats.arp_replies_out": 1}, "who-has the gateway"),
    "icmp_echo": ("echo", {"stats.icmp_echo_out": 1}, "ping"),
    # --- unknown flows (the lookup-miss path)
    "ack_unknown": ("rst", {"tcpstat.rst_out": 1, "tcp.bad_cookie": 1, "tcpstat.cookies_rejected": 1},
                    "bare ACK: not a valid cookie, so a RST <SEQ=SEG.ACK>"),
    "ack_data_unknown": ("none", {"tcp.bad_cookie": 1, "tcpstat.cookies_rejected": 1},
                         "ACK with data failing the cookie: dropped quietly (may have overtaken the handshake's ACK)"),
    "fin_unknown": ("rst", {"tcpstat.rst_out": 1, "tcp.no_flow": 1}, "FIN without ACK: RST,ACK <ACK=SEG.SEQ+1>"),
    "finack_unknown": ("rst", {"tcpstat.rst_out": 1, "tcp.bad_cookie": 1, "tcpstat.cookies_rejected": 1}, "FIN,ACK: RST <SEQ=SEG.ACK>"),
    "psh_unknown": ("rst", {"tcpstat.rst_out": 1, "tcp.no_flow": 1}, "data without ACK: RST,ACK <ACK=SEG.SEQ+SEG.LEN>"),
    "rst_unknown": ("none", {"tcp.no_flow": 1, "tcpstat.rst_in": 1}, "RST for no flow: never answered"),
    "rstack_unknown": ("none", {"tcp.no_flow": 1, "tcpstat.rst_in": 1}, "RST,ACK for no flow"),
    "ack_closed_port": ("rst", {"tcpstat.rst_out": 1, "tcp.no_listener": 1}, "ACK to a closed port"),
    "rst_closed_port": ("none", {"tcp.no_flow": 1, "tcpstat.rst_in": 1}, "RST to a closed port"),
    # --- malformed: nothing comes back, each has its own reason
    "zero_length": ("none", {"dp.eth_runt": 1}, "a frame of 0 bytes"),
    "runt": ("none", {"dp.eth_runt": 1}, "10 bytes: less than an Ethernet header"),
    "oversize": ("none", {"dp.eth_oversize": 1}, "a 1600-byte SYN on a 1500 MTU port"),
    "oversize_jumbo": ("none", {"dp.eth_oversize": 1}, "a 9014-byte frame (chained mbufs)"),
    "eth_only": ("none", {"dp.ip_truncated": 1}, "an Ethernet header saying IPv4, nothing after"),
    "ip_header_truncated": ("none", {"dp.ip_truncated": 1}, "12 bytes of IPv4 header"),
    "ip_options_truncated": ("none", {"dp.ip_truncated": 1}, "IHL 15 (60 bytes) in a 24-byte packet"),
    "ip_bad_ihl": ("none", {"dp.ip_bad_ihl": 1}, "IHL 4"),
    "ip_bad_version": ("none", {"dp.ip_version": 1}, "version 6 under ethertype IPv4"),
    "ip_len_past_frame": ("none", {"dp.ip_bad_total_length": 1}, "total length beyond the frame"),
    "ip_len_below_ihl": ("none", {"dp.ip_bad_total_length": 1}, "total length 10"),
    "ip_bad_checksum": ("none", {"dp.ip_bad_checksum": 1}, "a SYN with a wrong header checksum"),
    "ip_first_fragment": ("none", {"dp.ip_fragment": 1}, "a SYN with MF set"),
    "ip_later_fragment": ("none", {"dp.ip_fragment": 1}, "offset 64, no transport header"),
    "ip_martian_source": ("none", {"dp.ip_martian_source": 1}, "source 224.0.0.1"),
    "ip_not_ours": ("none", {"dp.ip_not_ours": 1}, "a SYN to 198.18.0.99"),
    "udp": ("none", {"dp.ip_unsupported_proto": 1}, "UDP to port 53"),
    "icmp_bad_checksum": ("none", {"dp.icmp_bad_checksum": 1}, "ping with a wrong checksum"),
    "icmp_not_echo": ("none", {"dp.icmp_not_echo_request": 1}, "ICMP timestamp request"),
    "not_our_mac": ("none", {"dp.eth_not_ours": 1}, "a SYN to another unicast MAC"),
    "vlan": ("none", {"dp.eth_vlan": 1}, "802.1Q tagged SYN"),
    "ipv6": ("none", {"dp.eth_ipv6": 1}, "IPv6 SYN"),
    "unknown_ethertype": ("none", {"dp.eth_unknown_type": 1}, "ethertype 0x88b5"),
    "arp_truncated": ("none", {"dp.arp_truncated": 1}, "ARP cut at 30 bytes"),
    "arp_bad_hlen": ("none", {"dp.arp_malformed": 1}, "ARP with hardware length 8"),
    "arp_not_ours": ("none", {"dp.arp_not_ours": 1}, "who-has 198.18.0.99"),
    "tcp_header_truncated": ("none", {"tcp.short": 1}, "10 bytes of TCP header"),
    "tcp_bad_doff": ("none", {"tcp.bad_doff": 1}, "data offset 4"),
    "tcp_doff_past_segment": ("none", {"tcp.short": 1}, "data offset 15 in a 20-byte segment"),
    "tcp_bad_checksum": ("none", {"tcp.bad_csum": 1}, "a SYN with a wrong TCP checksum"),
    "tcp_option_overrun": ("none", {"tcp.bad_options": 1}, "an option longer than the header"),
    "tcp_option_len_zero": ("none", {"tcp.bad_options": 1}, "an option of length 0"),
    "syn_fin": ("none", {"tcp.bad_flags": 1}, "SYN+FIN"),
    "syn_rst": ("none", {"tcp.bad_flags": 1}, "SYN+RST"),
    "null_flags": ("none", {"tcp.bad_flags": 1}, "no flags at all"),
    "tcp_port_zero": ("none", {"tcp.bad_addr": 1}, "a SYN to port 0"),
}

LINUX_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)), ("NOP", None), ("WScale", 7)]


class Gen:
    """Frames with a distinct client (MAC and 198.18.64.0/18 address) each, so replies map back."""

    def __init__(self, gw_mac=GW_MAC, gw_ip=GW_IP, seed=1):
        self.gw_mac, self.gw_ip = gw_mac, gw_ip
        self.rng = random.Random(seed)
        self.n = 0

    def client(self):
        self.n += 1
        i = self.n
        return f"02:00:c6:12:{(i >> 8) & 0xff:02x}:{i & 0xff:02x}", f"198.18.{64 + (i >> 8)}.{i & 0xff}"

    def tcp(self, tflags, dport=OPEN_PORT, data=b"", opts=None, ack=None, **ipkw):
        mac, ip = self.client()
        seq = self.rng.getrandbits(32)
        t = TCP(sport=self.rng.randrange(1024, 65535), dport=dport, flags=tflags, seq=seq,
                ack=self.rng.getrandbits(32) if ack is None else ack, window=64240,
                options=opts or [])
        return Ether(src=mac, dst=self.gw_mac) / IP(src=ip, dst=self.gw_ip, **ipkw) / t / Raw(data) \
            if data else Ether(src=mac, dst=self.gw_mac) / IP(src=ip, dst=self.gw_ip, **ipkw) / t

    def frame(self, cls):
        """One frame of class cls, as bytes."""
        g = self.gw_mac
        if cls == "syn":
            return bytes(self.tcp("S", opts=LINUX_OPTS))
        if cls == "syn_bare":
            return bytes(self.tcp("S"))
        if cls == "syn_echo":
            return bytes(self.tcp("S", dport=ECHO_PORT, opts=[("MSS", 1460)]))
        if cls == "syn_data":
            return bytes(self.tcp("S", data=b"early data " * 9))
        if cls == "syn_ip_options":
            return bytes(self.tcp("S", options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(),
                                                IPOption_EOL()]))
        if cls == "syn_option_soup":
            soup = (b"\x01\x01" + b"\xfe\x04\xab\xcd" + b"\x02\x04\x05\xb4" + b"\x02\x04\x02\x18" +
                    b"\x03\x03\x0e" + b"\x04\x02" + b"\x1e\x02" + b"\x02\x03\x05" +  # MSS len 3
                    b"\x08\x0a" + b"\x00\x00\x30\x39\x00\x00\x00\x00" + b"\x00" + b"\xff\x07\x13")
            soup += b"\x00" * (-len(soup) % 4)
            return bytes(self._with_raw_opts(self.tcp("S"), soup))
        if cls == "syn_closed_port":
            return bytes(self.tcp("S", dport=CLOSED_PORT))
        if cls == "arp_request":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=mac, psrc=ip, pdst=self.gw_ip))
        if cls == "icmp_echo":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst=g) / IP(src=ip, dst=self.gw_ip) /
                         ICMP(id=self.n, seq=1) / Raw(b"authgate lab ping"))
        if cls == "ack_unknown":
            return bytes(self.tcp("A"))
        if cls == "ack_data_unknown":
            return bytes(self.tcp("PA", data=b"GET / HTTP/1.1\r\n\r\n"))
        if cls == "fin_unknown":
            return bytes(self.tcp("F", ack=0))
        if cls == "finack_unknown":
            return bytes(self.tcp("FA"))
        if cls == "psh_unknown":
            return bytes(self.tcp("P", data=b"x" * 33, ack=0))
        if cls == "rst_unknown":
            return bytes(self.tcp("R", ack=0))
        if cls == "rstack_unknown":
            return bytes(self.tcp("RA"))
        if cls == "ack_closed_port":
            return bytes(self.tcp("A", dport=CLOSED_PORT))
        if cls == "rst_closed_port":
            return bytes(self.tcp("R", dport=CLOSED_PORT, ack=0))
        if cls == "zero_length":
            self.client()
            return b""
        if cls == "runt":
            self.client()
            return bytes.fromhex(g.replace(":", "")) + b"\x02\x00\x00\x00"
        if cls == "oversize":
            return bytes(self.tcp("S", data=b"o" * (1600 - 54)))
        if cls == "oversize_jumbo":
            return bytes(self.tcp("A", data=b"j" * (9014 - 54)))
        if cls == "eth_only":
            mac, _ = self.client()
            return bytes(Ether(src=mac, dst=g, type=0x0800))
        if cls == "ip_header_truncated":
            return bytes(self.tcp("S"))[:14 + 12]
        if cls == "ip_options_truncated":
            f = bytearray(bytes(self.tcp("S"))[:14 + 24])
            f[14] = 0x4F
            struct.pack_into("!H", f, 16, 24)
            return bytes(f)
        if cls == "ip_bad_ihl":
            return bytes(self.tcp("S", ihl=4))
        if cls == "ip_bad_version":
            return bytes(self.tcp("S", version=6))
        if cls == "ip_len_past_frame":
            return bytes(self.tcp("S", len=400))
        if cls == "ip_len_below_ihl":
            return bytes(self.tcp("S", len=10))
        if cls == "ip_bad_checksum":
            return bytes(self.tcp("S", chksum=0x1234))
        if cls == "ip_first_fragment":
            return bytes(self.tcp("S", flags="MF"))
        if cls == "ip_later_fragment":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst=g) / IP(src=ip, dst=self.gw_ip, proto=6, frag=8) / Raw(b"f" * 40))
        if cls == "ip_martian_source":
            f = self.tcp("S")
            f[IP].src = "224.0.0.1"
            return bytes(f)
        if cls == "ip_not_ours":
            f = self.tcp("S")
            f[IP].dst = "198.18.0.99"
            return bytes(f)
        if cls == "udp":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst=g) / IP(src=ip, dst=self.gw_ip) / UDP(sport=5353, dport=53) / Raw(b"q" * 12))
        if cls == "icmp_bad_checksum":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst=g) / IP(src=ip, dst=self.gw_ip) / ICMP(chksum=0xDEAD))
        if cls == "icmp_not_echo":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst=g) / IP(src=ip, dst=self.gw_ip) / ICMP(type=13))
        if cls == "not_our_mac":
            f = self.tcp("S")
            f[Ether].dst = "02:00:00:00:99:99"
            return bytes(f)
        if cls == "vlan":
            f = self.tcp("S")
            return bytes(Ether(src=f[Ether].src, dst=g) / Dot1Q(vlan=7) / f[IP])
        if cls == "ipv6":
            mac, _ = self.client()
            return bytes(Ether(src=mac, dst=g) / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(dport=80, flags="S"))
        if cls == "unknown_ethertype":
            mac, _ = self.client()
            return bytes(Ether(src=mac, dst=g, type=0x88B5) / Raw(b"x" * 46))
        if cls == "arp_truncated":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=mac, psrc=ip, pdst=self.gw_ip))[:30]
        if cls == "arp_bad_hlen":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwlen=8, psrc=ip, pdst=self.gw_ip))
        if cls == "arp_not_ours":
            mac, ip = self.client()
            return bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=mac, psrc=ip, pdst="198.18.0.99"))
        if cls == "tcp_header_truncated":
            f = bytes(self.tcp("S"))[:14 + 20 + 10]
            f = bytearray(f)
            struct.pack_into("!H", f, 16, 30)
            return _ip_csum(f)
        if cls == "tcp_bad_doff":
            f = self.tcp("A")
            f[TCP].dataofs = 4
            return bytes(f)
        if cls == "tcp_doff_past_segment":
            f = self.tcp("S")
            f[TCP].dataofs = 15
            return bytes(f)
        if cls == "tcp_bad_checksum":
            f = self.tcp("S")
            f[TCP].chksum = 0x4321
            return bytes(f)
        if cls == "tcp_option_overrun":
            return bytes(self._with_raw_opts(self.tcp("S"), b"\x01\x01\x02\x28"))
        if cls == "tcp_option_len_zero":
            return bytes(self._with_raw_opts(self.tcp("S"), b"\x01\x01\xfe\x00"))
        if cls == "syn_fin":
            return bytes(self.tcp("SF"))
        if cls == "syn_rst":
            return bytes(self.tcp("SR"))
        if cls == "null_flags":
            return bytes(self.tcp(""))
        if cls == "tcp_port_zero":
            return bytes(self.tcp("S", dport=0))
        raise KeyError(cls)

    @staticmethod
    def _with_raw_opts(pkt, opts):
        """pkt with its TCP options replaced by raw bytes (scapy would "fix" bad ones)."""
        p = pkt.copy()
        p[TCP].options = []
        p[TCP].dataofs = 5 + len(opts) // 4
        raw = bytearray(bytes(p))
        l4 = 14 + (raw[14] & 0xF) * 4
        raw[l4 + 20:l4 + 20] = opts
        struct.pack_into("!H", raw, 16, len(raw) - 14)
        return Ether(_tcp_csum(_ip_csum(raw)))


def _ip_csum(f):
    f = bytearray(f)
    ihl = (f[14] & 0xF) * 4
    struct.pack_into("!H", f, 24, 0)
    struct.pack_into("!H", f, 24, _csum(bytes(f[14:14 + ihl])))
    return bytes(f)


def _tcp_csum(f):
    f = bytearray(f)
    ihl = (f[14] & 0xF) * 4
    l4 = 14 + ihl
    total = struct.unpack_from("!H", f, 16)[0]
    seg = f[l4:14 + total]
    struct.pack_into("!H", seg, 16, 0)
    pseudo = bytes(f[26:34]) + struct.pack("!BBH", 0, 6, len(seg))
    struct.pack_into("!H", seg, 16, _csum(pseudo + bytes(seg)))
    f[l4:14 + total] = seg
    return bytes(f)


def _csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


# How many frames of each class the replay plays: enough SYNs to see cookies vary, one or two
# of each hostile class (each is deterministic; more would only repeat it).
REPLAY_COUNTS = {c: 2 for c in CLASSES}
REPLAY_COUNTS.update({"syn": 32, "syn_bare": 8, "syn_echo": 8, "syn_data": 4})


def replay_set(gw_mac=GW_MAC, gw_ip=GW_IP, seed=1, counts=None):
    """[(class, frame bytes)] in a seeded shuffled order."""
    g = Gen(gw_mac, gw_ip, seed)
    out = [(c, g.frame(c)) for c, n in (counts or REPLAY_COUNTS).items() for _ in range(n)]
    random.Random(seed).shuffle(out)
    return out


def flood_set(kind, count, gw_mac=GW_MAC, gw_ip=GW_IP, seed=1):
    """A Pktgen replay file: COUNT frames of one flood kind from 198.18.128.0/17 sources.

    Sources are off the gateway's /24 in the lab README: they reach it through one next hop.
    """
    rng = random.Random(seed)
    frames = []
    for i in range(count):
        src = f"198.18.{128 + (i >> 8) % 128}.{i & 0xff or 1}"
        sport = 1024 + i % 64000
        seq = rng.getrandbits(32)
        e = Ether(src="02:00:c6:12:80:01", dst=gw_mac)
        if kind == "syn-flood":
            p = e / IP(src=src, dst=gw_ip) / TCP(sport=sport, dport=OPEN_PORT, flags="S", seq=seq,
                                                  options=[("MSS", 1460)])
        elif kind == "ack-flood":
            p = e / IP(src=src, dst=gw_ip) / TCP(sport=sport, dport=OPEN_PORT, flags="A", seq=seq,
                                                  ack=rng.getrandbits(32))
        elif kind == "fin-flood":
            p = e / IP(src=src, dst=gw_ip) / TCP(sport=sport, dport=OPEN_PORT, flags="FA", seq=seq,
                                                  ack=rng.getrandbits(32))
        elif kind == "rst-flood":
            p = e / IP(src=src, dst=gw_ip) / TCP(sport=sport, dport=OPEN_PORT, flags="R", seq=seq)
        elif kind == "icmp-arp":
            p = (e / IP(src=src, dst=gw_ip) / ICMP(id=i & 0xFFFF) / Raw(b"pktgen")) if i % 2 else \
                Ether(src="02:00:c6:12:80:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=src, pdst=gw_ip)
        else:
            raise KeyError(kind)
        frames.append(bytes(p))
    return frames


class PcapStream:
    """A classic pcap (microseconds, Ethernet) written record by record: a file or a FIFO.

    scapy's writer re-dissects frames and would "repair" the malformed ones.
    """

    def __init__(self, f):
        self.f = f
        self.n = 0
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def write(self, frame):
        self.n += 1
        # timestamps only order the records; net_pcap replays as fast as it is polled
        self.f.write(struct.pack("<IIII", 1700000000 + self.n // 1000000, self.n % 1000000,
                                 len(frame), len(frame)) + frame)

    def flush(self):
        self.f.flush()


def write_pcap(path, frames):
    with open(path, "wb") as f:
        w = PcapStream(f)
        for fr in frames:
            w.write(fr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("set", choices=["syn-flood", "ack-flood", "fin-flood", "rst-flood",
                                    "icmp-arp", "hostile", "replay"])
    ap.add_argument("out")
    ap.add_argument("--gw-mac", default=GW_MAC)
    ap.add_argument("--gw-ip", default=GW_IP)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=65536, help="frames in a flood file")
    a = ap.parse_args()
    if a.set == "replay":
        frames = [f for _, f in replay_set(a.gw_mac, a.gw_ip, a.seed)]
    elif a.set == "hostile":
        hostile = {c: 1 for c, (reply, _, _) in CLASSES.items() if reply == "none"}
        frames = [f for _, f in replay_set(a.gw_mac, a.gw_ip, a.seed, hostile)]
    else:
        frames = flood_set(a.set, a.count, a.gw_mac, a.gw_ip, a.seed)
    write_pcap(a.out, frames)
    print(f"{a.out}: {len(frames)} frames", file=sys.stderr)


if __name__ == "__main__":
    main()
