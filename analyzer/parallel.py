"""Many captures: units of work, and where they run (this process, a process pool, Dask).

A *unit* is what one worker analyzes from the first frame to the last: one capture file, or
the rotated files of one probe read in order as one continuous capture (so that a call split
over several files is joined). Units are independent; their results come back in the order
the units were given, so the combined report is the same however they were spread.

Grouping (``plan_units``): a directory argument stands for the capture files in it, in
natural name order (``cap.pcap2`` before ``cap.pcap10``). Without ``join`` every file is a
unit of its own, except that the pieces of one dumpcap ring buffer
(``<prefix>_<NNNNN>_<YYYYmmddHHMMSS>.<ext>``, :func:`mikeyshark.capture.group_captures`) are
one unit. With ``join`` each directory argument is one unit (one probe's rotated files,
e.g. tcpdump's ``-C``/``-G`` pieces), and each run of consecutive file arguments is one unit.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mikeyshark.capture import group_captures
from mikeyshark.evidence import CaptureInfo
from mikeyshark.gcpolicy import streaming
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import internal_problem
from mikeyshark.pipeline import (
    GROUP_SEPARATOR,
    CallSink,
    CaptureResult,
    Progress,
    analyze_capture,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

# pcap/pcapng names, with the counter tcpdump -C appends (cap.pcap1, cap.pcap2, ...)
CAPTURE_NAME = re.compile(r".*\.(pcap|pcapng|cap|ntar)\d*$", re.IGNORECASE)


class PlanError(ValueError):
    """A capture argument that names nothing to analyze."""


@dataclass(frozen=True, slots=True)
class Unit:
    """Files analyzed as one capture, in this order."""

    files: tuple[str, ...]


def _natural(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p]


def capture_files(directory: str) -> list[str]:
    """The capture files directly in ``directory``, in natural name order."""
    names = [
        n
        for n in os.listdir(directory)
        if CAPTURE_NAME.fullmatch(n) and os.path.isfile(os.path.join(directory, n))
    ]
    return [os.path.join(directory, n) for n in sorted(names, key=_natural)]


def _directory(arg: str) -> list[str] | None:
    """The capture files of a directory argument; None for a file argument."""
    if arg == "-" or not os.path.isdir(arg):
        return None
    files = capture_files(arg)
    if not files:
        raise PlanError(f"{arg}: no capture files (*.pcap, *.pcapng, *.cap) in it")
    return files


def plan_units(arguments: Sequence[str], *, join: bool = False) -> list[Unit]:
    """The units of work for the command line's capture arguments (files or directories)."""
    if not join:
        files: list[str] = []
        for arg in arguments:
            files.extend(_directory(arg) or [arg])
        return [Unit(tuple(g)) for g in group_captures(files)]
    units: list[Unit] = []
    run: list[str] = []  # consecutive file arguments
    for arg in arguments:
        found = _directory(arg)
        if found is None:
            run.append(arg)
            continue
        if run:
            units.append(Unit(tuple(run)))
            run = []
        units.append(Unit(tuple(found)))
    if run:
        units.append(Unit(tuple(run)))
    return units


# A capture this large read alone gets every core by default (``workers=None``): below it,
# forking costs more than the calls' work it spreads (bench/dense.py).
AUTO_WORKERS_BYTES = 32 << 20


def cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def workers_for(unit: Unit, workers: int | None) -> int:
    """``workers`` as given, or for ``None`` (the default): every core for a unit of at least
    ``AUTO_WORKERS_BYTES``, else none (one process). The report is the same either way."""
    if workers is not None:
        return workers
    size = sum(os.path.getsize(f) for f in unit.files if f != "-" and os.path.isfile(f))
    n = cores()
    return n if size >= AUTO_WORKERS_BYTES and n > 1 else 0


@dataclass(frozen=True, slots=True)
class Within:
    """How each unit is analyzed in its process (:func:`~pipeline.analyze_capture`):
    ``workers`` processes for its calls (``None``: :func:`workers_for` decides), ``detail``
    for the HTML, the ``sink`` of its calls."""

    workers: int | None = 0
    detail: bool = True
    sink: CallSink | None = None


def analyze_unit(
    unit: Unit,
    keys: KeyFile,
    reveal: bool,
    within: Within = Within(),
    progress: Progress | None = None,
) -> CaptureResult:
    """The work of one worker (a module-level function: process pools and Dask pickle it),
    and the fault barrier of a capture: should its analysis fail unexpectedly, the result
    is the capture with that problem (the other captures, and every report, go on)."""
    target: str | tuple[str, ...] = unit.files[0] if len(unit.files) == 1 else unit.files
    try:
        with streaming():
            return analyze_capture(
                target,
                keys,
                reveal=reveal,
                progress=progress,
                workers=workers_for(unit, within.workers),
                detail=within.detail,
                sink=within.sink,
            )
    except Exception as e:
        return _failed(unit, e)


def _failed(unit: Unit, e: BaseException) -> CaptureResult:
    path = GROUP_SEPARATOR.join(unit.files)
    problem = internal_problem(e, "the capture", None, path)
    return CaptureResult(CaptureInfo(path=path, errors=[problem], files=unit.files))


def run_units(
    units: Sequence[Unit],
    keys: KeyFile,
    *,
    reveal: bool,
    jobs: int = 1,
    dask: str | None = None,
    progress: Callable[[Unit], Progress | None] | None = None,
    within: Within = Within(),
) -> list[CaptureResult]:
    """Every unit's result, in the order of ``units``.

    ``dask``: a scheduler address (``tcp://host:8786``); its workers need the package
    installed and the capture paths readable under the same names. Else ``jobs`` > 1 spreads
    the units over that many local processes; else they run here, one after the other, each
    with the progress callback ``progress(unit)`` returns. ``within``: how each unit is
    analyzed (``within.workers`` processes for the calls of each).
    """
    if within.workers is None and (dask is not None or (jobs > 1 and len(units) > 1)):
        within = dataclasses.replace(within, workers=0)  # the cores go to the units
    if dask is not None:
        return _run_dask(units, keys, reveal, dask)
    if jobs > 1 and len(units) > 1:
        # imported here: the process pool (multiprocessing) costs every other run its import
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(units))) as pool:
            futures = [pool.submit(analyze_unit, u, keys, reveal, within) for u in units]
            return [_result(f, u) for f, u in zip(futures, units, strict=True)]
    out = []
    for u in units:
        bar = progress(u) if progress is not None else None
        try:
            out.append(analyze_unit(u, keys, reveal, within, bar))
        finally:
            close = getattr(bar, "close", None)
            if close is not None:
                close()
    return out


def _result(future: Future[CaptureResult], unit: Unit) -> CaptureResult:
    """A worker's result; a worker that died (killed, out of memory) is that capture's
    problem, not the end of the others."""
    try:
        return future.result()
    except Exception as e:
        return _failed(unit, e)


def _run_dask(units: Sequence[Unit], keys: KeyFile, reveal: bool, address: str) -> list[Any]:
    from mikeyshark.dask_backend import run_on_cluster

    return run_on_cluster(address, analyze_unit, list(units), keys, reveal)
