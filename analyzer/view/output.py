"""The forms ``mikeyshark dissect`` prints frames in: the packet list, the detail tree (-V),
JSON Lines (--json), tshark's ``-T fields`` and ``-T json``.

Wire text reaches a terminal here: its control characters (ESC, ...; a tab aside where a tab
cannot be mistaken for a separator) and the bytes that were not UTF-8 are shown as ``\\xNN``,
never obeyed, as tshark does; JSON also gets DEL and C1 as ``\\u`` escapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from mikeyshark.report import escape
from mikeyshark.view.frame import FrameView
from mikeyshark.view.layers import FIELDS


class Writer(Protocol):
    def frame(self, v: FrameView) -> None: ...

    def close(self) -> None: ...


# what json.dumps leaves as it is but a terminal obeys or cannot encode: DEL, C1, surrogates
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\ud800-\udfff]")


def _json_escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # a byte that was not UTF-8: the text \xNN, as elsewhere
        return f"\\\\x{c - 0xDC00:02x}"
    return f"\\u{c:04x}"


def safe_json(text: str) -> str:
    return _JSON_UNSAFE.sub(_json_escape, text)


class Rows:
    """The packet list, or with ``verbose`` the detail tree of each frame."""

    def __init__(self, out: TextIO, verbose: bool) -> None:
        self.out, self.verbose = out, verbose

    def frame(self, v: FrameView) -> None:
        if self.verbose:
            for node in v.tree():
                for line in node.lines():
                    self.out.write(escape.terminal(line, keep_tab=True) + "\n")
            self.out.write("\n")
        else:
            row = v.row()
            self.out.write((row if v.safe else escape.terminal(row, keep_tab=True)) + "\n")

    def close(self) -> None:
        pass


# The packet list of :class:`HeldRows` is written this many rows at a time, in one write:
# a write per row costs more than the row's own formatting.
ROWS_PER_WRITE = 256


class HeldRows:
    """The packet list, its rows written ROWS_PER_WRITE at a time and at each ``flush`` (the
    command's at each batch of frames): for the rows process of a capture file, whose
    output is all it does with the rows."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._rows: list[str] = []

    def frame(self, v: FrameView) -> None:
        row = v.row()
        rows = self._rows
        rows.append(row if v.safe else escape.terminal(row, keep_tab=True))
        if len(rows) >= ROWS_PER_WRITE:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._rows.append("")
            self.out.write("\n".join(self._rows))
            self._rows = []

    def close(self) -> None:
        self.flush()


class JsonLines:
    """One JSON object per frame and line (with ``verbose`` its detail tree)."""

    def __init__(self, out: TextIO, verbose: bool) -> None:
        self.out, self.verbose = out, verbose

    def frame(self, v: FrameView) -> None:
        self.out.write(safe_json(v.json_line(self.verbose)) + "\n")

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class FieldOptions:
    """tshark's ``-E`` options of ``-T fields``."""

    header: bool = False
    separator: str = "\t"
    occurrence: str = "a"  # f(irst), l(ast), a(ll)
    aggregator: str = ","
    quote: str = ""

    @classmethod
    def parse(cls, options: Sequence[str]) -> FieldOptions:
        """``header=y``, ``separator=/t|/s|C``, ``occurrence=f|l|a``, ``aggregator=,|/s|C``,
        ``quote=d|s|n``; raises ValueError naming the option."""
        got: dict[str, Any] = {}
        chars = {"/t": "\t", "/s": " "}
        for opt in options:
            key, sep, value = opt.partition("=")
            if not sep:
                raise ValueError(f"-E {opt}: not OPTION=VALUE")
            if key == "header" and value in ("y", "n"):
                got["header"] = value == "y"
            elif key in ("separator", "aggregator") and (value in chars or len(value) == 1):
                got[key] = chars.get(value, value)
            elif key == "occurrence" and value in ("f", "l", "a"):
                got["occurrence"] = value
            elif key == "quote" and value in ("d", "s", "n"):
                got["quote"] = {"d": '"', "s": "'", "n": ""}[value]
            else:
                raise ValueError(f"-E {opt}: unknown option or value")
        return cls(**got)


def check_fields(names: Sequence[str]) -> None:
    """Raises ValueError listing the names the field table does not have."""
    bad = [n for n in names if n not in FIELDS]
    if bad:
        raise ValueError(f"Some fields aren't valid: {' '.join(bad)}")


class Fields:
    """``-T fields -e NAME ...``: one line per frame, the values of each field (every
    occurrence, joined by the aggregator), as tshark prints them."""

    def __init__(self, out: TextIO, names: Sequence[str], options: FieldOptions) -> None:
        check_fields(names)
        self.out, self.names, self.opt = out, list(names), options
        if options.header:
            out.write(options.separator.join(names) + "\n")

    def frame(self, v: FrameView) -> None:
        o = self.opt
        cells = []
        for name in self.names:
            info = FIELDS[name]
            vals = v.values(name)
            if vals and o.occurrence != "a":
                vals = vals[:1] if o.occurrence == "f" else vals[-1:]
            text = o.aggregator.join(escape.terminal(info.text(x)) for x in vals)
            cells.append(f"{o.quote}{text}{o.quote}" if text else "")
        self.out.write(o.separator.join(cells) + "\n")

    def close(self) -> None:
        pass


class TsharkJson:
    """``-T json``: tshark's array of packets, each ``{"_source": {"layers": ...}}`` with the
    layers' fields by name and their values as text (a list where there are several); with
    ``names`` only those fields, each a list."""

    def __init__(self, out: TextIO, names: Sequence[str] = ()) -> None:
        check_fields(names)
        self.out, self.names, self.first = out, list(names), True
        out.write("[\n")

    def frame(self, v: FrameView) -> None:
        if self.names:
            layers: dict[str, Any] = {}
            for name in self.names:
                vals = v.values(name)
                if vals:
                    layers[name] = [FIELDS[name].text(x) for x in vals]
        else:
            layers = {}
            for la in v.layers:
                if la.name == "_ws":
                    continue
                fields = {
                    info.name: [info.text(x) for x in vals] if info.many else info.text(vals[0])
                    for info, vals in la.items()
                }
                if la.name in layers:  # a second MSRP message in the frame, ...
                    prev = layers[la.name]
                    layers[la.name] = [*(prev if isinstance(prev, list) else [prev]), fields]
                else:
                    layers[la.name] = fields
        packet: dict[str, Any] = {"_index": "packets", "_type": "doc", "_score": None}
        packet["_source"] = {"layers": layers}
        text = json.dumps(packet, indent=2, ensure_ascii=False)
        self.out.write(("" if self.first else ",\n") + _indent(safe_json(text)))
        self.first = False

    def close(self) -> None:
        self.out.write(("\n" if not self.first else "") + "]\n")


def _indent(text: str) -> str:
    return "\n".join("  " + ln for ln in text.splitlines())
