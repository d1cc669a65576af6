"""IMAP (RFC 9051, RFC 3501 and the extensions tern announces) against the real
binary, with Python's imaplib (a client we did not write) and a raw socket
where the exact bytes matter. Mail arrives by SMTP first, so every test also
covers delivery -> Maildir -> user agent, on the Maildir++ layout of
CONTRACT.md "Folders".

The server listens on `imap` (STARTTLS) and `imaps` (implicit TLS); TLS uses
the self-signed pair tern makes in DATA-DIR/tls/, so clients do not verify
the certificate."""

import imaplib
import os
import re
import smtplib
import socket
import ssl
import threading
import time

import pytest

from conftest import DOMAIN, PASSWORD, LineWire, free_port, poll_until, tls_context

BOB = "bob@%s" % DOMAIN
CAROL = "carol@%s" % DOMAIN

MSG = (b"From: Alice <alice@example.org>\r\n"
       b"To: bob@example.test\r\n"
       b"Subject: hello there\r\n"
       b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
       b"Message-ID: <m1@example.org>\r\n"
       b"\r\n"
       b"first line\r\n"
       b"second line with a needle\r\n")


class ImapServer:
    """A TernServer with an imap and an imaps listener."""

    def __init__(self, srv, imap_port, imaps_port):
        self.srv, self.imap_port, self.imaps_port = srv, imap_port, imaps_port

    def deliver(self, message=MSG, rcpt=BOB, count=None):
        with smtplib.SMTP("127.0.0.1", self.srv.port, timeout=30) as s:
            s.sendmail("sender@x.test", [rcpt], message)
        if count is not None:
            return self.srv.wait_for_mail(DOMAIN, rcpt.split("@")[0], count)
        return None

    def plain(self):
        return imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)

    def tls(self):
        return imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=tls_context(), timeout=30)

    def login(self, user=BOB, password=PASSWORD):
        c = self.plain()
        c.login(user, password)
        return c

    def root(self, local="bob"):
        return self.srv.maildir(DOMAIN, local)

    def wire(self):
        return ImapWire(self.imap_port)


class ImapWire(LineWire):
    """A raw IMAP client: exact bytes out, CR LF lines in."""

    def __init__(self, port):
        super().__init__(port)
        greeting = self.line()
        assert greeting.startswith(b"* OK [CAPABILITY IMAP4rev1"), greeting

    def until_tagged(self, tag):
        """Every line up to and including the tagged reply for tag."""
        out = []
        while True:
            line = self.line()
            out.append(line)
            if line.startswith(tag + b" "):
                return out

    def cmd(self, tag, text):
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag)

    def closed(self, timeout=10):
        return super().closed(timeout)


@pytest.fixture
def imap(make_server, users):
    imap_port, imaps_port = free_port(), free_port()
    srv = make_server(users=users, max_message_size="20M",
                      extra_lines=["listen 127.0.0.1:%d imap" % imap_port,
                                   "listen 127.0.0.1:%d imaps" % imaps_port])
    return ImapServer(srv, imap_port, imaps_port)


