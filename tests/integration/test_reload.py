"""SIGHUP: the configuration and the TLS certificate are read again without
a restart; a configuration with an error is refused and the old one kept."""

import shutil
import signal
import socket
import ssl

from conftest import expect, poll_until
from tls_helpers import make_cert, start_tls_server


def _peer_cert_der(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def _ehlo_size(srv):
    with srv.session() as w:
        for line in w.cmd("EHLO client.test").lines:
            if line[4:].startswith("SIZE "):
                return int(line[9:])
    return None


def test_sighup_reloads_certificate_and_settings(make_server, tmp_path, users):
    """New sessions get the new certificate and the new max-message-size;
    a broken file leaves everything as it was, and the server keeps serving."""
    cert, key = make_cert(tmp_path / "one")
    live_cert, live_key = tmp_path / "live-cert.pem", tmp_path / "live-key.pem"
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    srv = start_tls_server(make_server, live_cert, live_key, users)
    first = _peer_cert_der(srv.subs_port)
    assert _ehlo_size(srv) == 1024 * 1024

    cert2, key2 = make_cert(tmp_path / "two")
    shutil.copy(cert2, live_cert)
    shutil.copy(key2, live_key)
    srv.conf_path.write_text(srv.conf_path.read_text().replace("max-message-size 1M", "max-message-size 2M"))
    srv.proc.send_signal(signal.SIGHUP)
    assert poll_until(lambda: "reload: configuration re-read" in srv.log(), 10), srv.log()
    second = _peer_cert_der(srv.subs_port)
    assert second != first
    assert second == ssl.PEM_cert_to_DER_cert(cert2.read_text())
    assert _ehlo_size(srv) == 2 * 1024 * 1024

    good = srv.conf_path.read_text()
    srv.conf_path.write_text(good + "no-such-keyword 1\n")
    srv.proc.send_signal(signal.SIGHUP)
    assert poll_until(lambda: "configuration not changed" in srv.log(), 10), srv.log()
    assert "no-such-keyword" in srv.log()
    assert _ehlo_size(srv) == 2 * 1024 * 1024
    with srv.session() as w:
        expect(w.cmd("NOOP"), r"^250 ")
    srv.conf_path.write_text(good)
