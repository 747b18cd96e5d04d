"""The system tools the interop tests drive: found on PATH, skipped when missing, required on CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of a system tool; skip when it is missing, but fail on CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required on CI (.ci/run installs it)")
        pytest.skip(f"{name} not installed (apt-get install {name})")
    return path
