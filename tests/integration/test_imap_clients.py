"""IMAP with the programs people sync their mail with, and with Dovecot, the
reference server, on the same Maildir: mbsync (isync) syncing both ways over
implicit TLS with tern's own certificate pinned, offlineimap, getmail, and
Dovecot's imap reading the folders tern wrote (and tern reading Dovecot's)
with the same UIDs and flags."""

import imaplib
import os
import shutil
import smtplib
import subprocess

import pytest

from conftest import DOMAIN, PASSWORD, free_port
from test_imap import BOB, MSG, tls_context

DOVECOT_IMAP = "/usr/lib/dovecot/imap"


@pytest.fixture
def imap_srv(make_server, users):
    imap_port, imaps_port = free_port(), free_port()
    srv = make_server(users=users, max_message_size="20M",
                      extra_lines=["listen 127.0.0.1:%d imap" % imap_port,
                                   "listen 127.0.0.1:%d imaps" % imaps_port])
    srv.imap_port, srv.imaps_port = imap_port, imaps_port
    return srv


def deliver(srv, n, start=0):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
        for i in range(start, start + n):
            s.sendmail("sender@x.test", [BOB], MSG.replace(b"hello there", b"message %d" % i))
    srv.wait_for_mail(DOMAIN, "bob", start + n)


def local_files(root, folder, sub=None):
    d = os.path.join(root, folder)
    subs = [sub] if sub else ["cur", "new"]
    return sorted(f for s in subs if os.path.isdir(os.path.join(d, s)) for f in os.listdir(os.path.join(d, s)))


# ------------------------------------------------------------------ mbsync

def mbsync_config(tmp_path, srv, local):
    cert = srv.data_dir / "tls" / "cert.pem"
    conf = tmp_path / "mbsyncrc"
    conf.write_text(
        "IMAPAccount tern\n"
        "Host 127.0.0.1\n"
        "Port %d\n"
        "User %s\n"
        "Pass %s\n"
        "SSLType IMAPS\n"
        "CertificateFile %s\n"
        "\n"
        "IMAPStore remote\n"
        "Account tern\n"
        "\n"
        "MaildirStore local\n"
        "Path %s/\n"
        "Inbox %s/INBOX\n"
        "SubFolders Verbatim\n"
        "\n"
        "Channel sync\n"
        "Far :remote:\n"
        "Near :local:\n"
        "Patterns *\n"
        "Create Both\n"
        "Expunge Both\n"
        "SyncState *\n" % (srv.imaps_port, BOB, PASSWORD, cert, local, local))
    return conf


