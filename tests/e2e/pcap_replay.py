#!/usr/bin/python3
"""net_pcap replay: the lab's traffic classes and the hostile set through authgate, answers checked.

The gateway runs on net_pcap0 with rx_pcap on a FIFO and tx_pcap on a file. Phase 1 plays
bench/pktgen/mkpcap.py's replay set (SYNs, unknown-flow segments, ARP/ICMP, malformed frames);
the checker reads what came out and holds every class to its RFC answer, and every counter to the
exact number of frames that must hit it. Phase 2 completes cookie handshakes from the SYN-ACKs
phase 1 produced (the same gateway process: its cookie secret lives only there), talks echo and
HTTP on them, throws RSTs in and out of the window and SYNs at them, then resets them all.
"""
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agtest import BUILD, TOP, Check, require_root, skip, stop_gateway, telemetry  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "bench", "pktgen"))
import mkpcap  # noqa: E402
from scapy.all import ARP, ICMP, IP, TCP, Ether, Raw  # noqa: E402

PREFIX = os.environ.get("AUTHGATE_LAB", "ag") + "-pcap"  # DPDK file prefix and telemetry
SEED = 8
GW_MAC = "02:00:5e:18:00:02"  # [port] mac: the generator addresses the gateway before it starts
GW_IP = mkpcap.GW_IP

CONFIG = """
[eal]
lcores = 0-1
main_lcore = 0
memory_mb = 256
hugepages = no
file_prefix = {prefix}
pci = no
[dataplane]
lcores = 1
# one frame per poll: the FIFO blocks the read until the next phase is written, and a
# larger burst would hold back the frames already read
burst = 1
[port replay]
device = net_pcap0,rx_pcap={fifo},tx_pcap={out}
address = 198.18.0.2/16
mac = {mac}
mbufs = 4095
mbuf_cache = 64
garp = no
[tcp]
syncookies = always
max_flows = 4096
[diag]
echo_port = 7
[http]
port = 80
[site /pkg]
root = {www}
"""


