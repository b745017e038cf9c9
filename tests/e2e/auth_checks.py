#!/usr/bin/python3
"""Runs inside the lab namespace with the realm's env: what Kerberos clients see. Argument: the phase."""
import base64
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_client as ac  # noqa: E402
import gssapi  # noqa: E402

CTL = [os.path.join(os.environ["AUTHGATE_BUILD"], "app", "authgate-ctl"), "-p",
       os.environ.get("AUTHGATE_LAB", "authgate-lab")]
URL = "http://gw.authgate.test/secure/hello.txt"
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    passed += ok
    failed += not ok


def tel(cmd):
    return json.loads(subprocess.run(CTL + [cmd, "--json"], capture_output=True, text=True, check=True).stdout)


def curl_three(extra):
    env = dict(os.environ, KRB5CCNAME="FILE:/tmp/ag-e2e-cc-user1")
    subprocess.run(["kinit", "-kt", os.path.join(ac.KEYTABS, "user1.keytab"), "user1"], env=env, check=True)
    p = subprocess.run(["curl", "-sv", *extra, "-u", ":", URL, URL, URL, "-o", "/dev/null", "-o", "/dev/null",
                        "-o", "/dev/null"], env=env, capture_output=True, text=True)
    os.unlink("/tmp/ag-e2e-cc-user1")
    statuses = [int(x) for x in re.findall(r"^< HTTP/1.1 (\d+)", p.stderr, re.M)]
    persistent = re.findall(r"^< Persistent-Auth: (\w+)", p.stderr, re.M)
    connections = len(re.findall(r"^\* Connected to", p.stderr, re.M))
    return statuses, persistent, connections


