#!/usr/bin/python3
"""Reload without dropping flows, keytab rotation, and the drain on SIGTERM.

The gateway runs from a config file this test keeps and edits. Clients keep persisted
Kerberos connections open across two reloads (authgate-ctl reload, then SIGHUP) and a keytab
rotation while a load of requests runs: every request is answered 200, the old connections
keep their identity, the new site rules apply to new requests, max_concurrent_api changes
live. A file that fails the check is refused and the old config keeps serving. SIGTERM lets a
download in flight finish byte-exact, refuses new connections, and the gateway exits.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

WWW = "/var/lib/authgate-lab/www"
NEW_SITE = f"""
[site /team]
root = {WWW}
auth = negotiate
require_user = user2@AUTHGATE.TEST
"""


def client(code):
    """Runs python code in the lab namespace with auth_client imported as ac; returns stdout."""
    here = os.path.dirname(os.path.abspath(__file__))
    prog = f"import sys, json, time, threading\nsys.path.insert(0, {here!r})\nimport auth_client as ac\n" + code
    p = t.in_ns("bash", "-c", f'eval "$({t.TOP}/scripts/realm env)"; exec /usr/bin/python3 -c "$0"', prog,
                check=False)
    if p.returncode != 0:
        raise AssertionError(f"client failed: {p.stderr[-500:]}")
    return p.stdout


def ctl_json(*args):
    return json.loads(t.ctl(*args, "--json").stdout)


def gateway_pid():
    return int(open(f"/run/{t.NS}/authgate.pid").read())


def main():
    t.require_root()
    check = t.Check()
    fd, path = tempfile.mkstemp(prefix="ag-e2e-reload-", suffix=".ini")
    os.close(fd)
    # the drain at the end must outlast a slow 64 MiB download: more than the lab's 3 s
    base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    assert "shutdown_grace_s = 3" in base
    base = base.replace("shutdown_grace_s = 3", "shutdown_grace_s = 20")
    try:
        with open(path, "w") as f:
            f.write(t.with_lcores(base))
        t.lab("down", check=False)
        t.lab("up", path)

        # load: 8 persisted connections, each a request every 50 ms, for as long as the test
        # edits and reloads; they report every status they saw and who they were
        load = """
stop = time.time() + float(sys.argv[1]) if len(sys.argv) > 1 else time.time() + 14
res = {"statuses": [], "users": []}
def run(i):
    user = f"user{10 + i}"
    c = ac.Conn()
    r = c.request("/secure/hello.txt", ac.token(user)[0])
    res["statuses"].append(r[0])
    while time.time() < stop:
        r = c.request("/secure/1k.bin")
        res["statuses"].append(r[0])
        time.sleep(0.05)
    res["users"].append(user)
    c.close()
th = [threading.Thread(target=run, args=(i,)) for i in range(8)]
[x.start() for x in th]
[x.join() for x in th]
print(json.dumps(res))
"""
        out = {}
        loader = threading.Thread(target=lambda: out.setdefault("load", client(load)))
        loader.start()
        time.sleep(2)

        # reload 1 (authgate-ctl): a new site with its own rule, max_concurrent_api 10 -> 3
        with open(path, "w") as f:
            f.write(t.with_lcores(base.replace("max_concurrent_api = 10", "max_concurrent_api = 3") + NEW_SITE))
        r = ctl_json("reload")
        check(r.get("result") == "ok" and r.get("changes_needing_restart") == 0,
              f"authgate-ctl reload: {r}")
        tr = next(v for v in ctl_json("trusts").values() if isinstance(v, dict) and v["realm"] == "AUTHGATE.TEST")
        check(tr["max_concurrent_api"] == 3, f"max_concurrent_api applied live: {tr['max_concurrent_api']}")
        st = json.loads(client("""
