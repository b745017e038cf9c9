#!/usr/bin/python3
"""Content-store misses on resolver threads: clients that reset while their request is parked,
a full lookup queue (503 + Retry-After), the same file served after both."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

# Runs in the lab namespace: N connections each send a GET for a path never asked before (a
# miss: the request parks) and reset at once (SO_LINGER 0), or wait for the answer.
CLIENT = r"""
import socket, struct, sys, time
mode, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(n):
    s = socket.create_connection(("198.18.0.2", 80), timeout=10)
    socks.append(s)
for i, s in enumerate(socks):
    # odd ones exist (their answer carries a mapping the gone request must give back)
    path = f"/files/f{i}.txt" if i % 2 else f"/files/missing-{tag}-{i}"
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode())
    if mode == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
counts = {}
retry_after = 0
if mode == "answer":
    for s in socks:
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except OSError:
            pass
        s.close()
        st = out[9:12].decode(errors="replace")
        counts[st] = counts.get(st, 0) + 1
        if st == "503" and b"\r\nRetry-After: " in out:
            retry_after += 1
print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), f"retry_after={retry_after}")
"""


def client(check, mode, n, tag):
    r = t.in_ns("/usr/bin/python3", "-c", CLIENT, mode, str(n), tag, check=False)
    check(r.returncode == 0, f"{mode} client ran: {r.stdout.strip()} {r.stderr.strip()[-300:]}")
    return dict(kv.split("=") for kv in r.stdout.split()) if r.returncode == 0 else {}


def hello_ok():
    r = t.in_ns("curl", "-s", "-f", "-o", "/dev/null", "-w", "%{http_code}",
                f"http://{t.GW}/pkg/hello.txt", check=False)
    return r.stdout.strip() == "200"


def main():
    t.require_root()
    check = t.Check()
    conf = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    # one lookup out per lcore at a time: a burst of misses overflows it
    conf = conf.replace("[http]\nport = 80\n", "[http]\nport = 80\nstore_threads = 1\nstore_queue = 1\n")
    www = tempfile.mkdtemp(prefix="ag-store-")
    os.chmod(www, 0o755)
    t.write_files(www, {f"f{i}.txt": f"file {i}\n".encode() for i in range(200)})
    conf += f"\n[site /files]\nroot = {www}\n"
    try:
        t.lab_up_config(conf)
        check(hello_ok(), "the lab serves /pkg/hello.txt")

        # clients gone while parked: their answers find no request, nothing leaks
        before = t.telemetry("/authgate/http/stats")
        client(check, "reset", 200, "a")
        t.wait_until(lambda: t.telemetry("/authgate/http/store")["inflight"] == 0, 10, "lookups to drain")
        hs = t.telemetry("/authgate/http/stats")
        ss = t.telemetry("/authgate/http/store")
        stale = hs["store_stale"] - before["store_stale"]
        check(stale >= 1, f"answers for requests whose client reset were dropped: store_stale +{stale}")
        check(ss["posted"] == ss["completed"] and ss["inflight"] == 0,
              f"every lookup answered: posted {ss['posted']}, completed {ss['completed']}")
        check(hello_ok(), "the gateway still serves after 200 resets of parked requests")
        t.wait_until(lambda: t.telemetry("/authgate/http/stats")["active"] == 0, 15, "connections to close")
        check(True, "no HTTP connection left open (parked requests of reset clients freed)")

        # a burst of distinct misses with room for one lookup: the others get 503 + Retry-After
        busy0 = t.telemetry("/authgate/http/stats")["store_busy"]
        got = client(check, "answer", 100, "b")
        busy = t.telemetry("/authgate/http/stats")["store_busy"] - busy0
        n503, n404 = int(got.get("503", 0)), int(got.get("404", 0))
        n200 = int(got.get("200", 0))
        check(n200 + n404 >= 1 and n503 >= 1 and n200 + n404 + n503 == 100,
              f"100 distinct misses against a queue of 1: {n200} x 200, {n404} x 404, {n503} x 503")
        check(int(got.get("retry_after", 0)) == n503, f"every 503 says Retry-After ({got.get('retry_after')})")
        check(busy == n503, f"each counted: store_busy +{busy}")
        ss = t.telemetry("/authgate/http/store")
        check(ss["queue_full"] >= n503, f"the lane counted queue_full {ss['queue_full']}")
        check(ss["latency_us_max"] > 0 and ss["resolved"] == ss["completed"],
              f"latency counted: avg {ss['latency_us_avg']} us, max {ss['latency_us_max']} us")
        check(hello_ok(), "the gateway still serves")
    finally:
        t.lab("down", check=False)
        shutil.rmtree(www, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
