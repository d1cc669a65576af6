"""The SMTP receiver's dialogue: greeting, EHLO, command replies, sequencing
and syntax errors (RFC 5321, RFC 3463 codes, RFC 1870 SIZE, RFC 6531)."""

import smtplib

import pytest

from conftest import DOMAIN, ENHANCED, HOSTNAME, expect, queued_id, split_trace

MAX_SIZE = 1024 * 1024   # the fixtures' max-message-size 1M


def test_greeting_names_host_and_software(server):
    """The first line a client sees is exactly '220 <hostname> ESMTP tern'."""
    with server.wire() as w:
        assert w.read_line() == ("220 %s ESMTP tern" % HOSTNAME).encode()


def test_ehlo_lists_the_extensions(server):
    """EHLO answers 250 with the host name first and announces PIPELINING,
    SIZE <max-message-size in bytes>, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8
    and CHUNKING (checked with smtplib's own parser)."""
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=10) as s:
        code, text = s.ehlo()
        assert code == 250
        assert text.split(b"\n")[0].split()[0] == HOSTNAME.encode()
        for extension in ("pipelining", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking"):
            assert s.has_extn(extension), "EHLO does not announce %s: %r" % (extension, text)
        assert s.esmtp_features.get("size") == str(MAX_SIZE), "SIZE: %r" % text


def test_helo_works(server):
    """HELO gets 250 and a mail transaction can follow it."""
    with server.wire() as w:
        w.greeting()
        assert w.cmd("HELO client.test").code == 250
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")


def test_every_reply_after_ehlo_has_an_enhanced_status_code(server):
    """MAIL, RCPT, end of DATA, RSET, NOOP, VRFY, refusals and QUIT all carry
    an RFC 3463 code after the reply code."""
    with server.session() as w:
        replies = [w.cmd("MAIL FROM:<a@x.test>"),
                   w.cmd("RCPT TO:<bob@example.test>"),
                   w.cmd("RCPT TO:<nobody@example.test>")]
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: codes\r\n\r\nhello\r\n.\r\n")
        replies += [w.read_reply(),
                    w.cmd("RSET"),
                    w.cmd("NOOP"),
                    w.cmd("VRFY bob"),
                    w.cmd("FROB"),
                    w.cmd("RCPT TO:<bob@example.test>"),
                    w.cmd("QUIT")]
    for reply in replies:
        for line in reply.lines:
            assert ENHANCED.match(line), "no enhanced status code in %r (all: %r)" % (line, replies)


def test_transaction_replies(server):
    """MAIL 250 2.1.0, RCPT 250 2.1.5, DATA 354, end of data
    '250 2.0.0 Ok: queued as ID' with an id of letters and digits."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0 ")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5 ")
        expect(w.cmd("DATA"), r"^354 ")
        w.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
        queued_id(w.read_reply())


def test_rset_and_noop(server):
    """RSET and NOOP answer 250 2.0.0, also in the middle of a transaction,
    and RSET forgets the transaction (RCPT afterwards needs a new MAIL)."""
    with server.session() as w:
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        expect(w.cmd("RSET"), r"^250 2\.0\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^503 5\.5\.1")
        expect(w.cmd("NOOP with an argument"), r"^250 2\.0\.0")


def test_quit_says_bye_and_closes(server):
    """QUIT answers '221 2.0.0 Bye' and the server closes the connection."""
    with server.session() as w:
        reply = w.cmd("QUIT")
        assert reply.lines == ["221 2.0.0 Bye"]
        assert w.wait_closed(), "connection still open after QUIT"


def test_vrfy_answers_252(server):
    """VRFY neither confirms nor denies a user: 252 with an enhanced code."""
    with server.session() as w:
        expect(w.cmd("VRFY bob"), r"^252 2\.\d{1,3}\.\d{1,3}")
        expect(w.cmd("VRFY nobody@example.test"), r"^252 2\.\d{1,3}\.\d{1,3}")


@pytest.mark.parametrize("line", ["FROB", "MAILX FROM:<a@x.test>", "XYZZY plugh", "8BITMIME"])
def test_unknown_verb_is_500(server, line):
    """An unknown command gets 500 5.5.2 and the session goes on."""
    with server.session() as w:
        expect(w.cmd(line), r"^500 5\.5\.2")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")


def test_command_line_of_512_octets_is_accepted(server):
    """A command line of exactly 512 octets including CR LF is within the
    RFC 5321 limit (4.5.3.1.4)."""
    line = b"NOOP " + b"x" * (512 - 2 - 5)
    assert len(line) + 2 == 512
    with server.session() as w:
        expect(w.cmd(line), r"^250 2\.0\.0")


@pytest.mark.parametrize("length", [513, 1000, 20000])
def test_overlong_command_line_gets_one_500(server, length):
    """A command line over 512 octets (CR LF included) gets exactly one
    500 5.5.2 and the session continues: the next NOOP gets its own 250."""
    line = b"NOOP " + b"y" * (length - 2 - 5)
    assert len(line) + 2 == length
    with server.session() as w:
        expect(w.cmd(line), r"^500 5\.5\.2")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")


def test_mail_before_ehlo_is_503(server):
    """MAIL before HELO/EHLO gets 503 5.5.1."""
    with server.wire() as w:
        w.greeting()
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^503 5\.5\.1")


def test_rcpt_before_mail_is_503(server):
    """RCPT without a MAIL transaction gets 503 5.5.1."""
    with server.session() as w:
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^503 5\.5\.1")


def test_data_without_mail_is_503(server):
    """DATA outside a transaction gets 503 5.5.1 and does not enter data mode."""
    with server.session() as w:
        expect(w.cmd("DATA"), r"^503 5\.5\.1")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")


def test_data_without_accepted_recipient_is_554(server):
    """DATA when every RCPT was refused gets 554 5.5.1 and no 354."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<nobody@example.test>"), r"^550 5\.1\.1")
        expect(w.cmd("DATA"), r"^554 5\.5\.1")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")


