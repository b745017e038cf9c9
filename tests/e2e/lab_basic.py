#!/usr/bin/python3
"""Foundation e2e: lab up, ping, ARP, hostile frames counted by reason, telemetry, ctl, crash-restart, down."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

COUNT = 3


def main():
    t.require_root()
    check = t.Check()
    t.lab("down", check=False)
    try:
        out = t.lab("up").stdout
        check("lab: up" in out, "scripts/lab up returns once the gateway answers")

        p = t.in_ns("ping", "-c", "20", "-i", "0.05", "-q", t.GW, check=False)
        check(" 20 received" in p.stdout, "ping -c 20 198.18.0.2 gets 20 replies")

        ports = t.telemetry("/authgate/ports")
        gw_mac = ports["lab"]["mac"].lower()
        check(ports["lab"]["link"] == "up" and ports["lab"]["address"] == "198.18.0.2/24",
              f"/authgate/ports shows lab up at 198.18.0.2/24, mac {gw_mac}")
        a = t.in_ns("arping", "-c", "3", "-I", "ag0", t.GW, check=False)
        check(a.returncode == 0 and gw_mac in a.stdout.lower(), "arping gets the gateway's MAC")
        neigh = t.in_ns("ip", "neigh", "show", t.GW).stdout.lower()
        check(gw_mac in neigh, f"client neighbour table has {t.GW} at {gw_mac}")
        learned = [n["ip"] for n in t.telemetry("/authgate/neighbours").values()]
        check(t.CLIENT in learned, "the gateway learned the client from ARP")

        # IPv4 teaches the neighbour table nothing (a spoofed packet could redirect an address):
        # a secondary client address is resolved by ARP when the gateway first sends to it
        t.in_ns("ping", "-c", "2", "-i", "0.1", "-I", "198.18.0.33", "-q", t.GW)
        learned = [n["ip"] for n in t.telemetry("/authgate/neighbours").values()]
        check("198.18.0.33" not in learned, "pings from 198.18.0.33 did not create a neighbour")
        r = t.in_ns("curl", "-s", "-m", "10", "--interface", "198.18.0.33",
                    f"http://{t.GW}/pkg/hello.txt", check=False)
        learned = [n["ip"] for n in t.telemetry("/authgate/neighbours").values()]
        check(r.stdout.startswith("hello") and "198.18.0.33" in learned,
              "curl from 198.18.0.33: its SYN-ACK waited for ARP, then 198.18.0.33 was learned")

        before = t.telemetry("/authgate/drops")
        sent = json.loads(t.in_ns("/usr/bin/python3", os.path.join(os.path.dirname(__file__), "send_frames.py"),
                                  "ag0", gw_mac, str(COUNT)).stdout)
        time.sleep(0.5)
        after = t.telemetry("/authgate/drops")
        expected = {}
        for reason in sent.values():
            expected[reason] = expected.get(reason, 0) + COUNT
        for reason, n in sorted(expected.items()):
            got = after[reason] - before[reason]
            check(got == n, f"drop reason {reason}: +{got} (sent {n})")
        check(len(sent) == 16, f"{len(sent)} of 16 hostile frame classes could be sent")

        p = t.in_ns("ping", "-c", "5", "-i", "0.05", "-q", t.GW, check=False)
        check(" 5 received" in p.stdout, "after hostile frames the gateway still answers ping")

        stats = t.telemetry("/authgate/stats")
        check(stats["icmp_echo_out"] >= 27 and stats["arp_replies_out"] >= 3,
              f"stats: {stats['icmp_echo_out']} echo replies, {stats['arp_replies_out']} ARP replies")

        ctl = os.path.join(t.BUILD, "app", "authgate-ctl")
        if os.path.exists(ctl):
            c = t.ctl("ports")
            check("198.18.0.2/24" in c.stdout and gw_mac in c.stdout.lower(),
                  "authgate-ctl ports shows the port")
            d = json.loads(t.ctl("drops", "--json").stdout)
            check(d.get("ip_bad_checksum") == after["ip_bad_checksum"],
                  "authgate-ctl drops --json matches telemetry")
            c = t.ctl("drops")
            check(re.search(r"ip_fragment\s+%d" % after["ip_fragment"], c.stdout) is not None,
                  "authgate-ctl drops prints the fragment drops")
        else:
            check(False, "authgate-ctl is built")

        p = t.run(["/usr/bin/python3", "/usr/bin/dpdk-telemetry.py", "-f", t.NS],
                  input="/authgate/info\n", check=False)
        check('"version": "authgate' in p.stdout, "stock dpdk-telemetry.py reads /authgate/info")

        # a crash leaves state behind; up must still work
        pid = int(open(f"/run/{t.NS}/authgate.pid").read())
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        out = t.lab("up").stdout
        check("lab: up" in out, "scripts/lab up works after the gateway was SIGKILLed")

        # graceful stop: SIGTERM ends the lcores and closes the ports
        pid = int(open(f"/run/{t.NS}/authgate.pid").read())
        log = f"/run/{t.NS}/authgate.log"
        os.kill(pid, signal.SIGTERM)
        t.wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, "gateway exit")
        text = open(log).read()
        check("authgate: stopping" in text and "lcore 1 stops" in text and "port lab: rx" in text,
              "SIGTERM: lcores stop, ports closed, exit")
    finally:
        t.lab("down", check=False)
    ns = t.run(["ip", "netns", "list"]).stdout
    check(t.NS not in ns, "scripts/lab down leaves no namespace")
    check(not os.path.exists(f"/run/{t.NS}"), "scripts/lab down leaves no state dir")
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
