"""The Sender Rewriting Scheme of forwarding aliases (CONTRACT.md, `alias`).

A small network on loopback, as in test_relay.py: dnsmasq on 127.0.0.1 gives
b.test's MX (tern B on 127.0.0.22) and c.test's MX (aiosmtpd on 127.0.0.23);
tern A (127.0.0.21, domains a.test and a2.test) has aliases that forward to
bob@b.test. All listen on one common port (A's `smtp-port`).

The test computes SRS addresses itself from A's DATA-DIR/srs-secret, as the
contract describes them:

    SRS0=HASH=TT=DOMAIN=LOCAL@FIRSTDOMAIN
    TT   = base32 chars (days>>5)&31, days&31 of (days since epoch mod 1024)
    HASH = base32(HMAC-SHA256(secret, lower("TT=DOMAIN=LOCAL")))[:8]
"""

import base64
import email
import hashlib
import hmac
import os
import re
import stat
import subprocess
import time

import pytest

from conftest import TERN_BIN, expect, poll_until
from relay_helpers import (AddrTernServer, AiosmtpdPeer, Dnsmasq, check_servers, crlf_to_lf,
                           free_common_port, take_fields, take_trace)

A_ADDR = "127.0.0.21"
B_ADDR = "127.0.0.22"
C_ADDR = "127.0.0.23"      # aiosmtpd, c.test's exchanger
ALL_ADDRS = [A_ADDR, B_ADDR, C_ADDR]

RECORDS = ["--mx-host=b.test,mx.b.test,10", "--host-record=mx.b.test,%s" % B_ADDR,
           "--mx-host=c.test,mx.c.test,10", "--host-record=mx.c.test,%s" % C_ADDR]

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
DAY = 86400
EX_CONFIG = 78

SRS_RX = re.compile(r"^SRS0=([A-Za-z2-7]{8})=([A-Za-z2-7]{2})=([^=@]+)=(.+)@([^@]+)$")


# --------------------------------------------------------------------------
# the scheme, computed independently of tern

def today():
    return int(time.time()) // DAY


def stamp(day):
    d = day % 1024
    return B32[(d >> 5) & 31] + B32[d & 31]


def srs_hash(secret, tt, domain, local):
    text = ("%s=%s=%s" % (tt, domain, local)).lower().encode()
    mac = hmac.new(secret, text, hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:8]


def srs_address(secret, day, sender, ours="a.test"):
    local, domain = sender.rsplit("@", 1)
    tt = stamp(day)
    return "SRS0=%s=%s=%s=%s@%s" % (srs_hash(secret, tt, domain, local), tt, domain, local, ours)


def verify_srs(secret, address, sender, ours="a.test", days=None):
    """Assert that address is a genuine SRS form of sender at ours, stamped
    with one of `days` (default: today, or yesterday across midnight)."""
    m = SRS_RX.match(address)
    assert m, "not an SRS0 address: %r" % address
    got_hash, tt, domain, local, at = m.groups()
    assert (local, domain) == tuple(sender.rsplit("@", 1)), "%r does not carry %r" % (address, sender)
    assert at == ours, "%r must be an address of %s" % (address, ours)
    if days is None:
        days = (today(), today() - 1)
    assert tt.upper() in [stamp(d) for d in days], "stamp %r, expected one of %r" % (tt, [stamp(d) for d in days])
    want = srs_hash(secret, tt, domain, local)
    assert got_hash.upper() == want, "hash %r does not verify (expected %r) for %r" % (got_hash, want, address)


def read_secret(server):
    path = server.data_dir / "srs-secret"
    st = os.stat(path)
    assert stat.S_ISREG(st.st_mode), path
    assert stat.S_IMODE(st.st_mode) == 0o600, "%s has mode %o" % (path, stat.S_IMODE(st.st_mode))
    data = path.read_bytes()
    assert len(data) == 32, "%s holds %d octets" % (path, len(data))
    return data


@pytest.fixture(autouse=True)
def away_from_midnight():
    """Stamps computed here must be those tern computes: keep clear of a UTC
    day boundary during a test (waits at most ~45 s, once in a blue moon)."""
    left = DAY - time.time() % DAY
    if left < 40:
        time.sleep(left + 2)


# --------------------------------------------------------------------------
# the network

@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = Dnsmasq(tmp_path_factory.mktemp("srsdns"), RECORDS, probe="b.test").start()
    yield d
    d.stop()


