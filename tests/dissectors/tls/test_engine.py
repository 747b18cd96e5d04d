"""The sans-IO engine in both roles, in memory: every PSK suite and version, failure alerts,
and the passive decoder reading what the engine wrote (interop with OpenSSL is in
tests/interop/test_tls_live.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.decrypt import PskCandidate, TlsConnectionDecoder
from mikeyshark.dissectors.tls.constants import CIPHER_SUITES, TLS10, TLS11, TLS12, TLS13, Kx
from mikeyshark.dissectors.tls.engine import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    PskConfig,
    TlsError,
    TlsPskEngine,
)
from mikeyshark.dissectors.tls.records import parse_records
from mikeyshark.model import StreamChunk

PSK = bytes.fromhex("657bf44e8247bee72094eafe0283ab2f")
ID = b"mikey:12345678:01"


def _handshake(
    c: TlsPskEngine, s: TlsPskEngine, wire: list[tuple[bool, bytes]] | None = None
) -> None:
    c.start()
    s.start()
    for _ in range(5):
        out = c.data_to_send()
        if out:
            if wire is not None:
                wire.append((True, out))
            s.receive_data(out)
        out = s.data_to_send()
        if out:
            if wire is not None:
                wire.append((False, out))
            c.receive_data(out)


def _pair(cfg_c: PskConfig, cfg_s: PskConfig) -> tuple[TlsPskEngine, TlsPskEngine]:
    return TlsPskEngine(cfg_c, True), TlsPskEngine(cfg_s, False)


PSK_SUITES = sorted(c for c, s in CIPHER_SUITES.items() if s.kx is Kx.PSK)
CASES = [(code, TLS12) for code in PSK_SUITES] + [
    (code, v) for code in PSK_SUITES if not CIPHER_SUITES[code].aead for v in (TLS10, TLS11)
]


@pytest.mark.parametrize(("code", "version"), CASES)
def test_tls12_and_older_every_suite(code: int, version: int) -> None:
    cfg = PskConfig(PSK, ID, versions=(version,), cipher_suites=(code,), identity_hint=b"hint")
    c, s = _pair(cfg, cfg)
    wire: list[tuple[bool, bytes]] = []
    _handshake(c, s, wire)
    assert c.handshake_complete and s.handshake_complete
    assert (c.version, c.suite and c.suite.code) == (version, code)
    assert s.peer_identity == ID
    msg = b"MSRP a786hjs2 SEND\r\n" * 1000
    c.send_application_data(msg)
    data = c.data_to_send()
    wire.append((True, data))
    got = [e for e in s.receive_data(data) if isinstance(e, ApplicationData)]
    assert b"".join(e.data for e in got) == msg
    assert len(got) == 2  # 20000 bytes: two records of at most 2^14
    s.send_application_data(b"\x20\x0c\x00\x00")
    data = s.data_to_send()
    wire.append((False, data))
    assert c.receive_data(data) == [ApplicationData(b"\x20\x0c\x00\x00")]
    # The passive decoder reads the same bytes with the PSK alone.
    dec = TlsConnectionDecoder([PskCandidate(PSK, "tek")])
    off = {True: 0, False: 0}
    plain = {True: b"", False: b""}
    for n, (fc, b) in enumerate(wire, 1):
        for a in dec.feed(fc, StreamChunk(n, n, off[fc], b)):
            plain[a.from_client] += a.data
        off[fc] += len(b)
    info = dec.finish()
    assert info.oracle == "finished" and info.records_failed == []
    assert plain == {True: msg, False: b"\x20\x0c\x00\x00"}
    assert info.psk_identity_hint == b"hint"


@pytest.mark.parametrize("code", [0x1301, 0x1302, 0x1303, 0x1304, 0x1305])
@pytest.mark.parametrize("mode", [0, 1])
def test_tls13_modes(code: int, mode: int) -> None:
    h = CIPHER_SUITES[code].prf
    cfg = PskConfig(
        PSK, ID, versions=(TLS13,), cipher_suites=(code,), tls13_modes=(mode,), tls13_psk_hash=h
    )
    c, s = _pair(cfg, cfg)
    _handshake(c, s)
    assert c.handshake_complete and s.handshake_complete
    assert c.tls13_mode == mode == s.tls13_mode
    c.send_application_data(b"hello")
    assert s.receive_data(c.data_to_send()) == [ApplicationData(b"hello")]
    assert c.keylog_lines() == s.keylog_lines()
    assert len(c.keylog_lines()) == 5


def test_version_fallback_to_tls12() -> None:
    cc = PskConfig(PSK, ID, versions=(TLS13, TLS12), cipher_suites=(0x1301, 0x00A8))
    sc = PskConfig(PSK, ID, versions=(TLS12,), cipher_suites=(0x00A8,))
    c, s = _pair(cc, sc)
    _handshake(c, s)
    assert c.version == TLS12 and c.handshake_complete


def test_wrong_psk_tls12_fails_with_alert() -> None:
    c, s = _pair(PskConfig(PSK, ID), PskConfig(bytes(16), ID))
    c.start()
    s.start()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    with pytest.raises(TlsError) as e:
        s.receive_data(c.data_to_send())
    # The default suite is TLS_PSK_WITH_AES_128_GCM_SHA256: the client Finished's GCM tag fails
    # under the server's key, and RFC 5246 7.2.2 names that bad_record_mac (20).
    assert (s.suite and s.suite.code, e.value.description) == (0x00A8, 20)
    events = c.receive_data(s.data_to_send())
    assert isinstance(events[0], AlertReceived)
    assert (events[0].level, events[0].description) == (2, 20)
    assert isinstance(events[-1], ConnectionClosed)


def test_unknown_identity_alert() -> None:
    c, s = _pair(PskConfig(PSK, b"someone-else"), PskConfig(PSK, ID))
    c.start()
    s.start()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    with pytest.raises(TlsError) as e:
        s.receive_data(c.data_to_send())
    assert e.value.description == 115
    rec = parse_records(s.data_to_send())[-1]
    assert rec.content_type == 21


def test_tls13_bad_binder_rejected() -> None:
    cfg = PskConfig(PSK, ID, versions=(TLS13,), cipher_suites=(0x1301,))
    c, s = _pair(PskConfig(bytes(16), ID, versions=(TLS13,), cipher_suites=(0x1301,)), cfg)
    c.start()
    s.start()
    with pytest.raises(TlsError) as e:
        s.receive_data(c.data_to_send())
    assert e.value.description == 51


def test_max_fragment_splits_records() -> None:
    cfg = PskConfig(PSK, ID, cipher_suites=(0x00A8,), max_fragment=100)
    c, s = _pair(cfg, cfg)
    _handshake(c, s)
    c.send_application_data(bytes(1000))
    recs = parse_records(c.data_to_send())
    assert len(recs) == 10
    assert all(len(r.fragment) == 100 + 8 + 16 for r in recs)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=8),
    st.sampled_from([0x008C, 0x00A8, 0xCCAB, 0x00B0]),
)
def test_application_data_arrives_intact(chunks: list[bytes], code: int) -> None:
    cfg = PskConfig(PSK, ID, cipher_suites=(code,))
    c, s = _pair(cfg, cfg)
    _handshake(c, s)
    for ch in chunks:
        c.send_application_data(ch)
    wire = c.data_to_send()
    got = b""
    for i in range(0, len(wire), 777):  # arbitrary TCP segmentation
        got += b"".join(
            e.data for e in s.receive_data(wire[i : i + 777]) if isinstance(e, ApplicationData)
        )
    assert got == b"".join(chunks)
