"""A fault barrier per unit of work: an exception nothing expected while handling a frame, a
SIP message, a TCP connection, a call's correlation, a call's judgement or a whole capture
becomes a located problem of that unit (code ``internal.exception``) and everything else is
analyzed as usual. The faults are injected: a bug is what this guards against."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mikeyshark import calls, correlate, judge, pipeline
from mikeyshark.checks.evaluate import evaluate_call
from mikeyshark.checks.rules import RULES
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.evidence import CaptureInfo
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import INTERNAL, Problem
from mikeyshark.parallel import Unit, run_units
from mikeyshark.pipeline import CaptureResult, analyze_capture
from mikeyshark.synth import synthesize, write_capture

CONFERENCE = synthesize("conference", seed=2)  # three calls (two dial in, one dialed out)
ALL_PASS = {"pass", "not-applicable"}


@pytest.fixture(scope="module")
def conference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, KeyFile]:
    path = tmp_path_factory.mktemp("conf") / "conference.pcap"
    write_capture(CONFERENCE, path)
    return str(path), KeyFile.parse(CONFERENCE.keyfile_text)


def internal(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.kind == INTERNAL]


def judged(result: CaptureResult, keys: KeyFile) -> dict[str, set[str]]:
    report = judge.build_report([result], keys, reveal=False)
    # (the Mp rules, not in view at the UE, leave the verdict alone: not counted)
    return {c.call_id: {k.status.value for k in c.checks if k.counts} for c in report.calls}


def raising_on(frame_number: int, orig: Callable[..., Any]) -> Callable[..., Any]:
    def boom(self: object, frame: Any, *a: Any) -> Any:
        if frame.number == frame_number:
            raise KeyError("boom")
        return orig(self, frame, *a)

    return boom


def test_the_clean_conference_passes(conference: tuple[str, KeyFile]) -> None:
    path, keys = conference
    result = analyze_capture(path, keys)
    got = judged(result, keys)
    assert len(got) == 3 and all(s <= ALL_PASS for s in got.values())
    assert internal(result.info.errors) == []


def test_a_frame_that_raises_is_its_own_problem(
    conference: tuple[str, KeyFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = conference
    # the last frame of the capture: the last BYE's 200 OK
    last = len(CONFERENCE.frames)
    monkeypatch.setattr(pipeline._Collector, "on_udp", raising_on(last, pipeline._Collector.on_udp))
    result = analyze_capture(path, keys)
    (p,) = internal(result.info.errors)
    assert (p.frame, p.file, p.layer) == (last, path, "analyzer")
    assert p.reason.startswith("internal error while handling the frame: KeyError: 'boom' (at ")
    got = judged(result, keys)
    assert len(got) == 3 and all(s <= ALL_PASS for s in got.values())


def test_a_sip_message_that_raises_is_its_own_problem(
    conference: tuple[str, KeyFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = conference
    orig = calls.CallTracker._track
    seen: list[int] = []

    def track(self: calls.CallTracker, rec: calls.SipRecord) -> None:
        if rec.msg.method == "BYE" and not seen:
            seen.append(rec.frame)
            raise ZeroDivisionError("bad BYE")
        orig(self, rec)

    monkeypatch.setattr(calls.CallTracker, "_track", track)
    result = analyze_capture(path, keys)
    (p,) = internal(result.info.errors)
    assert p.frame == seen[0]
    assert "while handling the SIP message: ZeroDivisionError: bad BYE" in p.reason
    assert len(judged(result, keys)) == 3


def test_a_connection_that_raises_is_left_alone_after_one_problem(
    conference: tuple[str, KeyFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = conference
    orig = pipeline._Collector._tcp_data
    hit: list[tuple[int, str]] = []

    def data(self: pipeline._Collector, conn: Any, from_client: bool, chunk: Any) -> None:
        if conn.index == 0:
            hit.append((chunk.frame, f"{conn.client} -> {conn.server}"))
            raise RuntimeError("decoder bug")
        orig(self, conn, from_client, chunk)

    monkeypatch.setattr(pipeline._Collector, "_tcp_data", data)
    result = analyze_capture(path, keys)
    (p,) = internal(result.info.errors)
    assert len(hit) == 1  # once broken, its later segments are not handled again
    assert (p.frame, p.reason.split(": RuntimeError")[0]) == (
        hit[0][0],
        f"internal error while handling TCP connection {hit[0][1]}",
    )
    got = judged(result, keys)
    assert len(got) == 3
    # two calls untouched; the one whose media was that connection did not see its TLS
    assert sum(s <= ALL_PASS for s in got.values()) == 2


def test_a_call_whose_correlation_raises_is_still_reported(
    conference: tuple[str, KeyFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = conference
    victim = CONFERENCE.calls[1].call_id
    orig = correlate.correlate

    def corr(batch: list[calls.Call], *a: Any, **kw: Any) -> Any:
        if any(c.call_id == victim for c in batch):
            raise IndexError("binding bug")
        return orig(batch, *a, **kw)

    monkeypatch.setattr(pipeline, "correlate", corr)
    result = analyze_capture(path, keys)
    (p,) = internal(result.info.errors)
    assert f"while handling call {victim}: IndexError: binding bug" in p.reason
    got = judged(result, keys)
    assert set(got) == {c.call_id for c in CONFERENCE.calls}
    # the other two were correlated alone and pass; the failed one has no evidence
    assert [cid for cid, s in got.items() if s <= ALL_PASS] == [
        c.call_id for c in CONFERENCE.calls if c.call_id != victim
    ]


def test_a_call_whose_judgement_raises_is_not_judged(
    conference: tuple[str, KeyFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = conference
    victim = CONFERENCE.calls[2].call_id
    orig = evaluate_call

    def evaluate(call: Any, ctx: Any) -> Any:
        if call.call_id == victim:
            raise AttributeError("rule bug")
        return orig(call, ctx)

    monkeypatch.setattr("mikeyshark.judge.evaluate_call", evaluate)
    result = analyze_capture(path, keys)
    report = judge.build_report([result], keys, reveal=False)
    (bad,) = [c for c in report.calls if c.call_id == victim]
    assert [(c.rule, c.status.value, c.message) for c in bad.checks] == [
        (r.id, "not-observed", "not judged: internal error") for r in RULES
    ]
    (p,) = internal(report.captures[0].errors)
    assert p in bad.problems and "AttributeError: rule bug" in p.reason
    others = [c for c in report.calls if c.call_id != victim]
    assert len(others) == 2 and all(
        {k.status.value for k in c.checks if k.counts} <= ALL_PASS for c in others
    )


def test_a_capture_whose_analysis_raises_in_a_worker(
    conference: tuple[str, KeyFile], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--jobs 2: the failure is the failing capture's problem, its text intact across the
    process boundary; the other capture is analyzed."""
    assert multiprocessing.get_start_method() == "fork"  # workers inherit the patch
    path, keys = conference
    orig = analyze_capture

    def analyze(target: str, *a: Any, **kw: Any) -> CaptureResult:
        if target.endswith("broken.pcap"):
            raise DissectError("sip", 7, "malformed CSeq", "cseq")
        return orig(target, *a, **kw)

    monkeypatch.setattr("mikeyshark.parallel.analyze_capture", analyze)
    broken = str(tmp_path / "broken.pcap")
    results = run_units([Unit((broken,)), Unit((path,))], keys, reveal=False, jobs=2)
    first, second = results
    assert first.info == CaptureInfo(path=broken, errors=first.info.errors, files=(broken,))
    (p,) = first.info.errors
    assert (p.kind, p.file) == (INTERNAL, broken)
    assert "the capture: DissectError: sip.cseq at offset 7: malformed CSeq" in p.reason
    assert len(second.calls) == 3 and internal(second.info.errors) == []
