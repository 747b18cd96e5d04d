"""All the cores on one capture: calls correlated in worker processes while the capture is read.

What has to happen in capture order stays in the reading process: reading frames, TCP
reassembly, SIP, and, when a call ends, claiming the connections its m-lines bind
(:func:`mikeyshark.correlate.claim`), since that decides what later calls can still bind.
What a call costs beyond that - opening its MIKEY tickets, decrypting its TLS, parsing its
MSRP and BFCP, and with a sink judging it and writing its report entry - depends on nothing
else, so it is done in a forked child: the child inherits the ended calls and the claimed
connections as they are (copy-on-write: nothing is serialized on the way in), processes the
batch and hands back its finalized calls as one pickle in a file. The finalizer merges them
in the order of the calls' first messages, as it does for calls processed in-process, so the
result is the one a single process gives (``tests/analyzer/test_workers.py``).

A fork costs more than the fork: every page either process writes afterwards is copied by
the kernel, so ended calls are forked in batches of at least ``BATCH_CALLS`` (the first few
smaller, see ``FIRST_BATCH_CALLS``). The reader never
waits for a worker while it has room: when every worker is busy, ended calls queue and the
next child takes them all, so batches grow where the workers are the slower side; only past
``MAX_QUEUED_CALLS`` queued calls (their connections' bytes are held) does the reader wait
for the oldest child. Without ``os.fork`` (Windows) calls are processed in-process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import shutil
import tempfile
import time
import traceback
from collections import deque
from typing import NamedTuple

from mikeyshark.pipeline import Batch, CallWork, Finalized

BATCH_CALLS = 128
MAX_QUEUED_CALLS = 512
# While no worker is busy, a core idles as the reader gathers a batch: the first children
# take smaller batches (16, 32, 64 calls) when none is running, so that the workers start
# early in the capture (when forking is cheapest: the reader's memory is smallest) and the
# reader pays for a few forks more, not for one per idle moment.
FIRST_BATCH_CALLS = 16


class WorkerError(RuntimeError):
    """A worker process failed or died: the analysis of the capture cannot be completed."""


class _Child(NamedTuple):
    pid: int
    path: str  # where it hands back its calls
    calls: int
    started: float  # time.perf_counter() when forked


class Forks:
    """Batches of ended calls processed in forked children (a :class:`~pipeline.Runner`)."""

    def __init__(self, work: CallWork, workers: int, batch_calls: int | None = None) -> None:
        self.work = work
        self.workers = max(1, workers)
        self.batch_calls = batch_calls or BATCH_CALLS
        self.queue: list[Batch] = []
        self.queued = 0  # calls in ``queue``
        self.running: deque[_Child] = deque()  # oldest first
        self.done: list[Finalized] = []
        self.forked = 0
        # the children's own seconds and calls: how long a call takes a worker (see finish)
        self.busy = 0.0
        self.busy_calls = 0
        # made last: a signal (Ctrl-C, SIGTERM) while the runner is being made leaves none
        self.dir = tempfile.mkdtemp(prefix="mikeyshark-workers-")

    def submit(self, batch: Batch) -> None:
        self.queue.append(batch)
        self.queued += len(batch.calls)
        if self.queued >= self.batch_calls:
            self.poll()
            if len(self.running) < self.workers or self.queued >= MAX_QUEUED_CALLS:
                self._fork()
        elif self.queued >= FIRST_BATCH_CALLS << min(self.forked, 8):
            self.poll()
            if not self.running:  # one of the first, smaller batches: a core is idle
                self._fork()

    def poll(self) -> None:
        """Take the results of the children that are done (oldest first), without waiting."""
        while self.running:
            child = self.running[0]
            got, status = os.waitpid(child.pid, os.WNOHANG)
            if got == 0:
                return
            self.running.popleft()
            self._collect(child, status)

    def finish(self) -> list[Finalized]:
        """What is left queued goes to the idle workers, in shares that let every worker,
        the busy ones included, end together (the reader only waits now)."""
        try:
            while self.queue:
                self.poll()
                free = self.workers - len(self.running)
                if free == 0:
                    self._wait_oldest()
                    continue
                now = time.perf_counter()
                per_call = self.busy / self.busy_calls if self.busy_calls else None
                left = (
                    []
                    if per_call is None
                    else [c.calls * per_call - (now - c.started) for c in self.running]
                )
                self._fork(share(self.queued, free, left, per_call))
            while self.running:
                self._wait_oldest()
        finally:
            self.close()
        return self.done

    def close(self) -> None:
        """Stop the children still running (the analysis is given up) and remove the files."""
        while self.running:
            pid = self.running.popleft().pid
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _fork(self, calls: int | None = None) -> None:
        """A child for the queued batches (the first of them holding at least ``calls``
        calls, when given)."""
        if not self.queue:
            return
        while len(self.running) >= self.workers:
            self._wait_oldest()
        n = 0
        for i, b in enumerate(self.queue):
            n += len(b.calls)
            if calls is not None and n >= calls:
                batches, self.queue = self.queue[: i + 1], self.queue[i + 1 :]
                break
        else:
            batches, self.queue = self.queue, []
        self.queued -= n
        path = os.path.join(self.dir, f"{self.forked}.pickle")
        self.forked += 1
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            self._child(batches, path, started)
        for b in batches:
            b.release()  # the child has its own copy
        self.running.append(_Child(pid, path, n, started))

    def _child(self, batches: list[Batch], path: str, started: float) -> None:
        code = 0
        try:
            gc.disable()  # short-lived, and a collection would copy the parent's pages
            out = [f for b in batches for f in b.process(self.work)]
            seconds = time.perf_counter() - started
            data = pickle.dumps(("ok", out, seconds), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            data = pickle.dumps(("error", traceback.format_exc(), 0.0))
            code = 1
        try:
            with open(path + ".part", "wb") as f:
                f.write(data)
            os.replace(path + ".part", path)
        finally:
            os._exit(code)  # no atexit handlers, no flushing of the parent's buffers

    def _wait_oldest(self) -> None:
        child = self.running.popleft()
        _, status = os.waitpid(child.pid, 0)
        self._collect(child, status)

    def _collect(self, child: _Child, status: int) -> None:
        path = child.path
        try:
            with open(path, "rb") as f:
                kind, got, seconds = pickle.load(f)
        except OSError:
            raise WorkerError(
                f"a worker process ended ({_status(status)}) without handing back its calls"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                os.remove(path)
        if kind != "ok":
            raise WorkerError(f"a worker process failed:\n{got}")
        self.done.extend(got)
        if child.calls:
            self.busy += seconds
            self.busy_calls += child.calls


def share(calls: int, free: int, left: list[float], per_call: float | None) -> int:
    """How many of the ``calls`` queued at the end an idle worker takes (``free`` of them are
    idle; the busy ones have ``left`` seconds of work left, ``per_call`` seconds a call):
    with the rest going to the busy workers as they end, as many as makes every worker end
    at once. A child's fork and hand-back cost more than a few calls: a rest that small goes
    with this share. Without a measured ``per_call``, an even split among the idle workers."""
    if not per_call:
        return -(-calls // free)
    workers = free + len(left)
    # the level every worker's work reaches when the calls fill the least loaded first
    loads = sorted([0.0] * free + [max(x, 0.0) for x in left])
    work = calls * per_call
    level = 0.0
    for k in range(1, workers + 1):
        level = (work + sum(loads[:k])) / k
        if k == workers or level <= loads[k]:
            break
    take = max(1, min(calls, round(level / per_call)))
    return calls if calls - take <= take // 8 else take


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def available() -> bool:
    return hasattr(os, "fork")
