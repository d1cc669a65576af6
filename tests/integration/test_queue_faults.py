"""The queue's failure paths, driven from outside: the real server runs with
tests/faults/faultshim.c preloaded, which makes chosen open/read/write/
fsync/rename/unlink calls fail (rules in a file the test rewrites while the
server runs). At each step of receiving and delivering, a failure must defer
and retry, and never lose, forget or repeat a message: every test keeps a
ledger of what the server acknowledged and counts what landed, in the local
Maildirs and at a second tern that stands in for a remote exchanger.

Rules: "CALL PATTERN SKIP COUNT ERRNO" (see faultshim.c); patterns are
fnmatch patterns with extended syntax, so +([0-9A-Z]) matches a queue id and
not its ".st" state log."""

import os
import smtplib
import time
from pathlib import Path

import pytest

from conftest import DOMAIN, REPO_ROOT, TernServer, poll_until

SHIM = REPO_ROOT / "build" / "faultshim.so"
MSG_FILE = "*/queue/msg/+([0-9A-Z])"   # a queued message, not its state log
STATE_LOG = "*/queue/msg/*.st"

pytestmark = pytest.mark.skipif(not SHIM.exists(), reason="build/faultshim.so not built (make build/faultshim.so)")


class Faults:
    """The rules file of one server and the log of what was injected."""

    def __init__(self, directory):
        self.rules = Path(directory) / "faults.rules"
        self.log = Path(directory) / "faults.log"
        self.rules.write_text("")

    def arm(self, *rules):
        tmp = self.rules.with_suffix(".tmp")
        tmp.write_text("".join(r + "\n" for r in rules))
        os.replace(tmp, self.rules)   # a new inode: the shim re-reads it

    def injected(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def env(self):
        return {"LD_PRELOAD": str(SHIM), "TERN_FAULTS": str(self.rules), "TERN_FAULTS_LOG": str(self.log),
                # the shim comes before the sanitizer runtime in the library list
                "ASAN_OPTIONS": "verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", "")}


@pytest.fixture
def faulty(make_server, tmp_path, users):
    """factory(rules..., **server options): a server for example.test that
    retries after a second, with the given faults armed from its start."""
    def factory(*rules, subdir="a", **kw):
        d = tmp_path / subdir
        d.mkdir(exist_ok=True)
        faults = Faults(d)
        faults.arm(*rules)
        extra = ["queue-retry 1s 2s"] + list(kw.pop("extra_lines", []))
        srv = make_server(subdir=subdir, users=users, env=faults.env(), extra_lines=extra, **kw)
        srv.faults = faults
        return srv
    return factory


@pytest.fixture
def remote(make_server):
    """A second tern for remote.test: what the first one relays lands here."""
    return make_server(subdir="remote", domains=("remote.test",))


def send(srv, rcpts, key):
    """One message; returns True on 250, False on a temporary refusal."""
    body = b"Subject: %s\r\nMessage-ID: <%s@x.test>\r\n\r\nledger %s\r\n" % (key.encode(), key.encode(), key.encode())
    try:
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
            s.sendmail("sender@x.test", rcpts, body)
        return True
    except smtplib.SMTPResponseException as e:
        assert 400 <= e.smtp_code < 500, "expected a temporary refusal, got %d %r" % (e.smtp_code, e.smtp_error)
        return False
    except smtplib.SMTPRecipientsRefused as e:
        codes = [c for c, _ in e.recipients.values()]
        assert all(400 <= c < 500 for c in codes), e.recipients
        return False


def copies(srv, domain, local, key):
    """How many files in the Maildir (new/ and cur/) carry this key."""
    n = 0
    for sub in ("new", "cur"):
        d = srv.maildir(domain, local) / sub
        if d.is_dir():
            for name in os.listdir(d):
                if ("Message-ID: <%s@x.test>" % key).encode() in (d / name).read_bytes():
                    n += 1
    return n


