"""Outbound relay (issue 3): tern A on 127.0.0.2 sends to exchangers found
through a real DNS server (dnsmasq on 127.0.0.1, `dns` keyword) on the common
port P (`smtp-port`): tern B on 127.0.0.3, nothing at all on 127.0.0.4, a
scripted peer that vanishes mid-DATA on 127.0.0.5, aiosmtpd on 127.0.0.6 and
Postfix's smtp-sink on 127.0.0.7.

Mail enters A's queue through aliases on A that point to remote addresses;
the envelope sender alice@a.test is local to A (no users file: every local
part has a Maildir), so bounces land in A's DATA/mail/a.test/alice/new/.
"""

import email
import email.policy
import re
import time

import pytest

from conftest import expect
from relay_helpers import (AddrTernServer, AiosmtpdPeer, Dnsmasq, ScriptedPeer, SmtpSinkPeer,
                           check_servers, crlf_to_lf, ensure_smtp_sink, free_common_port, take_fields,
                           take_trace)

A_ADDR = "127.0.0.2"
B_ADDR = "127.0.0.3"
DEAD_ADDR = "127.0.0.4"     # nothing listens here (or a connection counter)
DROP_ADDR = "127.0.0.5"
AIO_ADDR = "127.0.0.6"
SINK_ADDR = "127.0.0.7"
ALL_ADDRS = [A_ADDR, B_ADDR, DEAD_ADDR, DROP_ADDR, AIO_ADDR, SINK_ADDR]

SENDER = "alice@a.test"
RETRY_MIN, RETRY_MAX = 1, 2          # queue-retry 1s 2s on A
B_DOMAINS = ["b.test", "pref.test", "order.test", "implicit.test"]

RECORDS = [
    # b.test: one exchanger, tern B
    "--mx-host=b.test,mx.b.test,10", "--host-record=mx.b.test,%s" % B_ADDR,
    # pref.test: the preferred exchanger is dead, the second is B
    "--mx-host=pref.test,mx1.pref.test,10", "--mx-host=pref.test,mx2.pref.test,20",
    "--host-record=mx1.pref.test,%s" % DEAD_ADDR, "--host-record=mx2.pref.test,%s" % B_ADDR,
    # order.test: B preferred, a backup on 127.0.0.4 that must not be used
    "--mx-host=order.test,mx.b.test,10", "--mx-host=order.test,backup.order.test,20",
    "--host-record=backup.order.test,%s" % DEAD_ADDR,
    # null MX (RFC 7505), implicit MX (no MX, an A record)
    "--mx-host=nullmx.test,.,0",
    "--host-record=implicit.test,%s" % B_ADDR,
    # foreign peers
    "--mx-host=drop.test,mx.drop.test,10", "--host-record=mx.drop.test,%s" % DROP_ADDR,
    "--mx-host=aio.test,mx.aio.test,10", "--host-record=mx.aio.test,%s" % AIO_ADDR,
    "--mx-host=sink.test,mx.sink.test,10", "--host-record=mx.sink.test,%s" % SINK_ADDR,
    # nothing.test is not published: NXDOMAIN
]


# --------------------------------------------------------------------------
# the network

@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = Dnsmasq(tmp_path_factory.mktemp("dns"), RECORDS, probe="b.test").start()
    yield d
    d.stop()


class Net:
    def __init__(self, tmp_path, dns):
        self.tmp_path = tmp_path
        self.dns = dns
        self.port = free_common_port(ALL_ADDRS)
        self.servers = []
        self.peers = []

    def server(self, subdir, **kw):
        base = self.tmp_path / subdir
        base.mkdir(parents=True, exist_ok=True)
        srv = AddrTernServer(base, port=self.port, max_message_size="10M", **kw)
        self.servers.append(srv)
        return srv.start()

    def a(self, aliases=(), extra=()):
        """The relaying server: a.test, aliases to remote addresses."""
        return self.server("a", listen_addr=A_ADDR, hostname="mx.a.test", domains=["a.test"],
                           aliases=list(aliases),
                           extra_lines=["dns 127.0.0.1:%d" % self.dns.port, "smtp-port %d" % self.port,
                                        "queue-retry %ds %ds" % (RETRY_MIN, RETRY_MAX)] + list(extra))

    def b(self, users=None, addr=B_ADDR, hostname="mx.b.test", domains=B_DOMAINS, subdir="b"):
        """A receiving tern (B by default)."""
        return self.server(subdir, listen_addr=addr, hostname=hostname, domains=list(domains), users=users)

    def peer(self, p):
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


