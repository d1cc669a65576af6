"""IMAP with several sessions on one mailbox (the way Thunderbird keeps up to
five connections open), and IMAP the way a hostile or careless client speaks
it: raw sockets, exact bytes, against the real binary.

Off loopback (a client in a network namespace of its own) LOGIN and
AUTHENTICATE need TLS first, and whatever the client pipelined after
STARTTLS in plaintext is dropped."""

import os
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import DOMAIN, PASSWORD, free_port, poll_until
from test_imap import BOB, MSG, ImapWire, tls_context
from tls_helpers import NetnsPair, NetnsTern

LOGIN = b"LOGIN " + BOB.encode() + b" " + PASSWORD.encode()


@pytest.fixture
def srv(make_server, users):
    port = free_port()
    s = make_server(users=users, max_message_size="20M", extra_lines=["listen 127.0.0.1:%d imap" % port])
    s.imap_port = port
    return s


def deliver(srv, n=1, subject=b"hello there"):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
        for _ in range(n):
            s.sendmail("sender@x.test", [BOB], MSG.replace(b"hello there", subject))


def session(srv, select=True):
    w = ImapWire(srv.imap_port)
    assert w.cmd(b"l", LOGIN)[-1].startswith(b"l OK")
    if select:
        assert w.cmd(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    return w


def untagged(lines):
    return [l for l in lines if l.startswith(b"* ")]


# ------------------------------------------------------------------ several sessions

def test_changes_in_one_session_reach_the_others(srv):
    deliver(srv, 3)
    srv.wait_for_mail(DOMAIN, "bob", 3)
    a, b = session(srv), session(srv)
    # a flag set in one is an untagged FETCH in the other at its next command
    a.cmd(b"1", b"STORE 1 +FLAGS (\\Flagged)")
    got = untagged(b.cmd(b"2", b"NOOP"))
    assert any(re.match(rb"\* 1 FETCH \(.*FLAGS \(\\Flagged", l) for l in got), got
    # an expunge is not sent during FETCH, STORE or SEARCH (RFC 9051 7.5.1) ...
    a.cmd(b"3", b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    got = a.cmd(b"4", b"EXPUNGE")
    assert b"* 2 EXPUNGE" in got and got[-1].startswith(b"4 OK"), got
    got = b.cmd(b"5", b"FETCH 1:* (UID)")
    assert not any(l.endswith(b"EXPUNGE") for l in got), got
    assert len([l for l in got if b"(UID " in l]) == 3, got   # still numbered as before
    got = b.cmd(b"6", b"SEARCH ALL")
    assert not any(l.endswith(b"EXPUNGE") for l in got), got
    # ... but at NOOP it is
    got = untagged(b.cmd(b"7", b"NOOP"))
    assert b"* 2 EXPUNGE" in got, got
    # a delivery is EXISTS at the next command
    deliver(srv)
    got = poll_until(lambda: [l for l in b.cmd(b"8", b"NOOP") if l.endswith(b"EXISTS")], 10)
    assert got == [b"* 3 EXISTS"], got
    a.close()
    b.close()


def test_idle_sessions_hear_of_changes_within_a_second(srv):
    deliver(srv, 2)
    srv.wait_for_mail(DOMAIN, "bob", 2)
    idlers = [session(srv) for _ in range(4)]
    for w in idlers:
        w.send(b"i IDLE\r\n")
        assert w.line().startswith(b"+ ")
        w.sock.settimeout(5)
    actor = session(srv)

    def update(w):
        # RECENT counts (IMAP4rev1) may come between the updates that matter
        while True:
            line = w.line()
            if not line.endswith(b" RECENT"):
                return line

    actor.cmd(b"a", b"STORE 2 +FLAGS (\\Seen)")
    t0 = time.monotonic()
    for w in idlers:
        line = update(w)
        assert re.match(rb"\* 2 FETCH \(.*FLAGS \(\\Seen", line), line
    assert time.monotonic() - t0 < 1.5
    actor.cmd(b"b", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    for w in idlers:
        assert re.match(rb"\* 1 FETCH \(.*\\Deleted", update(w))
    actor.cmd(b"c", b"EXPUNGE")
    t0 = time.monotonic()
    for w in idlers:
        assert update(w) == b"* 1 EXPUNGE"
    assert time.monotonic() - t0 < 1.5
    t0 = time.monotonic()
    deliver(srv)
    for w in idlers:
        assert update(w) == b"* 2 EXISTS"
    assert time.monotonic() - t0 < 1.5
    for w in idlers:
        w.send(b"DONE\r\n")
        assert w.until_tagged(b"i")[-1].startswith(b"i OK")
        w.close()
    actor.close()


# ------------------------------------------------------------------ hostile input

def test_deep_nesting_and_huge_sets(srv):
    deliver(srv)
    srv.wait_for_mail(DOMAIN, "bob", 1)
    w = session(srv)
    got = w.cmd(b"a", b"FETCH 1 " + b"(" * 5000 + b"FLAGS" + b")" * 5000)
    assert got[-1].startswith(b"a BAD"), got
    # sequence numbers past the last message: BAD, as RFC 3501 6.4.8 says
    # (and at once: the range is not walked)
    got = w.cmd(b"b", b"FETCH 1:4294967295 (UID)")
    assert got[-1].startswith(b"b BAD"), got
    got = w.cmd(b"c", b"UID FETCH 1:4294967295 (UID)")
    assert got[-1].startswith(b"c OK"), got
    got = w.cmd(b"d", b"FETCH 4294967296 (UID)")
    assert got[-1].startswith(b"d BAD"), got
    got = w.cmd(b"e", b"SEARCH " + b"NOT " * 3000 + b"ALL")
    assert got[-1].startswith(b"e BAD") or got[-1].startswith(b"e OK"), got
    # a line longer than the command limit: refused with its tag, so that
    # the client is not left waiting
    got = w.cmd(b"f", b"FETCH " + b",".join(b"%d" % i for i in range(1, 20000)) + b" UID")
    assert got[-1].startswith(b"f NO [TOOBIG]"), got
    assert w.cmd(b"g", b"NOOP")[-1].startswith(b"g OK")
    w.close()


def test_literals_that_lie_about_their_length(srv):
    w = session(srv, select=False)
    # announced 2 GB: refused before the client sends it
    w.send(b"a APPEND INBOX {2147483648}\r\n")
    assert w.line().startswith(b"a NO [TOOBIG]")
    # announced longer than sent: the octets that follow are the literal;
    # the session goes on once it is complete
    w.send(b"b LOGIN {20}\r\n")
    assert w.line().startswith(b"+ ")
    w.send(b"bob\r\nc NOOP\r\n")            # 14 octets: 6 more are awaited
    w.send(b"xxxxxx secret\r\n")
    got = w.until_tagged(b"b")
    assert got[-1].startswith(b"b BAD") or got[-1].startswith(b"b NO"), got
    assert w.cmd(b"d", b"NOOP")[-1].startswith(b"d OK")
    # a literal count that is not a number
    got = w.cmd(b"e", b"SELECT {99999999999999999999}")
    assert got[-1].startswith(b"e BAD") or got[-1].startswith(b"e NO"), got
    # an APPEND whose literal holds fewer octets than announced, then the client goes
    w.send(b"f APPEND INBOX {1000}\r\n")
    assert w.line().startswith(b"+ ")
    w.send(b"Subject: short\r\n\r\nonly this")
    w.close()
    # nothing half received lands in the mailbox
    w2 = session(srv, select=False)
    got = w2.cmd(b"g", b"STATUS INBOX (MESSAGES)")
    assert got[0] == b"* STATUS INBOX (MESSAGES 0)", got
    tmp = srv.maildir(DOMAIN, "bob") / "tmp"
    assert poll_until(lambda: not tmp.is_dir() or not list(tmp.iterdir()), 10)
    w2.close()


def test_idle_without_done(srv):
    w = session(srv)
    w.send(b"a IDLE\r\n")
    assert w.line().startswith(b"+ ")
    w.send(b"b NOOP\r\n")                   # not DONE: ends IDLE with BAD
    assert w.until_tagged(b"a")[-1].startswith(b"a BAD")
    assert w.cmd(b"c", b"NOOP")[-1].startswith(b"c OK")
    w.send(b"d IDLE\r\n")
    assert w.line().startswith(b"+ ")
    w.close()                              # and a client that just goes away
    assert session(srv).cmd(b"e", b"NOOP")[-1].startswith(b"e OK")


def test_folder_names_cannot_leave_the_mailbox(srv):
    w = session(srv, select=False)
    root = srv.maildir(DOMAIN, "bob")
    mail = srv.data_dir / "mail"
    before = sorted(p for p in mail.rglob("*") if p.is_dir())
    bad = [b'"../x"', b'"/etc"', b'"."', b'".."', b'"~x"', b'"a..b"', b'".hidden"',
           b'"a/b"', b'"x' + b"y" * 300 + b'"', b"{3+}\r\na\x00b", b'"INBOX/../../carol"',
           b'"\x01ctl"']
    for i, name in enumerate(bad):
        got = w.cmd(b"c%d" % i, b"CREATE " + name)
        assert got[-1].startswith(b"c%d NO" % i) or got[-1].startswith(b"c%d BAD" % i), (name, got)
        got = w.cmd(b"s%d" % i, b"SELECT " + name)
        assert not got[-1].startswith(b"s%d OK" % i), (name, got)
        got = w.cmd(b"r%d" % i, b"RENAME Sent " + name)
        assert not got[-1].startswith(b"r%d OK" % i), (name, got)
    after = sorted(p for p in mail.rglob("*") if p.is_dir())
    outside = [p for p in after if p not in before and root not in p.parents and p != root]
    assert outside == [], outside
    assert (root / ".Sent").is_dir() or True
    w.close()


def test_commands_and_output_are_bounded_for_a_client_that_does_not_read(srv):
    deliver(srv, 20)
    srv.wait_for_mail(DOMAIN, "bob", 20)
    w = session(srv)
    # 40 MB of pipelined FETCHes of every message, never read: more than
    # the kernel's buffers on both sides hold
    w.sock.settimeout(30)
    burst = b"f FETCH 1:* (BODY.PEEK[])\r\n" * 1500000
    sent = 0
    w.sock.setblocking(False)
    deadline = time.monotonic() + 10
    while sent < len(burst) and time.monotonic() < deadline:
        try:
            sent += w.sock.send(burst[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)
    w.sock.setblocking(True)
    pid = srv.proc.pid
    rss = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % pid).read()).group(1))
    assert sent < len(burst) // 2, "the server read %d octets of commands without the client reading" % sent
    assert rss < 400 * 1024, "server RSS %d KiB" % rss
    # another session is served meanwhile
    other = session(srv)
    assert other.cmd(b"o", b"NOOP")[-1].startswith(b"o OK")
    other.close()
    w.close()


# ------------------------------------------------------------------ off loopback

def test_login_needs_tls_off_loopback(tmp_path, users):
    with NetnsPair("imap") as pair:
        users_path = tmp_path / "users"
        users_path.write_text("".join("%s:%s\n" % u for u in users))
        addr = pair.SERVER_ADDR
        srv = NetnsTern(pair, tmp_path, [
            "hostname mx.test", "listen %s:25 smtp" % addr, "listen %s:143 imap" % addr,
            "listen %s:993 imaps" % addr, "domain %s" % DOMAIN, "users %s" % users_path,
            "dns 127.0.0.1:9"])
        srv.start(25)
        try:
            s = pair.client_socket()
            s.settimeout(15)
            s.connect((addr, 143))
            w = ImapWire.__new__(ImapWire)
            w.sock, w.buf = s, b""
            greeting = w.line()
            assert b"LOGINDISABLED" in greeting and b"AUTH=PLAIN" not in greeting, greeting
            assert w.cmd(b"a", LOGIN)[-1].startswith(b"a NO [PRIVACYREQUIRED]")
            got = w.cmd(b"b", b"AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLnRlc3QAc2VjcmV0")
            assert got[-1].startswith(b"b NO") or got[-1].startswith(b"b BAD"), got
            # a command pipelined after STARTTLS in plaintext must not survive into TLS
            w.send(b"c STARTTLS\r\nd " + LOGIN + b"\r\n")
            assert w.line().startswith(b"c OK")
            assert w.buf == b""
            w.sock = tls_context().wrap_socket(s, server_hostname="mx.test")
            got = w.cmd(b"e", b"CAPABILITY")
            assert got[-1].startswith(b"e OK"), got         # not "d OK": d was dropped
            assert b"LOGINDISABLED" not in got[0] and b"AUTH=PLAIN" in got[0], got
            assert w.cmd(b"f", LOGIN)[-1].startswith(b"f OK")
            w.close()
            # imaps: logins at once
            s2 = pair.client_socket()
            s2.settimeout(15)
            s2.connect((addr, 993))
            t = ImapWire.__new__(ImapWire)
            t.sock, t.buf = tls_context().wrap_socket(s2, server_hostname="mx.test"), b""
            assert b"LOGINDISABLED" not in t.line()
            assert t.cmd(b"g", LOGIN)[-1].startswith(b"g OK")
            t.close()
        finally:
            status = srv.stop()
        assert status == 0, "tern exit status %r\n--- log ---\n%s" % (status, srv.log())


# ------------------------------------------------------------------ timeouts

def test_silent_client_before_login_is_logged_out(make_server, users):
    """command-timeout applies before login (CONTRACT.md); the BYE reaches
    the client before the close. A logged-in session is not held to it
    (RFC 9051 5.4: at least 30 minutes), IDLE included."""
    port = free_port()
    srv = make_server(users=users, extra_lines=["listen 127.0.0.1:%d imap" % port, "command-timeout 2s"])
    srv.imap_port = port
    quiet = ImapWire(port)
    logged = session(srv)
    idler = session(srv)
    idler.send(b"i IDLE\r\n")
    assert idler.line().startswith(b"+ ")
    t0 = time.monotonic()
    quiet.sock.settimeout(10)
    assert quiet.line().startswith(b"* BYE")
    assert 1.5 < time.monotonic() - t0 < 8
    assert quiet.closed()
    time.sleep(1.5)                       # past command-timeout for the others too
    assert logged.cmd(b"n", b"NOOP")[-1].startswith(b"n OK")
    idler.send(b"DONE\r\n")
    assert idler.until_tagged(b"i")[-1].startswith(b"i OK")


def test_many_logins_at_once_all_succeed(srv):
    """More parallel logins than the password checks run at once for one
    network: the rest wait their turn, none is refused (a client opening
    its connections together, users behind one NAT)."""
    wires = [ImapWire(srv.imap_port) for _ in range(20)]
    for w in wires:
        w.send(b"a " + LOGIN + b"\r\n")
    for w in wires:
        w.sock.settimeout(30)
        got = w.until_tagged(b"a")
        assert got[-1].startswith(b"a OK"), got
        w.close()