def mbsync(conf):
    out = subprocess.run(["mbsync", "-c", str(conf), "-a"], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    return out


def test_mbsync_syncs_both_ways(tmp_path, imap_srv):
    if shutil.which("mbsync") is None:
        pytest.skip("isync is not installed")
    deliver(imap_srv, 3)
    local = tmp_path / "local"
    local.mkdir()
    conf = mbsync_config(tmp_path, imap_srv, local)
    mbsync(conf)
    inbox = local_files(local, "INBOX")
    assert len(inbox) == 3, inbox
    assert os.path.isdir(local / "Sent" / "cur") and os.path.isdir(local / "Trash" / "cur")
    # locally: mark one seen, delete another, file a new one in Sent
    cur = local / "INBOX" / "cur"
    new = local / "INBOX" / "new"
    names = sorted(os.listdir(cur)) + sorted(os.listdir(new))
    def path_of(n):
        return cur / n if (cur / n).exists() else new / n
    first, second = names[0], names[1]
    os.rename(path_of(first), cur / (first.split(":2,")[0] + ":2,S"))
    os.rename(path_of(second), cur / (second.split(":2,")[0] + ":2,T"))
    (local / "Sent" / "cur" / ("1700000000.local.x:2,S")).write_bytes(MSG.replace(b"\r\n", b"\n"))
    mbsync(conf)
    c = imaplib.IMAP4_SSL("127.0.0.1", imap_srv.imaps_port, ssl_context=tls_context(), timeout=30)
    c.login(BOB, PASSWORD)
    typ, data = c.select("INBOX")
    assert data == [b"2"], data                   # Expunge Both removed the \Deleted one
    typ, data = c.search(None, "SEEN")
    assert data == [b"1"], data
    typ, data = c.status("Sent", "(MESSAGES)")
    assert data[0].endswith(b"(MESSAGES 1)"), data
    c.store("2", "+FLAGS", "\\Flagged")
    c.logout()
    # the server side change comes back; a further run changes nothing
    mbsync(conf)
    flagged = [n for n in local_files(local, "INBOX") if ":2," in n and "F" in n.split(":2,")[1]]
    assert len(flagged) == 1, local_files(local, "INBOX")
    before = local_files(local, "INBOX")
    mbsync(conf)
    assert local_files(local, "INBOX") == before


# ------------------------------------------------------------------ offlineimap

def test_offlineimap_mirrors_the_folders(tmp_path, imap_srv):
    if shutil.which("offlineimap") is None:
        pytest.skip("offlineimap3 is not installed")
    deliver(imap_srv, 2)
    c = imaplib.IMAP4("127.0.0.1", imap_srv.imap_port, timeout=30)
    c.login(BOB, PASSWORD)
    c.create("Lists.tern")
    c.append("Lists.tern", "(\\Seen)", None, MSG)
    c.logout()
    local = tmp_path / "oi"
    conf = tmp_path / "offlineimaprc"
    conf.write_text(
        "[general]\naccounts = t\nmetadata = %s/meta\nui = quiet\n\n"
        "[Account t]\nlocalrepository = L\nremoterepository = R\n\n"
        "[Repository L]\ntype = Maildir\nlocalfolders = %s\nsep = .\n\n"
        "[Repository R]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = %d\nssl = no\n"
        "starttls = no\nremoteuser = %s\nremotepass = %s\n" % (tmp_path, local, imap_srv.imap_port, BOB, PASSWORD))
    out = subprocess.run(["offlineimap", "-c", str(conf), "-o", "-u", "quiet"], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    assert len(local_files(local, "INBOX")) == 2
    lists = local_files(local, "Lists.tern")
    assert len(lists) == 1 and lists[0].endswith(",S"), lists


# ------------------------------------------------------------------ getmail

def test_getmail_retrieves_over_imaps(tmp_path, imap_srv):
    if shutil.which("getmail") is None:
        pytest.skip("getmail6 is not installed")
    deliver(imap_srv, 2)
    # getmail refuses to deliver as root: it runs as nobody in a directory of its own
    import tempfile
    home = tempfile.mkdtemp(prefix="tern-getmail-")
    os.chmod(home, 0o777)
    dest = os.path.join(home, "gm")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(dest, sub))
    for d, _, files in os.walk(home):
        os.chmod(d, 0o777)
    rc = os.path.join(home, "getmailrc")
    text = (
        "[retriever]\ntype = SimpleIMAPSSLRetriever\nserver = 127.0.0.1\nport = %d\n"
        "username = %s\npassword = %s\nmailboxes = (\"INBOX\",)\n\n"
        "[destination]\ntype = Maildir\npath = %s/\n\n"
        "[options]\nread_all = true\ndelete = false\n" % (imap_srv.imaps_port, BOB, PASSWORD, dest))
    with open(rc, "w") as f:
        f.write(text)
    os.chmod(rc, 0o644)
    try:
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "getmail", "--getmaildir", home, "--rcfile", rc],
                             capture_output=True, timeout=120, env=dict(os.environ, HOME=home))
        assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
        got = sorted(os.listdir(os.path.join(dest, "new")))
        assert len(got) == 2, got
        with open(os.path.join(dest, "new", got[0]), "rb") as f:
            assert b"second line with a needle" in f.read()
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ------------------------------------------------------------------ Dovecot on the same Maildir

NOBODY = 65534


def share_with_nobody(maildir):
    """Dovecot refuses mail access as root: give the Maildir to nobody (tern,
    as root, goes on reading and writing it) and let nobody reach it."""
    for d, dirs, files in os.walk(maildir):
        os.chown(d, NOBODY, NOBODY)
        for f in files:
            os.chown(os.path.join(d, f), NOBODY, NOBODY)
    p = os.path.dirname(os.path.abspath(maildir))
    while p != "/":
        os.chmod(p, os.stat(p).st_mode | 0o111)
        p = os.path.dirname(p)


