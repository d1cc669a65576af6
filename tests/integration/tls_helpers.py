"""Helpers for the TLS and AUTH tests (test_submission.py).

- make_cert(): a P-256 self-signed certificate for localhost / 127.0.0.1,
  made by openssl(1) the way an operator would;
- start_tls_server(): a TernServer (conftest.py) with `submission` and
  `submissions` listeners next to its `smtp` one, the test's certificate
  and `hostname localhost`;
- TLS on SMTPWire: starttls() upgrades a raw wire after the 220, and
  tls_wire() opens one with implicit TLS; wire_from() binds another
  loopback source address (the failure counters are kept per address);
- NetnsPair: two network namespaces joined by a veth pair with TEST-NET-1
  addresses (192.0.2.1 server side, 192.0.2.2 client side), for what only
  a client off loopback can see.
"""

import base64
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import warnings
from pathlib import Path

import pytest

from conftest import (REPLY_TIMEOUT, START_TIMEOUT, STOP_TIMEOUT, TERN_BIN, ConnectionClosed, SMTPWire,
                      free_port)

SERVER_NAME = "localhost"      # the certificate's name, and tern's `hostname`


# --------------------------------------------------------------------------
# certificates and client contexts

def make_cert(directory):
    """A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1,
    valid two days; returns (cert_path, key_path)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "c.pem", directory / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def client_context(cafile, **kw):
    """A verifying client context that trusts only the test's certificate."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    for name, value in kw.items():
        setattr(ctx, name, value)
    return ctx


