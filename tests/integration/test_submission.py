"""Submission for user agents (issue 4): STARTTLS on `submission` and `smtp`,
implicit TLS on `submissions`, AUTH PLAIN/LOGIN against the users file, the
relay and sender-ownership rules, and the refusals that go with them.

The clients are ones we did not write (smtplib, curl, swaks, openssl
s_client) and raw sockets where the exact bytes matter. Every server uses a
certificate the test made, and the clients verify it (name: localhost).

A failed password check is answered after about a second, doubling with each
failure from the same address: the few tests that fail on purpose use
different loopback source addresses (127.0.0.x), so their delays do not add
up, and the brute-force test runs its slow attempts in parallel.
"""

import concurrent.futures
import email.parser
import email.utils
import os
import re
import shutil
import smtplib
import ssl
import stat
import subprocess
import threading
import time
from datetime import datetime, timezone

import pytest

from conftest import DOMAIN, PASSWORD, expect, free_port, poll_until, queued_id, split_trace, unfold
from tls_helpers import (SERVER_NAME, NetnsPair, NetnsTern, b64, client_context, make_cert, old_tls_context,
                         plain, read_nothing, start_tls_server, starttls, tls_wire, wire_from)

BOB, CAROL, DAVE = "bob@%s" % DOMAIN, "carol@%s" % DOMAIN, "dave@%s" % DOMAIN
# a failed check must not be answered sooner than this (the spec: ~1 s)
MIN_FAIL_DELAY = 0.8


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """(cert, key) made by openssl for CN=localhost, SAN localhost + 127.0.0.1."""
    return make_cert(tmp_path_factory.mktemp("certs"))


def _hash(method, password):
    if shutil.which("mkpasswd"):
        args = ["mkpasswd", "-m", method] + (["-R", "8"] if method == "bcrypt" else []) + [password]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.strip()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    prefix = {"yescrypt": "$y$", "bcrypt": "$2b$"}[method]
    salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=256) if method == "bcrypt" else None
    if salt is None:
        pytest.skip("cannot make a %s hash (no mkpasswd)" % method)
    out = crypt.crypt(password, salt)
    assert out and out.startswith(prefix), out
    return out


@pytest.fixture(scope="module")
def scheme_hashes(password_hash):
    """PASSWORD hashed three ways: SHA-512 crypt (openssl), yescrypt and bcrypt."""
    hashes = {"sha512": password_hash, "yescrypt": _hash("yescrypt", PASSWORD),
              "bcrypt": _hash("bcrypt", PASSWORD)}
    assert hashes["sha512"].startswith("$6$")
    assert hashes["yescrypt"].startswith("$y$")
    assert hashes["bcrypt"].startswith("$2b$")
    return hashes


@pytest.fixture
def tls_users(scheme_hashes):
    """bob: SHA-512, carol: yescrypt, dave: bcrypt; all with PASSWORD."""
    return [(BOB, scheme_hashes["sha512"]), (CAROL, scheme_hashes["yescrypt"]),
            (DAVE, scheme_hashes["bcrypt"])]


ALIASES = [("sales@%s" % DOMAIN, BOB), ("list@%s" % DOMAIN, "%s,%s" % (BOB, CAROL))]


@pytest.fixture
def tsrv(make_server, certs, tls_users):
    """tern with smtp (.port), submission (.sub_port) and submissions
    (.subs_port), the test's certificate and `hostname localhost`."""
    cert, key = certs
    return start_tls_server(make_server, cert, key, tls_users, aliases=ALIASES)


@pytest.fixture
def ctx(certs):
    return client_context(certs[0])


# --------------------------------------------------------------------------
# small helpers

def sub_session(srv, ctx, source=None, ehlo="client.test"):
    """submission: greeting, EHLO, STARTTLS (verified), EHLO again."""
    w = wire_from(srv.sub_port, source=source, server_log=srv.log)
    w.greeting()
    w.ehlo(ehlo)
    starttls(w, ctx)
    w.ehlo(ehlo)
    return w


def subs_session(srv, ctx, source=None, ehlo="client.test"):
    """submissions: implicit TLS (verified), greeting, EHLO."""
    w = tls_wire(srv.subs_port, ctx, source=source, server_log=srv.log)
    w.greeting()
    w.ehlo(ehlo)
    return w


def ehlo_keywords(reply):
    return [line[4:].upper() for line in reply.lines[1:]]


def auth_offered(reply):
    return any(k.split()[:1] == ["AUTH"] and {"PLAIN", "LOGIN"} <= set(k.split()[1:])
               for k in ehlo_keywords(reply))


def timed(fn, *args):
    t0 = time.monotonic()
    r = fn(*args)
    return r, time.monotonic() - t0


def auth_plain(w, user, password, authzid=""):
    return w.cmd("AUTH PLAIN " + plain(user, password, authzid))


def auth_login(w, user, password):
    expect(w.cmd("AUTH LOGIN"), r"^334 VXNlcm5hbWU6$")
    expect(w.cmd(b64(user)), r"^334 UGFzc3dvcmQ6$")
    return w.cmd(b64(password))


def send_message(w, sender, rcpts, body):
    expect(w.cmd("MAIL FROM:<%s>" % sender), r"^250 2\.1\.0")
    for r in rcpts:
        expect(w.cmd("RCPT TO:<%s>" % r), r"^250 2\.1\.5")
    expect(w.cmd("DATA"), r"^354")
    w.send(body)
    return queued_id(w.read_reply())