def dovecot_session(tmp_path, maildir, commands):
    """Run Dovecot's imap in preauth mode on maildir, as nobody; the output text."""
    share_with_nobody(maildir)
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        "mail_location = maildir:%s\n"
        "log_path = %s/dovecot.log\n"
        "base_dir = %s/dovecot-run\n"
        "state_dir = %s/dovecot-state\n"
        "ssl = no\nprotocols = imap\n"
        "first_valid_uid = 0\nfirst_valid_gid = 0\nmail_uid = %d\nmail_gid = %d\n"
        "mail_privileged_group =\n" % (maildir, tmp_path, tmp_path, tmp_path, NOBODY, NOBODY))
    for d in ("dovecot-run", "dovecot-state"):
        (tmp_path / d).mkdir(exist_ok=True)
    for f in ("dovecot.log",):
        (tmp_path / f).touch()
        os.chown(tmp_path / f, NOBODY, NOBODY)
    script = "".join("x%d %s\r\n" % (i, cmd) for i, cmd in enumerate(commands)) + "z LOGOUT\r\n"
    env = dict(os.environ, USER="bob", HOME=str(tmp_path))
    out = subprocess.run([DOVECOT_IMAP, "-c", str(conf)], input=script.encode(), capture_output=True,
                         env=env, timeout=60)
    text = out.stdout.decode("utf-8", "replace")
    assert "* PREAUTH" in text, text + out.stderr.decode() + \
        ((tmp_path / "dovecot.log").read_text() if (tmp_path / "dovecot.log").exists() else "")
    return text


def test_dovecot_sees_the_uids_and_flags_tern_wrote(tmp_path, imap_srv):
    if not os.path.exists(DOVECOT_IMAP):
        pytest.skip("dovecot-imapd is not installed")
    deliver(imap_srv, 3)
    c = imaplib.IMAP4("127.0.0.1", imap_srv.imap_port, timeout=30)
    c.login(BOB, PASSWORD)
    typ, data = c.select("INBOX")
    uidvalidity = c.untagged_responses["UIDVALIDITY"][0]
    c.store("2", "+FLAGS", "(\\Flagged $Work)")
    c.store("1", "+FLAGS", "\\Deleted")
    c.expunge()
    c.append("Sent", "(\\Seen)", None, MSG)
    c.logout()
    root = str(imap_srv.maildir(DOMAIN, "bob"))
    text = dovecot_session(tmp_path, root, ["SELECT INBOX", "UID FETCH 1:* (FLAGS)", "STATUS Sent (MESSAGES UIDNEXT)"])
    assert "[UIDVALIDITY %s]" % uidvalidity.decode() in text, text
    assert "* 2 EXISTS" in text, text
    assert "UID 2 FLAGS (\\Flagged $Work" in text or "FLAGS (\\Flagged $Work) UID 2" in text, text
    assert "UID 3 " in text or "UID 3)" in text, text
    assert "MESSAGES 1 UIDNEXT 2" in text, text


def test_tern_keeps_the_uids_dovecot_gave(tmp_path, imap_srv):
    if not os.path.exists(DOVECOT_IMAP):
        pytest.skip("dovecot-imapd is not installed")
    deliver(imap_srv, 2)
    root = str(imap_srv.maildir(DOMAIN, "bob"))
    # Dovecot opens the folder first: it writes dovecot-uidlist, and sets a flag
    text = dovecot_session(tmp_path, root, ["SELECT INBOX", "STORE 2 +FLAGS (\\Answered)", "CREATE Work"])
    assert "x2 OK" in text, text
    uidlist = open(os.path.join(root, "dovecot-uidlist")).read()
    uidvalidity = uidlist.split()[1][1:]
    c = imaplib.IMAP4("127.0.0.1", imap_srv.imap_port, timeout=30)
    c.login(BOB, PASSWORD)
    c.select("INBOX")
    assert c.untagged_responses["UIDVALIDITY"] == [uidvalidity.encode()]
    data = c.fetch("1:*", "(UID FLAGS)")[1]
    assert data[0].startswith(b"1 (UID 1 ") and data[1].startswith(b"2 (UID 2 "), data
    assert b"\\Answered" in data[1]
    typ, data = c.list()
    assert any(l.endswith(b"Work") for l in data), data
    c.logout()


# ------------------------------------------------------------------ fetchmail

