#!/usr/bin/env python3
"""net_af_xdp on a veth carries HTTP byte-exact (issue 14: devices without multi-segment TX).

Its own lab, not scripts/lab: namespace agx-gw-PID holds one end of a veth pair and the gateway,
bound to it with `device = net_af_xdp0,iface=...` (--no-huge); namespace agx-cl-PID holds the
other end, 198.18.5.1/24, and curl. The client end's TX checksum offload is turned off (ethtool
ioctl, no ethtool binary needed): a veth otherwise hands over TCP segments with the checksum
left for the device to fill (CHECKSUM_PARTIAL), and AF_XDP delivers them as they are. Files of
odd sizes are downloaded and compared byte for byte; /authgate/ports must show the port's
tx_multi_seg (af_xdp in DPDK 22.11 has none, so the engines linearize).
Exit 77 (skip) when net_af_xdp is not built or the kernel refuses AF_XDP on the veth.
"""
import glob
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest  # noqa: E402
from agtest import Check, run, skip  # noqa: E402

TAG = f"{os.getpid() % 100000}"
NS_GW = f"agx-gw-{TAG}"
NS_CL = f"agx-cl-{TAG}"
IF_GW = f"agx{TAG}g"
IF_CL = f"agx{TAG}c"
PREFIX = f"agx-{TAG}"
GW = "198.18.5.2"
CLIENT = "198.18.5.1/24"

def pmd_available():
    return bool(glob.glob("/usr/lib/*/dpdk/pmds-*/librte_net_af_xdp.so*") +
                glob.glob("/usr/local/lib*/**/librte_net_af_xdp.so*", recursive=True))


def config(www):
    return agtest.gateway_config(PREFIX, f"""[port xdp]
device = net_af_xdp0,iface={IF_GW}
address = {GW}/24""", www)



def setup_net():
    batch_gw = [
        f"link add {IF_GW} type veth peer name {IF_CL} netns {NS_CL}",
        "link set lo up",
        f"link set {IF_GW} up",
    ]
    run(["ip", "netns", "add", NS_GW])
    run(["ip", "netns", "add", NS_CL])
    run(["ip", "-n", NS_GW, "-batch", "-"], input="\n".join(batch_gw) + "\n")
    run(["ip", "-n", NS_CL, "-batch", "-"],
        input=f"link set lo up\naddr add {CLIENT} dev {IF_CL}\nlink set {IF_CL} up\n")
    # the client's veth end would hand the gateway segments with the checksum left to a device
    run(["ip", "netns", "exec", NS_CL, os.path.join(agtest.TOP, "scripts", "ethtool-set"), IF_CL,
         "tx-checksum=off"])


def cleanup(gw):
    agtest.stop_gateway(gw)
    for ns in (NS_GW, NS_CL):  # deleting a namespace deletes its veth end, and the pair
        run(["ip", "netns", "del", ns], check=False)
    run(["rm", "-rf", f"/var/run/dpdk/{PREFIX}"], check=False)


def main():
    agtest.require_root()
    binary = os.path.join(agtest.BUILD, "app", "authgate")
    if not os.access(binary, os.X_OK):
        skip(f"no gateway binary at {binary}")
    if not pmd_available():
        skip("DPDK was built without net_af_xdp (no librte_net_af_xdp.so)")
    check = Check()
    gw = None
    work = tempfile.mkdtemp(prefix="ag-afxdp-")
    log = os.path.join(work, "authgate.log")
    www = os.path.join(work, "www")
    files = {"hello.txt": b"hello over af_xdp\n", "odd.bin": os.urandom(1234567),
             "4m.bin": os.urandom(4 << 20), "1k.bin": os.urandom(1024)}
    agtest.write_files(www, files)
    cfg = os.path.join(work, "af_xdp.ini")
    with open(cfg, "w") as f:
        f.write(config(www))
    try:
        setup_net()
        gw = agtest.start_gateway(NS_GW, binary, cfg, PREFIX, log)
        if not agtest.wait_ping(gw, NS_CL, GW):
            text = open(log).read()
            print(text[-3000:])
            if gw.poll() is not None and ("xdp" in text.lower() or "xsk" in text.lower()):
                cleanup(gw)
                gw = None
                skip("the gateway could not bind AF_XDP to the veth (kernel refused XDP/XSK; "
                     "log above)")
            raise AssertionError("gateway on net_af_xdp did not answer ping within 20 s")

        ports = agtest.telemetry("/authgate/ports", prefix=PREFIX)
        port = ports["xdp"]
        print(f"/authgate/ports xdp: tx_multi_seg={port.get('tx_multi_seg')} "
              f"mtu={port.get('mtu')}")
        check(port.get("tx_multi_seg") in ("yes", "no"), "/authgate/ports shows tx_multi_seg")
        text = open(log).read()
        if port.get("tx_multi_seg") == "no":
            check("linearized" in text, "the gateway logged that TCP output is linearized")

        for name, data in files.items():
            status, got, same, dt, err = agtest.get_exact(
                NS_CL, f"http://{GW}/pkg/{name}", os.path.join(work, "got-" + name), data)
            check(status == "200" and same,
                  f"GET /pkg/{name}: {status} {got}/{len(data)} bytes byte-exact={same} "
                  f"({dt:.2f} s) {err}")
        tcp = agtest.telemetry("/authgate/tcp/stats", prefix=PREFIX)
        print(f"tcp: seg_out={tcp.get('seg_out')} retransmits={tcp.get('retransmits')} "
              f"bad_csum={tcp.get('drops', {}).get('bad_csum')}")
        return check.done()
    finally:
        cleanup(gw)
        run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
