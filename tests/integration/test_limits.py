"""Limits tied to the real resources (docs/architecture.md, the limits table):
the session cap follows the open-file limit tern obtained, a listener out of
descriptors pauses instead of spinning and recovers, IPv6 clients are counted
per /64, sessions have a lifetime and content a minimum rate, password
guessing is throttled per network and per account, and queue/corrupt/ is
bounded."""

import os
import re
import resource
import shutil
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from conftest import DOMAIN, PASSWORD, expect, poll_until
from tls_helpers import socket_in_netns

LONG_HOST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])   # 253 octets
assert len(LONG_HOST) == 253


def nofile(n):
    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return pre


def logged_cap(srv):
    m = re.search(r"limits: open files (\d+).*sessions up to (\d+), outbound connections up to (\d+)", srv.log())
    assert m, srv.log()
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def read_line(s):
    data = b""
    while not data.endswith(b"\r\n"):
        c = s.recv(1)
        if not c:
            break
        data += c
    return data


def greeted(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s, read_line(s)


def test_session_cap_follows_the_open_file_limit(make_server):
    """Under an open-file limit of 160 the cap is what is left once tern's
    own descriptors are set aside; one session more gets 421 4.3.2 naming the
    host, whose 253-octet name must not make the line run past 512 octets."""
    srv = make_server(hostname=LONG_HOST, preexec=nofile(160))
    files, cap, out = logged_cap(srv)
    assert files == 160 and 1 <= cap < 160 and out >= 1, (files, cap, out)
    held = []
    try:
        for _ in range(cap):
            s, line = greeted(srv.port)
            assert line.startswith(b"220 "), line
            held.append(s)
        s, line = greeted(srv.port)
        held.append(s)
        assert line == (b"421 4.3.2 %s Too many sessions, try again later\r\n" % LONG_HOST.encode()), line
        assert len(line) <= 512
        assert s.recv(100) == b""
    finally:
        for s in held:
            s.close()
    assert "refused=\"too many sessions\"" in srv.log()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_listener_pauses_without_spinning_and_recovers(make_server):
    """The descriptor limit is lowered under a running server (prlimit): new
    connections wait in the backlog instead of making the loop spin, and are
    served as soon as descriptors are free again."""
    srv = make_server()
    pid = srv.proc.pid
    held = [greeted(srv.port)[0] for _ in range(6)]
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    used = len(os.listdir("/proc/%d/fd" % pid))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (used, hard))
    waiting = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.settimeout(0.5)
            waiting.append(s)
        assert poll_until(lambda: "accept: Too many open files" in srv.log(), 10), srv.log()
        for s in waiting:
            with pytest.raises(socket.timeout):
                s.recv(1)
        before = cpu_seconds(pid)
        time.sleep(1.0)
        assert cpu_seconds(pid) - before < 0.5, "the loop spins while accept(2) fails"
        for s in held:
            s.close()      # each freed descriptor lets the listener go on
        held = []
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        for s in waiting:
            s.settimeout(10)
            data = read_line(s)
            assert data.startswith(b"220 "), data
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        for s in held + waiting:
            s.close()
    # and a fresh client is served normally
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as c:
        assert c.noop()[0] == 250


def test_session_lifetime(make_server):
    """A session kept open with NOOPs ends after 12 x command-timeout."""
    srv = make_server(extra_lines=["command-timeout 1s"])
    with srv.session() as w:
        t0 = time.monotonic()
        while True:
            reply = w.cmd("NOOP")
            if reply.code != 250:
                break
            assert time.monotonic() - t0 < 20, "the session outlived its lifetime"
            time.sleep(0.4)
        expect(reply, r"^421 4\.4\.2 ")
        assert time.monotonic() - t0 >= 11
        assert w.wait_closed()
    assert "limit=lifetime" in srv.log()


def test_content_trickled_below_the_minimum_rate_is_dropped(make_server):
    """DATA at an octet every 0.3 s: never idle for command-timeout (2 s), but
    far below 500 octets/s: 421 4.4.2 once command-timeout has passed, and
    nothing is delivered."""
    srv = make_server(extra_lines=["command-timeout 2s"])
    with srv.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 ")
        expect(w.cmd("RCPT TO:<bob@%s>" % DOMAIN), r"^250 ")
        expect(w.cmd("DATA"), r"^354")
        t0 = time.monotonic()
        w.sock.settimeout(0.3)
        line = None
        for ch in (b"Subject: slow\r\n\r\n" + b"x" * 100):
            try:
                w.send(bytes([ch]))
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                line = w.read_line()
                break
            except socket.timeout:
                continue
        assert line is not None and line.startswith(b"421 4.4.2 "), line
        assert 1.5 < time.monotonic() - t0 < 6
    assert "limit=data-rate" in srv.log()
    time.sleep(0.5)
    assert srv.maildir_messages(DOMAIN, "bob") == []


