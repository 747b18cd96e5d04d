"""BFCP codec against hand-written bytes (RFC 4582 / RFC 8855 formats)."""

from __future__ import annotations

import pytest

from mikeyshark.dissectors import bfcp
from mikeyshark.dissectors.errors import DissectError
from tests.support.bfcp_samples import FLOOR_REQUEST, GRANTED, HELLO, HELLO_ACK


def test_hello_header_fields() -> None:
    m = bfcp.parse_message(HELLO)
    assert (m.version, m.responder, m.fragment) == (1, False, None)
    assert (m.primitive, m.conference_id, m.transaction_id, m.user_id) == (11, 1, 1, 2)
    assert m.attributes == ()
    assert bfcp.build_message(bfcp.hello(1, 1, 2)) == HELLO


def test_hello_ack_supported_lists_and_padding() -> None:
    m = bfcp.parse_message(HELLO_ACK)
    prims, attrs = m.attributes
    assert isinstance(prims, bfcp.SupportedPrimitives)
    assert prims.primitives == tuple(range(1, 13))
    assert isinstance(attrs, bfcp.SupportedAttributes)
    assert attrs.types == tuple(range(1, 19))
    assert bfcp.build_message(bfcp.hello_ack(bfcp.hello(1, 1, 2))) == HELLO_ACK


def test_floor_request_floor_id() -> None:
    m = bfcp.parse_message(FLOOR_REQUEST)
    assert m.primitive == bfcp.PRIMITIVES["FloorRequest"] == 1
    assert m.attributes == (bfcp.FloorId(1, mandatory=True),)
    assert bfcp.build_message(bfcp.floor_request(1, 2, 2, [1])) == FLOOR_REQUEST


def test_lying_payload_length_is_located() -> None:
    with pytest.raises(DissectError) as e:
        bfcp.parse_message(bytes.fromhex("20010002 00000001 0002 0002 05040001"))
    assert e.value.field == "payload_length"
    assert e.value.offset == 12


def test_grouped_floor_request_information_by_hand() -> None:
    m = bfcp.parse_message(GRANTED)
    expect = bfcp.FloorRequestInformation(
        1,
        (
            bfcp.OverallRequestStatus(1, (bfcp.RequestStatus(3, 0), bfcp.StatusInfo("Granted"))),
            bfcp.FloorRequestStatus(1),
        ),
    )
    assert m.attributes == (expect,)
    assert m.primitive_name == "FloorRequestStatus"
    built = bfcp.floor_request_status(
        bfcp.floor_request(1, 3, 2, [1]), 1, [1], 3, status_info="Granted"
    )
    assert bfcp.build_message(built) == GRANTED
    assert bfcp.info_line(m) == "BFCP FloorRequestStatus (Granted)"


def test_nested_padding_outside_group_length_is_accepted() -> None:
    # Some stacks leave the last nested attribute's padding out of the group's Length.
    data = bytes.fromhex("20040004 00000001 0003 0002 1f0f 0001 1309 4772616e746564 000000")
    (fri,) = bfcp.parse_message(data).attributes
    assert fri == bfcp.FloorRequestInformation(1, (bfcp.StatusInfo("Granted"),))


def test_beneficiary_and_requested_by_information_with_text() -> None:
    # BENEFICIARY-INFORMATION 14: 1d 24 0009 (length 4 + 8 + 24)
    #   | USER-DISPLAY-NAME 12 "Bob": 19 05 426f62 + 3 pad
    #   | USER-URI 13 "sip:bob@example.org": 1b 15 + 19 bytes + 3 pad
    # REQUESTED-BY-INFORMATION 16 (M=0): 20 04 0007
    data = bytes.fromhex(
        "2001000a 0000000a 0005 0007"
        " 1d24 0009 1905 426f62 000000 1b15 7369703a626f62406578616d706c652e6f7267 000000"
        " 2004 0007"
    )
    m = bfcp.parse_message(data)
    assert m.attributes == (
        bfcp.BeneficiaryInformation(
            9, (bfcp.UserDisplayName("Bob"), bfcp.UserUri("sip:bob@example.org"))
        ),
        bfcp.RequestedByInformation(7, mandatory=False),
    )
    assert bfcp.build_message(m) == data


