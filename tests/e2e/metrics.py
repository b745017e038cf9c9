#!/usr/bin/python3
"""Prometheus /metrics: promtool accepts a scrape, and a scrape during a Basic burst against
max_concurrent_api = 1 shows the semaphore's waiters (Netlogon's Semaphore Waiters) above 0."""
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

EXTRA = "\n[metrics]\nlisten = 127.0.0.1:9464\n"


def scrape():
    p = t.in_ns("curl", "-s", "--max-time", "5", "http://127.0.0.1:9464/metrics", check=False)
    return p.stdout


def value(text, name, trust):
    m = re.search(rf'^authgate_{name}{{trust="{re.escape(trust)}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def main():
    t.require_root()
    if shutil.which("promtool") is None:
        t.skip("promtool is not installed (scripts/install-deps installs the prometheus package)")
    check = t.Check()
    base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    conf = base.replace("max_concurrent_api = 10", "max_concurrent_api = 1") + EXTRA
    try:
        t.lab_up_config(conf)
        text = scrape()
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(p.returncode == 0 and "authgate_semaphore_waiters" in text,
              f"promtool check metrics: rc {p.returncode} {p.stdout.strip()[:300]}{p.stderr.strip()[:300]} "
              f"({len(text.splitlines())} lines)")
        # a burst of Basic logins (an AS exchange each, a slot each) while scraping
        code = f"""
import base64, socket, threading
def one(i):
    cred = base64.b64encode(f"user{{1 + i % 40}}:Passw0rd-user{{1 + i % 40}}".encode()).decode()
    s = socket.create_connection(("{t.GW}", 80), timeout=60)
    s.sendall(f"GET /basic/hello.txt HTTP/1.1\\r\\nHost: gw\\r\\nAuthorization: Basic {{cred}}\\r\\nConnection: close\\r\\n\\r\\n".encode())
    b = s.recv(100)
    s.close()
    print(b.split()[1].decode())
th = [threading.Thread(target=one, args=(i,)) for i in range(80)]
[x.start() for x in th]
[x.join() for x in th]
"""
        out = {}
        burst = threading.Thread(target=lambda: out.setdefault(
            "codes", t.in_ns("/usr/bin/python3", "-c", code, check=False).stdout.split()))
        burst.start()
        peak_waiters, scrapes = 0.0, 0
        while burst.is_alive():
            w = value(scrape(), "semaphore_waiters", "AUTHGATE.TEST")
            scrapes += 1
            if w is not None:
                peak_waiters = max(peak_waiters, w)
            time.sleep(0.02)
        burst.join()
        codes = out.get("codes", [])
        check(len(codes) == 80 and all(c in ("200", "503") for c in codes),
              f"80 Basic logins at once on one slot: {codes.count('200')} x 200, {codes.count('503')} x 503")
        check(peak_waiters > 0, f"a scrape during the burst saw semaphore waiters {peak_waiters:.0f} "
                                f"(peak over {scrapes} scrapes)")
        text = scrape()
        acq = value(text, "semaphore_acquires_total", "AUTHGATE.TEST")
        cnt = value(text, "semaphore_wait_seconds_count", "AUTHGATE.TEST")
        check(acq is not None and acq >= 1 and cnt == acq,
              f"the wait histogram counts every acquire ({cnt} of {acq})")
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(p.returncode == 0, f"promtool after the burst: rc {p.returncode} {p.stderr.strip()[:200]}")
        # the dashboard in docs/ asks only for what the gateway exports
        dash = open(os.path.join(t.TOP, "docs", "grafana-dashboard.json")).read()
        wanted = set(re.findall(r"authgate_[a-z_]+", dash))
        have = set(re.findall(r"^(authgate_[a-z_]+)", text, re.M))
        missing = sorted(w for w in wanted if w not in have)
        check(not missing, f"docs/grafana-dashboard.json's {len(wanted)} series all exported (missing: {missing})")
    finally:
        t.lab("down", check=False)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
