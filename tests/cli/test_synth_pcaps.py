"""Every synthesized capture in pcaps/ is reproduced byte for byte by the command that
pcaps/README.md writes next to it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mikeyshark.cli import main
from tests.support.paths import PCAPS


def _commands() -> list[list[str]]:
    text = (PCAPS / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"`(mikeyshark synth [^`]+ -o [^`]+)`", text)
    return [shlex.split(c) for c in found]


def test_readme_names_every_synthesized_capture() -> None:
    outputs = {Path(c[c.index("-o") + 1]).name for c in _commands()}
    assert outputs == {
        "conference.pcap",
        "conference-mrf.pcap",
        "msrp-dial-in.pcap",
        "msrp-dial-out.pcap",
        "bfcp-dial-in.pcap",
        "bfcp-dial-out.pcap",
    }


def test_commands_reproduce_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = []
    for cmd in _commands():
        # Same command, every pcaps/ path redirected to tmp_path, run in README order.
        args = [str(tmp_path / Path(a).name) if a.startswith("pcaps/") else a for a in cmd[1:]]
        assert main(args) == 0
        made += [Path(a).name for a in args if a.startswith(str(tmp_path))]
    capsys.readouterr()
    assert "demo-keys.toml" in made
    for name in set(made):
        assert (tmp_path / name).read_bytes() == (PCAPS / name).read_bytes(), name