def phase_persist():
    a0 = tel("auth")
    statuses, persistent, conns = curl_three(["--negotiate"])
    a1 = tel("auth")
    check(statuses.count(200) == 3 and statuses.count(401) <= 1 and conns == 1,
          f"curl --negotiate, three URLs on one connection: {statuses}")
    check(a1["validations"] - a0["validations"] == 1, f"persistence: {a1['validations'] - a0['validations']} validation for three 200s")
    check(a1["persisted_hits"] - a0["persisted_hits"] == 2, "two requests served on the persisted authentication")
    check("true" in persistent, f"Persistent-Auth: {persistent}")

    # --anyauth probes first: the unauthenticated request gets the challenge
    a0 = tel("auth")
    statuses, _, conns = curl_three(["--anyauth", "--negotiate"])
    a1 = tel("auth")
    check(statuses == [401, 200, 200, 200] and a1["challenges"] - a0["challenges"] == 1
          and a1["validations"] - a0["validations"] == 1,
          f"curl --anyauth: one 401, one validation, three 200s: {statuses}")

    # mutual authentication: the reply token completes the client's context
    tok, ctx = ac.token("user2")
    c = ac.Conn()
    r = c.request("/secure/hello.txt", tok)
    www = ac.hdr(r, "WWW-Authenticate")
    ok = r[0] == 200 and www and www.startswith("Negotiate ")
    if ok:
        ctx.step(base64.b64decode(www.split()[1]))
        ok = ctx.complete
    check(bool(ok), "200 with a mutual-auth token that completes the client's context")
    r = c.request("/secure/1k.bin")
    check(r[0] == 200 and len(r[2]) == 1024, "the next request on the connection needs no token")

    # replay: the same token on another connection
    c2 = ac.Conn()
    a0 = tel("auth")
    r = c2.request("/secure/hello.txt", tok)
    a1 = tel("auth")
    check(r[0] == 401 and a1["verdicts"]["replay"] - a0["verdicts"]["replay"] == 1, f"replayed token: {r[0]}, counted as replay")
    c2.close()

    # a different Authorization header on the authenticated flow authenticates afresh
    a0 = tel("auth")
    r = c.request("/secure/hello.txt", ac.token("user3")[0])
    a1 = tel("auth")
    check(r[0] == 200 and a1["identity_changes"] - a0["identity_changes"] == 1 and a1["validations"] - a0["validations"] == 1,
          "other credentials on an authenticated flow: validated afresh")

    # revocation denies: the persisted session on its next request, and fresh tickets too
    subprocess.run(CTL + ["revoke", "user3@AUTHGATE.TEST"], check=True, capture_output=True)
    r = c.request("/secure/hello.txt")
    check(r[0] == 403 and ac.hdr(r, "WWW-Authenticate") is None,
          f"after authgate-ctl revoke: {r[0]}, no challenge (a prompt would not help)")
    r = c.request("/secure/hello.txt", ac.token("user3")[0])
    check(r[0] == 403, f"a fresh, valid ticket of the revoked principal: {r[0]}")
    listed = {v["principal"]: v["seconds_left"] for v in tel("revocations").values() if isinstance(v, dict)}
    check(0 < listed.get("user3@AUTHGATE.TEST", 0) <= 3600,
          f"authgate-ctl revocations lists it with its time left: {listed}")
    subprocess.run(CTL + ["unrevoke", "user3@AUTHGATE.TEST"], check=True, capture_output=True)
    r = c.request("/secure/hello.txt", ac.token("user3")[0])
    check(r[0] == 200 and "user3@AUTHGATE.TEST" not in str(tel("revocations")),
          f"after authgate-ctl unrevoke: {r[0]}")
    c.close()

    # bad tokens: each 401 with its counter, no worker for the unknown realm
    cases = [
        ("garbage", b"Negotiate " + base64.b64encode(os.urandom(300)), "bad_token"),
        ("not base64", b"Negotiate !!!not-base64!!!", None),
        ("truncated", b"Negotiate " + base64.b64encode(ac.token("user4")[0][:200]), "bad_token"),
    ]
    good = ac.token("user5")[0]
    wrong_realm = good.replace(b"AUTHGATE.TEST", b"AUTHGATX.TEST")
    cases.append(("wrong realm", b"Negotiate " + base64.b64encode(wrong_realm), "unknown_trust"))
    for what, authz, reason in cases:
        a0 = tel("auth")
        c = ac.Conn()
        r = c.request("/secure/hello.txt", authz=authz)
        c.close()
        a1 = tel("auth")
        if reason:
            moved = a1["verdicts"][reason] - a0["verdicts"][reason]
        else:
            moved = a1["bad_tokens"] - a0["bad_tokens"]
        check(r[0] == 401 and moved == 1, f"{what} token: {r[0]}, counted under {reason or 'bad_tokens'}")
    check(tel("auth")["verdicts"]["ok"] >= 4, "the worker pool validated the good ones")

    # the same client port after a close starts unauthenticated
    c = ac.Conn(src="198.18.0.20", sport=40123)
    r = c.request("/secure/hello.txt", ac.token("user6")[0])
    check(r[0] == 200, "authenticated from 198.18.0.20:40123")
    c.close(reset=True)
    time.sleep(0.3)
    c = ac.Conn(src="198.18.0.20", sport=40123)
    r = c.request("/secure/hello.txt")
    check(r[0] == 401, f"a new connection from the same address and port starts unauthenticated: {r[0]}")
    c.close(reset=True)

    # failures close the connection after max_auth_failures (5)
    c = ac.Conn()
    codes = []
    for _ in range(5):
        r = c.request("/secure/hello.txt", authz=b"Negotiate " + base64.b64encode(os.urandom(64)))
        codes.append(r[0] if r else None)
        if r and ac.hdr(r, "Connection") == "close":
            break
    after = c.response() if False else None
    check(codes == [401] * 5 and r is not None and ac.hdr(r, "Connection") == "close",
          f"five failed validations on one connection: {codes}, the last closes it")
    c.close()

    # the open site needs nothing
    c = ac.Conn()
    r = c.request("/pkg/hello.txt")
    check(r[0] == 200, "the open site /pkg needs no credentials")
    c.close()


