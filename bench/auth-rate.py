#!/usr/bin/python3
"""Validations per second through the gateway (one worker, every request validated) against a
bare gss_accept_sec_context loop on the same tokens, replay cache on and off, in one run.

  sudo bench/auth-rate.py [--tokens N] [--conns C]

Brings up its own lab instance (AUTHGATE_LAB=authrate) twice (rcache on, off), mints fresh
SPNEGO tokens before any clock starts, sends one token per request over C keep-alive
connections, and reads the gateway's own counters. The bare loop is bench/bench_accept
(same keytab, same kind of tokens). Prints a table and RESULT lines: compare the ratios.
"""
import argparse
import base64
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
os.environ.setdefault("AUTHGATE_LAB", "authrate")
import agtest as t  # noqa: E402

INNER = r'''
import base64, os, socket, sys, threading, time
sys.path.insert(0, sys.argv[1])
import auth_client as ac
n, conns = int(sys.argv[2]), int(sys.argv[3])
t0 = time.time()
toks = [base64.b64encode(ac.token(f"user{1 + i % 50}")[0]) for i in range(n)]
mint = time.time() - t0
if sys.argv[4] != "-":
    with open(sys.argv[4], "w") as f:  # the same kind of tokens for the bare loop, fresh ones
        for i in range(2 * n):
            f.write(base64.b64encode(ac.token(f"user{1 + i % 50}")[0]).decode() + "\n")
ok = [0] * conns
def worker(k):
    c = ac.Conn(src=f"198.18.0.{10 + k % 32}")
    for i in range(k, n, conns):
        r = c.request("/secure/hello.txt", authz=b"Negotiate " + toks[i])
        ok[k] += r is not None and r[0] == 200
    c.close()
th = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
t0 = time.time()
for x in th: x.start()
for x in th: x.join()
print(f"{sum(ok)} {time.time() - t0:.3f} {mint:.3f}")
'''


def through_gateway(n, conns, rcache, token_file):
    conf = open(os.path.join(TOP, "configs", "lab.ini")).read()
    conf = conf.replace("persist_non_ntlm = yes", "persist_non_ntlm = no").replace("workers = 2", "workers = 1")
    conf = conf.replace("[trust AUTHGATE.TEST]\n", f"[trust AUTHGATE.TEST]\nreplay_cache = {'yes' if rcache else 'no'}\n")
    tmp = tempfile.mkdtemp(prefix="ag-authrate-")
    path = os.path.join(tmp, "rate.ini")
    open(path, "w").write(conf)
    try:
        t.lab("down", check=False)
        t.lab("up", path)
        a0 = t.telemetry("/authgate/auth/stats")
        p = t.in_ns("bash", "-c", f'eval "$({TOP}/scripts/realm env)"; /usr/bin/python3 -c \'{INNER}\' '
                    f'{TOP}/tests/e2e {n} {conns} {token_file or "-"}')
        ok, secs, mint = p.stdout.split()
        a1 = t.telemetry("/authgate/auth/stats")
        v = a1["validations"] - a0["validations"]
        bare = None
        if token_file:
            env = dict(os.environ)
            for line in t.run([os.path.join(TOP, "scripts", "realm"), "env"]).stdout.splitlines():
                m = re.match(r"export (\w+)=(.*)", line)
                if m:
                    env[m.group(1)] = m.group(2).strip("'\"")
            out = subprocess.run([os.path.join(t.BUILD, "bench", "bench_accept"), "--keytab",
                                  env["KRB5_KTNAME"].replace("FILE:", "")], stdin=open(token_file),
                                 capture_output=True, text=True, env=env)
            bare = out.stdout
        return int(ok), float(secs), float(mint), v, a1["avg_accept_us"], bare
    finally:
        t.lab("down", check=False)
        os.unlink(path)
        os.rmdir(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=1500)
    ap.add_argument("--conns", type=int, default=16)
    a = ap.parse_args()
    t.require_root()
    rows = []
    for rcache in (True, False):
        tf = tempfile.mktemp(prefix="ag-tokens-")
        ok, secs, mint, v, acc_us, bare = through_gateway(a.tokens, a.conns, rcache, tf)
        os.unlink(tf)
        rate = v / secs
        m = re.findall(r"([\w ]+?):\s+([\d.]+)\s*/s", bare or "")
        rows.append((rcache, ok, v, secs, rate, acc_us, mint, bare))
    print()
    print(f"{'replay cache':<13}{'200s':>6}{'validations':>13}{'seconds':>9}{'per s':>9}{'accept us':>11}")
    for rcache, ok, v, secs, rate, acc_us, mint, _ in rows:
        print(f"{'on' if rcache else 'off':<13}{ok:>6}{v:>13}{secs:>9.2f}{rate:>9.0f}{acc_us:>11}")
    for rcache, ok, v, secs, rate, acc_us, mint, bare in rows:
        print(f"\nbare loop (bench/bench_accept, replay cache {'on' if rcache else 'off'} run):\n{bare}")
        print(f"RESULT rcache={'on' if rcache else 'off'} gateway_validations_per_s={rate:.0f} "
              f"tokens_minted={a.tokens} mint_s={mint:.2f} worker_threads=1")


if __name__ == "__main__":
    main()
