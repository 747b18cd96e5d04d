"""Display filters (mikeyshark.view.filter) on the frames of small vectors, with the frames
each should pick stated by hand from the vectors' README: plain_msrp.pcap is a TCP handshake
(frames 1-3), the MSRP SEND (4) and its 200 (5) of transaction a786hjs2, then FINs (6-8);
plain_bfcp.pcap the same around Hello (4), HelloAck (5), FloorRequest (6)."""

from __future__ import annotations

from functools import cache

import pytest

import mikeyshark
from mikeyshark.view.filter import FilterError, compile_filter
from mikeyshark.view.frame import FrameView
from tests.support.paths import VECTORS


@cache
def _frames(stem: str) -> list[FrameView]:
    return list(mikeyshark.dissect(VECTORS / "app" / f"{stem}.pcap"))


def _picked(stem: str, flt: str) -> list[int]:
    f = compile_filter(flt)
    return [v.number for v in _frames(stem) if f.matches(v)]


@pytest.mark.parametrize(
    ("flt", "frames"),
    [
        ("msrp", [4, 5]),
        ("msrp.method", [4]),  # a field alone: present
        ("!msrp", [1, 2, 3, 6, 7, 8]),
        ("not msrp and tcp.len == 0", [1, 2, 3, 6, 7, 8]),
        ('msrp.method == "SEND"', [4]),
        ("msrp.method == SEND", [4]),  # a bare word
        ("msrp.method eq SEND or msrp.status.code eq 200", [4, 5]),
        ("msrp.status.code >= 200 && msrp.status.code < 300", [5]),
        ('msrp.transaction.id matches "^A786"', [4, 5]),  # matches ignores case
        ('msrp.transaction.id contains "A786"', []),  # contains does not
        ("tcp.flags.syn == 1", [1, 2]),
        ("tcp.flags.syn == True && tcp.flags.ack == False", [1]),
        ("tcp.flags == 0x0012", [2]),
        ("tcp.port != 2855", []),  # every occurrence must differ: each frame has 2855
        ("tcp.srcport != 2855", [1, 3, 4, 6, 8]),
        ("ip.src == 192.0.2.0/24 && ip.dst == 192.0.2.2", [1, 3, 4, 6, 8]),
        ("eth.src == 02-00-00-00-00-02", [2, 5, 7]),
        ("(msrp || tcp.flags.fin == 1) && !(frame.number > 6)", [4, 5, 6]),
        ("frame.time_relative > 0.004", [6, 7, 8]),
    ],
)
def test_msrp_capture(flt: str, frames: list[int]) -> None:
    assert _picked("plain_msrp", flt) == frames


def test_nested_and_grouped_bfcp_fields() -> None:
    # Hello 11, HelloAck 12, FloorRequest 1 with FLOOR-ID 1 (the vector's)
    assert _picked("plain_bfcp", "bfcp.primitive == 1") == [6]
    assert _picked("plain_bfcp", "bfcp.floor_id == 1") == [6]
    assert _picked("plain_bfcp", "bfcp.supp_primitive == 1") == [5]


@pytest.mark.parametrize(
    ("flt", "message", "start", "length"),
    [
        (
            "sip.Foo == 1",
            'Left side of "==" expression must be a field or function, not sip.Foo.',
            0,
            7,
        ),
        ("sipp", '"sipp" is neither a field nor a protocol name.', 0, 4),
        ("sip && && tcp", '"&&" was unexpected in this context.', 7, 2),
        ("tcp.port == 5060 5061", '"5061" was unexpected in this context.', 17, 4),
        ("sip.CSeq.seq == abc", '"abc" is not a valid number.', 16, 3),
        ("ip.src == 300.1.1.1", '"300.1.1.1" is not a valid address.', 10, 9),
        ('sip.Method == "INVITE', "The string is not closed.", 14, 7),
        ("(sip", "Unexpected end of filter expression.", 4, 1),
        ("sip.Method ==", "Unexpected end of filter expression.", 13, 1),
        ("sip $ tcp", '"$" was unexpected in this context.', 4, 1),
    ],
)
def test_errors_point_at_their_column(flt: str, message: str, start: int, length: int) -> None:
    with pytest.raises(FilterError) as e:
        compile_filter(flt)
    assert (e.value.message, e.value.start, e.value.length) == (message, start, length)


def test_error_shown_with_a_caret_like_tshark() -> None:
    with pytest.raises(FilterError) as e:
        compile_filter("sip.CSeq.seq == abc")
    # tshark 4.0: the message, the filter indented four spaces, a caret and tildes under it
    assert e.value.show() == (
        '"abc" is not a valid number.\n    sip.CSeq.seq == abc\n                    ^~~'
    )
