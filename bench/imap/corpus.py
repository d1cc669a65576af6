"""bench/imap/corpus.py: the test Maildir of bench/imap, built once per run.

build(root, count, seed) writes COUNT messages into the Maildir ROOT the way a
delivery agent does: each file is written in tmp/, flushed at the end (one
fsync of the directories, not one per file: the figures measured are the
readers', not the writer's), then renamed into new/ (unseen mail) or into
cur/ with an info suffix ":2,FLAGS" (mail a client has already seen). File
names follow tern's own delivery (TIME.MUSECPPID_N.HOST, no ",S=" size), and
each file's mtime is its delivery time, spread over a year.

The messages are made up from a synthetic vocabulary (pronounceable nonsense
from a fixed seed), so nothing here is anyone's text: plain text of 1-6 KiB,
about a quarter multipart/alternative (text and HTML), about a tenth
multipart/mixed with a small base64 attachment, some with an encoded-word
subject, a Cc, or In-Reply-To. The word RARE_WORD appears in exactly
RARE_COUNT messages (the target of UID SEARCH TEXT): in the body of all but
one, in the Subject of the last.

Line endings are LF, as Maildir stores them; IMAP servers report sizes with
CR LF, so RFC822.SIZE is the file size plus one octet per line.
"""

import base64
import os
import random
import time

RARE_WORD = "quillwortzemb"
RARE_COUNT = 5
HOST = "bench.imap.test"

_SYL = ["ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "ri", "so",
        "tu", "va", "we", "xi", "yo", "zu", "bra", "cle", "dri", "fro", "glu", "pla", "sti",
        "tro", "an", "el", "in", "on", "ur", "est", "ing", "ost", "ald", "ern"]


def _vocabulary(rng, n=4000):
    words = set()
    while len(words) < n:
        w = "".join(rng.choice(_SYL) for _ in range(rng.randint(1, 4)))
        if RARE_WORD[:6] not in w:
            words.add(w)
    words = sorted(words)
    rng.shuffle(words)
    return words


def _sentence(rng, vocab):
    # Zipf-like choice: a few words are common, most are rare.
    ws = [vocab[min(int((rng.paretovariate(1.0) - 1) * 30), len(vocab) - 1)] if rng.random() < 0.7
          else rng.choice(vocab) for _ in range(rng.randint(4, 16))]
    ws[0] = ws[0].capitalize()
    return " ".join(ws) + rng.choice([".", ".", ".", "?", "!"])


def _paragraphs(rng, vocab, size):
    out, n = [], 0
    while n < size:
        line, para = "", []
        for _ in range(rng.randint(2, 7)):
            s = _sentence(rng, vocab)
            if line and len(line) + len(s) + 1 > 72:
                para.append(line)
                n += len(line) + 1
                line = s
            else:
                line = (line + " " + s).strip()
        para.append(line)
        n += len(line) + 2
        out.append("\n".join(para))
    return "\n\n".join(out)


def _person(rng, vocab):
    first, last = rng.choice(vocab).capitalize(), rng.choice(vocab).capitalize()
    dom = rng.choice(["example.org", "example.net", "example.com", "lists.example.org"])
    addr = f"{first.lower()}.{last.lower()}@{dom}"
    r = rng.random()
    if r < 0.5:
        return f"{first} {last} <{addr}>"
    if r < 0.6:
        return f"\"{last}, {first}\" <{addr}>"
    return addr


