#!/usr/bin/python3
"""NTLM pass-through to a real domain controller: a Samba AD DC (scripts/samba-dc), the gateway's
host joined to it with winbindd, gss-ntlmssp validating through winbind; curl and python-gssapi
clients. The lab's file-backed AUTHGATE trust runs beside it on the same gateway."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agtest as t  # noqa: E402

SAMBA_DC = os.path.join(t.TOP, "scripts", "samba-dc")
URL = "http://gw.authgate.test/ntlm/"
CONFIG_EXTRA = """
# a real domain: no user_file, so gss-ntlmssp validates through winbind (the member of SAMDOM)
[trust SAMDOM]
kind = ntlm
netbios_name = SAMDOM
max_concurrent_api = 2
timeout_s = 10
"""


def tel(cmd):
    return json.loads(t.ctl(cmd, "--json").stdout)


def trust(realm):
    for v in tel("trusts").values():
        if isinstance(v, dict) and v.get("realm") == realm:
            return v
    raise AssertionError(f"no trust {realm}")


def curl(*args):
    p = t.in_ns("curl", "-sv", "--max-time", "20", *args, check=False)
    return [int(x) for x in re.findall(r"^< HTTP/1.1 (\d+)", p.stderr, re.M)], p.stderr


def curl_env(extra, *args):
    p = t.in_ns("env", *[f"{k}={v}" for k, v in extra.items()], "curl", "-sv", "--max-time", "20", *args, check=False)
    return [int(x) for x in re.findall(r"^< HTTP/1.1 (\d+)", p.stderr, re.M)], p.stderr


def gss_ntlm(user, password, wrap="NTLM"):
    """A raw (or SPNEGO) NTLM exchange from python-gssapi (Unicode, Version, MIC) in the lab."""
    code = f"""
import base64, sys
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import auth_client as ac, gssapi
ntlm = gssapi.raw.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")
cred = gssapi.raw.acquire_cred_with_password(gssapi.Name({user!r}, gssapi.NameType.user), {password!r}.encode(),
                                             mechs=[ntlm]).creds
