"""Wire text as data: a byte of SIP/SDP that is not UTF-8 reaches the writers as ``\\xNN``."""

from __future__ import annotations

from dataclasses import dataclass, field

from mikeyshark.model import Problem
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
