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


def test_an_unexpected_exception_exits_3_not_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # exit 1 means "a rule failed": a bug must never look like findings
    def broken(args: object) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr("mikeyshark.commands.keys.run", broken)
    assert main(["keys", "resolve", "AAAA", "--keys", "k.toml"]) == 3
    err = capsys.readouterr().err
    assert "KeyError: 'a bug'" in err and "internal error" in err


@pytest.mark.parametrize("verb", ["analyze", "dissect"])
def test_psk_has_one_rule_for_every_verb(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    # an empty key is refused by both verbs that take --psk, with the same words
    assert main([verb, "missing.pcap", "--psk", ":identity"]) == 2
    assert "--psk: the key is empty" in capsys.readouterr().err
