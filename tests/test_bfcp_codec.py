"""BFCP codec against hand-written bytes (RFC 4582 / RFC 8855 formats, PROTOCOLS.md 7.3)."""

from __future__ import annotations

import pytest

from dissectors import bfcp
from dissectors.errors import DissectError

# PROTOCOLS.md 7.3 examples, verified there against tshark on the vector.
HELLO = bytes.fromhex("200b0000 00000001 0001 0002")
HELLO_ACK = bytes.fromhex(
    "200c0009 00000001 0001 0002"
    " 170e 0102030405060708090a0b0c 0000"
    " 1514 020406080a0c0e10121416181a1c1e202224"
)
FLOOR_REQUEST = bytes.fromhex("20010001 00000001 0002 0002 05040001")


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