def settle(srv, timeout=20):
    srv.wait_queue_empty(timeout)


def test_failed_flush_of_msg_dir_answers_4xx_and_keeps_no_copy(faulty):
    """The dir flush after the rename fails: 451, and that copy is taken back,
    so the client's retry is the only one delivered, also after a restart."""
    srv = faulty("fsync */queue/msg 0 1 EIO")
    assert send(srv, ["bob@%s" % DOMAIN], "k1") is False
    assert srv.faults.injected(), "the fault was never hit"
    assert send(srv, ["bob@%s" % DOMAIN], "k1") is True
    settle(srv)
    assert copies(srv, DOMAIN, "bob", "k1") == 1
    srv.stop()
    srv.restart()
    time.sleep(1.5)   # whatever recovery would deliver, it would by now
    settle(srv)
    assert copies(srv, DOMAIN, "bob", "k1") == 1, srv.log()


def test_failed_write_while_receiving_is_a_temporary_refusal(faulty):
    srv = faulty("write */queue/tmp/* 0 1 ENOSPC")
    assert send(srv, ["bob@%s" % DOMAIN], "k2") is False
    assert send(srv, ["bob@%s" % DOMAIN], "k2") is True
    settle(srv)
    assert copies(srv, DOMAIN, "bob", "k2") == 1
    assert not list((srv.data_dir / "queue" / "tmp").iterdir())


def test_unreadable_queue_file_is_retried_not_stranded(faulty):
    """queue_load fails (EMFILE) twice: the message is tried again after
    queue-retry, not forgotten until a restart."""
    srv = faulty("open %s 0 2 EMFILE" % MSG_FILE)
    assert send(srv, ["bob@%s" % DOMAIN], "k3") is True
    srv.wait_for_mail(DOMAIN, "bob", 1, timeout=20)
    settle(srv)
    assert copies(srv, DOMAIN, "bob", "k3") == 1
    assert len(srv.faults.injected()) == 2
    assert "cannot read queue file" in srv.log()


def test_failed_reload_after_a_deferral_does_not_remove_the_message(faulty):
    """The Maildir rename fails (deferral recorded); opening the queue file
    once more then fails: the message must stay queued and be delivered."""
    srv = faulty("rename */mail/*/new/* 0 1 EIO", "open %s 2 1 EMFILE" % MSG_FILE)
    assert send(srv, ["bob@%s" % DOMAIN], "k4") is True
    srv.wait_for_mail(DOMAIN, "bob", 1, timeout=20)
    settle(srv)
    assert copies(srv, DOMAIN, "bob", "k4") == 1


def test_failed_flush_of_maildir_new_defers(faulty):
    srv = faulty("fsync */mail/*/new 0 1 EIO")
    assert send(srv, ["bob@%s" % DOMAIN], "k5") is True
    srv.wait_for_mail(DOMAIN, "bob", 1, timeout=20)
    settle(srv)
    assert copies(srv, DOMAIN, "bob", "k5") == 1
    assert "status=deferred" in srv.log()


def relayed(remote_srv, key):
    return copies(remote_srv, "remote.test", "ext", key)


def test_unwritten_done_record_of_a_relayed_recipient_is_not_sent_twice(faulty, remote):
    """One local recipient fails once; the remote one is relayed, but the
    record of its 250 cannot be written. The retry delivers the local one
    and must not relay the remote one again."""
    srv = faulty("rename */mail/example.test/bob/new/* 0 1 EIO", "write %s 1 1 EIO" % STATE_LOG,
                 aliases=[("list@%s" % DOMAIN, "bob@%s,ext@remote.test" % DOMAIN)],
                 extra_lines=["relay-host 127.0.0.1:%d" % remote.port])
    assert send(srv, ["list@%s" % DOMAIN], "k6") is True
    srv.wait_for_mail(DOMAIN, "bob", 1, timeout=20)
    settle(srv)
    assert len(srv.faults.injected()) == 2, srv.faults.injected()
    remote.wait_for_mail("remote.test", "ext", 1)
    time.sleep(1)
    assert relayed(remote, "k6") == 1, srv.log()
    assert copies(srv, DOMAIN, "bob", "k6") == 1


