"""Listeners on IPv6: "[::1]:PORT" beside "127.0.0.1:PORT" on the same port
(IPv6 sockets are IPv6 only), mail accepted on both."""

import smtplib
import socket

import pytest

from conftest import DOMAIN, poll_until


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_and_ipv4_listeners_on_one_port(make_server):
    """The same port on [::1] and 127.0.0.1; a message through each lands."""
    srv = make_server()
    port = srv.port
    srv.stop()
    srv.extra_lines.append("listen [::1]:%d smtp" % port)
    srv.start()
    for host in ("::1", "127.0.0.1"):
        with smtplib.SMTP(host, port, local_hostname="client.test", timeout=10) as s:
            s.sendmail("a@x.test", ["bob@%s" % DOMAIN], b"Subject: via %s\r\n\r\nhi\r\n" % host.encode())
    assert poll_until(lambda: len(srv.maildir_messages(DOMAIN, "bob")) == 2, 10), srv.log()
    assert "connect from [::1]" in srv.log()
