"""`tern send` end to end: against tern itself (tests/integration/conftest.py
starts the real `tern serve`) and against a server we did not write
(Python's aiosmtpd, in this process). Exit codes, the envelope, -t with Bcc
removed, TLS (implicit and STARTTLS, verified or not), AUTH, refusals, and
the --trace round-trip counts: 2 with PIPELINING and CHUNKING, 5 without
PIPELINING (BDAT still saves the 354), 6 with neither, as the seed counts."""

import os
import re
import subprocess

import pytest

from conftest import DOMAIN, PASSWORD, TERN_BIN, free_port, split_trace

TRACE_LINE = re.compile(r"^\+\d+ (C|S|TLS): ")
LAST_LINE = re.compile(r"^round trips: (\d+), total: (\d+) ms$")

MESSAGE = (b"From: Alice <alice@sender.test>\n"
           b"To: bob@example.test\n"
           b"Subject: from tern send\n"
           b"\n"
           b"first line\n"
           b".a line that starts with a dot\n"
           b"..two dots\n"
           b"last line without newline")


def send(args, message=MESSAGE, env=None, timeout=60):
    """Run `tern send ARGS` with the message on stdin."""
    full_env = dict(os.environ)
    full_env.pop("TERN_PASSWORD", None)
    if env:
        full_env.update(env)
    return subprocess.run([TERN_BIN, "send"] + args, input=message, capture_output=True,
                          timeout=timeout, env=full_env)


def stderr_of(result):
    return result.stderr.decode("utf-8", "replace")


def round_trips(result):
    """The N of the trace's last line; every other line must be a trace line
    or one of tern send's own messages."""
    lines = stderr_of(result).rstrip("\n").split("\n")
    m = LAST_LINE.match(lines[-1])
    assert m, "no round-trip line at the end of:\n" + stderr_of(result)
    for line in lines[:-1]:
        assert TRACE_LINE.match(line) or line.startswith("tern send: "), "odd trace line %r" % line
    return int(m.group(1))


def delivered_body(srv, local):
    (msg,) = srv.wait_for_mail(DOMAIN, local, 1)
    return_path, delivered_to, _, rest = split_trace(msg)
    return return_path, rest


def expected_stored(message):
    """What tern stores: LF line endings, a final line ending added."""
    text = message.replace(b"\r\n", b"\n")
    return text if text.endswith(b"\n") else text + b"\n"


# --------------------------------------------------------------------------
# against tern

def test_pipelined_two_round_trips(open_server):
    """One message, one recipient, a server with PIPELINING and CHUNKING:
    EHLO, then MAIL+RCPT+BDAT LAST+content+QUIT in one flight: 2 round trips.
    The envelope sender comes from From:, the content arrives unchanged."""
    r = send(["--server", "127.0.0.1:%d" % open_server.port, "--ehlo", "client.test", "--trace",
              "bob@example.test"])
    assert r.returncode == 0, stderr_of(r)
    assert round_trips(r) == 2
    err = stderr_of(r)
    assert re.search(r"^\+\d+ C: EHLO client\.test$", err, re.M)
    assert re.search(r"^\+\d+ C: BDAT \d+ LAST$", err, re.M)
    assert re.search(r"^\+\d+ C: QUIT$", err, re.M)
    assert re.search(r"^\+\d+ S: 250[ -]PIPELINING$", err, re.M)
    return_path, rest = delivered_body(open_server, "bob")
    assert return_path == b"Return-Path: <alice@sender.test>"
    assert rest == expected_stored(MESSAGE)


@pytest.mark.parametrize("flags, trips", [(["--no-pipelining"], 5),
                                          (["--no-pipelining", "--no-chunking"], 6),
                                          (["--no-chunking"], 3)])
def test_round_trips_without_extensions(open_server, flags, trips):
    """Without PIPELINING: EHLO, MAIL, RCPT, BDAT LAST, QUIT = 5; without
    CHUNKING too: EHLO, MAIL, RCPT, DATA, content, QUIT = 6 (the seed's
    count); PIPELINING with DATA: EHLO, MAIL+RCPT+DATA, content+QUIT = 3.
    The content arrives the same (dot-stuffing undone by the server)."""
    r = send(["--server", "127.0.0.1:%d" % open_server.port, "--trace", "--from", "a@x.test"] + flags
             + ["bob@example.test"])
    assert r.returncode == 0, stderr_of(r)
    assert round_trips(r) == trips
    _, rest = delivered_body(open_server, "bob")
    assert rest == expected_stored(MESSAGE)


def test_crlf_message_and_two_recipients(open_server):
    """A CR LF message to two recipients given as --to and as an argument."""
    message = MESSAGE.replace(b"\n", b"\r\n") + b"\r\n"
    r = send(["--server", "127.0.0.1:%d" % open_server.port, "--to", "bob@example.test", "carol@example.test"],
             message=message)
    assert r.returncode == 0, stderr_of(r)
    for local in ("bob", "carol"):
        _, rest = delivered_body(open_server, local)
        assert rest == expected_stored(message)