def test_failed_removal_after_relaying_is_recorded_and_retried(faulty, remote):
    """Every recipient was relayed, but the queue file cannot be removed: the
    outcome is recorded, the removal retried, and a restart relays nothing."""
    srv = faulty("rename */queue/free/* 0 1 EIO", "unlink %s 0 1 EIO" % MSG_FILE,
                 aliases=[("fwd@%s" % DOMAIN, "ext@remote.test")],
                 extra_lines=["relay-host 127.0.0.1:%d" % remote.port])
    assert send(srv, ["fwd@%s" % DOMAIN], "k7") is True
    remote.wait_for_mail("remote.test", "ext", 1)
    settle(srv)
    assert "cannot remove the finished message" in srv.log()
    srv.stop()
    srv.restart()
    time.sleep(1.5)
    settle(srv)
    assert relayed(remote, "k7") == 1, srv.log()


def test_ledger_under_rotating_faults(faulty, remote):
    """Many messages while every kind of fault strikes now and then: each
    acknowledged message lands exactly once per recipient, each refused one
    never (the sender would send it again)."""
    rules = ["fsync */queue/msg 3 2 EIO", "write */queue/tmp/* 5 1 ENOSPC", "open %s 4 3 EMFILE" % MSG_FILE,
             "rename */mail/*/new/* 2 2 EIO", "write %s 6 2 EIO" % STATE_LOG, "fdatasync %s 2 1 EIO" % STATE_LOG,
             "fsync */mail/*/new 7 1 EIO"]
    srv = faulty(*rules, aliases=[("list@%s" % DOMAIN, "bob@%s,ext@remote.test" % DOMAIN)],
                 extra_lines=["relay-host 127.0.0.1:%d" % remote.port])
    acked, refused = [], []
    for i in range(30):
        key = "L%02d" % i
        rcpts = ["list@%s" % DOMAIN] if i % 3 == 0 else ["carol@%s" % DOMAIN]
        (acked if send(srv, rcpts, key) else refused).append((key, rcpts))
    settle(srv, timeout=60)
    assert srv.faults.injected(), "no fault struck"
    for key, rcpts in acked:
        if rcpts[0].startswith("list@"):
            assert copies(srv, DOMAIN, "bob", key) == 1, (key, srv.log())
            assert poll_until(lambda: relayed(remote, key) == 1, 10), (key, srv.log())
        else:
            assert copies(srv, DOMAIN, "carol", key) == 1, (key, srv.log())
    for key, rcpts in refused:
        assert copies(srv, DOMAIN, "bob", key) + copies(srv, DOMAIN, "carol", key) == 0, key
    time.sleep(1)
    for key, rcpts in acked:
        if rcpts[0].startswith("list@"):
            assert relayed(remote, key) == 1, (key, srv.log())


def test_every_deferred_message_is_retried(faulty):
    """Deliveries fail while messages arrive over a few seconds, each one
    deferred at its own instant, then the fault is lifted: every message
    must be retried and delivered. (The scheduler's timer, when it fired,
    did not arm itself again for entries due later than it: a message
    deferred between a second's turn and the timer's firing waited for an
    unrelated event, forever on an idle server.)"""
    srv = faulty("rename */mail/*/new/* 0 -1 EIO")
    keys = []
    for i in range(16):
        key = "R%02d" % i
        assert send(srv, ["carol@%s" % DOMAIN], key) is True
        keys.append(key)
        time.sleep(0.2)
    assert srv.faults.injected(), "no delivery failed"
    srv.faults.arm()
    settle(srv, timeout=30)
    for key in keys:
        assert copies(srv, DOMAIN, "carol", key) == 1, key