def phase_no_persist():
    a0 = tel("auth")
    statuses, persistent, conns = curl_three(["--negotiate"])
    a1 = tel("auth")
    check(statuses.count(200) == 3 and conns == 1, f"persist_non_ntlm = no: three 200s on one connection: {statuses}")
    check(a1["validations"] - a0["validations"] == 3, f"{a1['validations'] - a0['validations']} validations for three requests")
    check(persistent and all(p == "false" for p in persistent), f"Persistent-Auth: {persistent}")
    c = ac.Conn()
    r = c.request("/secure/hello.txt", ac.token("user7")[0])
    r2 = c.request("/secure/hello.txt")
    check(r[0] == 200 and r2[0] == 401, "without persistence a request without a token is challenged")
    c.close()
    # this phase has [trust OTHER.TEST]: a cross-realm client of it is who it says
    c = ac.Conn()
    r = c.request("/secure/hello.txt", other_token())
    check(r[0] == 200, f"other1@OTHER.TEST by a cross-realm ticket, OTHER.TEST a trust: {r[0]}")
    c.close()


def other_token():
    """A ticket of other1@OTHER.TEST for HTTP/gw.authgate.test, by the cross-realm key."""
    cred = gssapi.Credentials(
        name=gssapi.Name("other1@OTHER.TEST", gssapi.NameType.kerberos_principal), usage="initiate",
        store={"client_keytab": os.path.join(ac.KEYTABS, "other1.keytab"), "ccache": "MEMORY:other1"})
    return gssapi.SecurityContext(name=ac.SPN, creds=cred, usage="initiate", mech=ac.SPNEGO).step()


def phase_session_age():
    c = ac.Conn()
    r = c.request("/secure/hello.txt", ac.token("user8")[0])
    check(r[0] == 200, "authenticated")
    time.sleep(3.5)
    r = c.request("/secure/hello.txt")
    check(r[0] == 401, f"after max_session_age_s = 2 the next request: {r[0]}")
    check(tel("auth")["expired_sessions"] >= 1, "expired sessions counted")
    c.close()


