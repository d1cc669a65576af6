"""Mail from common command-line clients we did not write: curl and swaks."""

import shutil
import subprocess

import pytest

from conftest import DOMAIN, split_trace, unfold


def run(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, timeout=timeout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_delivers(server, tmp_path):
    """curl smtp://.../client.test --mail-from --mail-rcpt -T file: curl exits
    0 and the file arrives unchanged (CR LF -> LF) in bob's Maildir."""
    message = (b"From: a@x.test\r\nTo: bob@example.test\r\nSubject: from curl\r\n\r\n"
               b"sent by curl\r\n.leading dot\r\n")
    path = tmp_path / "message.eml"
    path.write_bytes(message)
    result = run(["curl", "-sS", "--max-time", "20", "smtp://127.0.0.1:%d/client.test" % server.port,
                  "--mail-from", "a@x.test", "--mail-rcpt", "bob@example.test", "-T", str(path)])
    assert result.returncode == 0, "curl failed: %s\n--- log ---\n%s" % (result.stderr.decode(), server.log())
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    return_path, _, received, rest = split_trace(delivered)
    assert return_path == b"Return-Path: <a@x.test>"
    assert "client.test" in unfold(received)
    assert rest == message.replace(b"\r\n", b"\n")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_refused_recipient_fails(server, tmp_path):
    """curl to an unknown local user fails (non-zero exit) and nothing is delivered."""
    path = tmp_path / "message.eml"
    path.write_bytes(b"Subject: nobody\r\n\r\nx\r\n")
    result = run(["curl", "-sS", "--max-time", "20", "smtp://127.0.0.1:%d/client.test" % server.port,
                  "--mail-from", "a@x.test", "--mail-rcpt", "nobody@example.test", "-T", str(path)])
    assert result.returncode != 0
    assert b"550" in result.stderr, result.stderr
    assert server.queue_messages() == []
    assert server.all_mailboxes() == []


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks_delivers(server):
    """swaks --server --to --from exits 0 and its message lands in bob's Maildir."""
    result = run(["swaks", "--server", "127.0.0.1:%d" % server.port, "--to", "bob@example.test",
                  "--from", "a@x.test", "--helo", "swaks.test", "--header", "Subject: from swaks",
                  "--body", "swaks body line"])
    assert result.returncode == 0, "swaks exit %d:\n%s\n--- log ---\n%s" % (
        result.returncode, result.stdout.decode(errors="replace"), server.log())
    (delivered,) = server.wait_for_mail(DOMAIN, "bob", 1)
    return_path, delivered_to, received, rest = split_trace(delivered)
    assert return_path == b"Return-Path: <a@x.test>"
    assert delivered_to == b"Delivered-To: bob@example.test"
    assert "swaks.test" in unfold(received)
    assert b"Subject: from swaks\n" in rest
    assert b"\nswaks body line\n" in rest


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks_pipelining_two_recipients(server):
    """swaks --pipeline with two recipients in one -t: exit 0, both get it."""
    result = run(["swaks", "--server", "127.0.0.1:%d" % server.port, "--pipeline",
                  "--to", "bob@example.test,carol@example.test", "--from", "a@x.test",
                  "--header", "Subject: pipelined swaks"])
    assert result.returncode == 0, "swaks exit %d:\n%s" % (result.returncode, result.stdout.decode(errors="replace"))
    for user in ("bob", "carol"):
        (delivered,) = server.wait_for_mail(DOMAIN, user, 1)
        assert b"Subject: pipelined swaks\n" in delivered
