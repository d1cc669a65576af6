"""Nothing acknowledged is lost: SIGKILL in the middle of traffic, clean
SIGTERM, and a full disk."""

import os
import re
import smtplib
import subprocess
import threading
import time

import pytest

from conftest import DOMAIN, expect, poll_until, queued_id, split_trace


def message_for(key, size_lines):
    """A message identified by its Message-ID, with a body that repeats the key."""
    body = b"".join(b"%s line %05d %s\r\n" % (key.encode(), n, b"=" * 40) for n in range(size_lines))
    return (b"From: <load@x.test>\r\nMessage-ID: <%s@x.test>\r\nSubject: %s\r\n\r\n" % (key.encode(), key.encode())
            + body)


def key_of(delivered):
    m = re.search(rb"^Message-ID: <([^@>]+)@x\.test>$", delivered, re.M)
    assert m, "delivered file without our Message-ID: %r" % delivered[:400]
    return m.group(1).decode()


def leftover_tmp_files(data_dir):
    """Files in queue/tmp and in any Maildir tmp/."""
    found = []
    queue_tmp = data_dir / "queue" / "tmp"
    if queue_tmp.is_dir():
        found += [str(queue_tmp / n) for n in os.listdir(queue_tmp)]
    mail = data_dir / "mail"
    if mail.is_dir():
        for tmp in mail.glob("*/*/tmp"):
            found += [str(tmp / n) for n in os.listdir(tmp)]
    return found


CRASH_ROUNDS = 3


def run_load_then_kill(srv, round_no, attempted, acknowledged):
    """Four smtplib clients send to bob in a loop until the server is
    SIGKILLed after about a second of traffic. Fills attempted/acknowledged
    (key -> message bytes); a message counts as acknowledged once sendmail()
    returned, i.e. after its 250."""
    errors = []
    lock = threading.Lock()
    killing = threading.Event()
    acked_this_round = []

    def client(n):
        i = 0
        try:
            with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="load%d.test" % n, timeout=15) as s:
                while not killing.is_set():
                    key = "r%dc%dm%04d" % (round_no, n, i)
                    message = message_for(key, 5 + (i * 37 + n * 11) % 60)
                    i += 1
                    with lock:
                        attempted[key] = message
                    s.sendmail("load@x.test", ["bob@example.test"], message)
                    with lock:
                        acknowledged[key] = message
                        acked_this_round.append(key)
        except (smtplib.SMTPException, OSError) as e:
            if not killing.is_set():
                errors.append("client %d before the kill: %r" % (n, e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    poll_until(lambda: len(acked_this_round) >= 8 or errors, timeout=10)
    time.sleep(0.8)   # traffic for a while: the point is to kill in mid-flight
    killing.set()
    srv.kill()
    for t in threads:
        t.join(20)
        assert not t.is_alive(), "a client thread hangs after the server was killed"
    assert not errors, "%s\n--- log ---\n%s" % (errors, srv.log())
    assert len(acked_this_round) >= 8, "only %d messages acknowledged before the kill" % len(acked_this_round)


def test_acknowledged_messages_survive_sigkill(make_server, users):
    """Four clients send in a loop; the server is SIGKILLed after about a
    second and restarted on the same data-dir (three rounds). Every message
    that got its 250 is then delivered exactly once, byte for byte; the others
    at most once; nothing nobody sent appears."""
    srv = make_server(users=users)
    attempted, acknowledged = {}, {}
    for round_no in range(CRASH_ROUNDS):
        run_load_then_kill(srv, round_no, attempted, acknowledged)
        srv.restart()

        def all_acknowledged_delivered():
            keys = [key_of(m) for m in srv.maildir_messages(DOMAIN, "bob")]
            return set(acknowledged) <= set(keys)

        if not poll_until(all_acknowledged_delivered, timeout=30):
            delivered = {key_of(m) for m in srv.maildir_messages(DOMAIN, "bob")}
            pytest.fail("round %d: acknowledged but not delivered after restart: %s\n--- log ---\n%s"
                        % (round_no, sorted(set(acknowledged) - delivered), srv.log()))
        srv.wait_queue_empty(timeout=30)

        counts = {}
        for delivered in srv.maildir_messages(DOMAIN, "bob"):
            key = key_of(delivered)
            assert key in attempted, "delivered a message nobody sent: %s" % key
            counts[key] = counts.get(key, 0) + 1
            assert split_trace(delivered)[3] == attempted[key].replace(b"\r\n", b"\n"), "%s altered" % key
        duplicates = sorted(k for k, c in counts.items() if c > 1)
        assert not duplicates, "round %d: delivered more than once: %s" % (round_no, [
            "%s (%s)" % (k, "acknowledged" if k in acknowledged else "not acknowledged") for k in duplicates])
        assert all(counts.get(k) == 1 for k in acknowledged)
        # the half-received messages of the crash are cleaned up at start-up
        assert os.listdir(srv.data_dir / "queue" / "tmp") == []


def test_sigterm_exits_zero_and_leaves_no_tmp_files(make_server, users):
    """SIGTERM while one client is in the middle of DATA: the server exits 0
    promptly, leaves nothing in queue/tmp or Maildir tmp/, and after a restart
    delivers nothing twice and never the half-sent message."""
    srv = make_server(users=users)
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.test", timeout=15) as s:
        for i in range(5):
            s.sendmail("a@x.test", ["bob@example.test"], message_for("done%d" % i, 3))
    srv.wait_for_mail(DOMAIN, "bob", 5)
    srv.wait_queue_empty()

    with srv.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(message_for("halfway", 200))          # no end of data
        # give the server the chance to start the spool file (queue/tmp/ID)
        poll_until(lambda: os.listdir(srv.data_dir / "queue" / "tmp")
                   if (srv.data_dir / "queue" / "tmp").is_dir() else None, timeout=3)
        started = time.monotonic()
        status = srv.stop()
        took = time.monotonic() - started
    assert status == 0, "exit status after SIGTERM: %r\n--- log ---\n%s" % (status, srv.log())
    assert took < 10, "SIGTERM took %.1fs with a client in DATA" % took
    assert leftover_tmp_files(srv.data_dir) == []

    srv.restart()
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.test", timeout=15) as s:
        s.sendmail("a@x.test", ["bob@example.test"], message_for("canary", 1))
    delivered = srv.wait_for_mail(DOMAIN, "bob", 6)
    srv.wait_queue_empty()
    keys = sorted(key_of(m) for m in srv.maildir_messages(DOMAIN, "bob"))
    assert keys == sorted(["canary"] + ["done%d" % i for i in range(5)]), keys
    assert len(delivered) == 6


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs mounted for the test (skipped where mounting is not allowed)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % result.stderr.strip())
    yield mount_point
    if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(path, free_left):
    """Take the file system's free space down to about free_left octets."""
    st = os.statvfs(path)
    avail = st.f_bavail * st.f_frsize
    filler = path / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, avail - free_left))
    return filler


