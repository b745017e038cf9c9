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


WWW = "/var/lib/authgate-lab/www"
SPN = "HTTP/gw.authgate.test"


def ad_config(keytab):
    """Kerberos from the AD KDC (tickets with a PAC) beside NTLM, and sites ruled by AD groups."""
    return f"""
[trust SAMDOM.TEST]
kind = kerberos
keytab = {keytab}
ignore_case = yes

[site /ad-users]
root = {WWW}
auth = negotiate ntlm
require_group = SAMDOM\\Domain Users

[site /ad-admins]
root = {WWW}
auth = negotiate ntlm
require_group = SAMDOM\\Domain Admins
"""


def ad_tokens(env, user, password, n):
    """n SPNEGO tokens for HTTP/gw.authgate.test from the Samba KDC, made in the member's
    namespace (the lab's cannot reach the DC): base64 strings."""
    conf = os.path.join(env["SAMBA_DC_DIR"], "client-krb5.conf")
    with open(conf, "w") as f:
        f.write("[libdefaults]\n default_realm = SAMDOM.TEST\n dns_lookup_kdc = false\n"
                " dns_lookup_realm = false\n rdns = false\n udp_preference_limit = 1\n"
                "[realms]\n SAMDOM.TEST = {\n  kdc = 198.18.3.2\n }\n"
                "[domain_realm]\n .authgate.test = SAMDOM.TEST\n gw.authgate.test = SAMDOM.TEST\n")
    code = f"""
import base64, gssapi
krb5 = gssapi.raw.OID.from_int_seq("1.2.840.113554.1.2.2")
cred = gssapi.raw.acquire_cred_with_password(gssapi.Name({user!r}, gssapi.NameType.kerberos_principal),
                                             {password!r}.encode(), mechs=[krb5]).creds
spn = gssapi.Name("HTTP@gw.authgate.test", gssapi.NameType.hostbased_service)
for i in range({n}):
    ctx = gssapi.SecurityContext(name=spn, creds=cred, usage="initiate", mech=krb5)
    print(base64.b64encode(ctx.step()).decode())
"""
    p = subprocess.run(["ip", "netns", "exec", f"{t.NS}-smb", "env", f"KRB5_CONFIG={conf}",
                        "KRB5CCNAME=MEMORY:ad", "/usr/bin/python3", "-c", code],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"tokens for {user}: {p.stderr.strip()[-300:]}")
    return p.stdout.split()


def get_with(path, token):
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import auth_client as ac
c = ac.Conn()
print(c.request({path!r}, authz=b"Negotiate " + {token!r}.encode())[0])
"""
    p = t.in_ns("/usr/bin/python3", "-c", code, check=False)
    return int(p.stdout.strip() or 0)


def ad_groups(env, check):
    """require_group against the AD domain: PAC groups for Kerberos, winbind's for NTLM."""
    a0 = tel("auth")
    user = ad_tokens(env, "ntuser1@SAMDOM.TEST", "Passw0rd-ntuser1", 2)
    admin = ad_tokens(env, "Administrator@SAMDOM.TEST", "Adm1n-Passw0rd!", 2)
    st = [get_with("/ad-users/hello.txt", user[0]), get_with("/ad-admins/hello.txt", user[1]),
          get_with("/ad-users/hello.txt", admin[0]), get_with("/ad-admins/hello.txt", admin[1])]
    a1 = tel("auth")
    pac = a1["groups_from_pac"] - a0["groups_from_pac"]
    wb = a1["groups_from_winbind"] - a0["groups_from_winbind"]
    check(st == [200, 403, 200, 200] and pac == 4 and wb == 0,
          f"Kerberos from the AD KDC, groups from the PAC: ntuser1 on Domain Users / Domain Admins "
          f"{st[:2]}, Administrator {st[2:]} (forbidden_group +{a1['forbidden_group'] - a0['forbidden_group']}, "
          f"groups_from_pac +{pac}, groups_from_winbind +{wb})")
    st1, _ = curl("--ntlm", "-u", "SAMDOM\\ntuser2:Passw0rd-ntuser2", "http://gw.authgate.test/ad-users/hello.txt",
                  "-o", "/dev/null")
    st2, _ = curl("--ntlm", "-u", "SAMDOM\\ntuser2:Passw0rd-ntuser2", "http://gw.authgate.test/ad-admins/hello.txt",
                  "-o", "/dev/null")
    st3, _ = curl("--ntlm", "-u", "SAMDOM\\Administrator:Adm1n-Passw0rd!",
                  "http://gw.authgate.test/ad-admins/hello.txt", "-o", "/dev/null")
    check(st1 == [401, 200] and st2 == [401, 403] and st3 == [401, 200],
          f"NTLM through winbind, groups from winbind: ntuser2 Domain Users {st1}, Domain Admins {st2}; "
          f"Administrator Domain Admins {st3}")


