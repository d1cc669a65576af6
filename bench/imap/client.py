"""bench/imap/client.py: the small IMAP client of bench/imap.

Socket level on purpose: the timed part of a command is one sendall() and a
loop of recv() calls into one buffer until the tagged reply has arrived, with
no per-line parsing (imaplib would cost more than some servers). What the
reply holds is checked afterwards, outside the timing (see fetch_summary).

The tagged reply is found by its tag at the start of a line: tags are unique
per connection ("t1", "t2", ...) and "\\r\\nt7 " never occurs in the test
messages, so no literal can fake it. Only 127.0.0.1.
"""

import asyncio
import re
import socket
import time


class ImapError(Exception):
    pass


class Imap:
    """One blocking IMAP connection."""

    def __init__(self, port, timeout=120.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.n = 0
        self.buf = bytearray()
        self.greeting = self._line()
        if not self.greeting.startswith(b"* OK"):
            raise ImapError(f"greeting {self.greeting[:100]!r}")

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ImapError("connection closed")
            self.buf += chunk

    def send(self, text):
        """Send a command; returns its tag."""
        self.n += 1
        tag = b"t%d" % self.n
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        return tag

    def wait(self, tag):
        """Everything up to and including the tagged reply to tag: (the
        untagged part, the tagged line). Raises unless it is OK."""
        buf = self.buf
        pat = b"\r\n" + tag + b" "
        pos = 0
        end = -1
        sock = self.sock
        while True:
            if end < 0:
                if buf.startswith(tag + b" "):
                    end = 0
                else:
                    end = buf.find(pat, max(pos - len(pat), 0))
                    if end >= 0:
                        end += 2
            if end >= 0:
                eol = buf.find(b"\r\n", end)
                if eol >= 0:
                    break
            pos = len(buf)
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ImapError("connection closed")
            buf += chunk
        body = bytes(buf[:end])
        tagged = bytes(buf[end:eol])
        del buf[:eol + 2]
        if not tagged[len(tag) + 1:].startswith(b"OK"):
            raise ImapError(f"{tagged[:200]!r}")
        return body, tagged

    def cmd(self, text):
        return self.wait(self.send(text))

    def timed(self, text):
        """(seconds from sending to the whole tagged reply, untagged, tagged)."""
        t0 = time.perf_counter()
        body, tagged = self.cmd(text)
        return time.perf_counter() - t0, body, tagged

    def login(self, user, password):
        return self.cmd(f'LOGIN "{user}" "{password}"')

    def close(self):
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
            self.sock.settimeout(2)
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.close()


_FETCH = re.compile(rb"^\* (\d+) FETCH \(", re.M)
_UID = re.compile(rb"[( ]UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_ENV = re.compile(rb"ENVELOPE \(")


def fetch_summary(body):
    """Counts from the untagged part of FETCH 1:* (UID FLAGS RFC822.SIZE
    ENVELOPE): responses, distinct UIDs, the sum of RFC822.SIZE, envelopes."""
    return dict(responses=len(_FETCH.findall(body)),
                uids=len(set(_UID.findall(body))),
                octets=sum(int(x) for x in _SIZE.findall(body)),
                envelopes=len(_ENV.findall(body)))


def search_uids(body):
    for line in body.split(b"\r\n"):
        if line.startswith(b"* SEARCH"):
            return [int(x) for x in line.split()[2:]]
    return []


def exists_of(body):
    m = re.search(rb"^\* (\d+) EXISTS", body, re.M)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- IDLE sessions

class IdleSession:
    """One asyncio connection: LOGIN, SELECT INBOX, IDLE; then it waits for
    untagged EXISTS lines and notes when each arrived."""

    def __init__(self, i):
        self.i = i
        self.reader = self.writer = None
        self.exists = None
        self.seen = {}          # EXISTS count -> time.monotonic() of arrival

    async def _until_tagged(self, tag):
        lines = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise ImapError(f"session {self.i}: {line[:200]!r}")
                return lines
            lines.append(line)
            if line.endswith(b"}\r\n"):       # a literal: read it whole
                n = int(line[line.rindex(b"{") + 1:-3].rstrip(b"+"))
                await self.reader.readexactly(n)

    async def open(self, port, user, password):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        g = await self.reader.readuntil(b"\r\n")
        if not g.startswith(b"* OK"):
            raise ImapError(f"session {self.i}: greeting {g[:100]!r}")
        self.writer.write(f'a LOGIN "{user}" "{password}"\r\n'.encode())
        await self._until_tagged(b"a")
        self.writer.write(b"b SELECT INBOX\r\n")
        for line in await self._until_tagged(b"b"):
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                self.exists = int(m.group(1))
        self.writer.write(b"c IDLE\r\n")
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line.startswith(b"+"):
                return
            if line.startswith(b"c "):
                raise ImapError(f"session {self.i}: IDLE refused: {line[:200]!r}")

    async def listen(self):
        """Note every EXISTS until the connection ends or the task is cancelled."""
        while True:
            line = await self.reader.readuntil(b"\r\n")
            t = time.monotonic()
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                self.seen.setdefault(int(m.group(1)), t)

    def close(self):
        if self.writer:
            try:
                self.writer.close()
            except Exception:
                pass