def test_full_disk_gives_452_and_the_server_recovers(small_disk, make_server, users):
    """With the data-dir on a 2 MiB filesystem that fills up while a message
    comes in, the message is read to its end and answered 452 4.3.1; the
    spool space is released and, once there is room again, a message is
    accepted and delivered."""
    srv = make_server(users=users, data_dir=small_disk / "data", max_message_size="256k")
    big = b"Subject: too big for the disk\r\n\r\n" + (b"d" * 98 + b"\r\n") * 2000
    with srv.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        filler = fill(small_disk, 16 * 1024)     # the disk fills up meanwhile
        w.send(big + b".\r\n")
        expect(w.read_reply(), r"^452 4\.3\.1")
        expect(w.cmd("NOOP"), r"^250 2\.0\.0")
        filler.unlink()
        time.sleep(1.1)                           # the free-space reading is a second old at most
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: small\r\n\r\nfits\r\n.\r\n")
        queued_id(w.read_reply())
    (delivered,) = srv.wait_for_mail(DOMAIN, "bob", 1)
    assert split_trace(delivered)[3] == b"Subject: small\n\nfits\n"
    srv.wait_queue_empty()
    assert leftover_tmp_files(srv.data_dir) == []


def test_mail_refused_under_the_free_space_floor(small_disk, make_server, users):
    """CONTRACT.md "Free space": MAIL gets 452 4.3.1 while the data-dir's
    file system has less than 1.5 x max-message-size free, and is accepted
    again once there is room."""
    srv = make_server(users=users, data_dir=small_disk / "data", max_message_size="512k")
    with srv.session() as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RSET"), r"^250 ")
        filler = fill(small_disk, 700 * 1024)     # under 768 KiB: the floor
        time.sleep(1.1)
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^452 4\.3\.1 ")
        filler.unlink()
        time.sleep(1.1)
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
        expect(w.cmd("RCPT TO:<bob@example.test>"), r"^250 2\.1\.5")
        expect(w.cmd("DATA"), r"^354")
        w.send(b"Subject: after\r\n\r\nroom again\r\n.\r\n")
        queued_id(w.read_reply())
    srv.wait_for_mail(DOMAIN, "bob", 1)
    assert "under 1.5 x max-message-size" in srv.log()