def header_fields(rest):
    """The message (as delivered, below tern's trace fields) parsed."""
    return email.parser.BytesParser().parsebytes(rest, headersonly=True)


def assert_submission_trace(delivered, user_local):
    """tern's Received: says ESMTPSA and TLS, and does not name the user."""
    _, _, received, rest = split_trace(delivered)
    text = unfold(received)
    assert " with ESMTPSA" in text, text
    assert "TLSv1.3" in text, text
    assert user_local not in text.lower(), "Received names the user: %s" % text
    return rest


def assert_added_id_and_date(msg):
    ids, dates = msg.get_all("Message-ID") or [], msg.get_all("Date") or []
    assert len(ids) == 1, "Message-ID fields: %r" % ids
    assert re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", ids[0].strip()), ids
    assert len(dates) == 1, "Date fields: %r" % dates
    when = email.utils.parsedate_to_datetime(dates[0])
    assert when.tzinfo is not None, dates
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 300, dates


def run(argv, timeout=30, **kw):
    return subprocess.run(argv, capture_output=True, timeout=timeout, **kw)


# --------------------------------------------------------------------------
# clients that work

def test_smtplib_starttls_login_on_submission(tsrv, ctx):
    """smtplib on submission: STARTTLS (certificate verified as localhost),
    AUTH offered afterwards and STARTTLS no longer, login, sendmail. carol's
    Maildir gets the message with an added Message-ID and Date, the original
    From kept, and tern's Received says ESMTPSA over TLS 1.3 without naming
    bob."""
    message = (b"From: Bob <bob@example.test>\r\nTo: carol@example.test\r\n"
               b"Subject: via 587\r\n\r\nhello over submission\r\n")
    with smtplib.SMTP(SERVER_NAME, tsrv.sub_port, local_hostname="client.test", timeout=20) as c:
        code, _ = c.ehlo()
        assert code == 250
        assert c.has_extn("starttls")
        code, _ = c.starttls(context=ctx)
        assert code == 220
        assert c.sock.version() == "TLSv1.3"
        c.ehlo()
        assert not c.has_extn("starttls")
        assert {"PLAIN", "LOGIN"} <= set(c.esmtp_features.get("auth", "").upper().split())
        code, resp = c.login(BOB, PASSWORD)
        assert code == 235 and resp.startswith(b"2.7.0"), (code, resp)
        assert c.sendmail(BOB, [CAROL], message) == {}
    (delivered,) = tsrv.wait_for_mail(DOMAIN, "carol", 1)
    assert delivered.startswith(b"Return-Path: <bob@example.test>\n")
    rest = assert_submission_trace(delivered, "bob")
    msg = header_fields(rest)
    assert_added_id_and_date(msg)
    assert msg.get_all("From") == ["Bob <bob@example.test>"]
    assert rest.endswith(b"\n\nhello over submission\n")


def test_smtp_ssl_on_submissions_adds_from(tsrv, ctx):
    """SMTP_SSL on submissions (implicit TLS, TLS 1.3, verified): EHLO lists
    AUTH and no STARTTLS; carol (yescrypt) logs in and sends a message that has
    no From, Date or Message-ID: all three are added (From from the envelope
    sender)."""
    message = b"To: bob@example.test\r\nSubject: via 465\r\n\r\nno from here\r\n"
    with smtplib.SMTP_SSL(SERVER_NAME, tsrv.subs_port, local_hostname="client.test", context=ctx,
                          timeout=20) as c:
        assert c.sock.version() == "TLSv1.3"
        c.ehlo()
        assert not c.has_extn("starttls")
        assert {"PLAIN", "LOGIN"} <= set(c.esmtp_features.get("auth", "").upper().split())
        c.login(CAROL, PASSWORD)
        assert c.sendmail(CAROL, [BOB], message) == {}
    (delivered,) = tsrv.wait_for_mail(DOMAIN, "bob", 1)
    rest = assert_submission_trace(delivered, "carol")
    msg = header_fields(rest)
    assert_added_id_and_date(msg)
    froms = msg.get_all("From") or []
    assert len(froms) == 1 and "carol@example.test" in froms[0], froms
    assert msg["Subject"] == "via 465"


