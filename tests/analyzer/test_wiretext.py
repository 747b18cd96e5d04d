"""Wire text as data: a byte of SIP/SDP that is not UTF-8 reaches the writers as ``\\xNN``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pytest

from mikeyshark import wiretext
from mikeyshark.dissectors import msrp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.evidence import MediaMessage, Status
from mikeyshark.model import Endpoint, Problem
from mikeyshark.wiretext import scrub, shown


def test_shown_names_each_undecodable_byte() -> None:
    # b"caf\xe9" decoded as SIP is (UTF-8 with surrogateescape): 0xE9 is U+DCE9
    wire = b"caf\xe9 \xff\xfe ok \xc3\xa9".decode("utf-8", "surrogateescape")
    assert shown(wire) == "caf\\xe9 \\xff\\xfe ok é"
    assert shown("\ud800 stray") == "\\ud800 stray"
    plain = "sip:alice@example.org"
    assert shown(plain) is plain


@dataclass
class Leaf:
    name: str
    raw: bytes = b"\xe9"


@dataclass
class Tree:
    leaves: list[Leaf] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    fields: dict[str, object] = field(default_factory=dict)
    problem: Problem | None = None


def test_scrub_reaches_every_string_in_place() -> None:
    bad = "\udce9"
    problem = Problem("sip", f"Call-ID {bad}x", 3)
    tree = Tree(
        [Leaf(f"a{bad}")],
        ("ok", f"b{bad}"),
        {f"k{bad}": [f"v{bad}", 1, None], "n": {"deep": bad}},
        problem,
    )
    shared = [problem]
    assert scrub(tree) is tree
    assert scrub(shared) is shared
    assert tree.leaves[0].name == "a\\xe9"
    assert tree.leaves[0].raw == b"\xe9"  # bytes are data, not text
    assert tree.tags == ("ok", "b\\xe9")
    assert tree.fields == {"k\\xe9": ["v\\xe9", 1, None], "n": {"deep": "\\xe9"}}
    # the frozen problem changed in place: the call and the capture list the same one
    assert tree.problem is problem and problem.reason == "Call-ID \\xe9x"
    assert shared[0].reason == "Call-ID \\xe9x"


def test_media_messages_hold_strict_text_and_are_passed_by() -> None:
    # MSRP text that is not UTF-8 does not parse (RFC 4975 9: UTF-8): a MediaMessage, made of
    # parsed MSRP/BFCP, never holds a wire byte as a surrogate, so scrub need not look at it
    bad = (
        b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://a.example:1/caf\xe9;tcp\r\n"
        b"From-Path: msrp://b.example:2/x;tcp\r\n-------a786hjs2$\r\n"
    )
    with pytest.raises(DissectError, match="invalid UTF-8"):
        msrp.parse_message(bad)
    ep = Endpoint("192.0.2.1", 5000)
    msg = MediaMessage(1, 0, ep, ep, "SEND t1", {"body": "\udce9"})
    holder = [msg, "\udce9"]
    scrub(holder)
    assert holder[0] is msg and msg.fields == {"body": "\udce9"}  # passed by
    assert holder[1] == "\\xe9"  # beside it, text is still scrubbed


class _WireText(str):
    """A str subclass that may hold wire text (not an enum)."""


class _Named(enum.StrEnum):
    ODD = "caf\udce9"  # a program constant, whatever it holds


def test_enum_members_pass_by_and_other_text_subclasses_are_scrubbed() -> None:
    # an enum member is the program's own value (a rule's status): scrub keeps it as it is
    # and passes its class by from then on; a str subclass that is no enum is wire text
    holder: list[object] = [_Named.ODD, _WireText("caf\udce9"), Status.PASS, _Named.ODD]
    scrub(holder)
    assert holder[0] is _Named.ODD and holder[3] is _Named.ODD and holder[2] is Status.PASS
    assert holder[1] == "caf\\xe9"


@dataclass
class _Typed:
    frame: int | None
    raw: bytes
    flag: bool
    name: str
    anything: object
    tags: tuple[str, ...] = ()
    frames: list[int] = field(default_factory=list)
    spans: tuple[tuple[int, int], ...] = ()
    reasons: list[tuple[int, str]] = field(default_factory=list)


def test_scrub_reads_the_fields_that_may_hold_text_and_scrubs_them() -> None:
    # a field typed with numbers, bytes and None alone, or containers of them, holds no
    # text: not looked at
    row = _Typed(3, b"\xe9", True, "caf\udce9", ["caf\udce9"], ("caf\udce9",), [1, 2], ((1, 2),))
    row.reasons.append((4, "caf\udce9"))
    assert wiretext._field_names(row) == ("name", "anything", "tags", "reasons")
    scrub(row)
    assert (row.frame, row.raw, row.flag, row.frames, row.spans) == (
        3,
        b"\xe9",
        True,
        [1, 2],
        ((1, 2),),
    )
    assert (row.name, row.anything, row.tags) == ("caf\\xe9", ["caf\\xe9"], ("caf\\xe9",))
    assert row.reasons == [(4, "caf\\xe9")]
