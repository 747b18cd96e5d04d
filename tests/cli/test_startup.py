"""Start-up: what a command imports is what it uses. ``--version`` and an analysis that writes
only the JSON do not load Dask, jinja2 (the HTML), asyncio and pyshark (the Wireshark check),
the process pool of --jobs or rich's progress bar. Measured in a fresh interpreter (a
subprocess): this one has imported everything already. Speed itself is in bench/, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import DEMO_KEYS, PCAPS

# What only some options need: --dask, --html, --wireshark-check, --jobs, a long capture.
OPTIONAL = (
    "dask",
    "distributed",
    "jinja2",
    "asyncio",
    "pyshark",
    "multiprocessing",
    "concurrent.futures",
    "rich.progress",
    "mikeyshark.report.html",
    "mikeyshark.wscheck",
    "mikeyshark.wireshark",
)

_PROBE = """
import json, sys
from mikeyshark.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:  # argparse's --version
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _loaded(*argv: str) -> tuple[int, set[str]]:
    got = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=False
    )
    last = got.stderr.strip().splitlines()[-1]
    data = json.loads(last)
    return data["code"], set(data["modules"])


def test_version_loads_none_of_the_analysis() -> None:
    code, modules = _loaded("--version")
    assert code == 0
    assert not {m for m in modules if m.split(".")[0] in ("dask", "jinja2", "rich", "scapy")}
    assert not {m for m in modules if m.startswith("mikeyshark.") and m != "mikeyshark.cli"
                and m != "mikeyshark.version"}  # fmt: skip


@pytest.mark.parametrize("quiet", [False, True])
def test_analyze_to_json_loads_nothing_optional(tmp_path: Path, quiet: bool) -> None:
    out = tmp_path / "r.json"
    argv = ["analyze", str(PCAPS / "conference.pcap"), "--keys", str(DEMO_KEYS)]
    code, modules = _loaded(*argv, "--json", str(out), *(["--quiet"] if quiet else []))
    assert code == 0 and out.exists()
    assert sorted(m for m in OPTIONAL if m in modules) == []


def test_html_still_loads_what_it_needs(tmp_path: Path) -> None:
    # the counter-check: the probe sees a module the run does load
    out = tmp_path / "r.html"
    argv = ["analyze", str(PCAPS / "conference.pcap"), "--keys", str(DEMO_KEYS)]
    code, modules = _loaded(*argv, "--html", str(out), "--quiet")
    assert code == 0 and out.exists()
    assert {"jinja2", "mikeyshark.report.html"} <= modules
