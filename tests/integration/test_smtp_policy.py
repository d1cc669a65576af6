"""Who may receive mail: local users, aliases, postmaster, the recipient
delimiter, case rules, loop detection, and refusal of every relaying trick on
the unauthenticated MX role."""

import smtplib

import pytest

from conftest import DOMAIN, expect, queued_id, split_trace


def send_one(server, rcpts, subject, sender="a@x.test"):
    """Send one small message with smtplib; returns the refused-recipients dict."""
    message = ("From: <%s>\r\nSubject: %s\r\n\r\nbody of %s\r\n" % (sender, subject, subject)).encode()
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=10) as s:
        return s.sendmail(sender, rcpts, message)


def test_unknown_local_part_is_550(server):
    """With a users file, a local part that is neither user nor alias gets 550 5.1.1."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<nobody@example.test>"), r"^550 5\.1\.1")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")


def test_without_users_file_every_local_part_is_accepted(open_server):
    """Without a users file any local part of a local domain is accepted and
    gets its own Maildir."""
    with open_server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<anybody.at-all@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: open\r\n\r\nhi\r\n.\r\n")
        queued_id(w.read_reply())
    (message,) = open_server.wait_for_mail(DOMAIN, "anybody.at-all", 1)
    assert split_trace(message)[1] == b"Delivered-To: anybody.at-all@example.test"


@pytest.mark.parametrize("rcpt", ["<postmaster@example.test>", "<Postmaster@EXAMPLE.test>",
                                  "<postmaster>", "<POSTMASTER>"])
def test_postmaster_is_always_accepted(server, rcpt):
    """postmaster@domain and the bare <postmaster> are accepted even though the
    users file has no such user; by default they reach the domain's first user (bob)."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:%s" % rcpt), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: to postmaster\r\n\r\nhi\r\n.\r\n")
        queued_id(w.read_reply())
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(message)[1] == b"Delivered-To: bob@example.test"


def test_recipient_delimiter_delivers_to_the_base_user(server):
    """bob+tag@example.test is accepted and lands in bob's Maildir with
    Delivered-To: bob@example.test (no +tag)."""
    assert send_one(server, ["bob+lists@example.test"], "tagged") == {}
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(message)[1] == b"Delivered-To: bob@example.test"
    assert b"Subject: tagged" in message
    assert server.all_mailboxes() == ["example.test/bob"]


def test_alias_to_two_users_delivers_one_copy_each(server):
    """list@example.test (alias to bob and carol) gives exactly one file in each
    Maildir, each with its own Delivered-To."""
    assert send_one(server, ["list@example.test"], "to the list") == {}
    (to_bob,) = server.wait_for_mail(DOMAIN, "bob", 1)
    (to_carol,) = server.wait_for_mail(DOMAIN, "carol", 1)
    assert split_trace(to_bob)[1] == b"Delivered-To: bob@example.test"
    assert split_trace(to_carol)[1] == b"Delivered-To: carol@example.test"
    server.wait_queue_empty()
    assert len(server.maildir_messages(DOMAIN, "bob")) == 1
    assert len(server.maildir_messages(DOMAIN, "carol")) == 1
    assert server.all_mailboxes() == ["example.test/bob", "example.test/carol"]


def test_domain_and_local_part_are_case_insensitive(server):
    """BOB@Example.TEST is user bob: accepted, delivered to mail/example.test/bob/."""
    assert send_one(server, ["BOB@Example.TEST"], "shouting") == {}
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(message)[1] == b"Delivered-To: bob@example.test"
    assert server.all_mailboxes() == ["example.test/bob"]


def test_open_server_lowercases_mailbox_names(open_server):
    """Without a users file, Some.One@EXAMPLE.test lands in mail/example.test/some.one/."""
    assert send_one(open_server, ["Some.One@EXAMPLE.test"], "case") == {}
    open_server.wait_for_mail(DOMAIN, "some.one", 1)
    assert open_server.all_mailboxes() == ["example.test/some.one"]


