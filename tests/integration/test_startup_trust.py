"""Start-up trust (CONTRACT.md, "Rules every role keeps"): `tern serve`
refuses, with exit status 78 and the path named, a data-dir or a directory
it keeps there that is writable by its group or others, owned by another
account, or a symbolic link; it never writes a key through a link; and a
torn self-signed key is replaced instead of failing every later start."""

import os
import pwd
import stat
import subprocess

import pytest

from conftest import DOMAIN, TERN_BIN, TernServer, free_port


def run_serve(tmp_path, data_dir, timeout=20):
    """Start `tern serve` on data_dir and expect it to exit by itself."""
    conf = tmp_path / "t.conf"
    conf.write_text("hostname mx.test\ndata-dir %s\nlisten 127.0.0.1:%d smtp\ndomain %s\n"
                    % (data_dir, free_port(), DOMAIN))
    p = subprocess.run([TERN_BIN, "serve", "-c", str(conf)], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


def prepared(tmp_path, make_server):
    """A data-dir tern has made and used once, then stopped."""
    srv = make_server(subdir="prep")
    srv.stop()
    return srv.data_dir


def nobody():
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no account named nobody")


@pytest.mark.parametrize("sub,mode", [("", 0o775), ("", 0o757), ("queue", 0o770), ("queue/msg", 0o722),
                                      ("tls", 0o777), ("mail", 0o775)])
def test_group_or_other_writable_is_refused(tmp_path, make_server, sub, mode):
    data = prepared(tmp_path, make_server)
    (data / "mail").mkdir(exist_ok=True)
    target = data / sub if sub else data
    os.chmod(target, mode)
    rc, err = run_serve(tmp_path, data)
    assert rc == 78, err
    assert "%s: is writable by its group or by others" % target in err, err


def test_data_dir_owned_by_another_account_is_refused(tmp_path, make_server):
    data = prepared(tmp_path, make_server)
    os.chown(data, nobody(), -1)
    rc, err = run_serve(tmp_path, data)
    assert rc == 78, err
    assert "%s: is owned by uid" % data in err, err


def test_queue_dir_that_is_a_link_is_refused(tmp_path, make_server):
    data = prepared(tmp_path, make_server)
    elsewhere = tmp_path / "elsewhere"
    os.rename(data / "queue" / "msg", elsewhere)
    os.symlink(elsewhere, data / "queue" / "msg")
    rc, err = run_serve(tmp_path, data)
    assert rc == 78, err
    assert "queue/msg: is a symbolic link" in err, err


def test_symlinked_key_is_refused_and_not_written_through(tmp_path):
    data = tmp_path / "data"
    (data / "tls").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, data / "tls" / "key.pem")    # dangling pair: cert.pem is missing
    rc, err = run_serve(tmp_path, data)
    assert rc == 78, err
    assert "tls/key.pem: is a symbolic link" in err, err
    assert victim.read_text() == "precious\n"


def test_readable_key_is_refused(tmp_path, make_server):
    data = prepared(tmp_path, make_server)
    os.chmod(data / "tls" / "key.pem", 0o644)
    rc, err = run_serve(tmp_path, data)
    assert rc == 78, err
    assert "tls/key.pem: is a private key readable" in err, err


def test_drop_area_without_sticky_bit_is_refused(tmp_path, make_server):
    data = prepared(tmp_path, make_server)
    os.chmod(data / "queue" / "drop", 0o733)
    rc, err = run_serve(tmp_path, data)
    assert rc == 78, err
    assert "queue/drop: is writable by others without the sticky bit" in err, err


def test_torn_key_is_replaced(tmp_path, make_server):
    data = prepared(tmp_path, make_server)
    key = data / "tls" / "key.pem"
    key.write_bytes(key.read_bytes()[:40])          # a crash in the middle of writing it, once
    srv = make_server(subdir="prep", data_dir=data)  # starts (and greets) again
    assert "self-signed pair" in srv.log() and "making a new one" in srv.log(), srv.log()
    st = os.stat(key)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert not [n for n in os.listdir(data / "tls") if n not in ("key.pem", "cert.pem")]


def test_fresh_key_is_private_and_whole(make_server):
    srv = make_server()
    tls = srv.data_dir / "tls"
    assert sorted(os.listdir(tls)) == ["cert.pem", "key.pem"]
    assert stat.S_IMODE(os.stat(tls / "key.pem").st_mode) == 0o600
    assert (tls / "key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(os.stat(tls).st_mode) == 0o700
