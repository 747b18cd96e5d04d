"""Calls judged as they end and spooled (the command line's streamed reports): memory that
does not grow with the calls, and reports read back from the spool that are those of the
calls judged in one piece at the end.

The capture holds conferences that overlap in time (calls end in another order than they
begin) and a replayed TRANSFER_INIT (REPLAY judged again at the end, the call spooled
again). Every expectation is the report :func:`mikeyshark.analyze` gives of the same
capture, judged in one process with every call kept whole; memory is counted with
tracemalloc (allocations, not time).
"""

from __future__ import annotations

import dataclasses
import gc
import io
import re
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from rich.console import Console

from mikeyshark import keylog, spool, workers
from mikeyshark.checks.evaluate import Context
from mikeyshark.judge import analyze, analyze_streamed, context_for
from mikeyshark.keyfile import KeyFile
from mikeyshark.pipeline import Finalized
from mikeyshark.report import json_report, junit, terminal
from mikeyshark.report.model import Report
from mikeyshark.spool import LeanSink, SpooledCalls, pack, unpack
from tests.support.analyze import overlapping_conferences, write_merged

CONFERENCES = 3  # three calls each, one starting every 10 s: they overlap


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    frames, keys = overlapping_conferences(CONFERENCES)
    return write_merged(frames, keys, tmp_path_factory.mktemp("spool"), "calls.pcap")


@pytest.fixture(scope="module")
def whole(capture: tuple[Path, Path]) -> Report:
    pcap, keys = capture
    report = analyze(pcap, keys=keys)
    # what the capture was built to exercise: the replayed call fails REPLAY
    assert len(report.calls) == 3 * CONFERENCES + 2
    replay = [
        c for c in report.calls for r in c.checks if r.rule == "REPLAY" and r.status == "fail"
    ]
    assert len(replay) == 1
    return report


def test_a_spooled_call_is_what_the_writers_read_of_the_call(whole: Report) -> None:
    for call in whole.calls:
        back = unpack(pack(call))
        assert back.checks == call.checks and back.problems == call.problems
        assert (back.verdict, back.scenario) == (call.verdict, call.scenario)
        assert junit._suite(back) == junit._suite(call)
        head, _, tail = json_report.call_parts(call, False)
        assert json_report.call_parts(back, False)[::2] == (head, tail)
        # the MIKEY facts REPLAY and the keys hint read (the payload tree only the HTML shows)
        for m, b in zip(call.media, back.media, strict=True):
            assert (b.index, b.protocol) == (m.index, m.protocol)
            for mine, kept in ((m.init, b.init), (m.resp, b.resp)):
                assert kept == (None if mine is None else dataclasses.replace(mine, tree=None))


def _summary(report: Report, height: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=200, height=height, color_system=None)
    terminal.print_summary(report, console)
    return re.sub(r" in [0-9.]+ s", "", buf.getvalue())  # how long the reading took


@pytest.mark.parametrize("n", [0, 2])
def test_the_reports_read_the_calls_back_from_the_spool(
    capture: tuple[Path, Path], whole: Report, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "BATCH_CALLS", 2)
    pcap, keys = capture
    streamed = analyze_streamed(pcap, keys=keys, workers=n)
    try:
        calls = streamed.report.calls
        assert isinstance(calls, SpooledCalls)
        # each reading gives calls of its own: none is held by the report
        once, again = list(calls), list(calls)
        assert all(a is not b for a, b in zip(once, again, strict=True))
        assert [c.call_id for c in calls] == [c.call_id for c in whole.calls]
        assert [c.checks for c in calls] == [c.checks for c in whole.calls]
        assert calls[-1].checks == whole.calls[-1].checks
        # every call listed, and (a screen too small) counts and the failing call
        for height in (30, 10):
            assert _summary(streamed.report, height) == _summary(whole, height)
        assert "failing calls (1 of 11)" in _summary(whole, 10)
        assert junit.junit_xml(streamed.report) == junit.junit_xml(whole)
        # the verdicts, the replayed call's judged again, and the JSON report with its
        # summary, known without reading a call
        assert [t.verdict for t in calls.tallies] == [c.verdict for c in whole.calls]
        monkeypatch.setattr(streamed.sink, "record", None)
        assert streamed.report.compliant() is whole.compliant() is False  # the replay
        assert streamed.report.compliant(strict=True) is False
        j = io.StringIO()
        json_report.write(streamed.report, j, streamed.entries)
        assert j.getvalue() == json_report.dumps(whole)
    finally:
        streamed.close()


