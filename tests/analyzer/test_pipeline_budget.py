"""The byte budget: connections an SDP names are kept whole; the capture-wide budget only
limits the others, and running out of it is reported where it happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from mikeyshark import pipeline
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_synth


def test_media_named_by_sdp_ignore_the_capture_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "MAX_TOTAL_BYTES", 0)
    report = analyze_synth(synthesize("msrp-dial-in", seed=14), tmp_path / "a.pcap")
    (call,) = report.calls
    assert call.verdict.value == "pass"
    assert not [e for e in report.captures[0].errors if e.layer == "tcp"]


def test_unnamed_connection_over_budget_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """early-connect: the MRFP connects before the INVITE names the address, so the
    connection counts against the budget, which is empty here."""
    monkeypatch.setattr(pipeline, "MAX_TOTAL_BYTES", 0)
    report = analyze_synth(
        synthesize("msrp-dial-in", faults=["early-connect"], seed=14), tmp_path / "b.pcap"
    )
    (call,) = report.calls
    got = {c.rule: c.status.value for c in call.checks}
    assert got["ORDER"] == "fail"  # the SYN is still seen
    assert got["TLS-KEY"] == "not-observed"  # its bytes were not kept
    (warn,) = [e for e in report.captures[0].errors if e.layer == "tcp"]
    assert "budget" in warn.reason
    tcp = call.media[0].tcp
    assert tcp is not None and tcp.syn_frame is not None  # the connection and its SYN were seen
    assert warn.frame == tcp.syn_frame + 3  # ClientHello