def dc_outage(env, check):
    """The DC stops: winbind cannot validate, and the gateway says 503 + Retry-After, not 401."""
    good = ("--ntlm", "-u", "SAMDOM\\ntuser1:Passw0rd-ntuser1", URL + "hello.txt", "-o", "/dev/null")
    p = subprocess.run([SAMBA_DC, "stop-dc"], env=env, capture_output=True, text=True)
    check(p.returncode == 0, f"the DC's samba stopped by its pid file: {p.stdout.strip()}{p.stderr.strip()}")
    a0 = tel("auth")
    t0 = time.time()
    st, err = curl(*good)
    a1 = tel("auth")
    ra = re.search(r"^< Retry-After: (\d+)", err, re.M)
    dcu = a1["verdicts"]["dc_unavailable"] - a0["verdicts"]["dc_unavailable"]
    busy = a1["auth_busy"] - a0["auth_busy"]
    check(st == [401, 503] and ra is not None and dcu == 1 and busy == 1 and
          a1["verdicts"]["bad_password"] == a0["verdicts"]["bad_password"],
          f"DC down: curl --ntlm with the right password gets {st} in {time.time() - t0:.2f} s, "
          f"Retry-After {ra.group(1) if ra else None}, dc_unavailable +{dcu}, auth_busy +{busy}, no bad_password")

    # the file-backed domain never asks winbind: its refusals stay 401 and ping nothing
    a0 = tel("auth")
    st, _ = curl("--ntlm", "-u", "AUTHGATE\\user1:wrong", URL + "hello.txt", "-o", "/dev/null")
    a1 = tel("auth")
    check(st and st[-1] == 401 and a1["ntlm_dc_pings"] == a0["ntlm_dc_pings"],
          f"DC down, AUTHGATE (user file) wrong password: {st}, no DC ping")
    st, _ = curl("--ntlm", "-u", "AUTHGATE\\user1:Passw0rd-user1", URL + "hello.txt", "-o", "/dev/null")
    check(st == [401, 200], f"DC down, AUTHGATE\\user1 still logs in: {st}")

    p = subprocess.run([SAMBA_DC, "start-dc"], env=env, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"the DC started again: {p.stdout.strip()}{p.stderr.strip()}")
    # winbindd went offline; it retries the DC after its reconnect delay (5 s in scripts/samba-dc)
    t0, seen = time.time(), []
    while time.time() - t0 < 40:
        st, _ = curl(*good)
        seen.append(st[-1] if st else 0)
        if seen[-1] == 200:
            break
        time.sleep(0.5)
    check(seen and seen[-1] == 200 and set(seen[:-1]) <= {503},
          f"DC back: 200 after {time.time() - t0:.1f} s ({len(seen) - 1} x 503 while winbind was offline, no 401)")
    a0 = tel("auth")
    st, _ = curl("--ntlm", "-u", "SAMDOM\\ntuser1:wrong", URL + "hello.txt", "-o", "/dev/null")
    a1 = tel("auth")
    bad = a1["verdicts"]["bad_password"] - a0["verdicts"]["bad_password"]
    dcu = a1["verdicts"]["dc_unavailable"] - a0["verdicts"]["dc_unavailable"]
    check(st and st[-1] == 401 and bad == 1 and dcu == 0,
          f"DC back: a wrong password is 401 again: {st}, bad_password +{bad}, dc_unavailable +{dcu}")


