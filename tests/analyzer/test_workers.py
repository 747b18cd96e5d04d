"""One capture on several processes (--workers) and calls judged as they end (the streamed
report): the JSON and JUnit are byte for byte those of one process judging at the end.

The capture holds conferences that overlap in time (calls end in another order than they
begin, and are finalized in many batches), a replayed TRANSFER_INIT (REPLAY reads the calls
before it), a call seen beside the MRF with its KMS leg (a connection claimed by ticket) and
a call behind a NAT (a connection claimed by key), and overlapping conferences seen beside
the MRF (their m-lines bound to Mp terminations when claimed). Dropping, adding or reordering
a call in any path changes the bytes compared. Nothing here depends on timing: a batch
of two calls per worker process makes several processes run whatever the machine's speed.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from mikeyshark import workers
from mikeyshark.judge import analyze, analyze_streamed
from mikeyshark.model import Frame
from mikeyshark.parallel import Unit, workers_for
from mikeyshark.report import json_report, junit
from mikeyshark.synth import synthesize
from tests.support.analyze import REPLAY_AT_NS, SEC, overlapping_conferences, write_merged

MRFP = "203.0.113.30"
NAT = "100.64.0.9"
CONFERENCES = 6  # three calls each, one starting every 10 s: they overlap (each lasts ~17 s)
MRF_CONFERENCES = 2  # the same seen beside the MRF, 8 s apart


def _behind_nat(frames: tuple[Frame, ...]) -> list[Frame]:
    """The MRFP's TCP as a NAT in front of it rewrites it: bound by key, not by the SDP."""
    out = []
    for f in frames:
        p = Ether(f.data)
        if TCP in p and MRFP in (p[IP].src, p[IP].dst):
            if p[IP].src == MRFP:
                p[IP].src = NAT
            else:
                p[IP].dst = NAT
            del p[IP].chksum, p[TCP].chksum
            f = dataclasses.replace(f, data=bytes(p))
        out.append(f)
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    frames, keys = overlapping_conferences(CONFERENCES)
    later = REPLAY_AT_NS
    mrf = synthesize(
        "msrp-dial-in", seed=60, keys=keys, now_ns=later + 60 * SEC, capture_point="mrf"
    )
    frames += mrf.frames
    nat = synthesize("msrp-dial-in", seed=80, keys=keys, now_ns=later + 120 * SEC)
    frames += _behind_nat(nat.frames)
    for k in range(MRF_CONFERENCES):  # beside the MRF, overlapping: MSRP and BFCP with Mp
        mrf_conf = synthesize(
            "conference", seed=90 + k, keys=keys, now_ns=later + (180 + 8 * k) * SEC,
            capture_point="mrf",
        )  # fmt: skip
        frames += mrf_conf.frames
    return write_merged(frames, keys, tmp_path_factory.mktemp("workers"), "many.pcap")


def _texts(report: object, entries: object = None) -> tuple[str, str]:
    j, x = io.StringIO(), io.StringIO()
    if entries is None:
        json_report.write(report, j)  # type: ignore[arg-type]
    else:
        json_report.write(report, j, entries)  # type: ignore[arg-type]
    junit.write(report, x)  # type: ignore[arg-type]
    return j.getvalue(), x.getvalue()


@pytest.fixture(scope="module")
def one_process(capture: tuple[Path, Path]) -> tuple[str, str]:
    pcap, keys = capture
    report = analyze(pcap, keys=keys)
    # what the capture was built to exercise (counted by hand from the scenarios)
    assert len(report.calls) == 3 * CONFERENCES + 2 + 1 + 1 + 3 * MRF_CONFERENCES
    replays = [c.call_id for c in report.calls for r in c.checks if r.rule == "REPLAY"]
    failed = [c.call_id for c in report.calls for r in c.checks if r.rule == "REPLAY"
              and r.status.value == "fail"]  # fmt: skip
    assert len(replays) == len(report.calls) and len(failed) == 1  # the replayed call's
    assert any(m.kms is not None for c in report.calls for m in c.media)
    # the MRF-side dial-in's MSRP m-line and each MRF-side conference call's MSRP and BFCP
    # m-lines have their Mp termination
    mp = sum(m.mp is not None for c in report.calls for m in c.media)
    assert mp == 1 + 2 * 3 * MRF_CONFERENCES
    assert any(m.tcp and m.tcp.bound_by == "key" for c in report.calls for m in c.media)
    return _texts(report)


@pytest.mark.parametrize("n", [1, 3])
def test_worker_processes_give_the_one_process_report(
    capture: tuple[Path, Path],
    one_process: tuple[str, str],
    n: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "BATCH_CALLS", 2)
    pcap, keys = capture
    assert _texts(analyze(pcap, keys=keys, workers=n)) == one_process


