#!/usr/bin/env python3
"""TSO over net_tap: downloads byte-exact, and what reaches the client is MSS-sized and summed right.

Its own namespace (AUTHGATE_LAB + "-tso"), not scripts/lab: the gateway's net_tap (198.18.8.2/24)
and the kernel's end of it (198.18.8.1/24), the kernel being the client. The gateway runs twice,
with `[port] tso = auto` (net_tap offers TSO: the engine hands it large packets, net_tap cuts
them with rte_gso and sums each piece) and with `tso = no`. Each run downloads files of odd and
even sizes, whole and in 64 KiB ranges (odd response heads: the engine must never give net_tap a
chain whose odd-length piece is not the last, in a large packet or not), while tcpdump on the
tap records every segment the gateway sent. Checked: byte-exact bodies, no segment over the MSS,
every TCP checksum correct (tcpdump -vv, and the kernel's TcpInCsumErrors), tso_out counted only
with TSO on, and authgate-ctl ports' tcp_tso says which.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest  # noqa: E402
from agtest import Check, run, skip  # noqa: E402

NS = f"{agtest.NS}-tso"[:32]
TAP = "agtso0"
PREFIX = f"{agtest.NS}-tso"
GW = "198.18.8.2"
CLIENT = "198.18.8.1"
MSS = 1448  # the kernel's 1460 less 12 bytes of timestamps


def config(www, tso):
    return agtest.gateway_config(PREFIX, f"""[port lab]
device = net_tap0,iface={TAP}
address = {GW}/24
tso = {tso}""", www)


def csum_errors():
    out = run(["ip", "netns", "exec", NS, "nstat", "-az", "TcpInCsumErrors"]).stdout
    m = re.search(r"TcpInCsumErrors\s+(\d+)", out)
    return int(m.group(1)) if m else 0


def segments(pcap):
    """(payload lengths, bad checksums) of the gateway's TCP segments in pcap."""
    out = run(["tcpdump", "-r", pcap, "-nn", "-vv", f"tcp and src host {GW}"],
              check=False).stdout
    lens, bad = [], 0
    for line in out.splitlines():
        if "cksum" in line and "incorrect" in line:
            bad += 1
        m = re.search(r"Flags .*, length (\d+)", line)
        if m:
            lens.append(int(m.group(1)))
    return lens, bad


