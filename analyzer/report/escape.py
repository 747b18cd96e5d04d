"""Wire text made safe for the places a report puts it: terminals and XML.

HTML needs nothing here (jinja2 autoescapes every value). A terminal obeys control
characters (C0, DEL, C1: cursor moves, colours, title changes), and XML 1.0 forbids most C0
characters and lone surrogates outright; both get a visible ``\\xNN`` / ``\\uNNNN`` instead.
"""

from __future__ import annotations

import re

# C0 (newline and tab included: a terminal line stays one line), DEL, C1, and lone
# surrogates (the undecodable bytes of wire text, which no terminal encoding can write)
_TERMINAL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TERMINAL_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
# what XML 1.0 does not allow as a character (section 2.2), tab, newline and CR aside
_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:
        c -= 0xDC00  # a byte that was not UTF-8 (decoded with surrogateescape): that byte
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal(text: str, keep_tab: bool = False) -> str:
    """``text`` with every control character shown as ``\\xNN`` (a tab kept with
    ``keep_tab``), and every byte that was not UTF-8 too."""
    return (_TERMINAL_TAB if keep_tab else _TERMINAL).sub(_visible, text)


def xml(text: str) -> str:
    """``text`` with every character XML 1.0 forbids shown as ``\\xNN`` / ``\\uNNNN``."""
    return _XML.sub(_visible, text)
