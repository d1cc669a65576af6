"""`tern auth spf` (CONTRACT.md) against a real DNS server.

dnsmasq on 127.0.0.1 (relay_helpers.Dnsmasq) publishes SPF policies in TXT
records, with A and MX records, for a few *.test domains; the real binary
asks it through `--dns 127.0.0.1:PORT` and must print the result on the first
line and, for fail, the explanation on the second, exit 0 whatever the
result, 64 on a usage error. A UDP socket that reads and never answers plays
the server that does not answer (temperror).

The RFC 7208 test suite itself (and the older RFC 4408 one) runs at the end,
through tests/spf/run_rfc7208.py (it needs Debian's python3-spf and python3-yaml).
"""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, TERN_BIN
from relay_helpers import Dnsmasq

SUITES = ["/usr/share/doc/python3-spf/rfc7208-tests.yml.gz",
          "/usr/share/doc/python3-spf/rfc4408-tests.yml.gz"]  # the older suite passes too


def txt(name, text):
    return "--txt-record=%s,%s" % (name, text)


RECORDS = [
    "--mx-host=mx.spf.test,mail.spf.test,10",          # the readiness probe, and mx below
    "--host-record=mail.spf.test,192.0.2.25",
    txt("mx.spf.test", "v=spf1 mx -all"),
    txt("pass.test", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"),
    txt("fail.test", "v=spf1 ip4:192.0.2.1 -all exp=why.fail.test"),
    txt("why.fail.test", "%{i} may not send mail as %{l} for %{d}"),
    txt("plainfail.test", "v=spf1 -all"),
    txt("soft.test", "v=spf1 ip4:192.0.2.1 ~all"),
    txt("neutral.test", "v=spf1 ?all"),
    txt("inc.test", "v=spf1 include:partner.test -all"),
    txt("partner.test", "v=spf1 ip4:198.51.100.0/24 -all"),
    txt("red.test", "v=spf1 redirect=_spf.red.test"),
    txt("_spf.red.test", "v=spf1 a:out.red.test -all"),
    "--host-record=out.red.test,203.0.113.7",
    txt("helo.spf.test", "v=spf1 a -all"),
    "--host-record=helo.spf.test,192.0.2.77",
    txt("two.test", "v=spf1 -all"),
    txt("two.test", "v=spf1 +all"),
    txt("syntax.test", "v=spf1 ip4:192.0.2.1/33 -all"),
    txt("nospf.test", "google-site-verification=abc"),
    # eleven terms that query the DNS: the eleventh is one too many
    txt("limit.test", "v=spf1 " + " ".join("a:h%d.limit.test" % i for i in range(1, 12)) + " -all"),
] + ["--host-record=h%d.limit.test,198.51.100.%d" % (i, i) for i in range(1, 12)] + [
    txt("ten.test", "v=spf1 " + " ".join("a:h%d.limit.test" % i for i in range(1, 11)) + " ip4:192.0.2.9 -all"),
]


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = Dnsmasq(tmp_path_factory.mktemp("spf-dns"), RECORDS, probe="mx.spf.test").start()
    yield d
    d.stop()


def spf(dns_addr, *args, timeout=60):
    p = subprocess.run([TERN_BIN, "auth", "spf", "--dns", dns_addr] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout.splitlines(), p.stderr


def check(dns, ip, mail_from, helo=None):
    args = [ip, mail_from] + ([helo] if helo is not None else [])
    rc, out, err = spf("127.0.0.1:%d" % dns.port, *args)
    assert rc == 0, (rc, out, err, dns.log())
    return out


def test_pass(dns):
    assert check(dns, "192.0.2.10", "alice@pass.test", "mx.client.test") == ["pass"]
    assert check(dns, "2001:db8::5", "<alice@pass.test>") == ["pass"]


def test_fail_with_exp(dns):
    assert check(dns, "192.0.2.66", "bob@fail.test") == [
        "fail", "192.0.2.66 may not send mail as bob for fail.test"]


def test_fail_default_explanation_names_domain(dns):
    out = check(dns, "192.0.2.66", "bob@plainfail.test")
    assert out[0] == "fail" and len(out) == 2
    assert "plainfail.test" in out[1]


def test_softfail_neutral_none(dns):
    assert check(dns, "192.0.2.66", "x@soft.test") == ["softfail"]
    assert check(dns, "192.0.2.1", "x@soft.test") == ["pass"]
    assert check(dns, "192.0.2.66", "x@neutral.test") == ["neutral"]
    assert check(dns, "192.0.2.66", "x@nospf.test") == ["none"]
    assert check(dns, "192.0.2.66", "x@nonexistent.test") == ["none"]


def test_include(dns):
    assert check(dns, "198.51.100.20", "x@inc.test") == ["pass"]
    assert check(dns, "192.0.2.20", "x@inc.test")[0] == "fail"


def test_redirect(dns):
    assert check(dns, "203.0.113.7", "x@red.test") == ["pass"]
    assert check(dns, "203.0.113.8", "x@red.test")[0] == "fail"


def test_mx(dns):
    assert check(dns, "192.0.2.25", "x@mx.spf.test") == ["pass"]


def test_permerrors(dns):
    assert check(dns, "192.0.2.1", "x@two.test") == ["permerror"]
    assert check(dns, "192.0.2.1", "x@syntax.test") == ["permerror"]


def test_lookup_limit(dns):
    # 10 DNS terms are allowed (RFC 7208 4.6.4), the 11th is a permerror.
    assert check(dns, "192.0.2.9", "x@ten.test") == ["pass"]
    assert check(dns, "192.0.2.9", "x@limit.test") == ["permerror"]


def test_helo_identity(dns):
    # An empty MAIL-FROM checks HELO (RFC 7208 2.3), "<>" too.
    assert check(dns, "192.0.2.77", "", "helo.spf.test") == ["pass"]
    out = check(dns, "192.0.2.78", "<>", "helo.spf.test")
    assert out[0] == "fail" and "helo.spf.test" in out[1]
    # A sender without local part is postmaster@domain (4.3).
    assert check(dns, "192.0.2.66", "@fail.test") == [
        "fail", "192.0.2.66 may not send mail as postmaster for fail.test"]


def test_server_that_does_not_answer():
    # A UDP socket that takes the questions and never answers.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        start = time.monotonic()
        rc, out, err = spf("127.0.0.1:%d" % s.getsockname()[1], "192.0.2.1", "x@pass.test")
        took = time.monotonic() - start
    assert rc == 0, (rc, out, err)
    assert out == ["temperror"]
    assert took < 25  # bounded: 3 s per try, 2 tries, within the 20 s of the check


def test_usage_errors(dns):
    addr = "127.0.0.1:%d" % dns.port
    for args in (["192.0.2.1"], ["not-an-ip", "x@pass.test"], ["192.0.2.1", ""],
                 ["192.0.2.1", "a@b.test", "h", "extra"], ["--bogus", "192.0.2.1", "a@b.test"]):
        rc, out, err = spf(addr, *args)
        assert rc == 64, (args, rc, out, err)
        assert out == []
    for argv in (["auth"], ["auth", "check"], ["auth", "check", "--ip", "not-an-ip"],
                 ["auth", "check", "--bogus"], ["auth", "nothing"]):
        p = subprocess.run([TERN_BIN] + argv, capture_output=True, text=True, timeout=30)
        assert p.returncode == 64, (argv, p.returncode, p.stderr)


@pytest.mark.parametrize("suite", SUITES, ids=["rfc7208", "rfc4408"])
def test_spf_suite(suite):
    if not os.path.exists(suite):
        pytest.skip("the RFC 7208 suite comes with Debian's python3-spf")
    try:
        import yaml  # noqa: F401
    except ImportError:
        pytest.skip("python3-yaml is not installed")
    binary = REPO_ROOT / "build" / "unit" / "test_spf"
    if not binary.exists():
        if shutil.which("make") is None:
            pytest.skip("no make to build build/unit/test_spf")
        subprocess.run(["make", "-s", "build/unit/test_spf"], cwd=REPO_ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    p = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "spf" / "run_rfc7208.py"),
                        "--bin", str(binary), "--yaml", suite], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert " 0 failed" in p.stdout.splitlines()[-1]
