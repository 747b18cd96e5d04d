"""MSRP and BFCP decoding compared field by field with tshark (an independent dissector).

The app/ vectors are decoded as they are; messages built by our codecs are written into a
pcap with scapy and decoded by tshark, so a builder that drifts from the wire format fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

from mikeyshark.dissectors import bfcp, msrp

pytestmark = pytest.mark.tshark

MSRP_FIELDS = [
    "frame.number",
    "msrp.transaction.id",
    "msrp.method",
    "msrp.status.code",
    "msrp.to.path",
    "msrp.from.path",
    "msrp.messageid",
    "msrp.byte.range",
    "msrp.status",
    "msrp.content.type",
    "msrp.cnt.flg",
]
BFCP_FIELDS = [
    "frame.number",
    "bfcp.ver",
    "bfcp.primitive",
    "bfcp.payload_length",
    "bfcp.conference_id",
    "bfcp.transaction_id",
    "bfcp.user_id",
    "bfcp.attribute_type",
    "bfcp.attribute_types_m_bit",
    "bfcp.attribute_length",
    "bfcp.floor_id",
    "bfcp.floorrequest_id",
    "bfcp.request_status",
    "bfcp.queue_pos",
    "bfcp.supp_primitive",
    "bfcp.supp_attr",
]


def tshark_rows(
    tshark: str, pcap: Path, port: int, proto: str, fields: list[str]
) -> list[list[str]]:
    cmd = [tshark, "-r", str(pcap), "-d", f"tcp.port=={port},{proto}", "-Y", proto]
    cmd += ["-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("|") for line in out.splitlines()]


def payloads(pcap: Path) -> dict[int, bytes]:
    return {n: bytes(p[Raw]) for n, p in enumerate(rdpcap(str(pcap)), 1) if Raw in p}


def write_stream(path: Path, port: int, messages: list[bytes]) -> None:
    """One TCP segment per message, client 192.0.2.1:50000 -> server 192.0.2.2:port."""
    pkts = []
    seq = 1000
    for m in messages:
        pkts.append(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="192.0.2.1", dst="192.0.2.2")
            / TCP(sport=50000, dport=port, flags="PA", seq=seq, ack=1)
            / Raw(m)
        )
        seq += len(m)
    wrpcap(str(path), pkts)


def msrp_row(frame: int, m: msrp.Message) -> list[str]:
    br = m.header("Byte-Range")
    return [
        str(frame),
        f"{m.transaction_id},{m.transaction_id}",  # start line and end-line
        m.method or "",
        "" if m.status is None else str(m.status),
        m.header("To-Path") or "",
        m.header("From-Path") or "",
        m.message_id or "",
        br or "",
        m.header("Status") or "",
        m.content_type or "",
        m.flag,
    ]


def bfcp_row(frame: int, m: bfcp.Message) -> list[str]:
    def vals(pred: type | tuple[type, ...], get: object) -> str:
        return ",".join(str(get(a)) for a in bfcp.walk(m.attributes) if isinstance(a, pred))  # type: ignore[operator]

    attrs = list(bfcp.walk(m.attributes))
    frids = ",".join(
        str(a.value if isinstance(a, bfcp.FloorRequestId) else a.id)
        for a in attrs
        if isinstance(
            a, bfcp.FloorRequestId | bfcp.FloorRequestInformation | bfcp.OverallRequestStatus
        )
    )
    floors = ",".join(
        str(a.value if isinstance(a, bfcp.FloorId) else a.id)
        for a in attrs
        if isinstance(a, bfcp.FloorId | bfcp.FloorRequestStatus)
    )
    return [
        str(frame),
        str(m.version),
        str(m.primitive),
        str(len(bfcp.build_attributes(m.attributes)) // 4),
        str(m.conference_id),
        str(m.transaction_id),
        str(m.user_id),
        ",".join(str(bfcp.attribute_type(a)) for a in attrs),
        ",".join(str(int(a.mandatory)) for a in attrs),
        ",".join(str(bfcp_attr_length(a)) for a in attrs),
        floors,
        frids,
        vals(bfcp.RequestStatus, lambda a: a.status),
        vals(bfcp.RequestStatus, lambda a: a.queue_position),
        vals(bfcp.SupportedPrimitives, lambda a: ",".join(map(str, a.primitives))),
        vals(bfcp.SupportedAttributes, lambda a: ",".join(map(str, a.types))),
    ]


def bfcp_attr_length(a: bfcp.Attribute) -> int:
    return bfcp.build_attributes([a])[1]


def test_msrp_vector_every_field(tshark: str, vectors: Path) -> None:
    pcap = vectors / "app" / "plain_msrp.pcap"
    ours = [msrp_row(n, msrp.parse_message(b)) for n, b in payloads(pcap).items()]
    theirs = tshark_rows(tshark, pcap, 2855, "msrp", [*MSRP_FIELDS, "_ws.col.Info", "msrp.data"])
    assert len(ours) == 2
    assert ours == [r[:-2] for r in theirs]
    # The Info column the dissect view shows.
    msgs = [msrp.parse_message(b) for b in payloads(pcap).values()]
    infos = [(msrp.column_info(m) + msrp.column_suffix(m)).rstrip() for m in msgs]
    assert infos == [r[-2] for r in theirs]
    # tshark 4.0 runs msrp.data on to the end-line; the body is what precedes its CRLF.
    assert theirs[0][-1] == "Hello Bob, this is MSRP over TLS-PSK.\\r\\n-------a786hjs2$\\r\\n"
    assert msrp.parse_message(payloads(pcap)[4]).body == b"Hello Bob, this is MSRP over TLS-PSK."


def test_bfcp_vector_every_field(tshark: str, vectors: Path) -> None:
    pcap = vectors / "app" / "plain_bfcp.pcap"
    ours = [bfcp_row(n, bfcp.parse_message(b)) for n, b in payloads(pcap).items()]
    theirs = tshark_rows(tshark, pcap, 5070, "bfcp", [*BFCP_FIELDS, "_ws.col.Info"])
    assert [r[2] for r in theirs] == ["11", "12", "1"]
    assert ours == [r[:-1] for r in theirs]
    infos = [bfcp.column_info(bfcp.parse_message(b)).rstrip() for b in payloads(pcap).values()]
    assert infos == [r[-1] for r in theirs] == ["Hello", "HelloAck", "FloorRequest"]


def test_built_msrp_chunks_and_report(tshark: str, tmp_path: Path) -> None:
    alice = msrp.MsrpUri("msrps", "192.0.2.1", 50000, "asfd34")
    bob = msrp.MsrpUri("msrps", "[2001:db8::2]", 5061, "kjhd37s2s20w2a")
    whole = msrp.send("unused00", [bob], [alice], "4564dpWd", b"Hello Bob! " * 228 + b"\r\n")
    chunks = msrp.chunk_message(whole, 1024, ["dkei38sd", "dkei38ia", "dkei38ib"])
    rep = msrp.report("dkei38ic", whole, msrp.ReportStatus(0, 200, "OK"))
    ok = msrp.response(chunks[0])
    msgs = [*chunks, rep, ok]
    pcap = tmp_path / "chunks.pcap"
    write_stream(pcap, 2855, [msrp.build_message(m) for m in msgs])
    theirs = tshark_rows(tshark, pcap, 2855, "msrp", MSRP_FIELDS)
    assert [r[7] for r in theirs] == [
        "1-1024/2510",
        "1025-2048/2510",
        "2049-2510/2510",
        "1-2510/2510",
        "",
    ]
    assert theirs == [msrp_row(n, m) for n, m in enumerate(msgs, 1)]


def test_built_bfcp_floor_control_with_grouped_attributes(tshark: str, tmp_path: Path) -> None:
    req = bfcp.floor_request(7, 3, 2, [1, 2], beneficiary_id=9, priority=3)
    granted = bfcp.floor_request_status(req, 5, [1, 2], bfcp.REQUEST_STATUS["Granted"])
    queued = bfcp.Message(
        bfcp.PRIMITIVES["FloorRequestStatus"],
        7,
        0,
        2,
        (
            bfcp.FloorRequestInformation(
                5,
                (
                    bfcp.OverallRequestStatus(5, (bfcp.RequestStatus(1, 2),)),
                    bfcp.FloorRequestStatus(1, (bfcp.RequestStatus(1, 2),)),
                    bfcp.BeneficiaryInformation(9),
                    bfcp.Priority(2),
                ),
            ),
        ),
    )
    release = bfcp.floor_release(7, 4, 2, 5)
    hello = bfcp.hello(7, 1, 2)
    ack = bfcp.hello_ack(hello, primitives=range(1, 19))
    msgs = [hello, ack, req, queued, granted, release]
    pcap = tmp_path / "floor.pcap"
    write_stream(pcap, 5070, [bfcp.build_message(m) for m in msgs])
    theirs = tshark_rows(tshark, pcap, 5070, "bfcp", BFCP_FIELDS)
    assert [r[2] for r in theirs] == ["11", "12", "1", "4", "4", "2"]
    assert theirs == [bfcp_row(n, m) for n, m in enumerate(msgs, 1)]
