"""Kerberos HTTP clients for the e2e tests: SPNEGO tokens from client keytabs, raw HTTP/1.1."""
import base64
import os
import re
import socket

import gssapi

GW = "198.18.0.2"
REALM = "AUTHGATE.TEST"
KEYTABS = os.environ.get("AUTHGATE_CLIENT_KEYTABS", "/run/authgate-realm/clients")
SPNEGO = gssapi.raw.OID.from_int_seq("1.3.6.1.5.5.2")
SPN = gssapi.Name("HTTP@gw.authgate.test", gssapi.NameType.hostbased_service)
_creds = {}


def creds(user):
    if user not in _creds:
        _creds[user] = gssapi.Credentials(
            name=gssapi.Name(f"{user}@{REALM}", gssapi.NameType.kerberos_principal), usage="initiate",
            store={"client_keytab": os.path.join(KEYTABS, f"{user}.keytab"), "ccache": f"MEMORY:{user}"})
    return _creds[user]


def token(user="user1"):
    """A fresh SPNEGO token (a new authenticator each time) and its context for mutual auth."""
    ctx = gssapi.SecurityContext(name=SPN, creds=creds(user), usage="initiate", mech=SPNEGO,
                                 flags=gssapi.RequirementFlag.mutual_authentication)
    return ctx.step(), ctx


class Conn:
    """One TCP connection; requests answered in order; responses parsed just enough."""

    def __init__(self, src=None, sport=0, timeout=20):
        self.s = socket.socket()
        self.s.settimeout(timeout)
        if src or sport:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.s.bind((src or "0.0.0.0", sport))
        self.s.connect((GW, 80))
        self.buf = b""

    def request(self, path, tok=None, authz=None):
        """tok: a GSS token to send base64-encoded; authz: an Authorization value sent as is."""
        h = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: gw.authgate.test\r\n"
        if tok is not None:
            authz = b"Negotiate " + base64.b64encode(tok)
        if authz is not None:
            h += b"Authorization: " + authz + b"\r\n"
        self.s.sendall(h + b"\r\n")
        return self.response()

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                return None
            self.buf += b
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        n = int(hdrs.get("content-length", ["0"])[0])
        while len(self.buf) < n:
            b = self.s.recv(65536)
            if not b:
                break
            self.buf += b
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body

    def close(self, reset=False):
        if reset:  # RST instead of FIN: no TIME_WAIT, so the same source port can come back
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.s.close()


def hdr(resp, name):
    v = resp[1].get(name.lower())
    return v[0] if v else None