def main():
    t.require_root()
    for b in ("samba", "samba-tool", "winbindd", "wbinfo", "net"):
        if shutil.which(b) is None:
            t.skip(f"{b} is not installed (scripts/install-deps installs samba, samba-ad-dc, winbind)")
    if not os.path.isdir("/usr/share/samba/setup/ad-schema"):
        t.skip("no AD schema to provision a DC with (package samba-ad-provision)")
    env = dict(os.environ, AUTHGATE_LAB=t.NS)
    env["SAMBA_DC_DIR"] = f"/run/{t.NS}-samba"
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
        # winbind answers logons before it resolves group names: the gateway retries names it
        # could not resolve each second, and this waits for winbind so that the first checks
        # do not race it
        t0 = time.time()
        while time.time() - t0 < 30 and subprocess.run(["wbinfo", "-n", "SAMDOM\\Domain Users"],
                                                      capture_output=True).returncode != 0:
            time.sleep(0.5)
        keytab = os.path.join(env["SAMBA_DC_DIR"], "http-samdom.keytab")
        p = subprocess.run([SAMBA_DC, "http-keytab", keytab, SPN], env=env, capture_output=True, text=True)
        check(p.returncode == 0, f"the AD's HTTP service account and keytab: {p.stdout.strip()}{p.stderr.strip()}")
        t.lab_up_config(base + CONFIG_EXTRA + ad_config(keytab))

        a0, s0 = tel("auth"), trust("SAMDOM")
        st, err = curl("--ntlm", "-u", "SAMDOM\\ntuser1:Passw0rd-ntuser1", URL + "hello.txt", URL + "1k.bin",
                       "-o", "/dev/null", "-o", "/dev/null")
        a1, s1 = tel("auth"), trust("SAMDOM")
        check(st == [401, 200, 200] and len(re.findall(r"^\* Connected to", err, re.M)) == 1,
              f"curl --ntlm SAMDOM\\ntuser1, validated by the DC: {st} on one connection")
        check(s1["semaphore_acquires"] - s0["semaphore_acquires"] == 1 and a1["persisted_hits"] - a0["persisted_hits"] == 1,
              f"the Type 3 held a SAMDOM semaphore slot (acquires +{s1['semaphore_acquires'] - s0['semaphore_acquires']}), "
              "the second URL rode the persisted flow")

        check(a1["ntlm_dc_pings"] == a0["ntlm_dc_pings"], "a valid logon does not ping the DC")
        check(a1["ntlm_type1_padded"] > a0["ntlm_type1_padded"] and
              a1["ntlm_type3_version_cleared"] > a0["ntlm_type3_version_cleared"],
              "curl's Type 1 and Type 3 were normalised (ntlm_type1_padded, ntlm_type3_version_cleared)")

        a0 = tel("auth")
        st, _ = curl("--ntlm", "-u", "SAMDOM\\ntuser1:wrong", URL + "hello.txt", "-o", "/dev/null")
        a1 = tel("auth")
        bad = a1["verdicts"]["bad_password"] - a0["verdicts"]["bad_password"]
        pings = a1["ntlm_dc_pings"] - a0["ntlm_dc_pings"]
        check(st and st[-1] == 401 and 200 not in st and bad == 1 and pings == 1,
              f"a wrong password is refused by the DC: {st}, bad_password +{bad}; the DC answered "
              f"winbind's ping (+{pings})")

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

        ad_groups(env, check)
        dc_outage(env, check)
    finally:
        t.lab("down", check=False)
        subprocess.run([SAMBA_DC, "down"], env=env, capture_output=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