ctx = gssapi.SecurityContext(name=ac.SPN, creds=cred, usage="initiate", mech=ntlm if {wrap!r} == "NTLM" else ac.SPNEGO)
c = ac.Conn()
r = c.request("/ntlm/hello.txt", authz={wrap!r}.encode() + b" " + base64.b64encode(ctx.step()))
www = ac.hdr(r, "WWW-Authenticate")
r2 = c.request("/ntlm/hello.txt", authz={wrap!r}.encode() + b" " + base64.b64encode(ctx.step(base64.b64decode(www.split()[1]))))
r3 = c.request("/ntlm/1k.bin") if r2[0] == 200 else (0,)
print(r[0], r2[0], r3[0])
"""
    p = t.in_ns("/usr/bin/python3", "-c", code, check=False)
    return [int(x) for x in p.stdout.split()] if p.returncode == 0 else p.stderr


def main():
    t.require_root()
    for b in ("samba", "samba-tool", "winbindd", "wbinfo", "net"):
        if shutil.which(b) is None:
            t.skip(f"{b} is not installed (scripts/install-deps installs samba, samba-ad-dc, winbind)")
    if not os.path.isdir("/usr/share/samba/setup/ad-schema"):
        t.skip("no AD schema to provision a DC with (package samba-ad-provision)")
    env = dict(os.environ, AUTHGATE_LAB=t.NS)
    subprocess.run([SAMBA_DC, "down"], env=env, capture_output=True)  # what a crashed run of ours left
    if subprocess.run(["wbinfo", "-p"], capture_output=True).returncode == 0:
        t.skip("another winbindd answers on /run/samba/winbindd: this test needs that socket")
    check = t.Check()
    try:
        t0 = time.time()
        p = subprocess.run([SAMBA_DC, "up"], env=env, capture_output=True, text=True, timeout=300)
        print(p.stdout, end="")
        print(p.stderr, end="", file=sys.stderr)
        check(p.returncode == 0, f"Samba AD DC provisioned, member joined, winbindd up in {time.time() - t0:.1f} s")
        if p.returncode != 0:
            return check.done()
        w = subprocess.run(["wbinfo", "-a", "SAMDOM\\ntuser1%Passw0rd-ntuser1"], capture_output=True, text=True)
        check(w.returncode == 0 and "challenge/response password authentication succeeded" in w.stdout,
              "winbind authenticates a domain user against the DC (wbinfo -a)")

        # the lab's domain from a user file named in the config (not NTLM_USER_FILE): the workers'
        # file-backed acceptor then knows no SAMDOM user, and SAMDOM's Type 3s must take the other
        base = open(os.path.join(t.TOP, "configs", "lab.ini")).read()
        lab_trust = "[trust AUTHGATE]\nkind = ntlm\n"
        assert lab_trust in base
        base = base.replace(lab_trust, lab_trust + f"user_file = {t.REALM_DIR}/ntlm_users\n")
        t.lab_up_config(base + CONFIG_EXTRA)

        a0, s0 = tel("auth"), trust("SAMDOM")
        st, err = curl("--ntlm", "-u", "SAMDOM\\ntuser1:Passw0rd-ntuser1", URL + "hello.txt", URL + "1k.bin",
                       "-o", "/dev/null", "-o", "/dev/null")
        a1, s1 = tel("auth"), trust("SAMDOM")
        check(st == [401, 200, 200] and len(re.findall(r"^\* Connected to", err, re.M)) == 1,
              f"curl --ntlm SAMDOM\\ntuser1, validated by the DC: {st} on one connection")
        check(s1["semaphore_acquires"] - s0["semaphore_acquires"] == 1 and a1["persisted_hits"] - a0["persisted_hits"] == 1,
              f"the Type 3 held a SAMDOM semaphore slot (acquires +{s1['semaphore_acquires'] - s0['semaphore_acquires']}), "
              "the second URL rode the persisted flow")

        a0 = tel("auth")
        st, _ = curl("--ntlm", "-u", "SAMDOM\\ntuser1:wrong", URL + "hello.txt", "-o", "/dev/null")
        a1 = tel("auth")
        bad = a1["verdicts"]["bad_password"] - a0["verdicts"]["bad_password"]
        check(st and st[-1] == 401 and 200 not in st and bad == 1,
              f"a wrong password is refused by the DC: {st}, bad_password +{bad}")

        r = gss_ntlm("SAMDOM\\ntuser2", "Passw0rd-ntuser2")
        check(r == [401, 200, 200], f"python-gssapi raw NTLM (Unicode, MIC) through winbind: {r}")
        # curl --negotiate without a ticket: SPNEGO offers NTLMSSP, its user from NTLM_USER_FILE
        users = f"/tmp/ag-e2e-winbind-{os.getpid()}"
        with open(users, "w") as f:
            f.write("SAMDOM:ntuser3:Passw0rd-ntuser3\n")
        try:
            st, _ = curl_env({"NTLM_USER_FILE": users, "KRB5CCNAME": "FILE:/tmp/ag-e2e-no-such-cc"},
                             "--negotiate", "-u", ":", URL + "hello.txt", URL + "1k.bin", "-o", "/dev/null", "-o", "/dev/null")
        finally:
            os.unlink(users)
        check(st == [401, 200, 200], f"curl --negotiate, NTLMSSP in SPNEGO, through winbind: {st}")
        r = gss_ntlm("SAMDOM\\nosuchuser", "Passw0rd-x")
        check(isinstance(r, list) and r[:2] == [401, 401], f"an unknown domain user: {r}")

        # the lab's file-backed domain keeps working beside the real one
        st, _ = curl("--ntlm", "-u", "AUTHGATE\\user1:Passw0rd-user1", URL + "hello.txt", "-o", "/dev/null")
        check(st == [401, 200], f"AUTHGATE\\user1 (the lab's user_file) on the same gateway: {st}")
        a = tel("auth")
        check(a["ntlm_contexts_live"] == 0, f"no NTLM context left behind (live {a['ntlm_contexts_live']})")
    finally:
        t.lab("down", check=False)
        subprocess.run([SAMBA_DC, "down"], env=env, capture_output=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
