"""Calls judged as they end and their JSON entries spooled: memory that does not grow with calls.

For the reports that need no more than a call's verdict and checks once its JSON entry is
written (JSON, JUnit, the terminal summary, the key log), each call is judged where it is
correlated (:class:`LeanSink`, in a worker process with ``--workers``), its JSON entry goes
to a spool file, and a slim record stays: the verdict, checks, MIKEY facts and problems the
terminal summary, JUnit, the summary counts and REPLAY read. Its MSRP/BFCP messages, ladder,
transcript and decrypted bytes go. The reports are assembled at the end (:func:`assemble`),
in the report's order, around the spooled text.

REPLAY is the one rule that reads other calls (a TRANSFER_INIT sent before in another call,
in the report's order), and calls end in another order than they begin: each call is first
judged as if none came before it; at the end, in the report's order, a call whose
TRANSFER_INIT was seen in an earlier call is judged again for REPLAY
(:func:`~mikeyshark.checks.evaluate.revise`) and the head and checks of its entry are written
again around its spooled m-lines, so the report is the one judging in order gives
(``tests/analyzer/test_spool.py``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from mikeyshark.checks.evaluate import (
    Context,
    evaluate_call,
    not_judged,
    remember,
    replayed,
    revise,
)
from mikeyshark.evidence import CallRecord
from mikeyshark.model import Problem
from mikeyshark.pipeline import CaptureResult, Finalized
from mikeyshark.report import json_report

REPLAY = "REPLAY"


@dataclass(frozen=True, slots=True)
class Kept:
    """What the sink kept of a call beside its slim record: where its JSON entry is, and
    why it could not be judged (the fault barrier: a problem of the call and, after the
    capture's others, of the capture, as :func:`~mikeyshark.judge.build_report` adds it)."""

    entry: Spooled | None
    failure: Problem | None = None


@dataclass(frozen=True, slots=True)
class Spooled:
    """Where a call's JSON entry is: head, m-lines and tail, one after the other (UTF-8)."""

    path: str
    offset: int
    head: int
    media: int
    tail: int


class LeanSink:
    """Judges each finalized call, spools its JSON entry and keeps a slim record (a
    :data:`~mikeyshark.pipeline.CallSink`)."""

    def __init__(self, context: Context, reveal: bool, *, json: bool, keylog: bool) -> None:
        self.context = context
        self.reveal = reveal
        self.json = json
        self.keylog = keylog
        self.dir = tempfile.mkdtemp(prefix="mikeyshark-spool-")
        self._pid = 0
        self._offset = 0  # where the next entry goes in this process's spool file
        # the context each call is judged in: this one's, as if no call came before it
        self._alone = dataclasses.replace(context, seen_inits={})
        self._file: IO[bytes] | None = None
        self._path = ""
        self._readers: dict[str, IO[bytes]] = {}

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
            entry = self._write(*json_report.call_parts(rec, self.reveal)) if self.json else None
            f.spooled = Kept(entry, failure)
            slim(rec)
            f.connections = (
                [dataclasses.replace(d, data=[]) for d in f.connections] if self.keylog else []
            )
        if self._file is not None:
            self._file.flush()  # a worker process ends without flushing
        return items

    def _write(self, head: str, media: str, tail: str) -> Spooled:
        if self._pid != os.getpid():  # a worker process writes a spool file of its own
            self._pid = os.getpid()
            fd, self._path = tempfile.mkstemp(dir=self.dir, suffix=".json-parts")
            self._file = os.fdopen(fd, "wb")
            self._offset = 0
        assert self._file is not None
        a, b, c = head.encode(), media.encode(), tail.encode()
        offset = self._offset
        for part in (a, b, c):
            self._file.write(part)
        self._offset += len(a) + len(b) + len(c)
        return Spooled(self._path, offset, len(a), len(b), len(c))

    def read(self, s: Spooled) -> tuple[str, str, str]:
        f = self._readers.get(s.path)
        if f is None:
            if self._file is not None:
                self._file.flush()
            f = self._readers[s.path] = open(s.path, "rb")  # noqa: SIM115 - closed by close()
        f.seek(s.offset)
        data = f.read(s.head + s.media + s.tail)
        a, b = s.head, s.head + s.media
        return data[:a].decode(), data[a:b].decode(), data[b:].decode()

    def close(self) -> None:
        for f in [*self._readers.values(), *([self._file] if self._file else [])]:
            f.close()
        self._readers.clear()
        self._file = None
        shutil.rmtree(self.dir, ignore_errors=True)


def slim(rec: CallRecord) -> None:
    """Drop what only the JSON entry (spooled) and the HTML (not written) show."""
    rec.events = []
    rec.roles = {}
    for m in rec.media:
        m.messages = []
        m.chat = []
        m.floor = []
        m.data_frames = []
        m.plaintext_frames = []
        m.media_problems = []
        if m.init is not None:
            m.init.tree = None
        if m.resp is not None:
            m.resp.tree = None
        if m.key is not None:
            m.key.ticket_tree = None


Entry = Callable[[], str]


def assemble(
    results: Sequence[CaptureResult], context: Context, sink: LeanSink
) -> tuple[list[CallRecord], list[Entry]]:
    """The calls in the report's order (REPLAY judged again where an earlier call sent the
    same TRANSFER_INIT) and, for each, what writes its JSON entry."""
    calls: list[CallRecord] = []
    entries: list[Entry] = []
    ctx = dataclasses.replace(context, seen_inits={})
    for res in results:
        order = sorted(range(len(res.calls)), key=lambda i: res.calls[i].invite_frame or 0)
        for i in order:
            call, kept = res.calls[i], res.spooled[i] if res.spooled else None
            again = False
            if kept is not None and kept.failure is not None:
                call.problems.append(kept.failure)
                res.info.errors.append(kept.failure)
            else:
                again = replayed(call, ctx)
                if again:
                    revise(call, ctx, REPLAY)
                remember(call, ctx)
            calls.append(call)
            entries.append(_entry(call, kept.entry if kept is not None else None, sink, again))
    return calls, entries


def _entry(call: CallRecord, spooled: Spooled | None, sink: LeanSink, again: bool) -> Entry:
    def text() -> str:
        assert spooled is not None
        head, media, tail = sink.read(spooled)
        if again:
            head, _, tail = json_report.call_parts(call, sink.reveal)
        return head + media + tail

    return text
