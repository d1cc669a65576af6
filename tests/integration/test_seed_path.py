"""The whole path of the seed, end to end, in one test: alice's user agent
submits on port 587 style (STARTTLS + AUTH) to tern A; A looks up b.test's
MX in a real DNS server (dnsmasq) and relays over SMTP to tern B; B delivers
into bob's Maildir; bob's user agent retrieves the message over POP3 with
STLS. The body arrives byte-identical, with both servers' trace fields."""

import email
import poplib
import smtplib
import socket
import ssl

import pytest

from conftest import PASSWORD, poll_until
from relay_helpers import AddrTernServer, Dnsmasq, check_servers, free_common_port


def _free_port(addr):
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def _client_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # the servers' certificates are self-signed
    return ctx


def test_user_agent_to_user_agent_across_two_servers(tmp_path, password_hash):
    """Submission (STARTTLS, AUTH) -> A -> MX lookup -> B -> Maildir -> POP3 (STLS)."""
    a_addr, b_addr = "127.0.0.2", "127.0.0.3"
    port = free_common_port([a_addr, b_addr])
    dns = Dnsmasq(tmp_path, ["--mx-host=b.test,mx.b.test,10", "--host-record=mx.b.test,%s" % b_addr],
                  probe="b.test").start()
    sub_port, pop_port = _free_port(a_addr), _free_port(b_addr)
    a = AddrTernServer(tmp_path / "a", listen_addr=a_addr, port=port, hostname="mx.a.test",
                       domains=("a.test",), users=[("alice@a.test", password_hash)],
                       extra_lines=["listen %s:%d submission" % (a_addr, sub_port),
                                    "dns 127.0.0.1:%d" % dns.port, "smtp-port %d" % port,
                                    "queue-retry 1s 2s"])
    b = AddrTernServer(tmp_path / "b", listen_addr=b_addr, port=port, hostname="mx.b.test",
                       domains=("b.test",), users=[("bob@b.test", password_hash)],
                       extra_lines=["listen %s:%d pop3" % (b_addr, pop_port)])
    for d in (a.tmp_path, b.tmp_path):
        d.mkdir(parents=True, exist_ok=True)
    servers = [a, b]
    try:
        b.start()
        a.start()
        body = b"Hello Bob,\r\n\r\n..a line that starts with a dot, and 8-bit: caf\xc3\xa9.\r\nAlice\r\n"
        message = (b"From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: the seed's path\r\n"
                   b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)

        # 1. the sender's user agent: submission with STARTTLS and AUTH
        with smtplib.SMTP(a_addr, sub_port, local_hostname="alice-laptop.test", timeout=20) as s:
            s.starttls(context=_client_tls())
            s.login("alice@a.test", PASSWORD)
            refused = s.sendmail("alice@a.test", ["bob@b.test"], message, mail_options=["BODY=8BITMIME"])
            assert refused == {}

        # 2.-3. A relays to B through the MX record; B delivers into the Maildir
        got = poll_until(lambda: b.maildir_messages("b.test", "bob") or None, 20)
        assert got, "not delivered to B\n--- A ---\n%s\n--- B ---\n%s" % (a.full_log(), b.full_log())
        a.wait_log(r"to=<bob@b\.test> status=sent relay=mx\.b\.test")

        # 4. the recipient's user agent: POP3 with STLS
        p = poplib.POP3(b_addr, pop_port, timeout=20)
        try:
            p.stls(context=_client_tls())
            p.user("bob@b.test")
            p.pass_(PASSWORD)
            count, _ = p.stat()
            assert count == 1
            _, lines, _ = p.retr(1)
            p.dele(1)
            p.quit()
        except Exception:
            p.close()
            raise
        fetched = b"\r\n".join(lines) + b"\r\n"
        msg = email.message_from_bytes(fetched)
        assert msg["Return-Path"] == "<alice@a.test>"
        assert msg["Delivered-To"] == "bob@b.test"
        received = msg.get_all("Received")
        assert len(received) == 2, received
        assert "by mx.b.test" in received[0] and "ESMTPS" in received[0]      # A -> B, over STARTTLS
        assert "by mx.a.test" in received[1] and "ESMTPSA" in received[1]     # submission, authenticated
        assert "alice-laptop.test" in received[1]
        assert fetched.endswith(b"\r\n\r\n" + body), fetched[-300:]            # byte-identical body
        assert msg["Subject"] == "the seed's path"
        box = b.maildir("b.test", "bob")
        assert not any(list((box / d).iterdir()) for d in ("new", "cur")), "DELE + QUIT did not remove it"
    finally:
        problems = check_servers(servers)
        dns.stop()
    assert not problems, problems
