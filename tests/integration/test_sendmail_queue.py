"""`tern sendmail`, the pickup of its drop area, `tern queue` (and `mailq`) and
the control socket, driving the real binary (TERN_BIN).

The CLI faces and the server share one configuration file, hence one
data-dir: `tern sendmail -C CONF`, `tern queue -c CONF`, `tern serve -c CONF`.
Remote recipients are sent through `relay-host 127.0.0.1:PORT`, a port where
nothing listens until a test starts a sink there, so they stay deferred
(whatever the error text of this build: refused connection, or "remote
delivery not available" where the relay is not built).
"""

import datetime
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import DOMAIN, HOSTNAME, TERN_BIN, TernServer, free_port, poll_until, split_trace, unfold

CLI_TIMEOUT = 60


# --------------------------------------------------------------------------
# helpers

def run(args, data=b"", argv0=None, user=None, cwd=None):
    """Run the tern binary (or a link to it named argv0) with args; stdin data."""
    env = dict(os.environ)
    env.pop("TERN_CONFIG", None)
    cmd = [argv0 or TERN_BIN] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    return subprocess.run(cmd, input=data, capture_output=True, env=env, timeout=CLI_TIMEOUT, cwd=cwd)


def sendmail(srv, args, data, **kw):
    return run(["sendmail", "-C", str(srv.conf_path)] + list(args), data, **kw)


def queue(srv, *args, **kw):
    return run(["queue", "-c", str(srv.conf_path)] + list(args), **kw)


