#!/usr/bin/python3
"""The gateway runs on hugepages when they are there (and with --no-huge otherwise: lab-basic)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

NR = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
MNT = "/dev/hugepages"


def main():
    t.require_root()
    if not os.path.exists(NR):
        t.skip("this kernel has no 2 MiB hugepages")
    check = t.Check()
    old = int(open(NR).read())
    mounted_here = False
    tmp = tempfile.mkdtemp(prefix="ag-huge-")
    t.lab("down", check=False)
    try:
        if not any(" hugetlbfs " in l for l in open("/proc/mounts")):
            os.makedirs(MNT, exist_ok=True)
            t.run(["mount", "-t", "hugetlbfs", "nodev", MNT])
            mounted_here = True
        # memory_mb 256 for one dataplane lcore; the lab scales it for more (AUTHGATE_LAB_LCORES)
        want = 160 * (1 + max(t.LCORES, 1)) // 2
        with open(NR, "w") as f:
            f.write(str(max(old, want)))
        free = int(open(NR.replace("nr_hugepages", "free_hugepages")).read())
        if free < want * 4 // 5:
            t.skip(f"only {free} free 2 MiB hugepages could be reserved")
        conf = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
        conf = conf.replace("hugepages = auto", "hugepages = yes").replace("memory_mb = 512", "memory_mb = 256")
        path = os.path.join(tmp, "huge.ini")
        open(path, "w").write(conf)
        t.lab("up", path)
        info = t.telemetry("/authgate/info")
        check(info["hugepages"] == "yes", "the gateway runs on hugepages")
        p = t.in_ns("ping", "-c", "10", "-i", "0.05", "-q", t.GW, check=False)
        check(" 10 received" in p.stdout, "ping through the hugepage-backed gateway")
        t.lab("down")

        # auto picks --no-huge when there are too few free pages for memory_mb
        conf2 = conf.replace("hugepages = yes", "hugepages = auto").replace("memory_mb = 256", "memory_mb = 4096")
        open(path, "w").write(conf2)
        eal = t.run([os.path.join(t.BUILD, "app", "authgate"), "-c", path, "--print-eal-args"]).stdout
        check("--no-huge" in eal, "auto falls back to --no-huge when hugepages are short")
        conf3 = conf2.replace("memory_mb = 4096", "memory_mb = 128")
        open(path, "w").write(conf3)
        eal = t.run([os.path.join(t.BUILD, "app", "authgate"), "-c", path, "--print-eal-args"]).stdout
        check("--no-huge" not in eal, "auto uses hugepages when enough are free")
    finally:
        t.lab("down", check=False)
        with open(NR, "w") as f:
            f.write(str(old))
        if mounted_here:
            subprocess.run(["umount", MNT])
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
