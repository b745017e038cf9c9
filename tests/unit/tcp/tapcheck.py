#!/usr/bin/python3
"""Interop check of the TCP engine against the Linux stack over a TAP in a private netns.

Not part of the unit suite (needs root and a few minutes). Usage, from the repo root:
  /usr/bin/python3 tests/unit/tcp/tapcheck.py BUILD_DIR [--conns 200] [--size 4194304]
      [--impair "5 1 25 5000"]   (loss% dup% reorder% delay_us, both directions, in the tool:
                                  the lab kernel may have no sch_netem)
Exit 0 when every echoed and chargen byte matched and the flow table drained to zero.
"""
import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

GW = "198.18.0.1"
CLIENT = "198.18.0.2/24"
IF = "tc0"


def expected_echo(block2, conn, off, ln):
    L = len(block2) // 2
    out = bytearray()
    while ln > 0:
        idx = (off + conn * 7919) % L
        n = min(ln, L)
        out += block2[idx:idx + n]
        off += n
        ln -= n
    return bytes(out)


def chargen_pattern():
    line = 74
    pat = bytearray()
    for off in range(2 * 95 * line):
        ln, col = (off // line) % 95, off % line
        pat.append(32 + (ln + col) % 95 if col < 72 else (13 if col == 72 else 10))
    return bytes(pat)


def client(conns, size, chargen_conns, timeout):
    import random
    rnd = random.Random(7)
    block = bytes(rnd.getrandbits(8) for _ in range(1 << 16))
    block2 = block + block
    cg = chargen_pattern()
    period = 95 * 74
    sel = selectors.DefaultSelector()
    states = []
    for i in range(conns + chargen_conns):
        s = socket.socket()
        s.setblocking(False)
        kind = "echo" if i < conns else "chargen"
        s.connect_ex((GW, 7 if kind == "echo" else 19))
        st = {"s": s, "i": i, "kind": kind, "sent": 0, "rcvd": 0, "done": False, "err": None,
              "port": 0}
        states.append(st)
        sel.register(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if kind == "echo" else 0),
                     st)
    start = time.time()
    left = len(states)
    while left and time.time() - start < timeout:
        for key, ev in sel.select(1):
            st = key.data
            s = st["s"]
            try:
                if not st["port"]:
                    st["port"] = s.getsockname()[1]
                if ev & selectors.EVENT_WRITE and st["sent"] < size:
                    n = s.send(expected_echo(block2, st["i"], st["sent"],
                                             min(65536, size - st["sent"])))
                    st["sent"] += n
                    if st["sent"] == size:
                        s.shutdown(socket.SHUT_WR)
                        sel.modify(s, selectors.EVENT_READ, st)
                if ev & selectors.EVENT_READ:
                    data = s.recv(262144)
                    if st["kind"] == "echo":
                        if not data:
                            if st["rcvd"] != size:
                                st["err"] = f"EOF after {st['rcvd']} bytes"
                            st["done"] = True
                        elif data != expected_echo(block2, st["i"], st["rcvd"], len(data)):
                            st["err"] = f"echo mismatch at {st['rcvd']}"
                            st["done"] = True
                        st["rcvd"] += len(data)
                    else:
                        if not data:
                            st["err"] = f"chargen EOF after {st['rcvd']}"
                            st["done"] = True
                        else:
                            off = 0
                            while off < len(data):
                                o = (st["rcvd"] + off) % period
                                n = min(len(data) - off, period)
                                if data[off:off + n] != cg[o:o + n]:
                                    st["err"] = f"chargen mismatch at {st['rcvd'] + off}"
                                    st["done"] = True
                                    break
                                off += n
                            st["rcvd"] += len(data)
                            if st["rcvd"] >= size:
                                st["done"] = True
            except OSError as e:
                st["err"] = f"{e}"
                st["done"] = True
            if st["done"]:
                sel.unregister(s)
                s.close()
                left -= 1
    elapsed = time.time() - start
    bad = [st for st in states if st["err"] or not st["done"]]
    total = sum(st["rcvd"] for st in states)
    print(f"client: {len(states)} connections, {total / 1e6:.1f} MB received in {elapsed:.1f} s "
          f"({total * 8 / elapsed / 1e6:.0f} Mbit/s), {len(bad)} failed")
    for st in bad[:10]:
        print(f"  conn {st['i']} port {st['port']} {st['kind']}: {st['err'] or 'timeout'} "
              f"sent={st['sent']} "
              f"rcvd={st['rcvd']}")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?")
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--chargen", type=int, default=0)
    ap.add_argument("--size", type=int, default=4 << 20)
    ap.add_argument("--impair", default="5 1 25 5000", help="loss% dup% reorder% delay_us")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--client", action="store_true")
    ap.add_argument("--pcap", help="capture headers on the tap to this file")
    a = ap.parse_args()
    if a.client:
        return client(a.conns, a.size, a.chargen, a.timeout)
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    ns = f"tcpchk{os.getpid()}"
    tool = os.path.join(a.build, "tests", "unit", "tcp", "tapcheck")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    proc = None
    rc = 1
    try:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, tool, IF, GW, *a.impair.split()],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        for cmd in (["link", "set", "lo", "up"], ["addr", "add", CLIENT, "dev", IF],
                    ["link", "set", IF, "up"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        dump = None
        if a.pcap:
            dump = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-q", "-i", IF, "-s",
                                     "128", "-w", a.pcap], stderr=subprocess.DEVNULL)
            time.sleep(1)
        c = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--client",
                            "--conns", str(a.conns), "--chargen", str(a.chargen), "--size",
                            str(a.size), "--timeout", str(a.timeout)])
        rc = c.returncode
        if dump is not None:
            dump.send_signal(signal.SIGTERM)
            dump.wait(timeout=30)
        # the flow table must drain
        deadline = time.time() + 30
        drained = False
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "table=0 " in line:
                drained = True
                break
        print("engine:", line.strip())
        if not drained:
            print("flow table did not drain")
            rc = 1
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
            print(out.strip())
        subprocess.run(["ip", "netns", "del", ns])
    return rc


if __name__ == "__main__":
    sys.exit(main())
