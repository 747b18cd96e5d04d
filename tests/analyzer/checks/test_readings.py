"""The readings of CONFORMANCE.md (where a rule's wording leaves room), each on a capture that
shows it: what the rule must say, stated from the reading itself."""

from __future__ import annotations

import dataclasses
import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

from mikeyshark.cli import main
from mikeyshark.evidence import BoundBy, Status
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize, write_capture
from tests.support.analyze import analyze_frames, analyze_synth
from tests.support.hostile import clear_after_close_call


def _statuses(report_call: object) -> dict[str, Status]:
    return {c.rule: c.status for c in report_call.checks}  # type: ignore[attr-defined]


def _tcp_payload(data: bytes) -> bytes:
    ihl = (data[14] & 0x0F) * 4
    if data[12:14] != b"\x08\x00" or data[23] != 6:
        return b""
    tcp = 14 + ihl
    return data[tcp + (data[tcp + 12] >> 4) * 4 :]


def test_media_in_the_clear_after_close_notify_fails_media_encrypted(tmp_path: Path) -> None:
    """MEDIA-ENCRYPTED: any MSRP or BFCP byte outside TLS records fails it, including
    plaintext sent after close_notify (here BFCP Goodbye and GoodbyeAck, RFC 8855)."""
    result = clear_after_close_call()
    clear = [
        f.number
        for f in result.frames
        # BFCP version 2 (0x40, the R bit for the ack: 0x50) then Goodbye (17) / GoodbyeAck (18)
        if _tcp_payload(f.data)[:2] in (b"\x40\x11", b"\x50\x12")
    ]
    assert len(clear) == 2
    report = analyze_synth(result, tmp_path / "bye.pcap")
    (call,) = report.calls
    (check,) = [c for c in call.checks if c.rule == "MEDIA-ENCRYPTED"]
    assert (check.status, check.frames) == (Status.FAIL, tuple(clear))
    assert check.message == "BFCP in the clear on the m-line's TCP connection"
    # the TLS session itself was whole and decrypted: only the clear bytes fail
    assert _statuses(call)["TLS-KEY"] is Status.PASS


def test_tls10_is_a_warning_and_the_call_passes(tmp_path: Path) -> None:
    """TLS-VERSION on TLS 1.0/1.1: status warning, never failing the verdict."""
    result = synthesize("msrp-dial-in", faults=["tls10"], seed=5)
    pcap, keys = tmp_path / "tls10.pcap", tmp_path / "tls10.toml"
    write_capture(result, pcap)
    keys.write_text(result.keyfile_text)
    out = {k: tmp_path / f"r.{k}" for k in ("json", "xml")}
    rc = main(
        [
            "analyze",
            str(pcap),
            "--keys",
            str(keys),
            "--quiet",
            "--json",
            str(out["json"]),
            "--junit",
            str(out["xml"]),
        ]
    )
    assert rc == 0
    (call,) = json.loads(out["json"].read_text())["calls"]
    (check,) = [c for c in call["checks"] if c["rule"] == "TLS-VERSION"]
    assert (call["verdict"], check["status"], check["message"]) == (
        "pass",
        "warning",
        "TLS 1.0 negotiated; TLS 1.2 or later expected",
    )
    case = ET.fromstring(out["xml"].read_text()).find(".//testcase[@name='TLS-VERSION']")
    assert case is not None and case.find("failure") is None


def _with_suite(frames: tuple[Frame, ...], suite: int) -> list[Frame]:
    """The ServerHello's cipher suite replaced (the handshake is not redone)."""
    out = list(frames)
    for i, f in enumerate(out):
        p = _tcp_payload(f.data)
        if p[:1] == b"\x16" and p[1:2] == b"\x03" and p[5:6] == b"\x02":
            at = len(f.data) - len(p) + 5 + 4 + 2 + 32 + 1 + p[5 + 4 + 2 + 32]
            data = f.data[:at] + struct.pack(">H", suite) + f.data[at + 2 :]
            out[i] = dataclasses.replace(f, data=data)
            return out
    raise AssertionError("no ServerHello")