class Net:
    def __init__(self, tmp_path, dns):
        self.tmp_path = tmp_path
        self.dns = dns
        self.port = free_common_port(ALL_ADDRS)
        self.servers = []
        self.peers = []

    def server(self, subdir, start=True, **kw):
        base = self.tmp_path / subdir
        base.mkdir(parents=True, exist_ok=True)
        srv = AddrTernServer(base, port=self.port, **kw)
        self.servers.append(srv)
        return srv.start() if start else srv

    def a(self, aliases=(("fwd@a.test", "bob@b.test"),), **kw):
        return self.server("a", listen_addr=A_ADDR, hostname="mx.a.test", domains=["a.test", "a2.test"],
                           aliases=list(aliases),
                           extra_lines=["dns 127.0.0.1:%d" % self.dns.port, "smtp-port %d" % self.port,
                                        "queue-retry 1s 2s"], **kw)

    def b(self):
        return self.server("b", listen_addr=B_ADDR, hostname="mx.b.test", domains=["b.test"])

    def c(self):
        p = AiosmtpdPeer(C_ADDR, self.port)
        self.peers.append(p)
        return p.start()

    def close(self):
        for p in reversed(self.peers):
            p.stop()
        return check_servers(self.servers)


@pytest.fixture
def net(tmp_path, dns):
    n = Net(tmp_path, dns)
    yield n
    problems = n.close()
    if problems:
        pytest.fail("\n".join(problems))


def message(subject, sender="carol@c.test"):
    return (b"From: <" + sender.encode() + b">\r\nTo: <fwd@a.test>\r\nSubject: " + subject.encode() +
            b"\r\nMessage-ID: <" + ("%.6f" % time.time()).encode() + b"@c.test>\r\n"
            b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\n"
            b"Line one of " + subject.encode() + b".\r\n"
            b"..a line that began with a dot (stuffed here)\r\n"
            b"\tindented   \r\n\r\nlast line\r\n")


def send(server, sender, rcpts, content):
    """One transaction on server's smtp role (content already dot-stuffed)."""
    return server.submit(sender, rcpts, content)


def unstuffed(content):
    return re.sub(rb"(?m)^\.\.", b".", content)


def by_subject(files):
    out = {}
    for raw in files:
        subject = email.message_from_bytes(raw)["Subject"]
        assert subject not in out, "delivered twice: %r" % subject
        out[subject] = raw
    return out


def return_path(raw):
    first = raw.split(b"\n", 1)[0].decode()
    m = re.match(r"^Return-Path: <(.*)>$", first)
    assert m, "first line is not a Return-Path: %r" % first
    return m.group(1)


def forward_one(net, a, b, subject):
    """carol@c.test -> fwd@a.test -> bob@b.test; returns (SRS sender, file, content)."""
    content = message(subject)
    send(a, "carol@c.test", ["fwd@a.test"], content)
    got = poll_until(lambda: by_subject(b.maildir_messages("b.test", "bob")).get(subject), 20)
    assert got, "not relayed to B\n--- A ---\n%s\n--- B ---\n%s" % (a.full_log(), b.full_log())
    return return_path(got), got, content


