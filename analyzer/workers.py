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
the kernel, so ended calls are forked in batches of at least ``BATCH_CALLS``. The reader never
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
import traceback
from collections import deque

from mikeyshark.pipeline import Batch, CallWork, Finalized

BATCH_CALLS = 128
MAX_QUEUED_CALLS = 512


class WorkerError(RuntimeError):
    """A worker process failed or died: the analysis of the capture cannot be completed."""


class Forks:
    """Batches of ended calls processed in forked children (a :class:`~pipeline.Runner`)."""

    def __init__(self, work: CallWork, workers: int, batch_calls: int | None = None) -> None:
        self.work = work
        self.workers = max(1, workers)
        self.batch_calls = batch_calls or BATCH_CALLS
        self.queue: list[Batch] = []
        self.queued = 0  # calls in ``queue``
        self.running: deque[tuple[int, str]] = deque()  # (pid, result file), oldest first
        self.done: list[Finalized] = []
        self.dir = tempfile.mkdtemp(prefix="mikeyshark-workers-")
        self.forked = 0

    def submit(self, batch: Batch) -> None:
        self.queue.append(batch)
        self.queued += len(batch.calls)
        if self.queued < self.batch_calls:
            return
        self.poll()
        if len(self.running) < self.workers or self.queued >= MAX_QUEUED_CALLS:
            self._fork()

    def poll(self) -> None:
        """Take the results of the children that are done (oldest first), without waiting."""
        while self.running:
            pid, path = self.running[0]
            got, status = os.waitpid(pid, os.WNOHANG)
            if got == 0:
                return
            self.running.popleft()
            self._collect(path, status)

    def finish(self) -> list[Finalized]:
        try:
            # what is left queued is split among the workers: the reader only waits now
            share = -(-self.queued // self.workers)
            rest, self.queue, self.queued = self.queue, [], 0
            for batch in rest:
                self.queue.append(batch)
                self.queued += len(batch.calls)
                if self.queued >= share:
                    self._fork()
            self._fork()
            while self.running:
                self._wait_oldest()
        finally:
            self.close()
        return self.done

    def close(self) -> None:
        """Stop the children still running (the analysis is given up) and remove the files."""
        while self.running:
            pid, _ = self.running.popleft()
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _fork(self) -> None:
        if not self.queue:
            return
        while len(self.running) >= self.workers:
            self._wait_oldest()
        batches, self.queue, self.queued = self.queue, [], 0
        path = os.path.join(self.dir, f"{self.forked}.pickle")
        self.forked += 1
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            self._child(batches, path)
        for b in batches:
            b.release()  # the child has its own copy
        self.running.append((pid, path))

    def _child(self, batches: list[Batch], path: str) -> None:
        code = 0
        try:
            gc.disable()  # short-lived, and a collection would copy the parent's pages
            out = [f for b in batches for f in b.process(self.work)]
            data = pickle.dumps(("ok", out), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            data = pickle.dumps(("error", traceback.format_exc()))
            code = 1
        try:
            with open(path + ".part", "wb") as f:
                f.write(data)
            os.replace(path + ".part", path)
        finally:
            os._exit(code)  # no atexit handlers, no flushing of the parent's buffers

    def _wait_oldest(self) -> None:
        pid, path = self.running.popleft()
        _, status = os.waitpid(pid, 0)
        self._collect(path, status)

    def _collect(self, path: str, status: int) -> None:
        try:
            with open(path, "rb") as f:
                kind, got = pickle.load(f)
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


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def available() -> bool:
    return hasattr(os, "fork")
