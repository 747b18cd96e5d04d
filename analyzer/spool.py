"""Calls judged as they end and spooled: memory that does not grow with the calls.

For the reports that need no more than a call's verdict and checks once its JSON entry is
written (JSON, JUnit, the terminal summary, the key log), each call is judged where it is
correlated (:class:`LeanSink`, in a worker process with ``--workers``) and goes to a spool
file whole: what the writers read of it (:func:`pack`: the call's own fields, its verdict
and checks, its problems and the MIKEY facts of its m-lines) and its JSON entry. What stays
in memory is a small fixed record per call: where it is spooled and the TRANSFER_INITs it
sent. The reports are written at the end, in the report's order, from the calls read back
one at a time (:class:`SpooledCalls`) and the spooled text.

REPLAY is the one rule that reads other calls (a TRANSFER_INIT sent before in another call,
in the report's order), and calls end in another order than they begin: each call is first
judged as if none came before it; at the end, in the report's order, a call whose
TRANSFER_INIT was seen in an earlier call is read back, judged again for REPLAY
(:func:`~mikeyshark.checks.evaluate.revise`) and spooled again, the head and checks of its
entry written again around its spooled m-lines, so the report is the one judging in order
gives (``tests/analyzer/test_workers.py``, ``tests/analyzer/test_spool.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, overload

from mikeyshark.checks.evaluate import (
    Context,
    Exchange,
    evaluate_call,
    exchanges,
    not_judged,
    remember,
    replayed,
    revise,
)
from mikeyshark.evidence import CallRecord, CheckResult, MediaRecord, MikeyInfo
from mikeyshark.keylog import keylog_facts
from mikeyshark.model import Problem
from mikeyshark.pipeline import CaptureResult, Finalized
from mikeyshark.report import json_report
from mikeyshark.report.model import CallTally, tally_of

REPLAY = "REPLAY"
# bytes written to a spool file at once: a few calls' records and JSON entries
SPOOL_BUFFER = 1 << 16


@dataclass(frozen=True, slots=True)
class Spooled:
    """Where a call is in a spool file: its record (:func:`pack`), then its JSON entry's
    head, m-lines and tail (UTF-8), one after the other."""

    path: str
    offset: int
    record: int
    head: int
    media: int
    tail: int


@dataclass(frozen=True, slots=True)
class Kept:
    """What the sink keeps of a call in memory: where it is spooled, its verdict and what
    the summaries count of it, the TRANSFER_INITs it sent (REPLAY), and why it could not be
    judged (the fault barrier: a problem of the call and, after the capture's others, of the
    capture, as :func:`~mikeyshark.judge.build_report` adds it)."""

    spooled: Spooled
    tally: CallTally
    sent: tuple[Exchange, ...] = ()
    failure: Problem | None = None


# What the writers read of a call (JSON head and tail, JUnit, the terminal summary, the
# verdict and REPLAY) goes to the spool as tuples of plain values: pickled dataclasses take
# several times as long to load, and the calls are read back once per writer.
_CALL_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(CallRecord)
    if f.name not in ("media", "events", "roles", "checks", "problems")
)
_MIKEY_FIELDS = tuple(f.name for f in dataclasses.fields(MikeyInfo) if f.name != "tree")
_CHECK_FIELDS = tuple(f.name for f in dataclasses.fields(CheckResult))
_call_values = operator.attrgetter(*_CALL_FIELDS)
_mikey_values = operator.attrgetter(*_MIKEY_FIELDS)
_check_values = operator.attrgetter(*_CHECK_FIELDS)


def pack(rec: CallRecord) -> bytes:
    """The call as the writers read it: its own fields, checks and problems, and of each
    m-line its index, protocol and MIKEY messages (no payload tree). Not its messages,
    ladder, transcript, keys or connections: only the JSON entry (spooled) and the HTML
    (not written from spooled calls) show those."""
    media = [
        (
            m.index,
            m.protocol,
            None if m.init is None else _mikey_values(m.init),
            None if m.resp is None else _mikey_values(m.resp),
        )
        for m in rec.media
    ]
    checks = [_check_values(c) for c in rec.checks]
    return pickle.dumps(
        (_call_values(rec), media, checks, rec.problems), protocol=pickle.HIGHEST_PROTOCOL
    )


def unpack(data: bytes) -> CallRecord:
    """The call :func:`pack` spooled."""
    values, media, checks, problems = pickle.loads(data)
    rec = CallRecord(**dict(zip(_CALL_FIELDS, values, strict=True)))
    rec.media = [
        MediaRecord(
            index,
            protocol,
            None,
            init=None if init is None else MikeyInfo(*init),
            resp=None if resp is None else MikeyInfo(*resp),
        )
        for index, protocol, init, resp in media
    ]
    rec.checks = [CheckResult(*c) for c in checks]
    rec.problems = problems
    return rec


class LeanSink:
    """Judges each finalized call, spools it and keeps a small fixed record of it (a
    :data:`~mikeyshark.pipeline.CallSink`): the finalized call's record is left with its
    id, INVITE frame, capture and problems, :class:`Kept` beside it."""

    def __init__(self, context: Context, reveal: bool, *, json: bool, keylog: bool) -> None:
        self.context = context
        self.reveal = reveal
        self.json = json
        self.keylog = keylog
        self._pid = 0
        self._offset = 0  # where the next call goes in this process's spool file
        # the context each call is judged in: this one's, as if no call came before it
        self._alone = dataclasses.replace(context, seen_inits={})
        self._file: IO[bytes] | None = None
        self._path = ""
        self._readers: dict[str, IO[bytes]] = {}
        # made last: a signal (Ctrl-C, SIGTERM) while the sink is being made leaves none
        self.dir = tempfile.mkdtemp(prefix="mikeyshark-spool-")

    def __call__(self, items: list[Finalized]) -> list[Finalized]:
        for f in items:
            rec = f.record
            failure = None
            try:
                # as if no call came before it: assemble() judges REPLAY again where one did
                self._alone.seen_inits.clear()
                evaluate_call(rec, self._alone)
            except Exception as e:  # the fault barrier of a call's judgement
                failure = not_judged(rec, e, rec.capture)
            parts = json_report.call_parts(rec, self.reveal) if self.json else ("", "", "")
            spooled = self._write(pack(rec), *parts)
            sent = exchanges(rec) if failure is None else ()
            f.spooled = Kept(spooled, tally_of(rec), sent, failure)
            # what the capture's problems and the report's order still need of it
            f.record = CallRecord(
                rec.call_id,
                invite_frame=rec.invite_frame,
                capture=rec.capture,
                problems=rec.problems,
            )
            f.connections = (
                [dataclasses.replace(d, info=keylog_facts(d.info), data=[]) for d in f.connections]
                if self.keylog
                else []
            )
        if self._file is not None:
            self._file.flush()  # a worker process ends without flushing
        return items

    def _write(self, record: bytes, head: str, media: str, tail: str) -> Spooled:
        if self._pid != os.getpid():  # a worker process writes a spool file of its own
            self._pid = os.getpid()
            fd, self._path = tempfile.mkstemp(dir=self.dir, suffix=".calls")
            self._file = os.fdopen(fd, "wb", buffering=SPOOL_BUFFER)
            self._offset = 0
        assert self._file is not None
        a, b, c = head.encode(), media.encode(), tail.encode()
        offset = self._offset
        for part in (record, a, b, c):
            self._file.write(part)
        self._offset += len(record) + len(a) + len(b) + len(c)
        return Spooled(self._path, offset, len(record), len(a), len(b), len(c))

    def _read(self, s: Spooled, start: int, size: int) -> bytes:
        f = self._readers.get(s.path)
        if f is None:
            if self._file is not None:
                self._file.flush()
            f = self._readers[s.path] = open(s.path, "rb")  # noqa: SIM115 - closed by close()
        f.seek(s.offset + start)
        return f.read(size)

    def record(self, s: Spooled) -> CallRecord:
        """The call spooled at ``s``, as :func:`pack` keeps it."""
        return unpack(self._read(s, 0, s.record))

    def read(self, s: Spooled) -> tuple[str, str, str]:
        """The head, m-lines and tail of the call's JSON entry."""
        data = self._read(s, s.record, s.head + s.media + s.tail)
        a, b = s.head, s.head + s.media
        return data[:a].decode(), data[a:b].decode(), data[b:].decode()

    def entry(self, s: Spooled) -> str:
        """The call's JSON entry, as :func:`~mikeyshark.report.json_report.write` places it."""
        return self._read(s, s.record, s.head + s.media + s.tail).decode()

    def respool(self, s: Spooled, call: CallRecord, *, head: bool) -> Spooled:
        """Spool ``call`` again (judged again, or with a problem more): its record, and its
        entry with the m-lines spooled at ``s`` (``head``: the head and tail written again)."""
        parts = ("", "", "")
        if self.json:
            parts = self.read(s)
            if head:
                new_head, _, new_tail = json_report.call_parts(call, self.reveal)
                parts = (new_head, parts[1], new_tail)
        place = self._write(pack(call), *parts)
        assert self._file is not None
        self._file.flush()  # read back with the spool's other calls
        return place

    def close(self) -> None:
        for f in [*self._readers.values(), *([self._file] if self._file else [])]:
            f.close()
        self._readers.clear()
        self._file = None
        shutil.rmtree(self.dir, ignore_errors=True)


