"""PIPELINING (RFC 2920), CHUNKING/BDAT (RFC 3030) and clients that talk
before the greeting, over raw sockets."""

import socket

import pytest

from conftest import DOMAIN, REPLY_TIMEOUT, expect, queued_id, split_trace


def test_pipelined_transaction_replies_in_order(server):
    """After EHLO, MAIL + 3 RCPT (the middle one refused) + DATA sent in one
    write get their five replies in order; the message then reaches the two
    accepted recipients only."""
    with server.session() as w:
        w.send(b"MAIL FROM:<a@x.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<carol@example.test>\r\n"
               b"DATA\r\n")
        replies = [w.read_reply() for _ in range(5)]
        patterns = [r"^250 2\.1\.0", r"^250 2\.1\.5", r"^550 5\.1\.1", r"^250 2\.1\.5", r"^354"]
        for reply, pattern in zip(replies, patterns):
            expect(reply, pattern)
        # content + QUIT as one more group
        w.send(b"Subject: pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n")
        queued_id(w.read_reply())
        assert w.read_reply().lines == ["221 2.0.0 Bye"]
    for user in ("bob", "carol"):
        (message,) = server.wait_for_mail(DOMAIN, user, 1)
        assert split_trace(message)[3] == b"Subject: pipelined\n\nhello\n"
    server.wait_queue_empty()
    assert server.all_mailboxes() == ["example.test/bob", "example.test/carol"]


def test_pipelined_content_followed_by_next_transaction(server):
    """Message content may start a group: content + MAIL + RCPT + DATA in one
    write get 250 (queued), 250, 250, 354; both messages are delivered."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: one\r\n\r\n1\r\n.\r\n"
               b"MAIL FROM:<a@x.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        first_id = queued_id(w.read_reply())
        expect(w.read_reply(), r"^250 2\.1\.0")
        expect(w.read_reply(), r"^250 2\.1\.5")
        expect(w.read_reply(), r"^354")
        w.send(b"Subject: two\r\n\r\n2\r\n.\r\n")
        second_id = queued_id(w.read_reply())
        assert first_id != second_id
    messages = server.wait_for_mail(DOMAIN, "bob", 2)
    assert sorted(split_trace(m)[3] for m in messages) == [b"Subject: one\n\n1\n", b"Subject: two\n\n2\n"]


def early_talk_once(port):
    """Connect and send EHLO in the same instant, before any greeting.
    Returns everything the server sent until it closed (or, when it greeted
    normally, until the EHLO reply, followed by QUIT)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
    try:
        s.sendall(b"EHLO early.test\r\n")
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
            lines = data.split(b"\r\n")
            # normal path: greeting then a complete EHLO reply
            if data.startswith(b"220") and any(l.startswith(b"250 ") for l in lines):
                s.sendall(b"QUIT\r\n")
                return data, False
    finally:
        s.close()


def test_early_talker_is_refused(server):
    """A client that sends EHLO before the greeting is told 554 5.5.0 and
    disconnected. Because the bytes may reach the server after it has greeted,
    the attempt is repeated (at least 5, at most 20 times, stopping once one
    was refused): at least one must be refused, and each try must be either a
    clean refusal or a normal session."""
    refused = 0
    outcomes = []
    while len(outcomes) < 20 and not (refused >= 1 and len(outcomes) >= 5):
        data, closed = early_talk_once(server.port)
        outcomes.append(data)
        first = data.split(b"\r\n")[0]
        if first.startswith(b"554 5.5.0"):
            assert closed, "server kept the early talker's connection open: %r" % data
            assert b"\r\n250" not in data, "early talker refused and served: %r" % data
            refused += 1
        else:
            assert first.startswith(b"220 "), "unexpected answer to an early talker: %r" % data
            assert b"\r\n250" in data, "greeted early talker not served: %r" % data
    assert refused >= 1, "no early talker was refused in %d tries: %r" % (len(outcomes), outcomes[:2])
    # the server still serves ordinary clients
    with server.session() as w:
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")