def test_data_without_any_rcpt_is_refused(server):
    """DATA after MAIL but before any RCPT is refused with 5.5.1 (503 or 554)."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("DATA"), r"^(503|554) 5\.5\.1")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")


def test_nested_mail_is_503(server):
    """A second MAIL inside a transaction gets 503 5.5.1; the first stays valid."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("MAIL FROM:<b@x.test>"), r"^503 5\.5\.1")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")


@pytest.mark.parametrize("line, pattern", [
    ("MAIL", r"^501 5\.5\.4"),
    ("MAIL TO:<a@x.test>", r"^501 5\.5\.4"),
    ("MAIL FROM:<a@@x.test>", r"^501 5\.1\.7"),
    ("MAIL FROM:<a@x..test>", r"^501 5\.1\.7"),
    ("MAIL FROM:<@>", r"^501 5\.1\.7"),
])
def test_mail_syntax_errors(server, line, pattern):
    """A MAIL command with bad syntax gets 501 5.5.4; a malformed sender
    address gets 501 5.1.7."""
    with server.session() as w:
        expect(w.cmd(line), pattern)
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")


@pytest.mark.parametrize("line, pattern", [
    ("RCPT", r"^501 5\.5\.4"),
    ("RCPT FROM:<bob@example.test>", r"^501 5\.5\.4"),
    ("RCPT TO:<bob@@example.test>", r"^501 5\.1\.3"),
    ("RCPT TO:<>", r"^501 5\.1\.3"),
    ("RCPT TO:<bob@example..test>", r"^501 5\.1\.3"),
])
def test_rcpt_syntax_errors(server, line, pattern):
    """An RCPT command with bad syntax gets 501 5.5.4; a malformed recipient
    address gets 501 5.1.3; the transaction survives."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd(line), pattern)
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")


@pytest.mark.parametrize("line", ["EHLO", "HELO", "DATA now", "RSET all", "VRFY"])
def test_missing_or_extra_arguments_are_501(server, line):
    """EHLO/HELO without a name, DATA or RSET with an argument and VRFY
    without one are syntax errors: 501 5.5.4, and the session goes on."""
    with server.session() as w:
        expect(w.cmd(line), r"^501 5\.5\.4")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")


def test_null_sender_is_accepted(server):
    """MAIL FROM:<> (bounces) is valid."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<>"), r"^250 2\.1\.0")


def test_unknown_esmtp_parameter_is_555(server):
    """An unknown parameter on MAIL or RCPT gets 555 5.5.4."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test> FOO=BAR"), r"^555 5\.5\.4")
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test> FOO=BAR"), r"^555 5\.5\.4")


def test_size_parameter_over_the_limit_is_552(server):
    """MAIL with SIZE above max-message-size gets 552 5.3.4; SIZE equal to the
    limit is accepted (RFC 1870)."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test> SIZE=%d" % (MAX_SIZE + 1)), r"^552 5\.3\.4")
        expect(w.cmd("MAIL FROM:<a@x.test> SIZE=%d" % MAX_SIZE), r"^250 2\.1\.0")


def test_message_over_the_limit_is_refused_after_data(server):
    """A message bigger than max-message-size (no SIZE given) is read to its
    end and refused with 552 5.3.4; nothing is delivered; the session works on."""
    body = (b"x" * 76 + b"\r\n") * (MAX_SIZE // 78 + 2000)
    assert len(body) > MAX_SIZE + 100000
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<carol@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: big\r\n\r\n" + body + b".\r\n")
        expect(w.read_reply(), r"^552 5\.3\.4")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        # a small message to the same mailbox still goes through, and alone
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<carol@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: small\r\n\r\nsmall\r\n.\r\n")
        queued_id(w.read_reply())
    delivered = server.wait_for_mail(DOMAIN, "carol", 1)
    assert len(delivered) == 1 and b"Subject: small" in delivered[0]
    server.wait_queue_empty()
    assert len(server.maildir_messages(DOMAIN, "carol")) == 1


def test_utf8_sender_needs_smtputf8(server):
    """A UTF-8 sender without the SMTPUTF8 parameter gets 553 5.6.7; with it
    the message is accepted and delivered with that Return-Path."""
    with server.session() as w:
        expect(w.cmd("MAIL FROM:<jörg@x.test>"), r"^553 5\.6\.7")
        expect(w.cmd("MAIL FROM:<jörg@x.test> SMTPUTF8"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send("Subject: grüße\r\n\r\nHallo\r\n.\r\n".encode())
        queued_id(w.read_reply())
    (message,) = server.wait_for_mail(DOMAIN, "bob", 1)
    return_path, _, _, rest = split_trace(message)
    assert return_path == "Return-Path: <jörg@x.test>".encode()
    assert rest == "Subject: grüße\n\nHallo\n".encode()


def test_utf8_recipient_needs_smtputf8(open_server):
    """A UTF-8 recipient in a transaction without SMTPUTF8 gets 553 5.6.7;
    in one with SMTPUTF8 it is accepted."""
    with open_server.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<jörg@example.test>"), r"^553 5\.6\.7")
        expect(w.cmd("RSET"), r"^250")
        expect(w.cmd("MAIL FROM:<a@x.test> SMTPUTF8"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<jörg@example.test>"), r"^250 2\.1\.5")
