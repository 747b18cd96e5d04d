"""SIP over TLS between openssl s_client and s_server (self-signed certificate, ECDHE),
captured with tcpdump: decrypted with the key log `-keylogfile` wrote (given as
--sip-keylog, or inside the pcapng as a Decryption Secrets Block), the call is judged like
the plain-IP call; without the key log the report says its signalling was encrypted; a
rotation in the middle of the TLS handshake changes nothing."""

from __future__ import annotations

import dataclasses
import json
import struct
import time
from pathlib import Path

import jsonschema
import pytest

from mikeyshark.capture import MergedReader
from mikeyshark.cli import main
from mikeyshark.judge import build_report
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Frame
from mikeyshark.pipeline import analyze_capture
from mikeyshark.report import json_report
from mikeyshark.report.html import render_html
from mikeyshark.report.model import Report
from mikeyshark.synth import SynthResult, synthesize
from mikeyshark.synth.net import write_frames
from tests.support.analyze import analyze_frames, clean_ue_statuses, statuses
from tests.support.siptls_live import LiveSipTls, sip_over_tls
from tests.support.tls_live import free_port

pytestmark = pytest.mark.live


def _analyze(paths: str | list[str], keyfile: str, keylog: str = "") -> Report:
    keys = dataclasses.replace(KeyFile.parse(keyfile), tls_keylog=keylog)
    return build_report([analyze_capture(paths, keys)], keys, reveal=False)


@pytest.fixture(scope="module")
def call() -> SynthResult:
    # tickets valid now: the live capture's SIP carries them at the current time
    return synthesize("msrp-dial-in", seed=21, now_ns=time.time_ns())


@pytest.fixture(scope="module")
def plain(call: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """What the call must get, read over TLS or not: what a clean UE-side MSRP call gets."""
    want = {call.calls[0].call_id: clean_ue_statuses({"msrp"})}
    got = statuses(
        analyze_frames(call.frames, call.keyfile_text, tmp_path_factory.mktemp("p") / "plain.pcap")
    )
    assert got == want
    return want


@pytest.fixture(scope="module", params=["tls1.3", "tls1.2"])
def live(
    request: pytest.FixtureRequest,
    call: SynthResult,
    openssl: str,
    tcpdump: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> LiveSipTls:
    args = ["-tls1_3"] if request.param == "tls1.3" else ["-tls1_2"]
    return sip_over_tls(openssl, tcpdump, tmp_path_factory.mktemp("live"), call, 5061, args)


def test_decrypted_with_keylog_like_plain(
    live: LiveSipTls, call: SynthResult, plain: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    path = tmp_path / "siptls.pcap"
    write_frames(live.frames, path)
    rep = _analyze(str(path), call.keyfile_text, live.keylog)
    assert statuses(rep) == plain
    assert [(c.verdict, c.signalling) for c in rep.calls] == [("pass", "tls")]
    # the server's key log holds the same session
    rep = _analyze(str(path), call.keyfile_text, live.server_keylog)
    assert statuses(rep) == plain


def test_without_keylog_signalling_reported_encrypted(
    live: LiveSipTls, call: SynthResult, tmp_path: Path
) -> None:
    path = tmp_path / "siptls.pcap"
    write_frames(live.frames, path)
    rep = _analyze(str(path), call.keyfile_text)
    assert len(rep.calls) == 1
    c = rep.calls[0]
    assert c.signalling == "encrypted" and c.verdict.value == "incomplete"
    assert c.answerer is not None and c.answerer.port == 5061
    errs = [e for cap in rep.captures for e in cap.errors if e.layer == "sip-tls"]
    assert len(errs) == 1 and "encrypted" in errs[0].reason and "MIKEY" in errs[0].reason
    assert errs[0].frame == c.invite_frame
    assert "no TLS key log was given" in errs[0].reason
    assert "SIP signalling encrypted (TLS) and not read" in render_html(rep)


def _pcapng_with_secrets(frames: list[Frame], keylog: str, path: Path) -> None:
    """pcapng: SHB, IDB (Ethernet, ns), a Decryption Secrets Block (TLSK), the frames."""

    def block(t: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", t, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HHB3x", 9, 1, 9) + bytes(4))
    secret = keylog.encode()
    out += block(10, struct.pack("<II", 0x544C534B, len(secret)) + secret)
    for f in frames:
        body = struct.pack("<IIIII", 0, f.ts_ns >> 32, f.ts_ns & 0xFFFFFFFF, len(f.data), f.wirelen)
        out += block(6, body + f.data)
    path.write_bytes(out)


def test_secrets_block_in_the_capture(
    live: LiveSipTls, call: SynthResult, plain: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    path = tmp_path / "siptls.pcapng"
    _pcapng_with_secrets(live.frames, live.keylog, path)
    rep = _analyze(str(path), call.keyfile_text)
    assert statuses(rep) == plain
    assert [c.signalling for c in rep.calls] == ["tls"]


def _handshake_type(f: Frame) -> int | None:
    d = f.data
    if len(d) < 60 or d[23] != 6:
        return None
    tcp = 14 + (d[14] & 0x0F) * 4
    off = tcp + (d[tcp + 12] >> 4) * 4
    if (
        5061
        in (
            int.from_bytes(d[tcp : tcp + 2], "big"),
            int.from_bytes(d[tcp + 2 : tcp + 4], "big"),
        )
        and len(d) > off + 5
        and d[off] == 0x16
    ):
        return d[off + 5]
    return None


def test_rotated_mid_handshake(
    live: LiveSipTls, call: SynthResult, plain: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    sh = next(i for i, f in enumerate(live.frames) if _handshake_type(f) == 2)
    files = []
    for n, part in enumerate((live.frames[:sh], live.frames[sh:]), 1):
        p = tmp_path / f"probe_{n:05d}_20261126120{n}00.pcap"
        write_frames(part, p)
        files.append(str(p))
    assert [f.number for f in MergedReader(files)] == list(range(1, len(live.frames) + 1))
    rep = _analyze(files, call.keyfile_text, live.keylog)
    assert statuses(rep) == plain


def test_other_port_with_keylog(
    call: SynthResult,
    plain: dict[str, dict[str, str]],
    openssl: str,
    tcpdump: str,
    tmp_path: Path,
) -> None:
    live = sip_over_tls(openssl, tcpdump, tmp_path, call, free_port(), ["-tls1_3"])
    path = tmp_path / "other.pcap"
    write_frames(live.frames, path)
    rep = _analyze(str(path), call.keyfile_text, live.keylog)
    assert statuses(rep) == plain


def test_cli_sip_keylog_json_and_terminal(
    live: LiveSipTls, call: SynthResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "siptls.pcap"
    write_frames(live.frames, path)
    keys = tmp_path / "keys.toml"
    keys.write_text(call.keyfile_text)
    kl = tmp_path / "sip.keylog"
    kl.write_text(live.keylog)
    schema = json_report.schema()
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "analyze",
                str(path),
                "--keys",
                str(keys),
                "--sip-keylog",
                str(kl),
                "--json",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, schema)
    assert [(c["signalling"], c["verdict"]) for c in doc["calls"]] == [("tls", "pass")]
    capsys.readouterr()
    assert main(["analyze", str(path), "--keys", str(keys), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, schema)
    assert [(c["signalling"], c["verdict"]) for c in doc["calls"]] == [("encrypted", "incomplete")]
    assert "ENCRYPTED" in capsys.readouterr().out
    assert main(["analyze", str(path), "--sip-keylog", str(tmp_path / "missing"), "--quiet"]) == 2
