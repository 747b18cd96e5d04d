"""Damaged captures never crash ``analyze`` (terminal summary, JSON, HTML and JUnit all
written and well-formed) or ``dissect -V``: a fixed corpus of mutants of
the shipped captures, the vectors and synthesized calls (tests/support/mutate.py; the same
bytes on every run), and every crasher the fuzz campaign (``make fuzz``) saved in
tests/fuzz/corpus. Each call still gets a status for every rule."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import pytest

from mikeyshark.checks.rules import RULES
from mikeyshark.cli import main
from tests.support import mutate
from tests.support.paths import ROOT

# mutants per seed and operator, and damaged calls per MSRP/BFCP scenario: about 450
# mutants, 30 s on the CI machine (make fuzz runs the long randomized campaign)
PER_OPERATOR = 3
PLAINTEXT = 4
CRASHERS = ROOT / "tests" / "fuzz" / "corpus"


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[mutate.Seed]:
    return mutate.seeds(tmp_path_factory.mktemp("seeds"))


def _utf8_stream() -> io.TextIOWrapper:
    """A standard output that takes only what UTF-8 can encode, as a pipe or file does."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")


def survives(m: mutate.Mutant, tmp: Path, exports: bool = False) -> list[str]:
    """What went wrong with ``m`` (nothing, for a pass): ``analyze`` with its terminal
    summary, JSON, HTML and JUnit (``exports``: the key log, decrypted pcap and pcapng with
    secrets too), then ``dissect -V``, both run here."""
    path = tmp / ("m.pcapng" if m.data[:4] == b"\x0a\x0d\x0d\x0a" else "m.pcap")
    path.write_bytes(m.data)
    keyargs: list[str] = []
    if m.keys:
        kf = tmp / "m.toml"
        kf.write_text(m.keys)
        keyargs = ["--keys", str(kf)]
    out = {k: tmp / f"r.{k}" for k in ("json", "html", "xml")}
    for f in out.values():
        f.unlink(missing_ok=True)
    wrong = []
    args = [str(path), *keyargs, "--json", str(out["json"]), "--html", str(out["html"])]
    if exports:
        args += ["--keylog", str(tmp / "k.log"), "--decrypted-pcap", str(tmp / "d.pcap")]
        args += ["--inject-secrets", str(tmp / "s.pcapng")]
    try:
        with contextlib.redirect_stdout(_utf8_stream()), contextlib.redirect_stderr(_utf8_stream()):
            rc = main(["analyze", *args, "--junit", str(out["xml"])])
    except Exception as e:
        return [f"{m.name}: analyze raised {e!r}"]
    if rc not in (0, 1, 2):
        wrong.append(f"{m.name}: analyze exited {rc}")
    if rc != 2:
        report = json.loads(out["json"].read_text(encoding="utf-8"))
        expected = [r.id for r in RULES]
        for call in report["calls"]:
            if [c["rule"] for c in call["checks"]] != expected:
                wrong.append(f"{m.name}: call {call['call_id']!r} lacks rules")
        ET.fromstring(out["xml"].read_text(encoding="utf-8"))
        out["html"].read_text(encoding="utf-8")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = main(["dissect", "-V", str(path), *keyargs])
    except Exception as e:
        wrong.append(f"{m.name}: dissect -V raised {e!r}")
    else:
        if rc not in (0, 1, 2):
            wrong.append(f"{m.name}: dissect -V exited {rc}")
    return wrong


def check_all(mutants: Iterable[mutate.Mutant], tmp: Path) -> int:
    wrong, count = [], 0
    for m in mutants:
        count += 1
        wrong += survives(m, tmp)
    assert wrong == []
    return count


@pytest.mark.parametrize("op", sorted(mutate.OPERATORS))
def test_mutants(op: str, seeds: list[mutate.Seed], tmp_path: Path) -> None:
    mutants = [
        m
        for seed in seeds
        for n in range(PER_OPERATOR)
        if (m := mutate.mutant(seed, op, n)) is not None
    ]
    assert check_all(mutants, tmp_path) == len(mutants) > 0


@pytest.mark.parametrize("scenario", mutate.PLAINTEXT_SCENARIOS)
def test_media_damaged_before_encryption(scenario: str, tmp_path: Path) -> None:
    assert check_all(mutate.plaintext_mutants(scenario, PLAINTEXT, tmp_path), tmp_path) == PLAINTEXT


def crashers() -> list[Path]:
    return sorted(p for p in CRASHERS.glob("*.pcap*") if p.is_file())


@pytest.mark.parametrize("capture", crashers(), ids=lambda p: p.name)
def test_saved_crasher(capture: Path, tmp_path: Path) -> None:
    keys = capture.with_suffix(".toml")
    m = mutate.Mutant(
        capture.name, capture.read_bytes(), keys.read_text() if keys.exists() else None
    )
    assert survives(m, tmp_path, exports=True) == []
