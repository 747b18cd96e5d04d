from __future__ import annotations

import subprocess
import sys

import pytest

from mikeyshark.cli import COMMANDS, main


def test_top_level_help_lists_every_verb_without_importing_them() -> None:
    code = (
        "import sys; from mikeyshark.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('scapy' in sys.modules, 'mikeyshark.commands.synth' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for verb in ("analyze", "dissect", "keys", "synth", "replay"):
        assert f"    {verb} " in out
    assert out.strip().endswith("False False")


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_each_verb_has_its_own_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([verb, "--help"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: mikeyshark {verb}")


def test_no_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: mikeyshark" in capsys.readouterr().err