@pytest.mark.parametrize("user, scheme", [(BOB, "sha512"), (CAROL, "yescrypt"), (DAVE, "bcrypt")])
def test_each_hash_scheme_logs_in(tsrv, ctx, user, scheme):
    """SHA-512 ($6$), yescrypt ($y$) and bcrypt ($2b$) hashes all verify, with
    PLAIN (initial response), PLAIN (empty challenge, then the response) and
    LOGIN; the login name is compared without regard to case."""
    prefix = {"sha512": "$6$", "yescrypt": "$y$", "bcrypt": "$2b$"}[scheme]
    assert ("%s:%s" % (user, prefix)) in tsrv.users_path.read_text()
    with sub_session(tsrv, ctx) as w:
        expect(auth_plain(w, user, PASSWORD), r"^235 2\.7\.0")
        expect(w.cmd("MAIL FROM:<%s>" % user), r"^250 2\.1\.0")
    with sub_session(tsrv, ctx) as w:
        expect(w.cmd("AUTH PLAIN"), r"^334 ?$")
        expect(w.cmd(plain(user.upper(), PASSWORD)), r"^235 2\.7\.0")
        expect(w.cmd("MAIL FROM:<%s>" % user), r"^250 2\.1\.0")
    with subs_session(tsrv, ctx) as w:
        expect(auth_login(w, user, PASSWORD), r"^235 2\.7\.0")
        expect(w.cmd("MAIL FROM:<%s>" % user), r"^250 2\.1\.0")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_ssl_reqd_user(tsrv, certs, tmp_path):
    """curl smtp://localhost:P/client.test --ssl-reqd --cacert --user: exit 0,
    delivered with ESMTPSA and the added fields."""
    path = tmp_path / "m.eml"
    path.write_bytes(b"From: bob@example.test\r\nTo: carol@example.test\r\nSubject: curl\r\n\r\nby curl\r\n")
    r = run(["curl", "-sS", "--max-time", "20", "--resolve", "localhost:%d:127.0.0.1" % tsrv.sub_port,
             "smtp://localhost:%d/client.test" % tsrv.sub_port, "--ssl-reqd", "--cacert", str(certs[0]),
             "--user", "%s:%s" % (BOB, PASSWORD), "--mail-from", BOB, "--mail-rcpt", CAROL, "-T", str(path)])
    assert r.returncode == 0, "curl exit %d: %s\n--- log ---\n%s" % (r.returncode, r.stderr.decode(), tsrv.log())
    (delivered,) = tsrv.wait_for_mail(DOMAIN, "carol", 1)
    rest = assert_submission_trace(delivered, "bob")
    assert_added_id_and_date(header_fields(rest))
    assert rest.endswith(b"\n\nby curl\n")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_wrong_password_fails(tsrv, certs, tmp_path):
    """curl with a wrong password exits non-zero (67: login denied) and
    nothing is queued."""
    path = tmp_path / "m.eml"
    path.write_bytes(b"Subject: x\r\n\r\nx\r\n")
    r = run(["curl", "-sS", "--max-time", "20", "--resolve", "localhost:%d:127.0.0.1" % tsrv.sub_port,
             "smtp://localhost:%d/client.test" % tsrv.sub_port, "--ssl-reqd", "--cacert", str(certs[0]),
             "--user", "%s:not-the-password" % BOB, "--mail-from", BOB, "--mail-rcpt", CAROL, "-T", str(path)])
    assert r.returncode == 67, "curl exit %d: %s" % (r.returncode, r.stderr.decode())
    assert tsrv.queue_messages() == []
    assert tsrv.all_mailboxes() == []


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks_tls_auth_plain(tsrv, certs):
    """swaks --tls --tls-verify --auth PLAIN on submission: exit 0 and the
    message lands in carol's Maildir."""
    r = run(["swaks", "--server", "127.0.0.1", "--port", str(tsrv.sub_port), "--tls", "--tls-verify",
             "--tls-ca-path", str(certs[0]), "--auth", "PLAIN", "--auth-user", BOB, "--auth-password", PASSWORD,
             "--from", BOB, "--to", CAROL, "--helo", "swaks.test", "--header", "Subject: from swaks",
             "--body", "swaks body line"])
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "swaks exit %d:\n%s%s\n--- log ---\n%s" % (
        r.returncode, out, r.stderr.decode(errors="replace"), tsrv.log())
    assert re.search(r"^ [~-]> AUTH PLAIN ", out, re.M), out
    assert re.search(r"^<[~-]  235 2\.7\.0 ", out, re.M), out
    (delivered,) = tsrv.wait_for_mail(DOMAIN, "carol", 1)
    rest = assert_submission_trace(delivered, "bob")
    assert b"Subject: from swaks\n" in rest


@pytest.mark.parametrize("role", ["submission", "submissions", "smtp"])
def test_openssl_s_client_protocol_and_chain(tsrv, certs, role):
    """openssl s_client (-starttls smtp on submission and smtp, direct on
    submissions) verifies the chain against the test's certificate and the
    name localhost, and negotiates TLS 1.3."""
    port = {"submission": tsrv.sub_port, "submissions": tsrv.subs_port, "smtp": tsrv.port}[role]
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", str(certs[0]),
            "-servername", "localhost", "-verify_hostname", "localhost", "-verify_return_error",
            "-showcerts", "-crlf"]
    if role != "submissions":
        argv[2:2] = ["-starttls", "smtp", "-name", "client.test"]
    rc, out = s_client_ehlo(argv)
    assert rc == 0, "s_client exit %d:\n%s" % (rc, out)
    assert re.search(r"^Certificate chain\n 0 s:\s*CN\s*=\s*localhost\n\s+i:\s*CN\s*=\s*localhost", out, re.M), out
    assert re.search(r"Protocol\s*: TLSv1\.3|New, TLSv1\.3, Cipher is", out), out
    assert "Verify return code: 0 (ok)" in out, out
    assert re.search(r"^250[ -]", out, re.M), out          # the EHLO was answered under TLS


