"""`mikeyshark dissect` run in the test's own process, and reading its -V text."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def rows(self) -> list[dict[str, object]]:
        return [json.loads(ln) for ln in self.stdout.splitlines()]

    def columns(self) -> list[tuple[str, str]]:
        return [(str(r["protocol"]), str(r["info"])) for r in self.rows()]


def our_tree(text: str, number: int) -> list[str]:
    """The -V lines of frame ``number``."""
    lines = text.splitlines()
    start = lines.index(next(ln for ln in lines if ln.startswith(f"Frame {number}:")))
    out = []
    for ln in lines[start:]:
        if not ln.strip():
            break
        out.append(ln.rstrip())
    return out
