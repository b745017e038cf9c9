#!/usr/bin/python3
"""The lab on its faster link: AUTHGATE_LAB_LINK=af_xdp scripts/lab up serves byte-exact.

scripts/lab puts the gateway's port on net_af_xdp over a veth pair in the lab namespace (the
client end keeps the name ag0 and the addresses, its TX checksum offload turned off). Checks:
the port is net_af_xdp with a kernel interface and a deeper RX ring, ping answers, files of odd
sizes come back byte for byte with curl (plain and with Negotiate, so the realm works too), no
frame was lost toward the gateway, and lab down leaves no namespace. Then again with the port's
MTU at 3500 (the largest a veth with an XDP program takes): both veth ends carry it, the files
come back byte-exact and the gateway's segments are larger than a 1500-byte MTU allows.
Exit 77 (skip) when net_af_xdp is not built or the kernel refuses AF_XDP on the veth.
"""
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

LINK = {"AUTHGATE_LAB_LINK": "af_xdp"}


def jumbo(check, work, www):
    """The lab on af_xdp with [port lab] mtu = 3500: what bench/burst.sh --mtu 3500 runs."""
    text = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    assert "\nmtu = 1500\n" in text, "configs/lab.ini has no 'mtu = 1500' line"
    fd, path = tempfile.mkstemp(prefix="ag-e2e-", suffix=".ini")
    with os.fdopen(fd, "w") as f:
        f.write(text.replace("\nmtu = 1500\n", "\nmtu = 3500\n"))
    try:
        t.lab("down", check=False)
        t.lab("up", path, env=LINK)
    finally:
        os.unlink(path)
    for ifname in ("agx", "ag0"):
        link = t.in_ns("ip", "link", "show", ifname, check=False).stdout
        check(" mtu 3500 " in link, f"{ifname} has mtu 3500 ({link.split(chr(10))[0]})")
    cap = os.path.join(work, "jumbo.txt")
    # the client end sees the gateway's frames as they were sent (no GRO on a veth without XDP)
    dump = subprocess.Popen(["ip", "netns", "exec", t.NS, "timeout", "20", "tcpdump", "-i", "ag0",
                             "-nn", "-q", "-l", "-c", "200", "tcp src port 80 and greater 2000"],
                            stdout=open(cap, "w"), stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    data = open(os.path.join(www, "4m.bin"), "rb").read()
    status, got, same, dt, err = t.get_exact(
        t.NS, f"http://{t.GW}/pkg/4m.bin", os.path.join(work, "j4m.bin"), data)
    check(status == "200" and same,
          f"mtu 3500: GET /pkg/4m.bin: {status} {got}/{len(data)} bytes byte-exact={same} {err}")
    dump.wait(timeout=30)
    big = [ln for ln in open(cap).read().splitlines() if "tcp" in ln]
    sizes = [int(ln.rsplit(" ", 1)[-1]) for ln in big if ln.rsplit(" ", 1)[-1].isdigit()]
    check(len(sizes) >= 100 and max(sizes) > 1460 and max(sizes) <= 3500 - 40,
          f"mtu 3500: {len(sizes)} segments over 2000 bytes seen on ag0, the largest "
          f"{max(sizes) if sizes else 0} bytes of payload (1460 < it <= 3460)")


def main():
    t.require_root()
    if not (glob.glob("/usr/lib/*/dpdk/pmds-*/librte_net_af_xdp.so*") +
            glob.glob("/usr/local/lib*/**/librte_net_af_xdp.so*", recursive=True)):
        t.skip("DPDK was built without net_af_xdp (no librte_net_af_xdp.so)")
    check = t.Check()
    work = tempfile.mkdtemp(prefix="ag-labxdp-")
    t.lab("down", check=False)
    try:
        up = t.lab("up", check=False, env=LINK)
        if up.returncode != 0:
            log = open(f"/run/{t.NS}/authgate.log").read() if os.path.exists(
                f"/run/{t.NS}/authgate.log") else up.stderr
            print(log[-3000:])
            if "xdp" in log.lower() or "xsk" in log.lower():
                t.skip("the kernel refused AF_XDP on the lab's veth (log above)")
            raise AssertionError("lab up on af_xdp failed")
        check("on af_xdp" in up.stdout, "scripts/lab up says the link is af_xdp")
        port = t.telemetry("/authgate/ports")["lab"]
        check(port["driver"] == "net_af_xdp" and port.get("kernel_if") == "agx",
              f"the port is net_af_xdp on agx ({port['driver']}, {port.get('kernel_if')})")
        p = t.in_ns("ping", "-c", "10", "-i", "0.05", "-q", t.GW, check=False)
        check(" 10 received" in p.stdout, "ping -c 10 198.18.0.2 gets 10 replies")

        www = "/var/lib/authgate-lab/www"
        for name in ("hello.txt", "one.bin", "1k.bin", "1m.bin", "4m.bin"):
            data = open(os.path.join(www, name), "rb").read()
            status, got, same, dt, err = t.get_exact(
                t.NS, f"http://{t.GW}/pkg/{name}", os.path.join(work, name), data)
            check(status == "200" and same,
                  f"GET /pkg/{name}: {status} {got}/{len(data)} bytes byte-exact={same} {err}")
        # scripts/lab exec sees the lab's realm (KRB5_CONFIG, the client keytabs)
        neg = t.lab("exec", "bash", "-c",
                    'kinit -kt "$AUTHGATE_CLIENT_KEYTABS/user1.keytab" user1 && '
                    f'curl -sS -m 20 --negotiate -u : -o {work}/neg.bin -w "%{{http_code}}" '
                    "http://gw.authgate.test/secure/1m.bin", check=False)
        same = open(f"{work}/neg.bin", "rb").read() == open(f"{www}/1m.bin", "rb").read() \
            if os.path.exists(f"{work}/neg.bin") else False
        check(neg.stdout.strip().endswith("200") and same,
              f"Negotiate GET /secure/1m.bin: {neg.stdout.strip()} byte-exact={same} {neg.stderr}")
        port = t.telemetry("/authgate/ports")["lab"]
        lost = port.get("kernel_drops_toward_port", 0) + port.get("rx_missed", 0)
        check(lost == 0, f"no frame lost toward the gateway (kernel + rx_missed: {lost})")
        jumbo(check, work, www)
    finally:
        t.lab("down", check=False)
        t.run(["rm", "-rf", work], check=False)
    ns = t.run(["ip", "netns", "list"]).stdout.split()
    check(t.NS not in ns, "lab down removed the namespace (and the veth with it)")
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
