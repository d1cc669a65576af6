"""bench/imap/servers.py: the two IMAP servers of bench/imap, each private.

Tern      build/tern serve (a copy in the temp dir) on its own config: an smtp
          and an imap listener on free loopback ports, the users file with
          bob@example.test, bob's Maildir at DATA/mail/example.test/bob/.
Dovecot   a private Dovecot 2.3 daemon, `dovecot -c CONF`, with base_dir,
          state_dir and log in the temp dir, imap only on 127.0.0.1:PORT,
          no TLS, a static passdb (one password) and a static userdb: every
          login is uid/gid 65534 (nobody; Dovecot refuses mail access as
          root) with mail_location = maildir:COPY. The settings a Dovecot
          admin changes to hold 1,000 IDLE sessions are set (see CONF_IDLE).

Every process is found by its pid (tern's Popen; Dovecot's master.pid and its
process tree) and stopped by pid; nothing is ever killed by name.
"""

import os
import signal
import socket
import subprocess
import time

USER = "bob@example.test"
PASSWORD = "bench-imap-pw"
NOBODY = 65534
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _ppid_map():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
                out[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    return out


def tree_pids(root):
    pp = _ppid_map()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in pp:
            out.append(p)
            todo.extend(c for c, q in pp.items() if q == p)
    return out


def rollup(pid):
    """(Rss, Pss) in KiB from /proc/PID/smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
            rest = s[s.rindex(")") + 2:].split()
            t += int(rest[11]) + int(rest[12])
        except (OSError, ValueError):
            pass
    return t


def wait_greeting(port, alive, timeout=20.0):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        if not alive():
            raise RuntimeError("server exited during start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                data = s.recv(512)
                if data.startswith(b"* OK"):
                    s.sendall(b"z LOGOUT\r\n")
                    return
                last = data
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"no IMAP greeting on port {port}: {last!r}")


def _kill_tree(pids, grace=10.0):
    """SIGTERM the given pids (ours), wait, then SIGKILL what is left."""
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + grace
    left = list(pids)
    while left and time.monotonic() < end:
        left = [p for p in left if os.path.exists(f"/proc/{p}") and not _zombie(p)]
        time.sleep(0.05)
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] == "Z"
    except OSError:
        return True


class Tern:
    name = "tern"

    def __init__(self, work, binary, mailbox_src):
        """mailbox_src: the Maildir to serve (moved into place by the caller
        through self.maildir)."""
        self.dir = os.path.join(work, "tern")
        self.data = os.path.join(self.dir, "data")
        self.maildir = os.path.join(self.data, "mail", "example.test", "bob")
        os.makedirs(os.path.dirname(self.maildir), exist_ok=True)
        self.binary = binary
        self.users = os.path.join(self.dir, "users")
        if not os.path.exists(self.users):
            r = subprocess.run([binary, "passwd", USER], input=PASSWORD + "\n", text=True,
                               stdout=subprocess.PIPE, check=True)
            with open(self.users, "w") as f:
                f.write(r.stdout)
        self.log = os.path.join(self.dir, "tern.log")
        self.proc = None
        self.port = None

    def start(self):
        self.port, smtp = free_port(), free_port()
        conf = os.path.join(self.dir, "tern.conf")
        with open(conf, "w") as f:
            f.write(f"hostname mx.test\ndata-dir {self.data}\n"
                    f"listen 127.0.0.1:{smtp} smtp\nlisten 127.0.0.1:{self.port} imap\n"
                    f"domain example.test\nusers {self.users}\nmax-message-size 20M\n")
        self.proc = subprocess.Popen([self.binary, "serve", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_greeting(self.port, lambda: self.proc.poll() is None)

    def pids(self):
        return tree_pids(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def version(self):
        return subprocess.run([self.binary, "version"], stdout=subprocess.PIPE, text=True).stdout.strip()


CONF_IDLE = """\
# What a Dovecot admin sets to hold 1,000 concurrent IMAP sessions of one
# user from one address: one imap process per session is Dovecot's default
# (client_limit = 1), so the process limit must exceed the sessions; the
# per-user-and-address cap (default 10) is raised; anvil, log, stats and
# config get a connection from every process, hence default_client_limit.
mail_max_userip_connections = 2000
default_client_limit = 4000
service imap {
  process_limit = 1200
}
service imap-login {
  process_limit = 200
}
"""


class Dovecot:
    name = "dovecot"

    def __init__(self, work, hibernate=False):
        self.name = "dovecot+hibernate" if hibernate else "dovecot"
        self.dir = os.path.join(work, self.name)
        self.maildir = os.path.join(self.dir, "mail", "bob")
        self.home = os.path.join(self.dir, "home")
        for d in (self.dir, os.path.dirname(self.maildir), self.home):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.chown(self.home, NOBODY, NOBODY)
        os.chmod(work, 0o755)
        self.hibernate = hibernate
        self.base = os.path.join(self.dir, "run")
        self.log = os.path.join(self.dir, "dovecot.log")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.master = None
        self.port = None

    def start(self):
        self.port = free_port()
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""\
base_dir = {self.base}
state_dir = {self.dir}/state
log_path = {self.log}
info_log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={NOBODY} gid={NOBODY} home={self.home}
}}
mail_location = maildir:{self.maildir}
mail_uid = {NOBODY}
mail_gid = {NOBODY}
first_valid_uid = 0
first_valid_gid = 0
{CONF_IDLE}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""")
            if self.hibernate:
                # Dovecot's own answer to many IDLE sessions: after this long in
                # IDLE, the session's state moves to the one imap-hibernate
                # process and its imap process exits.
                # imap-hibernate runs as the internal user and hands a session
                # back through imap-master, which is root's only by default.
                f.write("imap_hibernate_timeout = 2s\n"
                        "service imap {\n  unix_listener imap-master {\n"
                        "    user = $default_internal_user\n  }\n}\n")
        # The daemon keeps the descriptors it was given: a file, not a pipe.
        out = os.path.join(self.dir, "start.out")
        with open(out, "w") as o:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL,
                               stdout=o, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            with open(out) as o:
                raise RuntimeError("dovecot did not start: " + o.read()[-2000:] + self.tail())
        pidfile = os.path.join(self.base, "master.pid")
        end = time.monotonic() + 10
        while not os.path.exists(pidfile) and time.monotonic() < end:
            time.sleep(0.05)
        with open(pidfile) as f:
            self.master = int(f.read().split()[0])
        wait_greeting(self.port, lambda: os.path.exists(f"/proc/{self.master}"))

    def pids(self):
        return tree_pids(self.master) if self.master else []

    def stop(self):
        if not self.master:
            return
        pids = self.pids()
        subprocess.run(["dovecot", "-c", self.conf, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        _kill_tree(pids)
        self.master = None

    def tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def version(self):
        return subprocess.run(["dovecot", "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