def test_auth_throttled_per_account_across_networks(make_server, users):
    """Twenty wrong passwords for bob from ten loopback addresses (two each,
    under the per-network threshold) throttle the account: then even the
    right password gets 454 4.7.0, from an address that never failed; other
    accounts are not affected."""
    srv = make_server(users=users)

    def fail_twice(n):
        # smtplib's login() tries PLAIN, then LOGIN: two failures
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=30, source_address=("127.0.0.%d" % n, 0)) as s:
            s.ehlo("c.test")
            try:
                s.login("bob@%s" % DOMAIN, "wrong")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535, e
    threads = [threading.Thread(target=fail_twice, args=(n,)) for n in range(2, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30, source_address=("127.0.0.20", 0)) as s:
        s.ehlo("c.test")
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("bob@%s" % DOMAIN, PASSWORD)
        assert e.value.smtp_code == 454
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30, source_address=("127.0.0.20", 0)) as s:
        s.ehlo("c.test")
        assert s.login("carol@%s" % DOMAIN, PASSWORD)[0] == 235
    assert "auth throttled-account user=bob@example.test" in srv.log()


def test_queue_corrupt_is_bounded(make_server):
    """Garbage dropped by local users ends in queue/corrupt/, which keeps at
    most 256 files, the oldest going first."""
    srv = make_server()
    drop = srv.data_dir / "queue" / "drop"
    for i in range(300):
        (drop / ("0HOLGARBAGE%04d" % i)).write_bytes(b"not a drop file %d\n" % i)
    corrupt = srv.data_dir / "queue" / "corrupt"
    assert poll_until(lambda: not [n for n in os.listdir(drop) if n.startswith("0HOL")], 30), os.listdir(drop)
    names = os.listdir(corrupt)
    assert 200 <= len(names) <= 256, len(names)
    assert "queue/corrupt full" in srv.log()


# ------------------------------------------------------------- IPv6 /64

def _ip(*args):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))


@pytest.fixture
def v6net():
    """Two namespaces joined by veth: the server at 2001:db8:5::1, clients
    that may bind any address of 2001:db8:c::/64 and 2001:db8:d::/64 (a
    local route for the whole prefix, as an IPv6 host with a /64 has)."""
    if shutil.which("ip") is None:
        pytest.skip("no ip(8)")
    tag = "tv6-%d" % os.getpid()
    srv_ns, cli_ns = tag + "s", tag + "c"
    veth_s, veth_c = "v6s%d" % (os.getpid() % 10000), "v6c%d" % (os.getpid() % 10000)
    made = []
    try:
        for ns in (srv_ns, cli_ns):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("link", "add", veth_s, "netns", srv_ns, "type", "veth", "peer", "name", veth_c, "netns", cli_ns)
        for ns in (srv_ns, cli_ns):
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", srv_ns, "addr", "add", "2001:db8:5::1/64", "dev", veth_s, "nodad")
        _ip("-n", cli_ns, "addr", "add", "2001:db8:5::2/64", "dev", veth_c, "nodad")
        _ip("-n", srv_ns, "link", "set", veth_s, "up")
        _ip("-n", cli_ns, "link", "set", veth_c, "up")
        for prefix in ("2001:db8:c::/64", "2001:db8:d::/64"):
            _ip("-n", cli_ns, "-6", "route", "add", "local", prefix, "dev", "lo")
            _ip("-n", srv_ns, "-6", "route", "add", prefix, "via", "2001:db8:5::2", "dev", veth_s)
    except (RuntimeError, OSError) as e:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        pytest.skip("cannot make IPv6 network namespaces here: %s" % e)
    yield srv_ns, cli_ns
    for ns in made:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def v6_client(cli_ns, source, port):
    """A connected socket from `source` in the client namespace."""
    s = socket_in_netns(cli_ns, socket.AF_INET6)
    s.settimeout(10)
    # IP_FREEBIND: an address of the local route, not of an interface
    s.setsockopt(socket.SOL_IP, 15, 1)
    s.bind((source, 0))
    s.connect(("2001:db8:5::1", port))
    return s


def test_ipv6_clients_are_counted_per_64(tmp_path, v6net):
    srv_ns, cli_ns = v6net
    port = 2525
    data = tmp_path / "data"
    data.mkdir()
    conf = tmp_path / "v6.conf"
    conf.write_text("hostname mx.test\ndata-dir %s\nlisten [2001:db8:5::1]:%d smtp\ndomain %s\ndns 127.0.0.1:9\n"
                    % (data, port, DOMAIN))
    log = open(tmp_path / "v6.log", "wb")
    from conftest import TERN_BIN
    proc = subprocess.Popen(["ip", "netns", "exec", srv_ns, TERN_BIN, "serve", "-c", str(conf)],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    held = []
    try:
        def up():
            try:
                s = v6_client(cli_ns, "2001:db8:c::ffff", port)
            except OSError:
                return False
            ok = read_line(s).startswith(b"220")
            s.close()
            return ok
        assert poll_until(up, 15), (tmp_path / "v6.log").read_text()
        time.sleep(0.2)   # the probe's session has ended
        for i in range(1, 101):       # 100 hosts of one /64: the limit
            s = v6_client(cli_ns, "2001:db8:c::%x" % i, port)
            assert read_line(s).startswith(b"220 "), i
            held.append(s)
        s = v6_client(cli_ns, "2001:db8:c::%x" % 0x999, port)   # another address, same /64
        held.append(s)
        assert read_line(s).startswith(b"421 4.7.0 "), "a new address of a full /64 was let in"
        s = v6_client(cli_ns, "2001:db8:d::1", port)             # another /64
        held.append(s)
        assert read_line(s).startswith(b"220 ")
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(15)
        log.close()
    text = (tmp_path / "v6.log").read_text()
    assert "refused=\"too many sessions from this network\"" in text, text
