#!/usr/bin/python3
"""Writes authgate.ini(5) from docs/config.md: docs/man/mkini5.py > docs/man/authgate.ini.5"""
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAD = r""".\" authgate.ini(5): generated from docs/config.md by docs/man/mkini5.py; edit those, not this.
.TH AUTHGATE.INI 5 "" "authgate 0.1.0" "File Formats"
.SH NAME
authgate.ini \- configuration of the authgate authentication gateway
.SH SYNOPSIS
.B /etc/authgate/authgate.ini
.SH DESCRIPTION
"""
TAIL = r""".SH FILES
.TP
.I /etc/authgate/authgate.ini
the configuration the systemd unit starts the gateway with (a conffile)
.TP
.I /usr/share/doc/authgate/config.md.gz
this reference as Markdown
.SH EXAMPLES
Check a file, then see every default filled in:
.PP
.EX
authgate \-\-check\-config /etc/authgate/authgate.ini
authgate \-c /etc/authgate/authgate.ini \-\-dump\-config
.EE
.SH SEE ALSO
.BR authgate (8),
.BR authgate\-ctl (8),
.BR authgate\-setup (8)
"""


def esc(s):
    s = s.replace("\\", "\\e")
    s = re.sub(r"`([^`]*)`", lambda m: "\\fB" + m.group(1).replace("-", "\\-") + "\\fR", s)
    s = re.sub(r"\*\*([^*]*)\*\*", r"\\fB\1\\fR", s)
    s = s.replace("—", "\\(em").replace("→", "\\(->").replace("…", "...").replace("×", "\\(mu")
    return s


def line(s):
    s = esc(s)
    if s.startswith(".") or s.startswith("'"):
        s = "\\&" + s
    return s


def main():
    md = open(os.path.join(TOP, "docs", "config.md"), encoding="utf-8").read().splitlines()
    out = [HEAD.rstrip("\n")]
    cols = None
    in_list = False
    for raw in md[1:]:
        s = raw.rstrip()
        if s.startswith("## "):
            out.append(".SH " + esc(s[3:]).upper() if not s[3:].startswith("[") else ".SS " + esc(s[3:]))
            cols = None
            continue
        if s.startswith("### "):
            out.append(".SS " + esc(s[4:]))
            continue
        if s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if cols is None:
                cols = cells
            elif not set("".join(cells)) <= set("- :"):
                key, rest = cells[0], cells[1:]
                if len(cols) == 3:
                    out.append(".TP\n\\fB" + esc(key).replace("-", "\\-") + "\\fR (default: " +
                               esc(rest[0]) + ")")
                    out.append(line(rest[1]))
                else:
                    out.append(".TP\n\\fB" + esc(key) + "\\fR")
                    out.append(line(" ".join(rest)))
            continue
        cols = None
        if not s:
            if in_list:
                in_list = False
            out.append(".PP")
            continue
        if s.startswith("- "):
            out.append(".IP \\(bu 2")
            out.append(line(s[2:]))
            in_list = True
            continue
        if in_list and s.startswith("  "):
            out.append(line(s.strip()))
            continue
        out.append(line(s))
    text = "\n".join(out) + "\n" + TAIL
    text = re.sub(r"(\.PP\n)+", ".PP\n", text)
    text = re.sub(r"\.PP\n(\.S[SH] )", r"\1", text)
    text = re.sub(r"\.PP\n(\.TP)", r"\1", text)
    text = re.sub(r"(\.S[SH] [^\n]*\n)\.PP\n", r"\1", text)
    sys.stdout.write(text)


main()
