"""Erlang/OTP megaco as a second, independent H.248 decoder and encoder.

megaco decodes each message with its pretty and compact text decoders (both must accept and
agree) and prints a summary (tests/support/megaco_summary.escript); our parse must print the
same. The other way round, megaco re-encodes what it decoded (pretty, compact, BER) and our
parsers must read that back to the same summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mikeyshark.dissectors.h248 import binary, text
from mikeyshark.synth import synthesize, write_capture
from tests.support.h248_capture import HEPLIFY, udp_payloads
from tests.support.h248_erlang import erlang_encode, erlang_summaries, summary
from tests.support.h248_mp import messages

pytestmark = [pytest.mark.erlang, pytest.mark.timeout(300)]

# Frame 33 of the public capture modifies a termination with "SG{}" (no signals). RFC 3525's
# own call flow writes "Signals { }" and tshark reads it; megaco's parser wants a signal
# inside the braces. That is the one message megaco rejects.
MEGACO_REJECTS = {33}


@pytest.fixture(scope="module")
def heplify() -> list[tuple[int, bytes]]:
    return udp_payloads(HEPLIFY)


def test_public_capture_summaries(heplify: list[tuple[int, bytes]]) -> None:
    theirs = erlang_summaries([p for _, p in heplify])
    rejected = {n for (n, _), t in zip(heplify, theirs, strict=True) if t.startswith("error")}
    assert rejected == MEGACO_REJECTS
    assert "syntax error before" in theirs[32] and "'RBRKT'" in theirs[32]
    for (n, p), t in zip(heplify, theirs, strict=True):
        if n not in MEGACO_REJECTS:
            assert summary(text.parse_message(p)) == t, n


def test_megaco_accepts_every_profile_message() -> None:
    built = {k: text.build_message(m) for k, m in messages().items()}
    theirs = erlang_summaries(list(built.values()))
    for (name, data), t in zip(built.items(), theirs, strict=True):
        assert not t.startswith("error"), (name, t)
        assert summary(text.parse_message(data)) == t, name
    # the profile's items as megaco read them (names and values lower-cased by megaco)
    dial_in = theirs[0]
    assert "mkstls/psk=8f0e6c1f9b3a2d4e5f60718293a4b5c6" in dial_in
    assert "mkstls/role=client" in dial_in and "E1:mkstls/tcpfail,mkstls/tlsfail" in dial_in


@pytest.mark.parametrize("fmt", ["pretty", "compact"])
def test_megaco_encodings_read_back(fmt: str, heplify: list[tuple[int, bytes]]) -> None:
    sources = [p for n, p in heplify if n not in MEGACO_REJECTS]
    sources += [text.build_message(m) for m in messages().values()]
    encoded = erlang_encode(fmt, sources)
    theirs = erlang_summaries(sources)
    for src, enc, t in zip(sources, encoded, theirs, strict=True):
        assert isinstance(enc, bytes), enc
        m = text.parse_message(enc)
        assert m.problems == (), enc[:80]
        assert summary(m) == t == summary(text.parse_message(src))


def _bits(hex_id: str) -> str:
    """A binary termination id as megaco writes it in text: 8-bit levels as bit strings."""
    if "[" in hex_id:
        return "*" if "[*" in hex_id else "$"
    if hex_id == "ff" * 8:
        return "root"  # megaco writes ROOT as eight all-ones octets
    return "/".join(f"{b:08b}" for b in bytes.fromhex(hex_id))


def test_megaco_ber_reads_back() -> None:
    vectors = json.loads((HEPLIFY.parent / "ber_erlang.json").read_text())
    sources = [v["text"].encode() for v in vectors]
    encoded = erlang_encode("ber", sources)
    # the checked-in vectors are what this megaco writes
    assert [e.hex() if isinstance(e, bytes) else e for e in encoded] == [v["ber"] for v in vectors]
    theirs = erlang_summaries(sources)
    for enc, t in zip(encoded, theirs, strict=True):
        assert isinstance(enc, bytes)
        ours = summary(binary.parse_binary(enc))
        ours = re.sub(
            r"(\+ \w+=)(\S+)",
            lambda m: m.group(1) + "&".join(_bits(x) for x in m.group(2).split("&")),
            ours,
        )
        # binary messages are read to command level: compare without descriptor details
        assert ours == re.sub(r"\{[^{}]*\}", "", t)


@pytest.mark.parametrize(
    "scenario", ["msrp-dial-in", "msrp-dial-out", "bfcp-dial-in", "bfcp-dial-out", "conference"]
)
def test_megaco_decodes_every_synthesized_mp_message(scenario: str, tmp_path: Path) -> None:
    """The Mp leg of a capture synthesized at the MRF, message by message: megaco accepts
    each and reads what our parser reads; the configuring commands carry the call's TEK as
    the PSK, its identity and the MRFP's TLS role (from the synthesizer's own facts)."""
    result = synthesize(scenario, seed=7, capture_point="mrf")
    pcap = tmp_path / "mrf.pcap"
    write_capture(result, pcap)
    sent = [p for _, p in udp_payloads(pcap)]
    theirs = erlang_summaries(sent)
    for data, t in zip(sent, theirs, strict=True):
        assert not t.startswith("error"), t
        assert summary(text.parse_message(data)) == t
    configuring = [t for t in theirs if "mkstls/psk=" in t]
    assert len(configuring) == sum(len(c.media) for c in result.calls)
    for call in result.calls:
        role = "client" if call.scenario.endswith("dial-in") else "server"
        for m in call.media:
            (line,) = [t for t in configuring if f"mkstls/psk={m.tek.hex()}" in t]
            assert f"mkstls/pskid={m.psk_identity}" in line
            assert f"mkstls/role={role}" in line
            assert ":mkstls/tcpfail,mkstls/tlsfail" in line


@pytest.mark.parametrize(
    ("scenario", "fault", "expected"),
    [
        # the MRFP's Notify of the failed handshake, its cause the alert it got
        # (bad_record_mac, 20: RFC 5246 7.2), and the MRFC's Reply
        (
            "msrp-dial-out",
            "mp-wrong-psk",
            [
                r"\| req \d+ / C=\d+ \+ Notify=\S+\{OE\d+:mkstls/tlsfail\(cause=20\)\}$",
                r"\| rep \d+ / C=\d+ \+ Notify=\S+$",
            ],
        ),
        # the MRFP's Error 510 to the first Add (then the Add is sent again)
        ("bfcp-dial-in", "mp-error-reply", [r"\| rep \d+ error 510$"]),
    ],
)
def test_megaco_decodes_the_messages_only_faults_make(
    scenario: str, fault: str, expected: list[str], tmp_path: Path
) -> None:
    result = synthesize(scenario, seed=7, capture_point="mrf", faults=[fault])
    pcap = tmp_path / "mrf.pcap"
    write_capture(result, pcap)
    sent = [p for _, p in udp_payloads(pcap)]
    theirs = erlang_summaries(sent)
    for data, t in zip(sent, theirs, strict=True):
        assert not t.startswith("error"), t
        assert summary(text.parse_message(data)) == t
    for pattern in expected:
        assert [t for t in theirs if re.search(pattern, t)], (pattern, theirs)
