"""Judging: captures in, a report of judged calls out (the library behind ``mikeyshark analyze``).

:func:`analyze` is the public entry point (``mikeyshark.analyze``): it reads the captures
(:mod:`mikeyshark.parallel` spreads them over processes or a Dask cluster), then
:func:`build_report` judges every call against the rules in capture order, so that REPLAY
sees earlier calls first. The command line writes its terminal summary, JSON, HTML and JUnit
from the very :class:`~mikeyshark.report.model.Report` this returns.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mikeyshark.checks.evaluate import Context, Policy, evaluate_call, not_judged
from mikeyshark.evidence import CallRecord
from mikeyshark.keyfile import KeyFile, TekKey, parse_psk
from mikeyshark.keylog import read_keylog_text
from mikeyshark.parallel import Unit, Within, plan_units, run_units
from mikeyshark.pipeline import CaptureResult, Progress
from mikeyshark.report.model import KeyRow, Report
from mikeyshark.spool import Entry, LeanSink, assemble
from mikeyshark.version import __version__

StrPath = str | os.PathLike[str]


def context_for(keys: KeyFile) -> Context:
    """What the rules take from the key file: the conference policy and the profile."""
    policy = None
    if keys.conference is not None:
        policy = Policy(keys.conference.uri, tuple(keys.conference.authorized))
    bfcp = str(keys.profile.get("bfcp_tls_client", "answerer"))
    return Context(
        policy=policy,
        tls_prot_type=keys.tls_prot_type,
        bfcp_tls_client=bfcp,
        mp=keys.mp,
    )


def key_rows(keys: KeyFile) -> list[KeyRow]:
    """The configured keys, as the report's key table lists them."""
    rows = [KeyRow("KMS master key", k.uri, k.master_key) for k in keys.kms]
    rows += [KeyRow("PSK with the KMS", k.identity, k.key) for k in keys.psk]
    rows += [KeyRow("TLS PSK (given)", k.identity or "-", k.key) for k in keys.tek]
    return rows


def build_report(results: list[CaptureResult], keys: KeyFile, reveal: bool) -> Report:
    """Judge every call (in capture order, so REPLAY sees earlier calls first)."""
    ctx = context_for(keys)
    report = Report(version=__version__, keys=key_rows(keys), reveal_keys=reveal)
    calls: list[CallRecord] = []
    for res in results:
        report.captures.append(res.info)
        report.connections.extend(res.connections)
        report.unbound_media.extend(res.unbound)
        for call in sorted(res.calls, key=lambda c: c.invite_frame or 0):
            try:
                evaluate_call(call, ctx)
            except Exception as e:  # the fault barrier of a call's judgement
                problem = not_judged(call, e, res.info.path)
                call.problems.append(problem)
                res.info.errors.append(problem)
            calls.append(call)
    report.calls = calls
    return report


def analyze(
    *captures: StrPath,
    keys: KeyFile | StrPath | None = None,
    psk: Iterable[str | bytes | TekKey] = (),
    tls_keylog: StrPath | None = None,
    sip_keylog: StrPath | None = None,
    reveal_keys: bool = False,
    jobs: int = 1,
    dask: str | None = None,
    join: bool = False,
    progress: Callable[[tuple[str, ...]], Progress | None] | None = None,
    workers: int | None = 0,
) -> Report:
    """Analyze capture files and judge every call in them.

    ``captures`` are pcap/pcapng files or directories of them (a directory stands for its
    capture files in natural name order). ``keys`` is a loaded :class:`KeyFile` or the path
    of a key file; ``psk`` adds TLS PSKs known directly, each as ``bytes`` or as the text
    ``"HEX[:IDENTITY]"`` of the command line's ``--psk``; ``tls_keylog`` is an NSS key log
    file (``SSLKEYLOGFILE``) applied to every TLS connection, SIP and media alike
    (``sip_keylog``: its former name, still taken). ``reveal_keys`` lets reports show keys
    instead of fingerprints. ``jobs`` > 1 analyzes that many captures at once in processes, ``dask``
    on a Dask cluster (a scheduler address); ``join`` reads rotated files of one probe as
    one capture. ``workers`` > 0 correlates the calls of each capture in up to that many
    more processes while it is read (:mod:`mikeyshark.workers`); the report is the same.
    ``workers=None``: every core for a large capture analyzed alone
    (:func:`~mikeyshark.parallel.workers_for`).
    ``progress(files)`` may return a callback ``(frames, bytes read, size)`` for each
    capture analyzed in this process.

    Returns the :class:`~mikeyshark.report.model.Report`: ``report.calls`` are judged
    (``call.verdict``, ``call.checks`` with rule, status, frames and message, and
    ``call.media`` with the key, TCP, TLS and decrypted messages of each m-line).

    Raises :class:`~mikeyshark.keyfile.KeyFileError` (a ``ValueError``) for an unusable key
    file, ``ValueError`` for a bad PSK or a capture argument that names nothing,
    ``OSError`` for a file that cannot be read, and ``RuntimeError`` when the Dask cluster
    cannot be used. Damage inside a capture is not an error: it is reported, located, in
    ``report.captures[i].errors`` and in the calls it touches.
    """
    keyfile, units = _plan(captures, keys, psk, tls_keylog, sip_keylog, jobs, join, workers)
    results = run_units(
        units,
        keyfile,
        reveal=reveal_keys,
        jobs=jobs,
        dask=dask,
        progress=_bars(progress),
        within=Within(workers=workers),
    )
    return build_report(results, keyfile, reveal_keys)


