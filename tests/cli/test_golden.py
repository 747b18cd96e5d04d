"""Every shipped capture's analyze outputs (terminal, JSON, HTML, JUnit) and `dissect -V` text
equal the ones recorded in tests/golden/out/ (by tests/support/golden.py). A change that alters an
output on purpose re-records in the same commit, so its diff shows what changed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.golden import CASES, OUT, analyze_outputs, dissect_output, stem

MIKEYSHARK = [str(Path(sys.executable).parent / "mikeyshark")]


@pytest.mark.parametrize("capture", sorted(CASES), ids=stem)
def test_outputs_as_recorded(capture: str, tmp_path: Path) -> None:
    args = CASES[capture]
    got = analyze_outputs(MIKEYSHARK, capture, args, tmp_path)
    got["dissect"] = dissect_output(MIKEYSHARK, capture, args)
    for kind, text in got.items():
        name = (
            f"{stem(capture)}.dissect.txt"
            if kind == "dissect"
            else f"{stem(capture)}.analyze.{kind}"
        )
        assert text == (OUT / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize("capture", sorted(CASES), ids=stem)
def test_streamed_outputs_as_recorded(capture: str, workers: str, tmp_path: Path) -> None:
    # without the HTML the calls are judged and written as they end, with --workers in
    # worker processes: the same terminal, JSON and JUnit
    args = [*CASES[capture], "--workers", workers]
    got = analyze_outputs(MIKEYSHARK, capture, args, tmp_path, html=False)
    for kind, text in got.items():
        name = f"{stem(capture)}.analyze.{kind}"
        assert text == (OUT / name).read_text(encoding="utf-8"), name
