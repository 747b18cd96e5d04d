"""When the reader hands an ended call on: 64*T1 (32 s) of capture time after its dialogs
were seen ended, or after an hour without a SIP message, however few SIP messages follow.

The look for due calls is skipped while no SIP message arrived since the last one and no
deadline it found has passed; these captures end with non-SIP datagrams only, so a call is
handed on in time only if a SIP message (the BYE) makes the next look happen, and a
deadline passing without any makes a later one happen.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Frame
from mikeyshark.pipeline import Finalized, analyze_capture
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames

S = 1_000_000_000


def _filler(number: int, ts_ns: int) -> Frame:
    """A datagram between two other hosts, on no port of ours."""
    data = bytes(
        Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")
        / IP(src="198.51.100.1", dst="198.51.100.2")
        / UDP(sport=40000, dport=40002)
        / Raw(b"\x80" + bytes(40))
    )
    return Frame(number, ts_ns, 1, data, len(data))


def _handed_on(frames: list[Frame], path: Path, keys: KeyFile) -> list[tuple[int, str]]:
    """For each call handed on: the index of the frame being handled then (the frames
    before it were), and its Call-ID."""
    write_frames(frames, path)
    read = [0]
    log: list[tuple[int, str]] = []

    def progress(n: int, _read: int, _size: int) -> None:
        read[0] = n

    def sink(done: list[Finalized]) -> list[Finalized]:
        log.extend((read[0], f.record.call_id) for f in done)
        return done

    analyze_capture(str(path), keys, progress=progress, progress_every=1, sink=sink)
    return log


def test_an_ended_call_is_handed_on_32_s_later_without_more_sip(tmp_path: Path) -> None:
    call = synthesize("msrp-dial-in", seed=1)
    frames = list(call.frames)
    bye_ok = frames[-1]  # the 200 OK of the BYE ends the call (it is the last SIP message)
    assert b"CSeq: 2 BYE" in bye_ok.data and b"SIP/2.0 200" in bye_ok.data
    # a datagram every 4 s for 60 s after it
    frames += [_filler(len(frames) + k, bye_ok.ts_ns + 4 * k * S) for k in range(1, 16)]
    [(read, call_id)] = _handed_on(
        frames, tmp_path / "ended.pcap", KeyFile.parse(call.keyfile_text)
    )
    assert f"Call-ID: {call_id}\r\n".encode() in bye_ok.data
    # seen ended at most a second (the look's period) after the 200 OK, then 32 s: handed on
    # at the first datagram from 32 s after the 200 OK up to 4 s (the datagrams' spacing) + 1 s
    # after that; not at the end of the capture
    at = frames[read].ts_ns - bye_ok.ts_ns
    assert 32 * S <= at <= 37 * S, at / S
    assert read < len(frames) - 1


def test_a_silent_call_is_handed_on_after_an_hour_without_more_sip(tmp_path: Path) -> None:
    call = synthesize("msrp-dial-in", seed=1)
    # the call without its BYE: never ended
    frames = [f for f in call.frames if b"CSeq: 2 BYE" not in f.data]
    last = frames[-1]
    last_sip = max(f.ts_ns for f in frames if b"SIP/2.0" in f.data)
    # a datagram every 10 minutes for two hours after its last frame
    frames += [_filler(len(frames) + k, last.ts_ns + 600 * k * S) for k in range(1, 13)]
    path = tmp_path / "silent.pcap"
    [(read, _)] = _handed_on(frames, path, KeyFile.parse(call.keyfile_text))
    # the first datagram an hour or more after the call's last SIP message
    first_due = next(k for k, f in enumerate(frames) if f.ts_ns - last_sip >= 3600 * S)
    assert read == first_due
    result = analyze_capture(str(path), KeyFile.parse(call.keyfile_text))
    [rec] = result.calls
    assert [p.reason for p in rec.problems if "judged before it ended" in p.reason] == [
        f"call {rec.call_id} judged before it ended (no SIP message for 3600 s); what follows "
        "of it is not part of this entry"
    ]
