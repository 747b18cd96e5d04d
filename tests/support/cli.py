"""Running the installed command line in a child process, as a user would."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mikeyshark", *args], capture_output=True, text=True, timeout=120
    )
