"""SMTP smuggling (the 2023 end-of-data variants) and other malformed line
endings, byte-exact over raw sockets. Only CR LF ends a line and only
CR LF . CR LF ends data; tern refuses any message with a bare CR, bare LF,
NUL or an over-long line with 550 5.6.0 after the real end of data."""

import pytest

from conftest import DOMAIN, expect, queued_id, split_trace

SMUGGLED = (b"MAIL FROM:<evil@x.test>\r\n"
            b"RCPT TO:<bob@example.test>\r\n"
            b"DATA\r\n"
            b"smuggled\r\n")

# what follows "body" in the first message; the smuggled commands come right after
VARIANTS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",             # i.e. "\r\n.\rMAIL FROM..."
    "CRLF.CR.CRLF": b"\r\n.\r\r\n",
    "CR.CR": b"\r.\r",
    "LF.CR": b"\n.\r",
    "CRLF.LF.CRLF": b"\r\n.\n\r\n",
}


def open_transaction(w, rcpt="bob@example.test"):
    expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
    expect(w.cmd("RCPT TO:<%s>" % rcpt), r"^250 2\.1\.5")
    expect(w.cmd("DATA"), r"^354")


def send_canary(server, w):
    """Send a clean message to carol in the same session and wait until it is
    delivered and the queue is empty, so that anything else the server had
    accepted would be visible by now."""
    open_transaction(w, "carol@example.test")
    w.send(b"Subject: canary\r\n\r\ncanary\r\n.\r\n")
    queued_id(w.read_reply())
    server.wait_for_mail(DOMAIN, "carol", 1)
    server.wait_queue_empty()


def assert_nothing_smuggled(server):
    for message in server.all_delivered():
        assert b"smuggled" not in message, "a smuggled message was delivered: %r" % message
    assert server.maildir_messages(DOMAIN, "bob") == [], "the refused message was delivered to bob"
    assert server.all_mailboxes() == ["example.test/carol"]


@pytest.mark.parametrize("variant", list(VARIANTS.values()), ids=list(VARIANTS.keys()))
def test_smuggling_variant_is_refused_as_one_message(server, variant):
    """A fake end of data made of bare CR/LF followed by a second transaction
    does not end the data: the server answers exactly once after the real
    CR LF . CR LF, with 550 5.6.0; nothing is delivered; the session works on."""
    with server.session() as w:
        open_transaction(w)
        w.send(b"Subject: x\r\n\r\nbody" + variant + SMUGGLED + b"\r\n.\r\n")
        expect(w.read_reply(), r"^550 5\.6\.0")
        # a second reply to the smuggled commands would arrive before VRFY's 252
        expect(w.cmd("VRFY bob"), r"^252 ")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        send_canary(server, w)
    assert_nothing_smuggled(server)


@pytest.mark.parametrize("payload", [
    b"Subject: nul\r\n\r\nbefore\x00after\r\n",
    b"Subject: bare lf\r\n\r\nline one\nline two\r\n",
    b"Subject: bare cr\r\n\r\nline one\rline two\r\n",
    b"Subject: bare lf in header\nX-Other: y\r\n\r\nbody\r\n",
    b"Subject: trailing cr\r\n\r\nbody\r\r\n",
    b"Subject: long\r\n\r\n" + b"z" * 999 + b"\r\n",
], ids=["nul", "bare-lf-body", "bare-cr-body", "bare-lf-header", "cr-cr-lf", "line-999"])
def test_malformed_message_is_refused_with_550_5_6_0(server, payload):
    """A message containing NUL, a bare LF, a bare CR or a line longer than
    998 octets is refused after the end of data with 550 5.6.0 and not
    delivered; the session continues."""
    with server.session() as w:
        open_transaction(w)
        w.send(payload + b".\r\n")
        expect(w.read_reply(), r"^550 5\.6\.0")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        send_canary(server, w)
    assert server.maildir_messages(DOMAIN, "bob") == []


def test_line_of_998_octets_is_accepted(server):
    """A text line of exactly 998 octets plus CR LF is legal and arrives intact."""
    line = b"q" * 998
    with server.session() as w:
        open_transaction(w)
        w.send(b"Subject: long but legal\r\n\r\n" + line + b"\r\n.\r\n")
        queued_id(w.read_reply())
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(message)[3] == b"Subject: long but legal\n\n" + line + b"\n"


def test_bare_lf_does_not_end_a_command(server):
    """'NOOP\\nNOOP\\r\\n' is one malformed command line: exactly one
    500 5.5.2, not two 250s."""
    with server.session() as w:
        w.send(b"NOOP\nNOOP\r\n")
        expect(w.read_reply(), r"^500 5\.5\.2")
        expect(w.cmd("VRFY bob"), r"^252 ")


def test_bare_lf_cannot_smuggle_a_command_into_a_transaction(server):
    """'MAIL FROM:<a@x.test>\\nRCPT TO:<bob@example.test>\\r\\n' is not two
    commands: one reply only, and no transaction with bob was opened."""
    with server.session() as w:
        w.send(b"MAIL FROM:<a@x.test>\nRCPT TO:<bob@example.test>\r\n")
        first = w.read_reply()
        assert first.code >= 500, "bare LF accepted inside a command: %r" % first
        expect(w.cmd("VRFY bob"), r"^252 ")
        # whatever happened, there is no recipient: DATA must not get 354
        reply = w.cmd("DATA")
        assert reply.code in (503, 554), "DATA after smuggled RCPT got %r" % reply


def test_bare_cr_does_not_end_a_command(server):
    """'NOOP\\rNOOP\\r\\n' yields exactly one reply."""
    with server.session() as w:
        w.send(b"NOOP\rNOOP\r\n")
        w.read_reply()
        expect(w.cmd("VRFY bob"), r"^252 ")
