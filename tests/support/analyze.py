"""Synthesize a capture, write it, analyze it: shared by the analyze/fault/pipeline tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from mikeyshark.checks.rules import RULES
from mikeyshark.judge import build_report
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Frame
from mikeyshark.pipeline import analyze_capture
from mikeyshark.report.model import Report
from mikeyshark.synth import SynthResult, synthesize, write_capture
from mikeyshark.synth.net import write_frames
from mikeyshark.synth.scenarios import BASE_TIME_NS

SEC = 1_000_000_000
# when overlapping_conferences' replayed call starts: after the conferences (their
# addresses are reused)
REPLAY_AT_NS = BASE_TIME_NS + 100 * SEC


def analyze_frames(
    frames: tuple[Frame, ...] | list[Frame], keyfile_text: str, path: Path
) -> Report:
    """Write ``frames`` to ``path`` and judge every call in it with the key file's keys."""
    write_frames(frames, path)
    keys = KeyFile.parse(keyfile_text)
    return build_report([analyze_capture(str(path), keys)], keys, reveal=False)


def analyze_synth(result: SynthResult, path: Path) -> Report:
    return analyze_frames(result.frames, result.keyfile_text, path)


def clean_ue_statuses(protocols: set[str] | frozenset[str]) -> dict[str, str]:
    """Rule -> status of a clean call captured at the UE (docs/rules.md), with media of
    ``protocols``: every rule passes but KMS-RESOLVE (no KMS leg in view) and the rules of a
    protocol the call lacks, which do not apply, and the Mp rules, not observed (no Mp in
    view at the UE)."""
    out = {}
    for r in RULES:
        if r.id == "KMS-RESOLVE" or (r.protocol is not None and r.protocol.value not in protocols):
            out[r.id] = "not-applicable"
        elif r.leg is not None:
            out[r.id] = "not-observed"
        else:
            out[r.id] = "pass"
    return out


def statuses(report: Report) -> dict[str, dict[str, str]]:
    """call-id -> rule -> status."""
    return {c.call_id: {r.rule: r.status.value for r in c.checks} for c in report.calls}


def synth_capture(tmp_path: Path, scenario: str, *faults: str, seed: int = 4) -> tuple[Path, Path]:
    result = synthesize(scenario, faults=list(faults), seed=seed)
    pcap = tmp_path / f"{scenario}-{'-'.join(faults) or 'clean'}-{seed}.pcap"
    write_capture(result, pcap)
    keys = pcap.with_suffix(".toml")
    keys.write_text(result.keyfile_text)
    return pcap, keys


def overlapping_conferences(conferences: int) -> tuple[list[Frame], str]:
    """Frames and key file of ``conferences`` synthesized conferences (three calls each), one
    starting every 10 s so that they overlap (calls end in another order than they begin),
    and at :data:`REPLAY_AT_NS` a call that replays a TRANSFER_INIT of the first (REPLAY)."""
    first = synthesize("conference", seed=1, now_ns=BASE_TIME_NS)
    keys = first.keyfile_text
    frames = list(first.frames)
    for k in range(1, conferences):
        r = synthesize("conference", seed=k + 1, keys=keys, now_ns=BASE_TIME_NS + k * 10 * SEC)
        frames += r.frames
    replay = synthesize(
        "msrp-dial-in", faults=("replayed-init",), seed=50, keys=keys, now_ns=REPLAY_AT_NS
    )
    return frames + list(replay.frames), keys


def write_merged(frames: Iterable[Frame], keys: str, folder: Path, name: str) -> tuple[Path, Path]:
    """``frames`` in time order, numbered again, written to ``folder/name`` with the key file
    beside it: (capture, key file)."""
    ordered = sorted(frames, key=lambda f: f.ts_ns)
    numbered = [dataclasses.replace(f, number=n) for n, f in enumerate(ordered, 1)]
    pcap = folder / name
    write_frames(numbered, pcap)
    (folder / "keys.toml").write_text(keys)
    return pcap, folder / "keys.toml"
