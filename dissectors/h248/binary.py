"""Binary H.248 (H.248.1 Annex A, ASN.1 BER) read down to command level.

A small BER walker rather than a full ASN.1 codec: the Mp profile is text, so a binary
message only has to be recognised and shown (version, mId, transactions with their ids,
contexts, commands and termination ids). That keeps the package free of an ASN.1 library
and of the Annex A module text. The tags below are Annex A's (AUTOMATIC TAGS: context tags
in field order, explicit on CHOICEs); the tests check them against BER written by Erlang/OTP
megaco, which is compiled from that module, and against tshark's H.248 dissector.

Descriptors are not decoded (``Command.descriptors`` stays empty). Termination ids are the
hex of their octets, as tshark shows them, followed by one ``[$n]`` / ``[*n]`` per wildcard
(CHOOSE / ALL at bit position n; ``+`` when it covers the lower levels too).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248.model import (
    CONTEXT_ALL,
    CONTEXT_CHOOSE,
    CONTEXT_NULL,
    Action,
    AuthHeader,
    Command,
    Descriptor,
    ErrorDescriptor,
    MegacoMessage,
    Mid,
    MidKind,
    SegmentReply,
    Transaction,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
    TransactionResponseAck,
)

LAYER = "megaco.ber"
PORT = 2945  # H.248.1 Annex D: binary encoding over UDP, TCP and SCTP

_UNIVERSAL, _CONTEXT = 0, 2
_SEQUENCE = 16
# Command CHOICE of a CommandRequest and CommandReply (Annex A), by context tag.
_REQUESTS = (
    "Add",
    "Move",
    "Modify",
    "Subtract",
    "AuditCapability",
    "AuditValue",
    "Notify",
    "ServiceChange",
)
_REPLIES = _REQUESTS  # addReply [0] ... serviceChangeReply [7], same order
_SPECIAL_CONTEXTS = {0: CONTEXT_NULL, 0xFFFFFFFE: CONTEXT_CHOOSE, 0xFFFFFFFF: CONTEXT_ALL}


@dataclass(frozen=True, slots=True)
class _Tlv:
    cls: int
    constructed: bool
    tag: int
    at: int  # first byte of the TLV
    start: int  # first byte of the value
    end: int


def _err(at: int, reason: str, field: str | None = None) -> DissectError:
    return DissectError(LAYER, at, reason, field)


def _read(data: bytes, pos: int, end: int) -> _Tlv:
    at = pos
    if pos >= end:
        raise _err(pos, "expected a BER element, found the end", "tag")
    first = data[pos]
    pos += 1
    tag = first & 0x1F
    if tag == 0x1F:
        tag = 0
        for _ in range(4):
            if pos >= end:
                raise _err(pos, "tag cut short", "tag")
            b = data[pos]
            pos += 1
            tag = (tag << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        else:
            raise _err(at, "tag number longer than 4 bytes", "tag")
    if pos >= end:
        raise _err(pos, "length missing", "length")
    n = data[pos]
    pos += 1
    if n == 0x80:
        raise _err(pos - 1, "indefinite length is not used by H.248", "length")
    if n & 0x80:
        k = n & 0x7F
        if k > 4 or pos + k > end:
            raise _err(pos - 1, f"length of {k} bytes", "length")
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise _err(at, f"element of {n} bytes exceeds the {end - pos} bytes left", "length")
    return _Tlv(first >> 6, bool(first & 0x20), tag, at, pos, pos + n)


def _children(data: bytes, t: _Tlv) -> list[_Tlv]:
    if not t.constructed:
        raise _err(t.at, "expected a constructed element", "tag")
    out: list[_Tlv] = []
    pos = t.start
    while pos < t.end:
        c = _read(data, pos, t.end)
        out.append(c)
        pos = c.end
    return out


def _ctx(data: bytes, t: _Tlv) -> dict[int, _Tlv]:
    """The context-tagged fields of a SEQUENCE, by tag (first of each)."""
    out: dict[int, _Tlv] = {}
    for c in _children(data, t):
        if c.cls == _CONTEXT:
            out.setdefault(c.tag, c)
    return out


def _need(fields: dict[int, _Tlv], tag: int, at: int, name: str) -> _Tlv:
    t = fields.get(tag)
    if t is None:
        raise _err(at, f"{name} [{tag}] missing", name)
    return t


def _uint(data: bytes, t: _Tlv, name: str) -> int:
    v = data[t.start : t.end]
    if not v or len(v) > 5 or (len(v) == 5 and v[0] != 0):
        raise _err(t.at, f"{name} of {len(v)} bytes is not an unsigned 32-bit integer", name)
    return int.from_bytes(v, "big")


def _ia5(data: bytes, t: _Tlv) -> str:
    return data[t.start : t.end].decode("latin-1")


def _mid(data: bytes, t: _Tlv) -> Mid:
    choice = _children(data, t)
    if len(choice) != 1:
        raise _err(t.at, "mId must hold one choice", "mId")
    c = choice[0]
    if c.tag in (0, 1, 2):
        f = _ctx(data, c)
        port = _uint(data, f[1], "portNumber") if 1 in f else None
        a = _need(f, 0, c.at, "address")
        raw = data[a.start : a.end]
        if c.tag == 0 and len(raw) == 4:
            return Mid(MidKind.IPV4, ".".join(str(b) for b in raw), port)
        if c.tag == 1 and len(raw) == 16:
            return Mid(MidKind.IPV6, str(ipaddress.IPv6Address(raw)), port)
        if c.tag == 2:
            return Mid(MidKind.DOMAIN, raw.decode("latin-1"), port)
        raise _err(a.at, f"address of {len(raw)} bytes", "mId")
    if c.tag == 3:
        return Mid(MidKind.DEVICE, _ia5(data, c))
    if c.tag == 4:
        return Mid(MidKind.MTP, data[c.start : c.end].hex())
    raise _err(c.at, f"unknown mId choice [{c.tag}]", "mId")


def _error(data: bytes, t: _Tlv) -> ErrorDescriptor:
    f = _ctx(data, t)
    code = _uint(data, _need(f, 0, t.at, "errorCode"), "errorCode")
    return ErrorDescriptor(code, _ia5(data, f[1]) if 1 in f else None)


def _termination_id(data: bytes, t: _Tlv) -> str:
    f = _ctx(data, t)
    ident = _need(f, 1, t.at, "id")
    text = data[ident.start : ident.end].hex()
    if 0 in f:
        for w in _children(data, f[0]):
            for b in data[w.start : w.end]:
                mode = "*" if b & 0x80 else "$"
                text += f"[{mode}{b & 0x3F}{'+' if b & 0x40 else ''}]"
    return text


def _termination_ids(data: bytes, t: _Tlv) -> tuple[str, ...]:
    return tuple(_termination_id(data, c) for c in _children(data, t))


def _context(n: int) -> str:
    return _SPECIAL_CONTEXTS.get(n, str(n))


def _command_request(data: bytes, t: _Tlv) -> Command:
    f = _ctx(data, t)
    wrapper = _need(f, 0, t.at, "command")
    choice = _children(data, wrapper)
    if len(choice) != 1 or choice[0].tag >= len(_REQUESTS):
        raise _err(wrapper.at, "unknown command choice", "command")
    c = choice[0]
    body = _ctx(data, c)
    tids_t = _need(body, 0, c.at, "terminationID")
    name = _REQUESTS[c.tag]
    if name in ("AuditValue", "AuditCapability"):
        ids: tuple[str, ...] = (_termination_id(data, tids_t),)
        if 3 in body:  # version 3 terminationIDList
            ids = _termination_ids(data, body[3])
    else:
        ids = _termination_ids(data, tids_t)
    return Command(name, ids, (), optional=1 in f, wildcard=2 in f)


def _command_reply(data: bytes, c: _Tlv) -> Command:
    if c.tag >= len(_REPLIES):
        raise _err(c.at, f"unknown command reply choice [{c.tag}]", "commandReply")
    name = _REPLIES[c.tag]
    descs: tuple[Descriptor, ...] = ()
    if name in ("AuditValue", "AuditCapability"):
        choice = _children(data, c)
        if not choice or len(choice) > 2:
            raise _err(c.at, "audit reply must hold one choice", "auditReply")
        r = choice[0]
        if len(choice) == 2 and r.tag == 0 and choice[1].tag == 1:
            # RFC 3015's AuditReply, a SEQUENCE {terminationID, terminationAuditResult}
            return Command(name, (_termination_id(data, r),))
        if r.tag == 0:  # contextAuditResult
            return Command(name, _termination_ids(data, r), context_audit=True)
        if r.tag == 1:
            return Command(name, (), (_error(data, r),), context_audit=True)
        body = _ctx(data, r)
        tids = _need(body, 0, r.at, "terminationID")
        ids = (_termination_id(data, tids),) if r.tag == 2 else _termination_ids(data, tids)
        return Command(name, ids)
    body = _ctx(data, c)
    ids = _termination_ids(data, _need(body, 0, c.at, "terminationID"))
    if name in ("Notify", "ServiceChange") and 1 in body:
        inner = body[1]
        if name == "Notify":
            descs = (_error(data, inner),)
        else:
            choice = _children(data, inner)
            if choice and choice[0].tag == 0:
                descs = (_error(data, choice[0]),)
    return Command(name, ids, descs)


def _action_request(data: bytes, t: _Tlv) -> Action:
    f = _ctx(data, t)
    ctx = _context(_uint(data, _need(f, 0, t.at, "contextId"), "contextId"))
    cmds = tuple(_command_request(data, c) for c in _children(data, f[3])) if 3 in f else ()
    return Action(ctx, cmds)


def _action_reply(data: bytes, t: _Tlv) -> Action:
    f = _ctx(data, t)
    ctx = _context(_uint(data, _need(f, 0, t.at, "contextId"), "contextId"))
    err = _error(data, f[1]) if 1 in f else None
    cmds = tuple(_command_reply(data, c) for c in _children(data, f[3])) if 3 in f else ()
    return Action(ctx, cmds, (), err)


def _transaction(data: bytes, t: _Tlv) -> Transaction:
    if t.cls != _CONTEXT or t.tag > 4:
        raise _err(t.at, f"unknown transaction choice [{t.tag}]", "transaction")
    f = _ctx(data, t)
    if t.tag == 3:  # transactionResponseAck: SEQUENCE OF TransactionAck
        acks = []
        for a in _children(data, t):
            af = _ctx(data, a)
            first = _uint(data, _need(af, 0, a.at, "firstAck"), "firstAck")
            acks.append((first, _uint(data, af[1], "lastAck") if 1 in af else None))
        return TransactionResponseAck(tuple(acks))
    tid = _uint(data, _need(f, 0, t.at, "transactionId"), "transactionId")
    if t.tag == 0:
        actions = _children(data, _need(f, 1, t.at, "actions"))
        return TransactionRequest(tid, tuple(_action_request(data, a) for a in actions))
    if t.tag == 1:
        return TransactionPending(tid)
    if t.tag == 2:
        result = _children(data, _need(f, 2, t.at, "transactionResult"))
        if len(result) != 1:
            raise _err(t.at, "transactionResult must hold one choice", "transactionResult")
        r = result[0]
        seg = _uint(data, f[3], "segmentNumber") if 3 in f else None
        if r.tag == 0:
            return TransactionReply(tid, (), _error(data, r), 1 in f, seg, 4 in f)
        replies = tuple(_action_reply(data, a) for a in _children(data, r))
        return TransactionReply(tid, replies, None, 1 in f, seg, 4 in f)
    seg = _uint(data, _need(f, 1, t.at, "segmentNumber"), "segmentNumber")
    return SegmentReply(tid, seg, 2 in f)


def looks_like_binary(data: bytes) -> bool:
    """A BER SEQUENCE whose length fits the data: how a binary message starts."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    try:
        t = _read(data, 0, len(data))
    except DissectError:
        return False
    return t.end == len(data)


