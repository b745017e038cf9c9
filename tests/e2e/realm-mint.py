#!/usr/bin/python3
# Mints client GSS tokens from the throwaway realm: one base64 token per output line.
#
# usage: realm-mint.py [--user user1] [--mech krb5|spnego|ntlm|spnego-ntlm] [--count N]
#                      [--target HTTP@gw.authgate.test]
# Needs the realm env (scripts/realm env). Kerberos tickets come from the user's client
# keytab into a private ccache; NTLM uses gss-ntlmssp with a throwaway NTLM_USER_FILE.
import argparse
import base64
import os
import subprocess
import sys
import tempfile

import gssapi

SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
NTLMSSP = gssapi.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user", default="user1")
    ap.add_argument("--mech", default="krb5", choices=["krb5", "spnego", "ntlm", "spnego-ntlm"])
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--target", default="HTTP@gw.authgate.test")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="authgate-mint-")
    try:
        mint(args, tmp)
    finally:
        subprocess.run(["rm", "-rf", tmp])


def mint(args, tmp):
    ccache = "FILE:" + os.path.join(tmp, "cc")
    os.environ["KRB5CCNAME"] = ccache
    if args.mech in ("krb5", "spnego"):
        keytab = os.path.join(os.environ["AUTHGATE_CLIENT_KEYTABS"], args.user + ".keytab")
        subprocess.run(["kinit", "-k", "-t", keytab, "-c", ccache, args.user], check=True)
        mech = gssapi.MechType.kerberos if args.mech == "krb5" else SPNEGO
    else:
        # No Kerberos ticket, so SPNEGO has only NTLM left to offer.
        ufile = os.path.join(tmp, "ntlm_users")
        with open(ufile, "w") as f:
            f.write("AUTHGATE:%s:Passw0rd-%s\n" % (args.user, args.user))
        os.environ["NTLM_USER_FILE"] = ufile
        mech = NTLMSSP if args.mech == "ntlm" else SPNEGO

    name = gssapi.Name(args.target, gssapi.NameType.hostbased_service)
    flags = gssapi.RequirementFlag.mutual_authentication | gssapi.RequirementFlag.out_of_sequence_detection
    for _ in range(args.count):
        ctx = gssapi.SecurityContext(name=name, mech=mech, usage="initiate", flags=flags)
        tok = ctx.step()
        sys.stdout.write(base64.b64encode(tok).decode() + "\n")


if __name__ == "__main__":
    main()
