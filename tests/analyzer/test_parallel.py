"""Many captures: --jobs and --dask give the single process's JSON; --join joins rotated files.

The JSON report has no timing field (the capture's ``seconds`` stays out of it), so the
documents are compared byte for byte, nothing normalized.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mikeyshark.cli import main
from mikeyshark.parallel import Unit, plan_units
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from mikeyshark.synth.scenarios import BASE_TIME_NS

MINUTE = 60 * 1_000_000_000


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path]:
    """A key file and three captures made with it: two scenarios and one conference whose
    frames are split over two rotated files in the middle of its second call."""
    d = tmp_path_factory.mktemp("many")
    first = synthesize("msrp-dial-in", seed=1, now_ns=BASE_TIME_NS)
    keys = d / "keys.toml"
    keys.write_text(first.keyfile_text)
    write_frames(first.frames, d / "a.pcap")
    second = synthesize(
        "bfcp-dial-out", seed=2, keys=first.keyfile_text, now_ns=BASE_TIME_NS + 5 * MINUTE
    )
    write_frames(second.frames, d / "b.pcap")
    conf = synthesize(
        "conference", seed=3, keys=first.keyfile_text, now_ns=BASE_TIME_NS + 10 * MINUTE
    )
    probe = d / "probe"
    probe.mkdir()
    half = len(conf.frames) // 2
    write_frames(conf.frames[:half], probe / "cap.pcap")
    write_frames(conf.frames[half:], probe / "cap.pcap1")
    write_frames(conf.frames, d / "whole.pcap")
    return keys, [d / "a.pcap", d / "b.pcap"], probe


def _run(tmp: Path, name: str, args: list[str], keys: Path) -> tuple[int, str]:
    out = tmp / name
    code = main(["analyze", *args, "--keys", str(keys), "--json", str(out), "--quiet"])
    return code, out.read_text()


def test_plan_units_groups_directories_and_runs_of_files(
    captures: tuple[Path, list[Path], Path],
) -> None:
    _, (a, b), probe = captures
    parts = (str(probe / "cap.pcap"), str(probe / "cap.pcap1"))
    assert plan_units([str(a), str(probe), str(b)]) == [
        Unit((str(a),)),
        Unit((parts[0],)),
        Unit((parts[1],)),
        Unit((str(b),)),
    ]
    assert plan_units([str(a), str(b), str(probe)], join=True) == [
        Unit((str(a), str(b))),
        Unit(parts),
    ]


def test_a_dumpcap_ring_buffer_is_one_unit_without_join(tmp_path: Path) -> None:
    ring = [tmp_path / f"probe_{n:05d}_2026010112{n:02d}00.pcapng" for n in (1, 2, 10)]
    for f in ring:
        f.write_bytes(b"")
    other = tmp_path / "other.pcap"
    other.write_bytes(b"")
    # the directory's files in natural order; the ring's pieces in file-number order
    assert plan_units([str(tmp_path)]) == [
        Unit((str(other),)),
        Unit(tuple(str(f) for f in ring)),
    ]


def test_jobs_and_dask_give_the_single_process_json(
    captures: tuple[Path, list[Path], Path], tmp_path: Path
) -> None:
    # dask[distributed] is a test dependency (pyproject [test]): a missing install must fail
    import distributed

    keys, (a, b), probe = captures
    args = ["--join", str(a), str(probe), str(b)]
    single = _run(tmp_path, "one.json", args, keys)
    doc = json.loads(single[1])
    # three units: a, the probe's two files read as one capture, b
    assert [c["path"] for c in doc["captures"]] == [
        str(a),
        f"{probe / 'cap.pcap'} + {probe / 'cap.pcap1'}",
        str(b),
    ]
    assert len(doc["calls"]) == 1 + 1 + 3
    assert single[0] == 0
    assert _run(tmp_path, "jobs.json", [*args, "--jobs", "2"], keys) == single
    with (
        distributed.LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        assert _run(tmp_path, "dask.json", [*args, "--dask", cluster.scheduler_address], keys) == (
            single
        )


def test_rotated_files_join_a_split_call(
    captures: tuple[Path, list[Path], Path], tmp_path: Path
) -> None:
    keys, _, probe = captures
    whole = probe.parent / "whole.pcap"
    code, text = _run(tmp_path, "joined.json", ["--join", str(probe)], keys)
    joined = json.loads(text)
    # every call of the synthesized conference passes, as in the unsplit capture
    assert code == 0
    assert [c["verdict"] for c in joined["calls"]] == ["pass", "pass", "pass"]
    _, text = _run(tmp_path, "whole.json", [str(whole)], keys)
    assert [c["checks"] for c in json.loads(text)["calls"]] == [
        c["checks"] for c in joined["calls"]
    ]
    # the same files as separate captures: the call cut by the rotation is not whole
    code, text = _run(tmp_path, "apart.json", [str(probe)], keys)
    apart = json.loads(text)
    assert len(apart["captures"]) == 2
    # the first call ends before the cut; the INVITEs of the other two are in the first
    # file, their media partly in the second
    assert [c["verdict"] for c in apart["calls"]] == ["pass", "incomplete", "incomplete"]
    assert code == 0  # incomplete is not a failure


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["analyze", str(tmp_path), "--quiet"]) == 2
