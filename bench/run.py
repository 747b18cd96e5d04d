"""`make bench`: the conference benchmark (full analysis vs tshark), and on request the others.

``make bench`` times 100,000 and 1,000,000 frames; ``make bench BENCH_ARGS="--sizes
100000,1000000,5000000"`` adds the large capture. ``--foundation`` also runs the reading +
flow layer benchmark (its own arguments after ``--``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import conference
import foundation


def main(argv: list[str]) -> int:
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1 :]
    run_foundation = "--foundation" in argv
    argv = [a for a in argv if a != "--foundation"]
    print("== conference: mikeyshark analyze vs tshark (PSK decryption; plain SIP) ==")
    code = conference.main(argv)
    if run_foundation:
        print("== foundation: capture reading + flows (+ SIP) vs tshark ==")
        code = foundation.main(rest) or code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
