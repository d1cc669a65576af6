"""Trusted mail (CONTRACT.md `dkim-key`, `inbound-auth`, `dmarc-policy`).

One dnsmasq for the module publishes the SPF, DKIM and DMARC records of a
handful of *.test domains; a small UDP responder that answers every
question with SERVFAIL stands behind dnsmasq for the names whose look-up
must fail temporarily (dnsmasq forwards them there with --server=/NAME/).

Servers (all with `dns` = that dnsmasq):
  A   mx.a.test: submission for alice@a.test, ann@a.test and dave@plain.test,
      dkim-key a.test s1 (RSA) and s2 (Ed25519), relay-host = B; an alias
      fwd@a.test -> big@b.test for the bounce case.
  B   mx.b.test: the smtp role for b.test (every local part valid),
      inbound-auth on, dmarc-policy enforce. Each test writes to its own
      local part, so that Maildirs never mix.
  OFF inbound-auth off; REPORT dmarc-policy report.

Clients connect from 127.0.0.1, which tern does not exempt: the SPF records
that must pass say ip4:127.0.0.0/8, those that must fail do not.

dkimpy (Debian's python3-dkim) signs the inbound test messages and checks
the signatures tern made, on the file B stored.
"""

import base64
import os
import re
import smtplib
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import PASSWORD, TERN_BIN, TernServer, expect, free_port, poll_until, queued_id
from relay_helpers import Dnsmasq, take_fields

sys.path.append("/usr/lib/python3/dist-packages")
dkim = pytest.importorskip("dkim")
pytest.importorskip("nacl")

B_HOST = "mx.b.test"
A_HOST = "mx.a.test"
DELIVERY_TIMEOUT = 20


# --------------------------------------------------------------------------
# DNS

class ServfailResponder:
    """A UDP DNS server on 127.0.0.1 that answers every question with
    SERVFAIL (the question echoed, no records)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.questions = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 17:
                continue
            qid, flags = struct.unpack(">HH", data[:4])
            i = 12
            while i < len(data) and data[i]:
                i += 1 + data[i]
            question = data[12:i + 5]
            self.questions += 1
            reply = struct.pack(">HHHHHH", qid, 0x8000 | (flags & 0x0100) | 0x0080 | 2, 1, 0, 0, 0) + question
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


def txt(name, *strings):
    """A dnsmasq TXT option; several strings make one record of several
    character-strings (each at most 255 octets)."""
    for s in strings:
        assert len(s) <= 255 and "," not in s, s
    return "--txt-record=%s,%s" % (name, ",".join(strings))


def split255(text):
    return [text[i:i + 250] for i in range(0, len(text), 250)]


def zone_record(line):
    """The text of the TXT record in keygen's zone-file line (strings joined)."""
    return "".join(re.findall(r'"([^"]*)"', line))