Entry = Callable[[], str]


class SpooledCalls(Sequence[CallRecord]):
    """The calls of a report, in its order, each read back from the spool when it is
    asked for: what the writers iterate, none of them kept; and their verdicts and what
    the summaries count, known without reading them
    (:meth:`~mikeyshark.report.model.Report.compliant`, ``json_report.write``)."""

    def __init__(self, sink: LeanSink, places: list[Spooled], tallies: list[CallTally]) -> None:
        self.sink = sink
        self.places = places
        self.tallies = tallies

    def __len__(self) -> int:
        return len(self.places)

    @overload
    def __getitem__(self, i: int) -> CallRecord: ...

    @overload
    def __getitem__(self, i: slice) -> list[CallRecord]: ...

    def __getitem__(self, i: int | slice) -> CallRecord | list[CallRecord]:
        if isinstance(i, slice):
            return [self.sink.record(s) for s in self.places[i]]
        return self.sink.record(self.places[i])

    def __iter__(self) -> Iterator[CallRecord]:
        record = self.sink.record
        for s in self.places:
            yield record(s)

    @property
    def entries(self) -> Entries:
        """For each call, what gives its JSON entry's text (``json_report.write``)."""
        return Entries(self.sink, self.places)


class Entries(Sequence[Entry]):
    """For each call of :class:`SpooledCalls`, what reads its JSON entry back."""

    def __init__(self, sink: LeanSink, places: list[Spooled]) -> None:
        self.sink = sink
        self.places = places

    def __len__(self) -> int:
        return len(self.places)

    @overload
    def __getitem__(self, i: int) -> Entry: ...

    @overload
    def __getitem__(self, i: slice) -> list[Entry]: ...

    def __getitem__(self, i: int | slice) -> Entry | list[Entry]:
        if isinstance(i, slice):
            return [functools.partial(self.sink.entry, s) for s in self.places[i]]
        return functools.partial(self.sink.entry, self.places[i])


def assemble(results: Sequence[CaptureResult], context: Context, sink: LeanSink) -> SpooledCalls:
    """The calls in the report's order, REPLAY judged again where an earlier call sent the
    same TRANSFER_INIT."""
    places: list[Spooled] = []
    tallies: list[CallTally] = []
    ctx = dataclasses.replace(context, seen_inits={})
    for res in results:
        order = sorted(range(len(res.calls)), key=lambda i: res.calls[i].invite_frame or 0)
        for i in order:
            call_id, kept = res.calls[i].call_id, res.spooled[i]
            assert isinstance(kept, Kept)
            place, tally = kept.spooled, kept.tally
            if kept.failure is not None:
                res.info.errors.append(kept.failure)
                call = sink.record(place)
                call.problems.append(kept.failure)
                place = sink.respool(place, call, head=False)
            else:
                if replayed(call_id, kept.sent, ctx):
                    call = sink.record(place)
                    revise(call, ctx, REPLAY)
                    place, tally = sink.respool(place, call, head=True), tally_of(call)
                remember(call_id, kept.sent, ctx)
            places.append(place)
            tallies.append(tally)
    return SpooledCalls(sink, places, tallies)
