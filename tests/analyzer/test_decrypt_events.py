"""TlsConnectionDecoder's record events on the tls_psk vectors (OpenSSL and tlslite-ng
sessions): every record as split from the stream, every protected record once opened, and
keys given after the records they open (kept within ``retain``). Expected values are the
vectors' own: the raw streams and the plaintext of each record the peers wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import (
    PskCandidate,
    RecordEvent,
    RecordOpened,
    RecordRead,
    TlsConnectionDecoder,
)
from mikeyshark.flows import FlowTable, NullHandler, TcpConnection
from mikeyshark.model import StreamChunk

STEMS = ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"]
TEK = PskCandidate(bytes.fromhex("657bf44e8247bee72094eafe0283ab2f"), "tek")
WRONG = PskCandidate(bytes(16), "zeros")


class _Feed(NullHandler):
    """Runs the capture's one TCP connection through a decoder, recording its events."""

    def __init__(self, dec: TlsConnectionDecoder) -> None:
        self.dec = dec

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        self.dec.feed(from_client, chunk)


def _run(vectors: Path, stem: str, **kw: Any) -> tuple[TlsConnectionDecoder, list[RecordEvent]]:
    events: list[RecordEvent] = []
    dec = TlsConnectionDecoder(kw.pop("candidates", []), on_record=events.append, **kw)
    table = FlowTable(_Feed(dec))
    for frame in CaptureReader(vectors / "tls_psk" / f"{stem}.pcap"):
        table.feed(frame)
    return dec, events


def _vector(vectors: Path, stem: str) -> dict[str, Any]:
    return dict(json.loads((vectors / "tls_psk" / f"{stem}.json").read_text()))


def _records(stream: bytes) -> list[tuple[int, int, int]]:
    """(offset, content type, fragment length) of each record, read from the 5-byte headers."""
    out, pos = [], 0
    while pos < len(stream):
        n = int.from_bytes(stream[pos + 3 : pos + 5], "big")
        out.append((pos, stream[pos], n))
        pos += 5 + n
    return out


def _messages(plain: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of the handshake messages in a plaintext (1-byte type, 3-byte length)."""
    out, pos = [], 0
    while pos < len(plain):
        n = int.from_bytes(plain[pos + 1 : pos + 4], "big")
        out.append((plain[pos], plain[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return out


@pytest.mark.parametrize("stem", STEMS)
def test_every_record_is_read_at_its_stream_offset(vectors: Path, stem: str) -> None:
    v = _vector(vectors, stem)
    _, events = _run(vectors, stem)
    for from_client, key in ((True, "c2s_stream_hex"), (False, "s2c_stream_hex")):
        read = [e for e in events if isinstance(e, RecordRead) and e.from_client == from_client]
        got = [(e.offset, e.content_type, len(e.fragment)) for e in read]
        assert got == _records(bytes.fromhex(v[key]))
    # without a key nothing is opened
    assert not [e for e in events if isinstance(e, RecordOpened)]


@pytest.mark.parametrize("stem", STEMS)
def test_a_key_given_late_opens_the_records_kept(vectors: Path, stem: str) -> None:
    """The key comes after the whole connection (a MIKEY exchange later in the capture): the
    protected records kept for it decrypt to what the peers wrote."""
    v = _vector(vectors, stem)
    dec, events = _run(vectors, stem, candidates=[WRONG], retain=1 << 20)
    before = dec.info.psk
    assert before is None and dec.retaining
    dec.add_candidates([TEK])
    assert dec.info.psk == TEK.key and dec.info.decryptable
    assert dec.info.oracle == ("binder" if stem.startswith("tls13") else "finished")
    assert dec.retained_bytes == 0 and dec.oldest_frame() is None
    opened = [e for e in events if isinstance(e, RecordOpened)]
    for from_client, key in ((True, "decrypted_c2s"), (False, "decrypted_s2c")):
        mine = [e.content for e in opened if e.from_client == from_client]
        for ct, hexdata in v[key]:
            plain = bytes.fromhex(hexdata)
            if ct == 21:
                want_alert = (plain[0], plain[1])
                assert want_alert in [c.alert for c in mine if c.content_type == 21]
            elif ct == 22:
                assert _messages(plain) in [list(c.messages) for c in mine if c.content_type == 22]
            else:
                assert len(plain) in [c.length for c in mine if c.content_type == 23]
    assert dec.info.records_failed == []


def test_application_data_given_late_equals_the_peers(vectors: Path) -> None:
    stem = "psk_aes128_gcm_sha256"
    v = _vector(vectors, stem)
    data: dict[bool, bytes] = {True: b"", False: b""}
    dec = TlsConnectionDecoder(
        [],
        on_data=lambda a: data.__setitem__(a.from_client, data[a.from_client] + a.data),
        retain=1 << 20,
    )
    table = FlowTable(_Feed(dec))
    for frame in CaptureReader(vectors / "tls_psk" / f"{stem}.pcap"):
        table.feed(frame)
    assert data == {True: b"", False: b""}
    dec.add_candidates([TEK])
    for from_client, key in ((True, "decrypted_c2s"), (False, "decrypted_s2c")):
        want = b"".join(bytes.fromhex(h) for ct, h in v[key] if ct == 23)
        assert data[from_client] == want


def test_without_retain_a_late_key_opens_nothing(vectors: Path) -> None:
    v = _vector(vectors, "psk_aes128_gcm_sha256")
    dec, events = _run(vectors, "psk_aes128_gcm_sha256", candidates=[WRONG])
    assert not dec.retaining
    dec.add_candidates([TEK])
    assert not [e for e in events if isinstance(e, RecordOpened)]
    # every protected record of the vector (Finished, data, alert each way) stays closed
    assert dec.info.records_undecrypted == len(v["decrypted_c2s"]) + len(v["decrypted_s2c"])


def test_retaining_stops_at_its_budget(vectors: Path) -> None:
    """With room for fewer bytes than the protected records hold, the decoder stops keeping
    them (and says so); a key found later then opens nothing of the past."""
    dec, events = _run(vectors, "psk_aes128_gcm_sha256", candidates=[WRONG], retain=100)
    assert not dec.retaining and dec.retain == 0 and dec.retained_bytes == 0
    dec.add_candidates([TEK])
    assert not [e for e in events if isinstance(e, RecordOpened)]