def _plan(
    captures: tuple[StrPath, ...],
    keys: KeyFile | StrPath | None,
    psk: Iterable[str | bytes | TekKey],
    tls_keylog: StrPath | None,
    sip_keylog: StrPath | None,
    jobs: int,
    join: bool,
    workers: int | None,
) -> tuple[KeyFile, list[Unit]]:
    """The key file with the extra PSKs and key logs, and the units of work."""
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    if workers is not None and workers < 0:
        raise ValueError("workers must be at least 0")
    keyfile = keys if isinstance(keys, KeyFile) else KeyFile.load(keys) if keys else KeyFile()
    extra = tuple(p if isinstance(p, TekKey) else parse_psk(p) for p in psk)
    if extra:
        keyfile = dataclasses.replace(keyfile, tek=keyfile.tek + extra)
    logs = [p for p in (tls_keylog, sip_keylog) if p is not None]
    if logs:
        # carried in the key file object, so that --jobs / --dask workers get it too
        text = "".join(read_keylog_text(p) + "\n" for p in logs)
        keyfile = dataclasses.replace(keyfile, tls_keylog=text)
    return keyfile, plan_units([os.fspath(c) for c in captures], join=join)


def _bars(
    progress: Callable[[tuple[str, ...]], Progress | None] | None,
) -> Callable[[Unit], Progress | None]:
    def bar(unit: Unit) -> Progress | None:
        return progress(unit.files) if progress is not None else None

    return bar


@dataclass(slots=True)
class Streamed:
    """A report whose calls were judged and spooled as they ended (:mod:`mikeyshark.spool`):
    ``report.calls`` are read back from the spool one at a time, each with what the writers
    read (verdict, checks, problems, MIKEY facts), ``entries`` write each call's JSON entry
    (``json_report.write``). Close it once the reports are written."""

    report: Report
    entries: Sequence[Entry]
    sink: LeanSink

    def close(self) -> None:
        self.sink.close()


def analyze_streamed(
    *captures: StrPath,
    keys: KeyFile | StrPath | None = None,
    psk: Iterable[str | bytes | TekKey] = (),
    tls_keylog: StrPath | None = None,
    reveal_keys: bool = False,
    jobs: int = 1,
    join: bool = False,
    progress: Callable[[tuple[str, ...]], Progress | None] | None = None,
    workers: int | None = 0,
    json: bool = True,
    keylog: bool = False,
) -> Streamed:
    """:func:`analyze` for the reports written call by call (JSON, JUnit, terminal summary,
    ``keylog``: the sessions' secrets, no plaintext): memory follows the calls open at once,
    not the calls of the captures. Not for Dask: the spool is on this machine."""
    keyfile, units = _plan(captures, keys, psk, tls_keylog, None, jobs, join, workers)
    ctx = context_for(keyfile)
    sink: LeanSink | None = None
    try:
        sink = LeanSink(ctx, reveal_keys, json=json, keylog=keylog)
        results = run_units(
            units,
            keyfile,
            reveal=reveal_keys,
            jobs=jobs,
            progress=_bars(progress),
            within=Within(workers=workers, detail=False, sink=sink),
        )
        calls = assemble(results, ctx, sink)
    except BaseException:
        if sink is not None:
            sink.close()
        raise
    report = Report(version=__version__, keys=key_rows(keyfile), reveal_keys=reveal_keys)
    for res in results:
        report.captures.append(res.info)
        report.connections.extend(res.connections)
        report.unbound_media.extend(res.unbound)
    report.calls = calls
    return Streamed(report, calls.entries, sink)
