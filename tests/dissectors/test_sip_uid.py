from __future__ import annotations

import pytest

from mikeyshark.dissectors.sip import kms_uid


@pytest.mark.parametrize(
    ("given", "uid"),
    [
        # the profile's own example (docs/profile.md)
        ('"Alice" <sip:Alice@Example.ORG;transport=tcp>', "sip:Alice@example.org"),
        ("<SIP:bob@EXAMPLE.org>;tag=9fxced76sl", "sip:bob@example.org"),
        ("sips:conf1@conf.example.org:5061", "sips:conf1@conf.example.org:5061"),
        # not a SIP URI: compared as written, without surrounding blanks
        ("  tel:+4912345  ", "tel:+4912345"),
        ("kms.example.org", "kms.example.org"),
    ],
)
def test_kms_uid(given: str, uid: str) -> None:
    assert kms_uid(given) == uid
