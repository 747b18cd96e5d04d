"""Wire text never drives the terminal: what `mikeyshark dissect` prints from the wire has
its control characters (ESC, BEL, NUL, C1, ...; a tab aside) shown as ``\\xNN`` and a byte
that is not UTF-8 as ``\\xNN`` too, in the packet list, the detail tree, the JSON and the
problems on stderr. The captures are the reliability review's reproducers: a synthesized call
whose Call-ID was replaced, byte for byte, by escape sequences (an SGR colour and an OSC 8
hyperlink) or by a Latin-1 byte."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mikeyshark.synth import synthesize, write_capture
from tests.support.dissect import Result

ESCAPES = b"\x1b[31m\x1b]8;;x\x1b\\"  # 13 bytes, as in the review


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("esc") / "call.pcap"
    write_capture(synthesize("msrp-dial-in", seed=1), path)
    return path.read_bytes()


def _variant(call: bytes, tmp_path: Path, name: str, new_start: bytes) -> tuple[Path, bytes]:
    m = re.search(rb"Call-ID: (\S+)", call)
    assert m is not None
    cid = m.group(1)
    new = new_start + cid[len(new_start) :]  # same length: no length field changes
    path = tmp_path / name
    path.write_bytes(call.replace(cid, new))
    return path, new


def _no_controls(text: str) -> None:
    assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", text.replace("\n", "")), text[:200]


def test_escape_sequences_are_shown_not_obeyed(
    dissect: Callable[..., Result], call: bytes, tmp_path: Path
) -> None:
    pcap, _ = _variant(call, tmp_path, "esc.pcap", ESCAPES)
    shown = "\\x1b[31m\\x1b]8;;x\\x1b\\"  # (the last backslash is the wire's own)
    rows = dissect(str(pcap))
    tree = dissect(str(pcap), "-V")
    for r in (rows, tree):
        assert r.returncode == 0
        _no_controls(r.stdout)
        _no_controls(r.stderr)
    assert f"Call-ID: {shown}" in tree.stdout
    assert f"[Generated Call-ID: {shown}" in tree.stdout


def test_json_lines_hold_the_text_escaped(
    dissect: Callable[..., Result], call: bytes, tmp_path: Path
) -> None:
    # ESC, and the 8-bit CSI (U+009B in UTF-8) and DEL, which JSON itself leaves as they are
    pcap, new = _variant(call, tmp_path, "c1.pcap", ESCAPES + b"\xc2\x9b31m\x7f")
    r = dissect(str(pcap), "-V", "--json")
    _no_controls(r.stdout)
    labels = [c["label"] for ln in r.stdout.splitlines() for c in _walk(json.loads(ln)["layers"])]
    # the data itself is kept: a JSON reader gets the Call-ID back
    assert f"Call-ID: {new.decode()}" in labels


def test_a_byte_that_is_not_utf8(
    dissect: Callable[..., Result], call: bytes, tmp_path: Path
) -> None:
    pcap, _ = _variant(call, tmp_path, "latin1.pcap", b"\xe9")
    tree = dissect(str(pcap), "-V")
    assert tree.returncode == 0
    lines = [ln.strip() for ln in tree.stdout.splitlines() if ln.strip().startswith("Call-ID:")]
    assert lines and all(ln.startswith("Call-ID: \\xe9") for ln in lines)
    js = dissect(str(pcap), "-V", "--json")
    labels = [
        str(c["label"]) for ln in js.stdout.splitlines() for c in _walk(json.loads(ln)["layers"])
    ]
    assert any(lab.startswith("Call-ID: \\xe9") for lab in labels)


def _walk(nodes: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for n in nodes:
        out.append(n)
        out += _walk(n.get("children", []))  # type: ignore[arg-type]
    return out
