"""Wire text as data: what the analysis hands the writers is text every writer can encode.

SIP and SDP are decoded as UTF-8 with ``surrogateescape`` (``dissectors.sip``), so that a
message rebuilt from its parts gives back its very bytes; a byte that is not UTF-8 becomes a
lone surrogate, which no UTF-8 writer accepts (a Latin-1 Call-ID made ``--json``, ``--html``
and ``--junit`` fail, and ``--json -`` write invalid UTF-8). :func:`shown` turns each such
byte into a visible ``\\xNN``; :func:`scrub` does it for every string of a finished result
(calls, problems), in place, before any writer sees it. Control characters stay: each writer
escapes what its medium cannot hold (``report.escape``: terminals, XML).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any, TypeVar

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    # U+DC80..U+DCFF is how surrogateescape carries the byte 0x80..0xFF
    return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}"


def shown(text: str) -> str:
    """``text`` with each undecodable wire byte as ``\\xNN`` (other lone surrogates
    ``\\uNNNN``): a string every UTF-8 writer can encode."""
    if text.isascii():
        return text
    return _SURROGATE.sub(_visible, text)


def scrub(obj: object) -> object:
    """``obj`` with :func:`shown` applied to every string it holds, through dataclasses
    (frozen ones too), lists, tuples and dicts; changed in place where it can be, so the
    same objects (a problem listed by the call and by the capture) stay one. Returns the
    object to use in its place (a new tuple or string when one changed)."""
    return _scrub(obj, set())


# Exact types that hold no text: returned as they are without a look (subclasses, such as a
# bool or an IntEnum, take the general path).
_ATOMIC: frozenset[type] = frozenset({int, float, bool, bytes, bytearray, type(None)})
# Those and the classes whose text never held a wire byte that is not UTF-8 (strict_text)
_PASS: set[type] = set(_ATOMIC)
_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass's field names, by class
_C = TypeVar("_C", bound=type)


def strict_text(cls: _C) -> _C:
    """Class decorator: every string an instance holds was decoded as strict UTF-8 (MSRP,
    BFCP, CPIM) or written by the analysis (addresses of packets, names), never with
    ``surrogateescape``: :func:`scrub` passes its instances by without a look (a call's MSRP
    and BFCP messages are most of what a report holds)."""
    _PASS.add(cls)
    return cls


def _field_names(obj: object) -> tuple[str, ...]:
    """The fields of a dataclass that may hold text: all but those annotated with numbers,
    bytes and None alone (``int | None``, ``bytes``: the analysis types its records, mypy
    holds it to them)."""
    t = type(obj)
    names = _FIELDS.get(t)
    if names is None:
        names = ()
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            names = tuple(f.name for f in dataclasses.fields(obj) if not _never_text(f.type))
        _FIELDS[t] = names
    return names


_NO_TEXT = frozenset({"int", "bool", "float", "bytes", "bytearray", "None"})
# containers whose items the annotation names (``list[int]``: the frames of an m-line)
_CONTAINERS = frozenset({"list", "tuple", "set", "frozenset", "..."})
_SPLIT = re.compile(r"[|\[\],]")


def _never_text(annotation: object) -> bool:
    """Whether a field's annotation admits numbers, bytes and None alone, or containers of
    them (``list[int]``, ``tuple[tuple[int, int], ...]``)."""
    if isinstance(annotation, str):  # (``from __future__ import annotations``)
        names = {part.strip() for part in _SPLIT.split(annotation)} - {""}
        return bool(names - _CONTAINERS) and names <= _NO_TEXT | _CONTAINERS
    return annotation in _ATOMIC


def _item(v: object, seen: set[int]) -> object:
    """:func:`_scrub` of a member, with the commonest members (ASCII text, numbers, None)
    decided here: a report holds tens of thousands of them."""
    if type(v) is str:
        return v if v.isascii() else _SURROGATE.sub(_visible, v)
    if type(v) in _PASS:
        return v
    return _scrub(v, seen)


def _scrub(obj: object, seen: set[int]) -> object:
    # The loops test the commonest members inline (a call is a few thousand of them): only
    # text that is not ASCII and containers go through _item.
    if isinstance(obj, enum.Enum):  # the program's own values (a rule's status, severity)
        _PASS.add(type(obj))  # passed inline from now on
        return obj
    if isinstance(obj, str):
        return shown(obj)
    if obj is None or isinstance(obj, int | float | bytes | bytearray):
        return obj
    if id(obj) in seen or type(obj) in _PASS:
        return obj
    seen.add(id(obj))
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            t = type(v)
            if t in _PASS or (t is str and v.isascii()):
                continue
            new = _item(v, seen)
            if new is not v:
                obj[i] = new
        return obj
    if isinstance(obj, tuple):
        for v in obj:
            t = type(v)
            if not (t in _PASS or (t is str and v.isascii())):
                break
        else:
            return obj
        items = [_item(v, seen) for v in obj]
        if all(a is b for a, b in zip(items, obj, strict=True)):
            return obj
        if type(obj) is tuple:
            return tuple(items)
        make: Any = type(obj)  # a named tuple: its fields in order
        return make(*items)
    if isinstance(obj, dict):
        for k in list(obj):
            v = obj[k]
            nk, nv = _item(k, seen), _item(v, seen)
            if nk is not k:
                del obj[k]
            if nk is not k or nv is not v:
                obj[nk] = nv
        return obj
    for name in _field_names(obj):
        v = getattr(obj, name)
        t = type(v)
        if t in _PASS or (t is str and v.isascii()):
            continue
        new = _item(v, seen)
        if new is not v:
            # frozen dataclasses too: the record was made for this report alone
            object.__setattr__(obj, name, new)
    return obj
