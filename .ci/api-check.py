"""The Python API as a script would use it, run by .ci/wheel-check against the installed wheel.

Usage: api-check.py CAPTURE KEYFILE  (the demo conference and its key file)
"""

import sys

import mikeyshark


def main(capture: str, keyfile: str) -> None:
    keys = mikeyshark.KeyFile.load(keyfile)
    report = mikeyshark.analyze(capture, keys=keys)
    # the demo conference: two UEs dial in, one is dialed out, every call compliant
    assert len(report.calls) == 3, [c.call_id for c in report.calls]
    for call in report.calls:
        assert call.verdict == "pass", (call.call_id, call.verdict, call.failing)
        assert call.checks and all(c.rule and c.status for c in call.checks)
        assert {m.protocol for m in call.media} == {"msrp", "bfcp"}, call.scenario
    # the same analysis with the key file named by its path
    again = mikeyshark.analyze(capture, keys=keyfile)
    assert [c.verdict for c in again.calls] == [c.verdict for c in report.calls]
    print(f"api check: ok ({len(report.calls)} calls pass)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
