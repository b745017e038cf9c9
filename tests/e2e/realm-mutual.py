#!/usr/bin/python3
# Mutual auth round trip: a client context sends its token through the validator tool and
# must accept the reply token it gets back (proves the AP-REP / SPNEGO reply is right).
#
# usage: realm-mutual.py TOOL KEYTAB krb5|spnego   (realm env loaded; exits 0 on success)
import base64
import os
import subprocess
import sys
import tempfile

import gssapi

SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")


def main():
    tmp = tempfile.mkdtemp(prefix="authgate-mutual-")
    try:
        return run(sys.argv[1], sys.argv[2], sys.argv[3], tmp)
    finally:
        subprocess.run(["rm", "-rf", tmp])


def run(tool, keytab, mech, tmp):
    cc = "FILE:" + os.path.join(tmp, "cc")
    os.environ["KRB5CCNAME"] = cc
    kt = os.path.join(os.environ["AUTHGATE_CLIENT_KEYTABS"], "user3.keytab")
    subprocess.run(["kinit", "-k", "-t", kt, "-c", cc, "user3"], check=True)
    name = gssapi.Name("HTTP@gw.authgate.test", gssapi.NameType.hostbased_service)
    ctx = gssapi.SecurityContext(
        name=name, usage="initiate",
        mech=gssapi.MechType.kerberos if mech == "krb5" else SPNEGO,
        flags=gssapi.RequirementFlag.mutual_authentication)
    tok = ctx.step()
    out = subprocess.run([tool, "--keytab", keytab, "--print-reply"],
                         input=base64.b64encode(tok).decode() + "\n",
                         capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    reply = [l[6:] for l in out.stdout.splitlines() if l.startswith("reply=")]
    if out.returncode != 0 or not reply:
        print("mutual: validator refused or sent no reply", file=sys.stderr)
        return 1
    ctx.step(base64.b64decode(reply[0]))
    if not ctx.complete:
        print("mutual: client context not complete after the reply", file=sys.stderr)
        return 1
    print("mutual %s: client accepted the reply, peer %s" % (mech, ctx.target_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