def read_pcap(path):
    """Frames of a pcap net_pcap wrote (nanosecond or microsecond magic), as bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack_from("<I", data)[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), hex(magic)
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, off)
        if off + 16 + incl > len(data):
            break  # a record being written
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def counters():
    st = telemetry("/authgate/stats", PREFIX)
    tcp = telemetry("/authgate/tcp/stats", PREFIX)
    dp = telemetry("/authgate/drops", PREFIX)
    c = {f"stats.{k}": v for k, v in st.items()}
    c.update({f"dp.{k}": v for k, v in dp.items() if k != "total"})
    c.update({f"tcp.{k}": v for k, v in tcp["drops"].items()})
    c.update({f"tcpstat.{k}": v for k, v in tcp.items() if isinstance(v, int)})
    return c


def settle(gw, rx_want, timeout=30.0):
    """Waits (bounded) until the gateway has read rx_want frames and its counters stand still."""
    end = time.time() + timeout
    last, still = None, 0
    while time.time() < end:
        if gw.poll() is not None:
            raise AssertionError(f"the gateway exited ({gw.returncode}) mid-replay")
        c = counters()
        if c["stats.rx_pkts"] >= rx_want and c == last:
            still += 1
            if still >= 3:
                return c
        else:
            still = 0
        last = c
        time.sleep(0.2)
    raise AssertionError(f"counters did not settle: rx {last and last['stats.rx_pkts']} of {rx_want}")


def from_gw(frames):
    return [Ether(f) for f in frames]


def main():
    require_root()
    binary = os.path.join(BUILD, "app", "authgate")
    if not os.path.exists(binary):
        skip(f"no {binary}: build first")
    tmp = tempfile.mkdtemp(prefix="ag-pcap-")
    fifo, out, www = os.path.join(tmp, "in.fifo"), os.path.join(tmp, "out.pcap"), os.path.join(tmp, "www")
    os.mkdir(www)
    with open(os.path.join(www, "hello.txt"), "w") as f:
        f.write("hello from authgate\n")
    os.mkfifo(fifo)
    cfg = os.path.join(tmp, "replay.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(prefix=PREFIX, fifo=fifo, out=out, mac=GW_MAC, www=www))
    log = open(os.path.join(tmp, "authgate.log"), "w")
    shutil.rmtree(f"/var/run/dpdk/{PREFIX}", ignore_errors=True)
    gw = subprocess.Popen([binary, "-c", cfg], stdout=log, stderr=subprocess.STDOUT)
    wfd, ok = None, Check()
    try:
        # net_pcap opens rx_pcap while EAL probes the vdev: wait (bounded) for it to be the reader
        end = time.time() + 30
        while wfd is None:
            try:
                wfd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if gw.poll() is not None or time.time() > end:
                    raise AssertionError("the gateway never opened its rx_pcap")
                time.sleep(0.05)
        fcntl.fcntl(wfd, fcntl.F_SETFL, fcntl.fcntl(wfd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        stream = mkpcap.PcapStream(os.fdopen(wfd, "wb", buffering=0))
        wait_telemetry(gw)
        ok.failed += phase1_and_2(gw, stream, out, ok)
    finally:
        if wfd is not None:
            try:
                stream.f.close()  # EOF: net_pcap's reads return nothing from here on
            except (OSError, NameError):
                pass
        stop_gateway(gw, timeout=20)
        log.close()
        if ok.failed or gw.returncode not in (0, None):
            print(open(os.path.join(tmp, "authgate.log")).read()[-3000:])
        ok(gw.returncode == 0, f"gateway exited cleanly on SIGTERM (rc {gw.returncode})")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(f"/var/run/dpdk/{PREFIX}", ignore_errors=True)
    return ok.done()


def wait_telemetry(gw):
    end = time.time() + 30
    while time.time() < end:
        try:
            telemetry("/authgate/stats", PREFIX)
            return
        except OSError:
            if gw.poll() is not None:
                raise AssertionError("the gateway exited at start")
            time.sleep(0.1)
    raise AssertionError("no telemetry socket")


def key_of(fr):
    """(client ip, client port) of a frame we sent, or (client mac,) for frames without one."""
    if len(fr) < 14:  # runts: nothing to answer to
        return None
    p = Ether(fr)
    if IP in p and TCP in p and not p[IP].frag and p[IP].ihl >= 5:
        return (p[IP].src, p[TCP].sport)
    if IP in p:
        return (p[IP].src, None)
    if ARP in p:
        return (p[ARP].psrc, None)
    return (p.src, None)


def reply_key(p):
    if IP in p and TCP in p:
        return (p[IP].dst, p[TCP].dport)
    if IP in p:
        return (p[IP].dst, None)
    if ARP in p:
        return (p[ARP].pdst, None)
    return (p.dst, None)


def phase1_and_2(gw, stream, out, ok):
    sent = mkpcap.replay_set(GW_MAC, GW_IP, SEED)
    # The gateway learns a neighbour only from ARP addressed to it, never from IPv4 (a spoofed
    # packet must not redirect an address), so every client asks for the gateway first, as a
    # host does before its first packet. Their answers are checked apart from the classes.
    prime = {}
    for cls, fr in sent:
        p = Ether(fr) if len(fr) >= 34 else None
        if p is not None and IP in p and p[IP].src.startswith("198.18.") and p[IP].src != GW_IP:
            prime.setdefault(p[IP].src, p.src)
    for ip, mac in prime.items():
        stream.write(bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                           ARP(op=1, hwsrc=mac, psrc=ip, pdst=GW_IP)))
    per_class = {}
    for cls, fr in sent:
        per_class[cls] = per_class.get(cls, 0) + 1
        stream.write(fr)
    print(f"phase 1: {len(prime)} ARP requests, {len(sent)} frames in {len(per_class)} classes",
          flush=True)
    c1 = settle(gw, len(prime) + len(sent))
    raw = from_gw(read_pcap(out))

    def primed(p):
        return ARP in p and p[ARP].op == 2 and p[ARP].pdst in prime
    replies = [p for p in raw if not primed(p)]
    ok(len(raw) - len(replies) == len(prime),
       f"each client's ARP request answered: {len(raw) - len(replies)}/{len(prime)}")
    by_key = {}
    for p in replies:
        by_key.setdefault(reply_key(p), []).append(p)
    used = set()
    answered = {}
    synacks = {}
    for cls, fr in sent:
        want = mkpcap.CLASSES[cls][0]
        k = key_of(fr)
        got = []
        if k is not None:
            got = by_key.get(k, []) if k[1] is not None else [p for p in by_key.get(k, [])]
            used.add(k)
        answered.setdefault(cls, [0, 0])
        good = check_reply(cls, want, Ether(fr) if len(fr) >= 14 else None, got)
        answered[cls][0] += 1
        answered[cls][1] += good
        if want == "synack" and good:
            synacks.setdefault(cls, []).append((Ether(fr), got[0]))
    for cls, (n, good) in sorted(answered.items()):
        ok(n == good, f"{cls}: {good}/{n} answered as RFC says ({mkpcap.CLASSES[cls][0]}): "
           f"{mkpcap.CLASSES[cls][2]}")
    stray = [p for p in replies if reply_key(p) not in used]
    ok(not stray, f"no frame out that answers nothing sent ({len(stray)}: "
       f"{[p.summary() for p in stray[:3]]})")
    cookies = {p[TCP].seq for lst in synacks.values() for _, p in lst}
    ok(len(cookies) == sum(len(v) for v in synacks.values()),
       f"{len(cookies)} SYN-ACKs, {len(cookies)} distinct cookies")

    expect = {"stats.arp_replies_out": len(prime)}
    for cls, n in per_class.items():
        for key, inc in mkpcap.CLASSES[cls][1].items():
            expect[key] = expect.get(key, 0) + n * inc
    check_counters(ok, c1, expect, "phase 1")

    # --- phase 2: complete the handshakes the SYN-ACKs invited
    p2a, p2b, want2 = [], [], {"echo": [], "http": [], "challenge": [], "none": [], "rst": []}
    flows = []
    for cls in ("syn", "syn_echo"):
        for i, (syn, sa) in enumerate(synacks.get(cls, [])):
            cli = Ether(src=syn.src, dst=GW_MAC) / IP(src=syn[IP].src, dst=GW_IP)
            sport, dport = syn[TCP].sport, syn[TCP].dport
            seq, ack = syn[TCP].seq + 1, sa[TCP].seq + 1
            if cls == "syn" and i < 2:  # a forged cookie: RST <SEQ=SEG.ACK>
                bad = ack ^ 0x01000000
                p2a.append(cli / TCP(sport=sport, dport=dport, flags="A", seq=seq, ack=bad))
                want2["rst"].append((syn[IP].src, sport, bad))
                continue
            p2a.append(cli / TCP(sport=sport, dport=dport, flags="A", seq=seq, ack=ack))
            if cls == "syn_echo" and i < 4:
                # RFC 5961: out of window → dropped silently; in window, not exact → challenge
                p2a.append(cli / TCP(sport=sport, dport=dport, flags="R", seq=seq + 0x40000000))
                p2a.append(cli / TCP(sport=sport, dport=dport, flags="R", seq=seq + 100))
                p2a.append(cli / TCP(sport=sport, dport=dport, flags="S", seq=seq))
                # one per flow per 500 ms: the SYN's challenge ACK is held back
                want2["challenge"].append((syn[IP].src, sport, 1, seq))
            data = b""
            if cls == "syn_echo":
                data = f"echo {i} through a cookie flow\n".encode()
                want2["echo"].append((syn[IP].src, sport, data))
            elif i < 6:
                data = b"GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n"
                want2["http"].append((syn[IP].src, sport))
            if data:
                p2a.append(cli / TCP(sport=sport, dport=dport, flags="PA", seq=seq, ack=ack) / Raw(data))
            flows.append((syn[IP].src, sport))
            p2b.append(cli / TCP(sport=sport, dport=dport, flags="R", seq=seq + len(data)))
    n1 = len(raw)
    for p in p2a:
        stream.write(bytes(p))
    c2 = settle(gw, len(sent) + len(p2a))
    out2 = from_gw(read_pcap(out))[n1:]
    for ip, sport, bad in want2["rst"]:
        r = [p for p in out2 if reply_key(p) == (ip, sport)]
        ok(len(r) == 1 and r[0][TCP].flags == "R" and r[0][TCP].seq == bad,
           f"forged cookie ACK from {ip}:{sport}: one RST <SEQ=SEG.ACK>")
    for ip, sport, n, seq in want2["challenge"]:
        r = [p for p in out2 if reply_key(p) == (ip, sport) and p[TCP].flags == "A" and not p[TCP].payload]
        ok(len(r) >= n and all(p[TCP].ack == seq for p in r[:n]),
           f"{ip}:{sport}: the in-window RST drew a challenge ACK <ACK={seq}>, the "
           f"out-of-window RST nothing ({len(r)} bare ACKs)")
    chal = (c2["tcpstat.challenge_acks"] - c1["tcpstat.challenge_acks"],
            c2["tcpstat.challenge_acks_limited"] - c1["tcpstat.challenge_acks_limited"])
    ok(chal[0] + chal[1] == 2 * len(want2["challenge"]) and chal[0] >= len(want2["challenge"]),
       f"challenge ACKs sent {chal[0]}, held back by the per-flow limit {chal[1]}, for "
       f"{2 * len(want2['challenge'])} in-window RSTs and SYNs")
    for ip, sport, data in want2["echo"]:
        got = b"".join(bytes(p[TCP].payload) for p in out2 if reply_key(p) == (ip, sport)
                       and len(p[TCP].payload) and not p.haslayer("Padding"))
        ok(data in got, f"{ip}:{sport}: echo through the cookie flow returned its bytes")
    for ip, sport in want2["http"]:
        got = b"".join(bytes(p[TCP].payload) for p in out2 if reply_key(p) == (ip, sport))
        ok(got.startswith(b"HTTP/1.1 200") and b"hello from authgate" in got,
           f"{ip}:{sport}: GET over the cookie flow: {got[:15]!r}")
    accepted = len(flows)
    ok(c2["tcpstat.cookies_accepted"] == accepted,
       f"cookies accepted {c2['tcpstat.cookies_accepted']} = {accepted} completed handshakes")
    ok(c2["tcp.bad_cookie"] - c1["tcp.bad_cookie"] == len(want2["rst"]),
       f"bad_cookie +{c2['tcp.bad_cookie'] - c1['tcp.bad_cookie']} for the forged ACKs")
    ok(c2["tcp.out_of_window"] - c1["tcp.out_of_window"] == len(want2["challenge"]),
       f"out_of_window +{c2['tcp.out_of_window'] - c1['tcp.out_of_window']} for the far RSTs")
    ok(c2["tcp.challenge_ack"] - c1["tcp.challenge_ack"] == 2 * len(want2["challenge"]),
       f"challenge_ack +{c2['tcp.challenge_ack'] - c1['tcp.challenge_ack']}")
    ok(c2["tcpstat.flows"] == accepted, f"{c2['tcpstat.flows']} flows open")
    n2 = n1 + len(out2)
    for p in p2b:
        stream.write(bytes(p))
    c3 = settle(gw, len(sent) + len(p2a) + len(p2b))
    ok(c3["tcpstat.flows"] == 0, f"exact RSTs closed every flow ({c3['tcpstat.flows']} left)")
    out3 = from_gw(read_pcap(out))[n2:]
    ok(not [p for p in out3 if TCP in p and p[TCP].flags & 0x04],
       "nothing answers the RSTs")
    print(f"figures: phase 1 {len(sent)} frames in, {n1} out; phase 2 {len(p2a)} in, "
          f"{len(out2)} out; phase 3 {len(p2b)} RSTs in, {len(out3)} out", flush=True)
    return 0


def check_reply(cls, want, sent, got):
    if want == "none":
        return not got
    if len(got) != 1:
        print(f"  {cls}: {len(got)} replies to {sent.summary() if sent else '-'}: "
              f"{[p.summary() for p in got]}")
        return False
    r = got[0]
    if r.dst != sent.src:
        return False
    if want == "synack":
        t = r[TCP]
        return (t.flags == "SA" and t.ack == (sent[TCP].seq + 1) & 0xFFFFFFFF
                and t.sport == sent[TCP].dport and any(o[0] == "MSS" for o in t.options))
    if want == "rst":
        s, t = sent[TCP], r[TCP]
        if s.flags & 0x10:
            return t.flags == "R" and t.seq == s.ack
        seglen = len(s.payload) - (len(sent[Ether].payload) - sent[IP].len if sent[IP].len else 0)
        seglen += bool(s.flags & 0x02) + bool(s.flags & 0x01)
        return t.flags == "RA" and t.seq == 0 and t.ack == (s.seq + seglen) & 0xFFFFFFFF
    if want == "arp":
        return ARP in r and r[ARP].op == 2 and r[ARP].psrc == GW_IP and r[ARP].hwsrc == GW_MAC
    if want == "echo":
        return (ICMP in r and r[ICMP].type == 0 and r[ICMP].id == sent[ICMP].id
                and bytes(r[ICMP].payload) == bytes(sent[ICMP].payload))
    return False


def check_counters(ok, c, expect, what):
    named = {k for k in c if k.startswith(("dp.", "tcp."))}
    for k in sorted(set(expect) | named):
        want = expect.get(k, 0)
        if k in expect or c.get(k, 0) != 0:
            ok(c.get(k, 0) == want, f"{what}: {k} = {c.get(k, 0)} (expected {want})")


if __name__ == "__main__":
    sys.exit(main())
