"""How H.248 travels: TPKT over TCP (RFC 1006, hand-written headers) and SCTP DATA chunks
(RFC 9260; CRC-32C check value and scapy's SCTP layer as the independent writer)."""

from __future__ import annotations

import pytest
from scapy.layers.sctp import SCTP, SCTPChunkData, SCTPChunkInit

from mikeyshark.dissectors import transport
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248 import SCTP_PPID, text
from mikeyshark.dissectors.h248.framing import (
    FramingError,
    TpktFramer,
    TpktPacket,
    build_tpkt,
    parse_tpkt,
)

MSG1 = b"!/1 [10.0.0.1]:2944 T=1{C=-{MF=a}}"
MSG2 = b"!/1 [10.0.0.2]:2944 P=1{C=-{MF=a}}"
# RFC 1006 section 6: version 3, reserved 0, length of the whole packet (4 + payload)
PKT1 = bytes.fromhex("0300") + (4 + len(MSG1)).to_bytes(2, "big") + MSG1
PKT2 = bytes.fromhex("0300") + (4 + len(MSG2)).to_bytes(2, "big") + MSG2


def test_tpkt_header() -> None:
    assert build_tpkt(MSG1) == PKT1
    assert parse_tpkt(PKT1 + b"rest") == (MSG1, len(PKT1))
    for bad, field in ((b"\x02\x00\x00\x08abcd", "version"), (b"\x03\x01\x00\x08abcd", "reserved")):
        with pytest.raises(DissectError) as e:
            parse_tpkt(bad)
        assert e.value.field == field
    with pytest.raises(DissectError) as e:
        parse_tpkt(b"\x03\x00\x00\x04")
    assert (e.value.field, e.value.offset) == ("length", 2)
    with pytest.raises(ValueError):
        build_tpkt(bytes(0xFFFC))


def test_framer_byte_by_byte() -> None:
    f = TpktFramer()
    out: list[TpktPacket | FramingError] = []
    for b in PKT1 + PKT2:
        out += f.feed(bytes((b,)))
    out += f.close()
    assert out == [
        TpktPacket(0, len(PKT1), MSG1),
        TpktPacket(len(PKT1), len(PKT1) + len(PKT2), MSG2),
    ]
    assert text.parse_message(MSG2).transactions[0].id == 1  # type: ignore[union-attr]


def test_framer_skips_garbage_as_one_error() -> None:
    garbage = b"\x03\x00\x00\x02junk\x03"  # a header with too small a length, then junk
    f = TpktFramer()
    out = f.feed(PKT1 + garbage + PKT2) + f.close()
    assert out[0] == TpktPacket(0, len(PKT1), MSG1)
    err = out[1]
    assert isinstance(err, FramingError)
    assert (err.start, err.end) == (len(PKT1), len(PKT1) + len(garbage))
    assert err.error.layer == "tpkt" and "not TPKT" in err.error.reason
    assert out[2] == TpktPacket(
        len(PKT1) + len(garbage), len(PKT1) + len(garbage) + len(PKT2), MSG2
    )
    assert len(out) == 3


def test_framer_gap_and_cut_end() -> None:
    f = TpktFramer()
    out = f.feed(PKT1[:10])
    out += f.feed(PKT2, gap=len(PKT1) - 10)
    out += f.feed(PKT1[:8])
    out += f.close()
    cut, pkt, end = out
    assert isinstance(cut, FramingError) and "missing bytes" in cut.error.reason
    assert (cut.start, cut.end) == (0, 10)  # the bytes seen before the gap
    assert pkt == TpktPacket(len(PKT1), len(PKT1) + len(PKT2), MSG2)
    assert isinstance(end, FramingError) and end.error.field == "length"
    assert (end.start, end.end) == (len(PKT1) + len(PKT2), len(PKT1) + len(PKT2) + 8)


def test_crc32c_check_value() -> None:
    # the CRC-32C check value for "123456789" (RFC 3720 appendix B.4 / common CRC catalogues)
    assert transport.crc32c(b"123456789") == 0xE3069283


def test_sctp_data_as_scapy_writes_it() -> None:
    theirs = bytes(
        SCTP(sport=2944, dport=2944, tag=0x0A0B0C0D)
        / SCTPChunkData(
            tsn=7, stream_id=1, stream_seq=2, proto_id=SCTP_PPID, beginning=1, ending=1, data=MSG1
        )
    )
    data = transport.SctpData(7, 1, 2, SCTP_PPID, MSG1)
    ours = transport.sctp_packet(2944, 2944, 0x0A0B0C0D, (transport.build_sctp_data(data),))
    assert ours == theirs
    p = transport.parse_sctp(theirs)
    assert (p.header.src_port, p.header.dst_port, p.header.verification_tag) == (
        2944,
        2944,
        0x0A0B0C0D,
    )
    assert p.header.checksum == transport.sctp_checksum(theirs)
    (d,) = transport.sctp_data_chunks(p)
    assert d == data and d.complete and d.ppid == 7


def test_sctp_other_chunks_and_padding() -> None:
    theirs = bytes(
        SCTP(sport=1, dport=2, tag=0)
        / SCTPChunkInit(init_tag=1, a_rwnd=1500, n_out_streams=1, n_in_streams=1, init_tsn=9)
        / SCTPChunkData(tsn=9, proto_id=7, beginning=1, ending=0, data=b"abc")
    )
    p = transport.parse_sctp(theirs)
    assert [transport.SCTP_CHUNK.label(c.type) for c in p.chunks] == ["INIT", "DATA"]
    (d,) = transport.sctp_data_chunks(p)
    assert (d.payload, d.complete) == (b"abc", False)  # first fragment only
    assert transport.build_sctp(p) == theirs


def test_sctp_bad_chunk_length_is_located() -> None:
    good = transport.sctp_packet(
        1, 2, 3, (transport.build_sctp_data(transport.SctpData(1, 0, 0, 7, b"x")),)
    )
    bad = good[:14] + (200).to_bytes(2, "big") + good[16:]
    with pytest.raises(DissectError) as e:
        transport.parse_sctp(bad)
    assert (e.value.layer, e.value.field, e.value.offset) == ("sctp", "chunk_length", 14)
    for i in range(len(good)):
        try:
            p = transport.parse_sctp(good[:i])
            transport.sctp_data_chunks(p)
        except DissectError:
            pass