def s_client_ehlo(argv, timeout=20):
    """Run s_client, send EHLO once the handshake is done, close its stdin
    once the EHLO's last line (250 SP) has come back; returns (exit status,
    stdout + stderr). QUIT is left out: s_client ends on stdin EOF (QUIT
    under TLS has its own test)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = []

    def read_all():
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    try:
        poll_until(lambda: b"\n---\n" in b"".join(chunks) and b"Verify return code" in b"".join(chunks)
                   or proc.poll() is not None, timeout)
        if proc.poll() is None:
            proc.stdin.write(b"EHLO client.test\n")
            proc.stdin.flush()
            poll_until(lambda: re.search(rb"^250 ", b"".join(chunks), re.M) or proc.poll() is not None, timeout)
            proc.stdin.close()
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def test_selfsigned_pair_made_on_first_start(make_server, tls_users):
    """Without tls-cert/tls-key, tern makes a self-signed pair in DATA/tls/
    (key not readable by others) at first start, presents it, and keeps it
    across a restart."""
    sub_port = free_port()
    srv = make_server(users=tls_users, hostname=SERVER_NAME,
                      extra_lines=["listen 127.0.0.1:%d submission" % sub_port, "dns 127.0.0.1:%d" % free_port()])
    cert, key = srv.data_dir / "tls" / "cert.pem", srv.data_dir / "tls" / "key.pem"
    assert cert.is_file() and key.is_file(), os.listdir(srv.data_dir)
    assert stat.S_IMODE(key.stat().st_mode) & 0o077 == 0, oct(key.stat().st_mode)

    def presented():
        ctx = client_context(cert)     # trust exactly the file tern wrote
        with wire_from(sub_port, server_log=srv.log) as w:
            w.start()
            starttls(w, ctx)
            expect(w.ehlo(), r"^250 ")
            return w.sock.getpeercert(binary_form=True)

    first = presented()
    pem = cert.read_text()
    assert ssl.DER_cert_to_PEM_cert(first).strip() == pem.strip()
    srv.stop()
    srv.restart()
    assert cert.read_text() == pem
    assert presented() == first


@pytest.mark.parametrize("role", ["submission", "submissions", "smtp"])
def test_quit_under_tls_closes_the_connection(tsrv, ctx, role):
    """QUIT under TLS: 221, then the server closes the connection and ends
    the session (logged), as it does in plaintext; every real client
    (smtplib, curl, swaks) ends this way."""
    if role == "submissions":
        w = subs_session(tsrv, ctx)
    else:
        w = wire_from(tsrv.port if role == "smtp" else tsrv.sub_port, server_log=tsrv.log, timeout=5)
        w.start()
        starttls(w, ctx)
        w.ehlo()
    with w:
        w.sock.settimeout(5)
        expect(w.cmd("QUIT"), r"^221 2\.0\.0 ")
        assert w.wait_closed(), "connection still open 5 s after 221 under TLS\n--- log ---\n%s" % tsrv.log()
    ended = poll_until(lambda: len(re.findall(r"disconnect from", tsrv.log())) >= 4, 5)
    assert ended, "the TLS session was never ended (no disconnect line)\n--- log ---\n%s" % tsrv.log()


# --------------------------------------------------------------------------
# refusals: no AUTH, wrong credentials, forged sender, relaying

def test_mail_before_auth_is_530(tsrv, ctx):
    """On submission (plaintext on loopback, and after STARTTLS) and on
    submissions, MAIL before AUTH gets 530 5.7.0; RCPT and DATA get nothing
    done; nothing is queued."""
    with wire_from(tsrv.sub_port, server_log=tsrv.log) as w:
        w.start()
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
    for w in (sub_session(tsrv, ctx), subs_session(tsrv, ctx)):
        with w:
            expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
            assert w.cmd("RCPT TO:<%s>" % CAROL).code in (503, 530)
            assert w.cmd("DATA").code in (503, 530, 554)
            expect(w.cmd("NOOP"), r"^250 ")
    assert tsrv.queue_messages() == []


def test_wrong_password_and_unknown_user_look_alike(tsrv, ctx):
    """A wrong password and an unknown user both get 535 5.7.8 after the
    same delay (about a second; no user enumeration by timing), leave the
    session unauthenticated, and are logged with the client address but
    never the password. Each from its own source address, so both are a
    first failure."""
    results = {}
    for source, user, password in (("127.0.0.2", BOB, "Wr0ng-pass-A"),
                                   ("127.0.0.3", "nobody@example.test", "Wr0ng-pass-B"),
                                   ("127.0.0.4", "bob@elsewhere.test", "Wr0ng-pass-C")):
        with sub_session(tsrv, ctx, source=source) as w:
            reply, elapsed = timed(auth_plain, w, user, password)
            expect(reply, r"^535 5\.7\.8 ")
            results[user] = elapsed
            expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
            # one failure does not lock the account: the right password works
            expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")
    for user, elapsed in results.items():
        assert MIN_FAIL_DELAY <= elapsed < 3.0, "%s answered after %.2fs" % (user, elapsed)
    spread = max(results.values()) - min(results.values())
    assert spread < 0.5, "delays differ by %.2fs: %r" % (spread, results)
    log = tsrv.log()
    for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        assert re.search(r"auth.*fail.*\[%s\]" % re.escape(source), log, re.I), log
    for secret in ("Wr0ng-pass", b64("Wr0ng-pass-A")[:12], PASSWORD):
        assert secret not in log, "log shows %r:\n%s" % (secret, log)


def test_forged_sender_is_553(tsrv, ctx):
    """After AUTH the envelope sender must be the user's own address (any
    case) or an alias pointing to it; another user's address or a foreign one
    gets 553 5.7.1. A message from the alias is delivered with that
    Return-Path."""
    with subs_session(tsrv, ctx) as w:
        expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")
        for forged in (CAROL, "bob@elsewhere.test", "dave@example.test", "boss@example.org"):
            expect(w.cmd("MAIL FROM:<%s>" % forged), r"^553 5\.7\.1 ")
        expect(w.cmd("MAIL FROM:<BOB@Example.TEST>"), r"^250 2\.1\.0")
        expect(w.cmd("RSET"), r"^250 ")
        send_message(w, "sales@example.test", [CAROL],
                     b"From: sales@example.test\r\nSubject: alias\r\n\r\nfrom the alias\r\n.\r\n")
    (delivered,) = tsrv.wait_for_mail(DOMAIN, "carol", 1)
    assert delivered.startswith(b"Return-Path: <sales@example.test>\n")
    # the same rule on the smtp role once authenticated
    with tsrv.wire() as w:
        w.start()
        starttls(w, ctx)
        w.ehlo()
        expect(auth_plain(w, CAROL, PASSWORD), r"^235 2\.7\.0")
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^553 5\.7\.1 ")
        expect(w.cmd("MAIL FROM:<%s>" % CAROL), r"^250 2\.1\.0")


RELAY_TRICKS = ["someone@remote.test", "someone%remote.test@example.test", "@example.test:someone@remote.test",
                '"someone@remote.test"@example.test', "someone@REMOTE.test"]


def test_relay_on_smtp_needs_auth(tsrv, ctx):
    """On the smtp role a remote recipient gets 554 5.7.1 without AUTH, in
    plaintext and under TLS alike (TLS is not authorization), and the usual
    tricks get a 5xx; local mail is still accepted from anyone. After AUTH
    the same remote recipient is accepted and the message waits in
    DATA/queue/msg/ (its domain does not resolve: deferred)."""
    for use_tls in (False, True):
        with tsrv.wire() as w:
            w.start()
            if use_tls:
                starttls(w, ctx)
                w.ehlo()
            expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
            expect(w.cmd("RCPT TO:<someone@remote.test>"), r"^554 5\.7\.1 ")
            for trick in RELAY_TRICKS[1:]:
                reply = w.cmd("RCPT TO:<%s>" % trick)
                assert 500 <= reply.code <= 599, "RCPT TO:<%s> (tls=%s): %r" % (trick, use_tls, reply)
            expect(w.cmd("RCPT TO:<%s>" % BOB), r"^250 2\.1\.5")
            send_body = b"Subject: local\r\n\r\nlocal mail\r\n.\r\n"
            expect(w.cmd("DATA"), r"^354")
            w.send(send_body)
            queued_id(w.read_reply())
    tsrv.wait_for_mail(DOMAIN, "bob", 2)
    tsrv.wait_queue_empty()
    assert tsrv.all_mailboxes() == ["example.test/bob"]

    with tsrv.wire() as w:
        w.start()
        starttls(w, ctx)
        ehlo = w.ehlo()
        assert auth_offered(ehlo), ehlo
        expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")
        qid = send_message(w, BOB, ["someone@remote.test"],
                           b"From: bob@example.test\r\nSubject: out\r\n\r\nrelayed\r\n.\r\n")
    assert any(name.startswith(qid) for name in tsrv.queue_messages()), (qid, tsrv.queue_messages())
    time.sleep(1.0)   # a delivery attempt fails (no DNS): the message stays queued
    assert any(name.startswith(qid) for name in tsrv.queue_messages()), (qid, tsrv.queue_messages(), tsrv.log())
    assert tsrv.all_mailboxes() == ["example.test/bob"]


def test_no_users_no_auth(make_server, certs, ctx):
    """Without a users file AUTH is never offered, not even on loopback or
    under TLS, and an AUTH command is refused; submission then accepts no
    MAIL at all."""
    cert, key = certs
    srv = start_tls_server(make_server, cert, key, users=None)
    with wire_from(srv.sub_port, server_log=srv.log) as w:
        ehlo = w.start()
        assert not any(k.startswith("AUTH") for k in ehlo_keywords(ehlo)), ehlo
        starttls(w, ctx)
        ehlo = w.ehlo()
        assert not any(k.startswith("AUTH") for k in ehlo_keywords(ehlo)), ehlo
        expect(w.cmd("AUTH PLAIN " + plain(BOB, PASSWORD)), r"^5\d\d 5\.\d\.\d+ ")
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")


def test_submission_without_auth_relays_nothing(tsrv, ctx):
    """On submission nothing at all goes through without AUTH, not even to a
    local user: MAIL is refused, so no recipient is taken."""
    with sub_session(tsrv, ctx) as w:
        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^530 5\.7\.0 ")
        for rcpt in (BOB, "someone@remote.test"):
            reply = w.cmd("RCPT TO:<%s>" % rcpt)
            assert reply.code in (503, 530), reply
    assert tsrv.queue_messages() == []


# --------------------------------------------------------------------------
# STARTTLS: injection and state reset

@pytest.mark.parametrize("role", ["smtp", "submission"])
def test_starttls_injection_is_discarded(tsrv, ctx, role):
    """STARTTLS\\r\\nRSET\\r\\n in one packet: only the 220 comes back in
    plaintext; the handshake works; the RSET is never answered (neither in
    plaintext nor inside TLS): the first reply under TLS answers our EHLO."""
    port = tsrv.port if role == "smtp" else tsrv.sub_port
    with wire_from(port, server_log=tsrv.log) as w:
        w.start()
        w.send(b"STARTTLS\r\nRSET\r\n")
        expect(w.read_reply(), r"^220 ")
        assert w.buf == b"", "plaintext after the 220: %r" % w.buf
        assert read_nothing(w, 0.5) == b"", "the server answered the pipelined RSET in plaintext"
        w.sock = ctx.wrap_socket(w.sock, server_hostname=SERVER_NAME)
        ehlo = w.cmd("EHLO client.test")
        assert ehlo.code == 250 and ehlo.raw_lines[0].startswith(b"250-localhost"), \
            "first reply under TLS is not the EHLO's: %r" % ehlo
        expect(w.cmd("NOOP"), r"^250 ")
        assert read_nothing(w, 0.3) == b""


def test_starttls_injected_commands_are_not_executed(tsrv, ctx):
    """Commands pipelined after STARTTLS are not executed: on smtp an
    injected MAIL FROM leaves no transaction (RCPT gets 503 5.5.1); on
    submission an injected valid AUTH leaves the session unauthenticated
    (MAIL gets 530 5.7.0)."""
    with tsrv.wire() as w:
        w.start()
        w.send(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
        expect(w.read_reply(), r"^220 ")
        w.sock = ctx.wrap_socket(w.sock, server_hostname=SERVER_NAME)
        w.ehlo()
        expect(w.cmd("RCPT TO:<%s>" % BOB), r"^503 5\.5\.1 ")
    with wire_from(tsrv.sub_port, server_log=tsrv.log) as w:
        w.start()
        w.send(("STARTTLS\r\nAUTH PLAIN %s\r\n" % plain(BOB, PASSWORD)).encode())
        expect(w.read_reply(), r"^220 ")
        w.sock = ctx.wrap_socket(w.sock, server_hostname=SERVER_NAME)
        time.sleep(0.3)      # time for a wrongly executed AUTH to finish
        ehlo = w.ehlo()
        assert auth_offered(ehlo), ehlo
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
    assert not re.search(r"auth user=", tsrv.log()), tsrv.log()


def test_state_is_reset_after_starttls(tsrv, ctx):
    """On loopback AUTH works before TLS; after STARTTLS the session starts
    over (RFC 3207 4.2): EHLO is needed again, the AUTH is forgotten,
    STARTTLS is no longer offered and a second STARTTLS is refused."""
    with wire_from(tsrv.sub_port, server_log=tsrv.log) as w:
        ehlo = w.start()
        assert auth_offered(ehlo), ehlo          # loopback: offered in plaintext
        expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^250 2\.1\.0")
        expect(w.cmd("RSET"), r"^250 ")
        starttls(w, ctx)
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^503 5\.5\.1 ")
        ehlo = w.ehlo()
        assert "STARTTLS" not in ehlo_keywords(ehlo), ehlo
        assert auth_offered(ehlo), ehlo
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
        expect(w.cmd("STARTTLS"), r"^5\d\d ")
        expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")
        expect(w.cmd("AUTH PLAIN " + plain(BOB, PASSWORD)), r"^503 5\.5\.1 ")
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^250 2\.1\.0")


# --------------------------------------------------------------------------
# AUTH syntax abuse

def test_auth_malformed_base64_and_cancel(tsrv, ctx):
    """Malformed base64, as initial response and as continuation, in PLAIN and
    LOGIN: 501 5.5.2; '*' cancels: 501 5.7.0; an unknown mechanism 504; the
    session goes on unauthenticated."""
    with sub_session(tsrv, ctx) as w:
        expect(w.cmd("AUTH PLAIN !!!not-base64!!!"), r"^501 5\.5\.2 ")
        expect(w.cmd("AUTH PLAIN"), r"^334 ?$")
        expect(w.cmd("%%% what"), r"^501 5\.5\.2 ")
        expect(w.cmd("AUTH LOGIN"), r"^334 VXNlcm5hbWU6$")
        expect(w.cmd("bm9i@@"), r"^501 5\.5\.2 ")
        expect(auth_login_partial(w, BOB), r"^334 UGFzc3dvcmQ6$")
        expect(w.cmd("c2Vj*cmV0"), r"^501 5\.5\.2 ")
        expect(w.cmd("AUTH PLAIN"), r"^334 ?$")
        expect(w.cmd("*"), r"^501 5\.7\.0 ")
        expect(w.cmd("AUTH LOGIN"), r"^334 ")
        expect(w.cmd("*"), r"^501 5\.7\.0 ")
        expect(auth_login_partial(w, BOB), r"^334 UGFzc3dvcmQ6$")
        expect(w.cmd("*"), r"^501 5\.7\.0 ")
        expect(w.cmd("AUTH CRAM-MD5"), r"^504 5\.5\.4 ")
        expect(w.cmd("NOOP"), r"^250 ")
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
        expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")


def auth_login_partial(w, user):
    expect(w.cmd("AUTH LOGIN"), r"^334 VXNlcm5hbWU6$")
    return w.cmd(b64(user))


def test_auth_overlong_lines_are_500(tsrv, ctx):
    """A 13000-octet AUTH line, or a 13000-octet response line (PLAIN and
    LOGIN), gets 500 5.5.2 and the session goes on in command mode; even a
    100 KB response does not upset the server."""
    with sub_session(tsrv, ctx) as w:
        expect(w.cmd("AUTH PLAIN " + "A" * 13000), r"^500 5\.5\.2 ")
        expect(w.cmd("NOOP"), r"^250 ")
        expect(w.cmd("AUTH PLAIN"), r"^334 ?$")
        expect(w.cmd("A" * 13000), r"^500 5\.5\.2 ")
        expect(w.cmd("NOOP"), r"^250 ")
        expect(auth_login_partial(w, BOB), r"^334 ")
        expect(w.cmd("B" * 13000), r"^500 5\.5\.2 ")
        expect(w.cmd("NOOP"), r"^250 ")
        expect(w.cmd("AUTH LOGIN"), r"^334 ")
        expect(w.cmd("QUFB" * 25000), r"^500 5\.5\.2 ")
        expect(w.cmd("NOOP"), r"^250 ")
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
        expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")


NUL_TRIPLES = [
    ("password with a NUL after the right one", "\0%s\0%s\0junk" % (BOB, PASSWORD)),
    ("trailing NUL", "\0%s\0%s\0" % (BOB, PASSWORD)),
    ("only one NUL", "%s\0%s" % (BOB, PASSWORD)),
    ("no NUL", "%s %s" % (BOB, PASSWORD)),
    ("empty user", "\0\0%s" % PASSWORD),
    ("empty password", "\0%s\0" % BOB),
    ("four fields", "%s\0%s\0%s\0%s" % (BOB, BOB, PASSWORD, PASSWORD)),
    ("authzid of another user", "%s\0%s\0%s" % (CAROL, BOB, PASSWORD)),
]


def test_nul_bytes_in_plain_triple(tsrv, ctx):
    """PLAIN responses that are not exactly authzid NUL authcid NUL passwd
    (extra NULs, a NUL after the right password, fields missing), or that
    ask to act as another user, get 535 or 501 and never log in."""
    with subs_session(tsrv, ctx) as w:
        for name, triple in NUL_TRIPLES:
            reply = w.cmd("AUTH PLAIN " + b64(triple))
            assert re.match(r"^(535 5\.7\.8|501 5\.5\.2) ", reply.lines[-1]), "%s: %r" % (name, reply)
            expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
        # LOGIN with NULs in the name or the password
        expect(w.cmd("AUTH LOGIN"), r"^334 ")
        reply = w.cmd(b64("%s\0x" % BOB))
        if reply.code == 334:
            reply = w.cmd(b64(PASSWORD))
        assert reply.code in (535, 501), reply
        expect(auth_login_partial(w, BOB), r"^334 ")
        reply = w.cmd(b64(PASSWORD + "\0junk"))
        assert reply.code in (535, 501), reply
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
        expect(auth_plain(w, BOB, PASSWORD, authzid=BOB), r"^235 2\.7\.0")


# --------------------------------------------------------------------------
# brute force

def test_brute_force_is_slowed_then_throttled(tsrv, ctx):
    """Wrong passwords from one address: each failure is answered later than
    the one before (about 1, 2, 4 s); a few more (tried in parallel, to keep
    the test short) and the address is refused with 454 4.7.0 without a
    check, even with the right password. Another address is not affected."""
    delays = []
    attempts = [("PLAIN", BOB, "guess-1"), ("LOGIN", BOB, "guess-2"), ("PLAIN", "nobody@example.test", "guess-3")]
    with subs_session(tsrv, ctx) as w:
        for mech, user, password in attempts:
            fn = auth_plain if mech == "PLAIN" else auth_login
            reply, elapsed = timed(fn, w, user, password)
            expect(reply, r"^535 5\.7\.8 ")
            delays.append(elapsed)
    assert delays[0] >= MIN_FAIL_DELAY, delays
    assert delays[1] >= delays[0] + 0.5 and delays[2] >= delays[1] + 0.5, "delays do not grow: %r" % delays

    def attempt(i):
        with subs_session(tsrv, ctx) as w2:
            return timed(auth_plain, w2, BOB, "guess-%d" % i)

    replies = []
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        replies.extend(pool.map(attempt, (4, 5, 6)))
    with subs_session(tsrv, ctx) as w:
        replies.append(timed(auth_plain, w, BOB, "guess-7"))
        codes = [r.lines[-1][:9] for r, _ in replies]
        assert all(c in ("535 5.7.8", "454 4.7.0") for c in codes), replies
        assert codes[-1] == "454 4.7.0", "6 failures and still not throttled: %r\n%s" % (replies, tsrv.log())
        assert replies[-1][1] < MIN_FAIL_DELAY, "a throttled attempt should be refused at once: %r" % replies
        # the address stays throttled, even for the right password
        expect(auth_plain(w, BOB, PASSWORD), r"^454 4\.7\.0 ")
        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
    with subs_session(tsrv, ctx, source="127.0.0.9") as w:
        reply, elapsed = timed(auth_plain, w, BOB, PASSWORD)
        expect(reply, r"^235 2\.7\.0")
        assert elapsed < MIN_FAIL_DELAY
    log = tsrv.log()
    assert re.search(r"auth.*throttl.*\[127\.0\.0\.1\]", log, re.I), log
    assert "guess-" not in log, log


# --------------------------------------------------------------------------
# TLS versions

def _handshake_error(fn):
    try:
        fn()
    except (ssl.SSLError, ConnectionError) as e:
        return str(e)
    return None


@pytest.mark.parametrize("role", ["submission", "submissions"])
def test_tls_1_1_is_refused(tsrv, certs, ctx, role):
    """A client that offers at most TLS 1.1 fails the handshake (the server
    refuses; the client really offered it); TLS 1.2 and 1.3 work."""
    def connect(context):
        if role == "submissions":
            w = tls_wire(tsrv.subs_port, context, server_log=tsrv.log, timeout=10)
        else:
            w = wire_from(tsrv.sub_port, server_log=tsrv.log, timeout=10)
            w.start()
            starttls(w, context)
        with w:
            if role == "submissions":
                w.greeting()
            w.ehlo()
            return w.sock.version()

    err = _handshake_error(lambda: connect(old_tls_context(certs[0])))
    assert err is not None, "a TLS 1.1 handshake succeeded"
    assert "NO_PROTOCOLS_AVAILABLE" not in err and "no protocols available" not in err, \
        "the client could not offer TLS 1.1 here: %s" % err
    assert poll_until(lambda: "tls handshake failed" in tsrv.log(), 5), tsrv.log()
    tls12 = client_context(certs[0], maximum_version=ssl.TLSVersion.TLSv1_2)
    assert connect(tls12) == "TLSv1.2"
    assert connect(ctx) == "TLSv1.3"


# --------------------------------------------------------------------------
# a client off loopback (network namespaces)

def test_auth_needs_tls_off_loopback(tmp_path, certs, tls_users):
    """From 192.0.2.2 (its own namespace) to tern at 192.0.2.1 (another one):
    in plaintext EHLO does not offer AUTH and AUTH is refused (530 5.7.0 must
    issue STARTTLS first), on submission and on smtp; after STARTTLS AUTH is
    offered and works and the message is delivered; on smtp a remote
    recipient is refused without AUTH while local mail is accepted."""
    cert, key = certs
    with NetnsPair("sub") as pair:
        users_path = tmp_path / "users"
        users_path.write_text("".join("%s:%s\n" % u for u in tls_users))
        addr = pair.SERVER_ADDR
        srv = NetnsTern(pair, tmp_path, [
            "hostname %s" % SERVER_NAME,
            "listen %s:25 smtp" % addr, "listen %s:587 submission" % addr, "listen %s:465 submissions" % addr,
            "domain %s" % DOMAIN, "users %s" % users_path, "tls-cert %s" % cert, "tls-key %s" % key,
            "dns 127.0.0.1:9"])
        srv.start(587)
        try:
            for port in (587, 25):
                with pair.client_wire(port, server_log=srv.log) as w:
                    ehlo = w.start()
                    assert "STARTTLS" in ehlo_keywords(ehlo), ehlo
                    assert not any(k.startswith("AUTH") for k in ehlo_keywords(ehlo)), \
                        "AUTH offered in plaintext off loopback: %r" % ehlo
                    for line in ("AUTH PLAIN " + plain(BOB, PASSWORD), "AUTH LOGIN", "AUTH PLAIN"):
                        reply = w.cmd(line)
                        assert re.match(r"^(530 5\.7\.0|538 5\.7\.11) ", reply.lines[-1]), \
                            "port %d %s: %r" % (port, line.split()[1], reply)
                    if port == 587:
                        expect(w.cmd("MAIL FROM:<%s>" % BOB), r"^530 5\.7\.0 ")
                    else:
                        expect(w.cmd("MAIL FROM:<a@x.test>"), r"^250 2\.1\.0")
                        expect(w.cmd("RCPT TO:<someone@remote.test>"), r"^554 5\.7\.1 ")
                        expect(w.cmd("RCPT TO:<%s>" % BOB), r"^250 2\.1\.5")
                        expect(w.cmd("RSET"), r"^250 ")
                    ctx = client_context(cert)
                    starttls(w, ctx)
                    ehlo = w.ehlo()
                    assert auth_offered(ehlo), ehlo
                    expect(auth_plain(w, BOB, PASSWORD), r"^235 2\.7\.0")
                    if port == 587:
                        send_message(w, BOB, [CAROL], b"Subject: off loopback\r\n\r\nfrom 192.0.2.2\r\n.\r\n")
            with tls_wire_netns(pair, 465, cert, srv) as w:
                w.greeting()
                assert auth_offered(w.ehlo())
            new = tmp_path / "data" / "mail" / DOMAIN / "carol" / "new"
            found = poll_until(lambda: sorted(new.iterdir()) if new.is_dir() and any(new.iterdir()) else None, 10)
            assert found, "nothing delivered\n--- log ---\n%s" % srv.log()
            delivered = found[0].read_bytes()
            _, _, received, _ = split_trace(delivered)
            assert "[192.0.2.2]" in unfold(received), unfold(received)
            assert " with ESMTPSA" in unfold(received), unfold(received)
        finally:
            status = srv.stop()
        assert status == 0, "tern exit status %r\n--- log ---\n%s" % (status, srv.log())


def tls_wire_netns(pair, port, cert, srv):
    w = pair.client_wire(port, server_log=srv.log)
    w.sock = client_context(cert).wrap_socket(w.sock, server_hostname=SERVER_NAME)
    return w
