"""What lands in the Maildir: trace headers, the message exactly as sent
(LF line endings, dot-stuffing undone), and volume within a session."""

import os
import re
import smtplib

import pytest

from conftest import ConnectionClosed, DOMAIN, HOSTNAME, expect, queued_id, split_trace, unfold


def smtp(server):
    return smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=15)


def test_delivered_file_has_trace_headers_then_the_message(server):
    """The Maildir file starts with 'Return-Path: <sender>', 'Delivered-To:
    local@domain', then tern's Received: field (folded lines start with
    blanks) naming the EHLO name, 'by <hostname>', 'with ESMTP' and the queue
    id; then comes the message exactly as sent, CR LF turned into LF."""
    message = (b"From: Alice <alice@x.test>\r\n"
               b"To: bob@example.test\r\n"
               b"Subject: layout\r\n"
               b"Message-ID: <layout.1@x.test>\r\n"
               b"\r\n"
               b"first line\r\n"
               b"\r\n"
               b"\tindented line   with trailing blanks   \r\n"
               b"last line\r\n")
    with server.session(ehlo="client.test") as w:
        expect(w.cmd("MAIL FROM:<alice@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(message + b".\r\n")
        queue_id = queued_id(w.read_reply())
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert b"\r" not in delivered
    return_path, delivered_to, received, rest = split_trace(delivered)
    assert return_path == b"Return-Path: <alice@x.test>"
    assert delivered_to == b"Delivered-To: bob@example.test"
    assert received[0].startswith(b"Received: from "), received
    for continuation in received[1:]:
        assert continuation[:1] in (b" ", b"\t")
    text = unfold(received)
    assert "client.test" in text, text
    assert "by %s" % HOSTNAME in text, text
    assert "with ESMTP" in text, text
    assert re.search(r"\b%s\b" % re.escape(queue_id), text), "queue id %s not in %r" % (queue_id, text)
    assert rest == message.replace(b"\r\n", b"\n")
    box = server.maildir("example.test", "bob")
    assert (box / "cur").is_dir() and (box / "tmp").is_dir()
    assert os.listdir(box / "tmp") == []


def test_null_sender_gives_empty_return_path(server):
    """A bounce (MAIL FROM:<>) is delivered with 'Return-Path: <>'."""
    with smtp(server) as s:
        s.sendmail("<>", ["bob@example.test"], b"Subject: bounce\r\n\r\nreturned\r\n")
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(delivered)[0] == b"Return-Path: <>"


def test_dot_stuffing_is_undone(server):
    """Lines starting with dots (stuffed by smtplib on the wire) arrive as
    written: '.x', '..x', a lone '.' and '. x' inside the body."""
    body = b"Subject: dots\r\n\r\n.x\r\n..x\r\n.\r\n. x\r\nend.\r\n...\r\n"
    with smtp(server) as s:
        s.sendmail("a@x.test", ["bob@example.test"], body)
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(delivered)[3] == body.replace(b"\r\n", b"\n")


def test_dot_stuffing_on_the_wire(server):
    """Byte-exact: the wire lines '..' and '...x' become '.' and '..x'; a
    message ending without a final blank line keeps its last line."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: wire dots\r\n\r\n..\r\n...x\r\nlast\r\n.\r\n")
        queued_id(w.read_reply())
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(delivered)[3] == b"Subject: wire dots\n\n.\n..x\nlast\n"


def test_8bitmime_body_is_delivered_byte_identical(server):
    """MAIL ... BODY=8BITMIME with every octet 0x01-0xFF except CR and LF in
    the body: delivered byte for byte."""
    octets = bytes(b for b in range(1, 256) if b not in (10, 13))
    body = (b"Subject: 8bit\r\nContent-Type: text/plain; charset=latin1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + octets + b"\r\n"
            + "Grüße, ½ € ✓\r\n".encode("utf-8") + b"\xe9t\xe9\r\n")
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test> BODY=8BITMIME"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(body + b".\r\n")
        queued_id(w.read_reply())
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(delivered)[3] == body.replace(b"\r\n", b"\n")


def test_twenty_messages_in_one_connection(server):
    """20 transactions on one connection, RSET between them, give 20
    distinct files, each with its own body."""
    with smtp(server) as s:
        for i in range(20):
            s.sendmail("a@x.test", ["bob@example.test"],
                       b"Subject: number %d\r\nMessage-ID: <n%d@x.test>\r\n\r\nbody %d\r\n" % (i, i, i))
            code, _ = s.rset()
            assert code == 250
    delivered = server.wait_for_mail(DOMAIN, "bob", 20)
    bodies = sorted(split_trace(m)[3] for m in delivered)
    assert bodies == sorted(b"Subject: number %d\nMessage-ID: <n%d@x.test>\n\nbody %d\n" % (i, i, i)
                            for i in range(20))


def test_rset_discards_the_transaction(server):
    """Recipients given before RSET do not receive the next transaction's message."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<carol@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("RSET"), r"^250 2\.0\.0")
        expect(w.cmd("MAIL FROM:<b@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: after rset\r\n\r\nx\r\n.\r\n")
        queued_id(w.read_reply())
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(delivered)[0] == b"Return-Path: <b@x.test>"
    server.wait_queue_empty()
    assert server.all_mailboxes() == ["example.test/bob"]


def test_hundred_recipients_in_one_transaction(open_server):
    """One message to 100 recipients (RFC 5321's minimum) reaches all 100
    Maildirs, each with its own Delivered-To."""
    rcpts = ["user%03d@example.test" % i for i in range(100)]
    message = b"Subject: many\r\n\r\nto a hundred\r\n"
    with smtp(open_server) as s:
        assert s.sendmail("a@x.test", rcpts, message) == {}
    for rcpt in rcpts:
        local = rcpt.split("@")[0]
        (delivered,) = open_server.wait_for_mail(DOMAIN, local, 1, timeout=30)
        _, delivered_to, _, rest = split_trace(delivered)
        assert delivered_to == b"Delivered-To: " + rcpt.encode()
        assert rest == message.replace(b"\r\n", b"\n")


def test_recipient_limit_gives_452_and_the_transaction_goes_on(open_server):
    """1100 pipelined RCPTs: past the per-transaction limit (at least 100,
    below 1100) every further RCPT gets 452 4.5.3 without ending the session
    (RFC 5321 4.5.3.1.10: the client sends the message to those accepted and
    retries the rest); the message then reaches every accepted recipient."""
    count = 1100
    with open_server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        w.send(b"".join(b"RCPT TO:<r%04d@example.test>\r\n" % i for i in range(count)))
        replies = []
        try:
            while len(replies) < count:
                replies.append(w.read_reply())
        except ConnectionClosed:
            pytest.fail("server closed the connection after %d of %d RCPT replies; last ones: %r"
                        % (len(replies), count, replies[-3:]))
        accepted = 0
        while accepted < count and replies[accepted].code == 250:
            expect(replies[accepted], r"^250 2\.1\.5")
            accepted += 1
        assert accepted >= 100, "only %d recipients accepted; reply %r" % (accepted, replies[accepted])
        assert accepted < count, "no limit: all %d recipients accepted" % count
        for reply in replies[accepted:]:
            expect(reply, r"^452 4\.5\.3")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: limit\r\n\r\nfirst batch\r\n.\r\n")
        queued_id(w.read_reply())
    open_server.wait_for_mail(DOMAIN, "r%04d" % (accepted - 1), 1, timeout=60)
    open_server.wait_queue_empty(timeout=60)
    assert len(open_server.all_mailboxes()) == accepted


def test_message_just_under_the_limit_is_delivered_intact(server):
    """A 900 KiB message (limit 1 MiB) is accepted and stored unchanged."""
    lines = [b"%06d " % i + b"abcdefghij" * 7 for i in range(900 * 1024 // 80)]
    message = b"Subject: large\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
    with smtp(server) as s:
        s.sendmail("a@x.test", ["bob@example.test"], message)
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(delivered)[3] == message.replace(b"\r\n", b"\n")
