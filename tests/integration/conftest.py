"""Shared machinery for tern's integration tests.

Every test runs the real binary (`tern serve -c CONF`, path from the TERN_BIN
environment variable, default build/tern-san) on free loopback ports with a
data-dir under pytest's tmp_path, and talks to it over TCP with clients we did
not write (smtplib, curl, swaks) or with raw sockets (`SMTPWire`) when the
exact bytes matter.
"""

import os
import re
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERN_BIN = os.environ.get("TERN_BIN", str(REPO_ROOT / "build" / "tern-san"))

HOSTNAME = "mx.test"
DOMAIN = "example.test"
PASSWORD = "secret"

START_TIMEOUT = 15.0   # seconds until every listener must greet
STOP_TIMEOUT = 15.0    # seconds a SIGTERM may take before SIGKILL
REPLY_TIMEOUT = 15.0   # seconds to wait for one SMTP reply

# RFC 3463 enhanced status code right after the reply code
ENHANCED = re.compile(r"^\d{3}[ -]\d\.\d{1,3}\.\d{1,3}( |$)")


# --------------------------------------------------------------------------
# ports and small helpers

def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll_until(predicate, timeout, interval=0.05):
    """Call predicate until it returns something truthy or the deadline
    passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def split_trace(message):
    """Split a delivered Maildir file into (return_path_line, delivered_to_line,
    received_field_lines, rest), passing over tern's Authentication-Results. received_field_lines is the list of physical
    lines of tern's Received: field (first line plus continuation lines), all
    without their LF; rest is the remaining bytes (the message as sent)."""
    lines = message.split(b"\n")
    assert len(lines) >= 4, "delivered file too short: %r" % message[:300]
    return_path, delivered_to = lines[0], lines[1]
    i = 2
    # The smtp role's Authentication-Results field (CONTRACT.md) stands
    # between Delivered-To and Received: tests of it read it themselves.
    if lines[i].startswith(b"Authentication-Results:"):
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    received = [lines[i]]
    i += 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        received.append(lines[i])
        i += 1
    rest = b"\n".join(lines[i:])
    return return_path, delivered_to, received, rest


def unfold(field_lines):
    """The unfolded text of a header field given as its physical lines."""
    return b" ".join(line.strip() for line in field_lines).decode("utf-8", "replace")


# --------------------------------------------------------------------------
# a raw SMTP client for byte-exact protocol tests

class Reply:
    """One (possibly multi-line) SMTP reply."""

    def __init__(self, raw_lines):
        self.raw_lines = raw_lines                       # bytes, CRLF stripped
        self.lines = [l.decode("utf-8", "replace") for l in raw_lines]
        self.code = int(self.lines[-1][:3])

    @property
    def line(self):
        """The first line (for one-line replies: the reply)."""
        return self.lines[0]

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%r)" % (self.text,)


class ConnectionClosed(Exception):
    pass


def tls_context():
    """A client context that takes tern's self-signed certificate unverified
    (tests that check certificates use tls_helpers.client_context)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class LineWire:
    """A raw client for the line protocols (POP3, IMAP): exact bytes out,
    strict CR LF lines in."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed; unread %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def closed(self, timeout=None):
        """True when the server closes the connection (reading what it still
        sends), False when it stays open for the timeout."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


class SMTPWire:
    """A line-level SMTP client on a plain socket: sends exactly the bytes it
    is given and parses replies strictly (only CR LF ends a reply line)."""

    def __init__(self, port, host="127.0.0.1", timeout=REPLY_TIMEOUT, connect=True, server_log=None):
        self.host, self.port, self.timeout = host, port, timeout
        self.server_log = server_log   # callable giving the server's log, for error messages
        self.buf = b""
        self.sock = None
        if connect:
            self.sock = socket.create_connection((host, port), timeout=timeout)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _context(self):
        return ("\n--- server log ---\n%s" % self.server_log()) if self.server_log else ""

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise socket.timeout("no complete reply within %ss; unread: %r%s"
                                 % (self.timeout, self.buf[:300], self._context())) from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed("server closed the connection; unread: %r%s" % (self.buf, self._context()))
        self.buf += chunk

    def read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_reply(self):
        lines = []
        while True:
            line = self.read_line()
            assert re.match(rb"^\d{3}([ -]|$)", line), "malformed reply line %r (so far %r)" % (line, lines)
            lines.append(line)
            if line[3:4] != b"-":
                if len(lines) > 1:
                    assert all(l[:3] == line[:3] for l in lines), "mixed codes in %r" % lines
                return Reply(lines)

    def cmd(self, line):
        """Send one command line (CR LF appended) and return its reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.read_reply()

    def greeting(self):
        reply = self.read_reply()
        assert reply.code == 220, "greeting: %r" % reply
        return reply

    def ehlo(self, name="client.test"):
        reply = self.cmd("EHLO " + name)
        assert reply.code == 250, "EHLO: %r" % reply
        return reply

    def start(self, name="client.test"):
        """Greeting plus EHLO."""
        self.greeting()
        return self.ehlo(name)

    def wait_closed(self):
        """True when the server closes the connection (reading any bytes it
        still sends); fails if it stays open for the whole timeout."""
        return LineWire.closed(self)


def expect(reply, pattern):
    """Assert that the reply's last line matches the regular expression."""
    assert re.match(pattern, reply.lines[-1]), "expected /%s/, got %r" % (pattern, reply)
    return reply


