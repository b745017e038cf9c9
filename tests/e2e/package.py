#!/usr/bin/python3
"""Package e2e: build the .deb from a clone of HEAD, install, check, run, setup --check, purge."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

CONF = "/etc/authgate/authgate.ini"
FILES = [
    "/usr/sbin/authgate", "/usr/bin/authgate-ctl", "/usr/sbin/authgate-setup", CONF,
    "/lib/systemd/system/authgate.service", "/etc/logrotate.d/authgate",
    "/usr/share/man/man8/authgate.8.gz", "/usr/share/man/man8/authgate-ctl.8.gz",
    "/usr/share/man/man8/authgate-setup.8.gz", "/usr/share/man/man5/authgate.ini.5.gz",
    "/usr/share/doc/authgate/appliance.md.gz", "/usr/share/doc/authgate/config.md.gz",
    "/usr/share/doc/authgate/copyright", "/var/log/authgate", "/var/lib/authgate/www",
]
# The unit's CapabilityBoundingSet
UNIT_CAPS = ["net_admin", "net_raw", "ipc_lock", "sys_admin"]
NS = f"agpkg-{os.getpid()}"
PREFIX = f"agpkg{os.getpid()}"
GW, CLIENT = "198.18.7.2", "198.18.7.1"


def installed():
    p = t.run(["dpkg-query", "-W", "-f=${Status}", "authgate"], check=False)
    return "install ok installed" in p.stdout or "config-files" in p.stdout


def build(check, tmp):
    src = os.path.join(tmp, "src")
    t.run(["git", "clone", "-q", "--no-hardlinks", t.TOP, src])
    head = t.run(["git", "-C", src, "log", "-1", "--format=%h %s"]).stdout.strip()
    start = time.time()
    p = t.run(["dpkg-buildpackage", "-us", "-uc", "-b"], check=False, cwd=src)
    took = time.time() - start
    debs = [d for d in glob.glob(os.path.join(tmp, "authgate_*.deb"))]
    if p.returncode != 0:
        print(p.stdout[-3000:], p.stderr[-3000:])
    check(p.returncode == 0 and len(debs) == 1,
          f"dpkg-buildpackage -us -uc -b on a clone of HEAD ({head}) builds "
          f"{[os.path.basename(d) for d in debs]} in {took:.0f} s")
    if debs:
        print(f"     {os.path.basename(debs[0])}: {os.path.getsize(debs[0]) // 1024} KiB")
    dirty = t.run(["git", "-C", t.TOP, "status", "--porcelain", "--", "debian"]).stdout
    check(dirty == "", "the working tree's debian/ is untouched (the build ran in the clone)")
    if shutil.which("lintian"):
        lint = t.run(["lintian", "--pedantic", *glob.glob(os.path.join(tmp, "*.changes"))],
                     check=False)
        tags = [ln for ln in lint.stdout.splitlines() if ln[:2] in ("E:", "W:")]
        check(not tags, f"lintian --pedantic: no error or warning tags {tags}")
    return debs[0] if debs else None


def setup_check_fake(check, tmp):
    """authgate-setup --check against a described machine: parsing and each verdict."""
    root = os.path.join(tmp, "fake")
    sysfs, procfs, devfs = (os.path.join(root, d) for d in ("sys", "proc", "dev"))
    addr = "0000:03:00.0"
    for d in ("kernel/mm/hugepages/hugepages-2048kB", "kernel/iommu_groups/7/devices",
              "bus/pci/drivers/vfio-pci", "bus/pci/drivers/ixgbe", f"bus/pci/devices/{addr}",
              "bus/pci/devices/0000:03:00.1", "class/net"):
        os.makedirs(os.path.join(sysfs, d), exist_ok=True)
    os.makedirs(procfs)
    os.makedirs(os.path.join(devfs, "vfio"))
    open(os.path.join(devfs, "vfio", "vfio"), "w").close()
    for f, v in (("nr_hugepages", "1100"), ("free_hugepages", "1100")):
        with open(os.path.join(sysfs, "kernel/mm/hugepages/hugepages-2048kB", f), "w") as fh:
            fh.write(v + "\n")
    with open(os.path.join(procfs, "mounts"), "w") as fh:
        fh.write("hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n")
    with open(os.path.join(procfs, "cmdline"), "w") as fh:
        fh.write("ro quiet intel_iommu=on iommu=pt isolcpus=1-4 hugepagesz=2M hugepages=1100\n")
    dev = os.path.join(sysfs, "bus/pci/devices", addr)
    os.symlink("../../../bus/pci/drivers/vfio-pci", os.path.join(dev, "driver"))
    os.symlink("../../../kernel/iommu_groups/7", os.path.join(dev, "iommu_group"))
    os.symlink(f"../../../../bus/pci/devices/{addr}",
               os.path.join(sysfs, "kernel/iommu_groups/7/devices", addr))
    modules = os.path.join(tmp, "modules-authgate.conf")
    with open(modules, "w") as fh:
        fh.write("vfio-pci\n")
    # what the parser must cope with: comments after values, odd spacing, a short PCI address
    conf = os.path.join(tmp, "fake.ini")
    with open(conf, "w") as fh:
        fh.write("[eal]\n  memory_mb   =  2048   # 1056 pages\nhugepages = yes\n"
                 "[port  wan ]\ndevice=03:00.0# the NIC\naddress = 198.18.100.2/24\n"
                 "# [port old]\n# device = 0000:09:00.0\n")
    env = dict(os.environ, AUTHGATE_SETUP_SYSFS=sysfs, AUTHGATE_SETUP_PROCFS=procfs,
               AUTHGATE_SETUP_DEVFS=devfs, AUTHGATE_SETUP_MODULES_FILE=modules,
               AUTHGATE_SETUP_SYSCTL_FILE=os.path.join(tmp, "none.conf"))

    def run(c=conf):
        return t.run(["/usr/sbin/authgate-setup", "--check", "-c", c], check=False, env=env)

    p = run()
    print(p.stdout, end="")
    check(p.returncode == 0 and "check: ready" in p.stdout and
          f"port wan: {addr} bound to vfio-pci" in p.stdout and "1056 needed" in p.stdout and
          "0000:09:00.0" not in p.stdout,
          "setup --check on a described ready machine: exit 0, 'ready', 03:00.0 read as "
          "0000:03:00.0, 1056 pages for 2048 MiB, the commented-out port ignored")

    # the same NIC on its kernel driver with its interface up, a group mate on a kernel driver
    os.unlink(os.path.join(dev, "driver"))
    os.symlink("../../../bus/pci/drivers/ixgbe", os.path.join(dev, "driver"))
    os.makedirs(os.path.join(sysfs, "class/net/eth1"))
    os.symlink(f"../../../bus/pci/devices/{addr}", os.path.join(sysfs, "class/net/eth1/device"))
    with open(os.path.join(sysfs, "class/net/eth1/operstate"), "w") as fh:
        fh.write("up\n")
    p = run()
    check(p.returncode == 1 and "interface(s) eth1 are up" in p.stdout and "NOT ready" in p.stdout,
          "setup --check: a NIC whose kernel interface is up is refused (exit 1, names eth1)")
    with open(os.path.join(sysfs, "class/net/eth1/operstate"), "w") as fh:
        fh.write("down\n")
    p = run()
    check(p.returncode == 1 and "bound to ixgbe" in p.stdout,
          "setup --check: a NIC still on ixgbe is reported, not bound (check changes nothing)")
    check(os.readlink(os.path.join(dev, "driver")).endswith("ixgbe"),
          "setup --check left the device's driver alone")
    os.unlink(os.path.join(dev, "driver"))
    os.symlink("../../../bus/pci/drivers/vfio-pci", os.path.join(dev, "driver"))
    mate = os.path.join(sysfs, "bus/pci/devices/0000:03:00.1")
    os.symlink("../../../bus/pci/drivers/ixgbe", os.path.join(mate, "driver"))
    os.symlink("../../../../bus/pci/devices/0000:03:00.1",
               os.path.join(sysfs, "kernel/iommu_groups/7/devices/0000:03:00.1"))
    p = run()
    check(p.returncode == 1 and "also holds 0000:03:00.1 on ixgbe" in p.stdout,
          "setup --check: an IOMMU group mate on a kernel driver makes the group unusable")

    bad = os.path.join(tmp, "bad.ini")
    with open(bad, "w") as fh:
        fh.write("[eal]\nhugepages = no\npci = no\n[port tap]\ndevice = net_tap0,iface=x\n"
                 "[port pkt]\ndevice = net_af_packet0,iface=nosuch0\n")
    p = run(bad)
    check(p.returncode == 1 and "needs interface nosuch0" in p.stdout and
          "hugepages = no" in p.stdout,
          "setup --check: a net_af_packet port on a missing interface is refused; "
          "hugepages = no needs no pages")


def notify_socket(tmp):
    path = os.path.join(tmp, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.5)
    return s, path


def notify_wait(s, want, timeout):
    """Collects sd_notify datagrams until one carries want; returns all seen."""
    seen = []
    end = time.time() + timeout
    while time.time() < end:
        try:
            msg = s.recv(4096).decode(errors="replace")
        except socket.timeout:
            continue
        seen.append(msg)
        if want in msg.split("\n"):
            return seen
    return seen


def run_under_unit_caps(check, tmp, caps, expect_up):
    """The installed gateway on net_tap in a namespace, with only caps in its bounding set and
    a notify socket as systemd would give it."""
    www = os.path.join(tmp, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "hello.txt"), "w") as fh:
        fh.write("hello from the package\n")
    conf = os.path.join(tmp, "run.ini")
    text = (f"[eal]\nlcores = 0-1\nmemory_mb = 256\nhugepages = no\nfile_prefix = {PREFIX}\n"
            "pci = no\n[dataplane]\nlcores = 1\nidle_sleep_us = 50\n"
            f"[port t]\ndevice = net_tap0,iface=agpkg0\naddress = {GW}/24\nmbufs = 4095\n"
            f"[http]\nport = 80\nshutdown_grace_s = 2\n[site /pkg]\nroot = {www}\n")
    with open(conf, "w") as fh:
        fh.write(text)
    s, path = notify_socket(tmp)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="2000000")
    cmd = ["ip", "netns", "exec", NS, "setpriv", "--bounding-set",
           "-all," + ",".join("+" + c for c in caps), "--inh-caps", "-all", "--no-new-privs",
           "/usr/sbin/authgate", "-c", conf]
    log = open(os.path.join(tmp, f"gw-{len(caps)}.log"), "w")
    gw = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                          start_new_session=True)
    what = "+".join(caps)
    try:
        seen = notify_wait(s, "READY=1", 30)
        ready = any("READY=1" in m.split("\n") for m in seen)
        if not expect_up:
            gw.wait(timeout=30)
            check(not ready and gw.returncode != 0,
                  f"without CAP_NET_ADMIN ({what}) net_tap cannot start: exit {gw.returncode}, "
                  "no READY=1")
            return
        check(ready, f"under the unit's bounding set ({what}) and no_new_privs the gateway "
              f"sends READY=1 on NOTIFY_SOCKET (saw {len(seen)} datagram(s))")
        t.run(["ip", "netns", "exec", NS, "ip", "addr", "add", f"{CLIENT}/24", "dev", "agpkg0"])
        t.run(["ip", "netns", "exec", NS, "ip", "link", "set", "agpkg0", "up"])
        r = t.run(["ip", "netns", "exec", NS, "curl", "-s", "-m", "10", "--retry", "3",
                   "--retry-connrefused", f"http://{GW}/pkg/hello.txt"], check=False)
        check(r.stdout == "hello from the package\n",
              "curl through the capability-limited gateway gets the file")
        wd = notify_wait(s, "WATCHDOG=1", 5)
        check(any("WATCHDOG=1" in m.split("\n") for m in wd),
              "WATCHDOG_USEC set: the main loop sends WATCHDOG=1")
        os.kill(gw.pid, signal.SIGHUP)
        rl = notify_wait(s, "READY=1", 10)
        check(any("RELOADING=1" in m.split("\n") for m in rl) and
              any("READY=1" in m.split("\n") for m in rl),
              f"SIGHUP (what ExecReload sends): RELOADING=1 then READY=1 ({len(rl)} datagrams)")
        os.kill(gw.pid, signal.SIGTERM)
        rc = gw.wait(timeout=30)
        check(rc == 0, f"SIGTERM (systemctl stop): the gateway drains and exits 0 (exit {rc})")
    finally:
        if gw.poll() is None:
            os.killpg(gw.pid, signal.SIGKILL)
            gw.wait()
        log.close()
        s.close()
        os.unlink(path)
        shutil.rmtree(f"/var/run/dpdk/{PREFIX}", ignore_errors=True)


def systemd_part(check):
    pid1 = open("/proc/1/comm").read().strip()
    if pid1 != "systemd" or not os.path.isdir("/run/systemd/system"):
        print(f"SKIP: systemd is not PID 1 here (PID 1 is '{pid1}'): systemctl start/reload/"
              "stop of authgate.service not run; the unit's capabilities, notify, reload and "
              "stop were exercised above without systemd")
        return
    # The shipped config names a PCI NIC no test box has: a net_tap config for the unit.
    www = "/var/lib/authgate/www"
    with open(os.path.join(www, "hello.txt"), "w") as fh:
        fh.write("hello from the unit\n")
    base = ("[eal]\nlcores = 0-1\nmemory_mb = 256\nhugepages = no\nfile_prefix = authgate\n"
            "pci = no\n[dataplane]\nlcores = 1\nidle_sleep_us = 50\n"
            f"[port t]\ndevice = net_tap0,iface=agpkg0\naddress = {GW}/24\nmbufs = 4095\n"
            f"[http]\nport = 80\nshutdown_grace_s = 2\n[site /pkg]\nroot = {www}\n")
    with open(CONF, "w") as fh:
        fh.write(base)
    try:
        t.run(["systemctl", "daemon-reload"])
        p = t.run(["systemctl", "start", "authgate"], check=False)
        active = t.run(["systemctl", "is-active", "authgate"], check=False).stdout.strip()
        check(p.returncode == 0 and active == "active",
              f"systemctl start authgate: {active} {p.stderr.strip()}")
        pid = t.run(["systemctl", "show", "-P", "MainPID", "authgate"]).stdout.strip()
        t.run(["ip", "addr", "add", f"{CLIENT}/24", "dev", "agpkg0"], check=False)
        t.run(["ip", "link", "set", "agpkg0", "up"], check=False)
        r = t.run(["curl", "-s", "-m", "10", "--retry", "3", "--retry-connrefused",
                   f"http://{GW}/pkg/hello.txt"], check=False)
        check(r.stdout == "hello from the unit\n", "curl through the unit's gateway gets the file")
        with open(CONF, "w") as fh:
            fh.write(base + f"[site /more]\nroot = {www}\n")
        p = t.run(["systemctl", "reload", "authgate"], check=False)
        r = t.run(["curl", "-s", "-m", "10", f"http://{GW}/more/hello.txt"], check=False)
        pid2 = t.run(["systemctl", "show", "-P", "MainPID", "authgate"]).stdout.strip()
        check(p.returncode == 0 and pid == pid2 and r.stdout == "hello from the unit\n",
              "systemctl reload: same pid, the new site /more serves")
        with open(CONF, "a") as fh:
            fh.write("[nosuch]\n")
        p = t.run(["systemctl", "reload", "authgate"], check=False)
        active = t.run(["systemctl", "is-active", "authgate"], check=False).stdout.strip()
        check(p.returncode != 0 and active == "active",
              "systemctl reload with a bad file fails and the gateway keeps running")
        p = t.run(["systemctl", "stop", "authgate"], check=False)
        active = t.run(["systemctl", "is-active", "authgate"], check=False).stdout.strip()
        check(p.returncode == 0 and active in ("inactive", "unknown"), f"systemctl stop: {active}")
    finally:
        t.run(["systemctl", "stop", "authgate"], check=False)
        os.unlink(os.path.join(www, "hello.txt"))


def main():
    if shutil.which("dpkg-buildpackage") is None:
        t.skip("dpkg-buildpackage is not installed (apt-get install dpkg-dev debhelper)")
    t.require_root()
    check = t.Check()
    if installed():
        check(False, "authgate is already installed on this machine: the test would purge it; "
              "remove it first (dpkg --purge authgate)")
        return check.done()
    tmp = tempfile.mkdtemp(prefix="ag-package-")
    we_installed = False
    try:
        deb = build(check, tmp)
        if deb is None:
            return check.done()
        p = t.run(["dpkg", "-i", deb], check=False)
        we_installed = True
        check(p.returncode == 0, f"dpkg -i {os.path.basename(deb)}" +
              ("" if p.returncode == 0 else f": {p.stdout[-800:]} {p.stderr[-800:]}"))
        missing = [f for f in FILES if not os.path.exists(f)]
        check(not missing, f"{len(FILES) - len(missing)} of {len(FILES)} files in place {missing}")
        conff = t.run(["dpkg-query", "-W", "-f=${Conffiles}", "authgate"]).stdout
        check(CONF in conff, f"{CONF} is a conffile")
        p = t.run(["/usr/sbin/authgate", "--check-config", CONF], check=False)
        check(p.returncode == 0, f"installed authgate --check-config {CONF}: "
              f"{(p.stdout + p.stderr).strip()}")
        if shutil.which("systemd-analyze"):
            p = t.run(["systemd-analyze", "verify", "/lib/systemd/system/authgate.service"],
                      check=False)
            check(p.returncode == 0 and p.stderr.strip() == "",
                  f"systemd-analyze verify accepts the unit {p.stderr.strip()}")

        # the real machine, with the shipped config: say what is missing
        p = t.run(["/usr/sbin/authgate-setup", "--check"], check=False)
        print(p.stdout, end="")
        verdict = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        consistent = (p.returncode == 0) == ("check: ready" in verdict)
        nic = os.path.exists("/sys/bus/pci/devices/0000:03:00.0")
        check(consistent and p.returncode in (0, 1) and
              (nic or "no PCI device 0000:03:00.0" in p.stdout),
              f"authgate-setup --check on this machine: exit {p.returncode}, '{verdict}'"
              + ("" if nic else ", the shipped NIC 0000:03:00.0 reported missing"))
        setup_check_fake(check, tmp)

        t.run(["ip", "netns", "add", NS])
        try:
            run_under_unit_caps(check, tmp, UNIT_CAPS, True)
            run_under_unit_caps(check, tmp, ["net_raw", "ipc_lock", "sys_admin"], False)
        finally:
            t.run(["ip", "netns", "del", NS], check=False)
        systemd_part(check)
    finally:
        if we_installed or installed():
            p = t.run(["dpkg", "--purge", "authgate"], check=False)
            left = [f for f in FILES + ["/etc/authgate", "/var/lib/authgate"] if os.path.exists(f)]
            check(p.returncode == 0 and not left and not installed(),
                  f"dpkg --purge authgate removes every file {left}")
        shutil.rmtree(tmp, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