@pytest.mark.parametrize("last_chunk", [b"BDAT 8 LAST\r\n world\r\n", b"BDAT 6 LAST\r\n world"],
                         ids=["last-line-with-crlf", "last-line-without-crlf"])
def test_bdat_two_chunks(server, last_chunk):
    """'BDAT 5' + 'hello' then 'BDAT 8 LAST' + ' world\\r\\n' get 250 each;
    the delivered message is 'hello world\\n'. A last chunk without a final
    CR LF ('BDAT 6 LAST' + ' world') is completed with a line end."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        w.send(b"BDAT 5\r\nhello")
        expect(w.read_reply(), r"^250 2\.\d{1,3}\.\d{1,3}")
        w.send(last_chunk)
        queue_id = queued_id(w.read_reply())
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    _, _, received, rest = split_trace(message)
    assert rest == b"hello world\n"
    assert queue_id.encode() in b" ".join(received)


def test_bdat_chunk_ending_in_cr_is_a_bare_cr(server):
    """A last chunk ending in CR ('BDAT 7 LAST' + ' world\\r') holds a CR
    that no LF follows: a bare CR, so the message is refused with 550 5.6.0
    and the session goes on."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        w.send(b"BDAT 5\r\nhello")
        expect(w.read_reply(), r"^250 2\.")
        w.send(b"BDAT 7 LAST\r\n world\r")
        expect(w.read_reply(), r"^550 5\.6\.0")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
    assert server.queue_messages() == []


def test_bdat_pipelined_chunks(server):
    """Two BDAT chunks written at once, with the commands in between, are
    split by their counts, not by lines: two replies, one message."""
    with server.session() as w:
        w.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<bob@example.test>\r\n"
               b"BDAT 14\r\nSubject: p\r\n\r\nBDAT 12 LAST\r\nBDAT 3\r\nxy\r\n")
        expect(w.read_reply(), r"^250 2\.1\.0")
        expect(w.read_reply(), r"^250 2\.1\.5")
        expect(w.read_reply(), r"^250 2\.")
        queued_id(w.read_reply())
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(message)[3] == b"Subject: p\n\nBDAT 3\nxy\n"


def test_bdat_zero_last(server):
    """A final 'BDAT 0 LAST' ends a message sent in earlier chunks."""
    chunk = b"Subject: zero\r\n\r\nhi\r\n"
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        w.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        expect(w.read_reply(), r"^250 2\.")
        queued_id(w.cmd("BDAT 0 LAST"))
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(message)[3] == b"Subject: zero\n\nhi\n"


def test_data_after_bdat_is_503(server):
    """DATA in a transaction that already used BDAT gets 503 5.5.1."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        w.send(b"BDAT 5\r\nhello")
        expect(w.read_reply(), r"^250 2\.")
        expect(w.cmd("DATA"), r"^503 5\.5\.1")
        expect(w.cmd("RSET"), r"^250 2\.0\.0")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
    assert server.queue_messages() == []


def test_bdat_without_mail_consumes_the_chunk(server):
    """BDAT outside a transaction gets 503 5.5.1 but its chunk is still read
    as data: a chunk holding 'QUIT\\r\\n' is not executed, the next NOOP gets 250."""
    with server.session() as w:
        w.send(b"BDAT 6\r\nQUIT\r\nNOOP\r\n")
        expect(w.read_reply(), r"^503 5\.5\.1")
        expect(w.read_reply(), r"^250 2\.0\.0")


def test_bdat_over_the_size_limit_is_552(server):
    """A BDAT message well above max-message-size (1.2 MiB on the wire, over
    1 MiB also with LF line ends) is consumed and refused with 552 5.3.4;
    the session continues and nothing is delivered."""
    size = 1024 * 1024 + 200 * 1024
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        w.send(b"BDAT %d LAST\r\n" % size + (b"y" * 98 + b"\r\n") * (size // 100) + b"z" * (size % 100))
        expect(w.read_reply(), r"^552 5\.3\.4")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
    assert server.queue_messages() == []
    assert server.maildir_messages(DOMAIN, "bob") == []
