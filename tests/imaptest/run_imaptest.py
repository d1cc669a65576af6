#!/usr/bin/env python3
"""Run Dovecot's imaptest scripted compliance tests against tern's IMAP server.

    tests/imaptest/run_imaptest.py --src DIR [--tern build/tern] [--keep]

DIR is an imaptest checkout (https://github.com/dovecot/imaptest). imaptest
is not part of tern and none of its code lives here: this driver builds it in
DIR when DIR/src/imaptest is missing (against Debian's dovecot-dev, Dovecot
2.3; see bench/RESULTS.md for the commit that builds), starts `tern serve` on
a temporary data-dir with an imap listener on a free loopback port and two
users, runs imaptest's scripted tests (`test=DIR/src/tests`), prints
imaptest's report and a summary (skipped, failed and passed groups), and
stops the server.

A script that declares a capability tern does not announce is skipped by
imaptest itself ("skipped" below); NOT_APPLICABLE is for scripts whose needs
are not declared. The exit status is 0 when every applicable group passed."""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DOMAIN = "example.test"
USERS = ("tester@" + DOMAIN, "tester2@" + DOMAIN)
PASSWORD = "imaptest-secret"

# Groups whose script does not state the capability it depends on, with why.
NOT_APPLICABLE = {}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_imaptest(src):
    """Build DIR/src/imaptest unless it is there. Debian 12 ships Dovecot 2.3,
    whose imap_parser_create() takes a fourth argument (parser params) that
    imaptest's 2.3-era sources do not pass; add NULL for it."""
    binary = os.path.join(src, "src", "imaptest")
    if os.access(binary, os.X_OK):
        return binary
    hdr = "/usr/include/dovecot/imap-parser.h"
    if os.path.exists(hdr) and "imap_parser_params" in open(hdr).read():
        for name in ("commands.c", "imap-client.c", "test-parser.c"):
            path = os.path.join(src, "src", name)
            if not os.path.exists(path):
                continue
            text = open(path).read()
            fixed = re.sub(r"imap_parser_create\(([^;]*?), \(size_t\)-1\);",
                           r"imap_parser_create(\1, (size_t)-1, NULL);", text)
            if fixed != text:
                open(path, "w").write(fixed)
    steps = []
    if not os.path.exists(os.path.join(src, "configure")):
        steps.append(["./autogen.sh"])
    if not os.path.exists(os.path.join(src, "Makefile")):
        steps.append(["./configure", "--with-dovecot=/usr/lib/dovecot"])
    steps.append(["make", "-j%d" % (os.cpu_count() or 2)])
    for cmd in steps:
        print("imaptest build: %s" % " ".join(cmd), flush=True)
        r = subprocess.run(cmd, cwd=src, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            sys.stdout.write(r.stdout.decode(errors="replace")[-4000:])
            sys.exit("imaptest build failed at: %s" % " ".join(cmd))
    return binary


def password_hash():
    out = subprocess.run(["openssl", "passwd", "-6", PASSWORD], check=True,
                         stdout=subprocess.PIPE)
    return out.stdout.decode().strip()


class Tern:
    def __init__(self, binary, workdir):
        self.binary, self.workdir = binary, workdir
        self.port = None
        self.proc = None
        self.log_path = os.path.join(workdir, "tern.log")

    def start(self):
        users = os.path.join(self.workdir, "users")
        pw = password_hash()
        with open(users, "w") as f:
            f.writelines("%s:%s\n" % (u, pw) for u in USERS)
        for _ in range(3):       # a picked port can be taken meanwhile
            self.port, smtp_port = free_port(), free_port()
            conf = os.path.join(self.workdir, "tern.conf")
            with open(conf, "w") as f:
                f.write("# written by tests/imaptest/run_imaptest.py\n"
                        "hostname mx.%s\n"
                        "data-dir %s\n"
                        "domain %s\n"
                        "users %s\n"
                        "max-message-size 50M\n"
                        "listen 127.0.0.1:%d smtp\n"
                        "listen 127.0.0.1:%d imap\n"
                        % (DOMAIN, os.path.join(self.workdir, "data"), DOMAIN, users,
                           smtp_port, self.port))
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([self.binary, "serve", "-c", conf],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.workdir)
            log.close()
            if self.wait_ready():
                return
            self.stop()
            if "in use" not in open(self.log_path, errors="replace").read().lower():
                break
        sys.exit("tern serve did not come up; log:\n" + open(self.log_path, errors="replace").read())

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    if s.recv(4096).startswith(b"* OK"):
                        s.sendall(b"a LOGOUT\r\n")
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def announced_capabilities(port):
    """What tern announces after LOGIN (imaptest compares a script's
    `capabilities:` header with this list and skips the script when one
    is missing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()
        f.write(b'a LOGIN "%s" "%s"\r\nb CAPABILITY\r\nc LOGOUT\r\n'
                % (USERS[0].encode(), PASSWORD.encode()))
        f.flush()
        caps = set()
        for line in f:
            if line.upper().startswith(b"* CAPABILITY "):
                caps = {c.upper() for c in line.decode().split()[2:]}
            if line.startswith(b"c "):
                break
        return caps


def script_needs(path):
    """The capabilities a test script declares in its header (the lines
    before the first blank one)."""
    needs = []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if key.strip().lower() == "capabilities":
                needs.extend(value.upper().split())
    return needs


def parse_results(text):
    """imaptest prints, per test file, failures as `*** Test NAME command N/M
    (line L)` and ends with `N test groups: F failed, S skipped due to missing
    capabilities` and `base protocol: ...` lines."""
    failed = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"\*\*\* Test (\S+) command (\d+)/(\d+) \(line (\d+)\)", line)
        if m:
            cur = m.group(1)
            failed.setdefault(cur, []).append(line)
            continue
        if cur and line.startswith(" - "):
            failed[cur].append(line)
        elif line.startswith("*** "):
            cur = None
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, help="an imaptest checkout")
    ap.add_argument("--tern", default="build/tern", help="the tern binary")
    ap.add_argument("--test", help="one test file instead of the whole directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--rawlog", action="store_true", help="have imaptest write rawlogs")
    args = ap.parse_args()

    src = os.path.abspath(args.src)
    imaptest = build_imaptest(src)
    tests = os.path.abspath(args.test or os.path.join(src, "src", "tests"))
    workdir = tempfile.mkdtemp(prefix="tern-imaptest-")
    tern = Tern(os.path.abspath(args.tern), workdir)
    tern.start()
    try:
        caps = announced_capabilities(tern.port)
        cmd = [imaptest, "host=127.0.0.1", "port=%d" % tern.port,
               "user=" + USERS[0], "user2=" + USERS[1], "pass=" + PASSWORD,
               "test=" + tests]
        if args.rawlog:
            cmd.append("rawlog")
        print("running: %s" % " ".join(cmd), flush=True)
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = "/usr/lib/dovecot" + (":" + env["LD_LIBRARY_PATH"]
                                                      if env.get("LD_LIBRARY_PATH") else "")
        r = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=1800)
        out = r.stdout.decode(errors="replace")
    finally:
        tern.stop()
    sys.stdout.write(out)
    failed = parse_results(out)
    if os.path.isdir(tests):
        paths = {n: os.path.join(tests, n) for n in os.listdir(tests)
                 if not n.startswith(".") and not n.endswith(".mbox")
                 and os.path.isfile(os.path.join(tests, n))}
    else:
        paths = {os.path.basename(tests): tests}
    # imaptest 2.3 does not count the scripts it skips; work them out here
    skipped = {}
    for n, path in paths.items():
        missing = [c for c in script_needs(path) if c not in caps]
        if missing:
            skipped[n] = missing
    m = re.search(r"(\d+) test groups: (\d+) failed, (\d+) skipped", out)
    print("\n==== tern imaptest summary ====")
    bad = sorted(n for n in failed if n not in NOT_APPLICABLE)
    for n in sorted(skipped):
        print("skipped (needs %s): %s" % (" ".join(skipped[n]), n))
    for n, why in sorted(NOT_APPLICABLE.items()):
        print("not applicable: %s (%s)" % (n, why))
    for n in sorted(failed):
        print("%s: %s" % ("FAILED" if n in bad else "failed, not applicable", n))
    passed = [n for n in paths if n not in failed and n not in skipped and n not in NOT_APPLICABLE]
    print("passed: %s" % " ".join(sorted(passed)))
    if not m:
        print("imaptest did not finish (status %d)" % r.returncode)
    print("groups: %d; passed %d, failed %d, skipped %d, not applicable %d"
          % (len(paths), len(passed), len(bad), len(skipped),
             len([n for n in NOT_APPLICABLE if n in paths and n not in skipped])))
    print("server log: %s" % tern.log_path if args.keep else "", end="")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print()
    return 0 if not bad and r.returncode == 0 and m else 1


if __name__ == "__main__":
    sys.exit(main())
