"""Machinery for the outbound relay tests (test_relay.py).

A small private Internet on loopback: dnsmasq on 127.0.0.1 publishes MX and A
records for *.test names; tern servers and foreign peers listen on other
loopback addresses (127.0.0.2, .3, ...; Linux routes all of 127/8 to lo), all
on one common port, because `smtp-port` is one number for every exchanger.

Reuses conftest.py's TernServer (process control, Maildir and queue helpers),
only changing the listening address.
"""

import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import START_TIMEOUT, SMTPWire, TernServer, expect, poll_until, queued_id

# A healthy tern stops in milliseconds when nothing is in flight (measured:
# 15-40 ms under ASan); conftest allows 15 s, which would make a hang cost
# 15 s per server.
RELAY_STOP_TIMEOUT = 3.0

DNSMASQ = shutil.which("dnsmasq", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


# --------------------------------------------------------------------------
# ports

def _can_bind(addr, port, kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((addr, port))
            return True
        except OSError:
            return False


def free_common_port(addrs, tries=100):
    """A TCP port that is free on every address in addrs."""
    for _ in range(tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
        if all(_can_bind(a, port) for a in addrs[1:]):
            return port
    raise RuntimeError("no common free port on %s" % (addrs,))


def free_udp_tcp_port(addr="127.0.0.1", tries=100):
    """A port free for both UDP and TCP on addr (for the DNS server)."""
    for _ in range(tries):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((addr, 0))
            port = s.getsockname()[1]
        if _can_bind(addr, port, socket.SOCK_STREAM):
            return port
    raise RuntimeError("no free UDP+TCP port on %s" % addr)


def wait_banner(addr, port, timeout, alive=lambda: True):
    """Wait for a 220 greeting on addr:port; returns None or an error text."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        if not alive():
            return "process exited"
        try:
            with socket.create_connection((addr, port), timeout=2) as s:
                s.settimeout(max(0.5, deadline - time.monotonic()))
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"220"):
                    try:
                        s.sendall(b"QUIT\r\n")
                    except OSError:
                        pass
                    return None
                last = "greeting %r" % data[:200]
        except OSError as e:
            last = "connect: %s" % e
        time.sleep(0.05)
    return "no greeting on %s:%d within %ss (%s)" % (addr, port, timeout, last)


# --------------------------------------------------------------------------
# the test DNS

def dns_query(port, name, qtype=15, timeout=0.5):
    """One UDP query to 127.0.0.1:port; returns (rcode, answer count) or None."""
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    packet += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"
    packet += struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(packet, ("127.0.0.1", port))
            data, _ = s.recvfrom(4096)
        except OSError:
            return None
    if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    return data[3] & 0x0F, struct.unpack(">H", data[6:8])[0]


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT, answering only for .test (TOOLING.md).

    records: a list of dnsmasq options such as '--mx-host=b.test,mx.b.test,10'.
    probe: a name with an MX record, asked until dnsmasq answers."""

    def __init__(self, workdir, records, probe):
        self.workdir = Path(workdir)
        self.records = list(records)
        self.probe = probe
        self.proc = None
        self.port = None
        self.log_path = self.workdir / "dnsmasq.log"

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def start(self):
        if DNSMASQ is None:
            pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
        last = ""
        for _ in range(3):
            self.port = free_udp_tcp_port()
            cmd = [DNSMASQ, "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null",
                   "--pid-file=", "--port=%d" % self.port, "--listen-address=127.0.0.1",
                   "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/test/",
                   "--log-queries"] + self.records
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                answer = dns_query(self.port, self.probe)
                if answer and answer[0] == 0 and answer[1] > 0:
                    return self
                time.sleep(0.05)
            last = "dnsmasq did not answer for %s on port %d (exit %r)\n%s" % (
                self.probe, self.port, self.proc.poll(), self.log())
            self.stop()
        pytest.fail(last)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# tern on any loopback address

class AddrTernServer(TernServer):
    """conftest's TernServer listening on `listen_addr` at a fixed port (the
    common port of the test network: it never moves to another port)."""

    def __init__(self, tmp_path, *, listen_addr, port, **kw):
        super().__init__(tmp_path, port=port, **kw)
        self.listen_addr = listen_addr

    def write_config(self):
        lines = ["# written by tests/integration/relay_helpers.py",
                 "hostname %s" % self.hostname,
                 "data-dir %s" % self.data_dir,
                 "listen %s:%d smtp" % (self.listen_addr, self.port)]
        lines += ["domain %s" % d for d in self.domains]
        if self.users is not None:
            self.users_path = self.tmp_path / ("users-%d" % self.n)
            self.users_path.write_text("".join("%s:%s\n" % u for u in self.users))
            lines.append("users %s" % self.users_path)
        lines += ["alias %s %s" % a for a in self.aliases]
        if self.max_message_size:
            lines.append("max-message-size %s" % self.max_message_size)
        lines.extend(self.extra_lines)
        self.conf_path.write_text("\n".join(lines) + "\n")

    def start(self):
        from conftest import TERN_BIN
        assert os.path.exists(TERN_BIN), "server binary %s does not exist (make build/tern-san)" % TERN_BIN
        self.write_config()
        self.starts += 1
        self.log_path = self.tmp_path / ("tern-%d.%d.log" % (self.n, self.starts))
        env = dict(os.environ)
        env.pop("TERN_CONFIG", None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([TERN_BIN, "serve", "-c", str(self.conf_path)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=str(self.tmp_path), env=env)
        self.killed = self.stopping = False
        err = wait_banner(self.listen_addr, self.port, START_TIMEOUT, alive=lambda: self.proc.poll() is None)
        if err:
            if self.proc.poll() is None:
                self._terminate_hard()
            pytest.fail("tern serve did not come up on %s:%d: %s\n--- config ---\n%s--- log ---\n%s"
                        % (self.listen_addr, self.port, err, self.conf_path.read_text(), self.log()))
        return self

    def stop(self, timeout=None):
        """SIGTERM, wait up to `timeout` (RELAY_STOP_TIMEOUT: nothing is in
        flight when these tests stop a server, and a healthy tern exits in
        milliseconds), SIGKILL if needed; returns the exit status, or a text
        saying it hung."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        if not self.stopping:
            self.stopping = True
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(RELAY_STOP_TIMEOUT if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("hung")
            return "hung after SIGTERM (killed)"
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def wire(self, **kw):
        return SMTPWire(self.port, host=self.listen_addr, server_log=self.log, **kw)

    def session(self, ehlo="client.test"):
        w = self.wire()
        w.start(ehlo)
        return w

    def full_log(self):
        """Every log of this server (all starts), concatenated."""
        out = []
        for i in range(1, self.starts + 1):
            p = self.tmp_path / ("tern-%d.%d.log" % (self.n, i))
            if p.exists():
                out.append(p.read_text(errors="replace"))
        return "".join(out)

    def log_lines(self, pattern):
        """Lines of the current log matching the regular expression."""
        rx = re.compile(pattern)
        return [l for l in self.full_log().splitlines() if rx.search(l)]

    def wait_log(self, pattern, timeout=10, count=1):
        """Poll the log until `count` lines match; returns them or fails."""
        found = poll_until(lambda: (lambda m: m if len(m) >= count else None)(self.log_lines(pattern)), timeout)
        if not found:
            pytest.fail("no %d log line(s) matching /%s/ within %ss\n--- queue ---\n%s\n--- log ---\n%s"
                        % (count, pattern, timeout, self.queue_messages(), self.log()))
        return found

    def submit(self, sender, rcpts, message, ehlo="client.test"):
        """One SMTP transaction on this server; returns the queue id."""
        with self.session(ehlo) as w:
            expect(w.cmd("MAIL FROM:<%s>" % sender), r"^250 ")
            for r in rcpts:
                expect(w.cmd("RCPT TO:<%s>" % r), r"^250 ")
            expect(w.cmd("DATA"), r"^354")
            w.send(message + b".\r\n")
            qid = queued_id(w.read_reply())
            w.cmd("QUIT")
        return qid


def check_servers(servers):
    """Stop every server (SIGTERM to all at once, then wait for each); list
    the ones that died by themselves or did not exit 0 on SIGTERM within
    RELAY_STOP_TIMEOUT (conftest's make_server teardown, for our servers)."""
    problems = []
    running = [s for s in servers if s.proc is not None and s.proc.poll() is None]
    for srv in running:
        srv.stopping = True
        srv.proc.send_signal(signal.SIGTERM)
    for srv in running:
        srv.stop()
    for srv in servers:
        if srv.proc is None:
            continue
        if srv not in running and not srv.killed and not srv.stopping:
            problems.append("server %s (%s) died by itself (status %d)\n--- log ---\n%s"
                            % (srv.n, srv.hostname, srv.proc.returncode, srv.log()))
        bad = [c for c in srv.exit_codes if c != 0]
        if bad:
            problems.append("server %s (%s): exit status after SIGTERM %r (\"hung\": still running "
                            "%.0f s after SIGTERM, killed)\n--- log ---\n%s"
                            % (srv.n, srv.hostname, bad, RELAY_STOP_TIMEOUT, srv.log()))
    return problems


# --------------------------------------------------------------------------
# reading delivered mail

def take_fields(data, n):
    """Split the first n header fields off `data` (LF line endings). Returns
    ([(name, unfolded value, raw bytes)], rest)."""
    fields = []
    lines = data.split(b"\n")
    i = 0
    for _ in range(n):
        assert i < len(lines) and lines[i] and lines[i][:1] not in (b" ", b"\t"), \
            "expected a header field at line %d of %r" % (i, data[:600])
        start = i
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
        raw = b"\n".join(lines[start:i]) + b"\n"
        name, _, value = raw.partition(b":")
        fields.append((name.decode(), b" ".join(l.strip() for l in value.split(b"\n")).decode().strip(), raw))
    return fields, b"\n".join(lines[i:])


def take_trace(data, n):
    """take_fields for a delivered Maildir file, passing over the
    Authentication-Results field that the smtp role puts after Delivered-To
    (CONTRACT.md): the n fields are Return-Path, Delivered-To, Received..."""
    fields, rest = take_fields(data, n + 1)
    if len(fields) > 2 and fields[2][0] == "Authentication-Results":
        return fields[:2] + fields[3:], rest
    return take_fields(data, n)


def crlf_to_lf(data):
    return data.replace(b"\r\n", b"\n")


# --------------------------------------------------------------------------
# foreign peers

class ScriptedPeer:
    """A minimal SMTP server on addr:port written here, one thread per
    connection. It answers EHLO/HELO, MAIL, RCPT, RSET, NOOP and QUIT with 250
    (221), DATA with 354, then receives content; with `drop_after` set it
    closes the socket once it holds that many content bytes, before the
    final dot (a peer that vanishes mid-DATA). Without it, it accepts the
    message with 250. No extensions but 8BITMIME and SIZE are offered.

    With `close_at_once` it accepts and closes every connection without a
    word (counts connections only). With `rcpt_tempfail` N, the first N RCPT
    commands get "451 4.3.0 Try again later"."""

    def __init__(self, addr, port, name="peer.test", drop_after=None, close_at_once=False, rcpt_tempfail=0):
        self.addr, self.port, self.name = addr, port, name
        self.drop_after = drop_after
        self.close_at_once = close_at_once
        self.rcpt_tempfail = rcpt_tempfail
        self.connections = 0
        self.partial = []          # content bytes received by dropped transactions
        self.messages = []         # (mail_from line, [rcpt lines], content) of completed ones
        self.lock = threading.Lock()
        self.sock = None
        self.thread = None
        self.stopping = False

    def start(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.addr, self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        if self.thread:
            self.thread.join(5)
        if self.sock:
            self.sock.close()
            self.sock = None

    def _accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            if self.close_at_once:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(30)
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise ConnectionError("peer closed")
                buf += chunk
            l, buf = buf.split(b"\r\n", 1)
            return l

        try:
            conn.sendall(b"220 %s ESMTP scripted test peer\r\n" % self.name.encode())
            mail, rcpts = None, []
            while True:
                l = line()
                verb = l[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250-%s\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n" % self.name.encode())
                elif verb == b"HELO":
                    conn.sendall(b"250 %s\r\n" % self.name.encode())
                elif verb == b"MAIL":
                    mail, rcpts = l, []
                    conn.sendall(b"250 2.1.0 Ok\r\n")
                elif verb == b"RCPT":
                    with self.lock:
                        tempfail = self.rcpt_tempfail > 0
                        self.rcpt_tempfail -= 1 if tempfail else 0
                    if tempfail:
                        conn.sendall(b"451 4.3.0 Try again later\r\n")
                    else:
                        rcpts.append(l)
                        conn.sendall(b"250 2.1.5 Ok\r\n")
                elif verb == b"DATA" and not rcpts:
                    conn.sendall(b"554 5.5.1 No valid recipients\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    content = buf
                    buf = b""
                    while True:
                        if self.drop_after is not None and len(content) >= self.drop_after:
                            with self.lock:
                                self.partial.append(content)
                            conn.shutdown(socket.SHUT_RDWR)
                            conn.close()
                            return
                        end = content.find(b"\r\n.\r\n")
                        if end >= 0 or content.startswith(b".\r\n"):
                            break
                        chunk = conn.recv(65536)
                        if not chunk:
                            with self.lock:
                                self.partial.append(content)
                            return
                        content += chunk
                    body, buf = (content[:end + 2], content[end + 5:]) if end >= 0 else (b"", content[3:])
                    body = re.sub(rb"(^|\r\n)\.", rb"\1", body)      # undo dot-stuffing
                    with self.lock:
                        self.messages.append((mail, rcpts, body))
                    conn.sendall(b"250 2.0.0 Ok: accepted by scripted peer\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    return
                elif verb in (b"RSET", b"NOOP"):
                    conn.sendall(b"250 2.0.0 Ok\r\n")
                else:
                    conn.sendall(b"502 5.5.2 Not implemented\r\n")
        except (OSError, ConnectionError):
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass


class AiosmtpdPeer:
    """Python's aiosmtpd (a server we did not write) on addr:port, in a
    thread of this process; records every envelope it accepts."""

    def __init__(self, addr, port):
        self.addr, self.port = addr, port
        self.envelopes = []        # dicts: mail_from, rcpt_tos, content, helo, mail_options
        self.controller = None

    def start(self):
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            pytest.skip("python3-aiosmtpd is not installed")
        peer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                content = envelope.original_content
                if content is None:
                    content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
                peer.envelopes.append(dict(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                                           content=content, helo=session.host_name,
                                           mail_options=list(envelope.mail_options)))
                return "250 2.0.0 Ok: accepted by aiosmtpd"

        self.controller = Controller(Handler(), hostname=self.addr, port=self.port,
                                     server_hostname="aio.test", ready_timeout=10)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def ensure_smtp_sink():
    """The path of Postfix's smtp-sink, installing postfix when it is missing
    (apt-get, as TOOLING.md says); None when it cannot be had."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    found = shutil.which("smtp-sink", path=path)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends", "postfix"]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
            subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shutil.which("smtp-sink", path=path)


class SmtpSinkPeer:
    """Postfix's smtp-sink on addr:port, dumping every transaction into its
    own file (-d) so that the test can read the envelope and content."""

    def __init__(self, binary, addr, port):
        self.binary, self.addr, self.port = binary, addr, port
        self.proc = None
        self.dir = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="tern-sink-")
        cmd = [self.binary, "-h", "sink.test"]
        if os.geteuid() == 0:        # smtp-sink refuses to run as root without -u
            import pwd
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            cmd += ["-u", "nobody"]
        cmd += ["-d", os.path.join(self.dir, "msg."), "%s:%d" % (self.addr, self.port), "16"]
        self.log_path = os.path.join(self.dir, "..", os.path.basename(self.dir) + ".log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file)
        err = wait_banner(self.addr, self.port, 10, alive=lambda: self.proc.poll() is None)
        if err:
            self.stop()
            pytest.fail("smtp-sink did not come up: %s" % err)
        return self

    def dumps(self):
        """The bytes of every complete dump file."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, name), "rb") as f:
                out.append(f.read())
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log_file", None):
            self.log_file.close()
            try:
                os.unlink(self.log_path)
            except OSError:
                pass
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
