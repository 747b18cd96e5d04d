"""The HTML report: rendered from a synthesized conference, opened in headless Chromium.

Chromium is the judge of what the page is: its serialized DOM (``--dump-dom``) shows one
ladder per call, the rule table and the chat transcript, and hostile text from the wire
(SIP header values, MSRP bodies with ``<script>``) arrives as text, never as elements.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import mikeyshark.synth.media as synth_media
from mikeyshark.checks.rules import RULES
from mikeyshark.model import Frame
from mikeyshark.report.html import render_html
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_frames, analyze_synth
from tests.support.html import XSS_CALL_ID, XSS_REASON, XSS_WORD, parse_html

pytestmark = pytest.mark.chromium


def _chromium(chromium: str, profile: Path, *args: str) -> str:
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, timeout=120, check=True)
    return done.stdout.decode("utf-8", "replace")


def _hostile_sip(frames: tuple[Frame, ...]) -> list[Frame]:
    """Rewrite every SIP datagram: a Call-ID of ``<script>`` (RFC 3261 allows < > / in a
    Call-ID word) and a 100 Trying whose reason phrase is an ``<img onerror>``."""
    out = []
    for fr in frames:
        pkt = Ether(fr.data)
        if UDP in pkt and Raw in pkt and 5060 in (pkt[UDP].sport, pkt[UDP].dport):
            load = bytes(pkt[Raw].load)
            load = re.sub(
                rb"(?m)^(Call-ID|i): *[^\r\n]*", b"Call-ID: " + XSS_CALL_ID.encode(), load
            )
            load = load.replace(b"SIP/2.0 100 Trying", b"SIP/2.0 100 " + XSS_REASON.encode())
            pkt[Raw].load = load
            del pkt[IP].len, pkt[IP].chksum, pkt[UDP].len, pkt[UDP].chksum
            fr = dataclasses.replace(fr, data=bytes(pkt), wirelen=len(bytes(pkt)))
        out.append(fr)
    return out


def test_hostile_sip_and_msrp_stay_text_in_chromium(
    chromium: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The synthesizer draws chat words from this list: every long MSRP message carries a script.
    monkeypatch.setattr(synth_media, "_WORDS", [XSS_WORD])
    result = synthesize("msrp-dial-in", seed=2)
    report = analyze_frames(_hostile_sip(result.frames), result.keyfile_text, tmp_path / "x.pcap")
    assert [c.call_id for c in report.calls] == [XSS_CALL_ID]
    page = tmp_path / "hostile.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    p = parse_html(dom)
    assert p.count("script") == 0
    assert p.count("img") == 0
    text = "".join(p.text)
    assert XSS_CALL_ID in text
    assert XSS_REASON in text
    assert XSS_WORD in text
    assert p.count("div", "transcript") == 1


def test_demo_report_in_chromium(chromium: str, tmp_path: Path) -> None:
    result = synthesize("conference", seed=1)
    report = analyze_synth(result, tmp_path / "conference.pcap")
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    p = parse_html(dom)
    n_calls = len(result.calls)
    assert n_calls == 3
    assert p.count("div", "ladder") == n_calls
    assert p.count("section", "call") == n_calls
    assert p.count("table", "rules") == n_calls
    assert p.count("tr", "rule") == n_calls * len(RULES)
    assert p.count("div", "transcript") == n_calls
    assert p.count("svg", "floor") == n_calls
    # every arrow of every ladder links to a frame row of the same call
    anchors = {a.get("id") for t, a in p.tags if t == "div" and a.get("id")}
    links = {
        href[1:]
        for t, a in p.tags
        if t == "a" and (href := a.get("href")) and re.fullmatch(r"#c\d+-f\d+", href)
    }
    assert links and links <= anchors
    n_media = sum(len(c.media) for c in report.calls)
    assert n_media == 6
    assert p.count("details", "mikey") == 2 * n_media  # TRANSFER_INIT and TRANSFER_RESP
    assert p.count("details", "ticket") == n_media
    assert p.count("table", "keys") == 1
    text = " ".join(p.text)
    assert "Multimedia Internet KEYing: TRANSFER_INIT" in text
    assert "Multimedia Internet KEYing: TRANSFER_RESP" in text
    assert "TEK (recovered)" in text
    assert "Hello from sip:alice@example.org" in text
    assert "FloorRequestStatus Granted" in text  # the floor timeline, from BFCP inside TLS
    shot = tmp_path / "report.png"
    _chromium(
        chromium,
        tmp_path / "profile",
        "--window-size=1400,2000",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