def wire_form(stored):
    """A stored (LF) message as it goes on the wire (CR LF)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", stored)


def fetch_one(c, num, what):
    typ, data = c.fetch(num, what)
    assert typ == "OK", data
    return data


# ------------------------------------------------------------------ login

def test_greeting_capability_and_login_on_both_roles(imap):
    c = imap.plain()
    caps = c.capabilities
    # before login, as Dovecot: what a client needs to log in
    for cap in ("IMAP4REV1", "IMAP4REV2", "STARTTLS", "LITERAL+", "ID", "ENABLE", "AUTH=PLAIN", "SASL-IR"):
        assert cap in caps, caps
    typ, data = c.login(BOB, PASSWORD)
    assert b"[CAPABILITY " in data[0], data
    caps = c.capability()[1][0].decode().upper().split()
    for cap in ("IMAP4REV2", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "SPECIAL-USE", "ESEARCH",
                "NAMESPACE", "LIST-STATUS", "LIST-EXTENDED", "STATUS=SIZE", "SEARCHRES", "UNSELECT",
                "CHILDREN", "COMPRESS=DEFLATE", "QUOTA"):
        assert cap in caps, caps
    assert "APPENDLIMIT=20971520" in caps, caps
    assert "STARTTLS" not in caps and "AUTH=PLAIN" not in caps
    c.logout()
    s = imap.tls()
    assert "STARTTLS" not in s.capabilities
    s.login(BOB, PASSWORD)
    typ, _ = s.select("INBOX")
    assert typ == "OK"
    s.logout()


def test_starttls_then_login(imap):
    c = imap.plain()
    c.starttls(ssl_context=tls_context())
    assert "STARTTLS" not in c.capabilities
    c.login(BOB, PASSWORD)
    c.logout()


def test_bad_password_and_unknown_user_are_refused_alike(imap):
    c = imap.plain()
    for user, pw in ((BOB, "wrong"), ("nobody@%s" % DOMAIN, PASSWORD)):
        with pytest.raises(imaplib.IMAP4.error) as e:
            c.login(user, pw)
        assert "AUTHENTICATIONFAILED" in str(e.value)
    c.logout()


def test_authenticate_plain_with_initial_response(imap):
    c = imap.plain()
    typ, _ = c.authenticate("PLAIN", lambda _: b"\0" + BOB.encode() + b"\0" + PASSWORD.encode())
    assert typ == "OK"
    c.logout()


# ------------------------------------------------------------- reading

def test_delivered_message_is_fetched_exactly(imap):
    imap.deliver(count=1)
    root = imap.root()
    stored = open(os.path.join(root, "new", os.listdir(os.path.join(root, "new"))[0]), "rb").read()
    c = imap.login()
    typ, data = c.select("INBOX")
    assert data == [b"1"]
    data = fetch_one(c, "1", "(RFC822.SIZE BODY.PEEK[] UID FLAGS)")
    body = data[0][1]
    meta = data[0][0] + data[1]
    wire = wire_form(stored)
    assert body == wire
    assert b"RFC822.SIZE %d" % len(wire) in meta
    assert b"UID 1" in meta
    assert b"\\Seen" not in meta
    env = fetch_one(c, "1", "(ENVELOPE BODYSTRUCTURE)")[0]
    assert b'"hello there"' in env and b'"alice" "example.org"' in env
    assert b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit"' in env
    hdr = fetch_one(c, "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0][1]
    assert hdr == b"Subject: hello there\r\n\r\n"
    part = fetch_one(c, "1", "(BODY[TEXT]<0.5>)")
    assert part[0][1] == b"first"
    flags = fetch_one(c, "1", "(FLAGS)")[0]
    assert b"\\Seen" in flags
    c.logout()
    # the flag is in the file name, where POP3, mutt and Dovecot see it
    cur = os.listdir(os.path.join(root, "cur"))
    assert len(cur) == 1 and cur[0].endswith(":2,S"), cur


def test_search_keys(imap):
    imap.deliver(count=1)
    imap.deliver(MSG.replace(b"needle", b"thread").replace(b"hello there", b"other"), count=2)
    c = imap.login()
    c.select("INBOX")
    assert c.search(None, "BODY", "needle") == ("OK", [b"1"])
    assert c.search(None, "SUBJECT", "other") == ("OK", [b"2"])
    assert c.search(None, "FROM", "alice") == ("OK", [b"1 2"])
    assert c.search(None, "UNSEEN") == ("OK", [b"1 2"])
    c.store("2", "+FLAGS", "\\Seen")
    assert c.search(None, "SEEN") == ("OK", [b"2"])
    assert c.uid("SEARCH", "UID", "2:*") == ("OK", [b"2"])
    assert c.search(None, "OR", "SEEN", "BODY", "needle") == ("OK", [b"1 2"])
    assert c.search(None, "SENTON", "14-Nov-2023") == ("OK", [b"1 2"])
    typ, data = c.search(None, "LARGER", "1000000")
    assert data == [b""]
    c.logout()


# ------------------------------------------------------------- folders

def test_special_use_folders_exist_from_first_login(imap):
    c = imap.login()
    typ, data = c.list()
    text = b"\n".join(data)
    for name, attr in ((b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"), (b"Trash", b"\\Trash"),
                       (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")):
        line = [l for l in data if l.endswith(b" " + name) or l.endswith(b'"' + name + b'"')]
        assert line, text
        attrs = line[0][line[0].index(b"(") + 1:line[0].index(b")")].split(b" ")
        assert attr in attrs, line[0]
    assert any(l.endswith(b"INBOX") for l in data), text
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert c.select(name)[0] == "OK"
        assert os.path.isdir(os.path.join(imap.root(), "." + name, "cur")), name
    c.logout()


def test_create_rename_delete_on_disk(imap):
    c = imap.login()
    assert c.create("Work")[0] == "OK"
    assert c.create("Work.Projects")[0] == "OK"
    root = imap.root()
    assert os.path.isfile(os.path.join(root, ".Work.Projects", "maildirfolder"))
    assert c.rename("Work", "Job")[0] == "OK"
    assert os.path.isdir(os.path.join(root, ".Job.Projects", "cur"))
    assert not os.path.exists(os.path.join(root, ".Work"))
    assert c.delete("Job.Projects")[0] == "OK"
    assert not os.path.exists(os.path.join(root, ".Job.Projects"))
    typ, data = c.create("../escape")
    assert typ == "NO"
    typ, data = c.delete("INBOX")
    assert typ == "NO"
    assert c.subscribe("Job")[0] == "OK"
    typ, data = c.lsub()
    assert any(l.endswith(b"Job") for l in data), data
    c.logout()


def test_append_to_sent_with_flags_and_date(imap):
    c = imap.login()
    typ, data = c.append("Sent", "(\\Seen $Label1)", imaplib.Time2Internaldate(1700000000), MSG)
    assert typ == "OK", data
    m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    assert m, data
    uidvalidity, uid = m.groups()
    c.select("Sent")
    got = fetch_one(c, "1", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    body = got[0][1]
    meta = got[0][0] + got[1]
    assert body == MSG
    assert b"UID " + uid in meta and b"\\Seen" in meta and b"$Label1" in meta
    assert b'INTERNALDATE "14-Nov-2023' in meta
    c.logout()
    files = os.listdir(os.path.join(imap.root(), ".Sent", "cur"))
    assert len(files) == 1 and ":2," in files[0] and "S" in files[0].split(":2,")[1]
    # UIDs and UIDVALIDITY survive a restart
    imap.srv.stop()
    imap.srv.restart()
    c = imap.login()
    typ, data = c.status("Sent", "(UIDVALIDITY UIDNEXT MESSAGES)")
    assert b"UIDVALIDITY " + uidvalidity in data[0], data
    assert b"UIDNEXT %d" % (int(uid) + 1) in data[0], data
    c.logout()


def test_copy_move_expunge_with_uidplus(imap):
    for n in range(3):
        imap.deliver(count=n + 1)
    c = imap.login()
    c.select("INBOX")
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK" and b"COPYUID" in data[0], data
    typ, data = c.uid("MOVE", "3", "Trash")
    assert typ == "OK", data
    assert c.select("INBOX")[1] == [b"2"]
    c.store("1", "+FLAGS.SILENT", "\\Deleted")
    typ, data = c.expunge()
    assert data == [b"1"]
    assert c.status("Archive", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 2)")
    assert c.status("Trash", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)")
    c.logout()
    assert len(os.listdir(os.path.join(imap.root(), ".Archive", "cur"))) == 2


# ------------------------------------------------------------- sharing the Maildir

def test_idle_reports_a_delivery(imap):
    c = imap.login()
    c.select("INBOX")
    w = imap.wire()
    w.cmd(b"a", b"LOGIN " + BOB.encode() + b" " + PASSWORD.encode())
    w.cmd(b"b", b"SELECT INBOX")
    w.send(b"c IDLE\r\n")
    assert w.line().startswith(b"+ ")
    imap.deliver()
    w.sock.settimeout(15)
    assert w.line() == b"* 1 EXISTS"
    w.send(b"DONE\r\n")
    assert w.until_tagged(b"c")[-1].startswith(b"c OK")
    w.close()
    c.logout()


def test_changes_by_others_are_seen_with_stable_uids(imap):
    imap.deliver(count=1)
    imap.deliver(count=2)
    c = imap.login()
    c.select("INBOX")
    uids = fetch_one(c, "1:*", "(UID)")
    assert uids == [b"1 (UID 1)", b"2 (UID 2)"]
    root = imap.root()
    cur = sorted(os.listdir(os.path.join(root, "cur")))
    assert len(cur) == 2
    # another program sets \Flagged on the second and deletes the first
    os.rename(os.path.join(root, "cur", cur[1]), os.path.join(root, "cur", cur[1].split(":")[0] + ":2,F"))
    os.unlink(os.path.join(root, "cur", cur[0]))
    typ, data = c.noop()
    untagged = c.untagged_responses
    assert untagged.get("EXPUNGE") == [b"1"], untagged
    # the flag change is reported at the same sync (imaplib keeps it for the next fetch)
    assert untagged.get("FETCH") == [b"1 (FLAGS (\\Flagged \\Recent))"], untagged
    c.untagged_responses.pop("FETCH")
    assert fetch_one(c, "1", "(UID FLAGS)") == [b"1 (UID 2 FLAGS (\\Flagged \\Recent))"]
    # a third arrives: it gets the next UID
    c.untagged_responses.pop("EXISTS", None)
    imap.deliver()
    poll_until(lambda: c.noop() and c.untagged_responses.get("EXISTS"), 10)
    assert fetch_one(c, "2", "(UID)") == [b"2 (UID 3)"]
    c.logout()


def test_pop3_deletes_are_imap_expunges(make_server, users):
    imap_port, pop3_port = free_port(), free_port()
    srv = make_server(users=users, extra_lines=["listen 127.0.0.1:%d imap" % imap_port,
                                                "listen 127.0.0.1:%d pop3" % pop3_port])
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
        s.sendmail("sender@x.test", [BOB], MSG)
    srv.wait_for_mail(DOMAIN, "bob", 1)
    c = imaplib.IMAP4("127.0.0.1", imap_port, timeout=30)
    c.login(BOB, PASSWORD)
    assert c.select("INBOX")[1] == [b"1"]
    import poplib
    p = poplib.POP3("127.0.0.1", pop3_port, timeout=30)
    p.user(BOB)
    p.pass_(PASSWORD)
    p.dele(1)
    p.quit()
    c.noop()
    assert c.untagged_responses.get("EXPUNGE") == [b"1"], c.untagged_responses
    c.logout()


# ------------------------------------------------------------- hostile clients

def test_oversized_literal_is_refused_before_it_is_sent(imap):
    w = imap.wire()
    w.cmd(b"a", b"LOGIN " + BOB.encode() + b" " + PASSWORD.encode())
    w.send(b"b APPEND INBOX {99999999999}\r\n")
    line = w.line()
    assert line.startswith(b"b NO [TOOBIG]"), line
    assert w.cmd(b"c", b"NOOP")[-1].startswith(b"c OK")
    w.close()


def test_endless_line_does_not_grow_the_server(imap):
    w = imap.wire()
    chunk = b"x" * 65536
    for _ in range(64):       # 4 MiB without a line end
        w.send(chunk)
    w.send(b"\r\n")
    line = w.line()
    assert b"BAD" in line or b"NO" in line, line
    assert w.cmd(b"c", b"NOOP")[-1].startswith(b"c OK")
    w.close()


def test_invalid_commands_end_the_session(imap):
    w = imap.wire()
    for i in range(40):
        try:
            w.send(b"x%d FROB\r\n" % i)
        except OSError:
            break
    assert w.closed()
    assert b"* BYE" in w.buf


def test_fetch_before_select_and_unknown_folder(imap):
    w = imap.wire()
    assert w.cmd(b"a", b"FETCH 1 FLAGS")[-1].startswith(b"a BAD")
    w.cmd(b"b", b"LOGIN " + BOB.encode() + b" " + PASSWORD.encode())
    assert w.cmd(b"c", b"SELECT Nope")[-1].startswith(b"c NO [NONEXISTENT]")
    assert w.cmd(b"d", b"SELECT \"../../carol@example.test\"")[-1].startswith(b"d NO")
    w.close()


def test_curl_lists_and_fetches(imap):
    import subprocess
    imap.deliver(count=1)
    url = "imap://127.0.0.1:%d/INBOX;UID=1" % imap.imap_port
    out = subprocess.run(["curl", "-s", "--user", "%s:%s" % (BOB, PASSWORD), url],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert b"second line with a needle" in out.stdout
    url = "imaps://127.0.0.1:%d/" % imap.imaps_port
    out = subprocess.run(["curl", "-s", "-k", "--user", "%s:%s" % (BOB, PASSWORD), url],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert b"Sent" in out.stdout and b"INBOX" in out.stdout


def test_compress_deflate_both_directions(imap):
    import zlib
    imap.deliver(count=1)
    w = imap.wire()
    w.cmd(b"a", b"LOGIN " + BOB.encode() + b" " + PASSWORD.encode())
    assert w.cmd(b"b", b"COMPRESS DEFLATE")[-1].startswith(b"b OK")
    assert w.buf == b""
    comp, decomp = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
    # pipelined, in one compressed write
    w.sock.sendall(comp.compress(b"c SELECT INBOX\r\nd FETCH 1 BODY.PEEK[]\r\ne COMPRESS DEFLATE\r\n")
                   + comp.flush(zlib.Z_SYNC_FLUSH))
    text = b""
    while b"\r\ne " not in text:
        chunk = w.sock.recv(65536)
        assert chunk, text
        text += decomp.decompress(chunk)
    assert b"c OK [READ-WRITE]" in text
    assert b"second line with a needle\r\n)\r\nd OK" in text
    assert b"e NO [COMPRESSIONACTIVE]" in text
    # a stream that does not decode ends the session
    w.sock.sendall(b"\xff\xff\xff\xff garbage")
    assert w.closed()
