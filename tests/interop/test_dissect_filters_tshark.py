"""`mikeyshark dissect -Y` against tshark 4.0's display filters: for each filter of the table,
the same frames, and the same ``-T fields`` values on them. SIP, SDP and the lower layers on
the demo conference; the MSRP and BFCP the demo's TLS carries, against tshark on the same
plaintext (the conference written by ``analyze --decrypted-pcap``, frame for frame, with
tshark's BFCP heuristic on); TLS on a vector tshark decrypts with the PSK."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import mikeyshark
from mikeyshark.view.filter import compile_filter
from mikeyshark.view.frame import FrameView
from mikeyshark.view.layers import FIELDS
from tests.support.dissect import Result
from tests.support.paths import PCAPS, VECTORS
from tests.support.tshark_fields import differences, tshark_fields

pytestmark = pytest.mark.tshark

CONFERENCE = PCAPS / "conference.pcap"
KEYS = PCAPS / "demo-keys.toml"
TLS_VECTOR = VECTORS / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
PSK = "657bf44e8247bee72094eafe0283ab2f"  # tests/vectors/README.md: every TLS vector's

SIP_FIELDS = ["ip.src", "tcp.stream", "sip.Call-ID", "sip.Method", "sip.Status-Code"]
MEDIA_FIELDS = ["tcp.stream", "msrp.method", "msrp.status.code", "msrp.messageid"]
MEDIA_FIELDS += ["bfcp.primitive", "bfcp.transaction_id", "bfcp.floor_id"]
TLS_FIELDS = ["tls.handshake.type", "tls.record.content_type", "tls.record.version"]

SIP_FILTERS = [
    "sip",
    "sip.Method == INVITE",
    'sip.Method == "ACK" || sip.Method == "BYE"',
    "sip.Status-Code >= 200",
    "sip.Status-Code == 100",
    "sip.CSeq.method == INVITE && sip.Status-Code",
    'sip.Call-ID contains "@198.51.100.11"',
    "sip.from.user == alice",
    "sip.to.tag",
    "!sip.to.tag && sip",
    'sip.r-uri matches "conf1@"',
    "sdp",
    'sdp.media.proto == "TCP/TLS/MSRP"',
    'sdp.media_attr matches "^FLOORCTRL"',
    "sdp.media.port > 49000",
    "udp.port == 5060",
    "tcp.flags.syn == 1 && tcp.flags.ack == 0",
    "tcp.flags.fin == 1",
    "tcp.stream == 2",
    "tcp.len > 500",
    "tcp.port != 5060 && tcp.len == 0",
    "ip.src == 198.51.100.0/24 && tcp",
    "ip.dst == 203.0.113.30",
    "eth.src == 02:00:c6:33:64:0b",
    "frame.len > 1000",
    "not tcp",
    "(sip.Method == INVITE) or (tcp.stream == 0 and tcp.flags.syn == 1)",
    "tcp.window_size < 65000 && tcp.len > 0",
    "frame.number <= 10 && !(udp)",
    "tcp.ack == 1 and tcp.seq == 1",
    "ip.ttl ge 64 && ip.proto eq 17",
]
MEDIA_FILTERS = [
    "msrp",
    'msrp.method == "SEND"',
    "msrp.status.code == 200",
    'msrp.byte.range contains "/"',
    'msrp.content.type == "text/plain"',
    "msrp and tcp.stream == 0",
    "bfcp",
    "bfcp.primitive == 11",
    "bfcp.conference_id > 0",
    "bfcp.floor_id == 1",
    "bfcp.hdr_r_bit == 1",
    "msrp || bfcp",
]
TLS_FILTERS = [
    "tls.handshake.type == 1",
    "tls.handshake.type == 2 || tls.handshake.type == 4",
    "tls.handshake.type == 20",
    "tls.record.content_type == 21",
    "tls.handshake.ciphersuite == 0x00a8",
    "tls.alert_message.desc == 0",
    "tls && !tls.handshake.type",
    "tls.record.length > 200",
]


@functools.cache
def _frames(pcap: Path, keys: Path | None = None, psk: str | None = None) -> list[FrameView]:
    return list(mikeyshark.dissect(pcap, keys=keys, psk=[psk] if psk else []))


def our_fields(
    pcap: Path, fields: list[str], flt: str, keys: Path | None = None, psk: str | None = None
) -> dict[int, list[str]]:
    shown = compile_filter(flt)
    return {
        f.number: [",".join(FIELDS[n].text(v) for v in f.values(n)) for n in fields]
        for f in _frames(pcap, keys, psk)
        if shown.matches(f)
    }


@pytest.fixture(scope="module")
def decrypted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo conference with every TLS record's plaintext in its place (same frames)."""
    out = tmp_path_factory.mktemp("dec") / "conference-plain.pcap"
    from mikeyshark.cli import main

    rc = main(["analyze", str(CONFERENCE), "--keys", str(KEYS), "--decrypted-pcap", str(out)])
    assert rc == 0 and out.exists()
    return out


@pytest.mark.parametrize("flt", SIP_FILTERS)
def test_sip_and_lower_layers(tshark: str, flt: str) -> None:
    theirs = tshark_fields(tshark, CONFERENCE, SIP_FIELDS, display_filter=flt)
    ours = our_fields(CONFERENCE, SIP_FIELDS, flt)
    assert differences(ours, theirs, SIP_FIELDS) == []
    assert theirs  # (more than "both empty")


@pytest.mark.parametrize("flt", MEDIA_FILTERS)
def test_decrypted_msrp_and_bfcp(tshark: str, decrypted: Path, flt: str) -> None:
    opts = ["--enable-heuristic", "bfcp_tcp"]  # off by default in tshark 4.0
    theirs = tshark_fields(tshark, decrypted, MEDIA_FIELDS, opts, display_filter=flt)
    ours = our_fields(CONFERENCE, MEDIA_FIELDS, flt, keys=KEYS)
    assert differences(ours, theirs, MEDIA_FIELDS) == []
    # RFC 8855 over TCP: no message sets the responder bit
    assert bool(theirs) == (flt != "bfcp.hdr_r_bit == 1")


@pytest.mark.parametrize("flt", TLS_FILTERS)
def test_tls(tshark: str, flt: str) -> None:
    opts = ["-d", "tcp.port==5061,tls", "-o", f"tls.psk:{PSK}"]
    theirs = tshark_fields(tshark, TLS_VECTOR, TLS_FIELDS, opts, display_filter=flt)
    ours = our_fields(TLS_VECTOR, TLS_FIELDS, flt, psk=PSK)
    assert differences(ours, theirs, TLS_FIELDS) == []
    assert theirs


def test_command_line_fields_like_tshark(dissect: Callable[..., Result], tshark: str) -> None:
    """-r, -Y, -T fields -e with -E header/separator/occurrence, as tshark prints them."""
    args = ["-Y", "sip.Status-Code", "-T", "fields", "-e", "frame.number", "-e", "sip.Call-ID"]
    args += ["-e", "udp.port", "-E", "header=y", "-E", "separator=,", "-E", "occurrence=f"]
    ours = dissect("-r", str(CONFERENCE), *args)
    cmd = [tshark, "-n", "-r", str(CONFERENCE), *args]
    theirs = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    assert ours.returncode == 0 and ours.stdout == theirs