def phase_semaphore():
    # many clients at once against max_concurrent_api = 1: waiters rise, every request answered
    n = 120
    toks = [ac.token(f"user{1 + i % 40}")[0] for i in range(n)]
    peak = {"waiters": 0, "holders": 0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            t = tel("trusts")["t0"]
            peak["waiters"] = max(peak["waiters"], t["semaphore_waiters"])
            peak["holders"] = max(peak["holders"], t["semaphore_holders"])

    results = [None] * n
    gate = threading.Barrier(n + 1)

    def client(i):
        c = ac.Conn(src=f"198.18.0.{10 + i % 32}")
        gate.wait()
        r = c.request("/secure/hello.txt", toks[i])
        results[i] = r[0] if r else None
        c.close()

    s = threading.Thread(target=sample)
    s.start()
    th = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in th:
        t.start()
    gate.wait()
    for t in th:
        t.join()
    stop.set()
    s.join()
    t = tel("trusts")["t0"]
    check(all(r in (200, 503) for r in results) and results.count(200) >= 1,
          f"{n} concurrent clients all answered: {results.count(200)} x 200, {results.count(503)} x 503")
    check(peak["holders"] <= 1, f"holders never above max_concurrent_api = 1 (peak {peak['holders']})")
    check(peak["waiters"] > 0 or t["wait_p99_us"] > 1000, f"waiters rose (peak {peak['waiters']}, wait p99 {t['wait_p99_us']} us)")
    check(t["semaphore_acquires"] + t["semaphore_timeouts"] + t["rejections"] >= n,
          f"acquires {t['semaphore_acquires']} + timeouts {t['semaphore_timeouts']} + rejections {t['rejections']} cover {n}")


def ntlm_creds(user):
    ntlm = gssapi.raw.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")
    name = gssapi.Name(f"AUTHGATE\\{user}", gssapi.NameType.user)
    return ntlm, gssapi.raw.acquire_cred_with_password(name, f"Passw0rd-{user}".encode(), mechs=[ntlm]).creds


def phase_ntlm_basic():
    # Basic: validated against the KDC on every request, never bound to the connection
    b = lambda up: b"Basic " + base64.b64encode(up.encode())
    a0 = tel("auth")
    c = ac.Conn()
    r = c.request("/basic/hello.txt", authz=b("user11:Passw0rd-user11"))
    check(r[0] == 200 and ac.hdr(r, "Persistent-Auth") is None, f"Basic user11: {r[0]}, no Persistent-Auth")
    r = c.request("/basic/hello.txt")
    check(r[0] == 401 and "Basic" in " ".join(r[1].get("www-authenticate", [])), "Basic is not bound to the connection: the next request is challenged")
    r = c.request("/basic/hello.txt", authz=b("AUTHGATE\\user12:Passw0rd-user12"))
    check(r[0] == 200, f"Basic DOMAIN\\user: {r[0]}")
    r = c.request("/basic/hello.txt", authz=b("user13@AUTHGATE.TEST:Passw0rd-user13"))
    check(r[0] == 200, f"Basic user@REALM: {r[0]}")
    r = c.request("/basic/hello.txt", authz=b("user11:wrong"))
    check(r[0] == 401, f"Basic wrong password: {r[0]}")
    c.close()
    a1 = tel("auth")
    check(a1["auth_ok"] - a0["auth_ok"] == 3 and a1["auth_failed"] - a0["auth_failed"] == 1, "Basic: 3 accepted, 1 refused")
    # the credential cache is off unless basic_cache_ttl_s is set: every login went to the KDC
    check(a1.get("basic_cache_hits") == 0 and a1.get("basic_cache_misses") == 0,
          f"Basic cache off by default: hits {a1.get('basic_cache_hits')}, misses {a1.get('basic_cache_misses')}")
    c = ac.Conn()
    r = c.request("/basic/hello.txt", authz=b("user1@NOWHERE.TEST:x"))
    c.close()
    check(r[0] == 401 and tel("auth")["verdicts"]["unknown_trust"] > a1["verdicts"]["unknown_trust"],
          "Basic for an unknown realm: 401 without a worker")

    # NTLM: Type 1 → 401 with the Type 2 → Type 3 → 200, the connection stays authenticated
    for wrap in ("NTLM", "Negotiate"):
        mech, cred = ntlm_creds("user14")
        ctx = gssapi.SecurityContext(name=ac.SPN, creds=cred, usage="initiate",
                                     mech=mech if wrap == "NTLM" else ac.SPNEGO)
        c = ac.Conn()
        r = c.request("/ntlm/hello.txt", authz=wrap.encode() + b" " + base64.b64encode(ctx.step()))
        www = ac.hdr(r, "WWW-Authenticate") or ""
        check(r[0] == 401 and www.startswith(wrap + " ") and len(www.split()) == 2,
              f"{wrap}: Type 1 answered 401 with the challenge on the same connection")
        r = c.request("/ntlm/hello.txt", authz=wrap.encode() + b" " + base64.b64encode(ctx.step(base64.b64decode(www.split()[1]))))
        check(r[0] == 200 and ac.hdr(r, "Persistent-Auth") == "true", f"{wrap}: Type 3 → {r[0]}, Persistent-Auth {ac.hdr(r, 'Persistent-Auth')}")
        r = c.request("/ntlm/1k.bin")
        check(r[0] == 200 and len(r[2]) == 1024, f"{wrap}: the next request needs no new exchange")
        c.close()
    # wrong password
    ntlm = gssapi.raw.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")
    bad = gssapi.raw.acquire_cred_with_password(gssapi.Name("AUTHGATE\\user15", gssapi.NameType.user), b"nope",
                                                mechs=[ntlm]).creds
    ctx = gssapi.SecurityContext(name=ac.SPN, creds=bad, usage="initiate", mech=ntlm)
    c = ac.Conn()
    r = c.request("/ntlm/hello.txt", authz=b"NTLM " + base64.b64encode(ctx.step()))
    www = ac.hdr(r, "WWW-Authenticate")
    r = c.request("/ntlm/hello.txt", authz=b"NTLM " + base64.b64encode(ctx.step(base64.b64decode(www.split()[1]))))
    check(r[0] == 401, f"NTLM wrong password: {r[0]}")
    c.close()
    # a half-open exchange is freed when its connection closes
    n0 = tel("auth")
    mech, cred = ntlm_creds("user16")
    ctx = gssapi.SecurityContext(name=ac.SPN, creds=cred, usage="initiate", mech=mech)
    c = ac.Conn()
    r = c.request("/ntlm/hello.txt", authz=b"NTLM " + base64.b64encode(ctx.step()))
    c.close()
    time.sleep(1.0)
    n1 = tel("auth")
    check(r[0] == 401 and n1["ntlm_contexts_closed"] - n0["ntlm_contexts_closed"] == 1 and n1["ntlm_contexts_live"] == 0,
          f"a half-open NTLM context is freed when its flow closes (live {n1['ntlm_contexts_live']})")

    curl_ntlm_checks()


NTLM_URL = "http://gw.authgate.test/ntlm/"
# curl 7.88's NEGOTIATE_MESSAGE (32 bytes, OEM, no Version), what `curl --ntlm` sends first
CURL_TYPE1 = "TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA="


def curl_run(args, env=None):
    """curl -sv ARGS; returns (statuses, Persistent-Auth values, connections made, stderr)."""
    p = subprocess.run(["curl", "-sv", "--max-time", "20", *args], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    statuses = [int(x) for x in re.findall(r"^< HTTP/1.1 (\d+)", p.stderr, re.M)]
    persistent = re.findall(r"^< Persistent-Auth: (\w+)", p.stderr, re.M)
    connections = len(re.findall(r"^\* Connected to", p.stderr, re.M))
    return statuses, persistent, connections, p.stderr


def delta(a1, a0, key):
    return a1[key] - a0[key]


def curl_ntlm_checks():
    """The real client: curl --ntlm (raw NTLM, OEM strings, no Version, no MIC) and curl --negotiate
    falling back to NTLMSSP inside SPNEGO when it has no Kerberos ticket."""
    out = ["-o", "/dev/null", "-o", "/dev/null"]
    a0 = tel("auth")
    st, pa, conns, _ = curl_run(["--ntlm", "-u", "AUTHGATE\\user17:Passw0rd-user17",
                                 NTLM_URL + "hello.txt", NTLM_URL + "1k.bin", *out])
    a1 = tel("auth")
    check(st == [401, 200, 200] and conns == 1,
          f"curl --ntlm: Type 1 → 401 + Type 2, Type 3 → 200, then 200 on one connection: {st}, {conns} connection(s)")
    check(delta(a1, a0, "validations") == 2 and delta(a1, a0, "persisted_hits") == 1 and "true" in pa,
          f"curl --ntlm: two legs validated, the second URL served on the persisted flow "
          f"(validations +{delta(a1, a0, 'validations')}, persisted hits +{delta(a1, a0, 'persisted_hits')}, "
          f"Persistent-Auth {pa})")
    check(delta(a1, a0, "auth_ok") == 1 and a1["ntlm_contexts_live"] == 0,
          f"curl --ntlm: one success, no context left behind (live {a1['ntlm_contexts_live']})")

    a0 = tel("auth")
    st, _, _, _ = curl_run(["--ntlm", "-u", "AUTHGATE\\user17:wrong", NTLM_URL + "hello.txt", "-o", "/dev/null"])
    a1 = tel("auth")
    bad = a1["verdicts"]["bad_password"] - a0["verdicts"]["bad_password"]
    check(st and st[-1] == 401 and 200 not in st, f"curl --ntlm with a wrong password: {st}")
    check(delta(a1, a0, "auth_failed") == 1 and bad == 1 and delta(a1, a0, "auth_ok") == 0,
          f"the refusal is counted: auth_failed +{delta(a1, a0, 'auth_failed')}, bad_password +{bad}")

    # curl's own Type 1, then curl exits: the Type 2 is never answered and the flow closes
    a0 = tel("auth")
    st, _, _, _ = curl_run(["-H", "Authorization: NTLM " + CURL_TYPE1, NTLM_URL + "hello.txt", "-o", "/dev/null"])

    def freed():
        a = tel("auth")
        return a if delta(a, a0, "ntlm_contexts_closed") >= 1 else None
    a1 = wait_for(freed, 5.0) or tel("auth")
    check(st == [401] and delta(a1, a0, "ntlm_contexts_created") == 1 and
          delta(a1, a0, "ntlm_contexts_closed") == 1 and a1["ntlm_contexts_live"] == 0,
          f"curl's Type 1 left half-finished: its context is freed when the flow closes "
          f"(created +{delta(a1, a0, 'ntlm_contexts_created')}, closed +{delta(a1, a0, 'ntlm_contexts_closed')}, "
          f"live {a1['ntlm_contexts_live']})")

    # curl --negotiate with no ticket: the mechglue's SPNEGO offers NTLMSSP (gss-ntlmssp, its
    # user from NTLM_USER_FILE); the Type 2 names HTTP/gw.authgate.test, so the URL must too
    users = "/tmp/ag-e2e-ntlm-client"
    with open(users, "w") as f:
        f.write("AUTHGATE:user18:Passw0rd-user18\n")
    try:
        a0 = tel("auth")
        st, pa, conns, err = curl_run(["--negotiate", "-u", ":", NTLM_URL + "hello.txt", NTLM_URL + "1k.bin", *out],
                                      env={"NTLM_USER_FILE": users, "KRB5CCNAME": "FILE:/tmp/ag-e2e-no-such-cc"})
        a1 = tel("auth")
    finally:
        os.unlink(users)
    spnego_ntlm = "Negotiate TlRMTVNT" not in err and re.search(r"^> Authorization: Negotiate YE", err, re.M)
    check(st == [401, 200, 200] and conns == 1 and "true" in pa and bool(spnego_ntlm),
          f"curl --negotiate falls back to NTLMSSP in SPNEGO: {st}, {conns} connection(s), Persistent-Auth {pa}")
    check(delta(a1, a0, "validations") == 2 and delta(a1, a0, "ntlm_challenges") == 1 and delta(a1, a0, "auth_ok") == 1,
          f"curl --negotiate/NTLMSSP: one challenge, one success, the second URL persisted "
          f"(validations +{delta(a1, a0, 'validations')})")


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return None


def phase_ntlm_single():
    """persist_single_request = yes: NTLM too is forgotten after every request."""
    a0 = tel("auth")
    st, pa, conns, _ = curl_run(["--ntlm", "-u", "AUTHGATE\\user19:Passw0rd-user19",
                                 NTLM_URL + "hello.txt", NTLM_URL + "1k.bin", "-o", "/dev/null", "-o", "/dev/null"])
    a1 = tel("auth")
    check(st.count(200) == 2 and st[-1] == 200 and delta(a1, a0, "auth_ok") == 2 and conns == 1,
          f"persist_single_request: curl --ntlm authenticates each URL afresh on one connection: {st}, "
          f"{delta(a1, a0, 'auth_ok')} successes, Persistent-Auth {pa}")
    check(delta(a1, a0, "persisted_hits") == 0 and pa and all(v == "false" for v in pa),
          f"persist_single_request: nothing served on a persisted flow, Persistent-Auth {pa}")


def phase_basic_cache():
    """[auth] basic_cache_ttl_s = 60, through the gateway with curl: a repeat login skips the KDC;
    after a password change the new password evicts the old one, which is then refused."""
    url = "http://198.18.0.2/basic/hello.txt"

    def basic(cred):
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                            "-u", cred, url], capture_output=True, text=True)
        return int(p.stdout or 0)

    def sem():
        return sum(tr.get("semaphore_acquires", 0) for tr in tel("trusts").values() if isinstance(tr, dict))

    a0, s0 = tel("auth"), sem()
    st = [basic("user20:Passw0rd-user20"), basic("user20:Passw0rd-user20"), basic("AUTHGATE\\user20:Passw0rd-user20")]
    a1, s1 = tel("auth"), sem()
    check(st == [200, 200, 200] and delta(a1, a0, "basic_cache_misses") == 1 and delta(a1, a0, "basic_cache_hits") == 2
          and s1 - s0 == 1,
          f"curl -u user20 three times: {st}; one KDC validation ({s1 - s0} semaphore acquires), "
          f"{delta(a1, a0, 'basic_cache_hits')} cache hits")
    check(basic("user20:wrong") == 401 and basic("user20:wrong") == 401 and delta(tel("auth"), a1, "basic_cache_hits") == 0,
          "a wrong password is asked of the KDC every time (401, no hit)")
    r = subprocess.run(["kadmin.local", "-r", "AUTHGATE.TEST", "-q", "cpw -pw Changed-user20 user20"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"kadmin.local cpw user20: {r.returncode} {r.stderr.strip()[:200]}")
    a2 = tel("auth")
    new = basic("user20:Changed-user20")
    old = basic("user20:Passw0rd-user20")
    a3 = tel("auth")
    check(new == 200 and old == 401 and delta(a3, a2, "basic_cache_evictions") >= 1,
          f"after the password change: new password {new} (evicts {delta(a3, a2, 'basic_cache_evictions')}), "
          f"old password {old}")


def raw(data, conn=None):
    """Sends bytes on a connection (new by default); returns (status, headers, closed-after)."""
    import socket
    c = conn or ac.Conn()
    c.s.sendall(data)
    r = c.response()
    if r is None:
        return None, {}, True
    c.s.settimeout(2)
    try:
        closed = c.s.recv(1, socket.MSG_PEEK) == b""
    except socket.timeout:
        closed = False
    finally:
        c.s.settimeout(20)
    return r[0], r[1], closed


def phase_gate():
    # the gateway's answers (401 here) honour what the client asked and the connection's limits
    st, h, closed = raw(b"GET /secure/hello.txt HTTP/1.0\r\nHost: gw\r\n\r\n")
    check(st == 401 and h.get("connection") == ["close"] and closed,
          f"HTTP/1.0 without credentials: {st}, Connection {h.get('connection')}, closed {closed}")
    st, h, closed = raw(b"GET /secure/hello.txt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    check(st == 401 and h.get("connection") == ["close"] and closed,
          f"Connection: close without credentials: {st}, Connection {h.get('connection')}, closed {closed}")
    # a body the client holds back for 100-continue: after a 401 nobody can tell body from request
    st, h, closed = raw(b"POST /secure/hello.txt HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\n"
                        b"Content-Length: 10\r\n\r\n")
    check(st == 401 and closed, f"Expect: 100-continue with a body held back: {st}, closed {closed}")
    # max_requests = 2 in this phase: the second answer closes, challenges included
    c = ac.Conn()
    st1, h1, closed1 = raw(b"GET /secure/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n", c)
    st2, h2, closed2 = raw(b"GET /secure/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n", c)
    check(st1 == 401 and not closed1 and st2 == 401 and h2.get("connection") == ["close"] and closed2,
          f"max_requests = 2 with two 401s: {st1} (closed {closed1}), {st2} (closed {closed2})")
    # a 48 KiB token (a large PAC) fits in a request: refused as a token (401), not as a head (431)
    big = base64.b64encode(os.urandom(48 * 1024))
    st, h, closed = raw(b"GET /secure/hello.txt HTTP/1.1\r\nHost: gw\r\nUser-Agent: e2e\r\n"
                        b"Authorization: Negotiate " + big + b"\r\n\r\n")
    check(st == 401, f"a 48 KiB Negotiate token gets {st} (401: the KDC's word on it, not 431)")


def host_token(user):
    """A Kerberos token for host/gw.authgate.test: a key the gateway's keytab holds too."""
    spn = gssapi.Name("host@gw.authgate.test", gssapi.NameType.hostbased_service)
    ctx = gssapi.SecurityContext(name=spn, creds=ac.creds(user), usage="initiate", mech=ac.SPNEGO)
    return ctx.step()


def phase_authz():
    # require_user: who, once authenticated; 403 (no challenge) for anyone else
    c = ac.Conn()
    r = c.request("/only-user1/hello.txt", ac.token("user1")[0])
    check(r[0] == 200, f"require_user = user1: user1 gets {r[0]}")
    r = c.request("/only-user1/hello.txt")
    check(r[0] == 200, f"and the persisted flow keeps it: {r[0]}")
    # the persisted identity is re-checked against another site's rules
    r = c.request("/other-realm/hello.txt")
    check(r[0] == 403 and ac.hdr(r, "WWW-Authenticate") is None,
          f"user1's persisted flow on a require_realm = OTHER.TEST site: {r[0]}, no challenge")
    c.close()
    a0 = tel("auth")
    c = ac.Conn()
    r = c.request("/only-user1/hello.txt", ac.token("user2")[0])
    a1 = tel("auth")
    check(r[0] == 403 and a1["forbidden_user"] - a0["forbidden_user"] == 1,
          f"user2 on the require_user = user1 site: {r[0]}, forbidden_user +1")
    r = c.request("/secure/hello.txt")
    check(r[0] == 200, f"user2's identity (403 there) is still good on /secure: {r[0]}")
    c.close()

    # auth = kerberos: Negotiate, and NTLMSSP inside it refused before any challenge
    a0 = tel("auth")
    ntlm = gssapi.raw.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")
    cred = gssapi.raw.acquire_cred_with_password(gssapi.Name("AUTHGATE\\user1", gssapi.NameType.user),
                                                 b"Passw0rd-user1", mechs=[ntlm]).creds
    nctx = gssapi.SecurityContext(name=ac.SPN, creds=cred, usage="initiate", mech=ac.SPNEGO)
    c = ac.Conn()
    r = c.request("/krb/hello.txt", authz=b"Negotiate " + base64.b64encode(nctx.step()))
    a1 = tel("auth")
    check(r[0] == 401 and a1["verdicts"]["mech_refused"] - a0["verdicts"]["mech_refused"] == 1
          and a1["ntlm_contexts_created"] == a0["ntlm_contexts_created"],
          f"auth = kerberos, NTLMSSP in Negotiate: {r[0]}, mech_refused +1, no NTLM context made")
    r = c.request("/krb/hello.txt", ac.token("user4")[0])
    check(r[0] == 200, f"auth = kerberos, a Kerberos ticket: {r[0]}")
    c.close()

    # an identity obtained with NTLM does not cross to a Kerberos-only site
    st, _, _, _ = curl_run(["--ntlm", "-u", "AUTHGATE\\user5:Passw0rd-user5", "http://gw.authgate.test/ntlm/hello.txt",
                      "http://gw.authgate.test/krb/hello.txt", "-o", "/dev/null", "-o", "/dev/null"])
    check(st[:2] == [401, 200] and st[-1] == 401,
          f"curl --ntlm on /ntlm then /krb on the same connection: {st} (the NTLM identity is not taken there)")

    # a ticket for host/ (its key is in the gateway's keytab too) is not a ticket for HTTP/
    a0 = tel("auth")
    c = ac.Conn()
    r = c.request("/secure/hello.txt", host_token("user6"))
    a1 = tel("auth")
    wp = a1["verdicts"]["wrong_service_principal"] - a0["verdicts"]["wrong_service_principal"]
    check(r[0] == 401 and wp == 1, f"a ticket for host/gw.authgate.test: {r[0]}, wrong_service_principal +{wp}")
    c.close()

    # a valid cross-realm ticket from a realm we have no trust for: routed by its ticket realm
    # (ours), refused by its client's
    a0 = tel("auth")
    c = ac.Conn()
    r = c.request("/secure/hello.txt", other_token())
    a1 = tel("auth")
    cr = a1["verdicts"]["client_realm_untrusted"] - a0["verdicts"]["client_realm_untrusted"]
    check(r[0] == 403 and cr == 1,
          f"other1@OTHER.TEST (no [trust OTHER.TEST]) by a valid cross-realm ticket: {r[0]}, "
          f"client_realm_untrusted +{cr}")
    c.close()

    # revocation: 403 until it expires (revocation_ttl_s = 3 in this phase), then a fresh ticket works
    subprocess.run(CTL + ["revoke", "user7@AUTHGATE.TEST"], check=True, capture_output=True)
    c = ac.Conn()
    r = c.request("/secure/hello.txt", ac.token("user7")[0])
    check(r[0] == 403, f"revoked user7, a fresh ticket: {r[0]}")
    c.close()
    time.sleep(3.2)
    c = ac.Conn()
    r = c.request("/secure/hello.txt", ac.token("user7")[0])
    check(r[0] == 200, f"after revocation_ttl_s the revocation is over: {r[0]}")
    c.close()


if __name__ == "__main__":
    {"persist": phase_persist, "no-persist": phase_no_persist, "session-age": phase_session_age,
     "semaphore": phase_semaphore, "ntlm-basic": phase_ntlm_basic,
     "ntlm-single": phase_ntlm_single, "basic-cache": phase_basic_cache, "gate": phase_gate,
     "authz": phase_authz}[sys.argv[1]]()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
