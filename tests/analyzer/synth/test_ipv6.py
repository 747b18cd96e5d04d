"""`mikeyshark synth --ipv6`: the same calls over IPv6 (2001:db8::/32), with IPv6 hosts in
brackets wherever a URI or a Via carries them (RFC 3261 25.1, RFC 4975 9) and `IN IP6` in SDP
(RFC 8866 5.7); the analyzer judges them exactly like the IPv4 calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from mikeyshark.checks.rules import RULES_BY_ID
from mikeyshark.dissectors import msrp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.synth import SCENARIOS, synthesize
from tests.support.analyze import analyze_synth, statuses

SEED = 4


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_ipv6_judged_like_ipv4(scenario: str, tmp_path: Path) -> None:
    v4 = statuses(analyze_synth(synthesize(scenario, seed=SEED), tmp_path / "v4.pcap"))
    v6 = statuses(analyze_synth(synthesize(scenario, seed=SEED, ipv6=True), tmp_path / "v6.pcap"))
    # Call-IDs name the caller's host, so compare the calls in order.
    assert list(v6.values()) == list(v4.values())
    protocols = {"msrp", "bfcp"} if scenario == "conference" else {scenario.split("-")[0]}
    for checks in v6.values():
        # (the Mp rules wait for a capture at the MRF)
        judged = {v for k, v in checks.items() if RULES_BY_ID[k].leg is None}
        assert judged <= {"pass", "not-applicable"}
        # The decrypted media matched the bracketed a=path URIs / the BFCP ids of the SDP.
        assert {r: checks[r] for r in ("MSRP-PATHS", "BFCP-IDS")} == {
            "MSRP-PATHS": "pass" if "msrp" in protocols else "not-applicable",
            "BFCP-IDS": "pass" if "bfcp" in protocols else "not-applicable",
        }


@pytest.mark.parametrize("host", ["[2001:db8::1]", "[2001:db8:0:100::11]", "[::ffff:192.0.2.1]"])
def test_msrp_uri_ipv6_round_trip(host: str) -> None:
    text = f"msrps://{host}:1234/s3ss10n;tcp"
    u = msrp.MsrpUri.parse(text)
    assert (u.host, u.port, u.session_id, u.transport) == (host, 1234, "s3ss10n", "tcp")
    assert str(u) == text and msrp.MsrpUri.parse(str(u)) == u
    s = msrp.MsrpUri.parse(text)
    assert (s.host, s.port, s.session_id) == (host, 1234, "s3ss10n")
    assert str(s) == text and msrp.MsrpUri.parse(str(s)) == s
    # Without brackets the port cannot be told from the address: not an MSRP URI.
    with pytest.raises(DissectError):
        msrp.MsrpUri.parse(f"msrps://{host[1:-1]}:1234/s3ss10n;tcp")