def make_message(subject, body_lines=None):
    """A message in CR LF form (not dot-stuffed), with lines that test
    dot-stuffing on the way out and blanks that must survive."""
    if body_lines is None:
        body_lines = [b"Hello from A.",
                      b".a line starting with a dot",
                      b"..two dots",
                      b".",
                      b"\tindented, trailing blanks   ",
                      b"",
                      b"x" * 900,
                      b"last line"]
    stamp = ("%.6f" % time.time()).encode()
    head = [b"From: Alice <alice@a.test>",
            b"To: friends <fwd@a.test>",
            b"Subject: " + subject.encode(),
            b"Message-ID: <" + stamp + b"." + subject.replace(" ", "-").encode() + b"@a.test>",
            b"Date: Sat, 28 Nov 2026 12:00:00 +0000",
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain; charset=us-ascii"]
    return b"\r\n".join(head + [b""] + body_lines) + b"\r\n"


def submit(server, rcpts, message, sender=SENDER):
    """Submit to `server` over SMTP, dot-stuffing the message; the queue id."""
    stuffed = re.sub(rb"(?m)^\.", b"..", message)
    return server.submit(sender, rcpts, stuffed)


def check_relayed(delivered, local, domain, a_qid, original, sender=SENDER, b_host="mx.b.test"):
    """A file in B's Maildir: Return-Path, Delivered-To, B's Received, A's
    Received, then the original message byte for byte (LF line ends)."""
    fields, rest = take_trace(delivered, 4)
    (n0, v0, _), (n1, v1, _), (n2, v2, _), (n3, v3, _) = fields
    assert (n0, v0) == ("Return-Path", "<%s>" % sender), fields
    assert (n1, v1) == ("Delivered-To", "%s@%s" % (local, domain)), fields
    assert n2 == "Received" and re.search(r"^from mx\.a\.test\b", v2) and ("by %s (tern)" % b_host) in v2, \
        "first Received must be B's, naming A's EHLO: %r" % v2
    assert n3 == "Received" and re.search(r"^from client\.test\b", v3) and "by mx.a.test (tern)" in v3 \
        and re.search(r"\bid %s\b" % a_qid, v3), "second Received must be A's, with A's queue id %s: %r" % (a_qid, v3)
    assert rest == crlf_to_lf(original), "message body changed on the way:\n%r\n!=\n%r" % (
        rest[:800], crlf_to_lf(original)[:800])


def parse_bounce(raw):
    """The bounce as an email.message, with the checks every DSN must pass:
    null sender, from MAILER-DAEMON, multipart/report of the three parts.
    Returns (message, per-message fields, [per-recipient fields], headers)."""
    assert raw.startswith(b"Return-Path: <>\n"), "bounce must have the null sender: %r" % raw[:200]
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert "MAILER-DAEMON@mx.a.test" in msg["From"], msg["From"]
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == \
        ["text/plain", "message/delivery-status", "text/rfc822-headers"], [p.get_content_type() for p in parts]
    groups = parts[1].get_payload()
    assert len(groups) >= 2, "delivery-status needs per-message and per-recipient fields: %r" % groups
    per_msg, per_rcpt = groups[0], groups[1:]
    assert per_msg["Reporting-MTA"] == "dns; mx.a.test", per_msg["Reporting-MTA"]
    headers = parts[2].get_payload()
    if isinstance(headers, list):       # some parsers make a message of it
        headers = headers[0].as_string()
    return msg, per_msg, per_rcpt, headers


def a_log_for(a, rcpt, status):
    return a.log_lines(r"to=<%s> status=%s\b" % (re.escape(rcpt), status))


# --------------------------------------------------------------------------
# tests

def test_alias_mail_reaches_b_with_both_received_headers(net):
    """A's alias points to two addresses at b.test (MX mx.b.test, tern B).
    Both arrive in B's Maildirs with B's and A's Received headers and the
    message byte for byte; both go in one transaction; A's queue empties."""
    b = net.b()
    a = net.a(aliases=[("fwd@a.test", "bob@b.test,carol@b.test")])
    original = make_message("relay basic")
    qid = submit(a, ["fwd@a.test"], original)
    for local in ("bob", "carol"):
        (delivered,) = b.wait_for_mail("b.test", local, 1)
        check_relayed(delivered, local, "b.test", qid, original)
    a.wait_queue_empty()
    for rcpt in ("bob@b.test", "carol@b.test"):
        sent = a.wait_log(r"%s to=<%s> status=sent relay=mx\.b\.test reply=\"250 " % (qid, re.escape(rcpt)))
        assert len(sent) == 1, sent
    accepted = b.log_lines(r" accepted from=<alice@a\.test>")
    assert len(accepted) == 1 and "nrcpt=2" in accepted[0], \
        "one transaction for both b.test recipients expected:\n%s" % b.log()
    assert len(b.maildir_messages("b.test", "bob")) == 1 and len(b.maildir_messages("b.test", "carol")) == 1
    assert not a.all_mailboxes(), "nothing may bounce: %r" % a.all_mailboxes()


def test_starttls_is_used_when_offered(net):
    """B offers STARTTLS (self-signed certificate): A uses it, says so in its
    log (relay domain=b.test tls="TLSv1.3 ..."), and B's Received says ESMTPS."""
    b = net.b()
    a = net.a(aliases=[("fwd@a.test", "bob@b.test")])
    original = make_message("tls")
    qid = submit(a, ["fwd@a.test"], original)
    (delivered,) = b.wait_for_mail("b.test", "bob", 1)
    a.wait_log(r"%s relay domain=b\.test tls=\"TLSv1\.[23] \S+" % qid)
    b.wait_log(r"tls version=TLSv1\.[23]")
    fields, _ = take_trace(delivered, 3)
    assert "with ESMTPS" in fields[2][1], "B's Received should show TLS: %r" % fields[2][1]


def test_connection_is_reused_for_the_next_message(net):
    """Two messages in a row to the same exchanger (well within the 10 s
    idle time): one TCP connection at B, two transactions."""
    b = net.b()
    a = net.a(aliases=[("fwd@a.test", "bob@b.test")])
    for i in range(2):
        qid = submit(a, ["fwd@a.test"], make_message("reuse %d" % i))
        b.wait_for_mail("b.test", "bob", i + 1)
        a.wait_log(r"%s to=<bob@b\.test> status=sent " % qid)     # A is done with the connection
    accepted = b.log_lines(r" accepted from=<alice@a\.test>")
    assert len(accepted) == 2, b.log()
    sessions = {re.search(r"session=(\S+)", l).group(1) for l in accepted}
    assert len(sessions) == 1, "expected both messages over one reused connection, B saw sessions %s:\n%s" % (
        sorted(sessions), b.log())


def test_b_ends_the_tls_session_when_a_quits(net):
    """A keeps its STARTTLS connection to B for reuse; when A stops, it sends
    QUIT and closes. B must end that session (its log says disconnect)
    rather than keep it forever."""
    b = net.b()
    a = net.a(aliases=[("fwd@a.test", "bob@b.test")])
    qid = submit(a, ["fwd@a.test"], make_message("session end"))
    b.wait_for_mail("b.test", "bob", 1)
    a.wait_log(r"%s relay domain=b\.test tls=" % qid)
    (accepted,) = b.log_lines(r" accepted from=<alice@a\.test>")
    sid = re.search(r"session=(\S+)", accepted).group(1)
    assert a.stop() == 0
    b.wait_log(r" %s disconnect from " % sid, timeout=5)


def test_cached_connection_survives_a_restart_of_b(net):
    """B restarts while A holds an idle connection to it: B stops at once
    (telling the idle client 421), and A's next message goes over a new
    connection, delivered without a bounce."""
    b = net.b()
    a = net.a(aliases=[("fwd@a.test", "bob@b.test")])
    submit(a, ["fwd@a.test"], make_message("before restart"))
    b.wait_for_mail("b.test", "bob", 1)
    a.wait_queue_empty()
    started = time.monotonic()
    status = b.stop()
    took = time.monotonic() - started
    b.restart()
    original = make_message("after restart")
    qid = submit(a, ["fwd@a.test"], original)
    delivered = b.wait_for_mail("b.test", "bob", 2, timeout=RETRY_MAX + 5)
    a.wait_log(r"%s to=<bob@b\.test> status=sent relay=mx\.b\.test" % qid)
    a.wait_queue_empty()
    assert not a.all_mailboxes(), "nothing may bounce"
    assert any(crlf_to_lf(original) in m for m in delivered)
    assert status == 0, "B with an idle (cached) TLS connection from A did not stop on SIGTERM: %s after %.1fs\n%s" % (
        status, took, b.log())


def test_mail_waits_while_b_is_down_then_arrives_on_retry(net):
    """B stopped: the message stays in A's queue (queue/msg/ not empty), the
    log says deferred with retry_in=1s, then 2s (queue-retry 1s 2s). B
    started: it arrives within the retry schedule, once."""
    b = net.b()
    assert b.stop() == 0
    a = net.a(aliases=[("fwd@a.test", "bob@b.test")])
    original = make_message("deferred")
    qid = submit(a, ["fwd@a.test"], original)
    first = a.wait_log(r"%s to=<bob@b\.test> status=deferred reason=\"[^\"]+\" retry_in=\d+s" % qid)
    assert "retry_in=%ds" % RETRY_MIN in first[0], "first retry must wait queue-retry MIN: %s" % first[0]
    assert a.queue_messages(), "the message must wait in A's queue/msg/"
    deferred = a.wait_log(r"%s to=<bob@b\.test> status=deferred" % qid, timeout=RETRY_MIN + 8, count=2)
    assert "retry_in=%ds" % RETRY_MAX in deferred[1], "second retry must wait twice as long (capped at MAX): %s" % deferred[1]
    assert a.queue_messages() and not b.maildir_messages("b.test", "bob")
    b.restart()
    started = time.monotonic()
    (delivered,) = b.wait_for_mail("b.test", "bob", 1, timeout=RETRY_MAX + 5)
    took = time.monotonic() - started
    assert took <= RETRY_MAX + 3, "arrived %.1fs after B came back; retry schedule is at most %ds" % (took, RETRY_MAX)
    check_relayed(delivered, "bob", "b.test", qid, original)
    a.wait_queue_empty()
    assert len(a.wait_log(r"%s to=<bob@b\.test> status=sent relay=mx\.b\.test" % qid)) == 1
    assert len(b.maildir_messages("b.test", "bob")) == 1
    assert not a.all_mailboxes(), "nothing may bounce"


def test_one_of_three_recipients_refused_gives_two_deliveries_and_a_bounce(net, password_hash):
    """B has a users file with bob and carol; nobody@b.test gets 550 5.1.1 at
    RCPT. bob and carol get the message; alice (the sender, local to A) gets
    one RFC 3464 bounce naming only nobody, with B's reply."""
    b = net.b(users=[("bob@b.test", password_hash), ("carol@b.test", password_hash)])
    a = net.a(aliases=[("team@a.test", "bob@b.test,carol@b.test,nobody@b.test")])
    original = make_message("partial refusal")
    qid = submit(a, ["team@a.test"], original)
    for local in ("bob", "carol"):
        (delivered,) = b.wait_for_mail("b.test", local, 1)
        check_relayed(delivered, local, "b.test", qid, original)
    (raw,) = a.wait_for_mail("a.test", "alice", 1)
    a.wait_queue_empty()
    bounced = a.wait_log(r"%s to=<nobody@b\.test> status=bounced reason=\"[^\"]*\" dsn=[A-Za-z0-9]+" % qid)
    assert len(bounced) == 1
    assert len(a_log_for(a, "bob@b.test", "sent")) == 1 and len(a_log_for(a, "carol@b.test", "sent")) == 1
    assert not a_log_for(a, "nobody@b.test", "deferred"), "a 5xx must bounce at once, not be retried"

    msg, per_msg, per_rcpt, headers = parse_bounce(raw)
    assert msg["To"].strip("<>") == SENDER
    assert len(per_rcpt) == 1, "only the refused recipient belongs in the report: %r" % [str(r) for r in per_rcpt]
    r = per_rcpt[0]
    assert r["Final-Recipient"].lower() == "rfc822; nobody@b.test", r["Final-Recipient"]
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1", r["Status"]
    assert r["Remote-MTA"] == "dns; mx.b.test", r["Remote-MTA"]
    diag = r["Diagnostic-Code"]
    assert diag.startswith("smtp; 550"), diag
    # the remote reply, exactly as B gives it
    with b.session("check.test") as w:
        expect(w.cmd("MAIL FROM:<alice@a.test>"), r"^250 ")
        reply = expect(w.cmd("RCPT TO:<nobody@b.test>"), r"^550 5\.1\.1 ")
    assert " ".join(diag.split()) == "smtp; " + reply.line, (diag, reply.line)
    # the original header section
    assert "Subject: partial refusal" in headers, headers
    orig_mid = re.search(rb"Message-ID: (<[^>]+>)", original).group(1).decode()
    assert orig_mid in headers and "From: Alice <alice@a.test>" in headers, headers
    assert "Hello from A." not in headers, "headers only, not the body (RFC 6522 text/rfc822-headers)"


def test_mx_preference_order_and_fallback_to_the_second_exchanger(net):
    """pref.test: MX 10 on 127.0.0.4 where nothing listens, MX 20 is B: the
    mail goes to the second exchanger at once, without a deferral.
    order.test: MX 10 mx.b.test, MX 20 a backup on 127.0.0.4 (now a listener
    that counts connections): the preferred B gets the mail and the backup is
    never dialled."""
    b = net.b()
    a = net.a(aliases=[("o@a.test", "u@order.test"), ("p@a.test", "u@pref.test")])
    original = make_message("preference")
    q1 = submit(a, ["p@a.test"], original)
    (delivered,) = b.wait_for_mail("pref.test", "u", 1)
    check_relayed(delivered, "u", "pref.test", q1, original)
    a.wait_log(r"%s to=<u@pref\.test> status=sent relay=mx2\.pref\.test\b" % q1)
    assert not a_log_for(a, "u@pref.test", "deferred"), "an unreachable MX must lead to the next one at once"

    backup = net.peer(ScriptedPeer(DEAD_ADDR, net.port, close_at_once=True))
    q2 = submit(a, ["o@a.test"], make_message("order"))
    b.wait_for_mail("order.test", "u", 1)
    # B's address may be reached over the connection cached from the first
    # message, which A made to mx2.pref.test (same address and port)
    a.wait_log(r"%s to=<u@order\.test> status=sent relay=(mx\.b\.test|mx2\.pref\.test)\b" % q2)
    assert backup.connections == 0, "the less preferred exchanger was dialled %d time(s)" % backup.connections
    a.wait_queue_empty()


@pytest.mark.parametrize("domain,status", [("nullmx.test", "5.1.10"), ("nothing.test", "5.1.2")],
                         ids=["null-mx", "nxdomain"])
def test_undeliverable_domain_bounces_at_once(net, domain, status):
    """Null MX (RFC 7505) bounces with 5.1.10, NXDOMAIN with 5.1.2: at the
    first attempt, no retry, no connection anywhere."""
    a = net.a(aliases=[("x@a.test", "x@" + domain)])
    original = make_message("bounce " + domain)
    started = time.monotonic()
    qid = submit(a, ["x@a.test"], original)
    (raw,) = a.wait_for_mail("a.test", "alice", 1, timeout=5)
    took = time.monotonic() - started
    assert took < 5, "bounce took %.1fs" % took
    a.wait_queue_empty()
    a.wait_log(r"%s to=<x@%s> status=bounced reason=\"[^\"]+\" dsn=[A-Za-z0-9]+" % (qid, re.escape(domain)))
    assert not a_log_for(a, "x@" + domain, "deferred"), a.log()
    _, _, per_rcpt, headers = parse_bounce(raw)
    assert len(per_rcpt) == 1
    r = per_rcpt[0]
    assert r["Final-Recipient"].lower() == "rfc822; x@" + domain
    assert r["Status"] == status, (r["Status"], str(r))
    assert r["Action"] == "failed"
    assert "Subject: bounce " + domain in headers


def test_implicit_mx_uses_the_domains_own_address(net):
    """implicit.test has no MX, only an A record (127.0.0.3, tern B): RFC 5321
    5.1 implicit MX, delivered."""
    b = net.b()
    a = net.a(aliases=[("i@a.test", "u@implicit.test")])
    original = make_message("implicit")
    qid = submit(a, ["i@a.test"], original)
    (delivered,) = b.wait_for_mail("implicit.test", "u", 1)
    check_relayed(delivered, "u", "implicit.test", qid, original)
    a.wait_log(r"%s to=<u@implicit\.test> status=sent relay=implicit\.test\b" % qid)


def test_peer_dropping_mid_data_means_retry_not_loss_nor_duplicate(net):
    """The exchanger of drop.test takes MAIL, RCPT, DATA and then closes the
    connection after part of a 300 KB message: A defers it (the message stays
    queued). Replaced by a real tern on the same address, it gets the message
    exactly once, intact."""
    a = net.a(aliases=[("d@a.test", "u@drop.test")])
    dropper = net.peer(ScriptedPeer(DROP_ADDR, net.port, name="mx.drop.test", drop_after=64 * 1024))
    body = [b"line %06d of a long message, to be cut in the middle of DATA" % i for i in range(5000)]
    original = make_message("dropped", body)
    assert len(original) > 250 * 1024
    qid = submit(a, ["d@a.test"], original)
    a.wait_log(r"%s to=<u@drop\.test> status=deferred reason=\"[^\"]+\" retry_in=\d+s" % qid)
    assert dropper.partial, "the scripted peer never got content"
    assert not dropper.messages, "the scripted peer must not have completed a transaction"
    assert b"\r\n.\r\n" not in dropper.partial[0]
    assert dropper.partial[0].startswith(b"Received: from client.test")
    assert a.queue_messages(), "the message must stay in A's queue"
    dropper.stop()

    c = net.b(addr=DROP_ADDR, hostname="mx.drop.test", domains=["drop.test"], subdir="c")
    (delivered,) = c.wait_for_mail("drop.test", "u", 1, timeout=RETRY_MAX + 8)
    a.wait_queue_empty()
    check_relayed(delivered, "u", "drop.test", qid, original, b_host="mx.drop.test")
    assert len(c.maildir_messages("drop.test", "u")) == 1, "delivered more than once"
    assert len(c.log_lines(r" accepted from=<alice@a\.test>")) == 1, c.log()
    assert len(a_log_for(a, "u@drop.test", "sent")) == 1
    assert not a.all_mailboxes(), "nothing may bounce"


def test_4xx_reply_is_deferred_and_retried(net):
    """The exchanger answers the RCPT with 451 4.3.0: A defers (the reply in
    the log, retry_in=1s), retries per queue-retry and delivers once."""
    a = net.a(aliases=[("d@a.test", "u@drop.test")])
    peer = net.peer(ScriptedPeer(DROP_ADDR, net.port, name="mx.drop.test", rcpt_tempfail=1))
    original = make_message("tempfail")
    qid = submit(a, ["d@a.test"], original)
    (deferred,) = a.wait_log(r"%s to=<u@drop\.test> status=deferred reason=\"[^\"]*451 4\.3\.0[^\"]*\" retry_in=%ds"
                             % (qid, RETRY_MIN))
    a.wait_log(r"%s to=<u@drop\.test> status=sent relay=mx\.drop\.test reply=\"250 " % qid, timeout=RETRY_MIN + 8)
    a.wait_queue_empty()
    assert len(peer.messages) == 1, peer.messages
    mail, rcpts, content = peer.messages[0]
    assert mail.upper().startswith(b"MAIL FROM:<ALICE@A.TEST>"), mail
    assert [r.upper() for r in rcpts] == [b"RCPT TO:<U@DROP.TEST>"], rcpts
    fields, rest = take_fields(crlf_to_lf(content), 1)
    assert fields[0][0] == "Received" and rest == crlf_to_lf(original)
    assert not a.all_mailboxes(), "a 4xx must not bounce"


def test_queue_lifetime_exceeded_bounces(net):
    """queue-lifetime 2s and no exchanger reachable (nothing on 127.0.0.3):
    after the retries the message bounces to its sender, Action: failed."""
    a = net.a(aliases=[("fwd@a.test", "bob@b.test")], extra=["queue-lifetime 2s"])
    qid = submit(a, ["fwd@a.test"], make_message("lifetime"))
    a.wait_log(r"%s to=<bob@b\.test> status=deferred" % qid)
    (raw,) = a.wait_for_mail("a.test", "alice", 1, timeout=2 + RETRY_MAX + 6)
    a.wait_queue_empty()
    a.wait_log(r"%s to=<bob@b\.test> status=bounced reason=\"[^\"]+\" dsn=[A-Za-z0-9]+" % qid)
    _, _, per_rcpt, headers = parse_bounce(raw)
    (r,) = per_rcpt
    assert r["Final-Recipient"].lower() == "rfc822; bob@b.test"
    assert r["Action"] == "failed"
    assert re.match(r"^[45]\.4\.\d+$", r["Status"]), r["Status"]
    assert "Subject: lifetime" in headers


def test_interoperates_with_aiosmtpd(net):
    """aiosmtpd (no PIPELINING, no STARTTLS) receives the message with the
    right envelope: sender, both recipients in one transaction, and the
    content A queued (A's Received, then the message)."""
    aio = net.peer(AiosmtpdPeer(AIO_ADDR, net.port))
    a = net.a(aliases=[("x@a.test", "u1@aio.test,u2@aio.test")])
    original = make_message("aiosmtpd")
    qid = submit(a, ["x@a.test"], original)
    a.wait_log(r"%s to=<u2@aio\.test> status=sent relay=mx\.aio\.test reply=\"250 2\.0\.0 Ok: accepted by aiosmtpd\"" % qid)
    a.wait_queue_empty()
    assert len(aio.envelopes) == 1, aio.envelopes
    env = aio.envelopes[0]
    assert env["mail_from"] == SENDER
    assert sorted(env["rcpt_tos"]) == ["u1@aio.test", "u2@aio.test"]
    assert env["helo"] == "mx.a.test"
    fields, rest = take_fields(crlf_to_lf(env["content"]), 1)
    assert fields[0][0] == "Received" and "by mx.a.test (tern)" in fields[0][1] and re.search(r"\bid %s\b" % qid, fields[0][1])
    assert env["content"].endswith(b"\r\n") and b"\n" not in env["content"].replace(b"\r\n", b""), \
        "lines must end in CR LF on the wire"
    assert rest == crlf_to_lf(original)
    assert len(a_log_for(a, "u1@aio.test", "sent")) == 1


def test_interoperates_with_postfix_smtp_sink(net):
    """Postfix's smtp-sink (PIPELINING, no STARTTLS) gets the message: its
    dump shows the envelope and the content A queued."""
    binary = ensure_smtp_sink()
    if binary is None:
        pytest.skip("Postfix's smtp-sink is not installed and could not be installed")
    sink = net.peer(SmtpSinkPeer(binary, SINK_ADDR, net.port))
    a = net.a(aliases=[("s@a.test", "v1@sink.test,v2@sink.test")])
    original = make_message("smtp-sink")
    qid = submit(a, ["s@a.test"], original)
    a.wait_log(r"%s to=<v1@sink\.test> status=sent relay=mx\.sink\.test reply=\"250 " % qid)
    a.wait_log(r"%s to=<v2@sink\.test> status=sent relay=mx\.sink\.test reply=\"250 " % qid)
    a.wait_queue_empty()
    dumps = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        dumps = sink.dumps()
        if dumps and dumps[0].endswith(b"\n\n"):
            break
        time.sleep(0.05)
    assert len(dumps) == 1, "smtp-sink dumped %d transactions" % len(dumps)
    dump = dumps[0]
    assert re.search(rb"(?m)^X-Helo-Args: mx\.a\.test$", dump), dump[:600]
    assert re.search(rb"(?m)^X-Mail-Args: (FROM:)?<alice@a\.test>", dump, re.I), dump[:600]
    rcpts = re.findall(rb"(?m)^X-Rcpt-Args: (?:TO:)?<([^>]+)>", dump, re.I)
    assert sorted(rcpts) == [b"v1@sink.test", b"v2@sink.test"], dump[:600]
    # after smtp-sink's own headers and Received: the content as sent, plus one empty line
    _, after = dump.split(b"(smtp-sink)", 1)
    after = after.split(b"\n", 2)[2]              # the rest of smtp-sink's three-line Received
    fields, rest = take_fields(crlf_to_lf(after), 1)
    assert fields[0][0] == "Received" and "by mx.a.test (tern)" in fields[0][1], fields
    assert rest == crlf_to_lf(original) + b"\n", (rest[-200:], crlf_to_lf(original)[-200:])
