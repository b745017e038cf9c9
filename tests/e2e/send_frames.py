#!/usr/bin/python3
"""Runs inside the lab namespace: sends hostile frames at the gateway, COUNT of each class."""
import json
import sys

from scapy.all import ARP, Dot1Q, Ether, ICMP, IP, Raw, UDP, conf, get_if_hwaddr, sendp

conf.verb = 0
iface, gw_mac, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
me = get_if_hwaddr(iface)
GW, CLIENT = "198.18.0.2", "198.18.0.1"
eth = Ether(src=me, dst=gw_mac)

# class name → (expected drop reason, frame)
frames = {
    "truncated_ipv4": ("ip_truncated", bytes(Ether(src=me, dst=gw_mac, type=0x0800) / Raw(b"\x45" + b"\x00" * 9))),
    "bad_ip_checksum": ("ip_bad_checksum", eth / IP(src=CLIENT, dst=GW, chksum=0x1234) / ICMP()),
    "bad_ihl": ("ip_bad_ihl", eth / IP(src=CLIENT, dst=GW, ihl=3) / ICMP()),
    "first_fragment": ("ip_fragment", eth / IP(src=CLIENT, dst=GW, flags="MF") / ICMP() / Raw(b"x" * 32)),
    "later_fragment": ("ip_fragment", eth / IP(src=CLIENT, dst=GW, frag=5) / Raw(b"x" * 32)),
    "total_length_past_frame": ("ip_bad_total_length", eth / IP(src=CLIENT, dst=GW, len=1000) / ICMP()),
    "ip_version_6_in_ipv4": ("ip_version", eth / IP(src=CLIENT, dst=GW, version=6) / ICMP()),
    "not_our_ip": ("ip_not_ours", eth / IP(src=CLIENT, dst="198.18.0.99") / ICMP()),
    "martian_source": ("ip_martian_source", eth / IP(src=GW, dst=GW) / ICMP()),
    "udp": ("ip_unsupported_proto", eth / IP(src=CLIENT, dst=GW) / UDP(dport=53)),
    "icmp_bad_checksum": ("icmp_bad_checksum", eth / IP(src=CLIENT, dst=GW) / ICMP(chksum=0xDEAD)),
    "icmp_timestamp": ("icmp_not_echo_request", eth / IP(src=CLIENT, dst=GW) / ICMP(type=13)),
    "unknown_ethertype": ("eth_unknown_type", Ether(src=me, dst=gw_mac, type=0x88B5) / Raw(b"x" * 46)),
    "vlan": ("eth_vlan", eth / Dot1Q(vlan=7) / IP(src=CLIENT, dst=GW) / ICMP()),
    "arp_bad_hlen": ("arp_malformed", Ether(src=me, dst="ff:ff:ff:ff:ff:ff") / ARP(hwlen=8, psrc=CLIENT, pdst=GW)),
    "arp_truncated": ("arp_truncated", bytes(Ether(src=me, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=CLIENT, pdst=GW))[:30]),
    # A frame shorter than 14 bytes cannot be shown through a tap: the kernel's packet socket
    # zero-pads it to a full header. The net_pcap replay covers runts.
}
sent = {}
for name, (reason, frame) in frames.items():
    try:
        for _ in range(count):
            sendp(frame, iface=iface)
        sent[name] = reason
    except OSError as e:  # the kernel may refuse to send some frames at all
        print(f"could not send {name}: {e}", file=sys.stderr)
print(json.dumps(sent))
