"""mikeyshark.decrypt on the tls_psk vectors and on damaged copies of them: wrong key, no key,
candidate order, truncated record, bit flip, lost bytes, a record split across many TCP
segments (through the real capture and flow layers), roles reversed, plaintext MSRP/BFCP
where TLS was expected."""

from __future__ import annotations

import dataclasses
import itertools
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.decrypt import AppData, PskCandidate, TlsConnectionDecoder, decrypt_capture
from mikeyshark.dissectors.tls.engine import PskConfig, TlsPskEngine
from mikeyshark.dissectors.tls.records import (
    build_record,
    parse_client_hello,
    parse_handshake,
    parse_record,
    parse_server_hello,
)
from mikeyshark.model import StreamChunk
from tests.support.paths import VECTORS

STEMS = ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"]
TEK = PskCandidate(bytes.fromhex("657bf44e8247bee72094eafe0283ab2f"), "tek")
WRONG = PskCandidate(bytes.fromhex("00112233445566778899aabbccddeeff"), "other")


def _vec(vectors: Path, stem: str) -> dict[str, Any]:
    return dict(json.loads((vectors / "tls_psk" / f"{stem}.json").read_text()))


def _records(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        got = parse_record(data, pos)
        assert got is not None
        out.append(data[pos : got[1]])
        pos = got[1]
    return out


def _flights(v: dict[str, Any]) -> list[tuple[bool, bytes]]:
    """The two streams cut into flights in the order the peers sent them."""
    c = _records(bytes.fromhex(v["c2s_stream_hex"]))
    s = _records(bytes.fromhex(v["s2c_stream_hex"]))
    tls13 = v.get("early_secret") is not None
    if tls13:  # CH | SH .. server Finished | CCS, client Finished, app | app ...
        n_s_hs = 4  # SH, CCS, EE+Finished... cut where the first app data record starts
        return [
            (True, c[0]),
            (False, b"".join(s[:n_s_hs])),
            (True, b"".join(c[1:])),
            (False, b"".join(s[n_s_hs:])),
        ]
    ccs_c = next(i for i, r in enumerate(c) if r[0] == 20)
    ccs_s = next(i for i, r in enumerate(s) if r[0] == 20)
    shd = next(i for i, r in enumerate(s) if b"\x0e\x00\x00\x00" in r[5:])  # ServerHelloDone
    return [
        (True, c[0]),
        (False, b"".join(s[: shd + 1])),
        (True, b"".join(c[1 : ccs_c + 3])),  # CKE, CCS, Finished, application data
        (False, b"".join(s[shd + 1 : ccs_s + 3])),
        (True, b"".join(c[ccs_c + 3 :])),
        (False, b"".join(s[ccs_s + 3 :])),
    ]


def _expected(v: dict[str, Any], from_client: bool) -> bytes:
    key = "decrypted_c2s" if from_client else "decrypted_s2c"
    return b"".join(bytes.fromhex(x) for t, x in v[key] if t == 23)


def _run(
    flights: list[tuple[bool, bytes]],
    candidates: list[PskCandidate],
    seg: int = 1 << 20,
    swap: bool = False,
) -> tuple[TlsConnectionDecoder, list[AppData]]:
    dec = TlsConnectionDecoder(candidates)
    off = {True: 0, False: 0}
    out: list[AppData] = []
    frame = 0
    for fc, data in flights:
        for i in range(0, len(data), seg):
            frame += 1
            piece = data[i : i + seg]
            out += dec.feed(fc ^ swap, StreamChunk(frame, frame * 1000, off[fc], piece))
            off[fc] += len(piece)
    dec.finish()
    return dec, out


def _plain(out: list[AppData], from_client: bool) -> bytes:
    return b"".join(a.data for a in out if a.from_client == from_client)


@pytest.mark.parametrize("stem", STEMS)
def test_vectors_decrypt_with_the_right_candidate_second(vectors: Path, stem: str) -> None:
    v = _vec(vectors, stem)
    dec, out = _run(_flights(v), [WRONG, TEK])
    info = dec.info
    assert info.psk_label == "tek"
    assert info.oracle == ("binder" if stem.startswith("tls13") else "finished")
    assert info.psk_identity == b"synthetic-psk-identity"
    assert info.client_hello_from_client is True
    assert info.records_failed == [] and info.problems == []
    assert _plain(out, True) == _expected(v, True)
    assert _plain(out, False) == _expected(v, False)
    offsets = [a.stream_offset for a in out if a.from_client]
    assert offsets == [0]


@pytest.mark.parametrize("stem", STEMS)
def test_wrong_key_reports_but_keeps_handshake_facts(vectors: Path, stem: str) -> None:
    v = _vec(vectors, stem)
    dec, out = _run(_flights(v), [WRONG])
    info = dec.info
    assert out == []
    assert info.psk is None and info.oracle is None
    assert info.decryptable is False
    assert info.undecryptable_reason == "no candidate key matched"
    # every protected record of both streams (after ChangeCipherSpec, or typed
    # application_data in TLS 1.3), counted from the 5-byte record headers
    protected = 0
    for side in ("c2s_stream_hex", "s2c_stream_hex"):
        data, pos, after_ccs = bytes.fromhex(v[side]), 0, False
        while pos < len(data):
            protected += after_ccs or data[pos] == 23
            after_ccs = after_ccs or data[pos] == 20
            pos += 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
    assert protected == (7 if stem.startswith("tls13") else 6)
    assert info.records_undecrypted == protected
    assert info.version == (0x0304 if stem.startswith("tls13") else 0x0303)
    assert info.cipher_suite == int(v.get("suite", "0x1301"), 16)
    assert info.psk_identity == b"synthetic-psk-identity"
    if stem.startswith("tls13"):
        assert info.binder_ok is False


def test_no_key_at_all(vectors: Path) -> None:
    v = _vec(vectors, "psk_aes128_cbc_sha")
    dec, out = _run(_flights(v), [])
    assert out == []
    assert dec.info.undecryptable_reason == "no key"
    assert (dec.info.suite_name, dec.info.ems, dec.info.etm) == (
        "TLS_PSK_WITH_AES_128_CBC_SHA",
        True,
        True,
    )


@pytest.mark.parametrize("stem", STEMS)
def test_record_split_into_single_bytes(vectors: Path, stem: str) -> None:
    v = _vec(vectors, stem)
    dec, out = _run(_flights(v), [TEK], seg=1)
    assert _plain(out, True) == _expected(v, True)
    assert _plain(out, False) == _expected(v, False)
    # each record is reported at the frame that carried its last byte
    c_app = next(a for a in out if a.from_client)
    assert c_app.frame > 1 and dec.info.records_failed == []


@pytest.mark.parametrize("stem", STEMS)
def test_pieces_ending_inside_records(vectors: Path, stem: str) -> None:
    # a piece ends in the middle of every other record: the records a piece holds whole are
    # read where they lie, the part of one kept until the next piece completes it
    v = _vec(vectors, stem)
    dec = TlsConnectionDecoder([TEK])
    out: list[AppData] = []
    off = {True: 0, False: 0}
    frame = 0
    frame_of_end: dict[tuple[bool, int], int] = {}  # (direction, record end): its last frame
    for fc, data in _flights(v):
        ends, pos = [], 0
        for r in _records(data):
            pos += len(r)
            ends.append(pos)
        cuts = sorted({0, len(data)} | {e - 3 for i, e in enumerate(ends) if i % 2})
        for a, b in itertools.pairwise(cuts):
            frame += 1
            out += dec.feed(fc, StreamChunk(frame, frame, off[fc] + a, data[a:b]))
            for e in ends:
                if a < e <= b:
                    frame_of_end[(fc, off[fc] + e)] = frame
        off[fc] += len(data)
    dec.finish()
    assert dec.info.problems == [] and dec.info.records_failed == []
    assert _plain(out, True) == _expected(v, True)
    assert _plain(out, False) == _expected(v, False)
    assert out and all(a.frame == frame_of_end[(a.from_client, a.record_end)] for a in out)


@pytest.mark.parametrize("stem", STEMS)
def test_bit_flip_fails_one_record_only(vectors: Path, stem: str) -> None:
    v = _vec(vectors, stem)
    flights = _flights(v)
    # flip a bit in the middle of the client's application data record
    idx = 2
    fc, data = flights[idx]
    recs = _records(data)
    app = max(range(len(recs)), key=lambda i: len(recs[i]))
    pos = sum(len(r) for r in recs[:app]) + len(recs[app]) // 2
    flights[idx] = (fc, data[:pos] + bytes((data[pos] ^ 0x04,)) + data[pos + 1 :])
    dec, out = _run(flights, [TEK])
    info = dec.info
    assert len(info.records_failed) == 1
    failure = info.records_failed[0]
    assert failure.from_client is True
    assert failure.frame == 3
    assert "tag" in failure.reason or "MAC" in failure.reason
    assert _plain(out, True) == b""
    assert _plain(out, False) == _expected(v, False)  # the rest goes on
    assert any(
        a.encrypted and a.description == 0 and a.from_client for a in info.alerts
    ) or stem.startswith("tls13")


@pytest.mark.parametrize("stem", STEMS)
def test_truncated_last_record(vectors: Path, stem: str) -> None:
    v = _vec(vectors, stem)
    flights = _flights(v)
    fc, data = flights[-1]
    flights[-1] = (fc, data[:-5])
    dec, out = _run(flights, [TEK])
    assert _plain(out, True) == _expected(v, True)
    problems = [p for p in dec.info.problems if "incomplete record" in p.reason]
    assert len(problems) == 1 and problems[0].frame == len(flights)


def test_lost_bytes_resynchronise(vectors: Path) -> None:
    v = _vec(vectors, "psk_aes128_gcm_sha256")
    flights = _flights(v)
    dec = TlsConnectionDecoder([TEK])
    off = {True: 0, False: 0}
    out: list[AppData] = []
    for n, (fc, data) in enumerate(flights, 1):
        if n == 3:  # lose 30 bytes inside the client's application data record
            recs = _records(data)
            cut = sum(len(r) for r in recs[:3]) + 40
            out += dec.feed(fc, StreamChunk(n, n, off[fc], data[:cut]))
            out += dec.feed(fc, StreamChunk(n, n, off[fc] + cut + 30, data[cut + 30 :], gap=30))
            off[fc] += len(data)
            continue
        out += dec.feed(fc, StreamChunk(n, n, off[fc], data))
        off[fc] += len(data)
    info = dec.finish()
    assert any("30 bytes missing" in p.reason for p in info.problems)
    assert _plain(out, True) == b""
    assert _plain(out, False) == _expected(v, False)
    # the client's close_notify after the hole still decrypts (sequence number recovered)
    assert [(a.from_client, a.description, a.encrypted) for a in info.alerts] == [
        (True, 0, True),
        (False, 0, True),
    ]


def test_client_hello_from_the_tcp_server(vectors: Path) -> None:
    v = _vec(vectors, "psk_aes128_gcm_sha256")
    dec, out = _run(_flights(v), [TEK], swap=True)
    assert dec.info.client_hello_from_client is False
    assert _plain(out, False) == _expected(v, True)
    assert _plain(out, True) == _expected(v, False)


@pytest.mark.parametrize(("name", "proto"), [("plain_msrp", "msrp"), ("plain_bfcp", "bfcp")])
def test_plaintext_where_tls_was_expected(vectors: Path, name: str, proto: str) -> None:
    conns = decrypt_capture([vectors / "app" / f"{name}.pcap"], [TEK])
    assert len(conns) == 1
    info = conns[0].info
    assert info.is_tls is False
    assert info.plaintext_protocol == proto
    assert info.not_tls_reason is not None and info.not_tls_reason.startswith("not TLS")
    if proto == "msrp":
        assert conns[0].plaintext(True).startswith(b"MSRP a786hjs2 SEND\r\n")


def _write_pcap(path: Path, flights: list[tuple[bool, bytes]], seg: int) -> int:
    """Ethernet/IPv4/TCP pcap of the flights, ``seg``-byte segments, correct seq/ack."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    cli, srv = ("192.0.2.1", 50000), ("192.0.2.2", 5061)
    seq = {True: 1000, False: 9000}
    pkts: list[bytes] = []

    def tcp(fc: bool, flags: str, data: bytes = b"") -> bytes:
        a, b = (cli, srv) if fc else (srv, cli)
        p = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src=a[0], dst=b[0])
            / TCP(sport=a[1], dport=b[1], flags=flags, seq=seq[fc], ack=seq[not fc])
        )
        return bytes(p / data) if data else bytes(p)

    pkts.append(tcp(True, "S"))
    seq[True] += 1
    pkts.append(tcp(False, "SA"))
    seq[False] += 1
    pkts.append(tcp(True, "A"))
    for fc, data in flights:
        for i in range(0, len(data), seg):
            pkts.append(tcp(fc, "PA", data[i : i + seg]))
            seq[fc] += len(data[i : i + seg])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, p in enumerate(pkts):
            f.write(struct.pack("<IIII", 1_700_000_000, n, len(p), len(p)) + p)
    return len(pkts)


@pytest.mark.parametrize("stem", STEMS)
def test_many_segments_through_the_flow_layer(vectors: Path, tmp_path: Path, stem: str) -> None:
    v = _vec(vectors, stem)
    cap = tmp_path / "split.pcap"
    n = _write_pcap(cap, _flights(v), seg=3)
    assert n > 300
    (conn,) = decrypt_capture([cap], [WRONG, TEK])
    assert conn.info.psk_label == "tek" and conn.info.records_failed == []
    assert conn.plaintext(True) == _expected(v, True)
    assert conn.plaintext(False) == _expected(v, False)
    frames = [a.frame for a in conn.data if a.from_client]
    assert len(frames) == 1 and frames[0] > 3


def _engine_wire(cfg: PskConfig, n_app: int) -> list[tuple[bool, bytes]]:
    c, s = TlsPskEngine(cfg, True), TlsPskEngine(cfg, False)
    c.start()
    s.start()
    wire: list[tuple[bool, bytes]] = []
    for _ in range(3):
        for eng, peer, fc in ((c, s, True), (s, c, False)):
            out = eng.data_to_send()
            if out:
                wire.append((fc, out))
                peer.receive_data(out)
    for i in range(n_app):
        c.send_application_data(b"MSRP %d\r\n" % i)
        wire.append((True, c.data_to_send()))
    return wire


def test_psk_dhe_ke_binder_verified_records_counted_not_kept() -> None:
    cfg = PskConfig(TEK.key, b"id", versions=(0x0304,), cipher_suites=(0x1301,), tls13_modes=(1,))
    wire = _engine_wire(cfg, 50)
    dec, out = _run(wire, [WRONG, TEK])
    info = dec.info
    assert out == []
    assert (info.oracle, info.binder_ok, info.psk_label) == ("binder", True, "tek")
    assert info.tls13_mode == "psk_dhe_ke" and info.decryptable is False
    # every protected record (type 23 after the ServerHello) is counted as not decrypted
    protected = sum(1 for _, data in wire for r in _records(data) if r[0] == 23)
    assert info.records_undecrypted == protected == 50 + 2


def test_tls10_implicit_iv_from_engine() -> None:
    cfg = PskConfig(TEK.key, b"id", versions=(0x0301,), cipher_suites=(0x008C,), etm=False)
    wire = _engine_wire(cfg, 3)
    dec, out = _run(wire, [TEK], seg=5)
    assert dec.info.version == 0x0301 and dec.info.oracle == "finished"
    assert _plain(out, True) == b"MSRP 0\r\nMSRP 1\r\nMSRP 2\r\n"


def test_capture_starting_inside_a_record(vectors: Path) -> None:
    v = _vec(vectors, "psk_aes128_gcm_sha256")
    flights = _flights(v)
    # no handshake, and the first client bytes are the tail of the Finished record
    late = [(fc, d) for fc, d in flights[2:]]
    fc, data = late[0]
    late[0] = (fc, data[data.index(b"\x14\x03\x03\x00\x01\x01") + 10 :])
    dec, out = _run(late, [TEK])
    info = dec.info
    assert info.is_tls is True
    assert any("starts inside a TLS record" in p.reason for p in info.problems)
    assert info.undecryptable_reason == "the handshake was not captured"
    assert out == []


def test_handshake_without_protected_records(vectors: Path) -> None:
    v = _vec(vectors, "psk_aes128_gcm_sha256")
    dec, _ = _run(_flights(v)[:2], [TEK])
    assert dec.info.undecryptable_reason == "no protected record to test a key on"
    assert dec.info.cipher_suite == 0x00A8


def test_session_resumption_is_reported(vectors: Path) -> None:
    v = _vec(vectors, "psk_aes128_gcm_sha256")
    flights = _flights(v)
    sid = bytes(range(32))
    ch_rec = _records(flights[0][1])[0]
    ch = parse_client_hello(parse_handshake(ch_rec[5:]).body)
    new_ch = dataclasses.replace(ch, session_id=sid).build()
    s_recs = _records(flights[1][1])
    sh_msg = s_recs[0][5:]
    sh = parse_server_hello(parse_handshake(sh_msg[: 4 + int.from_bytes(sh_msg[1:4], "big")]).body)
    new_sh = dataclasses.replace(sh, session_id=sid).build()
    flights[0] = (True, build_record(22, 0x0301, new_ch))
    flights[1] = (False, build_record(22, 0x0303, new_sh) + b"".join(s_recs[1:]))
    dec, out = _run(flights, [TEK])
    assert out == []
    assert (dec.info.undecryptable_reason or "").startswith("abbreviated handshake")


_FUZZ_V = json.loads((VECTORS / "tls_psk" / "psk_aes128_cbc_sha.json").read_text())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2000), st.integers(0, 255)), max_size=6),
    st.integers(1, 300),
    st.booleans(),
)
def test_mutated_streams_never_crash(
    mutations: list[tuple[int, int, int]], seg: int, gap: bool
) -> None:
    flights = _flights(_FUZZ_V)
    for idx, pos, val in mutations:
        fc, data = flights[idx]
        if data:
            p = pos % len(data)
            flights[idx] = (fc, data[:p] + bytes((val,)) + data[p + 1 :])
    dec = TlsConnectionDecoder([WRONG, TEK])
    off = {True: 0, False: 0}
    frame = 0
    for fc, data in flights:
        for i in range(0, len(data), seg):
            frame += 1
            piece = data[i : i + seg]
            lost = 7 if gap and frame == 5 else 0
            dec.feed(fc, StreamChunk(frame, frame, off[fc] + lost, piece, gap=lost))
            off[fc] += len(piece) + lost
    info = dec.finish()
    assert info.is_tls is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), max_size=12))
def test_random_bytes_never_crash(chunks: list[tuple[bool, bytes]]) -> None:
    dec = TlsConnectionDecoder([TEK])
    off = {True: 0, False: 0}
    out: list[AppData] = []
    for n, (fc, data) in enumerate(chunks, 1):
        out += dec.feed(fc, StreamChunk(n, n, off[fc], data))
        off[fc] += len(data)
    info = dec.finish()
    # random bytes never complete a handshake whose Finished verifies under the TEK
    assert info.psk is None
    if info.is_tls is False:
        # not TLS: each direction is passed through unchanged, byte for byte
        for side in (True, False):
            sent = b"".join(d for fc, d in chunks if fc is side)
            assert b"".join(a.data for a in out if a.from_client is side) == sent
    else:
        assert out == []
