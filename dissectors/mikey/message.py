"""A MIKEY message: the HDR and the payload chain after it, parsed and built symmetrically."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey import constants as C
from mikeyshark.dissectors.mikey.payloads import (
    LAYER,
    GeneralExt,
    Hdr,
    Idr,
    Kemac,
    Payload,
    Randr,
    Sign,
    Ticket,
    Unknown,
    build_hdr,
    build_payload,
    parse_hdr,
    parse_payload,
    payload_type,
)

P = TypeVar("P")

# Payloads that only MIKEY-TICKET messages carry (RFC 6043): how a message is recognised
# when its data type is not one we know.
_TICKET_PAYLOADS = frozenset({13, 14, 15, 16, 17})


@dataclass(frozen=True, slots=True)
class MikeyMessage:
    hdr: Hdr
    payloads: tuple[Payload, ...]

    def find(self, cls: type[P]) -> P | None:
        for p in self.payloads:
            if isinstance(p, cls):
                return p
        return None

    def find_all(self, cls: type[P]) -> list[P]:
        return [p for p in self.payloads if isinstance(p, cls)]

    def __iter__(self) -> Iterator[Payload]:
        return iter(self.payloads)

    @property
    def data_type_name(self) -> str:
        return C.DATA_TYPE.label(self.hdr.data_type)

    def is_ticket_message(self) -> bool:
        """RFC 6043 by data type or, when that is unknown, by its payloads."""
        if 11 <= self.hdr.data_type <= 18:
            return True
        return any(payload_type(p) in _TICKET_PAYLOADS for p in self.payloads)

    def idr(self, role: int) -> Idr | None:
        for p in self.payloads:
            if isinstance(p, Idr) and p.role == role:
                return p
        return None

    def randr(self, role: int) -> Randr | None:
        for p in self.payloads:
            if isinstance(p, Randr) and p.role == role:
                return p
        return None

    def unknowns(self) -> list[str]:
        """Values outside our tables, for the report (so the profile can be checked)."""
        out: list[str] = []
        h = self.hdr
        if h.version != C.VERSION:
            out.append(f"HDR version {h.version}")
        if h.data_type not in C.DATA_TYPE:
            out.append(f"data type {h.data_type}")
        if h.prf_func not in C.PRF_FUNC:
            out.append(f"PRF func {h.prf_func}")
        for p in self.payloads:
            if isinstance(p, Unknown):
                out.append(
                    f"payload type {p.ptype} at offset {p.offset} ({len(p.raw)} bytes kept raw)"
                )
            elif isinstance(p, Kemac):
                if p.encr_alg not in C.ENCR_ALG:
                    out.append(f"KEMAC encr alg {p.encr_alg}")
                if p.mac_alg not in C.MAC_ALG:
                    out.append(f"KEMAC MAC alg {p.mac_alg}")
            elif isinstance(p, Ticket) and p.ticket_type not in C.TICKET_TYPE:
                out.append(f"ticket type {p.ticket_type}")
            elif isinstance(p, GeneralExt) and p.ext_type not in C.GEN_EXT_TYPE:
                out.append(f"general extension type {p.ext_type}")
        return out


def parse_chain(data: bytes, first: int, start: int = 0, layer: str = LAYER) -> tuple[Payload, ...]:
    """Payloads from ``start`` to the end of ``data``, the first being of type ``first``.

    The chain must end (next payload 0, or a SIGN) exactly at the end of ``data``.
    """
    r = Reader(data, layer, start)
    out: list[Payload] = []
    nxt = first
    while nxt != 0:
        if r.eof():
            raise r.error(
                f"payload {C.PAYLOAD_TYPE.label(nxt)} announced but the message ends",
                "next_payload",
            )
        p, nxt = parse_payload(nxt, r)
        out.append(p)
    if not r.eof():
        raise r.error(f"{r.remaining} bytes after the last payload", "next_payload")
    return tuple(out)


def build_chain(payloads: tuple[Payload, ...] | list[Payload]) -> bytes:
    w = Writer()
    for i, p in enumerate(payloads):
        last = i + 1 == len(payloads)
        if isinstance(p, Unknown | Sign) and not last:
            raise ValueError(f"{type(p).__name__} payload can only be the last one")
        build_payload(w, p, 0 if last else payload_type(payloads[i + 1]))
    return w.getvalue()


def first_type(payloads: tuple[Payload, ...] | list[Payload]) -> int:
    return payload_type(payloads[0]) if payloads else 0


def parse(data: bytes) -> MikeyMessage:
    """Parse one MIKEY message; raises :class:`DissectError` at the first bad field."""
    r = Reader(data, LAYER)
    hdr, nxt = parse_hdr(r)
    return MikeyMessage(hdr, parse_chain(data, nxt, r.pos))


def build(msg: MikeyMessage) -> bytes:
    w = Writer()
    build_hdr(w, msg.hdr, first_type(msg.payloads))
    return w.getvalue() + build_chain(msg.payloads)


__all__ = ["DissectError", "MikeyMessage", "build", "build_chain", "parse", "parse_chain"]
