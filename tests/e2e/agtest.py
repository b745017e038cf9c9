"""Shared helpers for authgate end-to-end tests: the lab, telemetry, assertions."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AUTHGATE_BUILD", os.path.join(TOP, "build"))
LAB = os.path.join(TOP, "scripts", "lab")
NS = os.environ.get("AUTHGATE_LAB", "authgate-lab")
REALM_DIR = f"/run/{NS}-realm"
os.environ["AUTHGATE_REALM_DIR"] = REALM_DIR
GW = "198.18.0.2"
CLIENT = "198.18.0.1"
SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def require_root():
    if os.geteuid() != 0:
        skip("needs root for network namespaces and net_tap")


def run(cmd, check=True, **kw):
    """Runs cmd (a list), returns CompletedProcess with text output."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run(cmd, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def lab(*args, check=True, env=None):
    e = dict(os.environ)
    e["AUTHGATE_BIN"] = os.path.join(BUILD, "app", "authgate")
    if env:
        e.update(env)
    return run([LAB, *args], check=check, env=e)


def lab_up_config(text):
    """scripts/lab up with a configuration given as text (the gateway reads it once, at start)."""
    import tempfile
    fd, path = tempfile.mkstemp(prefix="ag-e2e-", suffix=".ini")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        lab("down", check=False)
        return lab("up", path)
    finally:
        os.unlink(path)


# AUTHGATE_LAB_LCORES=N: every gateway a test starts runs N dataplane lcores (scripts/lab
# rewrites the configs it is given; gateway_config() here does the same for the others).
LCORES = int(os.environ.get("AUTHGATE_LAB_LCORES") or 0)


def with_lcores(text, n=None):
    """text (an INI) with n dataplane lcores 1..n beside the main lcore 0, the EAL lcores
    spread over this machine's CPUs ([eal] cpus) unless text says where, memory_mb scaled;
    n defaults to AUTHGATE_LAB_LCORES, and without either text comes back as it is. The
    same rewrite as scripts/lab's with_lcores."""
    n = n or LCORES
    if not n:
        return text
    # the mark tells scripts/lab the file is written for n lcores already: it reads it as is
    mark = (f"# AUTHGATE_LAB_LCORES={n}: [eal] lcores, cpus, memory_mb and [dataplane] lcores "
            "rewritten")
    out, sec, seen_dp, has = [mark], None, False, set()

    def flush():
        if sec == "eal" and "cpus" not in has:
            out.append(f"cpus = 0-{os.cpu_count() - 1}")
        if sec == "dataplane" and "lcores" not in has:
            out.append(f"lcores = 1-{n}")

    for line in text.splitlines():
        st = line.strip()
        key = st.split("=", 1)[0].strip() if "=" in st else None
        if st.startswith("["):
            flush()
            sec, has = st.strip("[]").strip(), set()
            seen_dp |= sec == "dataplane"
        elif sec == "eal" and key == "lcores":
            line = f"lcores = 0-{n}"
        elif sec == "eal" and key == "main_lcore":
            line = "main_lcore = 0"
        elif sec == "eal" and key == "memory_mb":
            # each dataplane lcore has pools as big as a port's: memory for 1 + n, not 2
            line = f"memory_mb = {(int(st.split('=', 1)[1]) * (1 + n) + 1) // 2}"
        elif sec == "dataplane" and key == "lcores":
            line = f"lcores = 1-{n}"
        if sec in ("eal", "dataplane") and key:
            has.add(key)
        out.append(line)
    flush()
    if not seen_dp:
        out += ["[dataplane]", f"lcores = 1-{n}"]
    return "\n".join(out) + "\n"


_rss_pattern = {}


def rss_pattern(prefix=None):
    """The 16-bit pattern of the gateway's symmetric RSS key: drawn at start (a client must
    not know it), so tests read it from the running gateway's /authgate/ports."""
    prefix = prefix or NS
    try:
        pid = open(f"/run/{prefix}/authgate.pid").read().strip()
    except OSError:
        pid = None
    if (prefix, pid) not in _rss_pattern:
        port = next(iter(telemetry("/authgate/ports", prefix).values()))
        _rss_pattern[(prefix, pid)] = port["rss_pattern"]
    return _rss_pattern[(prefix, pid)]


def rss_owner(src, sport, dst, dport, lcores=None, pattern=None):
    """The dataplane lcore that owns the TCP flow src:sport -> dst:dport (either direction):
    as dataplane/tcp computes it, the Toeplitz hash with the symmetric key (the running
    gateway's pattern repeated), its low 6 bits modulo the lcores. Lets a test whose
    expectations are per lcore (upstream health, per-lcore limits) put its connections on one
    lcore."""
    lcores = lcores or LCORES or 1
    if lcores == 1:
        return 0
    pattern = rss_pattern() if pattern is None else pattern
    key = int.from_bytes(pattern.to_bytes(2, "big") * 8, "big")  # 128 bits: 96 of input + 32
    data = (socket.inet_aton(src) + socket.inet_aton(dst) + sport.to_bytes(2, "big")
            + dport.to_bytes(2, "big"))
    h, bits = 0, int.from_bytes(data, "big")
    for i in range(96):
        if bits >> (95 - i) & 1:
            h ^= key >> (96 - i) & 0xFFFFFFFF
    return (h & 63) % lcores