@pytest.mark.parametrize("n", [0, 2])
def test_calls_judged_as_they_end_give_the_same_report(
    capture: tuple[Path, Path],
    one_process: tuple[str, str],
    n: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "BATCH_CALLS", 2)
    pcap, keys = capture
    streamed = analyze_streamed(pcap, keys=keys, workers=n)
    try:
        assert _texts(streamed.report, streamed.entries) == one_process
        # only what the slim records need is kept: no message, ladder or transcript
        assert not any(m.messages or m.chat for c in streamed.report.calls for m in c.media)
    finally:
        streamed.close()


def test_faults_of_a_call_are_the_same_in_workers_and_when_judged_as_it_ends(
    capture: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a call whose correlation raises (in a worker process) and one whose judgement raises
    # (where it ends): each is its own problem, in the same place as in one process
    from mikeyshark import judge, pipeline, spool
    from mikeyshark.checks.evaluate import evaluate_call
    from mikeyshark.correlate import correlate

    pcap, keys = capture
    one = analyze(pcap, keys=keys)
    broken, unjudged = one.calls[4].call_id, one.calls[7].call_id

    def corr(batch: list[Any], *a: Any, **kw: Any) -> Any:
        if any(c.call_id == broken for c in batch):
            raise IndexError("binding bug")
        return correlate(batch, *a, **kw)

    def evaluate(call: Any, ctx: Any) -> Any:
        if call.call_id == unjudged:
            raise AttributeError("rule bug")
        return evaluate_call(call, ctx)

    monkeypatch.setattr(pipeline, "correlate", corr)
    monkeypatch.setattr(judge, "evaluate_call", evaluate)
    monkeypatch.setattr(spool, "evaluate_call", evaluate)
    monkeypatch.setattr(workers, "BATCH_CALLS", 2)
    want = _texts(analyze(pcap, keys=keys))
    assert "binding bug" in want[0] and "rule bug" in want[0]
    assert _texts(analyze(pcap, keys=keys, workers=2)) == want
    streamed = analyze_streamed(pcap, keys=keys, workers=2)
    try:
        assert _texts(streamed.report, streamed.entries) == want
    finally:
        streamed.close()


def test_by_default_a_large_capture_read_alone_gets_every_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, big = tmp_path / "small.pcap", tmp_path / "big.pcap"
    small.write_bytes(bytes(24))
    with big.open("wb") as f:
        f.truncate(32 * 1024 * 1024)  # sparse: the documented threshold, 32 MiB
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert workers_for(Unit((str(big),)), None) == 3
    assert workers_for(Unit((str(small),)), None) == 0
    assert workers_for(Unit((str(small), str(big))), None) == 3  # rotated pieces read as one
    assert workers_for(Unit((str(big),)), 0) == 0  # as asked
    assert workers_for(Unit((str(small),)), 2) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert workers_for(Unit((str(big),)), None) == 0  # one core: nothing to spread


class _Batch:
    """A batch of ``n`` calls, one by default (the stand-in for real calls: what is checked
    is where the reader queues, not what a call becomes)."""

    def __init__(self, n: int = 1) -> None:
        self.calls = ("call",) * n

    def process(self, work: object) -> list[Any]:
        return []

    def release(self) -> None:
        pass


def _children_seen_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child is seen still busy whenever the reader looks without waiting (whatever the
    machine's speed); waiting for it waits."""
    waitpid = os.waitpid

    def busy(pid: int, options: int) -> tuple[int, int]:
        return (0, 0) if options & os.WNOHANG else waitpid(pid, options)

    monkeypatch.setattr(os, "waitpid", busy)


def _fork_sizes(forks: workers.Forks) -> list[int]:
    """The calls each later child of ``forks`` takes, in order (filled as they fork)."""
    sizes: list[int] = []
    fork = forks._fork

    def counted(calls: int | None = None) -> None:
        before = forks.queued
        fork(calls)
        sizes.append(before - forks.queued)

    forks._fork = counted  # type: ignore[method-assign]
    return sizes


def test_the_reader_queues_while_workers_are_busy_up_to_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one worker, a batch of at least one call, at most 3 calls queued; a child is seen
    # still busy whenever the reader looks without waiting (whatever the machine's speed):
    # the first call is forked at once, the next ones queue instead of each waiting for
    # the worker, and the reader waits for it only when the queue reaches its budget
    _children_seen_busy(monkeypatch)
    monkeypatch.setattr(workers, "MAX_QUEUED_CALLS", 3)
    forks = workers.Forks(work=None, workers=1, batch_calls=1)  # type: ignore[arg-type]
    queued, forked = [], []
    try:
        for _ in range(8):
            forks.submit(_Batch())  # type: ignore[arg-type]
            queued.append(forks.queued)
            forked.append(forks.forked)
        forks.finish()
    finally:
        forks.close()
    assert queued == [0, 1, 2, 0, 1, 2, 0, 1]
    assert forked == [1, 1, 1, 2, 2, 2, 3, 3]
    assert forks.forked == 4  # the last child takes the queued rest


def test_what_is_queued_at_the_end_is_split_among_the_workers() -> None:
    # five calls, none forked while reading (a batch needs ten): at the end they go to both
    # workers, three and two, rather than one child taking them all while the other idles
    forks = workers.Forks(work=None, workers=2, batch_calls=10)  # type: ignore[arg-type]
    sizes = _fork_sizes(forks)
    try:
        for _ in range(5):
            forks.submit(_Batch())  # type: ignore[arg-type]
        assert forks.forked == 0
        forks.finish()
    finally:
        forks.close()
    assert sizes == [3, 2]


@pytest.mark.parametrize(
    ("calls", "free", "left", "per_call", "expected"),
    [
        # 10 ms a call, the busy worker 0.1 s from its end: 20 calls here (0.2 s), 10 for
        # it when it ends (0.1 + 0.1 s): both end at 0.2 s
        (30, 1, [0.1], 0.01, 20),
        # the busy worker has more left than the whole queue: all of it here
        (10, 1, [0.5], 0.01, 10),
        # both idle: halves
        (30, 2, [], 0.01, 15),
        # 16 calls would level them (0.16 s each); the one call left goes with them
        (17, 1, [0.15], 0.01, 17),
        # a busy worker late on its estimate counts as about to end
        (10, 1, [-0.3], 0.01, 5),
        # no child measured yet: an even split among the idle workers
        (5, 2, [], None, 3),
        (5, 1, [], None, 5),
    ],
)
def test_the_share_of_an_idle_worker_at_the_end_levels_the_workers(
    calls: int, free: int, left: list[float], per_call: float | None, expected: int
) -> None:
    assert workers.share(calls, free, left, per_call) == expected


def test_at_the_end_an_idle_worker_takes_more_while_another_is_still_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # children measured at 10 ms a call; a child of 10 calls forked "now" (the clock stands
    # still) has 0.1 s left when reading ends with 30 calls queued: the idle worker takes 20
    # of them (an even split gave 15 and 15, the second 15 waiting for the busy child)
    _children_seen_busy(monkeypatch)
    monkeypatch.setattr(time, "perf_counter", lambda: 100.0)
    forks = workers.Forks(work=None, workers=2, batch_calls=10)  # type: ignore[arg-type]
    forks.busy, forks.busy_calls = 1.0, 100
    try:
        forks.submit(_Batch(10))  # type: ignore[arg-type]
        assert forks.forked == 1
        forks.batch_calls = 1000  # no more forks while reading
        for _ in range(30):
            forks.submit(_Batch())  # type: ignore[arg-type]
        sizes = _fork_sizes(forks)
        forks.finish()
    finally:
        forks.close()
    assert sizes == [20, 10]


def test_the_first_batches_are_smaller_while_no_worker_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # batches of 128 calls; the first children take 16, 32, then 64 calls when no child is
    # running (a core would idle while the reader gathers 128), none while one is
    forks = workers.Forks(work=None, workers=2, batch_calls=128)  # type: ignore[arg-type]
    sizes = _fork_sizes(forks)
    try:
        for _ in range(15):
            forks.submit(_Batch())  # type: ignore[arg-type]
        assert sizes == []
        forks.submit(_Batch())  # type: ignore[arg-type]
        assert sizes == [16]
        forks._wait_oldest()
        for _ in range(32):
            forks.submit(_Batch())  # type: ignore[arg-type]
        assert sizes == [16, 32]
        forks._wait_oldest()
        _children_seen_busy(monkeypatch)
        for _ in range(64):
            forks.submit(_Batch())  # type: ignore[arg-type]
        assert sizes == [16, 32, 64]
        for _ in range(100):  # the third child seen busy: these wait for a batch of 128
            forks.submit(_Batch())  # type: ignore[arg-type]
        assert sizes == [16, 32, 64] and forks.queued == 100
        for _ in range(28):
            forks.submit(_Batch())  # type: ignore[arg-type]
        assert sizes == [16, 32, 64, 128]
        forks.finish()
    finally:
        forks.close()
