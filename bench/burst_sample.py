#!/usr/bin/python3
"""Samples a gateway's telemetry every 0.5 s during a burst: validations, semaphores, requests.

usage: burst_sample.py CTL PREFIX OUT STOPFILE MAX_SECONDS
Writes one line per sample to OUT: epoch_s (wall clock, to line up with the burst's RESULT
start_epoch) validations auth_ok challenges waiters holders acquires
semaphore_timeouts http_requests. Stops when STOPFILE exists or after MAX_SECONDS.
"""
import json
import os
import subprocess
import sys
import time


def ctl(binary, prefix, cmd):
    p = subprocess.run([binary, "-p", prefix, "--timeout", "2", cmd, "--json"],
                       capture_output=True, text=True, timeout=5)
    return json.loads(p.stdout) if p.returncode == 0 and p.stdout else None


def main():
    binary, prefix, out, stop, max_s = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    t0 = time.monotonic()
    with open(out, "w") as f:
        f.write("# epoch_s validations auth_ok challenges waiters holders acquires semaphore_timeouts http_requests\n")
        while not os.path.exists(stop) and time.monotonic() - t0 < max_s:
            tick = time.monotonic()
            try:
                auth = ctl(binary, prefix, "auth")
                trusts = ctl(binary, prefix, "trusts")
                http = ctl(binary, prefix, "http")
            except (subprocess.TimeoutExpired, json.JSONDecodeError):
                auth = None
            if auth and trusts and http:
                waiters = sum(t["semaphore_waiters"] for t in trusts.values())
                holders = sum(t["semaphore_holders"] for t in trusts.values())
                acquires = sum(t["semaphore_acquires"] for t in trusts.values())
                timeouts = sum(t["semaphore_timeouts"] for t in trusts.values())
                f.write(f"{time.time():.3f} {auth['validations']} {auth['auth_ok']} {auth['challenges']} "
                        f"{waiters} {holders} {acquires} {timeouts} {http['requests']}\n")
                f.flush()
            time.sleep(max(0.0, 0.5 - (time.monotonic() - tick)))


if __name__ == "__main__":
    main()
