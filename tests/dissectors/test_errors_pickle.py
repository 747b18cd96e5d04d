"""Errors travel between processes (``--jobs``, Dask pickle what a worker raises): each one
comes back as itself, with every field, not as an exception that cannot be rebuilt."""

from __future__ import annotations

import pickle

import pytest

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey.ticket import TicketError
from mikeyshark.dissectors.tls.constants import CIPHER_SUITES, TLS11
from mikeyshark.dissectors.tls.engine import TlsError
from mikeyshark.dissectors.tls.protection import tls12_protection


def test_dissect_error_round_trip() -> None:
    e = DissectError("sip", 42, "malformed CSeq '1 INVITEM'", "cseq")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is DissectError
    assert (back.layer, back.offset, back.reason, back.field) == (
        "sip",
        42,
        "malformed CSeq '1 INVITEM'",
        "cseq",
    )
    assert str(back) == "sip.cseq at offset 42: malformed CSeq '1 INVITEM'"
    assert back.code == "sip.cseq"  # the default code: layer and field
    coded = pickle.loads(pickle.dumps(DissectError("tls", 5, "bad MAC", "record", "tls.mac")))
    assert (coded.code, coded.field) == ("tls.mac", "record")
    plain = pickle.loads(pickle.dumps(DissectError("tcp", 0, "short")))
    assert (plain.field, str(plain)) == (None, "tcp at offset 0: short")


def test_tls_and_ticket_errors_round_trip() -> None:
    t = pickle.loads(pickle.dumps(TlsError(20, "bad record MAC")))
    assert (type(t), t.description, t.reason, str(t)) == (
        TlsError,
        20,
        "bad record MAC",
        "bad record MAC",
    )
    k = pickle.loads(pickle.dumps(TicketError("bad-mac", "MAC of the ticket does not verify")))
    assert (type(k), k.code, k.reason) == (
        TicketError,
        "bad-mac",
        "MAC of the ticket does not verify",
    )


def test_aead_suite_below_tls12_is_a_dissect_error() -> None:
    """RFC 5246 6.2.3.3: AEAD record protection exists from TLS 1.2 on; a ServerHello can pair
    TLS 1.1 with a GCM suite all the same, and that is bad input, not a crash."""
    suite = CIPHER_SUITES[0x00A8]  # TLS_PSK_WITH_AES_128_GCM_SHA256 (RFC 5487)
    with pytest.raises(DissectError) as info:
        tls12_protection(suite, TLS11, bytes(16), b"", bytes(4))
    assert (info.value.layer, info.value.field, info.value.reason) == (
        "tls",
        "version",
        "TLS_PSK_WITH_AES_128_GCM_SHA256 needs TLS 1.2",
    )
