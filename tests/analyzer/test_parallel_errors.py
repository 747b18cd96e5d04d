"""An error raised in a ``--jobs`` worker reaches the parent as itself: the process pool
pickles it there and unpickles it here (a DissectError used to break the pool instead,
``BrokenProcessPool``, losing which capture and which field)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from mikeyshark import parallel
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.keyfile import KeyFile
from mikeyshark.parallel import Unit, run_units


def test_a_worker_error_crosses_the_process_boundary_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pool's workers are forked from this process, so they run the replacement below
    assert multiprocessing.get_start_method() == "fork"

    def broken(target: str, keys: KeyFile, **kw: object) -> object:
        raise DissectError("sip", 7, f"malformed CSeq in {Path(target).name}", "cseq")

    monkeypatch.setattr(parallel, "analyze_capture", broken)
    units = [Unit((str(tmp_path / "a.pcap"),)), Unit((str(tmp_path / "b.pcap"),))]
    with pytest.raises(DissectError) as info:
        run_units(units, KeyFile(), reveal=False, jobs=2)
    e = info.value
    assert (e.layer, e.offset, e.field, e.reason) == ("sip", 7, "cseq", "malformed CSeq in a.pcap")