def test_t_reads_recipients_and_removes_bcc(open_server):
    """-t: To, Cc (folded, with a display name and a group) and Bcc are the
    recipients; the Bcc field, continuation line included, is not sent."""
    message = (b"From: Alice <alice@sender.test>\n"
               b"To: Bob <bob@example.test>, team: carol@example.test;\n"
               b"Cc: \"Dave, D.\" <dave@example.test>,\n"
               b"  erin@example.test (Erin)\n"
               b"Bcc: secret@example.test,\n"
               b"\thidden@example.test\n"
               b"Subject: -t\n"
               b"\n"
               b"Bcc: in the body stays\n")
    r = send(["--server", "127.0.0.1:%d" % open_server.port, "-t"], message=message)
    assert r.returncode == 0, stderr_of(r)
    sent = message.replace(b"Bcc: secret@example.test,\n\thidden@example.test\n", b"")
    for local in ("bob", "carol", "dave", "erin", "secret", "hidden"):
        _, rest = delivered_body(open_server, local)
        assert rest == sent
        assert b"secret@" not in rest.split(b"\n\n")[0]


def test_relay_denied_is_69_and_partial_delivery(open_server):
    """A recipient in a remote domain is refused (554 5.7.1): exit 69, the
    refusal quoted on stderr; the local recipient still gets the message."""
    r = send(["--server", "127.0.0.1:%d" % open_server.port, "bob@example.test", "someone@remote.test"])
    assert r.returncode == 69, stderr_of(r)
    err = stderr_of(r)
    assert "someone@remote.test" in err and "554 5.7.1" in err
    delivered_body(open_server, "bob")

    r = send(["--server", "127.0.0.1:%d" % open_server.port, "someone@remote.test"])
    assert r.returncode == 69, stderr_of(r)


def test_connection_refused_is_75():
    port = free_port()
    r = send(["--server", "127.0.0.1:%d" % port, "bob@example.test"])
    assert r.returncode == 75, stderr_of(r)
    assert "cannot connect" in stderr_of(r)


def test_data_and_usage_errors(open_server):
    """A line over 998 octets: 65 before anything is sent; usage: 64."""
    port = "127.0.0.1:%d" % open_server.port
    long_line = b"Subject: x\n\n" + b"a" * 999 + b"\n"
    r = send(["--server", port, "--from", "a@x.test", "bob@example.test"], message=long_line)
    assert r.returncode == 65, stderr_of(r)
    assert "998" in stderr_of(r)
    r = send(["--server", port, "--from", "a@x.test", "bob@example.test"], message=b"a\rb\n")
    assert r.returncode == 65
    r = send(["--server", port, "--from", "a@x.test"])
    assert r.returncode == 64
    r = send(["--server", port, "--tls", "--starttls", "bob@example.test"])
    assert r.returncode == 64
    r = send(["--server", "[::1", "bob@example.test"])
    assert r.returncode == 64
    r = send(["--server", port, "not an address"])
    assert r.returncode == 64
    r = send(["--server", port, "bob@example.test"], message=b"Subject: no sender\n\nx\n")
    assert r.returncode == 64
    r = send(["--server", port, "--user", "u", "bob@example.test"])
    assert r.returncode == 64
    r = send(["--server", port, "--user", "u", "--password-file", "/nonexistent/pw", "bob@example.test"])
    assert r.returncode == 78
    assert open_server.all_mailboxes() == []


# --------------------------------------------------------------------------
# TLS and AUTH against tern

@pytest.fixture
def tls_server(make_server, users):
    """tern for example.test named localhost (its self-signed certificate is
    for that name), with an smtp and a submissions (implicit TLS) listener."""
    subs = free_port()
    srv = make_server(users=users, hostname="localhost",
                      extra_lines=["listen 127.0.0.1:%d submissions" % subs])
    srv.submissions_port = subs
    srv.cert = str(srv.data_dir / "tls" / "cert.pem")
    return srv


def test_implicit_tls_with_cafile_and_auth(tls_server):
    r = send(["--server", "localhost:%d" % tls_server.submissions_port, "--tls", "--cafile", tls_server.cert,
              "--user", "bob@example.test", "--from", "bob@example.test", "--trace", "carol@example.test"],
             env={"TERN_PASSWORD": PASSWORD})
    assert r.returncode == 0, stderr_of(r) + tls_server.log()
    err = stderr_of(r)
    assert re.search(r"^\+\d+ TLS: TLSv1\.[23] \S+$", err, re.M)
    assert re.search(r"^\+\d+ C: AUTH PLAIN \*\*\*\*$", err, re.M)
    assert PASSWORD not in err
    assert round_trips(r) == 3  # EHLO; AUTH; MAIL..QUIT
    delivered_body(tls_server, "carol")


