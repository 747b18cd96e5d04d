"""H.248 / Megaco (H.248.1, RFC 3525) for the Mp leg: the text codec (parse and build), a
binary (BER) reader to command level, TPKT framing for TCP, names, the Mp profile and the
dissect view's rows. See docs/mp-profile.md.

Modules: :mod:`.model` (the typed message), :mod:`.text`, :mod:`.binary`, :mod:`.framing`,
:mod:`.tokens`, :mod:`.names`, :mod:`.mp`, :mod:`.tree`.
"""

from __future__ import annotations

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248.binary import looks_like_binary, parse_binary
from mikeyshark.dissectors.h248.model import MegacoMessage
from mikeyshark.dissectors.h248.text import build_message, looks_like_text, parse_message

PORT_TEXT = 2944  # H.248.1 Annex D: text encoding on UDP, TCP (TPKT) and SCTP
PORT_BINARY = 2945  # binary encoding
SCTP_PPID = 7  # SCTP payload protocol identifier of H.248 (IANA)


def parse_any(data: bytes) -> MegacoMessage:
    """A text or a binary message, whichever the bytes are."""
    if looks_like_text(data):
        return parse_message(data)
    if looks_like_binary(data):
        return parse_binary(data)
    raise DissectError("megaco", 0, "neither a Megaco text header nor a BER SEQUENCE", "header")


__all__ = [
    "PORT_BINARY",
    "PORT_TEXT",
    "SCTP_PPID",
    "MegacoMessage",
    "build_message",
    "looks_like_binary",
    "looks_like_text",
    "parse_any",
    "parse_binary",
    "parse_message",
]
