"""Dissect benchmark: the packet list of the dense capture against tshark's.

The capture is :mod:`dense`'s (450 calls in 200,000 frames by default: overlapping
conferences spliced into RTP, TCP, TLS and DNS noise), with its key file and the NSS key log
of every TLS session. Timed in turn (A B C ... A B C ...), each run a child process whose
standard output is counted (one line per frame) and whose ``ru_maxrss`` is its peak memory:

- ``mikeyshark dissect FILE --keys KEYS`` (two processes: one follows the signalling, the
  other prints the rows), the same with ``--workers 0`` (one process), and with ``--baseline
  COMMAND`` another mikeyshark such as an older checkout;
- ``tshark -n -2 -r FILE -o tls.keylog_file:KEYLOG``: tshark's decrypting two-pass list, what
  a Wireshark user runs when handed every key;
- ``tshark -n -r FILE``: tshark's plain one-pass list, the floor.

Usage: ``python bench/dissect.py [--sizes 200000:150] [--repeat 3] [--baseline COMMAND]``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dense
import launch

DEFAULT_SIZES = "200000:150"


class Runs(dense.Runs):
    """dense.Runs whose child writes its standard error to a file: dissect reports every
    damaged record there (megabytes on this capture), more than a pipe holds while the rows
    are read."""

    def run(self) -> None:
        with tempfile.TemporaryFile() as err:
            proc = launch.Child(self.cmd, stdout=subprocess.PIPE, stderr=err)
            lines = 0
            while block := proc.stdout.read(1 << 16):
                lines += block.count(b"\n")
            u = proc.wait()
            if u.code not in (0, 1):
                err.seek(0)
                sys.stderr.write(err.read()[-2000:].decode(errors="replace"))
                raise SystemExit(f"{' '.join(self.cmd[:2])} failed with exit code {u.code}")
        self.seconds.append(u.seconds)
        self.rss.append(u.maxrss)
        self.cpu.append(u.cpu)
        self.lines = lines


def run_size(
    frames: int, conferences: int, args: argparse.Namespace, tshark: str | None
) -> list[str]:
    cap = dense.capture(frames, conferences, args.slot, args.regenerate)
    me = str(Path(sys.executable).parent / "mikeyshark")
    base = [me, "dissect", str(cap.path), "--keys", str(cap.keys)]
    runs = [Runs("mikeyshark dissect --keys", base)]
    runs.append(Runs("mikeyshark dissect --keys --workers 0", [*base, "--workers", "0"]))
    if args.baseline:
        runs.append(Runs("baseline dissect --keys", [*shlex.split(args.baseline), *base[1:]]))
    if tshark:
        keylog = f"tls.keylog_file:{cap.keylog}"
        runs.append(
            Runs(
                "tshark -n -2 -o tls.keylog_file",
                [tshark, "-n", "-2", "-r", str(cap.path), "-o", keylog],
            )
        )
        runs.append(Runs("tshark -n -r", [tshark, "-n", "-r", str(cap.path)]))
    for _ in range(args.repeat):
        for r in runs:
            r.run()
    ours = runs[0].median
    ours_cpu = statistics.median(runs[0].cpu)
    lines = []
    for r in runs:
        mn, md, mx = min(r.seconds), r.median, max(r.seconds)
        ratio = f"{md / ours:6.2f}x" if r is not runs[0] else ""
        cpu = statistics.median(r.cpu)
        cpu_ratio = f"{cpu / ours_cpu:6.2f}x" if r is not runs[0] else ""
        lines.append(
            f"| {frames:>9,} | {r.name:40} | {r.lines:>9,} | {mn:6.2f} | {md:6.2f} | {mx:6.2f} "
            f"| {frames / md:9,.0f} | {ratio:>7} | {cpu:6.2f} | {cpu_ratio:>7} "
            f"| {max(r.rss) / 1024:8.1f} |"
        )
    return lines


HEADER = (
    "|    frames | run                                      |      rows |    min | median |"
    "    max |  frames/s | ours is |  cpu s | ours is | peak MiB |\n"
    "|-----------|------------------------------------------|-----------|--------|--------|"
    "--------|-----------|---------|--------|---------|----------|"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default=DEFAULT_SIZES, help="comma-separated FRAMES:CONFERENCES (3 calls each)"
    )
    ap.add_argument("--slot", type=float, default=dense.SLOT_S, help="seconds between conferences")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each command")
    ap.add_argument(
        "--baseline",
        metavar="COMMAND",
        help="also time another mikeyshark (e.g. 'env PYTHONPATH=OLD python -m mikeyshark')",
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
        "seconds: wall time of each child; rows: lines it printed; 'ours is': how many times "
        "faster the first mikeyshark dissect run is than that run (medians of wall time, then of "
        "the user + system CPU seconds, which a shared machine disturbs less); peak: the largest "
        "ru_maxrss of its runs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
