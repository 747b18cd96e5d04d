"""Shared fixtures: the independent vectors and the real tools the tests drive."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """tests/vectors: a copy of shared/vectors (see its README for how each was produced)."""
    return VECTORS


def require_tool(name: str) -> str:
    """Path of a system tool; skip when it is missing, but fail on CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required on CI (.ci/run installs it)")
        pytest.skip(f"{name} not installed (apt-get install {name})")
    return path


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