def rcpt(server, address, sender=""):
    """MAIL FROM:<sender> then RCPT TO:<address> in a fresh session; the reply."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<%s>" % sender), r"^250 ")
        reply = w.cmd("RCPT TO:<%s>" % address)
        w.cmd("QUIT")
    return reply


def bounce_to(server, address, subject):
    """A bounce (null sender) to address; returns the content sent."""
    content = (b"From: MAILER-DAEMON@b.test\r\nTo: <" + address.encode() + b">\r\nSubject: " +
               subject.encode() + b"\r\n\r\nYour message could not be delivered.\r\n")
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<>"), r"^250 ")
        expect(w.cmd("RCPT TO:<%s>" % address), r"^250 ")
        expect(w.cmd("DATA"), r"^354")
        w.send(content + b".\r\n")
        expect(w.read_reply(), r"^250 ")
        w.cmd("QUIT")
    return content


def wait_envelope(peer, subject, timeout=20):
    def find():
        for env in peer.envelopes:
            if b"\nSubject: " + subject.encode() + b"\r\n" in env["content"]:
                return env
        return None
    return poll_until(find, timeout)


# --------------------------------------------------------------------------
# tests

def test_forwarded_mail_leaves_with_a_verifiable_srs_sender(net):
    """A foreign sender's mail forwarded by an alias arrives at B with an SRS
    Return-Path of A's first domain that verifies with A's secret, the
    message unchanged; senders of A's own domains and the null sender are
    not rewritten; the copy an alias delivers locally keeps the sender."""
    b = net.b()
    a = net.a(aliases=[("fwd@a.test", "bob@b.test"), ("fwd2@a2.test", "bob@b.test"),
                       ("both@a.test", "bob@b.test,keep@a.test")])
    secret = read_secret(a)         # made at the first start, 32 octets, 0600

    cases = [  # subject, sender, alias, expected Return-Path at B (None: SRS of the sender)
        ("foreign", "carol@c.test", "fwd@a.test", None),
        ("local sender", "dave@a.test", "fwd@a.test", "dave@a.test"),
        ("second local domain", "erin@a2.test", "fwd@a.test", "erin@a2.test"),
        ("null sender", "", "fwd@a.test", ""),
        ("alias of the second domain", "carol@c.test", "fwd2@a2.test", None),
        ("local and remote targets", "carol@c.test", "both@a.test", None),
        ("equals sign in the local part", "x=y+tag@c.test", "fwd@a.test", None),
    ]
    sent = {}
    for subject, sender, alias, _ in cases:
        sent[subject] = message(subject, sender or "mailer-daemon@c.test")
        send(a, sender, [alias], sent[subject])

    files = poll_until(lambda: (lambda f: f if len(f) >= len(cases) else None)(
        by_subject(b.maildir_messages("b.test", "bob"))), 20)
    assert files, "B got %d of %d messages\n--- A ---\n%s\n--- B ---\n%s" % (
        len(b.maildir_messages("b.test", "bob")), len(cases), a.full_log(), b.full_log())
    for subject, sender, alias, expected in cases:
        raw = files[subject]
        rp = return_path(raw)
        if expected is None:
            verify_srs(secret, rp, sender, ours="a.test")
        else:
            assert rp == expected, "%s: Return-Path %r, expected %r (not rewritten)" % (subject, rp, expected)
        fields, rest = take_trace(raw, 4)
        assert fields[1][:2] == ("Delivered-To", "bob@b.test"), fields
        assert fields[2][0] == "Received" and "by mx.b.test (tern)" in fields[2][1], fields
        assert fields[3][0] == "Received" and "by mx.a.test (tern)" in fields[3][1], fields
        assert rest == crlf_to_lf(unstuffed(sent[subject])), "%s: body changed:\n%r\n!=\n%r" % (
            subject, rest, crlf_to_lf(unstuffed(sent[subject])))
        if expected is None:
            assert b.log_lines(r" accepted from=<%s> " % re.escape(rp)), b.full_log()

    # the local copy of both@a.test keeps the original sender
    (local_copy,) = a.wait_for_mail("a.test", "keep", 1)
    assert return_path(local_copy) == "carol@c.test", local_copy[:200]
    assert a.maildir_messages("a.test", "keep") == [local_copy]
    a.wait_queue_empty()
    assert read_secret(a) == secret


def test_bounce_to_the_srs_address_returns_to_the_original_sender(net):
    """The SRS Return-Path B saw, used as RCPT TO on A's smtp role with the
    null sender by an unauthenticated client (a bounce), is accepted and A
    relays the bounce to carol@c.test."""
    b = net.b()
    c = net.c()
    a = net.a()
    srs, _, _ = forward_one(net, a, b, "to be bounced")
    verify_srs(read_secret(a), srs, "carol@c.test")

    bounce = bounce_to(a, srs, "bounce one")
    env = wait_envelope(c, "bounce one")
    assert env, "bounce not relayed to c.test\n--- A ---\n%s" % a.full_log()
    assert env["mail_from"] in ("", "<>"), env["mail_from"]
    assert env["rcpt_tos"] == ["carol@c.test"], env["rcpt_tos"]
    assert env["helo"] == "mx.a.test"
    fields, rest = take_fields(crlf_to_lf(env["content"]), 1)
    assert fields[0][0] == "Received" and "by mx.a.test (tern)" in fields[0][1], fields
    assert rest == crlf_to_lf(bounce)
    a.wait_log(r"to=<carol@c\.test> status=sent relay=mx\.c\.test")
    a.wait_queue_empty()
    assert not a.all_mailboxes(), "nothing may be delivered on A: %r" % a.all_mailboxes()
    assert len(c.envelopes) == 1, c.envelopes


def test_invalid_srs_addresses_are_refused_at_rcpt(net):
    """Forged, altered, expired, future and malformed SRS0 addresses get
    550 5.1.1 at RCPT; genuine ones within the window are accepted (any case,
    up to 21 days old, 1 day ahead)."""
    a = net.a()
    secret = read_secret(a)
    d = today()
    good = srs_address(secret, d, "carol@c.test")
    m = SRS_RX.match(good)
    h, tt = m.group(1), m.group(2)
    other_char = "B" if h[0] != "B" else "C"
    other_tt = stamp(d - 1)
    other_secret = bytes(reversed(secret)) if secret != bytes(reversed(secret)) else b"x" * 32

    accepted = {
        "genuine, today": good,
        "genuine, lower case": good.lower(),
        "genuine, 21 days old": srs_address(secret, d - 21, "carol@c.test"),
        "genuine, 1 day ahead": srs_address(secret, d + 1, "carol@c.test"),
        "genuine, at the second local domain": srs_address(secret, d, "carol@c.test", ours="a2.test"),
        "genuine, '=' in the local part": srs_address(secret, d, "x=y@c.test"),
    }
    refused = {
        "hash changed": good.replace("SRS0=" + h, "SRS0=" + other_char + h[1:], 1),
        "stamp changed": good.replace("=%s=" % tt, "=%s=" % other_tt, 1),
        "local part changed": good.replace("=carol@", "=carlo@", 1),
        "domain changed": good.replace("=c.test=", "=d.test=", 1),
        "other secret": srs_address(other_secret, d, "carol@c.test"),
        "30 days old": srs_address(secret, d - 30, "carol@c.test"),
        "22 days old": srs_address(secret, d - 22, "carol@c.test"),
        "2 days ahead": srs_address(secret, d + 2, "carol@c.test"),
        "garbage after SRS0=": "SRS0=garbage@a.test",
        "SRS0= alone": "SRS0=@a.test",
        "hash too short": good.replace("SRS0=" + h, "SRS0=" + h[:7], 1),
        "no local part": "SRS0=%s=%s=c.test=@a.test" % (srs_hash(secret, tt, "c.test", ""), tt),
    }
    problems = []
    for what, address in accepted.items():
        r = rcpt(a, address)
        if r.code != 250:
            problems.append("%s <%s>: expected 250, got %r" % (what, address, r))
    for what, address in refused.items():
        r = rcpt(a, address)
        if not r.line.startswith("550 5.1.1"):
            problems.append("%s <%s>: expected 550 5.1.1, got %r" % (what, address, r))
    # without a valid SRS address the same client may not relay to carol
    r = rcpt(a, "carol@c.test")
    if r.code // 100 != 5:
        problems.append("plain relay to carol@c.test: expected a refusal, got %r" % r)
    assert not problems, "\n".join(problems) + "\n--- A ---\n" + a.full_log()
    assert not a.queue_messages()


def test_secret_survives_a_restart_and_a_bad_secret_stops_the_start(net):
    """The secret file is kept across a restart, so an SRS address made before
    still reverses after it; a secret file of the wrong size or mode makes
    `tern serve` exit 78 naming the file, which it leaves as it was."""
    b = net.b()
    c = net.c()
    a = net.a()
    path = a.data_dir / "srs-secret"
    secret = read_secret(a)
    srs, _, _ = forward_one(net, a, b, "before restart")
    verify_srs(secret, srs, "carol@c.test")

    assert a.stop() == 0
    a.restart()
    assert read_secret(a) == secret, "the secret changed across a restart"
    bounce_to(a, srs, "after restart")
    env = wait_envelope(c, "after restart")
    assert env and env["rcpt_tos"] == ["carol@c.test"], "not reversed after the restart\n%s" % a.full_log()
    srs2, _, _ = forward_one(net, a, b, "after restart, forwarded")
    verify_srs(secret, srs2, "carol@c.test")
    a.wait_queue_empty()
    assert a.stop() == 0

    bad = [("31 octets", secret[:31], 0o600),
           ("33 octets", secret + b"x", 0o600),
           ("empty", b"", 0o600),
           ("mode 0644", secret, 0o644),
           ("mode 0640", secret, 0o640)]
    problems = []
    for what, data, mode in bad:
        path.write_bytes(data)
        os.chmod(path, mode)
        try:
            r = subprocess.run([TERN_BIN, "serve", "-c", str(a.conf_path)], stdin=subprocess.DEVNULL,
                               capture_output=True, cwd=str(a.tmp_path), timeout=20)
        except subprocess.TimeoutExpired:
            problems.append("%s: tern serve still running after 20 s" % what)
            continue
        out = (r.stdout + r.stderr).decode(errors="replace")
        if r.returncode != EX_CONFIG:
            problems.append("%s: exit status %r, expected %d; output:\n%s" % (what, r.returncode, EX_CONFIG, out))
        elif str(path) not in out:
            problems.append("%s: the message does not name %s:\n%s" % (what, path, out))
        if path.read_bytes() != data or stat.S_IMODE(os.stat(path).st_mode) != mode:
            problems.append("%s: tern changed the secret file" % what)
    assert not problems, "\n".join(problems)

    # the good file back: tern starts and the old address still reverses
    path.write_bytes(secret)
    os.chmod(path, 0o600)
    a.restart()
    r = rcpt(a, srs)
    assert r.code == 250, r


# Senders of 47 and 48 octets (RFC 5321 allows 64 + 1 + 255): their SRS local
# parts are 17 + 47 = 64 and 17 + 48 = 65 octets. tern's own srs.h allows SRS
# addresses past the 64-octet local part; the forward and the bounce back must
# work for both.
LONG_SENDERS = ["newsletter-notifications-no-reply.dept.x@c.test",
                "newsletter-notifications-no-reply.dept.xy@c.test"]


def srs_local_len(sender):
    return len("SRS0=HHHHHHHH=TT=") + len(sender.replace("@", "="))


@pytest.mark.parametrize("sender", LONG_SENDERS, ids=lambda s: "srs-local-%d" % srs_local_len(s))
def test_long_sender_is_forwarded_with_srs(net, sender):
    """The alias forwards mail of a long (but valid) sender address to an
    aiosmtpd exchanger: with the SRS sender while its local part fits in
    the 64 octets of RFC 5321 4.5.3.1.1, else (receivers refuse longer
    local parts) with the original sender, logged; never bounced."""
    c = net.c()
    a = net.a(aliases=[("fwdc@a.test", "dora@c.test")])
    secret = read_secret(a)
    send(a, sender, ["fwdc@a.test"], message("long sender", sender))

    def forwarded():
        return [e for e in c.envelopes if e["rcpt_tos"] == ["dora@c.test"]] or None

    got = poll_until(lambda: forwarded() or a.log_lines(r"to=<dora@c\.test> status=bounced"), 20)
    assert got and forwarded(), (
        "sender %s (%d octets, SRS local part %d octets) forwarded to dora@c.test: not received; "
        "A's log:\n%s" % (sender, len(sender), srs_local_len(sender),
                          "\n".join(a.log_lines(r"status=|accepted from="))))
    (env,) = forwarded()
    if srs_local_len(sender) <= 64:
        verify_srs(secret, env["mail_from"], sender)
        assert len(env["mail_from"].rsplit("@", 1)[0]) == srs_local_len(sender)
    else:
        assert env["mail_from"] == sender, env
        assert a.log_lines(r"relay srs=unchanged reason=\"SRS local part over 64 octets\"")


@pytest.mark.parametrize("sender", [s for s in LONG_SENDERS if srs_local_len(s) <= 64],
                         ids=lambda s: "srs-local-%d" % srs_local_len(s))
def test_srs_address_of_a_long_sender_reverses(net, sender):
    """A genuine SRS address (computed with A's secret) of a long sender is
    accepted at RCPT and the bounce reaches the original sender."""
    c = net.c()
    a = net.a()
    srs = srs_address(read_secret(a), today(), sender)
    r = rcpt(a, srs)
    assert r.code == 250, "RCPT TO:<%s> (a %d-octet SRS local part of sender %s): %r" % (
        srs, srs_local_len(sender), sender, r)
    bounce_to(a, srs, "long bounce")
    env = wait_envelope(c, "long bounce")
    assert env and env["rcpt_tos"] == [sender], "bounce not returned to %s\n%s" % (sender, a.full_log())
