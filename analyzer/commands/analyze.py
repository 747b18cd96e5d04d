"""``mikeyshark analyze CAPTURE...``: every call checked against the TR 29.828 flows.

The command line of :func:`mikeyshark.judge.analyze`: a terminal summary (rich), and on request
the JSON report, a self-contained HTML report, JUnit XML and the TLS exports, all written from
the one report it returns. Exit codes as in :mod:`mikeyshark.cli`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mikeyshark import keylog, plaintext_pcap
from mikeyshark.cli import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    add_key_options,
    keys_from,
)
from mikeyshark.dask_backend import ClusterError
from mikeyshark.judge import Streamed, analyze, analyze_streamed
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import INTERNAL
from mikeyshark.parallel import AUTO_WORKERS_BYTES
from mikeyshark.report import json_report, junit, terminal
from mikeyshark.report.model import Report
from mikeyshark.report.output import open_text
from mikeyshark.spool import Entry

# What only some options need is imported where it is used, so that a run without them does
# not pay for it: the HTML (jinja2), the Wireshark check (asyncio, pyshark) and profile, and
# the progress bar of a long capture.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="check every call of the captures against the TR 29.828 flows",
        description="Correlate SIP/SDP, MIKEY-TICKET, TCP, TLS-PSK and MSRP/BFCP per call "
        "and judge each call against the rules (docs/rules.md).",
    )
    p.add_argument(
        "captures",
        nargs="+",
        metavar="CAPTURE",
        help="pcap or pcapng file(s), or directories of them",
    )
    add_key_options(
        p, psk_help="a TLS PSK known directly (repeatable); tried like a [[tek]] of the key file"
    )
    p.add_argument("--json", metavar="FILE|-", help="write the JSON report ('-': stdout)")
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML (one test per rule per call)")
    p.add_argument("--keylog", metavar="FILE", help="write an NSS key log of the decrypted TLS")
    p.add_argument("--decrypted-pcap", metavar="FILE", help=plaintext_pcap.HELP)
    p.add_argument(
        "--wireshark-profile",
        metavar="DIR",
        help="write a Wireshark configuration profile into DIR (the key log, and every "
        "decrypted media port bound to MSRP or BFCP) and print the tshark command line "
        "that does the same with -o options",
    )
    p.add_argument(
        "--inject-secrets",
        metavar="FILE",
        help="write the captures as one pcapng with the key log in a Decryption Secrets Block",
    )
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="captures analyzed at once (processes)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes that correlate and judge the calls of each capture while it is read "
        "(with --jobs, each capture's); the report is the same (docs/scale.md); default: "
        f"every core for a capture of {AUTO_WORKERS_BYTES >> 20} MiB or more analyzed alone, "
        "else 0 (one process)",
    )
    p.add_argument(
        "--dask",
        metavar="SCHEDULER_ADDRESS",
        help="analyze the captures on a Dask distributed cluster (e.g. tcp://host:8786); "
        "workers need mikeyshark installed and the captures under the same paths",
    )
    p.add_argument(
        "--join",
        action="store_true",
        help="rotated files of one probe: each directory, and each run of consecutive files, "
        "is read as one continuous capture (calls split over the files are joined); "
        "dumpcap ring-buffer pieces are joined without it",
    )
    p.add_argument(
        "--wireshark-check",
        action="store_true",
        help="read every call again with tshark (through pyshark) and the keys recovered, and "
        "report per call whether Wireshark's dissectors agree (SIP/SDP fields, decrypted TLS "
        "records, MSRP transaction ids, BFCP primitives and attributes); without tshark, a note",
    )
    p.add_argument("--quiet", action="store_true", help="no terminal summary")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 unless at least one call was found and every call passed "
        "(an incomplete call, one with rules not observed, counts as a finding)",
    )
    p.add_argument(
        "--tls-keylog",
        "--sip-keylog",
        dest="tls_keylog",
        metavar="FILE",
        help="NSS key log (SSLKEYLOGFILE, openssl -keylogfile) of the endpoints, for every TLS "
        "connection: SIP over TLS, and media whose keys the PSK alone cannot give (TLS 1.3 "
        "psk_dhe_ke, (EC)DHE-PSK); TLS 1.2 CLIENT_RANDOM and TLS 1.3 traffic secrets "
        "(--sip-keylog: its former name)",
    )
    p.set_defaults(func=run)


class _LazyProgress:
    """A progress bar that appears only on a terminal, when a capture takes more than a
    second (rich still writes a line to a file or a pipe)."""

    def __init__(self, console: Console, name: str) -> None:
        self.console = console
        self.name = name
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task: Any = None

    def __call__(self, frames: int, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.start
        if self.bar is None:
            if elapsed < 1.0 or not self.console.is_terminal:
                return
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[frames]} frames, {task.fields[rate]} frames/s"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.name, total=total or None, frames=0, rate=0)
        rate = int(frames / elapsed) if elapsed > 0 else 0
        self.bar.update(self.task, completed=done, frames=frames, rate=rate)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _stream(
    path: str,
    report: Report,
    write: Callable[..., None],
    entries: Sequence[Entry] | None = None,
) -> None:
    with open_text(path) as f:
        if entries is not None:
            write(report, f, entries)
        else:
            write(report, f)


def run(args: argparse.Namespace) -> int:
    err = terminal.console(stderr=True)
    if args.jobs < 1:
        err.print("mikeyshark analyze: --jobs must be at least 1")
        return EXIT_USAGE
    if args.workers is not None and args.workers < 0:
        err.print("mikeyshark analyze: --workers must be at least 0")
        return EXIT_USAGE
    try:
        keys, psks = keys_from(args)
    except ValueError as e:  # KeyFileError is one
        err.print(f"mikeyshark analyze: {e}", markup=False, highlight=False)
        return EXIT_USAGE
    console = err if args.json == "-" else terminal.console()

    def bar(files: tuple[str, ...]) -> _LazyProgress:
        return _LazyProgress(err, " + ".join(Path(f).name for f in files))

    streamed: Streamed | None = None
    try:
        if _streamable(args):
            streamed = analyze_streamed(
                *args.captures,
                keys=keys,
                psk=psks,
                tls_keylog=args.tls_keylog,
                reveal_keys=args.reveal_keys,
                jobs=args.jobs,
                join=args.join,
                progress=None if args.quiet else bar,
                workers=args.workers,
                json=bool(args.json),
                keylog=bool(args.keylog),
            )
            report = streamed.report
        else:
            report = analyze(
                *args.captures,
                keys=keys,
                psk=psks,
                tls_keylog=args.tls_keylog,
                reveal_keys=args.reveal_keys,
                jobs=args.jobs,
                dask=args.dask,
                join=args.join,
                progress=None if args.quiet else bar,
                workers=args.workers,
            )
    except (ValueError, ClusterError, OSError) as e:
        # PlanError is a ValueError; the key log is the one file read before the captures
        text = str(e)
        if args.tls_keylog and getattr(e, "filename", None) == args.tls_keylog:
            why = (
                e.reason if isinstance(e, keylog.KeyLogError) else getattr(e, "strerror", None) or e
            )
            text = f"--tls-keylog {args.tls_keylog}: {why}"
        err.print(f"mikeyshark analyze: {text}", markup=False, highlight=False)
        return EXIT_USAGE
    try:
        return _report(args, report, keys, console, err, streamed)
    finally:
        if streamed is not None:
            streamed.close()


def _streamable(args: argparse.Namespace) -> bool:
    """Whether every output asked for can be written from calls judged as they ended
    (:func:`mikeyshark.judge.analyze_streamed`): not the HTML, the decrypted capture, the
    secrets-injected capture, the Wireshark profile or check, nor on Dask."""
    return not (
        args.html
        or args.decrypted_pcap
        or args.inject_secrets
        or args.wireshark_profile
        or args.wireshark_check
        or args.dask
    )


def _report(
    args: argparse.Namespace,
    report: Report,
    keys: KeyFile | None,
    console: Console,
    err: Console,
    streamed: Streamed | None,
) -> int:
    if args.wireshark_check:
        from mikeyshark import wscheck

        wscheck.check_report(report, _keylog_text(args, report))
    if not args.quiet:
        terminal.print_summary(report, console)
    entries = streamed.entries if streamed is not None else None
    writers: list[tuple[str | None, Callable[[str], None]]] = [
        (args.json, lambda path: _stream(path, report, json_report.write, entries)),
        (args.html, lambda path: _html(report, path)),
        (args.junit, lambda path: _stream(path, report, junit.write)),
    ]
    unwritten = False
    # each report on its own: one that cannot be written does not stop the others
    for path, write in writers:
        if path:
            try:
                write(path)
            except OSError as e:
                err.print(f"mikeyshark analyze: cannot write: {e}", markup=False, highlight=False)
                unwritten = True
    try:
        exports(args, report, keys)
        if args.wireshark_profile:
            profile_export(args, report, console)
    except OSError as e:
        err.print(f"mikeyshark analyze: cannot write: {e}", markup=False, highlight=False)
        unwritten = True
    unreadable = [c for c in report.captures if c.unreadable]
    for c in unreadable:
        # on stderr even with --quiet: the summary (stdout) is not where an error goes
        why = next(p.reason for p in c.errors if p.layer == "capture")
        err.print(f"mikeyshark analyze: {c.path}: {why}", markup=False, highlight=False)
    internal = [p for c in report.captures for p in c.errors if p.kind == INTERNAL]
    if internal:
        # every report is written; the exit status says the analysis met a bug
        err.print(
            f"mikeyshark analyze: internal error in {len(internal)} place(s), each listed as a "
            f"problem with code {INTERNAL} (first: {internal[0]}); please report it",
            markup=False,
            highlight=False,
        )
        return EXIT_INTERNAL
    if unwritten:
        return EXIT_USAGE
    if unreadable:
        return EXIT_USAGE
    return EXIT_OK if report.compliant(strict=args.strict) else EXIT_FINDINGS


def _html(report: Report, path: str) -> None:
    from mikeyshark.report.html import write_html

    write_html(report, path)


def exports(args: argparse.Namespace, report: Report, keys: KeyFile | None) -> None:
    """--keylog, --decrypted-pcap, --inject-secrets: the TLS secrets the analysis proved."""
    conns = report.connections
    sessions = [c.info for c in conns]
    files = [f for c in report.captures for f in c.files]
    if args.keylog:
        keylog.write_keylog(args.keylog, sessions)
    if args.decrypted_pcap:
        esp = {sa.spi: sa for sa in keys.esp} if keys is not None else {}
        plaintext_pcap.write_plaintext_pcap(files, args.decrypted_pcap, conns, esp)
    if args.inject_secrets:
        keylog.write_pcapng_with_secrets(files, args.inject_secrets, sessions)


def _keylog_text(args: argparse.Namespace, report: Report) -> str:
    """The key log for Wireshark: the sessions we decrypted, and the --tls-keylog lines."""
    from mikeyshark import wireshark

    texts = [keylog.keylog_text(c.info for c in report.connections)]
    if args.tls_keylog:
        texts.append(Path(args.tls_keylog).read_text(encoding="ascii", errors="replace"))
    return wireshark.keylog_lines(texts)


def profile_export(args: argparse.Namespace, report: Report, console: Console) -> None:
    """--wireshark-profile DIR, and the tshark line that does the same."""
    from mikeyshark import wireshark

    profile = wireshark.write_profile(args.wireshark_profile, report, _keylog_text(args, report))
    files = [f for c in report.captures for f in c.files]
    command = profile.tshark_command(files[0] if len(files) == 1 else "CAPTURE")
    (profile.directory / "tshark-command.txt").write_text(command + "\n", encoding="utf-8")
    if not args.quiet:
        name = profile.directory.name
        console.print(
            f"Wireshark profile {profile.directory} ({len(profile.ports)} media ports): "
            f"use it as profile {name!r} (wireshark -C {name} / tshark -C {name}) once it is in "
            "Wireshark's profiles folder; the same with options only:",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        console.print(command, markup=False, highlight=False, soft_wrap=True)
