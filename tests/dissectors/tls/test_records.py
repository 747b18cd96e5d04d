"""dissectors.tls framing, hellos and value tables: round trips, malformed input, cipher
suite parameters, a published TLS 1.2 PRF vector."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.dissectors.tls.constants import CIPHER_SUITES, Kx, Mode
from mikeyshark.dissectors.tls.records import (
    Alert,
    ClientHello,
    Extension,
    HandshakeBuffer,
    OfferedPsks,
    PskIdentity,
    PskKeyExchange,
    Record,
    ServerHello,
    fragment_handshake,
    handshake_message,
    parse_alert,
    parse_client_hello,
    parse_handshake,
    parse_offered_psks,
    parse_psk_key_exchange,
    parse_record,
    parse_records,
    parse_server_hello,
)


def _stream(vectors: Path, stem: str, key: str) -> bytes:
    return bytes.fromhex(json.loads((vectors / "tls_psk" / f"{stem}.json").read_text())[key])


@pytest.mark.parametrize(
    "stem", ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"]
)
def test_vector_streams_round_trip(vectors: Path, stem: str) -> None:
    for key in ("c2s_stream_hex", "s2c_stream_hex"):
        data = _stream(vectors, stem, key)
        records = parse_records(data)
        assert b"".join(r.build() for r in records) == data
    ch_msg = parse_records(_stream(vectors, stem, "c2s_stream_hex"))[0].fragment
    ch = parse_client_hello(parse_handshake(ch_msg).body)
    assert ch.build() == ch_msg
    assert parse_client_hello(ch.build_body()) == ch
    sh_msg = parse_records(_stream(vectors, stem, "s2c_stream_hex"))[0].fragment
    hs = parse_handshake(sh_msg[: 4 + int.from_bytes(sh_msg[1:4], "big")])
    sh = parse_server_hello(hs.body)
    assert sh.build() == hs.build()


def test_client_hello_fields_from_vector(vectors: Path) -> None:
    ch_msg = parse_records(_stream(vectors, "psk_aes128_gcm_sha256", "c2s_stream_hex"))[0].fragment
    ch = parse_client_hello(parse_handshake(ch_msg).body)
    assert ch.legacy_version == 0x0303
    assert ch.cipher_suites == (0x00A8, 0x00FF)
    assert ch.ext(23) == b"" and ch.ext(22) == b""


def test_handshake_messages_span_and_share_records() -> None:
    m1 = handshake_message(2, b"A" * 70)
    m2 = handshake_message(14, b"")
    recs = fragment_handshake(22, 0x0303, m1 + m2, 16)
    assert len(recs) == 5  # 78 bytes in 16-byte pieces
    hb = HandshakeBuffer()
    got: list[bytes] = []
    for r in recs:
        rec, end = parse_record(r) or (None, 0)
        assert rec is not None and end == len(r)
        got += hb.add(rec.fragment)
    assert got == [m1, m2]
    assert len(hb) == 0


def test_record_header_errors_are_located() -> None:
    with pytest.raises(DissectError) as e:
        parse_record(b"\x17\x04\x03\x00\x01x")
    assert e.value.field == "record.version" and e.value.offset == 1
    with pytest.raises(DissectError) as e:
        parse_record(b"\x17\x03\x03\x48\x01")
    assert e.value.field == "record.length"
    with pytest.raises(DissectError) as e:
        parse_record(b"\x63\x03\x03\x00\x01x")
    assert e.value.field == "record.content_type"
    assert parse_record(b"\x17\x03\x03\x00\x05abc") is None  # needs more bytes
    with pytest.raises(DissectError):
        parse_records(b"\x17\x03\x03\x00\x05abc")


def test_truncated_client_hello_names_the_field(vectors: Path) -> None:
    ch_msg = parse_records(_stream(vectors, "psk_aes128_gcm_sha256", "c2s_stream_hex"))[0].fragment
    body = parse_handshake(ch_msg).body
    with pytest.raises(DissectError) as e:
        parse_client_hello(body[:40])
    assert e.value.field is not None and e.value.field.startswith("client_hello.")
    with pytest.raises(DissectError) as e:
        parse_client_hello(body[:-3])
    assert e.value.layer == "tls"


def test_psk_key_exchange_and_alert() -> None:
    body = PskKeyExchange(b"mikey:12345678:01").build_body()
    assert body == b"\x00\x11mikey:12345678:01"
    assert parse_psk_key_exchange(body) == PskKeyExchange(b"mikey:12345678:01")
    with pytest.raises(DissectError):
        parse_psk_key_exchange(b"\x00\x20abc")
    assert parse_alert(b"\x02\x14") == Alert(2, 20)
    with pytest.raises(DissectError):
        parse_alert(b"\x02")


def test_offered_psks_round_trip() -> None:
    o = OfferedPsks((PskIdentity(b"id", 0),), (bytes(range(32)),))
    raw = o.build()
    assert raw[:2] == b"\x00\x08" and raw[2:4] == b"\x00\x02"
    assert parse_offered_psks(raw) == o
    with pytest.raises(DissectError):
        parse_offered_psks(raw[:-1])


_ext = st.builds(Extension, st.integers(0, 0xFFFF), st.binary(max_size=40))


@settings(max_examples=200)
@given(
    st.builds(
        ClientHello,
        st.integers(0, 0xFFFF),
        st.binary(min_size=32, max_size=32),
        st.binary(max_size=32),
        st.lists(st.integers(0, 0xFFFF), max_size=20).map(tuple),
        st.binary(min_size=1, max_size=3),
        st.one_of(st.none(), st.lists(_ext, max_size=6).map(tuple)),
    )
)
def test_client_hello_parse_build(ch: ClientHello) -> None:
    assert parse_client_hello(ch.build_body()) == ch


@settings(max_examples=200)
@given(
    st.builds(
        ServerHello,
        st.integers(0, 0xFFFF),
        st.binary(min_size=32, max_size=32),
        st.binary(max_size=32),
        st.integers(0, 0xFFFF),
        st.integers(0, 255),
        st.one_of(st.none(), st.lists(_ext, max_size=6).map(tuple)),
    )
)
def test_server_hello_parse_build(sh: ServerHello) -> None:
    assert parse_server_hello(sh.build_body()) == sh


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_garbage_never_crashes(data: bytes) -> None:
    for parse in (parse_client_hello, parse_server_hello, parse_offered_psks, parse_handshake):
        with contextlib.suppress(DissectError):
            parse(data)
    try:
        got = parse_record(data)
        if got is not None:
            rec, end = got
            assert Record(rec.content_type, rec.version, rec.fragment).build() == data[:end]
    except DissectError:
        pass


def test_suite_parameters() -> None:
    s = CIPHER_SUITES[0x00AF]
    assert (s.kx, s.mode, s.key_len, s.mac, s.mac_len, s.prf) == (
        Kx.PSK, Mode.CBC, 32, "SHA384", 48, "SHA384"
    )  # fmt: skip
    s = CIPHER_SUITES[0xC0A8]
    assert (s.mode, s.key_len, s.fixed_iv_len, s.tag_len, s.prf) == (Mode.CCM_8, 16, 4, 8, "SHA256")
    s = CIPHER_SUITES[0x002C]
    assert (s.mode, s.key_len, s.mac_len) == (Mode.NULL, 0, 20)
    assert CIPHER_SUITES[0xCCAB].fixed_iv_len == 12
    assert not CIPHER_SUITES[0xD001].psk_only and CIPHER_SUITES[0x00A8].psk_only


def test_tls12_prf_published_vector() -> None:
    # The TLS 1.2 PRF (SHA-256) vector circulated on the IETF TLS list (secret, "test label").
    got = ks.prf12(
        "SHA256",
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
    )
    assert got.hex() == (
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14"
        "baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e"
        "5a5110fff70187347b66"
    )


def test_psk_premaster_layout() -> None:
    psk = bytes(range(1, 17))
    assert ks.psk_premaster(psk) == b"\x00\x10" + bytes(16) + b"\x00\x10" + psk
    assert ks.psk_premaster(b"k" * 3, b"zz") == b"\x00\x02zz\x00\x03kkk"
