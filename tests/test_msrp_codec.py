"""MSRP codec against hand-written bytes in the RFC 4975 format."""

from __future__ import annotations

import pytest

from dissectors import msrp
from dissectors.errors import DissectError

# PROTOCOLS.md 6.2, the SEND of the app/ and tls_psk/ vectors (tshark decodes it the same).
SEND = (
    b"MSRP a786hjs2 SEND\r\n"
    b"To-Path: msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp\r\n"
    b"From-Path: msrps://192.0.2.1:50000/asfd34;tcp\r\n"
    b"Message-ID: 87652491\r\n"
    b"Byte-Range: 1-37/37\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Hello Bob, this is MSRP over TLS-PSK.\r\n"
    b"-------a786hjs2$\r\n"
)
OK = (
    b"MSRP a786hjs2 200 OK\r\n"
    b"To-Path: msrps://192.0.2.1:50000/asfd34;tcp\r\n"
    b"From-Path: msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp\r\n"
    b"-------a786hjs2$\r\n"
)


def test_send_fields() -> None:
    m = msrp.parse_message(SEND)
    assert (m.transaction_id, m.method, m.status, m.flag) == ("a786hjs2", "SEND", None, "$")
    assert m.message_id == "87652491"
    assert m.byte_range == msrp.ByteRange(1, 37, 37)
    assert m.content_type == "text/plain"
    assert m.body == b"Hello Bob, this is MSRP over TLS-PSK."
    (to,) = m.to_path
    assert (to.scheme, to.host, to.port, to.session_id, to.transport) == (
        "msrps",
        "192.0.2.2",
        5061,
        "kjhd37s2s20w2a",
        "tcp",
    )
    assert msrp.build_message(m) == SEND


def test_response_built_from_request() -> None:
    req = msrp.parse_message(SEND)
    assert msrp.build_message(msrp.response(req)) == OK
    r = msrp.parse_message(OK)
    assert (r.status, r.comment, r.body) == (200, "OK", None)


def test_missing_end_line() -> None:
    with pytest.raises(DissectError) as e:
        msrp.parse_message(SEND[:-18])
    assert e.value.field == "end-line"
