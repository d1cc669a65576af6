"""Back-pressure: a client that pipelines commands without ever reading the
replies must not make the server hold more than a bounded amount for it
(docs/architecture.md, the limits table), and other sessions must still be
served meanwhile. Also: a session that stays silent gets its timeout reply
(421 4.4.2, POP3 -ERR) before the connection closes, and one that does not
read its replies is closed after the write timeout.

The flooding client shrinks its own receive buffer, so that the replies it
does not read pile up on the server's side, where the bound must hold."""

import os
import select
import smtplib
import socket
import time

import pytest

from conftest import DOMAIN, PASSWORD, free_port, poll_until

BOB = "bob@%s" % DOMAIN

# What the server may grow by while one client floods it. The unbounded
# server grew by gigabytes; a bounded one by its buffers (well under 1 MiB)
# plus what the sanitizer's allocator keeps: a wide margin that still fails
# loudly if replies are queued without limit.
RSS_GROWTH_MAX_KB = 48 * 1024


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def flood(sock, unit, max_bytes=64 << 20, seconds=12, stall=2.0):
    """Send `unit` over and over without reading, until max_bytes went out,
    the time is up, or the server stopped taking input for `stall` seconds.
    Returns (octets sent, whether the server stalled us)."""
    chunk = unit * max(1, 65536 // len(unit))
    sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + seconds
    while sent < max_bytes and time.monotonic() < deadline:
        _, writable, _ = select.select([], [sock], [], stall)
        if not writable:
            return sent, True
        try:
            sent += sock.send(chunk)
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return sent, True
    return sent, False


def small_rcvbuf_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(15)
    s.connect(("127.0.0.1", port))
    return s


def read_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        c = sock.recv(1)
        if not c:
            raise EOFError(data)
        data += c
    return data


def assert_served(port):
    """Another client gets a whole transaction through, promptly."""
    t0 = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("other@x.test", [BOB], b"Subject: meanwhile\r\n\r\nstill served\r\n")
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("unit", [b"EHLO x\r\n", b"NOOP\r\n", b"HELP\r\n"])
def test_smtp_pipelining_without_reading_is_bounded(make_server, users, unit):
    srv = make_server(users=users)
    before = rss_kb(srv.proc.pid)
    s = small_rcvbuf_socket(srv.port)
    assert read_line(s).startswith(b"220 ")
    sent, stalled = flood(s, unit)
    grown = rss_kb(srv.proc.pid) - before
    assert stalled, "the server read all %d octets without our reading a reply" % sent
    assert grown < RSS_GROWTH_MAX_KB, "server grew by %d KiB for one client (sent %d octets)\n%s" % (
        grown, sent, srv.log())
    assert_served(srv.port)
    # Reading resumes the session: the replies come, in order.
    s.setblocking(True)
    s.settimeout(15)
    first = read_line(s)
    assert first.startswith(b"250") or first.startswith(b"214"), first
    s.close()
    srv.wait_for_mail(DOMAIN, "bob", 1)


def test_smtp_client_that_never_reads_is_closed_after_write_timeout(make_server, users):
    srv = make_server(users=users, extra_lines=["command-timeout 2s"])
    s = small_rcvbuf_socket(srv.port)
    assert read_line(s).startswith(b"220 ")
    flood(s, b"NOOP\r\n", seconds=4)
    assert poll_until(lambda: "reason=\"write timeout\"" in srv.log(), 15), srv.log()
    s.close()


def test_smtp_timeout_reply_is_sent(make_server, users):
    srv = make_server(users=users, extra_lines=["command-timeout 1s"])
    with srv.wire() as w:
        w.greeting()
        w.ehlo()
        t0 = time.monotonic()
        line = w.read_line()
        assert line.startswith(b"421 4.4.2 "), line
        assert 0.5 < time.monotonic() - t0 < 10
        assert w.wait_closed()
    assert "reason=timeout" in srv.log()


# ---------------------------------------------------------------- POP3


@pytest.fixture
def pop3(make_server, users):
    port = free_port()
    srv = make_server(users=users, extra_lines=["listen 127.0.0.1:%d pop3" % port])
    srv.pop3_port = port
    return srv


def stuff_maildrop(srv, n):
    """n small messages straight into bob's new/, as another Maildir writer
    would leave them."""
    new = srv.maildir(DOMAIN, "bob") / "new"
    for sub in ("new", "cur", "tmp"):
        (srv.maildir(DOMAIN, "bob") / sub).mkdir(parents=True, exist_ok=True)
    body = b"Subject: m\n\nx\n"
    for i in range(n):
        (new / ("1700000000.M%dP1.host" % i)).write_bytes(body)


def pop3_login(port):
    s = small_rcvbuf_socket(port)
    assert read_line(s).startswith(b"+OK")
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (BOB.encode(), PASSWORD.encode()))
    assert read_line(s).startswith(b"+OK")
    assert read_line(s).startswith(b"+OK")
    return s


def test_pop3_capa_flood_before_login_is_bounded(pop3):
    before = rss_kb(pop3.proc.pid)
    s = small_rcvbuf_socket(pop3.pop3_port)
    assert read_line(s).startswith(b"+OK")
    sent, stalled = flood(s, b"CAPA\r\n")
    grown = rss_kb(pop3.proc.pid) - before
    assert stalled, "the server read all %d octets without our reading a reply" % sent
    assert grown < RSS_GROWTH_MAX_KB, "server grew by %d KiB (sent %d)" % (grown, sent)
    assert_served(pop3.port)
    s.close()


def test_pop3_list_of_a_big_drop_without_reading_is_bounded(pop3):
    stuff_maildrop(pop3, 3000)
    s = pop3_login(pop3.pop3_port)
    before = rss_kb(pop3.proc.pid)
    sent, stalled = flood(s, b"LIST\r\nUIDL\r\n")
    grown = rss_kb(pop3.proc.pid) - before
    assert stalled, "the server read all %d octets without our reading a reply" % sent
    assert grown < RSS_GROWTH_MAX_KB, "server grew by %d KiB (sent %d)" % (grown, sent)
    assert_served(pop3.port)
    # The listing the client finally reads is whole.
    s.setblocking(True)
    s.settimeout(15)
    assert read_line(s).startswith(b"+OK 3000 messages")
    for i in range(1, 3001):
        assert read_line(s).startswith(b"%d " % i)
    assert read_line(s) == b".\r\n"
    s.close()


def test_pop3_autologout_reply_is_sent(make_server, users):
    port = free_port()
    make_server(users=users, extra_lines=["listen 127.0.0.1:%d pop3" % port, "command-timeout 1s"])
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert read_line(s).startswith(b"+OK")
    line = read_line(s)
    assert line.startswith(b"-ERR "), line
    assert s.recv(100) == b""
    s.close()
