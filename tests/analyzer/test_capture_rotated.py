"""Rotated capture files of one probe read as one capture: timestamp order across files,
numbering that runs on, the file of each frame, and a call split in the middle of its TLS
handshake judged whole."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from mikeyshark.capture import CaptureReader, MergedReader, group_captures
from mikeyshark.checks.rules import RULES
from mikeyshark.cli import main
from mikeyshark.judge import build_report
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Frame
from mikeyshark.pipeline import analyze_capture
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.analyze import analyze_frames, statuses


def _tls_handshake_type(f: Frame) -> int | None:
    """The first handshake message type of a TCP segment starting a TLS handshake record."""
    data = f.data
    if len(data) < 54 or data[23] != 6:
        return None
    ihl = (data[14] & 0x0F) * 4
    tcp = 14 + ihl
    off = tcp + (data[tcp + 12] >> 4) * 4
    if len(data) > off + 5 and data[off] == 0x16 and data[off + 1] == 3:
        return data[off + 5]
    return None


def _split_mid_handshake(frames: tuple[Frame, ...]) -> tuple[int, int]:
    """Indexes splitting the capture before the ServerHello and after it: the first file
    ends with the ClientHello, the second holds the rest of the handshake."""
    sh = next(i for i, f in enumerate(frames) if _tls_handshake_type(f) == 2)
    assert any(_tls_handshake_type(f) == 1 for f in frames[:sh])
    return sh, sh + 2


def _ring(tmp: Path, parts: list[list[Frame]]) -> list[str]:
    out = []
    for n, part in enumerate(parts, 1):
        p = tmp / f"probe_{n:05d}_2026112612{n:02d}00.pcap"
        write_frames(part, p)
        out.append(str(p))
    return out


def test_group_captures_finds_ring_buffer_pieces() -> None:
    given = [
        "/x/probe_00003_20261126120300.pcap",
        "/x/other.pcap",
        "/x/probe_00001_20261126120100.pcap",
        "/x/probe_00002_20261126120200.pcap",
        "/x/probe_00001_20261126120100.pcapng",
    ]
    assert group_captures(given) == [
        [
            "/x/probe_00001_20261126120100.pcap",
            "/x/probe_00002_20261126120200.pcap",
            "/x/probe_00003_20261126120300.pcap",
        ],
        ["/x/other.pcap"],
        ["/x/probe_00001_20261126120100.pcapng"],
    ]


def test_merged_reader_is_the_whole_capture(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=11)
    a, b = _split_mid_handshake(r.frames)
    files = _ring(tmp_path, [list(r.frames[:a]), list(r.frames[a:b]), list(r.frames[b:])])
    m = MergedReader(files)
    got = list(m)
    assert [(f.number, f.ts_ns, f.data) for f in got] == [
        (f.number, f.ts_ns, f.data) for f in r.frames
    ]
    assert m.file_of(1) == files[0] and m.file_of(a) == files[0]
    assert m.file_of(a + 1) == files[1] and m.file_of(b) == files[1]
    assert m.file_of(b + 1) == files[2] and m.file_of(len(r.frames)) == files[2]
    assert m.problems == [] and m.frames_read == len(r.frames)


def test_overlapping_files_are_merged_by_timestamp(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=12)
    odd = [f for f in r.frames if f.number % 2]
    even = [f for f in r.frames if not f.number % 2]
    # the second probe's file given first: order comes from the timestamps
    files = _ring(tmp_path, [even, odd])
    m = MergedReader(files)
    assert [f.data for f in m] == [f.data for f in r.frames]
    assert m.file_of(1) == files[1] and m.file_of(2) == files[0]


def test_equal_timestamps_keep_the_given_file_first(tmp_path: Path) -> None:
    frames = [Frame(i, 1_000_000_000, 1, bytes([i]) * 60, 60) for i in range(1, 5)]
    files = _ring(tmp_path, [frames[:2], frames[2:]])
    assert [f.data[0] for f in MergedReader(files)] == [1, 2, 3, 4]
    assert [f.data[0] for f in MergedReader(files[::-1])] == [3, 4, 1, 2]


def test_call_split_mid_tls_handshake_is_judged_whole(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=11)
    # a clean UE-side MSRP call: every rule passes but BFCP-IDS, KMS-RESOLVE and
    # MP-BFCP-DIALOUT, which do not apply to it, and the Mp rules, not in view (docs/rules.md)
    na = ("BFCP-IDS", "KMS-RESOLVE", "MP-BFCP-DIALOUT")
    whole = {
        r.calls[0].call_id: {
            x.id: "not-applicable" if x.id in na else "not-observed" if x.leg else "pass"
            for x in RULES
        }
    }
    assert statuses(analyze_frames(r.frames, r.keyfile_text, tmp_path / "whole.pcap")) == whole
    a, b = _split_mid_handshake(r.frames)
    files = _ring(tmp_path, [list(r.frames[:a]), list(r.frames[a:b]), list(r.frames[b:])])
    keys = KeyFile.parse(r.keyfile_text)
    joined = build_report([analyze_capture(files, keys)], keys, reveal=False)
    assert statuses(joined) == whole
    assert [c.verdict for c in joined.calls] == ["pass"]
    # each piece alone cannot be judged whole: the split is where the TLS key is proven
    # nothing in it is wrong, the proof is missing: incomplete, not fail
    alone = build_report([analyze_capture(files[0], keys)], keys, reveal=False)
    assert [c.verdict for c in alone.calls] == ["incomplete"]
    assert statuses(alone)[r.calls[0].call_id]["TLS-KEY"] == "not-observed"


def test_damage_in_a_later_file_keeps_merged_numbers(tmp_path: Path) -> None:
    frames = [Frame(i, 1_000_000_000 * i, 1, bytes([i]) * 60, 60) for i in range(1, 7)]
    files = _ring(tmp_path, [frames[:3], frames[3:]])
    raw = bytearray(Path(files[1]).read_bytes())
    # the second record of file 2 (merged frame 5) claims an impossible length
    rec2 = 24 + 16 + 60
    struct.pack_into("<I", raw, rec2 + 8, 0x7FFFFFF0)
    Path(files[1]).write_bytes(bytes(raw))
    assert [f.number for f in CaptureReader(files[1])] == [1, 3]
    m = MergedReader(files)
    got = [(f.number, f.data[0]) for f in m]
    assert got == [(1, 1), (2, 2), (3, 3), (4, 4), (6, 6)]
    assert [(p.frame, p.file, p.field) for p in m.problems] == [(5, files[1], "incl_len")]


def test_cli_join_judges_the_split_call_whole(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=13)
    a, b = _split_mid_handshake(r.frames)
    files = _ring(tmp_path, [list(r.frames[:a]), list(r.frames[a:b]), list(r.frames[b:])])
    keys = tmp_path / "keys.toml"
    keys.write_text(r.keyfile_text)
    out = tmp_path / "r.json"
    # given out of order: the pieces are merged by time all the same
    args = ["analyze", "--join", files[2], files[0], files[1], "--keys", str(keys)]
    assert main([*args, "--json", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert [c["verdict"] for c in doc["calls"]] == ["pass"]
    assert [c["frames"] for c in doc["captures"]] == [len(r.frames)]
