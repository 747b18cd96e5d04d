"""The named fields of mikeyshark.dissect against tshark 4.0's fields of the same names, frame
by frame (``tshark -T fields -E occurrence=a``): the demo captures and the vectors, with the
decode-as a tshark user needs where no port tells it the protocol."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.paths import ROOT, VECTORS
from tests.support.tshark_fields import differences, our_fields, tshark_fields

pytestmark = pytest.mark.tshark

PSK = "657bf44e8247bee72094eafe0283ab2f"  # tests/vectors/README.md: every TLS vector's
LOWER = [
    "frame.number",
    "frame.len",
    "frame.cap_len",
    "frame.time_epoch",
    "frame.time_relative",
    "eth.src",
    "eth.dst",
    "eth.type",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.ttl",
    "ip.id",
    "ip.len",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.port",
    "tcp.stream",
    "tcp.len",
    "tcp.seq",
    "tcp.ack",
    "tcp.flags",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.window_size",
    "udp.srcport",
    "udp.dstport",
    "udp.port",
    "udp.length",
]
SIP = [
    "sip.Method",
    "sip.Status-Code",
    "sip.Call-ID",
    "sip.CSeq.seq",
    "sip.CSeq.method",
    "sip.r-uri",
    "sip.Request-Line",
    "sip.Status-Line",
    "sip.From",
    "sip.To",
    "sip.from.user",
    "sip.to.user",
    "sip.from.tag",
    "sip.to.tag",
    "sip.Via.branch",
    "sip.contact.uri",
    "sip.Content-Type",
    "sip.User-Agent",
    "sdp.media",
    "sdp.media.media",
    "sdp.media.port",
    "sdp.media.proto",
    "sdp.media_attr",
    "sdp.connection_info.address",
    "sdp.owner.username",
    "sdp.session_name",
]
# msrp.transaction.id is left out: tshark adds it twice per message (request and end line)
MSRP = [
    "msrp.request.line",
    "msrp.response.line",
    "msrp.method",
    "msrp.status.code",
    "msrp.to.path",
    "msrp.from.path",
    "msrp.messageid",
    "msrp.byte.range",
    "msrp.status",
    "msrp.success.report",
    "msrp.failure.report",
    "msrp.content.type",
    "msrp.end.line",
    "msrp.cnt.flg",
]
BFCP = [
    "bfcp.ver",
    "bfcp.hdr_r_bit",
    "bfcp.hdr_f_bit",
    "bfcp.primitive",
    "bfcp.conference_id",
    "bfcp.transaction_id",
    "bfcp.user_id",
    "bfcp.attribute_type",
    "bfcp.beneficiary_id",
    "bfcp.floor_id",
    "bfcp.floorrequest_id",
    "bfcp.request_status",
    "bfcp.queue_pos",
    "bfcp.error_code",
    "bfcp.supp_primitive",
    "bfcp.supp_attr",
    "bfcp.user_disp_name",
    "bfcp.user_uri",
]
TLS = [
    "tls.record.content_type",
    "tls.record.opaque_type",
    "tls.record.version",
    "tls.record.length",
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.handshake.random",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.alert_message.level",
    "tls.alert_message.desc",
]
TLS_VECTORS = ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"]


@pytest.mark.parametrize(
    "pcap",
    [
        ROOT / "pcaps" / "conference.pcap",
        ROOT / "pcaps" / "bfcp-dial-out.pcap",
        VECTORS / "sip" / "sip_sdp_keymgmt.pcap",
    ],
    ids=lambda p: p.stem,
)
def test_lower_layers_sip_and_sdp(tshark: str, pcap: Path) -> None:
    fields = [*LOWER, *SIP]
    assert differences(our_fields(pcap, fields), tshark_fields(tshark, pcap, fields), fields) == []


@pytest.mark.parametrize(
    ("stem", "fields", "decode_as"),
    [("plain_msrp", MSRP, "tcp.port==2855,msrp"), ("plain_bfcp", BFCP, "tcp.port==5070,bfcp")],
)
def test_msrp_and_bfcp(tshark: str, stem: str, fields: list[str], decode_as: str) -> None:
    pcap = VECTORS / "app" / f"{stem}.pcap"
    theirs = tshark_fields(tshark, pcap, fields, ["-d", decode_as])
    assert differences(our_fields(pcap, fields), theirs, fields) == []
    assert any(any(v) for v in theirs.values())  # tshark did read the messages


def test_msrp_transaction_id_once(tshark: str) -> None:
    pcap = VECTORS / "app" / "plain_msrp.pcap"
    theirs = tshark_fields(tshark, pcap, ["msrp.transaction.id"], ["-d", "tcp.port==2855,msrp"])
    ours = our_fields(pcap, ["msrp.transaction.id"])
    for n, (text,) in theirs.items():
        assert ours[n] == [text.split(",")[0]]


@pytest.mark.parametrize("stem", TLS_VECTORS)
def test_tls_without_keys(tshark: str, stem: str) -> None:
    pcap = VECTORS / "tls_psk" / f"{stem}.pcap"
    theirs = tshark_fields(tshark, pcap, TLS, ["-d", "tcp.port==5061,tls"])
    assert differences(our_fields(pcap, TLS), theirs, TLS) == []


@pytest.mark.parametrize("stem", TLS_VECTORS[:2])
def test_tls12_decrypted(tshark: str, stem: str) -> None:
    """tshark decrypts TLS 1.2 PSK sessions with tls.psk (not TLS 1.3 ones)."""
    pcap = VECTORS / "tls_psk" / f"{stem}.pcap"
    opts = ["-d", "tcp.port==5061,tls", "-o", f"tls.psk:{PSK}"]
    theirs = tshark_fields(tshark, pcap, TLS, opts)
    assert differences(our_fields(pcap, TLS, psk=[PSK]), theirs, TLS) == []
    # the decrypted Finished of each side is a handshake message of type 20 to both
    assert [n for n, row in theirs.items() if "20" in row[TLS.index("tls.handshake.type")]]


def test_every_field_not_marked_ours_is_wiresharks(tshark: str) -> None:
    from mikeyshark.view.layers import FIELDS

    out = subprocess.run(
        [tshark, "-G", "fields"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    wireshark = {cols[2] for ln in out.splitlines() if (cols := ln.split("\t"))[0] == "F"}
    # (tshark takes its columns as _ws.col.NAME, which -G fields does not list)
    missing = [n for n, info in FIELDS.items() if not info.ours and n not in wireshark]
    assert [n for n in missing if not n.startswith("_ws.col.")] == []


MIKEY = ["mikey.version", "mikey.type", "mikey.v.set", "mikey.prf_func", "mikey.csb_id"]
MIKEY += ["mikey.cs_count", "mikey.rand.data", "_ws.col.Protocol", "_ws.col.Info"]


def test_mikey_on_its_own_port(tshark: str) -> None:
    """MIKEY over UDP 2269 (the only place tshark 4.0 decodes MIKEY): the vector's two
    PSK-init messages, their rows (UDP/MIKEY ..., Mikey: Pre-shared) and fields."""
    pcap = VECTORS / "mikey" / "mikey_psk_init.pcap"
    theirs = tshark_fields(tshark, pcap, MIKEY)
    theirs = {n: [v.rstrip() for v in row] for n, row in theirs.items()}
    assert differences(our_fields(pcap, MIKEY), theirs, MIKEY) == []
    assert theirs[1][MIKEY.index("mikey.csb_id")] == "0x12345678"  # the vector's README
