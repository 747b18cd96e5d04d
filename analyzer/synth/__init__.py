"""Synthetic captures of the TR 29.828 flows: ``synthesize`` builds one, ``write_capture``
writes it (pcap or pcapng by extension)."""

from __future__ import annotations

from pathlib import Path

from mikeyshark.synth.faults import FAULTS, Fault
from mikeyshark.synth.net import write_frames
from mikeyshark.synth.scenarios import (
    SCENARIOS,
    CallFacts,
    MediaFacts,
    SynthResult,
    synthesize,
)


def write_capture(result: SynthResult, path: str | Path) -> None:
    write_frames(result.frames, path)


__all__ = [
    "FAULTS",
    "SCENARIOS",
    "CallFacts",
    "Fault",
    "MediaFacts",
    "SynthResult",
    "synthesize",
    "write_capture",
]
