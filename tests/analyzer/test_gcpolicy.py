"""The collector's rhythm while a capture streams: rare collections, restored afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from mikeyshark import parallel
from mikeyshark.gcpolicy import streaming
from mikeyshark.keyfile import KeyFile
from mikeyshark.parallel import Unit


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    yield
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("default_thresholds")
def test_streaming_makes_young_collections_rare_and_restores_the_rhythm() -> None:
    with pytest.raises(KeyError), streaming():
        # one young collection per 100,000 net allocations, not per 700
        assert gc.get_threshold()[0] == 100_000
        raise KeyError("a failure while streaming")
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.usefixtures("default_thresholds")
def test_a_capture_is_analyzed_with_rare_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []

    def analyze_capture(*args: object, **kwargs: object) -> object:
        seen.append(gc.get_threshold())
        raise RuntimeError("stop here")

    monkeypatch.setattr(parallel, "analyze_capture", analyze_capture)
    pcap = tmp_path / "x.pcap"
    pcap.write_bytes(b"")
    result = parallel.analyze_unit(Unit((str(pcap),)), KeyFile(), reveal=False)
    assert seen and seen[0][0] == 100_000
    assert result.info.errors  # the fault barrier reported the failure
    assert gc.get_threshold() == (700, 10, 10)
