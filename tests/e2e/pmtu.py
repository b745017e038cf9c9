#!/usr/bin/env python3
"""Path MTU: a link narrower than the gateway's, beyond a router, and downloads stay byte-exact.

Its own lab, not scripts/lab. Namespace agp-r-PID is a router: the gateway's net_tap (gateway
198.18.6.2/24, MTU 1500; router 198.18.6.1) on one side, a veth to namespace agp-c-PID on the
other, 198.18.7.1/24 with MTU 1280 on the router's end. The client end keeps MTU 1500, so the
client's SYN offers MSS 1460 and only the router knows the path is narrower (setting 1280 on
the client's own interface would lower its MSS and PMTUD would never be needed). The gateway's
full-size segments carry DF; the router answers each with ICMP "fragmentation needed" (MTU
1280), which the gateway must validate against the flow (RFC 5927) and act on: every download
completes byte-exact, quickly (no black-hole fallback), with pmtu_lowered counted and no ICMP
rejected.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest  # noqa: E402
from agtest import Check, run, skip  # noqa: E402

TAG = f"{os.getpid() % 100000}"
NS_R = f"agp-r-{TAG}"
NS_C = f"agp-c-{TAG}"
TAP = f"agp{TAG}t"
IF_R = f"agp{TAG}r"
IF_C = f"agp{TAG}c"
PREFIX = f"agp-{TAG}"
GW = "198.18.6.2"
PATH_MTU = 1280


def config(www):
    return agtest.gateway_config(PREFIX, f"""[port lab]
device = net_tap0,iface={TAP}
address = {GW}/24
gateway = 198.18.6.1""", www)



def setup_router_and_client():
    run(["ip", "netns", "add", NS_R])
    run(["ip", "netns", "add", NS_C])
    run(["ip", "-n", NS_R, "-batch", "-"], input="\n".join([
        "link set lo up",
        f"link add {IF_R} type veth peer name {IF_C} netns {NS_C}",
        f"addr add 198.18.7.1/24 dev {IF_R}",
        f"link set {IF_R} mtu {PATH_MTU} up",
    ]) + "\n")
    run(["ip", "-n", NS_C, "-batch", "-"], input="\n".join([
        "link set lo up",
        f"addr add 198.18.7.2/24 dev {IF_C}",
        f"link set {IF_C} mtu 1500 up",
        "route add 198.18.6.0/24 via 198.18.7.1",
    ]) + "\n")
    # forward, and answer every oversize packet (the default rate limit would slow the test)
    for key, val in (("net.ipv4.ip_forward", "1"), ("net.ipv4.icmp_ratelimit", "0")):
        run(["ip", "netns", "exec", NS_R, "sysctl", "-qw", f"{key}={val}"])


def cleanup(gw):
    agtest.stop_gateway(gw)
    for ns in (NS_R, NS_C):  # the tap goes with the gateway, the veth pair with its namespace
        run(["ip", "netns", "del", ns], check=False)
    run(["rm", "-rf", f"/var/run/dpdk/{PREFIX}"], check=False)


def main():
    agtest.require_root()
    binary = os.path.join(agtest.BUILD, "app", "authgate")
    if not os.access(binary, os.X_OK):
        skip(f"no gateway binary at {binary}")
    check = Check()
    gw = None
    work = tempfile.mkdtemp(prefix="ag-pmtu-")
    log = os.path.join(work, "authgate.log")
    www = os.path.join(work, "www")
    files = {"odd.bin": os.urandom(1234567), "4m.bin": os.urandom(4 << 20),
             "small.txt": b"fits in one segment\n"}
    agtest.write_files(www, files)
    cfg = os.path.join(work, "pmtu.ini")
    with open(cfg, "w") as f:
        f.write(config(www))
    try:
        setup_router_and_client()
        gw = agtest.start_gateway(NS_R, binary, cfg, PREFIX, log, TAP, "198.18.6.1/24")
        if not agtest.wait_ping(gw, NS_C, GW):
            print(open(log).read()[-3000:])
            raise AssertionError("gateway not reachable through the router within 20 s")

        for name, data in files.items():
            status, got, same, dt, err = agtest.get_exact(
                NS_C, f"http://{GW}/pkg/{name}", os.path.join(work, "got-" + name), data)
            check(status == "200" and same,
                  f"GET /pkg/{name} over a {PATH_MTU}-byte hop: {status} "
                  f"{got}/{len(data)} bytes byte-exact={same} ({dt:.2f} s) {err}")
        tcp = agtest.telemetry("/authgate/tcp/stats", prefix=PREFIX)
        drops = tcp.get("drops", {})
        lcores = agtest.telemetry("/authgate/lcores", prefix=PREFIX)
        print(f"tcp: pmtu_lowered={tcp.get('pmtu_lowered')} "
              f"pmtu_blackhole={tcp.get('pmtu_blackhole')} retransmits={tcp.get('retransmits')} "
              f"icmp drops: " + ", ".join(f"{k}={v}" for k, v in drops.items()
                                          if k.startswith("icmp")))
        print(f"lcores: {lcores}"[:600])
        check(tcp.get("pmtu_lowered", 0) >= 1,
              "validated ICMP frag-needed lowered the MSS (pmtu_lowered >= 1)")
        check(tcp.get("pmtu_blackhole", 0) == 0, "no black-hole fallback was needed")
        # Acting on the ICMP means the oversized flight is resent at once, in the new size:
        # no retransmission timer has to fire. A gateway that ignored the ICMP would need an
        # RTO (200 ms+, then the black-hole steps) for each transfer; counted, not timed.
        segs = tcp.get("seg_out", 0)
        check(tcp.get("rto_expired", 0) <= 2,
              f"no stall behind the smaller hop: rto_expired={tcp.get('rto_expired')} (<= 2)")
        check(tcp.get("retransmits", 0) * 20 <= segs,
              f"retransmissions bounded: {tcp.get('retransmits')} of {segs} segments (<= 5 %)")
        check(drops.get("icmp_no_flow", 0) == 0 and drops.get("icmp_bad_seq", 0) == 0 and
              drops.get("icmp_malformed", 0) == 0,
              "no genuine ICMP was rejected by validation")
        return check.done()
    finally:
        cleanup(gw)
        run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