def one_run(check, work, www, files, tso):
    binary = os.path.join(agtest.BUILD, "app", "authgate")
    cfg = os.path.join(work, f"tso-{tso}.ini")
    log = os.path.join(work, f"authgate-{tso}.log")
    pcap = os.path.join(work, f"gw-{tso}.pcap")
    with open(cfg, "w") as f:
        f.write(config(www, tso))
    gw = dump = None
    try:
        gw = agtest.start_gateway(NS, binary, cfg, PREFIX, log, TAP, f"{CLIENT}/24")
        if not agtest.wait_ping(gw, NS, GW):
            print(open(log).read()[-3000:])
            raise AssertionError("gateway not reachable within 20 s")
        dump = subprocess.Popen(["ip", "netns", "exec", NS, "tcpdump", "-i", TAP, "-Z", "root",
                                 "-U", "-w", pcap, "tcp"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        errs0 = csum_errors()
        for name, data in files.items():
            status, got, same, dt, err = agtest.get_exact(
                NS, f"http://{GW}/pkg/{name}", os.path.join(work, "got-" + name), data)
            check(status == "200" and same,
                  f"tso={tso}: GET /pkg/{name}: {status} {got}/{len(data)} bytes "
                  f"byte-exact={same} ({dt:.2f} s) {err}")
        big = files["4m.bin"]
        for lo in (0, 1, 65537, 1000001):
            out = os.path.join(work, "range.bin")
            p = run(["ip", "netns", "exec", NS, "curl", "-sS", "--max-time", "30", "-r",
                     f"{lo}-{lo + 65535}", "-o", out, "-w", "%{http_code}",
                     f"http://{GW}/pkg/4m.bin"], check=False)
            got = open(out, "rb").read() if os.path.exists(out) else b""
            check(p.stdout == "206" and got == big[lo:lo + 65536],
                  f"tso={tso}: 64 KiB range from {lo}: {p.stdout} {len(got)} bytes "
                  f"exact={got == big[lo:lo + 65536]}")
        time.sleep(0.5)
        errs = csum_errors() - errs0
        tcp = agtest.telemetry("/authgate/tcp/stats", prefix=PREFIX)
        ports = agtest.telemetry("/authgate/ports", prefix=PREFIX)
        port = ports[0] if isinstance(ports, list) else next(iter(ports.values()))
    finally:
        if dump is not None:
            dump.send_signal(signal.SIGINT)
            try:
                dump.wait(timeout=10)
            except subprocess.TimeoutExpired:
                dump.kill()
                dump.wait()
        agtest.stop_gateway(gw)
    lens, bad = segments(pcap)
    data_lens = [n for n in lens if n > 0]
    print(f"tso={tso}: tcp_tso={port.get('tcp_tso')} tx_offloads={port.get('tx_offloads')} "
          f"seg_out={tcp.get('seg_out')} tso_out={tcp.get('tso_out')} "
          f"retransmits={tcp.get('retransmits')} segments seen={len(data_lens)} "
          f"largest={max(data_lens, default=0)}")
    check(len(data_lens) > 1000, f"tso={tso}: tcpdump saw the downloads ({len(data_lens)})")
    check(max(data_lens, default=0) <= MSS,
          f"tso={tso}: no segment on the wire over the MSS {MSS} "
          f"(largest {max(data_lens, default=0)})")
    check(bad == 0, f"tso={tso}: every TCP checksum tcpdump checked is correct ({bad} bad)")
    check(errs == 0, f"tso={tso}: the kernel counted no checksum error ({errs})")
    cut = sum(1 for n in data_lens if n == MSS - 14)
    print(f"tso={tso}: {cut} segments of {MSS - 14} bytes (net_tap's cut: the MSS less 14)")
    if tso == "auto":
        check(cut > 1000, f"net_tap cut the large packets ({cut} segments of {MSS - 14})")
        check(port.get("tcp_tso") == "port", f"ports: tcp_tso = {port.get('tcp_tso')}")
        check("TCP_TSO" in port.get("tx_offloads", ""), "TCP_TSO among the port's offloads")
        check(tcp.get("tso_out", 0) > 100,
              f"large packets went to the port (tso_out={tcp.get('tso_out')})")
    else:
        check(str(port.get("tcp_tso", "")).startswith("off"),
              f"ports: tcp_tso = {port.get('tcp_tso')}")
        check(tcp.get("tso_out", 0) == 0, f"no large packet (tso_out={tcp.get('tso_out')})")
    return tcp


def main():
    agtest.require_root()
    binary = os.path.join(agtest.BUILD, "app", "authgate")
    if not os.access(binary, os.X_OK):
        skip(f"no gateway binary at {binary}")
    check = Check()
    work = tempfile.mkdtemp(prefix="ag-tso-")
    www = os.path.join(work, "www")
    files = {"odd.bin": os.urandom(1234567), "4m.bin": os.urandom(4 << 20),
             "small.txt": b"fits in one segment\n", "3001.bin": os.urandom(3001)}
    agtest.write_files(www, files)
    try:
        run(["ip", "netns", "del", NS], check=False)
        run(["ip", "netns", "add", NS])
        run(["ip", "-n", NS, "link", "set", "lo", "up"])
        for tso in ("auto", "no"):
            one_run(check, work, www, files, tso)
        return check.done()
    finally:
        run(["ip", "netns", "del", NS], check=False)
        run(["rm", "-rf", f"/var/run/dpdk/{PREFIX}", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
