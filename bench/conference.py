"""Conference benchmark: the full analysis against tshark on large captures.

Each capture holds ``--conferences`` conferences of the synthesizer (three calls each, every
call with audio, MSRP and BFCP over TLS-PSK keyed by MIKEY-TICKET) spliced in time order into
noise: RTP audio, bulk TCP (half of it HTTPS-like TLS), DNS, IPv6, ARP and plain SIP
audio calls. The conferences are
synthesized once (cached in bench/out/) and the capture is assembled with struct, so even the
5,000,000-frame file is written in about a minute.

Timed, each in its own child process (peak memory = the child's ru_maxrss):

- ``mikeyshark analyze FILE --keys KEYS --json OUT --quiet`` (every call judged);
- ``tshark -n -2 -r FILE -o tls.psk:KEY -Y "sip || tls" -T fields -e frame.number``: two-pass
  dissection with TLS decryption, with the one PSK tshark accepts (the first call's TEK);
- ``tshark -n -r FILE -Y sip``: plain dissection, the floor.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import foundation
import launch

OUT = Path(__file__).resolve().parent / "out"
SLOT_NS = 20 * 1_000_000_000  # one conference spans ~17 s of capture time; they follow each other
TCP_BODY = 300  # noise segments: small, so that 5M frames stay well under 2 GB
DNS_SHARE = 0.05
TLS_SHARE = 0.5  # of the noise TCP connections: HTTPS-like (certificate TLS), the rest opaque


class Synthesized(NamedTuple):
    frames: list[tuple[int, bytes]]  # (ts_ns, frame), in time order
    keys: str  # the key file that opens every ticket
    tek: str  # the first call's first TEK (hex)
    keylog: list[str]  # NSS key log lines of every TLS session


def synthesized(count: int, slot_ns: int = SLOT_NS) -> Synthesized:
    """``count`` conferences, one starting every ``slot_ns`` (cached in bench/out/).

    Below ~18 s they overlap in time (each conference has its own addresses and ports, the
    P-CSCF's SIP port aside)."""
    suffix = "" if slot_ns == SLOT_NS else f"-slot{slot_ns // 1_000_000}ms"
    cache = OUT / f"conferences-{count}{suffix}-keylog.pickle"
    if cache.exists():
        with open(cache, "rb") as f:
            got: Synthesized = pickle.load(f)
        return got
    from mikeyshark.synth import synthesize
    from mikeyshark.synth.scenarios import BASE_TIME_NS

    first = synthesize("conference", seed=1, now_ns=BASE_TIME_NS)
    keys = first.keyfile_text
    tek = first.calls[0].media[0].tek.hex()
    frames = [(fr.ts_ns, fr.data) for fr in first.frames]
    keylog = [line for c in first.calls for m in c.media for line in m.keylog]
    for k in range(1, count):
        # the same key file for all, so one KMS master key opens every ticket
        r = synthesize("conference", seed=k + 1, keys=keys, now_ns=BASE_TIME_NS + k * slot_ns)
        frames.extend((fr.ts_ns, fr.data) for fr in r.frames)
        keylog.extend(line for c in r.calls for m in c.media for line in m.keylog)
    frames.sort(key=lambda x: x[0])
    got = Synthesized(frames, keys, tek, keylog)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as f:
        pickle.dump(got, f)
    return got


def conference_frames(
    count: int, slot_ns: int = SLOT_NS
) -> tuple[list[tuple[int, bytes]], str, str]:
    """(ts_ns, frame) of ``count`` conferences, the key file that opens them, one TEK (hex)."""
    s = synthesized(count, slot_ns)
    return s.frames, s.keys, s.tek


def write_capture(
    path: Path, total: int, conferences: int, slot_ns: int = SLOT_NS
) -> tuple[str, str]:
    """Write the capture (nanosecond pcap) of ``total`` frames: ``conferences`` conferences
    (three calls each), one every ``slot_ns``, spliced into noise; returns (key file text,
    one TEK hex)."""
    calls, keys, tek = conference_frames(conferences, slot_ns)
    splice(path, total, calls, conferences, slot_ns)
    return keys, tek


def splice(
    path: Path,
    total: int,
    calls: list[tuple[int, bytes]],
    conferences: int,
    slot_ns: int,
    *,
    with_calls: bool = True,
) -> None:
    """Write ``calls`` (time-ordered (ts_ns, frame)) spliced into the noise, ``total`` frames
    in all; ``with_calls=False`` writes the very same noise frames at the same times alone
    (the capture with the calls removed)."""
    noise_count = max(total - len(calls), 0)
    start = calls[0][0] - 1_000_000_000
    # the last conference starts (count - 1) slots in and lasts less than SLOT_NS
    span = (conferences - 1) * slot_ns + SLOT_NS + 2_000_000_000
    step = span // max(noise_count, 1)
    if not with_calls:
        calls = []
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    rec = struct.Struct("<IIII")
    ci = 0
    with open(tmp, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        buf: list[bytes] = []
        for i, fr in enumerate(
            foundation.frames(noise_count, seed=7, tcp_body=TCP_BODY, dns=DNS_SHARE, tls=TLS_SHARE)
        ):
            ts = start + i * step
            while ci < len(calls) and calls[ci][0] <= ts:
                cts, cfr = calls[ci]
                buf.append(rec.pack(cts // 1_000_000_000, cts % 1_000_000_000, len(cfr), len(cfr)))
                buf.append(cfr)
                ci += 1
            buf.append(rec.pack(ts // 1_000_000_000, ts % 1_000_000_000, len(fr), len(fr)))
            buf.append(fr)
            if len(buf) >= 40000:
                f.write(b"".join(buf))
                buf.clear()
        for cts, cfr in calls[ci:]:
            buf.append(rec.pack(cts // 1_000_000_000, cts % 1_000_000_000, len(cfr), len(cfr)))
            buf.append(cfr)
        f.write(b"".join(buf))
    tmp.replace(path)


def _best(cmd: list[str], repeat: int) -> tuple[float, int]:
    """(fastest wall seconds, largest peak RSS KiB) of ``repeat`` runs of ``cmd``."""
    runs = [_child(cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def _child(cmd: list[str]) -> tuple[float, int, int]:
    """Run a child; (wall seconds, peak RSS KiB, exit code). Its output is discarded."""
    proc = launch.Child(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    u = proc.wait()
    if u.code not in (0, 1):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
        raise SystemExit(f"{cmd[0]} failed with exit code {u.code}")
    return u.seconds, u.maxrss, u.code


def _capture(frames: int, conferences: int, regenerate: bool) -> tuple[Path, Path, str]:
    path = OUT / f"conference-{frames}.pcap"
    keys_path = OUT / f"conference-{frames}.keys.toml"
    tek_path = OUT / f"conference-{frames}.tek"
    if regenerate or not (path.exists() and keys_path.exists() and tek_path.exists()):
        t = time.perf_counter()
        keys, tek = write_capture(path, frames, conferences)
        keys_path.write_text(keys)
        tek_path.write_text(tek)
        size = path.stat().st_size / 1e6
        dt = time.perf_counter() - t
        print(f"wrote {path.name}: {frames:,} frames, {size:,.0f} MB in {dt:.1f} s")
    return path, keys_path, tek_path.read_text().strip()


def run_size(
    frames: int, conferences: int, regenerate: bool, tshark: str | None, repeat: int = 1
) -> list[str]:
    path, keys_path, tek = _capture(frames, conferences, regenerate)
    report = OUT / f"conference-{frames}.json"
    mikeyshark = str(Path(sys.executable).parent / "mikeyshark")
    rows: list[tuple[str, float, int]] = []
    dt, rss = _best(
        [
            mikeyshark,
            "analyze",
            str(path),
            "--keys",
            str(keys_path),
            "--json",
            str(report),
            "--quiet",
        ],
        repeat,
    )
    rows.append(("mikeyshark analyze --json", dt, rss))
    data = json.loads(report.read_text())
    verdicts: dict[str, int] = {}
    for c in data["calls"]:
        verdicts[c["verdict"]] = verdicts.get(c["verdict"], 0) + 1
    decrypted = sum(
        1 for c in data["calls"] for m in c["media"] if m.get("tls") and m["tls"]["decrypted"]
    )
    print(
        f"  {frames:,} frames: {len(data['calls'])} calls {verdicts}, "
        f"{decrypted} TLS sessions decrypted"
    )
    if tshark:
        cmd = [tshark, "-n", "-2", "-r", str(path), "-o", f"tls.psk:{tek}", "-Y", "sip || tls"]
        dt, rss = _best([*cmd, "-T", "fields", "-e", "frame.number"], repeat)
        rows.append(('tshark -2 -o tls.psk -Y "sip || tls"', dt, rss))
        dt, rss = _best([tshark, "-n", "-r", str(path), "-Y", "sip"], repeat)
        rows.append(("tshark -Y sip", dt, rss))
    ours = rows[0][1]
    lines = []
    for name, dt, rss in rows:
        ratio = "" if name.startswith("mikeyshark") else f"{dt / ours:6.2f}x"
        lines.append(
            f"| {frames:>9,} | {name:38} | {dt:8.2f} | {frames / dt:10,.0f} | {ratio:>7} "
            f"| {rss / 1024:8.1f} |"
        )
    return lines


HEADER = (
    "|    frames | run                                    |  seconds |   frames/s | "
    "ours is | peak MiB |\n"
    "|-----------|----------------------------------------|----------|------------|"
    "---------|----------|"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes",
        default="100000,1000000",
        help="comma-separated frame counts (5000000 for the large run)",
    )
    ap.add_argument("--conferences", type=int, default=100, help="conferences (3 calls each)")
    ap.add_argument("--regenerate", action="store_true", help="write the captures again")
    ap.add_argument("--no-tshark", action="store_true", help="time mikeyshark only")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each command; the fastest counts (on a shared machine)",
    )
    args = ap.parse_args(argv)
    tshark = None if args.no_tshark else shutil.which("tshark")
    lines: list[str] = []
    for size in (int(s) for s in args.sizes.split(",") if s):
        lines += run_size(size, args.conferences, args.regenerate, tshark, args.repeat)
    print(HEADER)
    print("\n".join(lines))
    print("'ours is': how many times faster mikeyshark's full analysis is than that run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