def _message(rng, vocab, i, when, rare):
    subj = " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 8))).capitalize()
    if rare == "subject":
        subj += " " + RARE_WORD
    if rng.random() < 0.08 and rare != "subject":
        subj = "=?UTF-8?B?" + base64.b64encode(("R\u00e9: " + subj + " \u2014 ok").encode()).decode() + "?="
    elif rng.random() < 0.3:
        subj = "Re: " + subj
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
    h = [f"Return-Path: <sender{i % 97}@example.org>",
         f"Received: from mx{i % 7}.example.org (mx{i % 7}.example.org [192.0.2.{i % 250 + 1}])\n"
         f"\tby {HOST} with ESMTPS id B{i:08d}; {date}",
         f"From: {_person(rng, vocab)}",
         "To: Bob <bob@example.test>"]
    if rng.random() < 0.3:
        h.append("Cc: " + ", ".join(_person(rng, vocab) for _ in range(rng.randint(1, 3))))
    h += [f"Subject: {subj}", f"Date: {date}", f"Message-ID: <{i}.{int(when)}@example.org>"]
    if rng.random() < 0.3:
        h.append(f"In-Reply-To: <{max(i - rng.randint(1, 50), 0)}.{int(when) - 3600}@example.org>")
    body = _paragraphs(rng, vocab, rng.randint(1000, 6000))
    if rare == "body":
        cut = body.find("\n\n", len(body) // 2)
        cut = cut if cut > 0 else len(body)
        body = body[:cut] + f"\n\nAbout the {RARE_WORD} again." + body[cut:]
    kind = rng.random()
    h.append("MIME-Version: 1.0")
    if kind < 0.65:
        h.append("Content-Type: text/plain; charset=utf-8")
        return "\n".join(h) + "\n\n" + body + "\n"
    b = f"=_b{i}_{rng.randint(0, 1 << 30):x}"
    if kind < 0.9:
        html = "<html><body>" + "".join(f"<p>{p}</p>\n" for p in body.split("\n\n")) + "</body></html>"
        h.append(f"Content-Type: multipart/alternative; boundary=\"{b}\"")
        return ("\n".join(h) + f"\n\nThis is a multi-part message in MIME format.\n\n--{b}\n"
                "Content-Type: text/plain; charset=utf-8\n\n" + body + f"\n--{b}\n"
                "Content-Type: text/html; charset=utf-8\n\n" + html + f"\n--{b}--\n")
    blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(600, 3000)))
    enc = base64.encodebytes(blob).decode()
    name = rng.choice(vocab) + rng.choice([".pdf", ".png", ".zip"])
    h.append(f"Content-Type: multipart/mixed; boundary=\"{b}\"")
    return ("\n".join(h) + f"\n\n--{b}\nContent-Type: text/plain; charset=utf-8\n\n" + body +
            f"\n--{b}\nContent-Type: application/octet-stream; name=\"{name}\"\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\n"
            "Content-Transfer-Encoding: base64\n\n" + enc + f"--{b}--\n")


def make_name(when, usec, seq):
    return f"{int(when)}.M{usec}P{os.getpid()}_{seq}.{HOST}"


def build(root, count=10000, seed=20261203):
    """Write the Maildir at root (created). Returns a dict: messages, octets
    on disk, octets as IMAP counts them (CR LF), the UIDs-to-be of the rare
    word are unknown here, so its message count."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    rare = set(rng.sample(range(count), RARE_COUNT))
    rare_last = max(rare)
    start = time.time() - 365 * 86400
    step = 365 * 86400 / count
    octets = crlf = 0
    for i in range(count):
        when = start + i * step + rng.random() * step
        kind = "subject" if i == rare_last else ("body" if i in rare else None)
        text = _message(rng, vocab, i, when, kind).encode()
        name = make_name(when, rng.randint(0, 999999), i)
        tmp = os.path.join(root, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(text)
        os.utime(tmp, (when, when))
        if i >= count - count // 10 or rng.random() < 0.15:
            final = os.path.join(root, "new", name)          # unseen
        else:
            flags = rng.choice(["S", "S", "S", "RS", "FS", ""])
            final = os.path.join(root, "cur", name + ":2," + flags)
        os.rename(tmp, final)
        octets += len(text)
        crlf += len(text) + text.count(b"\n")
    for d in ("new", "cur"):
        fd = os.open(os.path.join(root, d), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return dict(messages=count, octets=octets, imap_octets=crlf, rare=RARE_COUNT)


def deliver(root, seq, size=3000):
    """One new message into the Maildir root as a delivery agent writes it
    (tmp/, fsync, rename into new/). Returns (the time just before the rename,
    from time.monotonic) and the final path."""
    rng = random.Random(seq)
    vocab = _vocabulary(random.Random(1), 300)
    now = time.time()
    text = _message(rng, vocab, 900000 + seq, now, None).encode()
    name = make_name(now, int((now % 1) * 1e6), 900000 + seq)
    tmp = os.path.join(root, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    final = os.path.join(root, "new", name)
    t0 = time.monotonic()
    os.rename(tmp, final)
    return t0, final