def old_tls_context(cafile):
    """A client that offers only TLS 1.0 and 1.1. OpenSSL 3 disables those
    below security level 0 on the client side too, so the level is lowered:
    the handshake then fails because the server refuses, not the client
    (checked by hand against `openssl s_server -tls1_1`: this context does
    negotiate TLSv1.1 with a server that allows it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(cafile))
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


# --------------------------------------------------------------------------
# SASL encodings

def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def plain(user, password, authzid=""):
    """The RFC 4616 PLAIN response, base64: authzid NUL authcid NUL passwd."""
    return b64("%s\0%s\0%s" % (authzid, user, password))


# --------------------------------------------------------------------------
# wires with TLS

def wire_from(port, source=None, host="127.0.0.1", server_log=None, timeout=REPLY_TIMEOUT):
    """A connected SMTPWire whose socket is bound to the loopback source
    address `source` (e.g. 127.0.0.2), or to any when None."""
    w = SMTPWire(port, host=host, timeout=timeout, connect=False, server_log=server_log)
    w.sock = socket.create_connection((host, port), timeout=timeout,
                                      source_address=(source, 0) if source else None)
    return w


def starttls(w, ctx, server_hostname=SERVER_NAME):
    """STARTTLS on a wire that has said EHLO: expects 220, requires that the
    server sent nothing after it, then runs the handshake (which raises
    ssl.SSLError when it fails). Returns the 220 reply."""
    reply = w.cmd("STARTTLS")
    assert reply.code == 220, "STARTTLS: %r" % reply
    assert w.buf == b"", "bytes after the 220 before the handshake: %r" % w.buf
    w.sock = ctx.wrap_socket(w.sock, server_hostname=server_hostname)
    return reply


def tls_wire(port, ctx, server_hostname=SERVER_NAME, host="127.0.0.1", source=None, server_log=None,
             timeout=REPLY_TIMEOUT):
    """A wire with implicit TLS (the submissions role); greeting not read."""
    w = wire_from(port, source=source, host=host, server_log=server_log, timeout=timeout)
    try:
        w.sock = ctx.wrap_socket(w.sock, server_hostname=server_hostname)
    except BaseException:
        w.close()
        raise
    return w


def read_nothing(w, seconds):
    """The bytes the server sends within `seconds` (b'' when it stays silent,
    None when it closed the connection)."""
    old = w.sock.gettimeout()
    w.sock.settimeout(seconds)
    try:
        data = w.sock.recv(65536)
        return data if data else None
    except (socket.timeout, BlockingIOError):
        return b""
    finally:
        w.sock.settimeout(old)


# --------------------------------------------------------------------------
# a tern with the three mail roles

def _wait_port(port, host="127.0.0.1", timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def tls_config_lines(cert, key, sub_port, subs_port, dead_dns_port):
    return ["listen 127.0.0.1:%d submission" % sub_port,
            "listen 127.0.0.1:%d submissions" % subs_port,
            "tls-cert %s" % cert,
            "tls-key %s" % key,
            # outbound lookups go to a loopback port where nobody answers:
            # relayed test mail must never leave the machine
            "dns 127.0.0.1:%d" % dead_dns_port]


def start_tls_server(make_server, cert, key, users, aliases=(), subdir=None, extra_lines=()):
    """A started TernServer (smtp on .port) with .sub_port (submission,
    STARTTLS) and .subs_port (submissions, implicit TLS)."""
    sub_port, subs_port = free_port(), free_port()
    while subs_port == sub_port:
        subs_port = free_port()
    srv = make_server(subdir=subdir, users=users, aliases=list(aliases), hostname=SERVER_NAME,
                      extra_lines=tls_config_lines(cert, key, sub_port, subs_port, free_port()) + list(extra_lines))
    srv.sub_port, srv.subs_port = sub_port, subs_port
    for p in (sub_port, subs_port):
        if not _wait_port(p):
            pytest.fail("tern does not listen on %d\n--- config ---\n%s--- log ---\n%s"
                        % (p, srv.conf_path.read_text(), srv.log()))
    return srv


# --------------------------------------------------------------------------
# network namespaces: a client that is not on loopback

CLONE_NEWNET = 0x40000000


def _run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def socket_in_netns(ns, family):
    """A TCP socket created inside network namespace `ns`. setns(2) with
    CLONE_NEWNET changes only the calling thread, so a short-lived thread
    enters the namespace and makes the socket; a socket keeps the namespace
    it was made in, whichever thread uses it later."""
    result = {}

    def make():
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = os.open("/run/netns/%s" % ns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, "setns: %s" % os.strerror(e))
            finally:
                os.close(fd)
            result["sock"] = socket.socket(family, socket.SOCK_STREAM)
        except BaseException as e:   # handed to the caller's thread
            result["error"] = e

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["sock"]


class NetnsPair:
    """Two network namespaces made by this test: `server` (192.0.2.1/24) and
    `client` (192.0.2.2/24) joined by a veth pair. Addresses from TEST-NET-1
    (RFC 5737), reachable only between the two. Use as a context manager;
    raises pytest.skip when namespaces cannot be made here."""

    SERVER_ADDR = "192.0.2.1"
    CLIENT_ADDR = "192.0.2.2"

    def __init__(self, tag="sub"):
        base = "tern-%s-%d" % (tag, os.getpid())
        self.server_ns, self.client_ns = base + "-s", base + "-c"
        self.veth_s, self.veth_c = "tv%ds" % (os.getpid() % 100000), "tv%dc" % (os.getpid() % 100000)
        self.made = []

    def _ip(self, *args):
        r = _run(["ip"] + list(args))
        if r.returncode != 0:
            raise RuntimeError("ip %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
        return r

    def __enter__(self):
        if shutil.which("ip") is None:
            pytest.skip("no ip(8) command: cannot make network namespaces")
        try:
            for ns in (self.server_ns, self.client_ns):
                self._ip("netns", "add", ns)
                self.made.append(ns)
            self._ip("link", "add", self.veth_s, "netns", self.server_ns, "type", "veth",
                     "peer", "name", self.veth_c, "netns", self.client_ns)
            for ns, dev, addr in ((self.server_ns, self.veth_s, self.SERVER_ADDR),
                                  (self.client_ns, self.veth_c, self.CLIENT_ADDR)):
                self._ip("-n", ns, "link", "set", "lo", "up")
                self._ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
                self._ip("-n", ns, "link", "set", dev, "up")
            # the client must be able to create sockets in its namespace
            self.client_socket().close()
        except (RuntimeError, OSError) as e:
            self.cleanup()
            pytest.skip("cannot make network namespaces here: %s" % e)
        return self

    def cleanup(self):
        for ns in reversed(self.made):
            _run(["ip", "netns", "del", ns])
        self.made = []

    def __exit__(self, *exc):
        self.cleanup()

    def client_socket(self):
        """A TCP socket created inside the client namespace."""
        return socket_in_netns(self.client_ns, socket.AF_INET)

    def client_wire(self, port, server_log=None, timeout=REPLY_TIMEOUT):
        """An SMTPWire from 192.0.2.2 (client namespace) to 192.0.2.1:port."""
        w = SMTPWire(port, host=self.SERVER_ADDR, timeout=timeout, connect=False, server_log=server_log)
        s = self.client_socket()
        s.settimeout(timeout)
        try:
            s.connect((self.SERVER_ADDR, port))
        except BaseException:
            s.close()
            raise
        w.sock = s
        return w


class NetnsTern:
    """`ip netns exec NS tern serve -c CONF` with listeners on the server
    address of a NetnsPair. Same log handling as conftest's TernServer."""

    def __init__(self, pair, tmp_path, lines):
        self.pair = pair
        self.tmp_path = Path(tmp_path)
        self.data_dir = self.tmp_path / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.tmp_path / "tern-netns.conf"
        self.log_path = self.tmp_path / "tern-netns.log"
        self.lines = lines
        self.proc = None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"

    def start(self, ready_port):
        assert os.path.exists(TERN_BIN), "server binary %s does not exist" % TERN_BIN
        self.conf_path.write_text("\n".join(["# written by tests/integration/tls_helpers.py",
                                             "data-dir %s" % self.data_dir] + self.lines) + "\n")
        env = dict(os.environ)
        env.pop("TERN_CONFIG", None)
        with open(self.log_path, "wb") as log:
            # ip netns exec execs the command: the pid is tern's own
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.pair.server_ns, TERN_BIN, "serve",
                                          "-c", str(self.conf_path)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=str(self.tmp_path), env=env)
        deadline = time.monotonic() + START_TIMEOUT
        last = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                last = "exited with status %d" % self.proc.returncode
                break
            try:
                w = self.pair.client_wire(ready_port, timeout=5)
                try:
                    w.greeting()
                    w.cmd("QUIT")
                    return self
                finally:
                    w.close()
            except (OSError, ConnectionClosed, AssertionError) as e:
                last = str(e)
            time.sleep(0.05)
        self.stop()
        pytest.fail("tern serve in namespace %s did not come up: %s\n--- config ---\n%s--- log ---\n%s"
                    % (self.pair.server_ns, last, self.conf_path.read_text(), self.log()))

    def stop(self):
        """SIGTERM; returns the exit status (or 'hung', after SIGKILL)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "hung"
        return self.proc.returncode
