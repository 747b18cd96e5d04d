"""Binary H.248 (BER) read to command level, on messages Erlang/OTP megaco encoded from the
text beside each (tests/vectors/megaco/ber_erlang.json); the expected values are read off
that text by hand. Termination id bits "11111111/00000000/00000000" are the octets ff0000."""

from __future__ import annotations

import contextlib
import json

import pytest

from mikeyshark.dissectors import h248
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248 import binary
from mikeyshark.dissectors.h248.model import (
    Action,
    Command,
    ErrorDescriptor,
    Mid,
    MidKind,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
    TransactionResponseAck,
)
from tests.support.h248_capture import HEPLIFY

VECTORS = json.loads((HEPLIFY.parent / "ber_erlang.json").read_text())
BER = [bytes.fromhex(v["ber"]) for v in VECTORS]
MG = Mid(MidKind.IPV4, "10.0.0.2", 2944)
MGC = Mid(MidKind.IPV4, "10.0.0.1", 2944)


def test_add_request_with_choose_context_and_choose_termination() -> None:
    m = binary.parse_binary(BER[0])
    assert (m.version, m.mid, m.binary, m.problems) == (1, MGC, True, ())
    # "$" is one wildcard octet 0x57: CHOOSE, this level and below, bit position 23
    assert m.transactions == (
        TransactionRequest(
            1001, (Action("$", (Command("Add", ("ff0000",)), Command("Add", ("000000[$23+]",)))),)
        ),
    )


def test_reply_notify_error_pending() -> None:
    assert binary.parse_binary(BER[1]).transactions == (
        TransactionReply(
            1001, (Action("2000", (Command("Add", ("ff0000",)), Command("Add", ("ff00ff",)))),)
        ),
    )
    assert binary.parse_binary(BER[2]).transactions == (
        TransactionRequest(10000, (Action("-", (Command("Notify", ("ff0000",)),)),)),
    )
    assert binary.parse_binary(BER[3]).transactions == (
        TransactionReply(10000, (), ErrorDescriptor(500, "oops")),
    )
    assert binary.parse_binary(BER[4]).transactions == (TransactionPending(10001),)


def test_service_change_domain_mid_version_2_ack_audit() -> None:
    m = binary.parse_binary(BER[5])
    assert m.mid == Mid(MidKind.DOMAIN, "mg1.example", 2944)
    # megaco writes ROOT as the all-ones termination id
    assert m.transactions == (
        TransactionRequest(9998, (Action("-", (Command("ServiceChange", ("ff" * 8,)),)),)),
    )
    m = binary.parse_binary(BER[6])
    assert m.version == 2
    assert m.transactions == (
        TransactionRequest(
            77, (Action("5", (Command("Subtract", ("ff0000",)), Command("Modify", ("ffff00",)))),)
        ),
    )
    assert binary.parse_binary(BER[7]).transactions == (
        TransactionResponseAck(((1001, None), (1005, 1010))),
    )
    assert binary.parse_binary(BER[8]).transactions == (
        TransactionReply(
            20,
            (Action("3", (Command("AuditValue", ("ff0000",)), Command("Subtract", ("ff00ff",)))),),
        ),
    )
    assert binary.parse_binary(BER[9]).transactions == (
        TransactionRequest(21, (Action("*", (Command("AuditValue", ("ff0000",)),)),)),
    )


def test_recognition() -> None:
    assert all(binary.looks_like_binary(b) for b in BER)
    assert not binary.looks_like_binary(b"MEGACO/1 [10.0.0.1]:2944 T=1{C=-{A=a}}")
    assert not binary.looks_like_binary(BER[0][:-1])  # the SEQUENCE does not fit
    assert h248.parse_any(BER[4]).transactions == (TransactionPending(10001),)
    assert h248.parse_any(b"!/1 [10.0.0.1]:2944 PN=7{}").transactions == (TransactionPending(7),)
    with pytest.raises(DissectError):
        h248.parse_any(b"\x16\x03\x01\x00\x05hello")


def test_bad_transaction_is_skipped_the_others_kept() -> None:
    # transactions [1] { pending, an unknown choice [7], pending }, lengths fixed up
    good = BER[4]
    i = good.index(bytes.fromhex("a106a104800227"))  # transactions { pending {...} }
    pending = good[i + 2 : i + 8]
    bogus = bytes.fromhex("a7020500")
    body = pending + bogus + pending
    msg = good[: i + 1] + bytes((len(body),)) + body
    head = bytearray(msg)
    # fix the enclosing lengths (messageBody, mess, MegacoMessage), each one byte long
    delta = len(msg) - len(good)
    for pos in (1, 3, i - 1):
        head[pos] += delta
    m = binary.parse_binary(bytes(head))
    assert m.transactions == (TransactionPending(10001), TransactionPending(10001))
    (p,) = m.problems
    assert (p.field, p.offset) == ("transaction", i + 2 + len(pending))


def test_every_truncation_and_mutation_raises_only_dissect_error() -> None:
    for data in BER:
        for i in range(len(data)):
            for cut in (
                data[:i],
                data[:i] + b"\xff" + data[i + 1 :],
                data[:i] + b"\x80" + data[i:],
            ):
                with contextlib.suppress(DissectError):
                    binary.parse_binary(cut)


def _tlv(tag: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    assert len(body) < 128
    return bytes((tag, len(body))) + body


def test_rfc3015_audit_reply_sequence() -> None:
    # RFC 3015 wrote AuditReply as SEQUENCE {terminationID [0], terminationAuditResult [1]};
    # later versions made it a CHOICE. Hand-built: Reply 20, context 3, AuditValue of ff0000.
    tid = _tlv(0xA0, _tlv(0xA0), _tlv(0x81, b"\xff\x00\x00"))
    audit_value = _tlv(0xA5, tid, _tlv(0xA1))
    action = _tlv(0x30, _tlv(0x80, b"\x03"), _tlv(0xA3, audit_value))
    reply = _tlv(0xA2, _tlv(0x80, b"\x14"), _tlv(0xA2, _tlv(0xA1, action)))
    mid = _tlv(0xA1, _tlv(0xA0, _tlv(0x80, bytes((10, 0, 0, 2))), _tlv(0x81, b"\x0b\x80")))
    msg = _tlv(0x30, _tlv(0xA1, _tlv(0x80, b"\x01"), mid, _tlv(0xA2, _tlv(0xA1, reply))))
    m = binary.parse_binary(msg)
    assert (m.mid, m.problems) == (MG, ())
    assert m.transactions == (
        TransactionReply(20, (Action("3", (Command("AuditValue", ("ff0000",)),)),)),
    )