def local_ports(count, lcore=0, dport=80, src=None, dst=None, first=20000):
    """count client ports from first up whose connections to dst:dport land on lcore (curl
    --local-port); with one lcore, any ports."""
    src, dst = src or CLIENT, dst or GW
    if lcore >= (LCORES or 1):
        raise ValueError(f"lcore {lcore} of {LCORES or 1}")
    out, p = [], first
    while len(out) < count:
        if rss_owner(src, p, dst, dport) == lcore:
            out.append(p)
        p += 1
    return out


def gateway_config(prefix, port, www):
    """A one-port gateway config for tests that run it on a link of their own (no lab):
    --no-huge, one dataplane lcore (AUTHGATE_LAB_LCORES), /pkg open from www; port is the
    [port NAME] section."""
    return with_lcores(f"""[eal]
lcores = 0-1
main_lcore = 0
memory_mb = 512
hugepages = no
file_prefix = {prefix}
pci = no

[dataplane]
lcores = 1

[log]
level = info

{port.strip()}
mtu = 1500
mbufs = 8191

[http]
port = 80

[site /pkg]
root = {www}
""")


def start_gateway(ns, binary, cfg, prefix, log, tap=None, tap_addr=None):
    """The gateway run by a test on a link of its own (no lab): in namespace ns with config
    cfg and DPDK file prefix prefix, its output to the file log. With tap, waits (10 s at
    most) for the PMD's interface to appear and gives it tap_addr (ADDR/LEN). Returns the
    Popen: stop it with stop_gateway()."""
    with open(log, "w") as lf:
        gw = subprocess.Popen(["ip", "netns", "exec", ns, binary, "-c", cfg, "--",
                               f"--file-prefix={prefix}"], stdout=lf, stderr=lf,
                              stdin=subprocess.DEVNULL)
    if tap is not None:
        for _ in range(100):
            if gw.poll() is not None:
                break
            if run(["ip", "-n", ns, "link", "show", tap], check=False).returncode == 0:
                break
            time.sleep(0.1)
        run(["ip", "-n", ns, "-batch", "-"],
            input=f"addr add {tap_addr} dev {tap}\nlink set {tap} up\n", check=False)
    return gw


def stop_gateway(gw, timeout=10):
    """SIGTERM (the gateway drains and exits), SIGKILL after timeout seconds."""
    if gw is not None and gw.poll() is None:
        gw.send_signal(signal.SIGTERM)
        try:
            gw.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            gw.kill()
            gw.wait()


def write_files(directory, files):
    """Writes each name -> bytes of files into directory (created)."""
    os.makedirs(directory, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def wait_ping(gw, ns, addr, tries=100):
    """Pings addr from netns ns until it answers (True) or the gateway process gw exits
    or tries run out, 0.2 s apart (False)."""
    for _ in range(tries):
        if gw.poll() is not None:
            return False
        if run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q", addr],
               check=False).returncode == 0:
            return True
        time.sleep(0.2)
    return False


def get_exact(ns, url, out, data):
    """curl GET url from netns ns into out; returns (status, bytes got, byte-exact, seconds,
    curl's stderr)."""
    t0 = time.time()
    p = run(["ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "30", "-o", out,
             "-w", "%{http_code}", url], check=False)
    dt = time.time() - t0
    got = open(out, "rb").read() if os.path.exists(out) else b""
    return p.stdout, len(got), hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), \
        dt, p.stderr.strip()


def in_ns(*cmd, check=True, **kw):
    return run(["ip", "netns", "exec", NS, *cmd], check=check, **kw)


def telemetry(cmd, prefix=NS, tries=3):
    """One telemetry command over the v2 socket; returns the value. The telemetry thread
    shares two cores with busy-polling lcores: an answer later than 5 s is asked again (a
    gateway that is gone refuses the connection at once)."""
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    for attempt in range(tries):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.settimeout(5)
                s.connect(path)
                greeting = json.loads(s.recv(4096).decode())
                s.send(cmd.encode())
                reply = json.loads(s.recv(greeting.get("max_output_len", 16384)).decode())
            return reply[cmd.split(",")[0]]
        except TimeoutError:
            if attempt == tries - 1:
                raise


def ctl(*args, check=True):
    return run([os.path.join(BUILD, "app", "authgate-ctl"), "-p", NS, *args],
               check=check)


def wait_until(pred, timeout=10.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Check:
    """Counts assertions and prints them so a reader sees what was shown."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


NGINX_BURST_CONF = """
worker_processes 1;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 32768; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    sendfile on;
    server {{
        listen {up}:{port} backlog=8192;
        location /papp/ {{ alias {www}/; }}
        location /direct/ {{ alias {www}/; }}
    }}
}}
"""


def start_burst_nginx(d, up, port, www):
    """A private nginx in the lab namespace for bursts through the proxy: www as /papp/ (what
    the gateway proxies) and /direct/, one worker, its files in d. Returns the master's pid
    (stop it by pid)."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_BURST_CONF.format(d=d, up=up, port=port, www=www))
    in_ns("nginx", "-c", conf, "-g", "daemon on;")
    wait_until(lambda: os.path.exists(os.path.join(d, "nginx.pid")), 10, "nginx pid file")
    return int(open(os.path.join(d, "nginx.pid")).read())
