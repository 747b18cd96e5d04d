"""The Python API: mikeyshark.analyze and mikeyshark.KeyFile, as a script uses them.

Expected values are the demo conference as the README describes it (two UEs dial in, one is
dialed out, each call with MSRP and BFCP over TLS-PSK, every call compliant) and the call-ids
the README's terminal table shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mikeyshark
from mikeyshark.cli import main
from mikeyshark.report import json_report
from tests.support.paths import DEMO_KEYS, PCAPS

DEMO = PCAPS / "conference.pcap"
DEMO_CALLS = {
    "g5by1a2rogubbb8a@198.51.100.11": "msrp+bfcp-dial-in",
    "qjcwefgtupr7dxbf@198.51.100.12": "msrp+bfcp-dial-in",
    "h27i1ivuibwlop55@192.0.2.20": "msrp+bfcp-dial-out",
}


def test_analyze_returns_the_judged_demo_calls() -> None:
    report = mikeyshark.analyze(DEMO, keys=DEMO_KEYS)
    assert {c.call_id: c.scenario for c in report.calls} == DEMO_CALLS
    for call in report.calls:
        assert call.verdict is mikeyshark.Verdict.PASS
        # one result per rule, each judged: BFCP-IDS/MSRP-PATHS pass on their own m-line,
        # KMS-RESOLVE does not apply (the capture is taken at the UEs: no KMS leg)
        # (the Mp rules, not in view at the UE, do not count)
        statuses = {c.rule: c.status for c in call.checks if c.counts}
        assert statuses.pop("KMS-RESOLVE") is mikeyshark.Status.NOT_APPLICABLE
        assert set(statuses.values()) == {mikeyshark.Status.PASS}
        assert [m.protocol.value for m in call.media] == ["msrp", "bfcp"]
        for m in call.media:
            assert m.key is not None and m.key.recovered
            assert m.tls is not None and m.tls.decrypted and m.messages
    assert report.compliant(strict=True)


def test_keys_as_a_path_a_loaded_file_or_a_psk_give_the_same_verdicts(tmp_path: Path) -> None:
    by_path = mikeyshark.analyze(str(DEMO), keys=str(DEMO_KEYS))
    loaded = mikeyshark.analyze(DEMO, keys=mikeyshark.KeyFile.load(DEMO_KEYS))
    assert [c.verdict for c in by_path.calls] == [c.verdict for c in loaded.calls]
    # without keys the tickets stay closed: rules that need them are not observed
    bare = mikeyshark.analyze(DEMO)
    assert {c.verdict for c in bare.calls} == {mikeyshark.Verdict.INCOMPLETE}
    tek = loaded.calls[0].media[0].key
    assert tek is not None and tek.tek is not None
    # the first call's MSRP TEK, given as --psk text: that m-line's TLS now verifies
    given = mikeyshark.analyze(DEMO, psk=[f"{tek.tek.hex()}:given"])
    m = given.calls[0].media[0]
    assert m.tls is not None and m.tls.key_verified is True


def test_the_command_line_writes_its_json_from_the_same_report(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert (
        main(["analyze", str(DEMO), "--keys", str(DEMO_KEYS), "--json", str(out), "--quiet"]) == 0
    )
    report = mikeyshark.analyze(DEMO, keys=DEMO_KEYS)
    assert json.loads(out.read_text()) == json.loads(json_report.dumps(report))


def test_bad_input_raises_what_the_docstring_names(tmp_path: Path) -> None:
    bad = tmp_path / "k.toml"
    bad.write_text('[[kms]]\nuri = "kms.example.org"\nmaster_key = "abc"\n')
    with pytest.raises(mikeyshark.KeyFileError) as e:
        mikeyshark.analyze(DEMO, keys=bad)
    assert e.value.line == 3
    with pytest.raises(ValueError, match="--psk: the key is empty"):
        mikeyshark.analyze(DEMO, psk=[":identity"])
    with pytest.raises(ValueError, match="no capture files"):
        mikeyshark.analyze(tmp_path)


def test_import_is_cheap() -> None:
    code = (
        "import sys, mikeyshark\n"
        "heavy = {'jinja2', 'rich', 'scapy', 'distributed', 'cryptography'} & set(sys.modules)\n"
        "print(sorted(heavy), mikeyshark.__version__)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["[]", mikeyshark.__version__]
