"""`make bench`: the conference and dense benchmarks (full analysis vs tshark), and on request
the others.

``make bench`` times the conference benchmark at 100,000 and 1,000,000 frames, then the dense
one (450 calls in 200,000 frames, 2,000 in 1,000,000) and the dense capture's packet list
(dissect). Arguments go to a benchmark after its
name: ``make bench BENCH_ARGS="conference --sizes 5000000 dense --repeat 3 --workers 2"``
(arguments before any name go to the conference benchmark); ``--only NAME[,NAME]`` runs just
those; ``foundation`` (the reading + flow layer benchmark) runs only when named.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import conference
import dense
import dissect
import foundation

BENCHMARKS: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "conference": ("mikeyshark analyze vs tshark (PSK decryption; plain SIP)", conference.main),
    "dense": ("many overlapping calls: analyze vs tshark with every key", dense.main),
    "dissect": ("the dense capture's packet list: dissect vs tshark's lists", dissect.main),
    "foundation": ("capture reading + flows (+ SIP) vs tshark", foundation.main),
}
DEFAULT = ("conference", "dense", "dissect")


def main(argv: list[str]) -> int:
    only: list[str] = []
    if "--only" in argv:
        at = argv.index("--only")
        only = argv[at + 1].split(",")
        del argv[at : at + 2]
    args: dict[str, list[str]] = {}
    current: list[str] | None = None
    for a in argv:
        if a in BENCHMARKS:
            current = args.setdefault(a, [])
        elif a == "--foundation":  # the former spelling
            current = args.setdefault("foundation", [])
        else:
            if current is None:
                current = args.setdefault("conference", [])
            current.append(a)
    chosen = only or [*DEFAULT, *(n for n in args if n not in DEFAULT)]
    code = 0
    for name in chosen:
        title, run = BENCHMARKS[name]
        print(f"== {name}: {title} ==")
        code = run(args.get(name, [])) or code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