def test_implicit_tls_insecure_and_wrong_password(tls_server, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("wrong\n")
    r = send(["--server", "127.0.0.1:%d" % tls_server.submissions_port, "--tls", "--insecure",
              "--user", "bob@example.test", "--password-file", str(pw), "carol@example.test"])
    assert r.returncode == 69, stderr_of(r)
    assert "535" in stderr_of(r)
    pw.write_text(PASSWORD + "\n")
    r = send(["--server", "127.0.0.1:%d" % tls_server.submissions_port, "--tls", "--insecure",
              "--user", "bob@example.test", "--password-file", str(pw), "--from", "bob@example.test",
              "carol@example.test"])
    assert r.returncode == 0, stderr_of(r)


def test_verification_failure_is_69(tls_server):
    """A self-signed certificate without --cafile or --insecure; the right CA
    but the wrong name (an IP address the certificate does not hold)."""
    for server, extra in ((("localhost:%d" % tls_server.submissions_port), ["--tls"]),
                          (("127.0.0.1:%d" % tls_server.submissions_port), ["--tls", "--cafile", tls_server.cert]),
                          (("localhost:%d" % tls_server.port), ["--starttls"])):
        r = send(["--server", server, "carol@example.test"] + extra)
        assert r.returncode == 69, stderr_of(r)
        assert "certificate verification failed" in stderr_of(r)
    assert tls_server.all_mailboxes() == []


def test_starttls_with_cafile(tls_server):
    """STARTTLS on the smtp listener: EHLO, STARTTLS, EHLO again, then one
    flight: 4 round trips."""
    r = send(["--server", "localhost:%d" % tls_server.port, "--starttls", "--cafile", tls_server.cert,
              "--trace", "bob@example.test"])
    assert r.returncode == 0, stderr_of(r)
    err = stderr_of(r)
    assert re.search(r"^\+\d+ C: STARTTLS$", err, re.M)
    assert re.search(r"^\+\d+ TLS: TLSv1\.[23] ", err, re.M)
    assert len(re.findall(r"^\+\d+ C: EHLO ", err, re.M)) == 2
    assert round_trips(r) == 4
    delivered_body(tls_server, "bob")


# --------------------------------------------------------------------------
# against aiosmtpd (a server we did not write)

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402


class Recorder:
    """Accepts everything but recipients starting with "perm" (550) or
    "temp" (451); DATA for a recipient "tempdata" is refused with 451."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("perm"):
            return "550 5.1.1 <%s>: no such user" % address
        if address.startswith("temp") and address != "tempdata@y.test":
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if "tempdata@y.test" in envelope.rcpt_tos:
            return "451 4.3.0 queue full"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"user" and auth_data.password == b"pw"
    # TOOLING.md: a failure must be handled=False, or the client hangs
    return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)


@pytest.fixture
def aio():
    handler = Recorder()
    ctl = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                     auth_require_tls=False)
    ctl.start()
    ctl.recorder = handler
    yield ctl
    ctl.stop()


def test_aiosmtpd_delivery(aio):
    """aiosmtpd offers neither PIPELINING nor CHUNKING: one command per
    round trip, DATA with dot-stuffing: 6 round trips, content intact."""
    r = send(["--server", "127.0.0.1:%d" % aio.port, "--trace", "b@y.test"])
    assert r.returncode == 0, stderr_of(r)
    assert round_trips(r) == 6
    ((mail_from, rcpts, content),) = aio.recorder.messages
    assert mail_from == "alice@sender.test"
    assert rcpts == ["b@y.test"]
    assert content == expected_stored(MESSAGE).replace(b"\n", b"\r\n")


def test_aiosmtpd_partial_and_refusals(aio):
    port = "127.0.0.1:%d" % aio.port
    r = send(["--server", port, "b@y.test", "perm@y.test"])
    assert r.returncode == 69, stderr_of(r)
    assert "550 5.1.1 <perm@y.test>: no such user" in stderr_of(r)
    assert aio.recorder.messages[-1][1] == ["b@y.test"]

    r = send(["--server", port, "b@y.test", "temp@y.test"])
    assert r.returncode == 75, stderr_of(r)
    assert "451 4.3.0 try again later" in stderr_of(r)

    r = send(["--server", port, "temp@y.test", "perm@y.test"])
    assert r.returncode == 69  # the worst refusal wins

    n = len(aio.recorder.messages)
    r = send(["--server", port, "tempdata@y.test"])
    assert r.returncode == 75, stderr_of(r)
    assert "451 4.3.0 queue full" in stderr_of(r)
    assert len(aio.recorder.messages) == n


def test_aiosmtpd_auth(aio):
    port = "127.0.0.1:%d" % aio.port
    r = send(["--server", port, "--user", "user", "--trace", "b@y.test"], env={"TERN_PASSWORD": "pw"})
    assert r.returncode == 0, stderr_of(r)
    err = stderr_of(r)
    assert re.search(r"^\+\d+ C: AUTH PLAIN \*\*\*\*$", err, re.M)
    assert "AHVzZXIAcHc=" not in err  # base64 of \0user\0pw
    assert round_trips(r) == 7  # EHLO, AUTH, MAIL, RCPT, DATA, content, QUIT

    r = send(["--server", port, "--user", "user", "b@y.test"], env={"TERN_PASSWORD": "bad"})
    assert r.returncode == 69, stderr_of(r)
    assert "535" in stderr_of(r)