def test_fixed_attributes_priority_error_code_and_unknown() -> None:
    data = bytes.fromhex(
        "200d0006 00000001 0009 0002"
        " 0d05 04 0e24 000000"  # ERROR-CODE 6: code 4 (unknown mandatory attr) types 7 and 18
        " 0f06 61626364 0000"  # ERROR-INFO 7: "abcd"
        " 0904 6000"  # PRIORITY 4: 3 (High) in the top 3 bits
        " fe03 ff 00"  # type 127, M=0: unknown, 1 content byte
    )
    m = bfcp.parse_message(data)
    ec, info, prio, unk = m.attributes
    assert ec == bfcp.ErrorCode(4, b"\x0e\x24")
    assert isinstance(ec, bfcp.ErrorCode)
    assert ec.unknown_types == (7, 18)
    assert info == bfcp.ErrorInfo("abcd")
    assert prio == bfcp.Priority(3)
    assert unk == bfcp.UnknownAttribute(127, b"\xff", mandatory=False)
    assert bfcp.build_message(m) == data
    assert bfcp.ERROR_CODES.label(ec.code) == "Unknown Mandatory Attribute"
    tree = bfcp.detail_tree(m)
    assert (
        1,
        "ERROR-CODE (6) [M]: Unknown Mandatory Attribute (ERROR-INFO, OVERALL-REQUEST-STATUS)",
    ) in tree
    assert (1, "PRIORITY (4) [M]: High") in tree


def test_rfc8855_header_bits_and_primitives() -> None:
    # Version 2, R bit set, GoodbyeAck (18); and a fragment (F bit) with its extra header.
    r = bfcp.parse_message(bytes.fromhex("50120000 00000001 0005 0002"))
    assert (r.version, r.responder, r.primitive_name) == (2, True, "GoodbyeAck")
    frag = bytes.fromhex("48040001 00000001 0006 0002 0002 0001 0b040300")
    f = bfcp.parse_message(frag)
    assert f.fragment == bfcp.Fragment(2, 1, bytes.fromhex("0b040300"))
    assert f.attributes == ()
    assert bfcp.build_message(f) == frag


@pytest.mark.parametrize(
    ("hexdata", "offset", "field"),
    [
        ("20010001 00000001 0002 0002 0506 0001", 14, "FLOOR-ID"),  # attribute runs past payload
        ("20010001 00000001 0002 0002 0502 0001", 12, "FLOOR-ID"),  # fixed attribute, Length 2
        ("20010001 00000001 0002 0002 0501 0001", 12, "FLOOR-ID"),  # Length < 2
        ("60010000 00000001 0002 0002", 0, "version"),  # version 3
        ("20010000 00000001 0002", 10, "user_id"),  # header cut short
        ("20010002 00000001 0002 0002 1f08 0001 2308 0001", 18, "FLOOR-REQUEST-STATUS"),
        ("200c0001 00000001 0001 0002 1b04 ff00", 14, "USER-URI"),  # invalid UTF-8
    ],
)
def test_malformed_is_located(hexdata: str, offset: int, field: str) -> None:
    with pytest.raises(DissectError) as e:
        bfcp.parse_message(bytes.fromhex(hexdata))
    assert (e.value.layer, e.value.offset, e.value.field) == ("bfcp", offset, field)


def test_several_messages_in_one_record() -> None:
    msgs = bfcp.parse_messages(HELLO + HELLO_ACK + FLOOR_REQUEST)
    assert [m.primitive_name for m in msgs] == ["Hello", "HelloAck", "FloorRequest"]
    with pytest.raises(DissectError) as e:
        bfcp.parse_message(HELLO + HELLO)
    assert (e.value.offset, e.value.field) == (12, "payload_length")


def test_builders_refuse_what_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="255"):
        bfcp.build_message(bfcp.Message(13, 1, 1, 1, (bfcp.ErrorInfo("x" * 254),)))
    with pytest.raises(ValueError, match="7 bits"):
        bfcp.build_attributes([bfcp.UnknownAttribute(128, b"")])
    with pytest.raises(ValueError, match="PRIORITY"):
        bfcp.build_attributes([bfcp.Priority(8)])


def test_looks_like_bfcp() -> None:
    assert bfcp.looks_like_bfcp(HELLO_ACK)
    assert bfcp.looks_like_bfcp(HELLO_ACK[:20])  # incomplete but a plausible header
    assert not bfcp.looks_like_bfcp(b"MSRP a786hjs2 SEND\r\n")
    assert not bfcp.looks_like_bfcp(bytes.fromhex("16030100 40010000 3c0303"))
    assert not bfcp.looks_like_bfcp(bytes.fromhex("20010001 00000001 0002 0002 0502 0001"))
    assert not bfcp.looks_like_bfcp(HELLO[:11])


def test_size_counts_and_measures_nested_attributes_in_one_pass() -> None:
    # GRANTED (hand-written): FLOOR-REQUEST-INFORMATION > {OVERALL-REQUEST-STATUS >
    # {REQUEST-STATUS, STATUS-INFO}, FLOOR-REQUEST-STATUS}: 5 attributes, 3 levels
    attrs = bfcp.parse_message(GRANTED).attributes
    assert bfcp.size(attrs) == (5, 3)
    assert bfcp.size(bfcp.parse_message(HELLO_ACK).attributes) == (2, 1)
    assert bfcp.size(()) == (0, 0)
    assert bfcp.size((bfcp.FloorRequestStatus(1),)) == (1, 1)  # a group that holds nothing
