#!/usr/bin/python3
"""Lab: a spoofed SYN flood at the highest rate the box gives while curl clients download
byte-exact; SYN cookies carry it.

Its own lab instance (AUTHGATE_LAB, default ag-h8). The spoofed sources are on the gateway's
link and resolvable (syn_flood.py), so every SYN-ACK goes out on the wire. max_half_open is low
so the flood switches the engine to cookies within a second; the downloads must still complete
and match sha256.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("AUTHGATE_LAB", "ag-h8")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

WWW = "/var/lib/authgate-lab/www"
# bounds only: the flood is ended (SIGTERM) once the downloads are done, however fast this box
# sends (2M SYNs took 6 s on a quiet machine, shorter than the 64 MiB download)
FLOOD_SYNS, FLOOD_SECONDS = 30000000, 90
# (client address, file): three 4 MiB downloads, two of them twice, and one 64 MiB
DOWNLOADS = [("198.18.0.10", "4m.bin"), ("198.18.0.11", "4m.bin"), ("198.18.0.12", "4m.bin"),
             ("198.18.0.13", "64m.bin"), ("198.18.0.10", "4m.bin"), ("198.18.0.11", "4m.bin")]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def main():
    t.require_root()
    with open(os.path.join(t.TOP, "configs", "lab.ini")) as f:
        cfg = f.read()
    assert "syncookies = auto" in cfg
    cfg = cfg.replace("syncookies = auto", "syncookies = auto\nmax_half_open = 64")
    ok = t.Check()
    tmp = tempfile.mkdtemp(prefix="ag-flood-")
    procs = []
    try:
        t.lab_up_config(cfg)
        before = t.telemetry("/authgate/tcp/stats")
        before_dp = t.telemetry("/authgate/stats")
        flood = subprocess.Popen(["ip", "netns", "exec", t.NS, "/usr/bin/python3",
                                  os.path.join(t.TOP, "tests", "e2e", "syn_flood.py"),
                                  str(FLOOD_SYNS), str(FLOOD_SECONDS), "--max-rate"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(flood)
        time.sleep(1.0)  # the flood first: the clients connect while cookies are on
        curls = []
        for i, (addr, name) in enumerate(DOWNLOADS):
            out = os.path.join(tmp, f"{i}-{name}")
            p = subprocess.Popen(["ip", "netns", "exec", t.NS, "curl", "-sS", "--fail",
                                  "--max-time", "100", "--retry", "0", "--interface", addr,
                                  "-o", out, f"http://{t.GW}/pkg/{name}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            curls.append((p, out, addr, name))
            time.sleep(0.3)
        mid = t.telemetry("/authgate/tcp/stats")
        for p, _, _, _ in curls:
            p.wait(timeout=120)
        ok(flood.poll() is None, "the flood was still on when the last download ended")
        flood.terminate()
        fout, ferr = flood.communicate(timeout=FLOOD_SECONDS + 30)
        sent = int(fout.strip() or 0)
        ok(sent > 0, f"flood: {ferr.strip()} from 127 spoofed on-link sources")
        for p, out, addr, name in curls:
            _, err = p.communicate(timeout=120)
            good = p.returncode == 0 and os.path.exists(out) and sha256(out) == sha256(
                os.path.join(WWW, name))
            ok(good, f"{addr} downloaded {name} byte-exact during the flood"
               f"{'' if good else f' (curl rc {p.returncode}: {err.strip()})'}")
        after = t.telemetry("/authgate/tcp/stats")
        cookies = after["cookies_sent"] - before["cookies_sent"]
        ok(cookies > 0, f"cookies sent: {cookies} (accepted {after['cookies_accepted']}, "
           f"half-open flows mid-flood {mid['flows_by_state'].get('SYN_RECEIVED', 0)})")
        # max_half_open is per dataplane lcore (docs/config.md)
        ok(mid["flows_by_state"].get("SYN_RECEIVED", 0) <= (64 + 8) * max(t.LCORES, 1),
           f"half-open flows stayed near max_half_open (64 per lcore): "
           f"{mid['flows_by_state'].get('SYN_RECEIVED', 0)}")
        drops = t.telemetry("/authgate/drops")
        ok(drops.get("no_mbuf", 0) == 0, f"no mbuf exhaustion ({drops.get('no_mbuf', 0)})")
        after_dp = t.telemetry("/authgate/stats")
        tx = after_dp["tx_pkts"] - before_dp["tx_pkts"]
        unresolved = drops.get("tx_no_neighbour", 0) + drops.get("tx_neigh_timeout", 0)
        ok(tx >= cookies and unresolved == 0,
           f"the SYN-ACKs went out on the link: {tx} frames sent for {cookies} cookies, "
           f"{unresolved} waited in vain for ARP")
        print(f"figures: {sent} SYNs, {cookies} cookies, tcp drops {after['drops']}", flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        t.lab("down", check=False)
        subprocess.run(["rm", "-rf", tmp])
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
