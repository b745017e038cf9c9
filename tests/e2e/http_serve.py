#!/usr/bin/python3
"""HTTP e2e: the lab with short timeouts; client checks inside the namespace; the gateway's counters."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402


# Holds one keep-alive connection per client port given, each after one answered request,
# until stdin closes: the flows stay in the gateway's table for the listing.
HOLD = """
import socket, sys
socks = []
for p in sys.argv[1:]:
    s = socket.socket()
    s.bind(("198.18.0.1", int(p)))
    s.connect(("198.18.0.2", 80))
    s.sendall(b"GET /pkg/hello.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    socks.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


def owners_checks(check):
    """With several lcores: each flow is owned by the lcore its RSS hash names, as the tests
    compute it (agtest.rss_owner), and the port says how it steers."""
    ports = t.local_ports(6, 0, first=23000) + t.local_ports(6, 1, first=23000)
    hold = subprocess.Popen(["ip", "netns", "exec", t.NS, "/usr/bin/python3", "-c", HOLD,
                             *map(str, ports)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        check(hold.stdout.readline().strip() == "ready", "12 keep-alive connections held")
        flows = t.telemetry("/authgate/flows,40")
        got = {}
        for f in flows.values():
            if isinstance(f, dict) and f.get("remote", "").startswith(t.CLIENT + ":"):
                got[int(f["remote"].split(":")[1])] = f["lcore"]
        want = {p: t.rss_owner(t.CLIENT, p, t.GW, 80) for p in ports}
        check({p: got.get(p) for p in ports} == want,
              f"every flow on the lcore its RSS hash names ({sorted(set(want.values()))}): {got}")
        port = next(iter(t.telemetry("/authgate/ports").values()))
        check(port["rss"] in ("software", "nic") and port["queues"] == t.LCORES,
              f"the port steers by {port['rss']} ({port['rss_detail']}), {port['queues']} queues")
    finally:
        hold.communicate("", timeout=10)


def main():
    t.require_root()
    check = t.Check()
    conf = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    conf = conf.replace("[http]\nport = 80\n",
                        "[http]\nport = 80\nheader_timeout_s = 2\nkeepalive_timeout_s = 3\nmax_requests = 1000\n"
                        f"access_log = /run/{t.NS}/access.log\n")
    try:
        t.lab_up_config(conf)
        inner = t.in_ns("/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_checks.py"),
                        check=False)
        print(inner.stdout, end="")
        print(inner.stderr, end="", file=sys.stderr)
        check(inner.returncode == 0, "every client-side HTTP check passed")
        hs = t.telemetry("/authgate/http/stats")
        check(hs["status"]["2xx"] >= 1100, f"gateway counted {hs['status']['2xx']} 2xx responses")
        check(hs["status"]["4xx"] >= 20, f"gateway counted {hs['status']['4xx']} 4xx responses")
        check(hs["header_timeouts"] >= 1, f"gateway counted {hs['header_timeouts']} header timeouts")
        check(hs["idle_closes"] >= 1, f"gateway counted {hs['idle_closes']} idle keep-alive closes")
        check(hs["parse_errors"]["duplicate_host"] >= 1, "parse errors are counted by reason")
        check(hs["sigbus_repairs"] + hs["torn_files"] + hs["aborted_responses"] >= 1,
              f"the truncated file was noticed: sigbus_repairs {hs['sigbus_repairs']}, torn_files {hs['torn_files']}")
        log = f"/run/{t.NS}/access.log"
        t.wait_until(lambda: os.path.exists(log) and open(log).read().count("\n") >= 1100, 10, "access log lines")
        lines = open(log).read().splitlines()
        check(any('"GET /pkg/hello.txt HTTP/1.1" 200 20 ' in l for l in lines), f"access log: {len(lines)} combined-format lines")
        check(any('"-" 400 0' in l for l in lines) and any(" 416 " in l for l in lines), "access log has the 400s and the 416")
        check(hs["log_dropped"] == 0, "no access log record dropped")
        # 1000 keep-alive requests on one connection among the checks: in-order requests and
        # the client's pure ACKs of new data go through the engine's header prediction
        tcp = t.telemetry("/authgate/tcp/stats")
        check(tcp["fast_path"] >= 1000, f"the TCP fast path took {tcp['fast_path']} of "
                                         f"{tcp['seg_in']} segments (>= 1000)")
        t.wait_until(lambda: t.telemetry("/authgate/http/stats")["active"] == 0, 15, "connections to close")
        check(True, "no HTTP connection left open")
        t.wait_until(lambda: t.telemetry("/authgate/tcp/stats")["flows_by_state"]["ESTABLISHED"] == 0, 15,
                     "established flows to drain")
        check(True, "no TCP flow left established")
        if t.LCORES > 1:
            owners_checks(check)
    finally:
        t.lab("down", check=False)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
