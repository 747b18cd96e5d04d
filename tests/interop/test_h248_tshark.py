"""tshark 4.0 as the independent reader of H.248: the public capture frame by frame, every
Mp profile-1 message we build over UDP, TCP/TPKT and SCTP (no malformed packet, no expert
warning, the SDP of every Local/Remote seen), Erlang's BER vectors, and the error names."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from mikeyshark.dissectors.h248 import binary, names, text, tree
from mikeyshark.dissectors.h248.model import MegacoMessage, TransactionResponseAck
from mikeyshark.synth import synthesize, write_capture
from tests.support.h248_capture import HEPLIFY, udp_payloads
from tests.support.h248_mp import messages
from tests.support.h248_pcap import write_sctp, write_tcp, write_udp

pytestmark = pytest.mark.tshark

_FLAGGED = "_ws.malformed || _ws.expert.severity >= warning"


def fields(tshark: str, pcap: Path, *names_: str, extra: tuple[str, ...] = ()) -> list[list[str]]:
    out = subprocess.run(
        [tshark, "-r", str(pcap), *extra, "-T", "fields", "-E", "occurrence=a"]
        + [a for n in names_ for a in ("-e", n)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [line.split("\t") for line in out.splitlines()]


def flagged(
    tshark: str, pcap: Path, extra: tuple[str, ...] = (), only: str | None = None
) -> list[str]:
    """Frames tshark marks malformed or with an expert info of warning or worse (of those
    the display filter ``only`` shows)."""
    shown = f"({only}) && ({_FLAGGED})" if only else _FLAGGED
    out = subprocess.run(
        [tshark, "-r", str(pcap), *extra, "-Y", shown],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return out.splitlines()


def _commands(m: MegacoMessage) -> str:
    return ",".join(c.name for _, _, c in m.commands())


def test_public_capture_frame_by_frame(tshark: str) -> None:
    ours = {n: text.parse_message(p) for n, p in udp_payloads(HEPLIFY)}
    rows = fields(
        tshark, HEPLIFY, "frame.number", "megaco.transid", "megaco.command", "_ws.col.Info"
    )
    assert len(rows) == len(ours) == 130
    for number, transid, command, info in rows:
        m = ours[int(number)]
        assert transid == ",".join(str(t.id) for t in m.transactions), number  # type: ignore[union-attr]
        assert command == _commands(m), number
        # tshark adds "(Mode:SR)"-style notes of its own after a command
        assert (
            re.sub(r" \((?:Mode|Signal):[^)]*\)", "", info).rstrip() == tree.column_info(m).rstrip()
        ), number
    assert flagged(tshark, HEPLIFY) == []


@pytest.fixture(scope="module")
def profile_messages() -> list[tuple[str, MegacoMessage, bytes]]:
    return [(k, m, text.build_message(m)) for k, m in messages().items()]


@pytest.mark.parametrize("transport", ["udp", "tcp", "sctp"])
def test_profile_messages_read_cleanly(
    tshark: str,
    tmp_path: Path,
    transport: str,
    profile_messages: list[tuple[str, MegacoMessage, bytes]],
) -> None:
    pcap = tmp_path / f"mp-{transport}.pcap"
    payloads = [b for _, _, b in profile_messages]
    extra: tuple[str, ...] = ()
    if transport == "udp":
        write_udp(pcap, payloads)
    elif transport == "tcp":
        write_tcp(pcap, payloads)
    else:
        write_sctp(pcap, payloads)
        extra = ("-o", "sctp.checksum:crc-32c")
    assert flagged(tshark, pcap, extra) == []
    rows = [
        r
        for r in fields(
            tshark,
            pcap,
            "megaco.transid",
            "megaco.command",
            "sdp.media",
            "sctp.checksum.status",
            "_ws.col.Info",
            extra=extra,
        )
        if r[0]
    ]
    assert len(rows) == len(profile_messages)
    for (name, m, _), (transid, command, media, checksum, info) in zip(
        profile_messages, rows, strict=True
    ):
        assert transid == str(m.transactions[0].id), name  # type: ignore[union-attr]
        assert command == _commands(m), name
        # every Local and Remote is handed to tshark's SDP dissector: one m= line each here
        sessions = [
            sd.media[0].lines[0].value
            for _, _, c in m.commands()
            for s in (c.media.streams if c.media else ())
            for d in (s.local, s.remote)
            if d is not None
            for sd in d.sessions
        ]
        assert media == ",".join(sessions), name
        assert re.sub(r" \(Mode:[^)]*\)", "", info).rstrip() == tree.column_info(m).rstrip()
        if transport == "sctp":
            assert checksum == "1", name  # tshark's "Good"


def test_erlang_ber_vectors(tshark: str, tmp_path: Path) -> None:
    vectors = json.loads((HEPLIFY.parent / "ber_erlang.json").read_text())
    ber = [bytes.fromhex(v["ber"]) for v in vectors]
    pcap = tmp_path / "ber.pcap"
    write_udp(pcap, ber, port=binary.PORT)
    rows = fields(
        tshark, pcap, "frame.number", "h248.contextId", "h248.terminationId", "_ws.col.Info"
    )
    for data, (number, ctxs, terms, info) in zip(ber, rows, strict=True):
        m = binary.parse_binary(data)
        # tshark's h248 Info column starts "T <transaction id in hex> {" (not for an ack)
        t = m.transactions[0]
        if info.strip():
            assert not isinstance(t, TransactionResponseAck)
            assert info.split()[:2] == ["T", f"{t.id:x}"], number
        contexts = [a.context_number for t in m.transactions for a in getattr(t, "actions", ())]
        assert [int(x, 16) for x in ctxs.split(",") if x] == contexts, number
        ids = [tid.split("[")[0] for _, _, c in m.commands() for tid in c.termination_ids]
        theirs = [x for x in terms.split(",") if x]
        if number == "9":
            # tshark reads a version 1 AuditValue reply as RFC 3015's SEQUENCE (Erlang writes
            # the later CHOICE) and loses that reply's termination id
            assert ids == ["ff0000", *theirs]
        else:
            assert ids == theirs, number
    flags = fields(tshark, pcap, "frame.number", "_ws.expert.message", extra=("-Y", _FLAGGED))
    assert [(n, msg.split(":")[0]) for n, msg in flags] == [
        ("4", "Errored Command"),  # what tshark always says of an error reply
        # Erlang's version 1 ServiceChange reason and AuditValue reply against tshark's
        # reading of version 1: a disagreement between those two, not with this codec
        ("6", "BER Error"),
        ("9", "BER Error"),
    ]


def test_error_code_names_are_wiresharks(tshark: str) -> None:
    out = subprocess.run(
        [tshark, "-G", "values"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    theirs = {
        int(parts[2]): parts[3]
        for parts in (line.split("\t") for line in out.splitlines())
        if len(parts) >= 4 and parts[0] == "V" and parts[1] == "h248.errorCode"
    }
    for c in names.ERROR_CODES:
        assert theirs[c.value] == c.name


_FLOWS = ("msrp-dial-in", "msrp-dial-out", "bfcp-dial-in", "bfcp-dial-out")
_MRF_CASES = [
    *((s, t, None) for s in _FLOWS for t in ("udp", "tcp")),
    ("conference", "tcp", None),
    # the MRFP's tlsfail Notify and the MRFC's Reply to it
    ("msrp-dial-out", "udp", "mp-wrong-psk"),
    # an Error reply (no command in it) and the Add sent again
    ("bfcp-dial-in", "tcp", "mp-error-reply"),
]


@pytest.mark.parametrize(("scenario", "transport", "fault"), _MRF_CASES)
def test_synthesized_mp_leg_reads_cleanly(
    tshark: str, tmp_path: Path, scenario: str, transport: str, fault: str | None
) -> None:
    """Every Mp frame of a capture synthesized at the MRF (the four flows over UDP and over
    TCP with TPKT, and the messages only faults make): no malformed packet or expert
    warning, and every Local and Remote handed to tshark's SDP dissector (as many SDP media
    lines as the frame's text holds ``m=`` lines)."""
    result = synthesize(
        scenario,
        seed=7,
        capture_point="mrf",
        mp_transport=transport,
        faults=[fault] if fault else [],
    )
    pcap = tmp_path / f"{scenario}-{transport}.pcap"
    write_capture(result, pcap)
    # (the KMS leg's HTTP bodies are MIKEY-TICKET messages tshark's MIKEY dissector does not
    # know: only the Mp frames are judged here)
    assert flagged(tshark, pcap, only="megaco") == []
    rows = fields(tshark, pcap, "frame.number", "megaco.command", "sdp.media", "tcp.payload",
                  "udp.payload", extra=("-Y", "megaco"))  # fmt: skip
    assert len(rows) >= 6
    sdp_lines, seen = 0, set()
    for number, command, media, tcp_hex, udp_hex in rows:
        raw = bytes.fromhex(tcp_hex or udp_hex)
        if transport == "tcp":
            assert raw[:2] == b"\x03\x00", number  # TPKT version 3
        errored = re.search(rb"\r\n\s*Error = 510", raw) is not None
        assert bool(command) != errored, number
        seen.update(command.split(",") if command else ["Error"])
        want = len(re.findall(rb"\r\nm=", raw))
        assert len([x for x in media.split(",") if x]) == want, number
        sdp_lines += want
    calls = len(result.calls)
    # dial-in: Add (Local, Remote) + Reply (Local); dial-out: reserve Add + Reply, Modify
    # (Local, Remote): at least three SDP blocks per m-line of every call
    assert sdp_lines >= 3 * sum(len(c.media) for c in result.calls) >= 3 * calls
    assert {"Add", "Subtract"} <= seen
    assert ("Modify" in seen) == scenario.endswith("dial-out") or scenario == "conference"
    if fault == "mp-wrong-psk":
        assert "Notify" in seen
    if fault == "mp-error-reply":
        assert "Error" in seen