def keygen(directory, domain, selector, alg):
    path = directory / ("%s.%s.pem" % (domain, selector))
    p = subprocess.run([TERN_BIN, "dkim", "keygen", domain, "--selector", selector, "--algorithm", alg,
                        "--out", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    line = p.stdout.strip()
    assert line.startswith('%s._domainkey.%s. IN TXT "v=DKIM1; k=%s; p=' % (selector, domain, alg)), line
    return path, zone_record(line)


def ed25519_seed(pem_path):
    """The raw Ed25519 seed dkimpy wants (base64): the last 32 octets of the
    PKCS#8 DER."""
    pem = pem_path.read_text()
    der = base64.b64decode("".join(l for l in pem.splitlines() if not l.startswith("-----")))
    return base64.b64encode(der[-32:])


SPF_LOOPBACK = "v=spf1 ip4:127.0.0.0/8 -all"
SPF_FAIL = "v=spf1 ip4:192.0.2.1 -all"


def records(keys, servfail_port):
    rsa_rec, ed_rec = keys["rsa"][1], keys["ed"][1]
    rsa_p = rsa_rec.split("p=", 1)[1]
    big = "v=DKIM1; k=rsa; n=" + "x" * (16 * 1024) + "; p=" + rsa_p
    mid = "v=DKIM1; k=rsa; n=" + "m" * (6 * 1024) + "; p=" + rsa_p
    assert len(big) > 16 * 1024 and 6 * 1024 < len(mid) < 8 * 1024
    return [
        "--mx-host=b.test,%s,10" % B_HOST,           # the readiness probe
        # a.test: tern A's domain, its two keys, p=reject
        txt("a.test", SPF_LOOPBACK),
        txt("mx.a.test", SPF_LOOPBACK),               # A's HELO name, for its bounces
        txt("s1._domainkey.a.test", *split255(rsa_rec)),
        txt("s2._domainkey.a.test", ed_rec),
        txt("_dmarc.a.test", "v=DMARC1; p=reject"),
        txt("plain.test", SPF_LOOPBACK),
        txt("b.test", SPF_LOOPBACK),
        # SPF alone
        txt("pass.test", SPF_LOOPBACK),
        txt("sfail.test", SPF_FAIL),
        txt("soft.test", "v=spf1 ip4:192.0.2.1 ~all"),
        txt("helo.test", "v=spf1 ip4:127.0.0.1 -all"),
        # nospf.test: nothing at all
        # k.test: DKIM cases, SPF fails, DMARC p=none
        txt("k.test", "v=spf1 -all"),
        txt("_dmarc.k.test", "v=DMARC1; p=none"),
        txt("good._domainkey.k.test", *split255(rsa_rec)),
        txt("ed._domainkey.k.test", ed_rec),
        txt("badb64._domainkey.k.test", "v=DKIM1; k=rsa; p=MIIB$$$not*base64!!!"),
        txt("revoked._domainkey.k.test", "v=DKIM1; k=rsa; p="),
        txt("big._domainkey.k.test", *split255(big)),
        txt("mid._domainkey.k.test", *split255(mid)),
        # DMARC
        txt("st.test", SPF_LOOPBACK),
        txt("s1._domainkey.st.test", *split255(rsa_rec)),
        txt("_dmarc.st.test", "v=DMARC1; p=quarantine; adkim=s; aspf=s"),
        txt("sp.test", SPF_FAIL),
        txt("_dmarc.sp.test", "v=DMARC1; p=none; sp=reject"),
        txt("none.test", SPF_FAIL),
        txt("_dmarc.none.test", "v=DMARC1; p=none"),
        txt("q.test", SPF_FAIL),
        txt("_dmarc.q.test", "v=DMARC1; p=quarantine"),
        txt("r.test", SPF_FAIL),
        txt("_dmarc.r.test", "v=DMARC1; p=reject"),
        txt("pct0.test", SPF_FAIL),
        txt("_dmarc.pct0.test", "v=DMARC1; p=reject; pct=0"),
        # temporary failures: the policy, or a key, behind the SERVFAIL responder
        txt("tf.test", SPF_FAIL),
        "--server=/_dmarc.tf.test/127.0.0.1#%d" % servfail_port,
        txt("tk.test", SPF_FAIL),
        txt("_dmarc.tk.test", "v=DMARC1; p=reject"),
        "--server=/_domainkey.tk.test/127.0.0.1#%d" % servfail_port,
    ]


# --------------------------------------------------------------------------
# the servers

class Server(TernServer):
    """conftest's TernServer with log searching."""

    def log_lines(self, pattern):
        rx = re.compile(pattern)
        text = self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""
        return [l for l in text.splitlines() if rx.search(l)]

    def wait_log(self, pattern, timeout=10, count=1):
        found = poll_until(lambda: (lambda m: m if len(m) >= count else None)(self.log_lines(pattern)), timeout)
        if not found:
            pytest.fail("no %d log line(s) matching /%s/ within %ss\n--- log ---\n%s"
                        % (count, pattern, timeout, self.log()))
        return found


def start_server(base, **kw):
    base.mkdir(parents=True, exist_ok=True)
    return Server(base, **kw).start()


class Net:
    pass


@pytest.fixture(scope="module")
def net(tmp_path_factory, password_hash):
    root = tmp_path_factory.mktemp("trusted")
    n = Net()
    keydir = root / "keys"
    keydir.mkdir()
    n.keys = {"rsa": keygen(keydir, "a.test", "s1", "rsa"), "ed": keygen(keydir, "a.test", "s2", "ed25519")}
    n.servfail = ServfailResponder()
    n.dns = Dnsmasq(root, records(n.keys, n.servfail.port), probe="b.test").start()
    dns_line = "dns 127.0.0.1:%d" % n.dns.port
    servers = []
    try:
        n.b = start_server(root / "b", hostname=B_HOST, domains=("b.test",), extra_lines=[dns_line])
        servers.append(n.b)
        n.off = start_server(root / "off", hostname=B_HOST, domains=("b.test",),
                             extra_lines=[dns_line, "inbound-auth off"])
        servers.append(n.off)
        n.report = start_server(root / "report", hostname=B_HOST, domains=("b.test",),
                                extra_lines=[dns_line, "dmarc-policy report"])
        servers.append(n.report)
        n.sub_port = free_port()
        n.a = start_server(root / "a", hostname=A_HOST, domains=("a.test", "plain.test"),
                           max_message_size="4M",
                           users=[("alice@a.test", password_hash), ("ann@a.test", password_hash),
                                  ("dave@plain.test", password_hash)],
                           aliases=[("fwd@a.test", "big@b.test")],
                           extra_lines=[dns_line,
                                        "listen 127.0.0.1:%d submission" % n.sub_port,
                                        "relay-host 127.0.0.1:%d" % n.b.port,
                                        "queue-retry 1s 2s",
                                        "dkim-key a.test s1 %s" % n.keys["rsa"][0],
                                        "dkim-key a.test s2 %s" % n.keys["ed"][0]])
        servers.append(n.a)
        yield n
    finally:
        problems = []
        for srv in servers:
            if srv.proc.poll() is not None and not srv.stopping:
                problems.append("%s died during the module (status %d)\n%s" % (srv.hostname, srv.proc.returncode,
                                                                              srv.log()))
                continue
            rc = srv.stop()
            if rc != 0:
                problems.append("%s: exit status %r after SIGTERM\n%s" % (srv.hostname, rc, srv.log()))
        n.dns.stop()
        n.servfail.stop()
        if problems:
            pytest.fail("\n".join(problems))


# --------------------------------------------------------------------------
# sending and reading

def crlf(text):
    if isinstance(text, str):
        text = text.encode()
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def message(from_line, subject, extra=(), body=b"Hello.\r\n", to="someone@b.test"):
    head = []
    if from_line is not None:
        head.append(b"From: " + from_line.encode())
    head += [b"To: " + to.encode(), b"Subject: " + subject.encode(),
             b"Date: Mon, 07 Dec 2026 10:00:00 +0000",
             b"Message-ID: <%s@test>" % uuid.uuid4().hex.encode()]
    head += [e.encode() if isinstance(e, str) else e for e in extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def dkim_sign(msg, selector, domain, key, alg="rsa", headers=(b"from", b"to", b"subject", b"date"), algo=None):
    if algo is None:
        algo = b"rsa-sha256" if alg == "rsa" else b"ed25519-sha256"
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key, canonicalize=(b"relaxed", b"relaxed"),
                    signature_algorithm=algo, include_headers=list(headers))
    return sig + msg


def send(srv, mail_from, rcpts, msg, helo="client.test"):
    """One SMTP transaction; the reply to the final dot."""
    stuffed = re.sub(rb"(?m)^\.", b"..", msg)
    with srv.session(helo) as w:
        expect(w.cmd("MAIL FROM:<%s>" % mail_from), r"^250 ")
        for r in rcpts:
            expect(w.cmd("RCPT TO:<%s>" % r), r"^250 ")
        expect(w.cmd("DATA"), r"^354")
        w.send(stuffed + b".\r\n")
        reply = w.read_reply()
        w.cmd("QUIT")
    return reply


def folder_files(srv, local, folder=None, domain="b.test"):
    box = srv.maildir(domain, local)
    if folder:
        box = box / (".%s" % folder)
    new = box / "new"
    if not new.is_dir():
        return []
    return [(new / name).read_bytes() for name in sorted(os.listdir(new))]


def wait_file(srv, local, folder=None, domain="b.test", timeout=DELIVERY_TIMEOUT):
    got = poll_until(lambda: folder_files(srv, local, folder, domain), timeout)
    assert got, "nothing in %s/%s%s within %ss\n--- log ---\n%s" % (
        domain, local, "/." + folder if folder else "", timeout, srv.log())
    assert len(got) == 1, "expected one message, got %d" % len(got)
    return got[0]


def split_top(text, sep):
    """Split at `sep` outside quoted strings and comments; each part is
    (text without comments, [comments])."""
    parts, cur, comments, depth, quoted, esc, ccur = [], "", [], 0, False, False, ""
    for ch in text:
        if esc:
            if depth:
                ccur += ch
            else:
                cur += ch
            esc = False
        elif ch == "\\":
            esc = True
            if not depth:
                cur += ch
        elif quoted:
            cur += ch
            if ch == '"':
                quoted = False
        elif depth:
            if ch == "(":
                depth += 1
                ccur += ch
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    comments.append(ccur)
                    ccur = ""
                    cur += " "
                else:
                    ccur += ch
            else:
                ccur += ch
        elif ch == "(":
            depth = 1
        elif ch == '"':
            quoted = True
            cur += ch
        elif ch == sep:
            parts.append((cur, comments))
            cur, comments = "", []
        else:
            cur += ch
    parts.append((cur, comments))
    return parts


def parse_ar(value):
    """An Authentication-Results value: (authserv-id, [result dicts]) with
    method, result, props (ptype.property -> value, quotes removed) and
    comment (the first comment, or None)."""
    parts = split_top(value, ";")
    authserv = parts[0][0].split()[0] if parts[0][0].split() else ""
    results = []
    for text, comments in parts[1:]:
        tokens = re.findall(r'[^\s=]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]+)|\S+', text)
        if not tokens:
            continue
        method, _, result = tokens[0].partition("=")
        props = {}
        for t in tokens[1:]:
            k, _, v = t.partition("=")
            props[k] = v[1:-1] if v.startswith('"') and v.endswith('"') else v
        results.append({"method": method, "result": result, "props": props,
                        "comment": comments[0].strip() if comments else None})
    return authserv, results


def trace_of(delivered):
    """Check the order Return-Path, Delivered-To, Authentication-Results,
    Received at the top of a delivered file; returns (AR raw, AR results,
    rest after the four fields)."""
    fields, rest = take_fields(delivered, 4)
    names = [f[0] for f in fields]
    assert names == ["Return-Path", "Delivered-To", "Authentication-Results", "Received"], \
        "expected Return-Path, Delivered-To, Authentication-Results, Received on top, got %r\n%r" % (
            names, delivered[:800])
    raw = fields[2][2].decode()
    authserv, results = parse_ar(fields[2][1])
    assert authserv == B_HOST, raw
    # one field, each method on its own continuation line
    lines = raw.rstrip("\n").split("\n")
    assert lines[0] == "Authentication-Results: %s;" % B_HOST, raw
    starts = [l for l in lines[1:] if re.match(r"^[ \t]+(spf|dkim|dmarc)=", l)]
    assert len(starts) == len(results), "each method must begin its own continuation line:\n%s" % raw
    assert all(l[:1] in (" ", "\t") for l in lines[1:]), raw
    methods = [r["method"] for r in results]
    assert methods[:1] == ["spf"] and methods[-1:] == ["dmarc"] and set(methods[1:-1]) == {"dkim"}, raw
    return raw, results, rest


def by_method(results, method):
    return [r for r in results if r["method"] == method]


def one(results, method):
    found = by_method(results, method)
    assert len(found) == 1, "expected one %s result in %r" % (method, results)
    return found[0]


def refused(reply, code, enhanced):
    assert reply.code == code, reply
    assert re.match(r"^%d %s " % (code, re.escape(enhanced)), reply.lines[-1]), reply


def assert_nothing_delivered(srv, local):
    time.sleep(0.3)
    box = srv.maildir("b.test", local)
    found = []
    if box.exists():
        for dirpath, _, files in os.walk(box):
            found += [os.path.join(dirpath, f) for f in files
                      if os.path.basename(dirpath) in ("new", "cur", "tmp")]
    assert not found, "refused message delivered anyway: %r" % found


def inbound(net, local, mail_from, msg, srv=None, helo="client.test"):
    """Send to LOCAL@b.test; returns the reply."""
    return send(srv or net.b, mail_from, ["%s@b.test" % local], msg, helo=helo)


def delivered_ar(net, local, mail_from, msg, folder=None, srv=None, helo="client.test"):
    """Send, expect 250 and the file in INBOX (or folder); returns
    (queue id, file, AR raw, AR results, rest after the four fields)."""
    srv = srv or net.b
    reply = inbound(net, local, mail_from, msg, srv=srv, helo=helo)
    qid = queued_id(reply)
    data = wait_file(srv, local, folder)
    if folder is None:
        assert not folder_files(srv, local, "Junk"), "also in Junk?"
    raw, results, rest = trace_of(data)
    return qid, data, raw, results, rest


def b_prefix(sig_field_value):
    b = re.search(r"(?:^|;)b=([^;]*)", re.sub(r"\s+", "", sig_field_value))
    return b.group(1)[:8]


# --------------------------------------------------------------------------
# 1. signing, end to end

def dnsfunc_for(net):
    recs = {"s1._domainkey.a.test": net.keys["rsa"][1], "s2._domainkey.a.test": net.keys["ed"][1]}

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        rec = recs.get(name.rstrip("."))
        return rec.encode() if rec else None
    return dnsfunc


def check_signed_at_b(net, data, expect_from_domain="a.test"):
    """A file in B's Maildir that A signed: the two signatures sit above A's
    Received, dkimpy verifies both, B's Authentication-Results agrees."""
    raw, results, rest = trace_of(data)
    fields, _ = take_fields(rest, 3)
    names = [f[0] for f in fields]
    assert names == ["DKIM-Signature", "DKIM-Signature", "Received"], \
        "expected two DKIM-Signature fields right above A's Received: %r\n%r" % (names, rest[:1500])
    assert ("by %s (tern)" % A_HOST) in fields[2][1], fields[2][1]
    sigs = {}
    for name, value, _ in fields[:2]:
        tags = dict((k.strip(), v.strip()) for k, _, v in
                    (t.partition("=") for t in re.sub(r"\s+", "", value).split(";") if t))
        assert tags["d"] == "a.test" and tags["c"] == "relaxed/relaxed", tags
        sigs[tags["s"]] = (tags, value)
    assert sorted(sigs) == ["s1", "s2"], sigs.keys()
    assert sigs["s1"][0]["a"] == "rsa-sha256" and sigs["s2"][0]["a"] == "ed25519-sha256"
    # dkimpy on what A sent: B's four fields dropped, CR LF line ends
    wire = rest.replace(b"\n", b"\r\n")
    d = dkim.DKIM(wire)
    for idx in range(2):
        assert d.verify(idx=idx, dnsfunc=dnsfunc_for(net)), "dkimpy rejects signature %d:\n%r" % (idx, wire[:2000])
    # B's verdict
    dk = by_method(results, "dkim")
    assert sorted((r["result"], r["props"].get("header.d"), r["props"].get("header.s")) for r in dk) == \
        [("pass", "a.test", "s1"), ("pass", "a.test", "s2")], raw
    for r in dk:
        assert r["props"].get("header.b") == b_prefix(sigs[r["props"]["header.s"]][1]), raw
    spf = one(results, "spf")
    assert spf["result"] == "pass", raw
    if not data.startswith(b"Return-Path: <>"):
        assert spf["props"].get("smtp.mailfrom") == data.split(b"\n", 1)[0][len("Return-Path: <"):-1].decode(), raw
    dm = one(results, "dmarc")
    assert dm["result"] == "pass" and dm["props"].get("header.from") == expect_from_domain, raw
    return rest


def submit(net, user, rcpts, msg, sender=None):
    with smtplib.SMTP("127.0.0.1", net.sub_port, local_hostname="laptop.test", timeout=30) as s:
        s.login(user, PASSWORD)
        refused_ = s.sendmail(sender or user, rcpts, msg)
        assert refused_ == {}


def test_submission_is_signed_rsa_and_ed25519_and_b_verifies_both(net):
    before = len(net.a.log_lines(r" dkim=signed d=a\.test"))
    # a careless client: no Date, no Message-ID, dots, trailing blanks, tabs,
    # a folded Subject, empty lines at the end
    body = (b"Hi Bob,\r\n.a line with a leading dot\r\n..two\r\ntrailing blanks   \r\n"
            b"\ttab\t and  spaces\r\n\r\n\r\n")
    msg = (b"From: Alice <alice@a.test>\r\nTo: Bob <sig1@b.test>, Ann <ann@a.test>\r\n"
           b"Subject: signed\r\n  and folded\r\n\r\n" + body)
    submit(net, "alice@a.test", ["sig1@b.test", "ann@a.test"], msg)
    data = wait_file(net.b, "sig1")
    rest = check_signed_at_b(net, data)
    assert rest.endswith(body.replace(b"\r\n", b"\n")), rest[-300:]
    signed = net.a.wait_log(r" dkim=signed d=a\.test$", count=before + 1)
    qid = re.search(r"(\S+) dkim=signed", signed[-1]).group(1)
    assert re.search(r"\bid %s\b" % qid, rest.decode(errors="replace")), "A's Received should name %s" % qid
    # the local copy at A carries no signature
    local = wait_file(net.a, "ann", domain="a.test")
    head = local.split(b"\n\n", 1)[0]
    assert b"DKIM-Signature" not in head, head.decode()
    assert b"From: Alice <alice@a.test>" in head


def test_tern_sendmail_is_signed(net):
    p = subprocess.run([TERN_BIN, "sendmail", "-C", str(net.a.conf_path), "-f", "alice@a.test", "sig2@b.test"],
                       input=b"From: alice@a.test\nTo: sig2@b.test\nSubject: via sendmail\n\nfrom a script\n",
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    data = wait_file(net.b, "sig2")
    rest = check_signed_at_b(net, data)
    assert rest.endswith(b"\n\nfrom a script\n"), rest[-200:]
    # the log says so, as for submission
    qid = re.search(r"\bid ([A-Za-z0-9]+)\b", take_fields(rest, 3)[0][2][1])
    assert qid, rest[:800]
    assert net.a.wait_log(r" %s dkim=signed d=a\.test$" % qid.group(1), timeout=2)


def test_from_domain_in_other_case_is_signed(net):
    msg = b"From: Alice <Alice@A.Test>\r\nTo: sig3@b.test\r\nSubject: case\r\n\r\nx\r\n"
    submit(net, "alice@a.test", ["sig3@b.test"], msg)
    data = wait_file(net.b, "sig3")
    check_signed_at_b(net, data)


def test_from_domain_without_key_is_not_signed(net):
    before = len(net.a.log_lines(r" dkim=signed"))
    msg = b"From: dave@plain.test\r\nTo: unsigned@b.test\r\nSubject: no key\r\n\r\nplain\r\n"
    submit(net, "dave@plain.test", ["unsigned@b.test"], msg)
    data = wait_file(net.b, "unsigned")
    raw, results, rest = trace_of(data)
    assert b"DKIM-Signature" not in rest.split(b"\n\n", 1)[0], rest[:600]
    dk = one(results, "dkim")
    assert dk["result"] == "none", raw
    assert one(results, "spf")["result"] == "pass", raw
    assert len(net.a.log_lines(r" dkim=signed")) == before


def test_bounce_from_mailer_daemon_is_signed_with_the_hostnames_domain(net):
    """B refuses a message A forwards (too large for B): A's bounce to the
    remote sender goes through B, signed for a.test (the domain of A's host
    name mx.a.test), and passes DKIM and DMARC there."""
    big = message("Carol <carol@b.test>", "too big for B", to="fwd@a.test",
                  body=(b"y" * 998 + b"\r\n") * 1300)
    reply = send(net.a, "bounce1@b.test", ["fwd@a.test"], big)
    queued_id(reply)
    data = wait_file(net.b, "bounce1", timeout=30)
    assert data.startswith(b"Return-Path: <>\n"), data[:200]
    rest = check_signed_at_b(net, data, expect_from_domain="mx.a.test")
    head = rest.split(b"\n\n", 1)[0].decode(errors="replace")
    assert re.search(r"(?m)^From: .*MAILER-DAEMON@mx\.a\.test", head), head
    _, results, _ = trace_of(data)
    spf = one(results, "spf")
    assert spf["result"] == "pass" and spf["props"].get("smtp.helo") == A_HOST, results
    # the bounce's queue id (A's Received names it) is logged as signed
    dsn = re.search(r" status=bounced .* dsn=(\S+)", "\n".join(net.a.log_lines(r"to=<big@b\.test> status=bounced")))
    assert dsn, net.a.log()
    net.a.wait_log(r" %s dkim=signed d=a\.test$" % dsn.group(1), timeout=2)


# --------------------------------------------------------------------------
# 2. inbound verdicts: SPF

@pytest.mark.parametrize("domain,result", [("pass.test", "pass"), ("sfail.test", "fail"),
                                           ("soft.test", "softfail"), ("nospf.test", "none")])
def test_spf_results(net, domain, result):
    local = "spf-" + domain.split(".")[0]
    sender = "x@%s" % domain
    qid, data, raw, results, rest = delivered_ar(net, local, sender, message(sender, "spf " + result))
    spf = one(results, "spf")
    assert spf["result"] == result, raw
    assert spf["props"].get("smtp.mailfrom") == sender, raw
    assert one(results, "dkim")["result"] == "none", raw
    dm = one(results, "dmarc")
    assert dm["result"] == "none", raw
    log = net.b.wait_log(r" %s auth spf=%s dkim=none dmarc=none from_domain=%s action=accept$"
                         % (qid, result, re.escape(domain)))
    assert len(log) == 1


def test_spf_null_sender_checks_helo(net):
    qid, data, raw, results, rest = delivered_ar(net, "spf-null", "", message("MAILER-DAEMON@helo.test", "dsn"),
                                                 helo="helo.test")
    assert data.startswith(b"Return-Path: <>\n")
    spf = one(results, "spf")
    assert spf["result"] == "pass" and spf["props"].get("smtp.helo") == "helo.test", raw
    assert "smtp.mailfrom" not in spf["props"], raw


# --------------------------------------------------------------------------
# DKIM

def kmsg(subject, extra=()):
    return message("Kay <kay@k.test>", subject, extra=extra)


def dkim_verdict(net, local, msg):
    qid, data, raw, results, rest = delivered_ar(net, local, "kay@k.test", msg)
    assert one(results, "spf")["result"] == "fail", raw
    return raw, results, rest


def test_dkim_pass_rsa_and_ed25519(net):
    msg = kmsg("two signatures")
    signed = dkim_sign(msg, "good", "k.test", net.keys["rsa"][0].read_bytes())
    signed = dkim_sign(signed, "ed", "k.test", ed25519_seed(net.keys["ed"][0]), alg="ed25519")
    raw, results, rest = dkim_verdict(net, "dk-pass", signed)
    dk = by_method(results, "dkim")
    assert sorted((r["result"], r["props"].get("header.d"), r["props"].get("header.s")) for r in dk) == \
        [("pass", "k.test", "ed"), ("pass", "k.test", "good")], raw
    dm = one(results, "dmarc")
    assert dm["result"] == "pass" and dm["props"].get("header.from") == "k.test", raw
    # the message itself is stored as it came, signatures included
    assert rest.replace(b"\n", b"\r\n") == signed


def test_dkim_fail_after_body_change(net):
    signed = dkim_sign(kmsg("body changed"), "good", "k.test", net.keys["rsa"][0].read_bytes())
    tampered = signed.replace(b"Hello.\r\n", b"Hello!\r\n")
    assert tampered != signed
    raw, results, _ = dkim_verdict(net, "dk-body", tampered)
    dk = one(results, "dkim")
    assert dk["result"] == "fail" and dk["props"].get("header.s") == "good", raw
    assert one(results, "dmarc")["result"] == "fail", raw


@pytest.mark.parametrize("where,oversigned,expected", [
    ("above", False, "pass"),    # verifiers take instances from the bottom: the original is still signed
    ("below", False, "fail"),    # the added Subject is the bottom one now
    ("above", True, "fail"),     # h= names subject twice: a second instance breaks it
    ("below", True, "fail"),
    ("unsigned", False, "pass"),  # a field the signature does not cover
])
def test_dkim_added_header_fields(net, where, oversigned, expected):
    headers = [b"from", b"to", b"subject", b"date"] + ([b"subject"] if oversigned else [])
    signed = dkim_sign(kmsg("header %s %s" % (where, oversigned)), "good", "k.test",
                       net.keys["rsa"][0].read_bytes(), headers=headers)
    if where == "above":
        changed = b"Subject: forged above\r\n" + signed
    elif where == "below":
        changed = signed.replace(b"\r\n\r\n", b"\r\nSubject: forged below\r\n\r\n", 1)
    else:
        changed = signed.replace(b"\r\n\r\n", b"\r\nX-Mailing-List: added\r\n\r\n", 1)
    local = "dk-hdr-%s-%s" % (where, "over" if oversigned else "once")
    raw, results, _ = dkim_verdict(net, local, changed)
    assert one(results, "dkim")["result"] == expected, raw
    assert one(results, "dmarc")["result"] == ("pass" if expected == "pass" else "fail"), raw


def test_dkim_key_with_bad_base64_is_permerror(net):
    signed = dkim_sign(kmsg("bad key"), "badb64", "k.test", net.keys["rsa"][0].read_bytes())
    raw, results, _ = dkim_verdict(net, "dk-b64", signed)
    dk = one(results, "dkim")
    assert dk["result"] == "permerror" and dk["props"].get("header.s") == "badb64", raw


def test_dkim_revoked_key(net):
    # RFC 6376 3.6.1: an empty p= is a revoked key; 6.1.2 makes that a
    # PERMFAIL, which Authentication-Results writes as fail or permerror
    signed = dkim_sign(kmsg("revoked"), "revoked", "k.test", net.keys["rsa"][0].read_bytes())
    raw, results, _ = dkim_verdict(net, "dk-revoked", signed)
    dk = one(results, "dkim")
    assert dk["result"] in ("permerror", "fail"), raw
    assert one(results, "dmarc")["result"] == "fail", raw


def test_dkim_rsa_sha1_is_not_pass(net):
    # RFC 8301 3.1: verifiers must not consider rsa-sha1 signatures valid
    signed = dkim_sign(kmsg("sha1"), "good", "k.test", net.keys["rsa"][0].read_bytes(), algo=b"rsa-sha1")
    assert b"a=rsa-sha1" in signed
    raw, results, _ = dkim_verdict(net, "dk-sha1", signed)
    dk = one(results, "dkim")
    assert dk["result"] in ("fail", "permerror", "neutral", "policy"), raw
    assert one(results, "dmarc")["result"] == "fail", raw


def test_dkim_large_key_records(net):
    key = net.keys["rsa"][0].read_bytes()
    # a valid key in a 6 KiB record of 26 strings: the answer needs TCP,
    # the strings must be joined
    signed = dkim_sign(kmsg("6k record"), "mid", "k.test", key)
    raw, results, _ = dkim_verdict(net, "dk-mid", signed)
    dk = one(results, "dkim")
    assert dk["result"] == "pass" and dk["props"].get("header.s") == "mid", raw
    # 16 KiB: past the verifier's bound (DKIM_KEY_RECORD_MAX) a permerror is
    # acceptable, a pass too; never a temporary error, a crash or no result
    signed = dkim_sign(kmsg("16k record"), "big", "k.test", key)
    raw, results, _ = dkim_verdict(net, "dk-big", signed)
    dk = one(results, "dkim")
    assert dk["result"] in ("pass", "permerror") and dk["props"].get("header.s") == "big", raw
    assert net.b.proc.poll() is None


def test_dkim_more_signatures_than_the_bound(net):
    msg = kmsg("ten signatures")
    key = net.keys["rsa"][0].read_bytes()
    signed = msg
    for _ in range(10):
        signed = dkim_sign(signed, "good", "k.test", key)
    assert signed.count(b"DKIM-Signature:") == 10
    raw, results, rest = dkim_verdict(net, "dk-ten", signed)
    dk = by_method(results, "dkim")
    assert 1 <= len(dk) <= 8, raw
    assert all(r["result"] == "pass" and r["props"].get("header.s") == "good" for r in dk), raw
    assert one(results, "dmarc")["result"] == "pass", raw
    assert rest.replace(b"\n", b"\r\n") == signed
    # and the server is still there
    assert net.b.proc.poll() is None


# --------------------------------------------------------------------------
# DMARC

def test_dmarc_relaxed_alignment_with_subdomain(net):
    msg = message("News <a@news.a.test>", "relaxed")
    signed = dkim_sign(msg, "s1", "a.test", net.keys["rsa"][0].read_bytes())
    qid, data, raw, results, _ = delivered_ar(net, "dm-relaxed", "alice@a.test", signed)
    assert one(results, "spf")["result"] == "pass", raw
    dk = one(results, "dkim")
    assert dk["result"] == "pass" and dk["props"].get("header.d") == "a.test", raw
    dm = one(results, "dmarc")
    assert dm["result"] == "pass" and dm["props"].get("header.from") == "news.a.test", raw
    assert dm["comment"] and re.match(r"^p=reject dis=none$", dm["comment"]), raw


def test_dmarc_strict_alignment(net):
    key = net.keys["rsa"][0].read_bytes()
    # the exact domain passes ...
    signed = dkim_sign(message("a@st.test", "strict exact"), "s1", "st.test", key)
    _, _, raw, results, _ = delivered_ar(net, "dm-strict-ok", "x@st.test", signed)
    assert one(results, "dmarc")["result"] == "pass", raw
    # ... a subdomain does not (adkim=s aspf=s), and p=quarantine sends it to Junk
    signed = dkim_sign(message("a@news.st.test", "strict sub"), "s1", "st.test", key)
    _, data, raw, results, _ = delivered_ar(net, "dm-strict", "x@st.test", signed, folder="Junk")
    assert one(results, "spf")["result"] == "pass", raw
    assert one(results, "dkim")["result"] == "pass", raw
    dm = one(results, "dmarc")
    assert dm["result"] == "fail" and dm["props"].get("header.from") == "news.st.test", raw


def test_dmarc_sp_applies_to_subdomains(net):
    # sp.test: p=none; sp=reject
    reply = inbound(net, "dm-sp-sub", "x@sub.sp.test", message("x@sub.sp.test", "subdomain"))
    refused(reply, 550, "5.7.1")
    assert_nothing_delivered(net.b, "dm-sp-sub")
    log = net.b.wait_log(r" auth spf=none dkim=none dmarc=fail from_domain=sub\.sp\.test action=refuse$")
    assert len(log) == 1
    _, _, raw, results, _ = delivered_ar(net, "dm-sp-org", "x@sp.test", message("x@sp.test", "org domain"))
    dm = one(results, "dmarc")
    assert dm["result"] == "fail" and dm["comment"] == "p=none dis=none", raw


def test_dmarc_p_none_delivers(net):
    qid, _, raw, results, _ = delivered_ar(net, "dm-none", "x@none.test", message("x@none.test", "p none"))
    assert one(results, "spf")["result"] == "fail", raw
    dm = one(results, "dmarc")
    assert dm["result"] == "fail" and dm["props"].get("header.from") == "none.test", raw
    net.b.wait_log(r" %s auth spf=fail dkim=none dmarc=fail from_domain=none\.test action=accept$" % qid)


def check_junk(net, local, data):
    box = net.b.maildir("b.test", local)
    assert (box / ".Junk" / "maildirfolder").is_file(), "no maildirfolder in %s" % (box / ".Junk")
    assert not folder_files(net.b, local), "also in INBOX"
    assert data.startswith(b"Return-Path: ")


def test_dmarc_quarantine_goes_to_junk(net):
    qid = queued_id(send(net.b, "x@q.test", ["dm-quar@b.test", "dm-quar2@b.test"],
                         message("x@q.test", "quarantine")))
    for local in ("dm-quar2", "dm-quar"):
        data = wait_file(net.b, local, "Junk")
        check_junk(net, local, data)
        raw, results, _ = trace_of(data)
        assert ("Delivered-To: %s@b.test" % local).encode() in data.split(b"\n", 2)[1]
    dm = one(results, "dmarc")
    assert dm["result"] == "fail" and dm["comment"] == "p=quarantine dis=quarantine", raw
    net.b.wait_log(r" %s auth spf=fail dkim=none dmarc=fail from_domain=q\.test action=junk$" % qid)


def test_dmarc_reject_is_refused(net):
    reply = inbound(net, "dm-reject", "x@r.test", message("x@r.test", "reject"))
    refused(reply, 550, "5.7.1")
    assert_nothing_delivered(net.b, "dm-reject")
    net.b.wait_log(r" auth spf=fail dkim=none dmarc=fail from_domain=r\.test action=refuse$")


def test_dmarc_from_domain_is_case_insensitive_and_not_fooled_by_display_names(net):
    # upper case: still r.test's p=reject
    reply = inbound(net, "dm-upper", "x@r.test", message("X <X@R.TEST>", "upper"))
    refused(reply, 550, "5.7.1")
    assert_nothing_delivered(net.b, "dm-upper")
    # an address-like display name and a comment: the domain is nospf.test's
    msg = message('"boss@r.test" <x@nospf.test> (r.test)', "display name")
    qid, _, raw, results, _ = delivered_ar(net, "dm-display", "x@nospf.test", msg)
    dm = one(results, "dmarc")
    assert dm["result"] == "none", raw
    net.b.wait_log(r" %s auth spf=none dkim=none dmarc=none from_domain=nospf\.test action=accept$" % qid)


def test_dmarc_pct0_reject_becomes_quarantine(net):
    # RFC 7489 6.6.4: a message not sampled gets the next policy down
    qid, data, raw, results, _ = delivered_ar(net, "dm-pct0", "x@pct0.test", message("x@pct0.test", "pct=0"),
                                              folder="Junk")
    check_junk(net, "dm-pct0", data)
    dm = one(results, "dmarc")
    assert dm["result"] == "fail", raw
    net.b.wait_log(r" %s auth spf=fail dkim=none dmarc=fail from_domain=pct0\.test action=junk$" % qid)


def test_dmarc_missing_from(net):
    qid, _, raw, results, _ = delivered_ar(net, "dm-nofrom", "x@r.test", message(None, "no from"))
    dm = one(results, "dmarc")
    assert dm["result"] == "none", raw
    assert "header.from" not in dm["props"], raw
    net.b.wait_log(r" %s auth spf=fail dkim=none dmarc=none from_domain=- action=accept$" % qid)


def test_dmarc_several_from_fields_or_domains_refused(net):
    two_fields = message("x@pass.test", "two from fields", extra=["From: y@r.test"])
    refused(inbound(net, "dm-2from", "x@pass.test", two_fields), 550, "5.7.1")
    assert_nothing_delivered(net.b, "dm-2from")
    two_domains = message("x@pass.test, y@nospf.test", "two from domains")
    refused(inbound(net, "dm-2dom", "x@pass.test", two_domains), 550, "5.7.1")
    assert_nothing_delivered(net.b, "dm-2dom")
    # two authors of one domain: one domain to judge
    same = message("x@pass.test, y@pass.test", "two authors", extra=["Sender: x@pass.test"])
    _, _, raw, results, _ = delivered_ar(net, "dm-2same", "x@pass.test", same)
    assert one(results, "dmarc")["result"] == "none", raw


def test_dmarc_policy_servfail_is_451(net):
    asked = net.servfail.questions
    start = time.monotonic()
    reply = inbound(net, "dm-servfail", "x@tf.test", message("x@tf.test", "servfail"))
    took = time.monotonic() - start
    refused(reply, 451, "4.7.1")
    assert net.servfail.questions > asked, "the policy question never reached the SERVFAIL server"
    assert took < 30, took
    assert_nothing_delivered(net.b, "dm-servfail")
    net.b.wait_log(r" auth spf=fail dkim=none dmarc=temperror from_domain=tf\.test action=refuse$")


def test_dkim_key_servfail_with_p_reject_is_451(net):
    signed = dkim_sign(message("x@tk.test", "key servfail"), "sel", "tk.test", net.keys["rsa"][0].read_bytes())
    reply = inbound(net, "dm-keyfail", "x@tk.test", signed)
    refused(reply, 451, "4.7.1")
    assert_nothing_delivered(net.b, "dm-keyfail")
    net.b.wait_log(r" auth spf=fail dkim=temperror dmarc=temperror from_domain=tk\.test action=refuse$")


# --------------------------------------------------------------------------
# forged Authentication-Results

FORGED = [
    b"Authentication-Results: mx.b.test; dkim=pass header.d=evil.test",
    b"authentication-results: MX.B.TEST; spf=pass smtp.mailfrom=x@evil.test",
    b'Authentication-Results: "mx.b.test"; dmarc=pass header.from=evil.test',
    b"Authentication-Results:\r\n\tmx.b.test;\r\n\tdkim=pass\r\n header.d=evil.test",
    b"AUTHENTICATION-RESULTS: mx.b.test 1; dkim=pass",
    b"Authentication-Results: (made up) mx.b.test; dkim=pass",
    b"Authentication-Results:mx.b.test;dkim=pass",
    b"Authentication-Results: mx.b.test; none",
]
KEPT = [
    b"Authentication-Results: mx.other.test; dkim=pass header.d=other.test",
    b"Authentication-Results: mx.b.test.evil.test; dkim=pass",
    b"Authentication-Results: b.test; spf=pass smtp.mailfrom=x@b.test",
]


def test_forged_authentication_results_removed_others_kept(net):
    head = [FORGED[0], b"From: x@pass.test", KEPT[0], FORGED[1], FORGED[2], b"To: someone@b.test",
            FORGED[3], KEPT[1], b"Subject: forged results", FORGED[4], FORGED[5], KEPT[2], FORGED[6],
            b"Date: Mon, 07 Dec 2026 10:00:00 +0000", FORGED[7]]
    body = b"Authentication-Results: mx.b.test; dkim=pass\r\nthat line is body text and stays\r\n"
    msg = b"\r\n".join(head) + b"\r\n\r\n" + body
    _, data, raw, results, rest = delivered_ar(net, "ar-forged", "x@pass.test", msg)
    assert one(results, "spf")["result"] == "pass", raw
    expected = b"\r\n".join(h for h in head if h not in FORGED) + b"\r\n\r\n" + body
    assert rest == expected.replace(b"\r\n", b"\n"), "expected only the forged fields removed:\n%s\n---\n%s" % (
        rest.decode(errors="replace"), expected.decode(errors="replace"))


def test_inbound_auth_off_adds_nothing(net):
    msg = message("x@r.test", "auth off")
    qid = queued_id(send(net.off, "x@r.test", ["ar-off@b.test"], msg))
    data = wait_file(net.off, "ar-off")
    fields, rest = take_fields(data, 3)
    assert [f[0] for f in fields] == ["Return-Path", "Delivered-To", "Received"], fields
    assert b"authentication-results" not in data.lower(), data[:800]
    assert rest == msg.replace(b"\r\n", b"\n")
    assert not net.off.log_lines(r" %s auth " % qid), net.off.log()


def test_dmarc_policy_report_delivers_a_reject_failure(net):
    msg = message("x@r.test", "report mode")
    qid, data, raw, results, _ = delivered_ar(net, "ar-report", "x@r.test", msg, srv=net.report)
    assert one(results, "spf")["result"] == "fail", raw
    dm = one(results, "dmarc")
    assert dm["result"] == "fail" and dm["props"].get("header.from") == "r.test", raw
    assert not folder_files(net.report, "ar-report", "Junk")
    net.report.wait_log(r" %s auth spf=fail dkim=none dmarc=fail from_domain=r\.test action=accept$" % qid)
    # quarantine, an undecidable policy and two From: fields: recorded, delivered to INBOX
    for local, sender, msg, result in [
            ("ar-report-q", "x@q.test", message("x@q.test", "report q"), "fail"),
            ("ar-report-tf", "x@tf.test", message("x@tf.test", "report servfail"), "temperror"),
            ("ar-report-2from", "x@pass.test", message("x@pass.test", "report two", extra=["From: y@r.test"]),
             "permerror")]:
        _, _, raw, results, _ = delivered_ar(net, local, sender, msg, srv=net.report)
        assert one(results, "dmarc")["result"] == result, raw
        assert not folder_files(net.report, local, "Junk")


def send_bdat(srv, mail_from, rcpt, msg, chunk):
    """One transaction in BDAT chunks of `chunk` octets; the last reply."""
    with srv.session("client.test") as w:
        expect(w.cmd("MAIL FROM:<%s>" % mail_from), r"^250 ")
        expect(w.cmd("RCPT TO:<%s>" % rcpt), r"^250 ")
        pieces = [msg[i:i + chunk] for i in range(0, len(msg), chunk)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            w.send(b"BDAT %d%s\r\n" % (len(piece), b" LAST" if last else b"") + piece)
            reply = w.read_reply()
            if not last:
                expect(reply, r"^250 ")
        w.cmd("QUIT")
    return reply


def test_forged_results_and_signature_across_tiny_bdat_chunks(net):
    """The same hostile header section, signed by k.test, sent in BDAT
    chunks of 3 octets: every field name and CR LF is split somewhere."""
    head = [FORGED[3], b"From: Kay <kay@k.test>", FORGED[1], b"To: someone@b.test", KEPT[0],
            b"Subject: chunks", b"Date: Mon, 07 Dec 2026 10:00:00 +0000", FORGED[6]]
    body = b"Authentication-Results: mx.b.test; dkim=pass\r\nbody\r\n"
    msg = b"\r\n".join(head) + b"\r\n\r\n" + body
    signed = dkim_sign(msg, "good", "k.test", net.keys["rsa"][0].read_bytes())
    qid = queued_id(send_bdat(net.b, "kay@k.test", "ar-bdat@b.test", signed, 3))
    data = wait_file(net.b, "ar-bdat")
    raw, results, rest = trace_of(data)
    dk = one(results, "dkim")
    assert dk["result"] == "pass" and dk["props"].get("header.s") == "good", raw
    assert one(results, "dmarc")["result"] == "pass", raw
    sig_end = signed.index(msg)
    expected = signed[:sig_end] + b"\r\n".join(h for h in head if h not in FORGED) + b"\r\n\r\n" + body
    assert rest == expected.replace(b"\r\n", b"\n"), rest.decode(errors="replace")
    net.b.wait_log(r" %s auth spf=fail dkim=pass dmarc=pass from_domain=k\.test action=accept$" % qid)