def parse_binary(data: bytes) -> MegacoMessage:
    """Parse one binary message to command level; a transaction that does not decode is
    reported in ``problems`` and the others are kept."""
    top = _read(data, 0, len(data))
    if top.cls != _UNIVERSAL or top.tag != _SEQUENCE or not top.constructed:
        raise _err(0, "a binary H.248 message starts with a SEQUENCE", "MegacoMessage")
    problems: list[DissectError] = []
    if top.end != len(data):
        problems.append(_err(top.end, f"{len(data) - top.end} bytes after the message", "length"))
    f = _ctx(data, top)
    auth = None
    if 0 in f:
        af = _ctx(data, f[0])
        parts = [data[af[i].start : af[i].end] if i in af else b"" for i in range(3)]
        auth = AuthHeader(
            int.from_bytes(parts[0], "big"), int.from_bytes(parts[1], "big"), parts[2]
        )
    mess = _ctx(data, _need(f, 1, top.at, "mess"))
    version = _uint(data, _need(mess, 0, top.at, "version"), "version")
    mid = _mid(data, _need(mess, 1, top.at, "mId"))
    body = _children(data, _need(mess, 2, top.at, "messageBody"))
    if len(body) != 1:
        raise _err(top.at, "messageBody must hold one choice", "messageBody")
    if body[0].tag == 0:
        return MegacoMessage(version, mid, (), _error(data, body[0]), auth, True, tuple(problems))
    transactions: list[Transaction] = []
    for t in _children(data, body[0]):
        try:
            transactions.append(_transaction(data, t))
        except DissectError as e:
            problems.append(e)
    if not transactions and problems:
        raise problems[0]
    return MegacoMessage(version, mid, tuple(transactions), None, auth, True, tuple(problems))


__all__ = ["LAYER", "PORT", "looks_like_binary", "parse_binary"]
