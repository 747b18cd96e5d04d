"""Field values per frame, as ``tshark -T fields`` prints them and as mikeyshark.dissect gives
them (formatted the same way), to compare the two."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mikeyshark
from mikeyshark.view.filter import compile_filter
from mikeyshark.view.layers import FIELDS


def tshark_fields(
    tshark: str,
    pcap: Path | str,
    fields: Sequence[str],
    opts: Sequence[str] = (),
    display_filter: str | None = None,
) -> dict[int, list[str]]:
    """frame number -> one text per field (all occurrences, comma-separated), for the frames
    ``display_filter`` (-Y) shows."""
    cmd = [tshark, "-n", "-r", str(pcap), *opts, "-T", "fields", "-E", "occurrence=a"]
    if display_filter is not None:
        cmd += ["-Y", display_filter]
    # (a field named twice comes out empty the first time: frame.number only once)
    cmd += [
        a for f in ("frame.number", *(f for f in fields if f != "frame.number")) for a in ("-e", f)
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    rows = [ln.split("\t") for ln in out.splitlines()]
    named = ["frame.number", *(f for f in fields if f != "frame.number")]
    return {int(r[0]): [r[named.index(f)] for f in fields] for r in rows}


def our_fields(
    pcap: Path | str, fields: Sequence[str], display_filter: str | None = None, **kw: Any
) -> dict[int, list[str]]:
    """The same from mikeyshark.dissect (keyword arguments as dissect's)."""
    shown = compile_filter(display_filter or "")
    return {
        f.number: [",".join(FIELDS[n].text(v) for v in f.values(n)) for n in fields]
        for f in mikeyshark.dissect(pcap, **kw)
        if shown.matches(f)
    }


def differences(
    ours: dict[int, list[str]], theirs: dict[int, list[str]], fields: Sequence[str]
) -> list[str]:
    """One line per frame and field whose values differ (and per frame only one side has)."""
    out = [f"frame {n}: only {'tshark' if n in theirs else 'ours'}" for n in ours.keys() ^ theirs]
    for n in sorted(ours.keys() & theirs.keys()):
        for name, a, b in zip(fields, ours[n], theirs[n], strict=True):
            if a != b:
                out.append(f"frame {n} {name}: ours {a[:60]!r}, tshark {b[:60]!r}")
    return out
