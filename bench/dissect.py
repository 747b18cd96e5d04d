"""Dissect benchmark: the packet list of the dense capture against tshark's.

The capture is :mod:`dense`'s (450 calls in 200,000 frames by default: overlapping
conferences spliced into RTP, TCP, TLS and DNS noise), with its key file and the NSS key log
of every TLS session. Timed in turn (A B C ... A B C ...), each run a child process whose
standard output is counted (one line per frame) and whose ``ru_maxrss`` is its peak memory:

- ``mikeyshark dissect FILE --keys KEYS`` (and with ``--workers N`` for each ``--workers``);
- ``tshark -n -2 -r FILE -o tls.keylog_file:KEYLOG``: tshark's decrypting two-pass list, what
  a Wireshark user runs when handed every key;
- ``tshark -n -r FILE``: tshark's plain one-pass list, the floor.

Usage: ``python bench/dissect.py [--sizes 200000:150] [--repeat 3] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dense

DEFAULT_SIZES = "200000:150"


def run_size(
    frames: int, conferences: int, args: argparse.Namespace, tshark: str | None
) -> list[str]:
    cap = dense.capture(frames, conferences, args.slot, args.regenerate)
    me = str(Path(sys.executable).parent / "mikeyshark")
    base = [me, "dissect", str(cap.path), "--keys", str(cap.keys)]
    runs = [dense.Runs("mikeyshark dissect --keys", base)]
    for n in args.workers:
        runs.append(
            dense.Runs(f"mikeyshark dissect --keys --workers {n}", [*base, "--workers", str(n)])
        )
    if tshark:
        keylog = f"tls.keylog_file:{cap.keylog}"
        runs.append(
            dense.Runs(
                "tshark -n -2 -o tls.keylog_file",
                [tshark, "-n", "-2", "-r", str(cap.path), "-o", keylog],
            )
        )
        runs.append(dense.Runs("tshark -n -r", [tshark, "-n", "-r", str(cap.path)]))
    for _ in range(args.repeat):
        for r in runs:
            r.run()
    ours = runs[0].median
    lines = []
    for r in runs:
        mn, md, mx = min(r.seconds), r.median, max(r.seconds)
        ratio = f"{md / ours:6.2f}x" if r.name.startswith("tshark") else ""
        lines.append(
            f"| {frames:>9,} | {r.name:40} | {r.lines:>9,} | {mn:6.2f} | {md:6.2f} | {mx:6.2f} "
            f"| {frames / md:9,.0f} | {ratio:>7} | {max(r.rss) / 1024:8.1f} |"
        )
    return lines


HEADER = (
    "|    frames | run                                      |      rows |    min | median |"
    "    max |  frames/s | ours is | peak MiB |\n"
    "|-----------|------------------------------------------|-----------|--------|--------|"
    "--------|-----------|---------|----------|"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default=DEFAULT_SIZES, help="comma-separated FRAMES:CONFERENCES (3 calls each)"
    )
    ap.add_argument("--slot", type=float, default=dense.SLOT_S, help="seconds between conferences")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each command")
    ap.add_argument(
        "--workers",
        type=lambda s: [int(n) for n in s.split(",") if n],
        default=[],
        help="also time dissect --workers N (comma-separated Ns)",
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
        "faster the first mikeyshark dissect run is than that run (medians); peak: the largest "
        "ru_maxrss of its runs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
