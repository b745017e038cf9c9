#!/usr/bin/python3
"""A client that asks for a large file and stops reading: the response, its file and its buffers
are not held for ever. With send_timeout_s = 2 the gateway resets the connection once no byte was
acked for 2 s (counted in send_timeouts), while a reader that keeps reading, however slowly, is
never cut off."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

CLIENT = r"""
import json, socket, sys, time
mode = sys.argv[1]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("198.18.0.2", 80))
s.sendall(b"GET /pkg/4m.bin HTTP/1.1\r\nHost: gw\r\n\r\n")
got, reset = 0, False
if mode == "stall":
    time.sleep(6)  # the attacker: never reads while the window is shut
s.settimeout(20)
try:
    while True:
        b = s.recv(1024 if mode == "slow" and got < 400000 else 65536)
        if not b:
            break
        got += len(b)
        if mode == "slow" and got < 400000:
            time.sleep(0.01)  # slow but steady: about 100 KB/s at first
except (ConnectionResetError, socket.timeout) as e:
    reset = True
print(json.dumps({"got": got, "reset": reset}))
"""


def run_client(mode):
    import json
    p = t.in_ns("/usr/bin/python3", "-c", CLIENT, mode, check=False)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    t.require_root()
    check = t.Check()
    base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
    assert "port = 80\n" in base
    # AUTHGATE_SEND_TIMEOUT=0 shows the attack working without the timeout (the check fails)
    conf = base.replace("port = 80\n", "port = 80\nsend_timeout_s = %s\n"
                        % os.environ.get("AUTHGATE_SEND_TIMEOUT", "2"), 1)
    try:
        t.lab_up_config(conf)
        h0 = t.telemetry("/authgate/http/stats")
        stall = run_client("stall")
        h1 = t.telemetry("/authgate/http/stats")
        full = (4 << 20) + 1024  # the body and a head
        check(stall["got"] < 4 << 20 and h1["send_timeouts"] - h0["send_timeouts"] == 1,
              f"a client that stops reading for 6 s: {stall['got']} bytes then the end "
              f"(reset {stall['reset']}), send_timeouts +{h1['send_timeouts'] - h0['send_timeouts']}")
        slow = run_client("slow")
        h2 = t.telemetry("/authgate/http/stats")
        check(slow["got"] > 4 << 20 and slow["got"] <= full and
              h2["send_timeouts"] == h1["send_timeouts"],
              f"a slow but steady reader gets all of it: {slow['got']} bytes, no send timeout")
    finally:
        t.lab("down", check=False)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