a = ac.Conn().request("/team/hello.txt", ac.token("user2")[0])[0]
b = ac.Conn().request("/team/hello.txt", ac.token("user3")[0])[0]
print(json.dumps([a, b]))
"""))
        check(st == [200, 403], f"the new site's rule, for new requests: user2 {st[0]}, user3 {st[1]}")

        # a file that fails the check: refused, the running config stays
        with open(path, "w") as f:
            f.write(t.with_lcores(base + NEW_SITE + "\n[site /broken]\nroot = relative\n"))
        r = ctl_json("reload")
        check(r.get("result") == "refused" and "relative" in r.get("summary", ""),
              f"a bad file is refused with its error: {r.get('summary', r)}")
        st = json.loads(client('print(json.dumps(ac.Conn().request("/team/hello.txt", ac.token("user2")[0])[0]))'))
        check(st == 200, f"and the running config still serves /team: {st}")

        # keytab rotation: a new key (kvno + 1) appended; tickets of both kvnos validate
        old_tok = "old = ac.token('user4')[0]\n"
        rot = subprocess.run(["bash", "-c", f'eval "$({t.TOP}/scripts/realm env)"; '
                              'kadmin.local -r AUTHGATE.TEST -q "ktadd -k $AUTHGATE_REALM_DIR/http.keytab '
                              'HTTP/gw.authgate.test"'], capture_output=True, text=True)
        check(rot.returncode == 0 and "kvno 3" in rot.stdout + rot.stderr,
              f"kadmin ktadd: a new key, kvno 3, beside kvno 2 in the keytab")
        st = json.loads(client(old_tok + """
new = ac.token('user5')[0]
print(json.dumps([ac.Conn().request("/secure/hello.txt", old)[0], ac.Conn().request("/secure/hello.txt", new)[0]]))
"""))
        check(st == [200, 200], f"after the rotation: a ticket for kvno 2 (asked before) {st[0]}, for kvno 3 {st[1]}")

        # reload 2 (SIGHUP): the site goes away again
        with open(path, "w") as f:
            f.write(t.with_lcores(base))
        os.kill(gateway_pid(), signal.SIGHUP)
        t.wait_until(lambda: ctl_json("reload").get("reloads", 0) >= 3, 10, "the SIGHUP reload")
        st = json.loads(client('print(json.dumps(ac.Conn().request("/team/hello.txt", ac.token("user2")[0])[0]))'))
        check(st == 404, f"SIGHUP reload: /team is gone: {st}")

        loader.join()
        res = json.loads(out["load"].strip().splitlines()[-1])
        bad = [s for s in res["statuses"] if s != 200]
        check(not bad and len(res["statuses"]) > 100 and len(res["users"]) == 8,
              f"load across two reloads and a keytab rotation: {len(res['statuses'])} requests, "
              f"{len(bad)} not 200, 8 persisted connections kept their identity")
        auth = ctl_json("auth")
        check(auth["validations"] >= 8 and auth["persisted_hits"] >= 100,
              f"the load rode persisted flows: {auth['persisted_hits']} persisted hits")

        # SIGTERM: a download in flight finishes, new connections are refused, the gateway exits
        dl = """
import socket, hashlib
s = socket.create_connection(("198.18.0.2", 80))
s.sendall(b"GET /pkg/64m.bin HTTP/1.1\\r\\nHost: gw\\r\\n\\r\\n")
buf = b""
while b"\\r\\n\\r\\n" not in buf:
    buf += s.recv(65536)
head, body = buf.split(b"\\r\\n\\r\\n", 1)
n = len(body)
h = hashlib.sha256(body)
print("started", flush=True)
while True:
    time.sleep(0.002)
    b = s.recv(65536)
    if not b:
        break
    n += len(b)
    h.update(b)
print(json.dumps([n, h.hexdigest()]))
"""
        here = os.path.dirname(os.path.abspath(__file__))
        prog = f"import sys, json, time\nsys.path.insert(0, {here!r})\n" + dl
        p = subprocess.Popen(["ip", "netns", "exec", t.NS, "/usr/bin/python3", "-c", prog],
                             stdout=subprocess.PIPE, text=True)
        check(p.stdout.readline().strip() == "started", "a 64 MiB download started")
        pid = gateway_pid()
        os.kill(pid, signal.SIGTERM)
        time.sleep(0.5)
        refused = t.in_ns("curl", "-s", "-o", "/dev/null", "--max-time", "2", "-w", "%{http_code}",
                          "http://198.18.0.2/pkg/hello.txt", check=False)
        check(refused.stdout.strip() == "000", f"while draining, a new connection is refused ({refused.stdout.strip()})")
        got = json.loads(p.stdout.read().strip().splitlines()[-1])
        p.wait()
        want = subprocess.run(["sha256sum", f"{WWW}/64m.bin"], capture_output=True, text=True).stdout.split()[0]
        check(got[0] == 64 << 20 and got[1] == want,
              f"the download in flight finished byte-exact after SIGTERM: {got[0]} bytes")
        t.wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the gateway to exit")
        check(not os.path.exists(f"/proc/{pid}"), "then the gateway exited by itself")
    finally:
        t.lab("down", check=False)
        os.unlink(path)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