@pytest.mark.parametrize("n", [0, 2])
def test_a_call_judged_again_is_read_back_as_judged_again(
    capture: tuple[Path, Path], whole: Report, n: int
) -> None:
    # what is spooled again of the replayed call (its record alone without the JSON) is
    # small enough to wait in the spool file's buffer when it is read back
    pcap, keys = capture
    streamed = analyze_streamed(pcap, keys=keys, workers=n, json=False)
    try:
        assert junit.junit_xml(streamed.report) == junit.junit_xml(whole)
    finally:
        streamed.close()


@pytest.mark.parametrize("n", [0, 2])
def test_the_key_log_keeps_the_secrets_of_each_connection_and_no_more(
    capture: tuple[Path, Path], whole: Report, n: int
) -> None:
    pcap, keys = capture
    streamed = analyze_streamed(pcap, keys=keys, workers=n, keylog=True)
    try:
        kept = streamed.report.connections
        want = keylog.keylog_text(c.info for c in whole.connections)
        assert want.count("\n") == len(whole.connections) > 0  # a line per TLS connection
        assert keylog.keylog_text(c.info for c in kept) == want
        full = {(c.client, c.server, c.first_frame): c.info for c in whole.connections}
        for c in kept:
            info = full[c.client, c.server, c.first_frame]
            assert c.data == [] and c.info == keylog.keylog_facts(info) != info
    finally:
        streamed.close()


def _finalized(capture: tuple[Path, Path]) -> tuple[list[Finalized], Context]:
    """Calls as the finalizer hands them to a sink: correlated, not judged, whole."""
    pcap, keys = capture
    report = analyze(pcap, keys=keys)
    for c in report.calls:
        c.checks = []
    return [Finalized(i, c, []) for i, c in enumerate(report.calls)], context_for(
        KeyFile.load(keys)
    )


def test_the_sink_keeps_a_small_fixed_record_of_each_call(capture: tuple[Path, Path]) -> None:
    items, ctx = _finalized(capture)
    sink = LeanSink(ctx, False, json=True, keylog=False)
    try:
        sink(items[:1])  # the spool file opened
        rest = items[1:]
        full = sum(len(pack(f.record)) for f in rest)  # what a call's checks alone take
        tracemalloc.start()
        try:
            sink(rest)
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # what stays of a call: its id, INVITE frame, problems, where it is spooled and the
        # TRANSFER_INITs it sent; its checks (37 per call, 1 to 2 KB pickled even as plain
        # tuples), m-lines and MIKEY messages are in the spool only
        assert held < 1500 * len(rest) < full
        for f in rest:
            assert f.record.checks == [] and f.record.media == []
            assert isinstance(f.spooled, spool.Kept) and f.spooled.sent
    finally:
        sink.close()


def _left(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


@pytest.mark.parametrize("n", [0, 2])
def test_no_spool_file_is_left_behind(
    capture: tuple[Path, Path], n: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pcap, keys = capture
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(workers, "BATCH_CALLS", 2)
    streamed = analyze_streamed(pcap, keys=keys, workers=n)
    assert _left(tmp_path)  # the spool, while the reports are written
    streamed.close()
    assert _left(tmp_path) == []

    def broken(*a: object, **kw: object) -> object:
        raise RuntimeError("spool bug")

    # where the calls are spooled (a worker process with n > 0): the capture's fault
    # barrier reports it, and the spool goes when the reports are written
    with monkeypatch.context() as m:
        m.setattr(spool, "pack", broken)
        streamed = analyze_streamed(pcap, keys=keys, workers=n)
        streamed.close()
    assert any(p.code == "internal.exception" for p in streamed.report.captures[0].errors)
    assert _left(tmp_path) == []
    # where they are read back to judge REPLAY again: the analysis fails, the spool goes
    with monkeypatch.context() as m:
        m.setattr(spool, "unpack", broken)
        with pytest.raises(RuntimeError, match="spool bug"):
            analyze_streamed(pcap, keys=keys, workers=n)
    assert _left(tmp_path) == []
