"""The KMS leg (docs/profile.md): RESOLVE_INIT / RESOLVE_RESP over HTTP between the MRFC and
the KMS, captured in the core, is dissected, bound to the call by its ticket and judged by
KMS-RESOLVE. The leg is built here with the MIKEY codec's profile builders and the
synthesizer's TCP model, then merged into a synthesized dial-in call."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from mikeyshark.dissectors.mikey import build_resolve_init, build_resolve_resp
from mikeyshark.dissectors.mikey.message import parse
from mikeyshark.dissectors.mikey.payloads import Ticket
from mikeyshark.keyfile import KeyFile
from mikeyshark.keys import resolve_exchange
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import Cursor, Network, TcpConnection
from tests.support.analyze import analyze_frames

CONF = b"sip:conf1@conf.example.org"
KMS = b"kms.example.org"


def _http(start: str, body: bytes) -> bytes:
    head = f"{start}\r\nHost: kms.example.org\r\nContent-Type: application/mikey\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _with_kms_leg(responder: bytes = CONF, wrong_mpk: bool = False) -> tuple[list[Frame], str, str]:
    result = synthesize("msrp-dial-in", seed=12)
    keys = KeyFile.parse(result.keyfile_text)
    facts = result.calls[0].media[0]
    init = parse(facts.mikey_init)
    ticket = init.find(Ticket)
    assert ticket is not None
    opened = resolve_exchange(facts.mikey_init, None, keys)
    assert opened.ticket is not None
    psk = next(p.key for p in keys.psk if p.identity == responder.decode())
    t_ntp = 0xE9C3B2A1_00000000
    resolve_init = build_resolve_init(
        csb_id=init.hdr.csb_id,
        t_ntp=t_ntp,
        rand=bytes(range(16)),
        responder=responder,
        kms_uri=KMS,
        ticket=ticket,
        psk=psk,
        cs_map=init.hdr.cs_map,  # type: ignore[arg-type]
    )
    mpk = bytes(len(opened.ticket.mpk)) if wrong_mpk else opened.ticket.mpk
    resolve_resp = build_resolve_resp(
        resolve_init=resolve_init,
        t_ntp=t_ntp + 1,
        kms_uri=KMS,
        psk=psk,
        mpk=mpk,
        tgks=list(opened.ticket.tgks),
    )
    invite_ts = result.frames[0].ts_ns
    net = Network(random.Random(5))
    mrfc, kms = net.host("MRFC", "192.0.2.20"), net.host("KMS", "192.0.2.40")
    conn = TcpConnection(net, Cursor(net.rng, invite_ts + 5_000_000), mrfc, 40001, kms, 80)
    conn.connect()
    conn.send(True, _http("POST /resolve HTTP/1.1", resolve_init), peer_answers=True)
    conn.send(False, _http("HTTP/1.1 200 OK", resolve_resp))
    frames = sorted([*result.frames, *net.frames()], key=lambda f: f.ts_ns)
    frames = [dataclasses.replace(f, number=n) for n, f in enumerate(frames, 1)]
    return frames, result.keyfile_text, responder.decode()


def test_kms_leg_is_bound_and_passes(tmp_path: Path) -> None:
    frames, keytext, _ = _with_kms_leg()
    report = analyze_frames(frames, keytext, tmp_path / "kms.pcap")
    (call,) = report.calls
    got = {c.rule: c for c in call.checks}
    assert got["KMS-RESOLVE"].status.value == "pass"
    assert "resolved by sip:conf1@conf.example.org" in got["KMS-RESOLVE"].message
    kms_leg = call.media[0].kms
    assert kms_leg is not None and kms_leg.keys_match is True
    assert call.verdict.value == "pass"
    http = [e for e in call.events if e.kind == "http"]
    assert [e.label for e in http] == ["POST RESOLVE_INIT", "200 RESOLVE_RESP"]
    assert http[0].step == "3"  # dial-in step 3: the MRFC resolves the ticket
    assert call.roles[http[0].dst].value == "KMS"


@pytest.mark.parametrize(
    ("responder", "wrong_mpk", "words"),
    [
        (b"sip:dave@example.org", False, "names sip:conf1@conf.example.org as responder"),
        (CONF, True, "keys differ"),
    ],
)
def test_kms_leg_that_disagrees_fails(
    responder: bytes, wrong_mpk: bool, words: str, tmp_path: Path
) -> None:
    frames, keytext, _ = _with_kms_leg(responder, wrong_mpk)
    report = analyze_frames(frames, keytext, tmp_path / "kms.pcap")
    (call,) = report.calls
    failed = {c.rule: c for c in call.checks if c.status.value == "fail"}
    assert set(failed) == {"KMS-RESOLVE"}
    assert words in failed["KMS-RESOLVE"].message
