#!/usr/bin/python3
"""Two trusts, one sick: the healthy trust's clients keep their latency, the sick one's get 503.

AUTHGATE.TEST is the lab's realm (a healthy KDC). SICK.TEST is a Basic trust whose KDC accepts
TCP connections and never answers (a hung DC). Phase 1 measures Basic logins for AUTHGATE.TEST
alone; phase 2 measures them again while SICK.TEST's clients pile onto their dead KDC. The sick
clients must get 503 + Retry-After within the trust's deadline, the healthy ones every 200
with normal latency; the per-trust counters must show the difference. Prints the p50/p99 ratio.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

DEAD_KDC = ("198.18.0.1", 8888)  # the lab namespace's side of the tap: a listener that never answers
SICK_TIMEOUT_S = 4
CONFIG_EXTRA = f"""
[trust SICK.TEST]
kind = basic
timeout_s = {SICK_TIMEOUT_S}
"""
HEALTHY_N = 60  # logins per phase, 6 at a time
SICK_N = 24


def basic_request(user, password):
    """One Basic login on its own connection: (status, seconds, Retry-After values)."""
    cred = base64.b64encode(f"{user}:{password}".encode()).decode()
    s = socket.create_connection((t.GW, 80), timeout=60)
    t0 = time.monotonic()
    s.sendall(f"GET /basic/hello.txt HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic {cred}\r\n"
              "Connection: close\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    dt = time.monotonic() - t0
    s.close()
    head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1]) if head and head[0].startswith("HTTP/") else 0
    ra = [h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("retry-after:")]
    return status, dt, ra


def run_many(jobs, width):
    """Runs the callables width at a time; returns their results in order."""
    out = [None] * len(jobs)
    nxt = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(jobs):
                return
            out[i] = jobs[i]()

    th = [threading.Thread(target=worker) for _ in range(width)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    return out


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


def healthy_phase():
    jobs = [lambda i=i: basic_request(f"user{1 + i % 40}", f"Passw0rd-user{1 + i % 40}")
            for i in range(HEALTHY_N)]
    return run_many(jobs, 6)


def client(phase):
    """Inside the lab namespace: one phase's clients; prints a JSON line."""
    if phase == "healthy":
        r = healthy_phase()
        print(json.dumps({"healthy": r}))
        return
    sick = []

    def sick_all():
        jobs = [lambda i=i: basic_request(f"user{i}@SICK.TEST", "whatever") for i in range(SICK_N)]
        sick.extend(run_many(jobs, SICK_N))

    th = threading.Thread(target=sick_all)
    th.start()
    time.sleep(0.5)  # the sick trust's workers are all in their dead KDC's hands by now
    r = healthy_phase()
    th.join()
    print(json.dumps({"healthy": r, "sick": sick}))


def main():
    t.require_root()
    check = t.Check()
    os.environ["AUTHGATE_REALM_EXTRA"] = f"SICK.TEST={DEAD_KDC[0]}:{DEAD_KDC[1]}"
    base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    dead = None
    try:
        t.lab_up_config(base + CONFIG_EXTRA)
        # the dead KDC: accepts, holds every connection, never says a word
        dead = subprocess.Popen(
            ["ip", "netns", "exec", t.NS, "/usr/bin/python3", "-c",
             "import socket,time\n"
             f"s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             f"s.bind(('{DEAD_KDC[0]}', {DEAD_KDC[1]})); s.listen(256); held=[]\n"
             "s.settimeout(1)\n"
             "end=time.time()+300\n"
             "while time.time()<end:\n"
             "    try: held.append(s.accept()[0])\n"
             "    except socket.timeout: pass\n"])
        time.sleep(0.5)
        me = os.path.abspath(__file__)
        results = {}
        for phase in ("healthy", "sick"):
            p = t.in_ns("env", f"AUTHGATE_BUILD={t.BUILD}", f"AUTHGATE_LAB={t.NS}", "/usr/bin/python3",
                        me, "--client", phase, check=False)
            if p.returncode != 0:
                print(p.stdout, p.stderr, file=sys.stderr)
            results[phase] = json.loads(p.stdout.strip().splitlines()[-1])
        trusts = t.telemetry("/authgate/trusts")
        auth = t.telemetry("/authgate/auth/stats")
    finally:
        if dead is not None:
            dead.kill()
            dead.wait()
        t.lab("down", check=False)

    base_lat = [r[1] for r in results["healthy"]["healthy"]]
    sick_lat = [r[1] for r in results["sick"]["healthy"]]
    check(all(r[0] == 200 for r in results["healthy"]["healthy"]),
          f"both trusts healthy: {HEALTHY_N} Basic logins for AUTHGATE.TEST all 200")
    check(all(r[0] == 200 for r in results["sick"]["healthy"]),
          f"SICK.TEST's KDC hung: {HEALTHY_N} Basic logins for AUTHGATE.TEST still all 200 "
          f"({[r[0] for r in results['sick']['healthy']].count(200)})")
    b50, b99, s50, s99 = pct(base_lat, .5), pct(base_lat, .99), pct(sick_lat, .5), pct(sick_lat, .99)
    print(f"AUTHGATE.TEST p50 {b50 * 1000:.1f} ms, p99 {b99 * 1000:.1f} ms with both healthy; "
          f"p50 {s50 * 1000:.1f} ms, p99 {s99 * 1000:.1f} ms with SICK.TEST hung; "
          f"ratio p99 {s99 / b99:.2f}, p50 {s50 / b50:.2f}")
    # the healthy trust never waits on the sick one: nothing near the sick trust's deadline
    check(s99 < SICK_TIMEOUT_S / 4, f"the healthy trust's p99 {s99:.3f} s stays far below the sick "
                                   f"trust's {SICK_TIMEOUT_S} s deadline")
    sick = results["sick"]["sick"]
    codes = [r[0] for r in sick]
    check(all(c == 503 for c in codes), f"SICK.TEST's {SICK_N} clients all get 503: {codes}")
    check(all(len(r[2]) == 1 and r[2][0] == "5" for r in sick),
          f"each 503 carries exactly one Retry-After (the configured 5): {set(tuple(r[2]) for r in sick)}")
    worst = max(r[1] for r in sick)
    check(worst <= SICK_TIMEOUT_S + 1.5, f"each within the trust's deadline: slowest {worst:.2f} s "
                                         f"for timeout_s = {SICK_TIMEOUT_S}")
    t0 = next(v for v in trusts.values() if isinstance(v, dict) and v["realm"] == "AUTHGATE.TEST")
    t1 = next(v for v in trusts.values() if isinstance(v, dict) and v["realm"] == "SICK.TEST")
    check(t1["workers_hung"] >= 1 and t1["slots_reclaimed"] >= 1 and t1["semaphore_holders"] == 0,
          f"SICK.TEST: {t1['workers_hung']} hung workers abandoned, {t1['slots_reclaimed']} slots "
          f"reclaimed, holders now {t1['semaphore_holders']}")
    check(t0["workers_hung"] == 0 and t0["semaphore_timeouts"] == 0 and t0["rejections"] == 0,
          f"AUTHGATE.TEST: no hung worker, no timeout, no rejection ({t0['workers_hung']}, "
          f"{t0['semaphore_timeouts']}, {t0['rejections']})")
    check(auth["verdicts"]["worker_hung"] >= 1, f"verdicts.worker_hung = {auth['verdicts']['worker_hung']}")
    return check.done()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        client(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
