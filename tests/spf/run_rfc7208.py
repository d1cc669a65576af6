#!/usr/bin/python3
"""Run the RFC 7208 test suite against tern's SPF engine (src/proto/spf.c).

The suite is the openspf.org one (release 2014.04) that Debian's python3-spf
package installs as /usr/share/doc/python3-spf/rfc7208-tests.yml.gz. It is not
ours, so it is read from there at test time, never copied into the tree.

This script turns the YAML into a plain line format and feeds it to the engine
through `build/unit/test_spf --suite FILE`, which answers every DNS question
from the case's zonedata and compares the result (and the explanation, when
the case gives one) with what the suite expects. The line format:

    scenario DESCRIPTION
    rr NAME TYPE FIELD...        TXT: its character-strings; MX: PREF HOST;
                                 A, AAAA, PTR, CNAME: one field; SPF: kept
                                 only so that the name exists
    timeout NAME                 questions about NAME with no records of the
                                 type asked fail temporarily
    case ID MODE HOST MAILFROM HELO RESULT[,RESULT...] [EXPLANATION]

Every field is escaped: octets outside %x21-7E and the characters \\ and "
as \\xNN, the empty field as "". MODE is "exact", or "nocase" where this file
says why an explanation is compared without regard to case.

The suite's own conventions, as its header comment and its reference driver
describe them:
- A record of type SPF doubles as a TXT record at names that have no TXT
  record of their own (RFC 7208 dropped type SPF; only TXT is asked).
- {'TXT': 'NONE'} means the name has TXT records that are not listed: it
  stops that doubling and answers no TXT record.
- TIMEOUT makes questions about that name time out, for the types it has no
  records of (TIMEOUT always comes after the records in this suite).
- A result may be a list: any of them is a pass. An explanation 'DEFAULT'
  means the default explanation (no exp= text was used).
Usage: run_rfc7208.py [--bin build/unit/test_spf] [--yaml FILE] [-v]
(--yaml /usr/share/doc/python3-spf/rfc4408-tests.yml.gz runs the older RFC 4408
suite of the same package the same way; it passes too.)
"""

import argparse
import gzip
import os
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("run_rfc7208: python3-yaml is needed (Debian package python3-yaml)")

SUITE = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Cases where tern's answer differs in form from the suite's text, with the
# RFC's reason. The result itself must still match.
NOCASE = {
    # RFC 7208 7.3 makes %{i} of an IPv6 address its nibbles "in dot-format";
    # the examples of 7.4 write them in lower case ("1.0.b.c.0...8.b.d.0.1.0.0.2
    # .ip6._spf.example.com") and tern follows them, while the suite's expected
    # text has them in upper case as its reference implementation prints them.
    # The nibbles are a DNS name, compared without regard to case (RFC 4343),
    # so this explanation is compared the same way.
    "v-macro-ip6",
}


def esc(value):
    if isinstance(value, bool):
        value = str(value).lower()
    if not isinstance(value, (bytes, str)):
        value = str(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    if not data:
        return '""'
    out = []
    for b in data:
        if 0x21 <= b <= 0x7E and b not in (0x5C, 0x22):
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def zone_lines(zonedata):
    """The zone of one scenario, with the conventions of the docstring."""
    lines = []
    for name, records in zonedata.items():
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        for r in records:
            if r == "TIMEOUT":
                lines.append("timeout %s" % esc(name))
                continue
            for rtype, value in r.items():
                if rtype in ("TXT", "SPF"):
                    strings = [value] if isinstance(value, str) else list(value)
                    if rtype == "TXT" and strings == ["NONE"]:
                        # the name exists, its TXT records are not ours to see
                        lines.append("rr %s SPF" % esc(name))
                        continue
                    fields = " ".join(esc(s) for s in strings)
                    lines.append(("rr %s %s %s" % (esc(name), rtype, fields)).rstrip())
                    if rtype == "SPF" and not has_txt:
                        lines.append(("rr %s TXT %s" % (esc(name), fields)).rstrip())
                elif rtype == "MX":
                    pref, host = value
                    lines.append("rr %s MX %s %s" % (esc(name), esc(pref), esc(host)))
                else:
                    lines.append("rr %s %s %s" % (esc(name), rtype, esc(value)))
    return lines


def convert(path):
    lines, count = [], 0
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        for scenario in yaml.safe_load_all(f):
            lines.append("scenario %s" % esc(scenario.get("description", "")))
            lines.extend(zone_lines(scenario.get("zonedata", {})))
            for cid, case in scenario["tests"].items():
                results = case["result"]
                if isinstance(results, str):
                    results = [results]
                mode = "nocase" if cid in NOCASE else "exact"
                fields = [esc(cid), mode, esc(case["host"]), esc(case.get("mailfrom", "")),
                          esc(case.get("helo", "")), ",".join(results)]
                if "explanation" in case:
                    fields.append(esc(case["explanation"]))
                lines.append("case " + " ".join(fields))
                count += 1
    return lines, count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "unit", "test_spf"))
    ap.add_argument("--yaml", default=SUITE)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(args.yaml):
        sys.exit("run_rfc7208: %s is missing (Debian package python3-spf)" % args.yaml)
    if not os.access(args.bin, os.X_OK):
        sys.exit("run_rfc7208: %s is missing: make %s" % (args.bin, os.path.relpath(args.bin, REPO)))
    lines, count = convert(args.yaml)
    with tempfile.NamedTemporaryFile("w", prefix="rfc7208-", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        name = f.name
    try:
        label = os.path.basename(args.yaml).split("-")[0]  # rfc7208, or rfc4408
        cmd = [args.bin, "--suite", name, label] + (["-v"] if args.verbose else [])
        rc = subprocess.call(cmd)
    finally:
        os.unlink(name)
    if args.verbose:
        print("%d cases in %s" % (count, args.yaml), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
