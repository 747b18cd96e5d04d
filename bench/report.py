"""Report benchmark: the HTML, JSON and JUnit of a capture with hundreds of calls.

The capture holds ``--conferences`` conferences of the synthesizer (three calls each), one
starting every ``--slot`` seconds so that they overlap in time, spliced into noise by
:mod:`conference` (the same generator as the analysis benchmark). The analysis runs once and
its report is pickled; then, each in its own child process:

- writing the HTML, the JSON and the JUnit of that report (seconds, peak RSS, bytes);
- headless Chromium loading the HTML page (``--dump-dom``: parse, style, layout, serialize),
  against the same Chromium loading an empty page (its start-up and shutdown).

Prints one table; ``--html-only`` skips JSON and JUnit.

Measured here (450 calls, 100,000 frames): one page with every call was 22.7 MB and took
Chromium 24.6 s to load (an empty page: 0.9 s); the index with a page per call is 0.32 MB
and loads in 1.6 s, each call's page about 53 KB.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import conference
import launch

OUT = Path(__file__).resolve().parent / "out"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

_WRITE = """
import pickle, sys
from mikeyshark.report import json_report, junit
from mikeyshark.report.html import write_html
from mikeyshark.report.output import open_text
report = pickle.load(open(sys.argv[1], "rb"))
if sys.argv[2] == "html":
    write_html(report, sys.argv[3])
else:
    with open_text(sys.argv[3]) as f:
        {"json": json_report.write, "junit": junit.write}[sys.argv[2]](report, f)
"""


def capture(frames: int, conferences: int, slot_s: float) -> tuple[Path, Path]:
    slot_ns = int(slot_s * 1e9)
    name = f"report-{conferences}x{slot_ns // 1_000_000}ms-{frames}"
    path, keys = OUT / f"{name}.pcap", OUT / f"{name}.keys.toml"
    if not (path.exists() and keys.exists()):
        text, _ = conference.write_capture(path, frames, conferences, slot_ns)
        keys.write_text(text)
    return path, keys


def analyzed(path: Path, keys: Path) -> Path:
    """The judged report of the capture, pickled once (writers are what is measured)."""
    out = path.with_suffix(".report.pickle")
    if not out.exists() or out.stat().st_mtime < path.stat().st_mtime:
        import mikeyshark

        report = mikeyshark.analyze(path, keys=keys)
        with open(out, "wb") as f:
            pickle.dump(report, f)
    return out


def _child(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one child process."""
    proc = launch.Child(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    u = proc.wait()
    if u.code != 0:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
        raise SystemExit(f"{cmd[:3]} failed")
    return u.seconds, u.maxrss


def write(report: Path, kind: str, target: Path, repeat: int) -> tuple[float, int, int]:
    runs = [
        _child([sys.executable, "-c", _WRITE, str(report), kind, str(target)])
        for _ in range(repeat)
    ]
    return min(r[0] for r in runs), max(r[1] for r in runs), target.stat().st_size


def chromium_load(chromium: str, page: Path, repeat: int) -> float:
    """Fastest wall time of headless Chromium dumping the page's DOM (a fresh profile each)."""
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as profile:
            cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom"]
            t = time.perf_counter()
            subprocess.run([*cmd, page.as_uri()], capture_output=True, check=True, timeout=600)
            best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conferences", type=int, default=150, help="conferences (3 calls each)")
    ap.add_argument("--slot", type=float, default=2.0, help="seconds between conference starts")
    ap.add_argument("--frames", type=int, default=100_000, help="frames of the capture")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest counts")
    ap.add_argument("--html-only", action="store_true")
    args = ap.parse_args(argv)
    path, keys = capture(args.frames, args.conferences, args.slot)
    report = analyzed(path, keys)
    with open(report, "rb") as f:
        calls = len(pickle.load(f).calls)
    print(f"{path.name}: {args.frames:,} frames, {calls} calls")
    print("| output | seconds | peak MiB | size MB | Chromium load s (empty page s) |")
    print("|--------|---------|----------|---------|--------------------------------|")
    kinds = ["html"] if args.html_only else ["html", "json", "junit"]
    for kind in kinds:
        target = OUT / f"{path.stem}.{kind}"
        dt, rss, size = write(report, kind, target, args.repeat)
        load = ""
        chromium = shutil.which("chromium")
        if kind == "html" and chromium:
            empty = OUT / "empty.html"
            empty.write_text("<!DOCTYPE html><title>empty</title>\n")
            base = chromium_load(chromium, empty, args.repeat)
            load = f"{chromium_load(chromium, target, args.repeat):.2f} ({base:.2f})"
        print(f"| {kind} | {dt:.2f} | {rss / 1024:.1f} | {size / 1e6:.2f} | {load} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
