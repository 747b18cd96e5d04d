"""The resource bombs of the hostile-input review at its sizes (1x) and ten times them (10x):
peak RSS and wall time of each command, one fresh process per run (tests/support/hostile.py
measures it with ``wait4``), and how the time grew from 1x to 10x.

A script, not a test: the figures depend on the machine. What the review asked is that every
run stays under 300 MB and that the time grows at most linearly (x10 or less from 1x to 10x).

| bomb | 1x (the review's size) | command |
|---|---|---|
| claimed wire length | 20 records each claiming 0xFFFFFFFF bytes | analyze, dissect |
| far MSRP chunks | 200 chunks at Byte-Range 4194000, own Message-IDs | analyze --keys --json |
| unfinished TCP message | a handshake, 11 bytes, then 300,000 UDP frames | dissect |
| nested BFCP | 1,000 FloorRequests nesting 63 attributes deep | analyze --keys --json |
| endless dialogs | 1,000 INVITE dialogs that never end | analyze --keys --json, dissect -V |

The review measured the dialogs at 1,000, 3,000 and 10,000; 1,000 (measured on a quiet
machine) is the 1x here, so 10x is its largest size (``--scales 1,10,100`` for 100,000: a
300 MB capture, the better part of an hour on two shared cores).

Usage: ``make bombs`` (``BOMBS_ARGS="--only NAME,... --scales 1,10"``), or ``python
bench/bombs.py`` ``nice``d on a shared machine (the 10x dialogs capture is 300 MB and takes
minutes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mikeyshark.synth import SynthResult, write_capture
from tests.support.hostile import (
    PCAP_HEADER,
    claimed_length_pcap,
    endless_dialogs_pcap,
    far_chunks_call,
    hole_frames,
    measured,
    nested_bfcp_call,
    record,
)

CEILING_MIB = 300

# name -> (size at 1x, build(size, dir) -> (capture, key file or None), commands)
Build = Callable[[int, Path], tuple[Path, Path | None]]


def _synth(result: SynthResult, d: Path, name: str) -> tuple[Path, Path]:
    pcap, keys = d / f"{name}.pcap", d / f"{name}.toml"
    write_capture(result, pcap)
    keys.write_text(result.keyfile_text)
    return pcap, keys


def _claims(n: int, d: Path) -> tuple[Path, Path | None]:
    pcap = d / f"claims-{n}.pcap"
    pcap.write_bytes(claimed_length_pcap(0xFFFFFFFF, records=n))
    return pcap, None


def _hole(n: int, d: Path) -> tuple[Path, Path | None]:
    pcap = d / f"hole-{n}.pcap"
    with pcap.open("wb") as f:
        f.write(PCAP_HEADER)
        frames = hole_frames(0)
        for fr in frames:
            f.write(record(fr))
        udp = record(hole_frames(1)[-1])
        for _ in range(n // 10_000):
            f.write(udp * 10_000)
        f.write(udp * (n % 10_000))
    return pcap, None


def _dialogs(n: int, d: Path) -> tuple[Path, Path | None]:
    data, keys = endless_dialogs_pcap(n, d)
    pcap, key = d / f"dialogs-{n}.pcap", d / f"dialogs-{n}.toml"
    pcap.write_bytes(data)
    key.write_text(keys)
    return pcap, key


BOMBS: dict[str, tuple[int, Build, tuple[tuple[str, ...], ...]]] = {
    "claimed-length": (20, _claims, (("analyze",), ("dissect",))),
    "far-msrp-chunks": (
        200,
        lambda n, d: _synth(far_chunks_call(n), d, f"far-{n}"),
        (("analyze", "--json", "{out}.json"),),
    ),
    "unfinished-tcp": (300_000, _hole, (("dissect",),)),
    "nested-bfcp": (
        1_000,
        lambda n, d: _synth(nested_bfcp_call(n), d, f"bfcp-{n}"),
        (("analyze", "--json", "{out}.json"),),
    ),
    "endless-dialogs": (
        1_000,
        _dialogs,
        (("analyze", "--json", "{out}.json"), ("dissect", "-V")),
    ),
}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", default=",".join(BOMBS))
    p.add_argument("--scales", default="1,10")
    args = p.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    worst = 0.0
    too_slow = []
    print(
        f"{'bomb':16} {'command':9} {'scale':>5} {'size':>9} {'capture':>10} {'rc':>3} "
        f"{'peak MiB':>9} {'seconds':>8} {'x time':>7}"
    )
    for name in args.only.split(","):
        size, build, commands = BOMBS[name]
        with tempfile.TemporaryDirectory(prefix=f"bomb-{name}-") as t:
            d = Path(t)
            times: dict[tuple[str, ...], float] = {}
            for scale in scales:
                pcap, keys = build(size * scale, d)
                mb = pcap.stat().st_size / 1e6
                for cmd in commands:
                    argv_ = [a.replace("{out}", str(d / f"out-{scale}")) for a in cmd]
                    keyargs = ["--keys", str(keys)] if keys is not None else []
                    run = measured(argv_[0], str(pcap), *argv_[1:], *keyargs, cwd=d, timeout=3600)
                    grow = ""
                    if cmd in times:
                        grow = f"{run.seconds / times[cmd]:.1f}"
                        if run.seconds / times[cmd] > scale / scales[0]:
                            too_slow.append(f"{name} {cmd[0]}")
                    times.setdefault(cmd, run.seconds)
                    worst = max(worst, run.peak_mib)
                    print(
                        f"{name:16} {cmd[0]:9} {scale:>4}x {size * scale:>9,} {mb:>8.1f}MB "
                        f"{run.rc:>3} {run.peak_mib:>9.0f} {run.seconds:>8.1f} {grow:>7}",
                        flush=True,
                    )
                    if "Traceback" in run.stderr:
                        print(run.stderr[-2000:], file=sys.stderr)
                pcap.unlink()
    print(
        f"\npeak {worst:.0f} MiB (ceiling {CEILING_MIB}); time grew faster than the size: "
        f"{', '.join(too_slow) or 'none'}"
    )
    return 0 if worst < CEILING_MIB and not too_slow else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
