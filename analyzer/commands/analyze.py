"""``mikeyshark analyze CAPTURE...``: every call checked against the TR 29.828 flows.

Terminal summary (rich), and on request the JSON contract of DESIGN.md, a self-contained
HTML report and JUnit XML. Exit codes: 0 no rule failed, 1 at least one rule failed, 2 usage
or unreadable input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from mikeyshark import __version__, keylog
from mikeyshark.checks.evaluate import Context, Policy, evaluate_call
from mikeyshark.dask_backend import ClusterError
from mikeyshark.evidence import Verdict
from mikeyshark.keys import KeyFile, KeyFileError, TekKey
from mikeyshark.parallel import PlanError, Unit, plan_units, run_units
from mikeyshark.pipeline import CaptureResult
from mikeyshark.report import json_report, junit
from mikeyshark.report.html import render_html
from mikeyshark.report.model import KeyRow, Report
from mikeyshark.report.terminal import print_summary

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="check every call of the captures against the TR 29.828 flows",
        description="Correlate SIP/SDP, MIKEY-TICKET, TCP, TLS-PSK and MSRP/BFCP per call "
        "and judge each call against the rules of CONFORMANCE.md.",
    )
    p.add_argument(
        "captures",
        nargs="+",
        metavar="CAPTURE",
        help="pcap or pcapng file(s), or directories of them",
    )
    p.add_argument("--keys", metavar="FILE", help="key file (TOML): KMS keys, PSKs, policy")
    p.add_argument(
        "--psk",
        action="append",
        default=[],
        metavar="HEX[:IDENTITY]",
        help="a TLS PSK known directly (repeatable); tried like a [[tek]] of the key file",
    )
    p.add_argument("--json", metavar="FILE|-", help="write the JSON report ('-': stdout)")
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML (one test per rule per call)")
    p.add_argument("--keylog", metavar="FILE", help="write an NSS key log of the decrypted TLS")
    p.add_argument(
        "--decrypted-pcap",
        metavar="FILE",
        help="write the captures with each decrypted TLS stream as plaintext TCP",
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
        "--reveal-keys", action="store_true", help="show keys in the reports, not fingerprints"
    )
    p.add_argument("--quiet", action="store_true", help="no terminal summary")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 unless at least one call was found and every call passed "
        "(an incomplete call, one with rules not observed, counts as a finding)",
    )
    p.add_argument(
        "--sip-keylog",
        metavar="FILE",
        help="NSS key log (SSLKEYLOGFILE, openssl -keylogfile) to decrypt SIP over TLS",
    )
    p.set_defaults(func=run)


def parse_psk(text: str) -> TekKey:
    """``HEX[:IDENTITY]`` of ``--psk``."""
    hexpart, _, identity = text.partition(":")
    try:
        key = bytes.fromhex(hexpart)
    except ValueError as e:
        raise ValueError(f"--psk {hexpart[:8]}...: not hex ({e})") from None
    if not key:
        raise ValueError("--psk: empty key")
    return TekKey(key, identity or None)


def load_keys(path: str | None, psks: list[str]) -> KeyFile:
    keys = KeyFile.load(path) if path else KeyFile()
    extra = tuple(parse_psk(p) for p in psks)
    if extra:
        keys = dataclasses.replace(keys, tek=keys.tek + extra)
    return keys


def context_for(keys: KeyFile) -> Context:
    policy = None
    if keys.conference is not None:
        policy = Policy(keys.conference.uri, tuple(keys.conference.authorized))
    bfcp = str(keys.profile.get("bfcp_tls_client", "answerer"))
    return Context(
        policy=policy,
        tls_prot_type=keys.tls_prot_type,
        bfcp_tls_client=bfcp,
    )


def key_rows(keys: KeyFile) -> list[KeyRow]:
    rows = [KeyRow("KMS master key", k.uri, k.master_key) for k in keys.kms]
    rows += [KeyRow("PSK with the KMS", k.identity, k.key) for k in keys.psk]
    rows += [KeyRow("TLS PSK (given)", k.identity or "-", k.key) for k in keys.tek]
    return rows


def build_report(results: list[CaptureResult], keys: KeyFile, reveal: bool) -> Report:
    """Judge every call (in capture order, so REPLAY sees earlier calls first)."""
    ctx = context_for(keys)
    report = Report(version=__version__, keys=key_rows(keys), reveal_keys=reveal)
    for res in results:
        report.captures.append(res.info)
        for call in sorted(res.calls, key=lambda c: c.invite_frame or 0):
            evaluate_call(call, ctx)
            report.calls.append(call)
    return report


class _LazyProgress:
    """A progress bar that appears only when a capture takes more than a second."""

    def __init__(self, console: Console, name: str) -> None:
        self.console = console
        self.name = name
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task: Any = None

    def __call__(self, frames: int, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.start
        if self.bar is None:
            if elapsed < 1.0:
                return
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


def analyze_all(
    paths: list[str],
    keys: KeyFile,
    *,
    reveal: bool,
    jobs: int,
    console: Console | None,
    dask: str | None = None,
    join: bool = False,
) -> list[CaptureResult]:
    """One result per unit of work (see :mod:`mikeyshark.parallel`), in argument order."""

    def bar(unit: Unit) -> _LazyProgress | None:
        if console is None:
            return None
        return _LazyProgress(console, " + ".join(Path(f).name for f in unit.files))

    units = plan_units(paths, join=join)
    return run_units(units, keys, reveal=reveal, jobs=jobs, dask=dask, progress=bar)


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(path).write_text(text, encoding="utf-8")


def _unreadable(res: CaptureResult) -> bool:
    return res.info.frames == 0 and any(p.layer == "capture" for p in res.info.errors)


def run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    if args.jobs < 1:
        err.print("mikeyshark analyze: --jobs must be at least 1")
        return EXIT_USAGE
    try:
        keys = load_keys(args.keys, args.psk)
        if args.sip_keylog:
            # carried in the key file object, so that --jobs / --dask workers get it too
            text = Path(args.sip_keylog).read_text(encoding="ascii")
            keys = dataclasses.replace(keys, sip_keylog=text)
    except (KeyFileError, ValueError) as e:
        err.print(f"mikeyshark analyze: {e}", markup=False, highlight=False)
        return EXIT_USAGE
    except OSError as e:
        err.print(f"mikeyshark analyze: --sip-keylog: {e}", markup=False, highlight=False)
        return EXIT_USAGE
    console = err if args.json == "-" else Console()
    try:
        results = analyze_all(
            list(args.captures),
            keys,
            reveal=args.reveal_keys,
            jobs=args.jobs,
            console=None if args.quiet else err,
            dask=args.dask,
            join=args.join,
        )
    except (PlanError, ClusterError, OSError) as e:
        err.print(f"mikeyshark analyze: {e}", markup=False, highlight=False)
        return EXIT_USAGE
    report = build_report(results, keys, args.reveal_keys)
    if not args.quiet:
        print_summary(report, console)
    try:
        if args.json:
            _write(args.json, json_report.dumps(report))
        if args.html:
            _write(args.html, render_html(report))
        if args.junit:
            _write(args.junit, junit.junit_xml(report))
        exports(args, results)
    except OSError as e:
        err.print(f"mikeyshark analyze: cannot write: {e}", markup=False, highlight=False)
        return EXIT_USAGE
    if any(_unreadable(r) for r in results):
        return EXIT_USAGE
    if args.strict:
        # For CI gates: "nothing failed" is not "verified compliant" when evidence is missing.
        verified = bool(report.calls) and all(c.verdict is Verdict.PASS for c in report.calls)
        return EXIT_OK if verified else EXIT_FINDINGS
    return report.exit_code


def exports(args: argparse.Namespace, results: list[CaptureResult]) -> None:
    """--keylog, --decrypted-pcap, --inject-secrets: the TLS secrets the analysis proved."""
    conns = [c for r in results for c in r.connections]
    sessions = [c.info for c in conns]
    files = [f for u in plan_units(list(args.captures), join=args.join) for f in u.files]
    if args.keylog:
        keylog.write_keylog(args.keylog, sessions)
    if args.decrypted_pcap:
        keylog.write_decrypted_pcap(files, args.decrypted_pcap, conns)
    if args.inject_secrets:
        keylog.write_pcapng_with_secrets(files, args.inject_secrets, sessions)