def test_fetchmail_over_imap_keeps_and_fetches(tmp_path, imap_srv):
    if shutil.which("fetchmail") is None:
        pytest.skip("fetchmail is not installed")
    deliver(imap_srv, 2)
    out_dir = tmp_path / "fm"
    out_dir.mkdir()
    rc = tmp_path / "fetchmailrc"
    # fetchmail upgrades with STARTTLS and verifies: tern's certificate is
    # pinned as the trust anchor, for the name it was made for
    cert = imap_srv.data_dir / "tls" / "cert.pem"
    rc.write_text('poll 127.0.0.1 protocol imap port %d auth password\n'
                  '    user "%s" password "%s" keep fetchall\n'
                  '    sslcertfile "%s" sslcommonname "mx.test"\n'
                  '    mda "/bin/sh -c \'cat > %s/msg.$$$$\'"\n' % (imap_srv.imap_port, BOB, PASSWORD, cert, out_dir))
    os.chmod(rc, 0o600)
    out = subprocess.run(["fetchmail", "-f", str(rc), "-s", "--nosyslog", "--idfile", str(tmp_path / "ids")],
                         capture_output=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)))
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    got = sorted(os.listdir(out_dir))
    assert len(got) == 2, got
    assert b"second line with a needle" in (out_dir / got[0]).read_bytes()
    # keep: still on the server, now seen
    c = imaplib.IMAP4("127.0.0.1", imap_srv.imap_port, timeout=30)
    c.login(BOB, PASSWORD)
    assert c.select("INBOX")[1] == [b"2"]
    assert c.search(None, "SEEN")[1] == [b"1 2"]
    c.logout()


# ------------------------------------------------------------------ neomutt in tmux

def test_neomutt_reads_flags_and_files_a_message(tmp_path, imap_srv):
    if shutil.which("neomutt") is None or shutil.which("tmux") is None:
        pytest.skip("neomutt or tmux is not installed")
    import time
    deliver(imap_srv, 2)
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(
        'set folder = "imap://%s@127.0.0.1:%d/"\n'
        'set spoolfile = "+INBOX"\n'
        'set imap_pass = "%s"\n'
        'set ssl_starttls = no\nset ssl_force_tls = no\n'
        'set record = ""\nset postponed = "+Drafts"\n'
        'set header_cache = ""\nset message_cachedir = ""\n'
        'set confirmappend = no\nset delete = yes\nset move = no\nset mark_old = no\n'
        'set sleep_time = 0\nset wait_key = no\nset sort = date\nset imap_idle = no\n'
        'set mail_check = 1\nset timeout = 1\nset resolve = no\n' % (BOB.replace("@", "%40"), imap_srv.imap_port, PASSWORD))
    session = "tern-nm-%d" % os.getpid()
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm")
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
                    "neomutt -n -d 5 -l %s/nm.log -F %s" % (tmp_path, muttrc)], check=True, env=env)

    def screen():
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                              text=True).stdout

    def wait_for(text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = screen()
            if text in s:
                return s
            time.sleep(0.2)
        pytest.fail("neomutt never showed %r; the screen:\n%s" % (text, screen()))

    def keys(*k):
        subprocess.run(["tmux", "send-keys", "-t", session] + list(k), check=True)

    try:
        wait_for("message 0")               # the first message in the index
        keys("Enter")                       # read it
        wait_for("first line")
        keys("q")
        wait_for("message 1")
        keys("F")                           # flag it
        keys("s")                           # save (move) it
        wait_for("Save to mailbox")
        keys("C-u", "=Archive", "Enter")
        time.sleep(1)
        keys("q")                           # quit: the moved message is expunged
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and session in subprocess.run(
                ["tmux", "ls"], capture_output=True, text=True).stdout:
            if "Purge" in screen() or "(yes/no)" in screen():
                keys("y")
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    c = imaplib.IMAP4("127.0.0.1", imap_srv.imap_port, timeout=30)
    c.login(BOB, PASSWORD)
    assert c.select("INBOX")[1] == [b"1"], "INBOX should hold the other message"
    assert c.select("Archive")[1] == [b"1"]
    typ, data = c.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    text = b" ".join(x if isinstance(x, bytes) else b" ".join(x) for x in data)
    assert b"\\Flagged" in text and b"\\Seen" in text, text
    assert b"message 0" in text or b"message 1" in text, text
    c.logout()
