"""Damaged captures never crash the analysis: every call still gets a verdict per rule and
the damage is located in the capture's errors or the rules' messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mikeyshark.checks.rules import RULES
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_frames

BASE = synthesize("msrp-dial-in", seed=9)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    hits=st.lists(
        st.tuples(st.integers(0, len(BASE.frames) - 1), st.integers(0, 2000), st.integers(0, 255)),
        min_size=1,
        max_size=12,
    ),
    cut=st.one_of(st.none(), st.integers(0, len(BASE.frames) - 1)),
)
def test_corrupted_frames_never_crash(
    hits: list[tuple[int, int, int]], cut: int | None, tmp_path: Path
) -> None:
    frames = list(BASE.frames)
    for idx, pos, value in hits:
        data = bytearray(frames[idx].data)
        at = 14 + pos % max(len(data) - 14, 1)  # keep the Ethernet header: damage IP and up
        data[at] = value
        frames[idx] = dataclasses.replace(frames[idx], data=bytes(data))
    if cut is not None:
        del frames[cut]
    report = analyze_frames(frames, BASE.keyfile_text, tmp_path / "fuzz.pcap")
    for call in report.calls:
        assert [c.rule for c in call.checks] == [r.id for r in RULES]
        assert all(c.message for c in call.checks)