def queue_json(srv):
    r = queue(srv, "list", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def drop_files(srv):
    drop = srv.data_dir / "queue" / "drop"
    return sorted(n for n in os.listdir(drop) if not n.startswith(".")) if drop.is_dir() else []


def headers_of(raw):
    """The header section of a message as a list of unfolded (name, value)."""
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            fields.append((name, value.strip()))
    return fields


def header(raw, name):
    values = [v for n, v in headers_of(raw) if n.lower() == name.lower()]
    return values


def login_name():
    return pwd.getpwuid(os.getuid()).pw_name


def wait_deferred(srv, count=1, timeout=15):
    """Poll `tern queue list --json` until count messages have a deferred recipient."""
    def ready():
        msgs = queue_json(srv)
        deferred = [m for m in msgs if any(r["state"] == "deferred" for r in m["recipients"])]
        return msgs if len(deferred) >= count else None
    msgs = poll_until(ready, timeout, interval=0.2)
    assert msgs, "no deferred message after %ss\n--- log ---\n%s" % (timeout, srv.log())
    return msgs


class Sink:
    """An aiosmtpd server standing for the remote destination."""

    def __init__(self, port):
        from aiosmtpd.controller import Controller
        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 2.0.0 Ok"

    def stop(self):
        self.controller.stop()


@pytest.fixture
def servers():
    """Factory: servers(base, start=True, **TernServer options). With
    start=False the configuration is written (port chosen) but nothing runs.
    Every server must exit 0 on SIGTERM at teardown."""
    made = []

    def factory(base, start=True, **kw):
        Path(base).mkdir(parents=True, exist_ok=True)
        srv = TernServer(base, **kw)
        made.append(srv)
        if start:
            srv.start()
        else:
            srv.port = free_port()
            srv.write_config()
        return srv

    yield factory
    problems = []
    for srv in made:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()
        bad = [c for c in srv.exit_codes if c != 0]
        if bad:
            problems.append("exit status after SIGTERM %r\n--- log ---\n%s" % (bad, srv.log()))
    if problems:
        pytest.fail("\n".join(problems))


def remote_server(servers, base, start=True):
    """A server whose far@ alias points at a remote address, relayed to a
    port where nothing listens (yet). Returns (server, relay port)."""
    port = free_port()
    srv = servers(base, start=start,
                  aliases=[("far@%s" % DOMAIN, "someone@remote.test")],
                  extra_lines=["relay-host 127.0.0.1:%d" % port])
    return srv, port


# --------------------------------------------------------------------------
# sendmail and pickup

def test_twenty_messages_injected_while_stopped_are_all_delivered(servers, tmp_path):
    srv = servers(tmp_path, start=False)
    assert not (srv.data_dir / "queue").exists()
    for i in range(20):
        r = sendmail(srv, ["bob@%s" % DOMAIN], b"Subject: message %d\n\nbody %d\n" % (i, i))
        assert r.returncode == 0, r.stderr
    assert len(drop_files(srv)) == 20, "exit 0 means the message is on disk"
    assert srv.maildir_messages(DOMAIN, "bob") == []

    srv.start()
    got = srv.wait_for_mail(DOMAIN, "bob", 20)
    subjects = sorted(header(m, "Subject")[0] for m in got)
    assert subjects == sorted("message %d" % i for i in range(20))
    srv.wait_queue_empty()
    assert poll_until(lambda: drop_files(srv) == [], 5)
    for raw in got:
        return_path, delivered_to, received, rest = split_trace(raw)
        assert return_path == b"Return-Path: <%s@%s>" % (login_name().encode(), HOSTNAME.encode())
        assert delivered_to == b"Delivered-To: bob@" + DOMAIN.encode()
        text = unfold(received)
        assert re.match(r"Received: from local \(uid %d\) by %s \(tern\) with local id [A-Za-z0-9]+ "
                        r"for <bob@%s>; \w{3}, " % (os.getuid(), re.escape(HOSTNAME), re.escape(DOMAIN)), text), text
        # RFC 6409 8: what sendmail adds to a message that lacks it.
        assert header(raw, "From") == ["<%s@%s>" % (login_name(), HOSTNAME)]
        assert len(header(raw, "Date")) == 1 and len(header(raw, "Message-ID")) == 1
        assert rest.endswith(b"\n\nbody %s\n" % header(raw, "Subject")[0].split()[1].encode())


def test_cron_style_headers_only_with_t(servers, tmp_path):
    srv = servers(tmp_path)
    env = dict(os.environ)
    env.pop("TERN_CONFIG", None)
    # cron: the header section on standard input, recipients from To:.
    cmd = ("printf 'To: bob@%s\\nSubject: Cron <root@host> run-parts\\n' | %s sendmail -C %s -t"
           % (DOMAIN, TERN_BIN, srv.conf_path))
    r = subprocess.run(cmd, shell=True, capture_output=True, env=env, timeout=CLI_TIMEOUT)
    assert r.returncode == 0, r.stderr
    # and the shape `echo body | sendmail -t` makes: headers, blank line, body
    cmd = ("(printf 'To: Carol <carol@%s>\\nSubject: job\\n\\n'; echo body) | %s sendmail -C %s -t"
           % (DOMAIN, TERN_BIN, srv.conf_path))
    r = subprocess.run(cmd, shell=True, capture_output=True, env=env, timeout=CLI_TIMEOUT)
    assert r.returncode == 0, r.stderr

    (bob,) = srv.wait_for_mail(DOMAIN, "bob", 1)
    assert header(bob, "Subject") == ["Cron <root@host> run-parts"]
    assert header(bob, "To") == ["bob@%s" % DOMAIN]
    assert len(header(bob, "Date")) == 1 and len(header(bob, "Message-ID")) == 1
    (carol,) = srv.wait_for_mail(DOMAIN, "carol", 1)
    assert carol.endswith(b"\n\nbody\n")


def test_t_reads_to_cc_bcc_and_removes_bcc(servers, tmp_path):
    srv = servers(tmp_path)
    msg = (b"From: Someone <someone@%s>\n"
           b"To: \"Doe, Jane\" <jane@%s>,\n"
           b"\tbob@%s (Bob)\n"
           b"Cc: team: carol@%s;, <dave@%s>\n"
           b"Bcc: eve@%s\n"
           b"Subject: several\n"
           b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
           b"Message-ID: <fixed@example.test>\n"
           b"\n"
           b"hello\r\n"
           b".\n"
           b"not part of the message\n") % ((DOMAIN.encode(),) * 6)
    r = sendmail(srv, ["-t"], msg)
    assert r.returncode == 0, r.stderr
    for local in ("jane", "bob", "carol", "dave", "eve"):
        (raw,) = srv.wait_for_mail(DOMAIN, local, 1)
        assert header(raw, "Bcc") == [], "Bcc must be removed (RFC 5322 3.6.3)"
        assert header(raw, "Message-ID") == ["<fixed@example.test>"], "existing fields are kept"
        assert header(raw, "Date") == ["Mon, 1 Jan 2024 00:00:00 +0000"]
        assert header(raw, "From") == ["Someone <someone@%s>" % DOMAIN]
        assert raw.endswith(b"\n\nhello\n"), "CR LF stored as LF, the '.' line ends the input"


def test_dots_with_i_and_message_without_headers(servers, tmp_path):
    srv = servers(tmp_path)
    r = sendmail(srv, ["-oi", "bob@%s" % DOMAIN], b"Subject: dots\n\n.\n..\nend")
    assert r.returncode == 0, r.stderr
    (raw,) = srv.wait_for_mail(DOMAIN, "bob", 1)
    assert raw.endswith(b"\n\n.\n..\nend\n"), raw
    # No header section at all: ours come first, then an empty line.
    r = sendmail(srv, ["carol@%s" % DOMAIN], b"just a body line\n")
    assert r.returncode == 0, r.stderr
    (raw,) = srv.wait_for_mail(DOMAIN, "carol", 1)
    assert raw.endswith(b"\n\njust a body line\n"), raw
    assert len(header(raw, "From")) == 1


def test_f_and_F_set_the_envelope_sender_and_from(servers, tmp_path):
    srv = servers(tmp_path)
    r = sendmail(srv, ["-f", "alice@example.org", "-F", "Alice Example", "bob@%s" % DOMAIN],
                 b"Subject: with -f\n\nx\n")
    assert r.returncode == 0, r.stderr
    r = sendmail(srv, ["-falice2@example.org", "--", "carol@%s" % DOMAIN], b"Subject: attached\n\nx\n")
    assert r.returncode == 0, r.stderr
    r = sendmail(srv, ["-f", "<>", "dave@%s" % DOMAIN], b"Subject: null sender\n\nx\n")
    assert r.returncode == 0, r.stderr
    (bob,) = srv.wait_for_mail(DOMAIN, "bob", 1)
    assert bob.startswith(b"Return-Path: <alice@example.org>\n")
    assert header(bob, "From") == ["Alice Example <alice@example.org>"]
    (carol,) = srv.wait_for_mail(DOMAIN, "carol", 1)
    assert carol.startswith(b"Return-Path: <alice2@example.org>\n")
    (dave,) = srv.wait_for_mail(DOMAIN, "dave", 1)
    assert dave.startswith(b"Return-Path: <>\n")


def test_unqualified_recipient_gets_the_first_domain_and_sendmail_options_are_accepted(servers, tmp_path):
    srv = servers(tmp_path)
    # What PHP's mail() and cron pass: -t -i, -oi, -odi, -oem, -bm, -v.
    r = sendmail(srv, ["-odi", "-oem", "-bm", "-v", "-oi", "-i", "bob"], b"Subject: unqualified\n\nx\n")
    assert r.returncode == 0, r.stderr
    (raw,) = srv.wait_for_mail(DOMAIN, "bob", 1)
    assert b"Delivered-To: bob@%s\n" % DOMAIN.encode() in raw


@pytest.mark.parametrize("args,data,status", [
    ([], b"Subject: x\n\nno recipients anywhere\n", 64),
    (["-t"], b"Subject: x\n\nno To/Cc/Bcc\n", 65),
    (["-t"], b"To: not an address@@x\n\nbody\n", 65),
    (["bad address@@x"], b"Subject: x\n\nbody\n", 64),
    (["-Z", "bob@example.test"], b"x\n", 64),
    (["-bs"], b"", 64),
    (["-f"], b"", 64),
])
def test_sendmail_exit_codes(servers, tmp_path, args, data, status):
    srv = servers(tmp_path, start=False)
    r = sendmail(srv, args, data)
    assert r.returncode == status, (r.returncode, r.stderr)
    assert r.stderr, "a refusal says why"
    assert drop_files(srv) == []


def test_sendmail_missing_config_and_too_large(servers, tmp_path):
    r = run(["sendmail", "-C", str(tmp_path / "missing.conf"), "bob@%s" % DOMAIN], b"x\n")
    assert r.returncode == 78, r.stderr
    r = run(["queue", "-c", str(tmp_path / "missing.conf")])
    assert r.returncode == 78, r.stderr
    srv = servers(tmp_path, start=False, max_message_size="10k")
    r = sendmail(srv, ["bob@%s" % DOMAIN], b"Subject: big\n\n" + b"x" * 100 + b"\n" * 200 + b"y" * 20000)
    assert r.returncode == 65, r.stderr
    assert drop_files(srv) == [] and not any(n.startswith(".") for n in os.listdir(srv.data_dir / "queue" / "drop"))


def test_links_named_sendmail_and_mailq(servers, tmp_path):
    srv = servers(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sendmail").symlink_to(TERN_BIN)
    (bindir / "mailq").symlink_to(TERN_BIN)
    r = run(["-C", str(srv.conf_path), "-t"], b"To: bob@%s\nSubject: via link\n\nx\n" % DOMAIN.encode(),
            argv0=str(bindir / "sendmail"))
    assert r.returncode == 0, r.stderr
    srv.wait_for_mail(DOMAIN, "bob", 1)
    srv.wait_queue_empty()
    r = run(["-c", str(srv.conf_path)], argv0=str(bindir / "mailq"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "Mail queue is empty"
    r = run(["-C", str(srv.conf_path), "-bp"], argv0=str(bindir / "sendmail"))
    assert r.returncode == 0 and b"Mail queue is empty" in r.stdout, r


def test_hostile_drop_files_are_refused(servers, tmp_path):
    srv = servers(tmp_path)
    drop = srv.data_dir / "queue" / "drop"

    def place(name, text):
        # whole files only, as the writer makes them: a half-written one
        # would be refused for a different reason
        (drop / ".tmp").write_text(text)
        os.chmod(drop / ".tmp", 0o640)
        os.rename(drop / ".tmp", drop / name)

    secret = tmp_path / "secret"
    secret.write_text("tern-drop 1\nsender a@example.org\nrcpt bob@%s\ncontent\nroot:x:0\nEND 9\n" % DOMAIN)
    os.symlink(secret, drop / "0AAAAAAAAAAAAA1")           # a link to a file the user may not read
    place("0AAAAAAAAAAAAA2", "tern-drop 1\nsender a@example.org\nrcpt <<<\ncontent\nEND 0\n")  # no valid rcpt
    place("0AAAAAAAAAAAAA3", "tern-drop 1\nsender a@example.org\nrcpt carol@%s\nrcpt bad@@x\n"
          "content\nSubject: half\n\nok\nEND 18\n" % DOMAIN)  # one valid of two
    place("not-a-drop-name", "junk")
    corrupt = srv.data_dir / "queue" / "corrupt"
    moved = poll_until(lambda: corrupt.is_dir() and len(os.listdir(corrupt)) >= 3 and drop_files(srv) == [], 10)
    assert moved, (os.listdir(drop), srv.log())
    (raw,) = srv.wait_for_mail(DOMAIN, "carol", 1)
    assert raw.endswith(b"\n\nok\n")
    time.sleep(1.5)
    assert srv.maildir_messages(DOMAIN, "bob") == [], "the symlinked file must never be read"
    assert secret.exists()
    log = srv.log()
    assert "status=refused" in log and "to=<bad@@x> status=skipped" in log


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_permission_model_for_unprivileged_users(servers):
    base = Path(tempfile.mkdtemp(prefix="tern-perm-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        srv = servers(base)
        data = srv.data_dir
        nobody = 65534
        assert (os.stat(data / "queue" / "drop").st_mode & 0o7777) == 0o3733
        assert (os.stat(data / "control").st_mode & 0o777) == 0o600
        r = sendmail(srv, ["bob@%s" % DOMAIN], b"Subject: from nobody\n\nx\n", user=nobody)
        assert r.returncode == 0, r.stderr
        (raw,) = srv.wait_for_mail(DOMAIN, "bob", 1)
        assert b"from local (uid %d)" % nobody in raw
        assert raw.startswith(b"Return-Path: <nobody@%s>" % HOSTNAME.encode())
        # Users cannot list the drop area, the queue, nor steer the server.
        r = subprocess.run(["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nobody, "--clear-groups",
                            "ls", str(data / "queue" / "drop")], capture_output=True)
        assert r.returncode != 0
        r = queue(srv, user=nobody)
        assert r.returncode == 77, r
        r = queue(srv, "flush", user=nobody)
        assert r.returncode == 77, r
        # Another user's drop file is neither readable nor removable.
        srv.stop()
        r = sendmail(srv, ["carol@%s" % DOMAIN], b"Subject: root's secret\n\nx\n")
        assert r.returncode == 0, r.stderr
        (name,) = drop_files(srv)
        path = data / "queue" / "drop" / name
        for cmd in (["cat", str(path)], ["rm", "-f", str(path)]):
            r = subprocess.run(["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nobody, "--clear-groups"] + cmd,
                               capture_output=True)
            assert r.returncode != 0, cmd
        assert path.exists()
        srv.restart()
        srv.wait_for_mail(DOMAIN, "carol", 1)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------
# the queue tools

def test_queue_list_shows_deferred_message_with_last_error(servers, tmp_path):
    srv, _ = remote_server(servers, tmp_path)
    assert queue(srv).stdout.decode().strip() == "Mail queue is empty"
    assert queue_json(srv) == []
    r = sendmail(srv, ["-f", "alice@example.org", "far@%s" % DOMAIN], b"Subject: far away\n\nx\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_deferred(srv)

    assert set(msg) >= {"id", "size", "arrival", "sender", "recipients"}
    assert re.fullmatch(r"[A-Za-z0-9]+", msg["id"])
    assert isinstance(msg["size"], int) and msg["size"] > 0
    arrival = datetime.datetime.fromisoformat(msg["arrival"].replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - arrival).total_seconds()) < 120
    assert msg["sender"] == "alice@example.org"
    (rcpt,) = msg["recipients"]
    assert rcpt["address"] == "someone@remote.test"
    assert rcpt["state"] == "deferred"
    assert isinstance(rcpt["last_error"], str) and rcpt["last_error"]

    text = queue(srv, "list")
    assert text.returncode == 0, text.stderr
    out = text.stdout.decode()
    assert out.startswith("-Queue ID-")
    assert re.search(r"^%s[ *]\s+\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d\s+alice@example.org$" % msg["id"], out, re.M), out
    assert re.search(r"^\s+someone@remote\.test\s+deferred$", out, re.M), out
    assert "(%s)" % rcpt["last_error"] in out
    assert out.rstrip().endswith("-- 1 Kbytes in 1 Request.")

    show = queue(srv, "show", msg["id"])
    assert show.returncode == 0, show.stderr
    s = show.stdout.decode()
    assert "sender: <alice@example.org>" in s and "someone@remote.test" in s and "Subject: far away" in s
    assert queue(srv, "show", "NOSUCHID0").returncode == 66
    assert queue(srv, "show", "../etc").returncode == 64

    # The same without the server: read from the files, never "delivering".
    srv.stop()
    (again,) = queue_json(srv)
    assert again["id"] == msg["id"] and again["recipients"][0]["state"] == "deferred"
    srv.restart()


def test_delete_removes_message_and_it_is_never_delivered(servers, tmp_path):
    srv, port = remote_server(servers, tmp_path)
    r = sendmail(srv, ["far@%s" % DOMAIN], b"Subject: to delete\n\nx\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_deferred(srv)
    r = queue(srv, "delete", msg["id"])
    assert r.returncode == 0, r.stderr
    assert queue_json(srv) == []
    assert msg["id"] not in srv.queue_messages()
    assert queue(srv, "delete", msg["id"]).returncode == 66
    assert queue(srv, "delete", "not/an/id").returncode == 64
    # The destination comes back and everything is retried: nothing arrives.
    sink = Sink(port)
    try:
        assert queue(srv, "flush").returncode == 0
        time.sleep(2)
        assert sink.messages == []
    finally:
        sink.stop()
    assert "removed by `tern queue delete`" in srv.log()


class StallingPeer:
    """Accepts connections and says nothing for `hold` seconds, then hangs
    up: an attempt that stays in flight that long."""

    def __init__(self, port, hold):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.hold, self.accepted, self.stopped = hold, 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            time.sleep(self.hold)
            conn.close()

    def stop(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


def test_delivering_state_and_delete_during_an_attempt(servers, tmp_path):
    srv, port = remote_server(servers, tmp_path)
    peer = StallingPeer(port, hold=3)
    try:
        r = sendmail(srv, ["far@%s" % DOMAIN], b"Subject: in flight\n\nx\n")
        assert r.returncode == 0, r.stderr

        def delivering():
            msgs = queue_json(srv)
            return msgs if msgs and msgs[0]["recipients"][0]["state"] == "delivering" else None
        msgs = poll_until(delivering, 10, interval=0.1)
        if msgs is None and "remote delivery not available" in srv.log():
            pytest.skip("this build has no outbound relay: no attempt stays in flight")
        assert msgs, srv.log()
        qid = msgs[0]["id"]
        assert re.search(r"^%s\*" % qid, queue(srv).stdout.decode(), re.M), "mailq marks it with '*'"
        r = queue(srv, "delete", qid)
        assert r.returncode == 0, r.stderr
        assert peer.accepted >= 1
        assert queue_json(srv) == [] and srv.queue_messages() == []
    finally:
        peer.stop()
    sink = Sink(port)
    try:
        assert queue(srv, "flush").returncode == 0
        time.sleep(2)
        assert sink.messages == [], "a deleted message is never delivered"
    finally:
        sink.stop()
    # The attempt ended before the files went: it left no state file behind.
    assert srv.queue_messages() == []
    log = srv.log()
    assert log.index("%s to=<someone@remote.test> status=deferred" % qid) < log.index("%s removed by" % qid)


def test_delete_on_a_stopped_server(servers, tmp_path):
    srv, _ = remote_server(servers, tmp_path)
    r = sendmail(srv, ["far@%s" % DOMAIN], b"Subject: to delete\n\nx\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_deferred(srv)
    srv.stop()
    r = queue(srv, "delete", msg["id"])
    assert r.returncode == 0, r.stderr
    assert srv.queue_messages() == []
    srv.restart()
    time.sleep(1.5)
    assert queue_json(srv) == []


def test_flush_with_server_running_and_stopped(servers, tmp_path):
    srv, port = remote_server(servers, tmp_path)
    r = sendmail(srv, ["far@%s" % DOMAIN], b"Subject: flush me\n\nx\n")
    assert r.returncode == 0, r.stderr
    wait_deferred(srv)
    sink = Sink(port)
    try:
        r = queue(srv, "flush")
        assert r.returncode == 0, r.stderr
        if "remote delivery not available" in srv.log():
            pytest.skip("this build has no outbound relay: flush cannot deliver remote mail")
        assert poll_until(lambda: sink.messages, 10), srv.log()
        assert sink.messages[0].rcpt_tos == ["someone@remote.test"]
        srv.wait_queue_empty()
    finally:
        sink.stop()
    srv.stop()
    r = queue(srv, "flush")
    assert r.returncode == 75
    assert b"server not running" in r.stderr
    srv.restart()


def test_queue_usage_errors(servers, tmp_path):
    srv = servers(tmp_path, start=False)
    for args in (["frobnicate"], ["show"], ["delete"], ["list", "extra"], ["flush", "x"]):
        r = queue(srv, *args)
        assert r.returncode == 64, (args, r)


def test_mailq_shows_injected_mail_before_the_server_picks_it_up(servers, tmp_path):
    """With the server stopped, a message just given to sendmail is listed
    by mailq as queued (text and JSON); once the server has run it is gone
    from the list and in the Maildir."""
    srv = servers(tmp_path, start=False)
    r = sendmail(srv, ["bob@%s" % DOMAIN], b"Subject: waiting\n\nfor pickup\n")
    assert r.returncode == 0, r.stderr
    listed = queue_json(srv)
    assert len(listed) == 1, listed
    msg = listed[0]
    assert re.fullmatch(r"[A-Za-z0-9]+", msg["id"])
    assert msg["sender"] == "%s@%s" % (login_name(), HOSTNAME)
    assert msg["recipients"] == [{"address": "bob@%s" % DOMAIN, "state": "queued", "last_error": None}]
    text = queue(srv).stdout.decode()
    assert msg["id"] in text and "bob@%s" % DOMAIN in text and "1 Request." in text

    srv.start()
    srv.wait_for_mail(DOMAIN, "bob", 1)
    srv.wait_queue_empty()
    assert poll_until(lambda: queue_json(srv) == [], 5)
