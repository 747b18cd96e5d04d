"""message/cpim against the RFC 3862 section 5 example, written out by hand with CRLFs."""

from __future__ import annotations

import pytest

from mikeyshark.dissectors import cpim
from mikeyshark.dissectors.errors import DissectError

RFC3862 = (
    b"From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
    b"To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n"
    b"DateTime: 2000-12-13T13:40:00-08:00\r\n"
    b"Subject: the weather will be fine today\r\n"
    b"Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n"
    b"NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
    b"Require: MyFeatures.VitalMessageOption\r\n"
    b"MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
    b"MyFeatures.WackyMessageOption: Use-silly-font\r\n"
    b"\r\n"
    b"Content-type: text/xml; charset=utf-8\r\n"
    b"Content-ID: <1234567890@foo.com>\r\n"
    b"\r\n"
    b"<body>\r\n"
    b"Here is the text of my message.\r\n"
    b"</body>\r\n"
)


def test_rfc3862_example_fields() -> None:
    m = cpim.parse_cpim(RFC3862)
    assert m.sender == cpim.CpimAddress("MR SANDERS", "im:piglet@100akerwood.com")
    assert m.recipients == (cpim.CpimAddress("Depressed Donkey", "im:eeyore@100akerwood.com"),)
    assert m.datetime == "2000-12-13T13:40:00-08:00"
    assert m.all("Subject") == (
        "the weather will be fine today",
        "beau temps prevu pour aujourd'hui",
    )
    assert m.headers[4].params == ("lang=fr",)
    assert m.namespaces == {"MyFeatures": "mid:MessageFeatures@id.foo.com"}
    assert m.header("MyFeatures.WackyMessageOption") == "Use-silly-font"
    assert m.content_type == "text/xml; charset=utf-8"
    assert m.media_type == "text/xml"
    assert m.content_headers[1] == cpim.MimeHeader("Content-ID", "<1234567890@foo.com>")
    assert m.body == b"<body>\r\nHere is the text of my message.\r\n</body>\r\n"
    assert cpim.build_cpim(m) == RFC3862


def test_make_cpim_layout() -> None:
    m = cpim.make_cpim(
        cpim.CpimAddress(None, "sip:alice@example.org"),
        [cpim.CpimAddress("Bob", "sip:bob@example.org")],
        b"Hi",
        datetime="2026-11-26T21:00:00Z",
    )
    assert cpim.build_cpim(m) == (
        b"From: <sip:alice@example.org>\r\n"
        b"To: Bob <sip:bob@example.org>\r\n"
        b"DateTime: 2026-11-26T21:00:00Z\r\n"
        b"\r\n"
        b"Content-Type: text/plain;charset=UTF-8\r\n"
        b"\r\n"
        b"Hi"
    )


@pytest.mark.parametrize(
    ("data", "offset", "field"),
    [
        (b"From <im:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\nx", 0, "header"),
        (b"From: <im:a@b>\r\nTo: <im:c@d>\r\n", 30, "headers"),
        (b"From: <im:a@b>\r\n\r\nno colon here\r\n\r\nx", 18, "content-header"),
    ],
)
def test_malformed_is_located(data: bytes, offset: int, field: str) -> None:
    with pytest.raises(DissectError) as e:
        cpim.parse_cpim(data)
    assert (e.value.offset, e.value.field) == (offset, field)