def test_remote_recipient_is_not_relayed(server):
    """An unauthenticated client cannot send to a non-local domain: 554 5.7.1."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<someone@remote.test>"), r"^554 5\.7\.1")
        expect(w.cmd("DATA"), r"^554 5\.5\.1")
    assert server.queue_messages() == []


# The spec's expected codes; the test itself demands any 5xx (the essential
# property is that nothing is accepted for another domain).
RELAY_TRICKS = [
    ("a%remote.test@example.test", "550 5.7.1"),
    ("remote.test!a@example.test", "550 5.7.1"),
    ("@example.test:a@remote.test", "554 5.7.1"),
    ('"a@remote.test"@example.test', "550 5.7.1"),
    ("a@[127.0.0.1]", "554 5.7.1"),
    ("a@example.test.", "501 5.1.3"),
    ("a@REMOTE.test", "554 5.7.1"),
    ("a@remote.test.", "5xx"),
    ("a@example.test@remote.test", "5xx"),
    ('"a%remote.test"@example.test', "5xx"),
    ("a@sub.example.test", "554 5.7.1"),
]


@pytest.mark.parametrize("address, spec_reply", RELAY_TRICKS, ids=[t[0] for t in RELAY_TRICKS])
def test_relay_tricks_are_refused(open_server, address, spec_reply):
    """On a server that accepts every local part of example.test, the classic
    relay tricks (percent hack, bang path, source route, quoted local part, IP
    literal, trailing dot, odd case, subdomain) are refused with a 5xx at RCPT;
    a message sent to a real local user in the same transaction is delivered
    to that user only, nothing stays queued for elsewhere, and no Maildir
    appears for the odd name."""
    with open_server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        refusal = w.cmd("RCPT TO:<%s>" % address)
        assert 500 <= refusal.code <= 599, "RCPT TO:<%s> got %r (spec: %s)" % (address, refusal, spec_reply)
        expect(refusal, r"^5\d\d 5\.\d{1,3}\.\d{1,3} ")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: trick\r\n\r\nhi\r\n.\r\n")
        queued_id(w.read_reply())
    open_server.wait_for_mail(DOMAIN, "bob", 1)
    # the message had one recipient: once bob has it, the queue must be empty
    open_server.wait_queue_empty()
    assert open_server.all_mailboxes() == ["example.test/bob"]
    assert len(open_server.maildir_messages(DOMAIN, "bob")) == 1


@pytest.mark.parametrize("address, spec_reply", [t for t in RELAY_TRICKS if t[1] != "5xx"],
                         ids=[t[0] for t in RELAY_TRICKS if t[1] != "5xx"])
def test_relay_tricks_exact_replies(open_server, address, spec_reply):
    """The exact reply code and enhanced status the spec gives for each trick."""
    with open_server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        reply = w.cmd("RCPT TO:<%s>" % address)
        assert reply.lines[-1].startswith(spec_reply + " "), "RCPT TO:<%s>: expected %s, got %r" % (
            address, spec_reply, reply)


def test_too_many_received_headers_is_a_loop(server):
    """A message with 51 Received: fields is refused at the end of data with
    554 5.4.6 and nothing is delivered."""
    received = b"".join(b"Received: from hop%d.test by hop%d.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                        % (i, i + 1) for i in range(51))
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<carol@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(received + b"Subject: loop\r\n\r\nround and round\r\n.\r\n")
        expect(w.read_reply(), r"^554 5\.4\.6")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
    assert server.queue_messages() == []
    assert server.maildir_messages(DOMAIN, "carol") == []


def test_a_few_received_headers_are_fine(server):
    """A message that already passed a few relays (3 Received: fields) is
    accepted and keeps those fields below tern's own."""
    received = b"".join(b"Received: from hop%d.test by hop%d.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                        % (i, i + 1) for i in range(3))
    message = received + b"Subject: hops\r\n\r\nthree hops\r\n"
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=10) as s:
        assert s.sendmail("a@x.test", ["carol@example.test"], message) == {}
    (delivered,) = server.wait_for_mail(DOMAIN, "carol", 1)
    assert split_trace(delivered)[3] == message.replace(b"\r\n", b"\n")
