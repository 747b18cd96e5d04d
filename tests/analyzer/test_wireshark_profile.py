"""The Wireshark profile's files, as Wireshark's formats want them (the UAT quoting of
epan/uat.c: a quoted string, other bytes as \\xHH), and the Decode As path taken only when
the local tshark accepts it (tshark 4.0 does not: tests/interop/test_wireshark_profile.py)."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

from mikeyshark import judge
from mikeyshark.wireshark import MediaPort, Profile, media_ports, write_profile
from tests.support.paths import DEMO_KEYS, PCAPS


def test_a_uat_row_quotes_every_field_and_escapes_quotes_and_non_ascii(tmp_path: Path) -> None:
    key = Path('/tmp/a "b"/é.pem')
    p = Profile(tmp_path, tmp_path / "k.log", key, (MediaPort(5001, "msrp"),), False)
    cmd = shlex.split(p.tshark_command("c.pcap"))
    assert cmd[-2:] == [
        "-o",
        'uat:ssl_keys:"any","5001","msrp","/tmp/a \\x22b\\x22/\\xc3\\xa9.pem",""',
    ]


def test_the_demo_profile_binds_its_six_media_ports(tmp_path: Path) -> None:
    report = judge.analyze(PCAPS / "conference.pcap", keys=DEMO_KEYS)
    # the six server ports of the demo's MSRP and BFCP connections (tshark's SYN-ACKs)
    assert media_ports(report) == (
        MediaPort(41638, "msrp"),
        MediaPort(43946, "msrp"),
        MediaPort(47221, "bfcp"),
        MediaPort(47791, "msrp"),
        MediaPort(48312, "bfcp"),
        MediaPort(49718, "bfcp"),
    )
    no_tshark = tmp_path / "false"
    no_tshark.write_text("#!/bin/sh\nexit 1\n")
    no_tshark.chmod(0o755)
    d = tmp_path / "p"
    prof = write_profile(d, report, "CLIENT_RANDOM 00 11\n", tshark=str(no_tshark))
    assert not prof.decode_as and not (d / "decode_as_entries").exists()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    rows = [ln for ln in (d / "ssl_keys").read_text().splitlines() if not ln.startswith("#")]
    assert rows[0] == f'"any","41638","msrp","{d / "uat-placeholder-rsa.pem"}",""'
    assert len(rows) == 6
    assert (d / "tls-keys.log").read_text() == "CLIENT_RANDOM 00 11\n"
    assert (d / "uat-placeholder-rsa.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_decode_as_where_tshark_takes_it(tmp_path: Path) -> None:
    report = judge.analyze(PCAPS / "conference.pcap", keys=DEMO_KEYS)
    accepting = tmp_path / "tshark"
    accepting.write_text("#!/bin/sh\nexit 0\n")  # a tshark that takes -d tls.port==N,msrp
    accepting.chmod(0o755)
    d = tmp_path / "p"
    prof = write_profile(d, report, "", tshark=str(accepting))
    entries = (d / "decode_as_entries").read_text().splitlines()
    assert "decode_as_entry: tls.port,41638,(none),MSRP" in entries
    assert "decode_as_entry: tcp.port,49718,(none),TLS" in entries
    cmd = shlex.split(prof.tshark_command("c.pcap"))
    assert "tls.port==47221,bfcp" in cmd and not any(a.startswith("uat:") for a in cmd)
    # the next export for a 4.0 tshark takes the entries away again (4.0 trips on them)
    refusing = tmp_path / "tshark40"
    refusing.write_text("#!/bin/sh\nexit 1\n")
    refusing.chmod(0o755)
    write_profile(d, report, "", tshark=str(refusing))
    assert not (d / "decode_as_entries").exists()