def queued_id(reply):
    """The queue id from '250 2.0.0 Ok: queued as ID'."""
    m = re.match(r"^250 2\.0\.0 Ok: queued as ([A-Za-z0-9]+)$", reply.lines[-1])
    assert m, "expected '250 2.0.0 Ok: queued as ID', got %r" % reply
    return m.group(1)


# --------------------------------------------------------------------------
# the server under test

class TernServer:
    """One `tern serve` process with its own configuration and data-dir."""

    instances = 0

    def __init__(self, tmp_path, *, users=None, aliases=(), domains=(DOMAIN,),
                 max_message_size="1M", hostname=HOSTNAME, data_dir=None,
                 extra_lines=(), port=None, env=None, preexec=None):
        TernServer.instances += 1
        self.n = TernServer.instances
        self.tmp_path = Path(tmp_path)
        self.hostname = hostname
        self.domains = list(domains)
        self.data_dir = Path(data_dir) if data_dir else self.tmp_path / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.users = users
        self.aliases = list(aliases)
        self.max_message_size = max_message_size
        self.extra_lines = list(extra_lines)
        self.port = port
        self.extra_env = dict(env or {})
        self.preexec = preexec    # run in the child before exec (limits)
        self.proc = None
        self.log_path = None
        self.conf_path = self.tmp_path / ("tern-%d.conf" % self.n)
        self.users_path = None
        self.exit_codes = []      # exit status of every stopped process
        self.killed = False       # we SIGKILLed it on purpose
        self.stopping = False     # we sent SIGTERM
        self.starts = 0

    # configuration -------------------------------------------------------
    def write_config(self):
        lines = ["# written by tests/integration/conftest.py",
                 "hostname %s" % self.hostname,
                 "data-dir %s" % self.data_dir,
                 "listen 127.0.0.1:%d smtp" % self.port]
        for d in self.domains:
            lines.append("domain %s" % d)
        if self.users is not None:
            self.users_path = self.tmp_path / ("users-%d" % self.n)
            self.users_path.write_text("".join("%s:%s\n" % (addr, pw_hash)
                                               for addr, pw_hash in self.users))
            lines.append("users %s" % self.users_path)
        for address, targets in self.aliases:
            lines.append("alias %s %s" % (address, targets))
        if self.max_message_size:
            lines.append("max-message-size %s" % self.max_message_size)
        lines.extend(self.extra_lines)
        self.conf_path.write_text("\n".join(lines) + "\n")

    # process control ------------------------------------------------------
    def log(self):
        if self.log_path and self.log_path.exists():
            text = self.log_path.read_text(errors="replace")
            if len(text) > 9000:
                text = text[:3000] + "\n[... %d characters left out ...]\n" % (len(text) - 9000) + text[-6000:]
            return text
        return "(no log)"

    def start(self):
        assert os.path.exists(TERN_BIN), "server binary %s does not exist (build it: make build/tern-san)" % TERN_BIN
        last_error = None
        for attempt in range(3):       # a picked port can be taken meanwhile
            if self.port is None or attempt > 0:
                self.port = free_port()
            self.write_config()
            self.starts += 1
            self.log_path = self.tmp_path / ("tern-%d.%d.log" % (self.n, self.starts))
            log = open(self.log_path, "wb")
            env = dict(os.environ)
            env.pop("TERN_CONFIG", None)
            env.update(self.extra_env)
            self.proc = subprocess.Popen([TERN_BIN, "serve", "-c", str(self.conf_path)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=str(self.tmp_path), env=env, preexec_fn=self.preexec)
            log.close()
            self.killed = self.stopping = False
            ok, last_error = self._wait_ready()
            if ok:
                return self
            if self.proc.poll() is None:
                self._terminate_hard()
            if "in use" not in self.log().lower():
                break
        pytest.fail("tern serve did not come up: %s\n--- config ---\n%s--- log ---\n%s"
                    % (last_error, self.conf_path.read_text(), self.log()))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with status %d" % self.proc.returncode
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    s.settimeout(max(0.5, deadline - time.monotonic()))
                    data = b""
                    while b"\r\n" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    if data.startswith(b"220 ") or data.startswith(b"220-"):
                        try:
                            s.sendall(b"QUIT\r\n")
                        except OSError:
                            pass
                        return True, None
                    last_error = "greeting was %r" % data
            except OSError as e:
                last_error = "connect: %s" % e
            time.sleep(0.05)
        return False, "timeout after %.0fs (%s)" % (START_TIMEOUT, last_error)

    def _terminate_hard(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        """SIGTERM, wait, SIGKILL if needed; returns the exit status (negative
        for a signal)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.stopping = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("hung")
            return "hung after SIGTERM (killed)"
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def kill(self):
        """SIGKILL: the crash case. The exit status is not checked."""
        self.proc.kill()
        self.proc.wait()
        self.killed = True

    def restart(self):
        """Start again on the same port and data-dir after stop() or kill()."""
        assert self.proc.poll() is not None
        return self.start()

    # looking at the data-dir ---------------------------------------------
    def maildir(self, domain, local):
        return self.data_dir / "mail" / domain / local

    def maildir_messages(self, domain, local):
        """The bytes of every file in DATA/mail/DOMAIN/LOCAL/new/, oldest name first."""
        new = self.maildir(domain, local) / "new"
        if not new.is_dir():
            return []
        out = []
        for name in sorted(os.listdir(new)):
            try:
                out.append((new / name).read_bytes())
            except FileNotFoundError:    # moved away meanwhile
                pass
        return out

    def wait_for_mail(self, domain, local, count, timeout=10):
        """Poll until DOMAIN/LOCAL/new holds at least `count` messages; returns
        them. Fails (with the server log) at the deadline."""
        def enough():
            found = self.maildir_messages(domain, local)
            return found if len(found) >= count else None

        messages = poll_until(enough, timeout)
        if messages is None:
            got = len(self.maildir_messages(domain, local))
            pytest.fail("expected %d message(s) in %s/%s within %ss, found %d\n--- queue ---\n%s\n--- log ---\n%s"
                        % (count, domain, local, timeout, got, self.queue_messages(), self.log()))
        return messages

    def all_mailboxes(self):
        """Every DOMAIN/LOCAL directory under DATA/mail, as 'domain/local'."""
        root = self.data_dir / "mail"
        if not root.is_dir():
            return []
        return sorted("%s/%s" % (d.name, l.name)
                      for d in root.iterdir() if d.is_dir()
                      for l in d.iterdir() if l.is_dir())

    def all_delivered(self):
        """Every delivered file's bytes, across all mailboxes."""
        out = []
        for box in self.all_mailboxes():
            d, l = box.split("/", 1)
            out.extend(self.maildir_messages(d, l))
        return out

    def queue_messages(self):
        """Names in DATA/queue/msg (accepted, not yet finished messages)."""
        msg = self.data_dir / "queue" / "msg"
        return sorted(os.listdir(msg)) if msg.is_dir() else []

    def wait_queue_empty(self, timeout=10):
        left = poll_until(lambda: not self.queue_messages(), timeout)
        assert left, "queue/msg not empty after %ss: %r\n--- log ---\n%s" % (
            timeout, self.queue_messages(), self.log())

    # clients --------------------------------------------------------------
    def wire(self, **kw):
        """A connected SMTPWire (greeting not yet read)."""
        return SMTPWire(self.port, server_log=self.log, **kw)

    def session(self, ehlo="client.test"):
        """A connected SMTPWire that has read the greeting and sent EHLO."""
        w = SMTPWire(self.port, server_log=self.log)
        w.start(ehlo)
        return w


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="session")
def password_hash():
    """A SHA-512 crypt hash of PASSWORD, made by openssl."""
    out = subprocess.run(["openssl", "passwd", "-6", PASSWORD], check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out.startswith("$6$")
    return out


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(**TernServer options) starts a server; every server
    is stopped at teardown and must have exited with status 0 on SIGTERM."""
    servers = []

    def factory(subdir=None, **kw):
        base = tmp_path / subdir if subdir else tmp_path
        base.mkdir(parents=True, exist_ok=True)
        srv = TernServer(base, **kw)
        servers.append(srv)
        return srv.start()

    yield factory
    problems = []
    for srv in servers:
        if srv.proc is None:
            continue
        if srv.proc.poll() is None:
            srv.stop()
        elif not srv.killed and not srv.stopping:
            problems.append("server %d died by itself (status %d) during the test\n--- log ---\n%s"
                            % (srv.n, srv.proc.returncode, srv.log()))
        bad = [c for c in srv.exit_codes if c != 0]
        if bad:
            problems.append("server %d: exit status after SIGTERM %r\n--- log ---\n%s"
                            % (srv.n, bad, srv.log()))
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def users(password_hash):
    """Two users in example.test; bob comes first (postmaster's default)."""
    return [("bob@%s" % DOMAIN, password_hash), ("carol@%s" % DOMAIN, password_hash)]


@pytest.fixture
def server(make_server, users):
    """A server for example.test with a users file (bob, carol) and an alias
    list@example.test -> bob, carol."""
    return make_server(users=users,
                       aliases=[("list@%s" % DOMAIN, "bob@%s,carol@%s" % (DOMAIN, DOMAIN))])


@pytest.fixture
def open_server(make_server):
    """A server for example.test without a users file: every local part is valid."""
    return make_server()
