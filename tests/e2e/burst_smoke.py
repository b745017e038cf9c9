#!/usr/bin/python3
"""A small burst through the gateway with authgate-burst: every request answered, validations counted.

200 clients x (HEAD + 3 ranged GETs of 64 KiB) of /secure/64m.bin with Negotiate, against the lab
with persist_non_ntlm on (one validation per connection) and off (one per request). Counts only.
"""
import os
import sys
import tempfile

os.environ.setdefault("AUTHGATE_LAB", "burst-e2e")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

CLIENTS = 200
RANGES = 3
WWW = "/var/lib/authgate-lab/www"


def result(stdout):
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return {k: v for k, v in (f.split("=", 1) for f in line.split()[1:])}
    return None


def auth_validations():
    import json
    return json.loads(t.ctl("auth", "--json").stdout)["validations"]


def kernel_drops():
    """Frames the kernel dropped on the tap's queue toward the gateway, as authgate-ctl ports says."""
    import json
    return json.loads(t.ctl("ports", "--json").stdout)["lab"].get("kernel_drops_toward_port")


def phase(check, conf_path, persist):
    t.lab("down", check=False)
    t.lab("up", conf_path)
    v0 = auth_validations()
    d0 = kernel_drops()
    burst = os.path.join(t.BUILD, "bench", "authgate-burst")
    p = t.in_ns("bash", "-c",
                f'eval "$({t.TOP}/scripts/realm env)"; exec {burst} --clients {CLIENTS} '
                f'--ranges {RANGES} --range-size 64K --path /secure/64m.bin --auth negotiate '
                f'--persist-hint {"on" if persist else "off"} --verify-file {WWW}/64m.bin '
                f'--timeout 30 --max-time 240 --label smoke-{"on" if persist else "off"}',
                check=False)
    print(p.stdout, end="")
    print(p.stderr, end="", file=sys.stderr)
    v1 = auth_validations()
    d1 = kernel_drops()
    r = result(p.stdout)
    name = f"persist {'on' if persist else 'off'}"
    # paced output: the gateway reads between bursts of data, so its queue never overflows
    check(d0 is not None and d1 is not None and d1 == d0,
          f"{name}: no frame dropped on the tap toward the gateway (ports: {d0} -> {d1})")
    check(r is not None, f"{name}: authgate-burst printed a RESULT line")
    if r is None:
        return
    planned = CLIENTS * (RANGES + 1)
    ok, conns = int(r["requests_ok"]), int(r["conns_ok"])
    reconnects, retried = int(r["reconnects"]), int(r["retried_closed"])
    check(p.returncode == 0, f"{name}: authgate-burst exited 0 (no request failed)")
    check(ok == planned and int(r["requests_failed"]) == 0 and int(r["requests_not_run"]) == 0,
          f"{name}: every request answered as expected: {ok}/{planned}, failed {r['requests_failed']}")
    check(conns == CLIENTS, f"{name}: {conns}/{CLIENTS} connections completed their walk")
    check(int(r["body_bytes"]) == CLIENTS * RANGES * 65536,
          f"{name}: {r['body_bytes']} body bytes verified against the file")
    check(int(r["status_401"]) == 0 and int(r["status_503"]) == 0,
          f"{name}: no 401 or 503 (tokens sent up front): {r['status_401']} / {r['status_503']}")
    validations = v1 - v0
    if persist:
        # one per TCP connection: the clients' own plus any reopened after an idle close
        want = CLIENTS + reconnects
        check(int(r["tokens_sent"]) == want, f"{name}: tokens sent {r['tokens_sent']} = connections {want}")
        check(validations == want,
              f"{name}: validations {validations} = connections {want} ({retried} requests retried)")
    else:
        # one per request; an attempt lost to an idle close never reached the validator
        check(validations == planned, f"{name}: validations {validations} = requests {planned}")
        check(int(r["tokens_sent"]) == planned + retried,
              f"{name}: tokens sent {r['tokens_sent']} = requests {planned} + retries {retried}")


def main():
    t.require_root()
    burst = os.path.join(t.BUILD, "bench", "authgate-burst")
    if not os.access(burst, os.X_OK):
        t.skip(f"no {burst}: build bench/ first")
    check = t.Check()
    tmp = tempfile.mkdtemp(prefix="ag-burst-")
    base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    assert "persist_non_ntlm = yes" in base
    try:
        for persist in (True, False):
            conf = base if persist else base.replace("persist_non_ntlm = yes", "persist_non_ntlm = no")
            path = os.path.join(tmp, f"persist-{persist}.ini")
            with open(path, "w") as f:
                f.write(conf)
            phase(check, path, persist)
    finally:
        t.lab("down", check=False)
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
