"""tshark reads the SIP of `mikeyshark synth --ipv6`: IPv6 hosts in brackets in URIs and Vias
(RFC 3261 25.1), `IN IP6` in SDP (RFC 8866 5.7)."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from mikeyshark.cli import main
from mikeyshark.dissectors import msrp

pytestmark = pytest.mark.tshark

SEED = 4
DOC = ipaddress.ip_network("2001:db8::/32")


def _fields(tshark: str, path: Path, flt: str, *names: str) -> list[list[str]]:
    cmd = [tshark, "-r", str(path), "-Y", flt, "-T", "fields", "-E", "occurrence=a"]
    for n in names:
        cmd += ["-e", n]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return [ln.split("\t") for ln in out.stdout.splitlines() if ln]


def test_tshark_reads_the_ipv6_sip(tshark: str, tmp_path: Path) -> None:
    path = tmp_path / "v6.pcap"
    assert main(["synth", "msrp-dial-out", "-o", str(path), "--ipv6", "--seed", str(SEED)]) == 0
    rows = _fields(
        tshark,
        path,
        "sip",
        "ipv6.src",
        "ipv6.dst",
        "sip.CSeq.method",
        "sip.Status-Code",
        "sip.Via.sent-by.address",
        "sip.contact.host",
        "sdp.connection_info.address_type",
        "sdp.connection_info.address",
        "sdp.media_attr",
    )
    # The dial-out flow, every SIP message of it on IPv6.
    assert [(r[2], r[3]) for r in rows] == [
        ("INVITE", ""),
        ("INVITE", "100"),
        ("INVITE", "180"),
        ("INVITE", "200"),
        ("ACK", ""),
        ("BYE", ""),
        ("BYE", "200"),
    ]
    for r in rows:
        assert ipaddress.ip_address(r[0]) in DOC and ipaddress.ip_address(r[1]) in DOC
        # tshark parses each bracketed sent-by into a bare address: the brackets were right.
        for via in r[4].split(","):
            assert via == "scscf.example.org" or ipaddress.ip_address(via) in DOC
    invite, ok = rows[0], rows[3]
    assert invite[5] == "[2001:db8:0:2::20]"  # the focus's Contact, as written
    assert ok[5] == "[2001:db8:0:100::12]"  # UE-B's
    for sdp_row in (invite, ok):
        assert sdp_row[6] == "IP6" and ipaddress.ip_address(sdp_row[7]) in DOC
        (path_attr,) = [a for a in sdp_row[8].split(",") if a.startswith("path:")]
        uri = msrp.MsrpUri.parse(path_attr[len("path:") :])
        assert uri.host == f"[{sdp_row[7]}]"
    assert not _fields(
        tshark, path, "_ws.malformed || _ws.expert.severity >= error", "frame.number"
    )
