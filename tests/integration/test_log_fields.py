"""Logs (CONTRACT.md, "Rules every role keeps"): one line per event, fields
key=value, and a value holding a blank, '"' or '\\' is double-quoted with \\"
and \\\\ escapes, so that no client or peer text can forge a field. A client
tries to, through every place where its text reaches a log line."""

import re
import smtplib

from conftest import DOMAIN, PASSWORD

FORGE = 'x" client=[6.6.6.6] status=sent \\" reason="y'


def fields(line):
    """The key=value fields of one log line (after "tern: ID"), parsed the
    way a log reader would: a value is a bare token or a quoted string with
    backslash escapes."""
    rest = line.split(" tern: ", 1)[1]
    out = []
    i = 0
    while i < len(rest):
        m = re.compile(r"([A-Za-z0-9_.-]+)=").match(rest, i)
        if not m:
            j = rest.find(" ", i)
            i = len(rest) if j < 0 else j + 1
            continue
        key = m.group(1)
        i = m.end()
        if i < len(rest) and rest[i] == '"':
            i += 1
            val = ""
            while i < len(rest) and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < len(rest):
                    i += 1
                val += rest[i]
                i += 1
            i += 2  # the closing quote and the blank
        else:
            j = rest.find(" ", i)
            j = len(rest) if j < 0 else j
            val = rest[i:j]
            i = j + 1
        out.append((key, val))
    return out


def test_client_text_cannot_forge_log_fields(make_server, users):
    srv = make_server(users=users)
    with srv.session() as w:
        w.cmd("MAIL FROM:<a@x.test>")
        w.cmd('RCPT TO:<"%s"@remote.test>' % FORGE.replace('"', '\\"'))   # relay denied: logged
        w.cmd("VRFY")                                                      # a 501 with the command
        w.cmd('NONSENSE %s' % FORGE)
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
        s.ehlo("c.test")
        try:
            s.login('bob" client=[6.6.6.6] "@%s' % DOMAIN, PASSWORD)
        except smtplib.SMTPAuthenticationError:
            pass
    seen = set()
    for line in srv.log().splitlines():
        if " tern: " not in line:
            continue
        keys = [k for k, _ in fields(line)]
        assert keys.count("client") <= 1, line
        for k, v in fields(line):
            if k == "client":
                assert v == "[127.0.0.1]", "forged client field in %r" % line
            if k == "status":
                assert "refused" not in line or v != "sent", line
        if "NONSENSE" in line:
            cmd = dict(fields(line)).get("command")
            assert cmd == "NONSENSE " + FORGE, (cmd, line)
            seen.add("command")
        if "auth failed" in line:
            user = dict(fields(line)).get("user")
            assert user == 'bob" client=[6.6.6.6] "@%s' % DOMAIN, line
            seen.add("user")
    assert seen == {"command", "user"}, srv.log()
