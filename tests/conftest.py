"""Shared fixtures: the independent vectors, the real tools the tests drive, and
`mikeyshark dissect` run in the test's process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from mikeyshark.cli import main
from tests.support.dissect import Result
from tests.support.paths import VECTORS
from tests.support.tools import require_tool

# Property tests draw the same examples on every run, with no deadline and no example
# database: CI passes or fails on the code, never by chance or by the machine's speed.
# HYPOTHESIS_PROFILE=explore draws new examples (a long campaign: make fuzz).
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def vectors() -> Path:
    """tests/vectors: a copy of shared/vectors (see its README for how each was produced)."""
    return VECTORS


@pytest.fixture(scope="session")
def tshark() -> str:
    return require_tool("tshark")


@pytest.fixture(scope="session")
def tcpdump() -> str:
    return require_tool("tcpdump")


@pytest.fixture(scope="session")
def openssl() -> str:
    return require_tool("openssl")


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_tool("chromium")


@pytest.fixture
def dissect(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the command in this process (a subprocess per test costs seconds of imports)."""

    def run(*args: str) -> Result:
        rc = main(["dissect", *args])
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return run
