"""POP3 (RFC 1939, RFC 2449, RFC 2595 STLS, RFC 5034 AUTH) against the real
binary, with clients we did not write (Python's poplib, curl) and a raw socket
where the exact bytes matter. Mail is delivered by SMTP first, so every test
also covers the last hop: Maildir -> user agent.

The server listens on `pop3` (STLS) and `pop3s` (implicit TLS) next to its
SMTP port; TLS uses the self-signed pair tern makes in DATA-DIR/tls/, so
clients do not verify the certificate."""

import base64
import hashlib
import os
import poplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import DOMAIN, PASSWORD, LineWire, free_port, poll_until, tls_context

BOB = "bob@%s" % DOMAIN
CAROL = "carol@%s" % DOMAIN


class Pop3Server:
    """A TernServer with a pop3 and a pop3s listener."""

    def __init__(self, srv, pop3_port, pop3s_port):
        self.srv, self.pop3_port, self.pop3s_port = srv, pop3_port, pop3s_port

    def deliver(self, message, rcpt=BOB, count=None):
        """Send message by SMTP and wait until `count` files are in new/."""
        with smtplib.SMTP("127.0.0.1", self.srv.port, timeout=30) as s:
            s.sendmail("sender@x.test", [rcpt], message)
        local = rcpt.split("@")[0]
        if count is not None:
            return self.srv.wait_for_mail(DOMAIN, local, count)
        return None

    def plain(self):
        return poplib.POP3("127.0.0.1", self.pop3_port, timeout=30)

    def tls(self):
        return poplib.POP3_SSL("127.0.0.1", self.pop3s_port, timeout=30, context=tls_context())

    def login_tls(self, user=BOB, password=PASSWORD):
        p = self.tls()
        p.user(user)
        p.pass_(password)
        return p

    def wire(self):
        return POP3Wire(self.pop3_port)


class POP3Wire(LineWire):
    """A raw POP3 client: exact bytes out, strict CR LF lines in."""

    def __init__(self, port):
        super().__init__(port)
        greeting = self.line()
        assert greeting == b"+OK tern POP3 ready", greeting

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.line()

    def multi(self):
        """The lines of a multi-line body up to the terminating '.', raw (still stuffed)."""
        out = []
        while True:
            line = self.line()
            if line == b".":
                return out
            out.append(line)


@pytest.fixture
def pop(make_server, users):
    pop3_port, pop3s_port = free_port(), free_port()
    srv = make_server(users=users, max_message_size="20M",
                      extra_lines=["listen 127.0.0.1:%d pop3" % pop3_port,
                                   "listen 127.0.0.1:%d pop3s" % pop3s_port])
    if "(pop3)" not in srv.log():
        pytest.skip("this build of tern does not serve POP3 yet (src/cmd/serve.c skips the pop3 roles)")
    return Pop3Server(srv, pop3_port, pop3s_port)


def as_retrieved(stored):
    """What a client gets back for a stored (LF) message: poplib's lines."""
    lines = stored.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def maildir_names(pop, sub):
    d = pop.srv.maildir(DOMAIN, "bob") / sub
    return sorted(os.listdir(d)) if d.is_dir() else []


# ---------------------------------------------------------------------------
# clients

def test_pop3s_poplib_retrieves_byte_identical(pop):
    """POP3_SSL: the message tern received by SMTP comes back byte for byte
    (headers included: Return-Path, Delivered-To, Received)."""
    (stored,) = pop.deliver(b"From: a@x.test\r\nSubject: hello\r\n\r\nbody line\r\n", count=1)
    p = pop.login_tls()
    count, octets = p.stat()
    assert count == 1
    resp, lines, size = p.retr(1)
    assert resp == b"+OK %d octets" % octets
    assert lines == as_retrieved(stored)
    assert b"\n".join(lines) + b"\n" == stored
    assert lines[0].startswith(b"Return-Path: <sender@x.test>")
    assert lines[1] == b"Delivered-To: bob@example.test"
    assert lines[2].startswith(b"Authentication-Results: ")  # the smtp role's verdict
    assert any(l.startswith(b"Received: from ") for l in lines[3:8])
    # LIST/STAT sizes count CR LF line ends (RFC 1939 11)
    assert octets == len(stored) + stored.count(b"\n")
    assert p.quit().startswith(b"+OK")


