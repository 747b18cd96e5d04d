"""`make bench`: run the benchmarks. Arguments go to each (e.g. ``--frames 100000``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import foundation


def main(argv: list[str]) -> int:
    print("== foundation: capture reading + flows (+ SIP) vs tshark ==")
    return foundation.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
