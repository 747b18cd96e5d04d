"""Dense benchmark: many overlapping calls in one capture, against tshark holding every key.

Each capture holds ``conferences`` conferences of the synthesizer (three calls each, every call
with audio, MSRP and BFCP over TLS-PSK keyed by MIKEY-TICKET), one starting every ``--slot``
seconds (15 s: a conference lasts ~17 s, so they overlap), spliced into the noise of
:mod:`conference` (RTP, bulk TCP of which half HTTPS-like TLS, DNS, IPv6, ARP, plain SIP audio
calls). Default sizes: 200,000 frames / 150 conferences (450 calls) and 1,000,000 frames / 667
conferences (2,001 calls). Every MSRP/BFCP session belongs to a call that is judged.

Timed, in turn (A B C D A B C D ...) so that a drift of the shared machine touches all alike,
each run a child process (peak memory: its ``ru_maxrss``, started by :mod:`launch`):

- ``mikeyshark analyze FILE --keys KEYS --json OUT --quiet --workers 0`` (one process; and
  with ``--workers N`` when ``--workers`` is given: a capture this large gets every core by
  default);
- the same on the capture with the calls removed (the same noise frames at the same times):
  the per-call figure is (time with calls - time without) / calls, in one process and, with
  ``--workers N``, with the noise timed with ``--workers N`` too;
- ``tshark -n -2 -r FILE -o tls.keylog_file:KEYLOG -Y "sip || msrp || bfcp" -T fields -e
  frame.number``: what a Wireshark user runs when handed the key log of every TLS session;
- ``tshark -n -r FILE -Y sip -T fields -e frame.number``: plain SIP dissection, the floor.

Usage: ``python bench/dense.py [--sizes 200000:150,1000000:667] [--repeat 3] [--workers 2]
[--baseline COMMAND]`` (``--baseline``: another mikeyshark, e.g. an older checkout, timed with
the others, and its own per-call figure).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import conference
import launch

OUT = conference.OUT
DEFAULT_SIZES = "200000:150,1000000:667"
SLOT_S = 15.0


@dataclass(slots=True)
class Runs:
    """One command's runs: wall seconds, CPU seconds (its processes') and peak RSS (KiB) of
    each; what it printed last."""

    name: str
    cmd: list[str]
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    lines: int = 0  # lines the last run printed (tshark: frames matching the filter)

    def run(self) -> None:
        dt, cpu, rss, lines = child(self.cmd)
        self.seconds.append(dt)
        self.cpu.append(cpu)
        self.rss.append(rss)
        self.lines = lines

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def child(cmd: list[str]) -> tuple[float, float, int, int]:
    """Run a child: (wall seconds, CPU seconds of it and the children it waited for, peak
    RSS KiB, lines it printed on stdout). On a machine others share, the CPU seconds move
    less than the wall time."""
    proc = launch.Child(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = 0
    while block := proc.stdout.read(1 << 16):
        lines += block.count(b"\n")
    err = proc.stderr.read()
    u = proc.wait()
    if u.code not in (0, 1):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
        raise SystemExit(f"{' '.join(cmd[:2])} failed with exit code {u.code}")
    return u.seconds, u.cpu, u.maxrss, lines


@dataclass(frozen=True, slots=True)
class Capture:
    path: Path  # the calls spliced into the noise
    noise: Path  # the same noise alone
    keys: Path  # key file (opens every ticket)
    keylog: Path  # NSS key log of every TLS session
    calls: int


def capture(frames: int, conferences: int, slot_s: float, regenerate: bool) -> Capture:
    slot_ns = int(slot_s * 1e9)
    stem = OUT / f"dense-{frames}-{conferences}x{slot_ns // 1_000_000}ms"
    cap = Capture(
        stem.with_suffix(".pcap"),
        stem.with_suffix(".noise.pcap"),
        stem.with_suffix(".keys.toml"),
        stem.with_suffix(".keylog"),
        3 * conferences,
    )
    if regenerate or not all(p.exists() for p in (cap.path, cap.noise, cap.keys, cap.keylog)):
        t = time.perf_counter()
        syn = conference.synthesized(conferences, slot_ns)
        conference.splice(cap.path, frames, syn.frames, conferences, slot_ns)
        conference.splice(cap.noise, frames, syn.frames, conferences, slot_ns, with_calls=False)
        cap.keys.write_text(syn.keys)
        cap.keylog.write_text("".join(line + "\n" for line in syn.keylog))
        print(
            f"wrote {cap.path.name} ({frames:,} frames, {len(syn.frames):,} of the calls) and "
            f"its noise alone in {time.perf_counter() - t:.1f} s"
        )
    return cap


def verdicts(report: Path) -> tuple[int, dict[str, int]]:
    data = json.loads(report.read_text())
    got: dict[str, int] = {}
    for c in data["calls"]:
        got[c["verdict"]] = got.get(c["verdict"], 0) + 1
    return len(data["calls"]), got


def run_size(
    frames: int,
    conferences: int,
    args: argparse.Namespace,
    tshark: str | None,
) -> list[str]:
    cap = capture(frames, conferences, args.slot, args.regenerate)
    me = str(Path(sys.executable).parent / "mikeyshark")
    report = cap.path.with_suffix(".json")

    def analyze(path: Path, out: Path, *extra: str, exe: Sequence[str] = (me,)) -> list[str]:
        cmd = [*exe, "analyze", str(path), "--keys", str(cap.keys), "--json", str(out)]
        return [*cmd, "--quiet", *extra]

    # one process (a large capture gets every core by default: timed apart with --workers)
    runs = [
        Runs("mikeyshark analyze --json --workers 0", analyze(cap.path, report, "--workers", "0"))
    ]
    baseline: list[Runs] = []
    if args.baseline:
        exe = shlex.split(args.baseline)
        baseline = [
            Runs("baseline analyze --json", analyze(cap.path, OUT / "baseline.json", exe=exe)),
            Runs("  baseline, calls removed", analyze(cap.noise, OUT / "baseline.n.json", exe=exe)),
        ]
    for n in args.workers:
        runs.append(
            Runs(
                f"mikeyshark analyze --json --workers {n}",
                analyze(cap.path, cap.path.with_suffix(f".w{n}.json"), "--workers", str(n)),
            )
        )
    noise = Runs(
        "  the same, calls removed",
        analyze(cap.noise, cap.noise.with_suffix(".json"), "--workers", "0"),
    )
    runs.append(noise)
    # per call with all cores: the noise timed the same way (it has no call to hand a worker)
    noises = {
        n: Runs(
            f"  calls removed, --workers {n}",
            analyze(cap.noise, cap.noise.with_suffix(f".w{n}.json"), "--workers", str(n)),
        )
        for n in args.workers
    }
    runs += noises.values()
    runs += baseline
    if tshark:
        fields = ["-T", "fields", "-e", "frame.number"]
        keylog = f"tls.keylog_file:{cap.keylog}"
        two_pass = ["-Y", "sip || msrp || bfcp", *fields]
        runs.append(
            Runs(
                'tshark -2 -o tls.keylog_file -Y "sip||msrp||bfcp"',
                [tshark, "-n", "-2", "-r", str(cap.path), "-o", keylog, *two_pass],
            )
        )
        runs.append(
            Runs("tshark -Y sip", [tshark, "-n", "-r", str(cap.path), "-Y", "sip", *fields])
        )
    for _ in range(args.repeat):
        for r in runs:
            r.run()
    count, judged = verdicts(report)
    for n in args.workers:
        same = report.read_bytes() == cap.path.with_suffix(f".w{n}.json").read_bytes()
        print(f"  --workers {n}: JSON {'identical to' if same else 'DIFFERS from'} one process")
    ours = runs[0].median
    per_call = (ours - noise.median) / cap.calls * 1000
    cpu = statistics.median(runs[0].cpu) - statistics.median(noise.cpu)
    print(f"  per call, CPU time: {cpu / cap.calls * 1000:.2f} ms")
    for n, r in zip(args.workers, runs[1:], strict=False):
        wall = (r.median - noises[n].median) / cap.calls * 1000
        cpu_n = statistics.median(r.cpu) - statistics.median(noises[n].cpu)
        print(
            f"  per call with --workers {n}: {wall:.2f} ms of wall time, "
            f"{cpu_n / cap.calls * 1000:.2f} ms of CPU time"
        )
    if baseline:
        before = (baseline[0].median - baseline[1].median) / cap.calls * 1000
        cpu = statistics.median(baseline[0].cpu) - statistics.median(baseline[1].cpu)
        print(f"  baseline: per call {before:.2f} ms, CPU time {cpu / cap.calls * 1000:.2f} ms")
    tail = ""
    if tshark:
        tail = f"; tshark -2 found {runs[-2].lines:,} frames, -Y sip {runs[-1].lines:,}"
        for r in runs[1 : 1 + len(args.workers)]:
            print(f"  {r.name}: {runs[-2].median / r.median:.2f}x faster than tshark -2")
    print(
        f"  {frames:,} frames: {count} calls {judged} (expected {cap.calls}); "
        f"per call {per_call:.2f} ms{tail}"
    )
    lines = []
    for r in runs:
        mn, md, mx = min(r.seconds), r.median, max(r.seconds)
        ratio = f"{md / ours:6.2f}x" if r.name.startswith(("tshark", "baseline")) else ""
        lines.append(
            f"| {frames:>9,} | {cap.calls:>5} | {r.name:42} | {mn:6.2f} | {md:6.2f} | {mx:6.2f} "
            f"| {frames / md:9,.0f} | {ratio:>7} | {max(r.rss) / 1024:8.1f} "
            f"| {statistics.median(r.cpu):6.2f} |"
        )
    return lines


HEADER = (
    "|    frames | calls | run                                        |    min | median |"
    "    max |  frames/s | ours is | peak MiB |  CPU s |\n"
    "|-----------|-------|--------------------------------------------|--------|--------|"
    "--------|-----------|---------|----------|--------|"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help="comma-separated FRAMES:CONFERENCES (three calls each)",
    )
    ap.add_argument("--slot", type=float, default=SLOT_S, help="seconds between conferences")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each command")
    ap.add_argument(
        "--workers",
        type=lambda s: [int(n) for n in s.split(",") if n],
        default=[],
        help="also time analyze --workers N (comma-separated Ns)",
    )
    ap.add_argument(
        "--baseline",
        metavar="COMMAND",
        help="also time this mikeyshark command line (e.g. an older checkout's: "
        "'env PYTHONPATH=DIR python -m mikeyshark'), in the same run",
    )
    ap.add_argument("--regenerate", action="store_true", help="write the captures again")
    ap.add_argument("--no-tshark", action="store_true", help="time mikeyshark only")
    args = ap.parse_args(argv)
    tshark = None if args.no_tshark else shutil.which("tshark")
    lines: list[str] = []
    for size in args.sizes.split(","):
        frames, _, conferences = size.partition(":")
        lines += run_size(int(frames), int(conferences or 150), args, tshark)
    print(HEADER)
    print("\n".join(lines))
    print(
        "seconds: wall time of each child; 'ours is': how many times faster mikeyshark's "
        "full analysis is than that run (medians); peak: the largest ru_maxrss of its runs; "
        "CPU s: median user+system seconds"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
