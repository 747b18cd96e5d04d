"""``mikeyshark dissect`` on TLS, MSRP and BFCP: keys and their errors, JSON layers, bounds,
damaged input (the comparisons with tshark are in tests/interop/test_dissect_tls_tshark.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.utils import rdpcap, wrpcap

from mikeyshark.cli import main
from mikeyshark.view import stream
from tests.support.dissect import Result, our_tree
from tests.support.paths import DEMO_KEYS, ROOT
from tests.support.vectors import PSK, tls_psk_frames

# --------------------------------------------------------------------------------------------
# tls_psk vectors


def test_wrong_key_keeps_application_data(dissect: Callable[..., Result], vectors: Path) -> None:
    pcap = vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
    plain = dissect(str(pcap), "--json").columns()
    r = dissect(str(pcap), "--psk", "00" * 16, "--json")
    assert r.returncode == 0
    assert r.columns() == plain
    assert plain[7] == ("TLSv1.2", "Application Data")
    (err,) = r.stderr.splitlines()
    assert err.startswith(f"mikeyshark: {pcap}, frame 4: tls: ")
    assert "192.0.2.1:50000 -> 192.0.2.2:5061: the key could not be confirmed" in err
    assert "1 candidate keys tried" in err


def test_json_carries_tls_and_msrp_layers(dissect: Callable[..., Result], vectors: Path) -> None:
    pcap = vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
    r = dissect(str(pcap), "--json", "-V", "--psk", PSK)
    rows = r.rows()
    send = rows[7]
    assert send["protocol"] == "MSRP" and send["number"] == 8
    layers = send["layers"]
    assert isinstance(layers, list)
    labels = [layer["label"] for layer in layers]
    assert labels[-2:] == ["Transport Layer Security", "Message Session Relay Protocol"]
    hello = rows[3]
    assert hello["protocol"] == "TLSv1" and hello["info"] == "Client Hello"


# --------------------------------------------------------------------------------------------
# synthesized calls: keys from the MIKEY exchange in the SDP


def test_dial_in_decrypts_when_the_offer_comes_after_the_handshake(
    dissect: Callable[..., Result], tmp_path: Path
) -> None:
    """Keys that arrive after the TLS handshake (the INVITE moved behind it): the held
    connection is decoded again with the new candidates."""
    pkts = list(rdpcap(str(ROOT / "pcaps" / "msrp-dial-in.pcap")))
    late = [*pkts[1:10], pkts[0], *pkts[10:]]
    pcap = tmp_path / "late-offer.pcap"
    wrpcap(str(pcap), late)
    normal = dissect(str(ROOT / "pcaps" / "msrp-dial-in.pcap"), "--keys", str(DEMO_KEYS), "--json")
    r = dissect(str(pcap), "--keys", str(DEMO_KEYS), "--json")
    assert r.returncode == 0
    moved = r.columns()
    assert moved[9] == normal.columns()[0]
    assert moved[10:] == normal.columns()[10:]
    assert sum(p == "MSRP" for p, _ in moved) == 14
    # The old frame 8 is frame 7 now.
    assert moved[6] == ("TLSv1.2", "Client Key Exchange, Change Cipher Spec, Finished")


@pytest.mark.parametrize(
    ("limit", "value", "why"),
    [("MAX_HELD_CONN", 200, "more than "), ("MAX_PENDING_FRAMES", 5, "5 frames waited")],
)
def test_holding_is_bounded(
    dissect: Callable[..., Result],
    vectors: Path,
    monkeypatch: pytest.MonkeyPatch,
    limit: str,
    value: int,
    why: str,
) -> None:
    """A connection whose key is never confirmed is kept only up to the budgets (its bytes,
    the frames waiting behind it); then it is shown undecrypted and a warning says later
    keys will not be tried on it."""
    monkeypatch.setattr(stream, limit, value)
    monkeypatch.setattr(stream, "CHECK_EVERY", 1)
    pcap = vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
    r = dissect(str(pcap), "--psk", "11" * 16, "--json")
    assert r.returncode == 0
    assert r.columns()[7] == ("TLSv1.2", "Application Data")
    (warning,) = [e for e in r.stderr.splitlines() if "later keys are not tried" in e]
    assert f"{pcap}, frame 4: tls: 192.0.2.1:50000 -> 192.0.2.2:5061: {why}" in warning


# --------------------------------------------------------------------------------------------
# MIKEY: the opened ticket under a=key-mgmt


def test_bad_key_arguments(dissect: Callable[..., Result], tmp_path: Path, vectors: Path) -> None:
    pcap = str(vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap")
    r = dissect(pcap, "--psk", "zz")
    assert r.returncode == 2 and "--psk" in r.stderr
    r = dissect(pcap, "--keys", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "cannot read key file" in r.stderr


# --------------------------------------------------------------------------------------------
# damaged input


_GCM = tls_psk_frames("psk_aes128_gcm_sha256")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    frame=st.integers(min_value=3, max_value=10),
    spot=st.integers(min_value=54, max_value=400),
    value=st.integers(min_value=0, max_value=255),
    cut=st.booleans(),
)
def test_damaged_tls_never_crashes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    frame: int,
    spot: int,
    value: int,
    cut: bool,
) -> None:
    """A byte of a TLS frame's payload changed (or the frame cut there): every frame is
    still shown and what went wrong is reported as a located problem."""
    from scapy.layers.l2 import Ether

    frames = list(_GCM)
    raw = bytearray(frames[frame])
    if spot >= len(raw):
        spot = len(raw) - 1
    if cut:
        del raw[spot:]
    else:
        raw[spot] = value
    frames[frame] = bytes(raw)
    pcap = tmp_path / "damaged.pcap"
    wrpcap(str(pcap), [Ether(f) for f in frames])
    rc = main(["dissect", str(pcap), "--psk", PSK, "-V", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert [r["number"] for r in rows] == list(range(1, 15))
    for line in err.splitlines():
        assert line.startswith(f"mikeyshark: {pcap}, frame ")


def test_wrong_kms_key_says_where(dissect: Callable[..., Result], tmp_path: Path) -> None:
    """A key file whose KMS key is wrong: the ticket is not opened (said at the offer), the
    TLS connection stays encrypted (said at its first frame) and every row is still there."""
    text = DEMO_KEYS.read_text()
    good = re.search(r'master_key = "([0-9a-f]+)"', text)
    assert good is not None
    bad = tmp_path / "bad-keys.toml"
    bad.write_text(text.replace(good.group(1), "00" * 32))
    pcap = ROOT / "pcaps" / "msrp-dial-in.pcap"
    r = dissect(str(pcap), "--keys", str(bad), "--json")
    assert r.returncode == 0
    cols = r.columns()
    assert len(cols) == 44
    assert cols[12] == ("TLSv1.2", "Application Data")
    assert cols[7] == (
        "TLSv1.2",
        "Client Key Exchange, Change Cipher Spec, Encrypted Handshake Message",
    )
    mikey, tls = r.stderr.splitlines()
    assert mikey.startswith(f"mikeyshark: {pcap}, frame 1: mikey: ticket not opened: ")
    assert tls == (
        f"mikeyshark: {pcap}, frame 6: tls: 203.0.113.30:60728 -> 198.51.100.11:47530: the key "
        "could not be confirmed (no candidate key: no MIKEY ticket opened, no [[tek]] or --psk)"
    )
    tree = dissect(str(pcap), "--keys", str(bad), "-V").stdout
    assert "[Ticket not opened: " in tree


def test_tek_from_the_key_file(
    dissect: Callable[..., Result], tmp_path: Path, vectors: Path
) -> None:
    """A ``[[tek]]`` entry is tried on every TLS connection like ``--psk``."""
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[tek]]\nkey = "{PSK}"\nidentity = "synthetic-psk-identity"\n')
    pcap = vectors / "tls_psk" / "psk_aes128_cbc_sha.pcap"
    r = dissect(str(pcap), "--keys", str(keys), "--json")
    assert r.columns() == dissect(str(pcap), "--psk", PSK, "--json").columns()
    assert r.columns()[7] == ("MSRP", "Request: SEND Transaction ID: a786hjs2 (text/plain)")
    detail = dissect(str(pcap), "--keys", str(keys), "-V").stdout
    fp = hashlib.sha256(bytes.fromhex(PSK)).hexdigest()[:8]
    assert f"[PSK sha256:{fp} (synthetic-psk-identity), confirmed by: finished]" in detail
    assert PSK not in detail
    shown = dissect(str(pcap), "--keys", str(keys), "-V", "--reveal-keys").stdout
    assert f"[PSK {PSK} (synthetic-psk-identity), confirmed by: finished]" in shown


def test_problems_also_in_the_frames_json(dissect: Callable[..., Result], vectors: Path) -> None:
    pcap = vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
    r = dissect(str(pcap), "--psk", "00" * 16, "--json")
    problems = r.rows()[3]["problems"]
    assert isinstance(problems, list)
    (p,) = problems
    assert p["frame"] == 4 and p["layer"] == "tls" and p["file"] == str(pcap)
    assert "the key could not be confirmed" in p["reason"]


def test_answer_mikey_exchange_under_key_mgmt(
    dissect: Callable[..., Result], tmp_path: Path
) -> None:
    """The answer's TRANSFER_RESP: its V payload checked with the ticket's key (RFC 6043
    5.1.2); one changed bit of its MAC and the check says False."""
    from scapy.layers.inet import IP, UDP
    from scapy.packet import Raw

    pcap = ROOT / "pcaps" / "msrp-dial-in.pcap"
    answer = our_tree(dissect(str(pcap), "-V", "--keys", str(DEMO_KEYS)).stdout, 11)
    at = answer.index("                    [Exchange with the TRANSFER_INIT of frame 1]")
    assert answer[at + 1 : at + 3] == [
        "                        [CSB ID matches the TRANSFER_INIT: True]",
        "                        [Verification (V) with the ticket's key: True]",
    ]
    pkts = rdpcap(str(pcap))
    sip = bytes(pkts[10][Raw].load)
    km = re.search(rb"a=key-mgmt:mikey (\S+)\r\n", sip)
    assert km is not None
    data = bytearray(base64.b64decode(km.group(1)))
    data[-1] ^= 1  # the last byte of the V payload's MAC
    forged = base64.b64encode(bytes(data))
    assert len(forged) == len(km.group(1))
    pkts[10][Raw].load = sip.replace(km.group(1), forged)
    del pkts[10][IP].chksum, pkts[10][UDP].chksum
    bad = tmp_path / "forged-answer.pcap"
    wrpcap(str(bad), pkts)
    tree = our_tree(dissect(str(bad), "-V", "--keys", str(DEMO_KEYS)).stdout, 11)
    assert "                        [Verification (V) with the ticket's key: False]" in tree


def test_keys_of_the_m_line_are_tried_first(
    dissect: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a capture of several calls each TLS connection is offered first the TEK
    candidates of the m-line whose SDP names its server: with room for one m-line's four
    candidates only, every connection still decrypts."""
    pcap = str(ROOT / "pcaps" / "conference.pcap")
    full = dissect(pcap, "--keys", str(DEMO_KEYS), "--json").columns()
    monkeypatch.setattr(stream, "MAX_CANDIDATES", 4)
    r = dissect(pcap, "--keys", str(DEMO_KEYS), "--json")
    assert r.stderr == ""
    assert r.columns() == full
    assert sum(p in ("MSRP", "BFCP") for p, _ in full) == 60
    monkeypatch.setattr(stream, "MAX_CANDIDATES", 0)
    none = dissect(pcap, "--keys", str(DEMO_KEYS), "--json")
    assert not any(p in ("MSRP", "BFCP") for p, _ in none.columns())
