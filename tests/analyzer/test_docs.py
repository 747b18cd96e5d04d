"""The documents written from the code's tables are the committed ones (python -m
mikeyshark.docs docs re-writes them), and --check says when one is stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from mikeyshark import docs
from tests.support.paths import ROOT


@pytest.mark.parametrize("name", sorted(docs.DOCUMENTS))
def test_committed_document_is_what_the_code_writes(name: str) -> None:
    committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert committed == docs.DOCUMENTS[name](), (
        f"docs/{name} is stale: python -m mikeyshark.docs docs"
    )


def test_rules_document_lists_every_rule_once() -> None:
    text = docs.rules_markdown()
    table = text.split("## The rules", 1)[1]
    rows = [
        line.split(" | ")[0].strip("| `") for line in table.splitlines() if line.startswith("| `")
    ]
    # the 25 rules a synthetic fault trips, KMS-RESOLVE (seen only in the core), and the 11
    # rules of the Mp leg (seen at the MRF)
    assert len(rows) == 37 and len(set(rows)) == 37
    assert rows[0] == "GEN-AUTH" and rows[25] == "KMS-RESOLVE" and rows[-1] == "MP-BFCP-DIALOUT"
    assert "| `tcp` | the m-line's TCP connection | no TCP connection for this m-line" in text


def test_check_finds_a_stale_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert docs.main([str(tmp_path)]) == 0  # writes all three
    assert docs.main([str(tmp_path), "--check"]) == 0
    (tmp_path / "cli.md").write_text("old\n", encoding="utf-8")
    assert docs.main([str(tmp_path), "--check"]) == 1
    assert "out of date: cli.md" in capsys.readouterr().err