def test_stls_poplib(pop):
    """poplib's stls() on the pop3 port, then a login and a listing; CAPA
    changes after STLS (no STLS any more)."""
    pop.deliver(b"Subject: one\r\n\r\n1\r\n", count=1)
    p = pop.plain()
    assert p.getwelcome() == b"+OK tern POP3 ready"
    caps = p.capa()
    assert "STLS" in caps and "UIDL" in caps and "TOP" in caps and "RESP-CODES" in caps
    p.stls(context=tls_context())
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps and caps.get("SASL") == ["PLAIN"]
    p.user(BOB)
    assert p.pass_(PASSWORD).startswith(b"+OK maildrop has 1 message")
    assert p.list()[1] == [b"1 %d" % p.stat()[1]]
    p.quit()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_pop3s(pop):
    """curl -k pop3s://.../1 prints the message; pop3s://.../ lists it."""
    (stored,) = pop.deliver(b"Subject: curl\r\n\r\nfetched by curl\r\n.dot line\r\n", count=1)
    base = "pop3s://127.0.0.1:%d/" % pop.pop3s_port
    auth = ["--user", "%s:%s" % (BOB, PASSWORD)]
    r = subprocess.run(["curl", "-sSk", "--max-time", "20"] + auth + [base + "1"], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == stored.replace(b"\n", b"\r\n")
    r = subprocess.run(["curl", "-sSk", "--max-time", "20"] + auth + [base], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"1 %d\r\n" % (len(stored) + stored.count(b"\n"))


def test_auth_plain(pop):
    """AUTH PLAIN with an initial response, and without (RFC 5034)."""
    w = pop.wire()
    token = base64.b64encode(b"\0" + BOB.encode() + b"\0" + PASSWORD.encode())
    assert w.cmd(b"AUTH PLAIN " + token).startswith(b"+OK maildrop has 0 messages")
    assert w.cmd(b"QUIT") == b"+OK bye, 0 messages left"
    w.close()
    w = pop.wire()
    assert w.cmd(b"AUTH PLAIN") == b"+ "
    assert w.cmd(b"*") == b"-ERR authentication cancelled"
    assert w.cmd(b"AUTH PLAIN") == b"+ "
    assert w.cmd(token).startswith(b"+OK maildrop has")
    w.close()


# ---------------------------------------------------------------------------
# Maildir semantics

def test_deletion_only_on_quit(pop):
    """DELE then a dropped connection: nothing is deleted (RFC 1939 6). DELE
    then QUIT: the file is gone from disk."""
    pop.deliver(b"Subject: first\r\n\r\n1\r\n", count=1)
    pop.deliver(b"Subject: second\r\n\r\n2\r\n", count=2)
    p = pop.login_tls()
    assert p.stat()[0] == 2
    p.dele(1)
    assert p.stat()[0] == 1
    drop(p)                 # no QUIT
    p = poll_until(lambda: _try_login(pop), 10)
    assert p, "mailbox still locked after the connection dropped\n" + pop.srv.log()
    assert p.stat()[0] == 2
    p.dele(1)
    p.rset()
    assert p.stat()[0] == 2
    first = p.retr(1)[1]
    p.dele(1)
    assert p.quit() == b"+OK bye, 1 message left"
    assert len(maildir_names(pop, "cur")) + len(maildir_names(pop, "new")) == 1
    p = pop.login_tls()
    assert p.stat()[0] == 1
    assert p.retr(1)[1] != first
    p.quit()


def drop(p):
    """Cut the connection the way a crashing client would: no QUIT."""
    p.sock.shutdown(socket.SHUT_RDWR)
    p.file.close()
    p.sock.close()


def _try_login(pop):
    try:
        return pop.login_tls()
    except poplib.error_proto:
        return None


def test_in_use(pop):
    """A second session for the same mailbox gets -ERR [IN-USE]; another
    user's is not affected; after QUIT the mailbox is free at once."""
    a = pop.login_tls()
    with pytest.raises(poplib.error_proto) as e:
        pop.login_tls()
    assert e.value.args[0] == b"-ERR [IN-USE] mailbox locked"
    c = pop.login_tls(CAROL)
    c.quit()
    a.quit()
    b = pop.login_tls()
    b.quit()


def test_moves_new_to_cur_and_uidl_stable_across_restart(pop):
    """Seen mail moves from new/ to cur/ (NAME,W=SIZE:2,); UIDL is the name's
    unique part and does not change across sessions and a restart."""
    pop.deliver(b"Subject: a\r\n\r\na\r\n", count=1)
    pop.deliver(b"Subject: b\r\n\r\nb\r\n", count=2)
    names = maildir_names(pop, "new")
    p = pop.login_tls()
    uidl1 = p.uidl()[1]
    sizes = p.list()[1]
    p.quit()
    assert maildir_names(pop, "new") == []
    cur = maildir_names(pop, "cur")
    assert len(cur) == 2
    size_of = dict(l.split() for l in sizes)
    uid_of = dict(l.split() for l in uidl1)
    for number, uid in uid_of.items():
        name = uid.decode()
        if all(len(n) <= 70 for n in names):
            assert name in names
        assert "%s,W=%d:2," % (name, int(size_of[number])) in cur
    p = pop.login_tls()
    assert p.uidl()[1] == uidl1
    p.quit()
    assert pop.srv.stop() == 0
    pop.srv.restart()
    p = pop.login_tls()
    assert p.uidl()[1] == uidl1
    assert p.list()[1] == sizes
    p.quit()


def test_new_mail_waits_for_next_session(pop):
    pop.deliver(b"Subject: a\r\n\r\na\r\n", count=1)
    p = pop.login_tls()
    pop.deliver(b"Subject: b\r\n\r\nb\r\n", count=1)
    assert p.stat()[0] == 1
    p.quit()
    p = pop.login_tls()
    assert p.stat()[0] == 2
    p.quit()


# ---------------------------------------------------------------------------
# content

def test_top(pop):
    (stored,) = pop.deliver(b"Subject: top\r\nX-A: 1\r\n\r\nl1\r\nl2\r\n.l3\r\nl4\r\n", count=1)
    head, body = stored.split(b"\n\n", 1)
    p = pop.login_tls()
    resp, lines, _ = p.top(1, 0)
    assert resp == b"+OK top of message follows"
    assert lines == head.split(b"\n") + [b""]
    assert p.top(1, 3)[1] == head.split(b"\n") + [b"", b"l1", b"l2", b".l3"]
    assert p.top(1, 100)[1] == as_retrieved(stored)
    p.quit()


def test_dot_lines_are_stuffed(pop):
    """Lines starting with '.' are dot-stuffed on the wire (RFC 1939 3) and
    come back unchanged to the client."""
    message = b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nend\r\n"
    (stored,) = pop.deliver(message, count=1)
    assert stored.endswith(b"\n.\n..\n.x\nend\n")
    w = pop.wire()
    w.cmd(b"USER " + BOB.encode())
    assert w.cmd(b"PASS " + PASSWORD.encode()).startswith(b"+OK")
    assert w.cmd(b"RETR 1").startswith(b"+OK ")
    raw = w.multi()
    assert raw[-4:] == [b"..", b"...", b"..x", b"end"]
    assert w.cmd(b"QUIT").startswith(b"+OK")
    p = pop.login_tls()
    assert p.retr(1)[1] == as_retrieved(stored)
    p.quit()


def test_ten_megabyte_message(pop):
    """A 10 MB message goes in by SMTP and out by POP3 over TLS intact."""
    line = b"0123456789" * 9 + b"abcdefgh\r\n"
    body = line * (10 * 1024 * 1024 // len(line))
    message = b"Subject: big\r\n\r\n" + body
    (stored,) = pop.deliver(message, count=1)
    p = pop.login_tls()
    count, octets = p.stat()
    assert octets == len(stored) + stored.count(b"\n")
    t = time.monotonic()
    resp, lines, _ = p.retr(1)
    assert time.monotonic() - t < 60
    got = b"\n".join(lines) + b"\n"
    assert hashlib.sha256(got).digest() == hashlib.sha256(stored).digest()
    p.quit()


# ---------------------------------------------------------------------------
# refusals

def test_wrong_password_answered_late(pop):
    """-ERR [AUTH] after about a second, the failure logged without the
    password, and a right password afterwards still works."""
    p = pop.tls()
    p.user(BOB)
    t = time.monotonic()
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("not-the-password")
    elapsed = time.monotonic() - t
    assert e.value.args[0] == b"-ERR [AUTH] invalid user name or password"
    assert elapsed >= 0.9, elapsed
    # an unknown user is refused the same way, also late
    p.user("nobody@example.test")
    t = time.monotonic()
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("whatever")
    assert e.value.args[0] == b"-ERR [AUTH] invalid user name or password"
    assert time.monotonic() - t >= 0.9
    log = pop.srv.log()
    assert "auth failed user=bob@example.test client=[127.0.0.1]" in log
    assert "not-the-password" not in log and "whatever" not in log
    p.close()
    p = pop.login_tls()
    p.quit()


def test_login_before_tls_off_loopback():
    """USER/PASS/AUTH before TLS off loopback are refused: every address of
    127/8 is loopback and this test has no other interface, so the rule is
    covered by the engine's unit test (test_login_refused_without_tls)."""
    pytest.skip("needs a non-loopback client address; covered by tests/unit/test_pop3_server.c")


def test_malformed_commands(pop):
    w = pop.wire()
    assert w.cmd(b"USER " + b"a" * 300) == b"-ERR line too long"
    assert w.cmd(b"STAT\nQUIT") == b"-ERR invalid line: only CR LF ends a line"
    assert w.cmd(b"HELO x") == b"-ERR unknown command"
    assert w.cmd(b"STAT") == b"-ERR command not valid in this state"
    assert w.cmd(b"PASS x") == b"-ERR USER first"
    assert w.cmd(b"QUIT") == b"+OK bye"
    assert w.closed()


def test_pipelined_plaintext_after_stls_is_dropped(pop):
    """RFC 2595 4 / CVE-2011-0411: commands sent in the same packet as STLS
    are never executed."""
    raw = socket.create_connection(("127.0.0.1", pop.pop3_port), timeout=30)
    f = raw.makefile("rb")
    assert f.readline() == b"+OK tern POP3 ready\r\n"
    raw.sendall(b"STLS\r\nUSER " + BOB.encode() + b"\r\n")
    assert f.readline() == b"+OK begin TLS negotiation\r\n"
    tls = tls_context().wrap_socket(raw, server_hostname="localhost")
    tf = tls.makefile("rb")
    tls.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
    assert tf.readline() == b"-ERR USER first\r\n"
    tls.close()


def test_throttled_after_five_failures(pop):
    """Five failures from one address (here in parallel, so the test takes
    the longest delay, 8 s, once) throttle it: the next login, even with
    the right password, is refused at once with [SYS/TEMP] and not checked."""
    errors = []

    def fail_once():
        p = pop.tls()
        p.user(BOB)
        try:
            p.pass_("wrong")
        except poplib.error_proto as e:
            errors.append(e.args[0])
        p.close()

    threads = [threading.Thread(target=fail_once) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [b"-ERR [AUTH] invalid user name or password"] * 5
    p = pop.tls()
    p.user(BOB)
    t = time.monotonic()
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert time.monotonic() - t < 0.5
    assert e.value.args[0].startswith(b"-ERR [SYS/TEMP] too many failed logins")
    p.close()
    assert "auth throttled user=bob@example.test client=[127.0.0.1]" in pop.srv.log()


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail not installed (Debian package fetchmail)")
def test_fetchmail_retrieves_and_deletes(pop, tmp_path):
    """A real mail retriever, driven headless: fetchmail over pop3s hands
    the message to an MDA byte for byte, then deletes it on the server."""
    (stored,) = pop.deliver(b"From: a@x.test\r\nSubject: via fetchmail\r\n\r\nhello\r\n.dot\r\n", count=1)
    home = tmp_path / "fetchmail"
    home.mkdir()
    out = home / "delivered"
    rc = home / "fetchmailrc"
    rc.write_text("set no bouncemail\n"
                  "set invisible\n"
                  "poll 127.0.0.1 protocol POP3 port %d timeout 30\n"
                  "  user \"%s\" password \"%s\" ssl no sslcertck\n"
                  "  mda \"/bin/sh -c 'cat > %s'\"\n" % (pop.pop3s_port, BOB, PASSWORD, out))
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(home), FETCHMAILHOME=str(home))
    r = subprocess.run(["fetchmail", "--nodetach", "--nosyslog", "-f", str(rc), "-i", str(home / "ids")],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_bytes() == stored
    assert maildir_names(pop, "cur") == [] and maildir_names(pop, "new") == []


def test_files_from_other_maildir_writers(pop):
    """Messages tern did not write: one already in cur/ with CR LF line
    ends, one in new/ without a final line end, one with a name too long
    for a unique-id (RFC 1939 7: at most 70 octets). Sizes are as sent,
    contents are sent with CR LF, unique-ids are stable."""
    box = pop.srv.maildir(DOMAIN, "bob")
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    (box / "cur" / "1600000000.M1P1.other:2,S").write_bytes(b"Subject: crlf\r\n\r\nbody\r\n")
    (box / "new" / "1600000001.M1P1.other").write_bytes(b"Subject: no eol\n\n.last")
    long_name = "1600000002.M1P1." + "h" * 80
    (box / "new" / long_name).write_bytes(b"Subject: long\n\nx\n")
    p = pop.login_tls()
    assert p.list()[1] == [b"1 23", b"2 26", b"3 20"]
    assert p.retr(1)[1] == [b"Subject: crlf", b"", b"body"]
    assert p.retr(2)[1] == [b"Subject: no eol", b"", b".last"]
    uidl = p.uidl()[1]
    assert uidl[0] == b"1 1600000000.M1P1.other"
    assert uidl[1] == b"2 1600000001.M1P1.other"
    assert re.match(rb"^3 X[0-9a-f]{32}$", uidl[2])
    p.quit()
    assert sorted(maildir_names(pop, "cur")) == sorted(["1600000000.M1P1.other:2,S", "1600000001.M1P1.other,W=26:2,",
                                                        long_name + ",W=20:2,"])
    p = pop.login_tls()
    assert p.uidl()[1] == uidl
    p.quit()


def test_pipelined_commands(pop):
    """RFC 2449 6.6: commands sent together are answered in order, messages
    included."""
    (stored,) = pop.deliver(b"Subject: p\r\n\r\n.x\r\n", count=1)
    w = pop.wire()
    w.send(b"USER %s\r\nPASS %s\r\nRETR 1\r\nTOP 1 0\r\nRETR 1\r\nNOOP\r\nQUIT\r\n" % (BOB.encode(), PASSWORD.encode()))
    assert w.line() == b"+OK send PASS"
    assert w.line().startswith(b"+OK maildrop has 1 message")
    body = as_retrieved(stored)
    assert w.line().startswith(b"+OK ")
    assert [l[1:] if l.startswith(b".") else l for l in w.multi()] == body
    assert w.line() == b"+OK top of message follows"
    assert w.multi() == as_retrieved(stored.split(b"\n\n")[0] + b"\n\n")
    assert w.line().startswith(b"+OK ")
    assert [l[1:] if l.startswith(b".") else l for l in w.multi()] == body
    assert w.line() == b"+OK"
    assert w.line() == b"+OK bye, 1 message left"
    assert w.closed()