def test_tls_psk_suite_readings(tmp_path: Path) -> None:
    """PSK, DHE_PSK and ECDHE_PSK suites without a certificate pass; RSA_PSK and certificate
    suites fail; with a certificate suite TLS-KEY is not-applicable (no PSK to check)."""
    result = synthesize("msrp-dial-in", seed=5)
    got = {}
    for name, code in (
        ("DHE_PSK", 0x00AA),  # TLS_DHE_PSK_WITH_AES_128_GCM_SHA256 (RFC 5487)
        ("ECDHE_PSK", 0xC037),  # TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256 (RFC 5489)
        ("RSA_PSK", 0x00AC),  # TLS_RSA_PSK_WITH_AES_128_GCM_SHA256 (RFC 5487)
        ("RSA", 0x009C),  # TLS_RSA_WITH_AES_128_GCM_SHA256 (RFC 5288)
    ):
        report = analyze_frames(
            _with_suite(result.frames, code), result.keyfile_text, tmp_path / f"{name}.pcap"
        )
        st = _statuses(report.calls[0])
        got[name] = (st["TLS-PSK-SUITE"], st["TLS-KEY"] is Status.NOT_APPLICABLE)
    assert got == {
        "DHE_PSK": (Status.PASS, False),
        "ECDHE_PSK": (Status.PASS, False),
        "RSA_PSK": (Status.FAIL, False),
        "RSA": (Status.FAIL, True),
    }


def test_ipv6_sdp_addresses_are_compared_and_shown_in_rfc5952_form(tmp_path: Path) -> None:
    """JSON "ip:port" for IPv6 is [address]:port in RFC 5952 form: an SDP that writes the
    UE's address in capitals (RFC 4566 allows any IPv6 text form) names the same address as
    the packets (RFC 5952 4.3: lower case), so TCP-DIRECTION passes and says it that way."""
    result = synthesize("msrp-dial-in", seed=2, ipv6=True)
    wire, upper = b"2001:db8:0:100::11", b"2001:DB8:0:100::11"  # the UE, as synth places it
    frames = [
        dataclasses.replace(
            f,
            data=f.data.replace(b"c=IN IP6 " + wire, b"c=IN IP6 " + upper).replace(
                b"://[" + wire + b"]", b"://[" + upper + b"]"
            ),
        )
        for f in result.frames
    ]
    assert sum(upper in f.data for f in frames) == 1  # the INVITE
    report = analyze_frames(frames, result.keyfile_text, tmp_path / "v6.pcap")
    (call,) = report.calls
    (check,) = [c for c in call.checks if c.rule == "TCP-DIRECTION"]
    assert check.status is Status.PASS, check.message
    assert check.message.endswith("towards [2001:db8:0:100::11]:42979 (c=/m= of the offerer (UE))")
    (media,) = call.media
    assert media.offer is not None and media.offer.address == "2001:db8:0:100::11"
    # bound by the c=/m= it names, not only later by the key
    assert media.tcp is not None and media.tcp.bound_by is BoundBy.SDP


def test_ipv6_sdp_addresses_in_capitals_bind_the_mp_termination(tmp_path: Path) -> None:
    """Beside the MRF: the Remote the MRFC hands over carries the UE's SDP as the UE wrote
    it; in capitals it names the same address (RFC 5952 4.3), so MP-REMOTE passes."""
    result = synthesize("msrp-dial-in", seed=2, ipv6=True, capture_point="mrf")
    wire, upper = b"2001:db8:0:100::11", b"2001:DB8:0:100::11"  # the UE, as synth places it
    frames = [dataclasses.replace(f, data=f.data.replace(wire, upper)) for f in result.frames]
    report = analyze_frames(frames, result.keyfile_text, tmp_path / "v6mrf.pcap")
    (call,) = report.calls
    st = _statuses(call)
    assert (st["MP-REMOTE"], st["MP-PSK"], call.verdict) == (Status.PASS, Status.PASS, "pass")
    (media,) = call.media
    assert media.tcp is not None and media.tcp.bound_by is BoundBy.SDP
