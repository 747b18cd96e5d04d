"""Round trips of every MIKEY payload and message type, and malformed input."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey import (
    Cert,
    Chash,
    Dh,
    EmptyMap,
    Err,
    GeneralExt,
    GenericIdEntry,
    GenericIdMap,
    Hdr,
    Id,
    Idr,
    Ipsec4IdEntry,
    Ipsec4IdMap,
    Kemac,
    KeyData,
    KvInterval,
    KvSpi,
    MikeyMessage,
    Payload,
    Pke,
    Rand,
    Randr,
    Sakke,
    Sign,
    Sp,
    SpParam,
    SrtpIdEntry,
    SrtpIdMap,
    T,
    Ticket,
    Tp,
    Tr,
    Unknown,
    V,
    build,
    build_key_data,
    parse,
    parse_chain,
    parse_key_data,
)
from tests.support.paths import VECTORS

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
small = st.binary(max_size=40)
kvs = st.one_of(
    st.none(),
    st.builds(KvSpi, st.binary(max_size=8)),
    st.builds(KvInterval, st.binary(max_size=8), st.binary(max_size=8)),
)
MAC_LEN = {0: 0, 1: 20, 2: 32}


@st.composite
def key_datas(draw: st.DrawFn) -> KeyData:
    kt = draw(st.integers(0, 15))
    salt = draw(st.binary(max_size=14)) if kt in (1, 3) else None
    return KeyData(kt, draw(st.binary(max_size=32)), salt, draw(kvs))


@st.composite
def kemacs(draw: st.DrawFn) -> Kemac:
    ma = draw(st.sampled_from([0, 1, 2]))
    return Kemac(
        draw(u8), draw(small), ma, draw(st.binary(min_size=MAC_LEN[ma], max_size=MAC_LEN[ma]))
    )


@st.composite
def dhs(draw: st.DrawFn) -> Dh:
    g = draw(st.sampled_from([0, 1, 2]))
    n = {0: 192, 1: 96, 2: 128}[g]
    return Dh(g, draw(st.binary(min_size=n, max_size=n)), draw(kvs), draw(st.integers(0, 15)))


@st.composite
def ts(draw: st.DrawFn) -> tuple[int, int]:
    t = draw(st.integers(0, 3))
    return t, draw(st.integers(0, 2**64 - 1 if t < 2 else 2**32 - 1))


@st.composite
def chashes(draw: st.DrawFn) -> Chash:
    f = draw(st.sampled_from([0, 1]))
    n = 20 if f == 0 else 16
    return Chash(f, draw(st.binary(min_size=n, max_size=n)))


@st.composite
def vs(draw: st.DrawFn) -> V:
    a = draw(st.sampled_from([0, 1, 2]))
    return V(a, draw(st.binary(min_size=MAC_LEN[a], max_size=MAC_LEN[a])))


@st.composite
def sps(draw: st.DrawFn) -> Sp:
    prot = draw(st.sampled_from([0, 2, 7]))
    params = []
    for t in draw(st.lists(u8, max_size=5)):
        n = 1 if prot == 0 and t < 13 else draw(st.integers(0, 4))
        params.append(SpParam(t, draw(st.binary(min_size=n, max_size=n))))
    return Sp(draw(u8), prot, tuple(params))


middle_payloads: st.SearchStrategy[Payload] = st.one_of(
    kemacs(),
    st.builds(Pke, st.integers(0, 3), small),
    dhs(),
    ts().map(lambda x: T(*x)),
    st.builds(Id, u8, small),
    st.builds(Cert, u8, small),
    chashes(),
    vs(),
    sps(),
    st.builds(Rand, small),
    st.builds(Err, u8, u16),
    st.tuples(u8, ts()).map(lambda x: Tr(x[0], *x[1])),
    st.builds(Idr, u8, u8, small),
    st.builds(Randr, u8, small),
    st.builds(Tp, u16, u8, u8, u8, u16, small),
    st.builds(Ticket, u16, u8, u8, small),
    st.builds(GeneralExt, u8, small),
    st.builds(Sakke, u8, u8, small),
)
# Only a last payload may be a SIGN or an unsized unknown type.
UNKNOWN_TYPES = [
    t
    for t in range(1, 256)
    if t not in {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 21, 26}
]
last_payloads: st.SearchStrategy[Payload] = st.one_of(
    st.builds(Sign, st.integers(0, 15), st.binary(max_size=64)),
    st.builds(Unknown, st.sampled_from(UNKNOWN_TYPES), st.binary(min_size=1, max_size=20)),
)
generic_entries = st.builds(
    GenericIdEntry,
    u8,
    u8,
    st.booleans(),
    st.lists(u8, max_size=4).map(tuple),
    small,
    st.binary(max_size=8),
)
cs_maps = st.one_of(
    st.builds(SrtpIdMap, st.lists(st.builds(SrtpIdEntry, u8, u32, u32), max_size=4).map(tuple)),
    st.builds(EmptyMap, u8),
    st.builds(GenericIdMap, st.lists(generic_entries, max_size=3).map(tuple)),
    st.builds(
        Ipsec4IdMap, st.lists(st.builds(Ipsec4IdEntry, u8, u32, u32, u32), max_size=3).map(tuple)
    ),
)


@st.composite
def messages(draw: st.DrawFn) -> MikeyMessage:
    hdr = Hdr(
        draw(u8), draw(u32), draw(cs_maps), draw(st.booleans()), draw(st.integers(0, 127)), draw(u8)
    )
    payloads = draw(st.lists(middle_payloads, max_size=6))
    if draw(st.booleans()):
        payloads.append(draw(last_payloads))
    return MikeyMessage(hdr, tuple(payloads))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_random_messages_round_trip(msg: MikeyMessage) -> None:
    raw = build(msg)
    assert parse(raw) == msg
    assert build(parse(raw)) == raw


@settings(max_examples=200)
@given(st.lists(key_datas(), min_size=1, max_size=4))
def test_random_key_data_round_trip(keys: list[KeyData]) -> None:
    raw = build_key_data(keys)
    assert parse_key_data(raw) == tuple(keys)
    assert build_key_data(list(parse_key_data(raw))) == raw


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.data())
def test_random_message_truncations_are_located_errors(
    msg: MikeyMessage, data: st.DataObject
) -> None:
    raw = build(msg)
    cut = data.draw(st.integers(0, len(raw) - 1))
    # A final payload of unknown type has no length of its own: it may legally be shorter.
    last = msg.payloads[-1] if msg.payloads else None
    open_ended = isinstance(last, Unknown)
    try:
        parse(raw[:cut])
    except DissectError as e:
        assert e.layer == "mikey"
        assert 0 <= e.offset <= cut
    else:
        assert open_ended


# --- every payload type, with hand-written bytes ---------------------------------------------


def _hdr(first: int) -> bytes:
    """PSK-init HDR, CSB ID 1, empty map with #CS 0, announcing ``first``."""
    return bytes([1, 0, first, 0, 0, 0, 0, 1, 0, 1])


CASES: list[tuple[str, Payload, str]] = [
    ("KEMAC", Kemac(1, b"\xaa\xbb", 1, bytes(20)), "00 01 0002 aabb 01" + "00" * 20),
    ("PKE", Pke(2, b"\x01\x02\x03"), "00 8003 010203"),
    ("DH", Dh(2, bytes(128), KvSpi(b"\x07"), 0), "00 02" + "00" * 128 + "01 01 07"),
    (
        "DH interval",
        Dh(1, bytes(96), KvInterval(b"\x01", b"\x02\x03"), 5),
        "00 01" + "00" * 96 + "52 01 01 02 0203",
    ),
    ("SIGN", Sign(2, b"\xee" * 3), "2003 eeeeee"),
    ("T NTP-UTC", T(0, 0xE7C1A2B300000000), "00 00 e7c1a2b300000000"),
    ("T COUNTER", T(2, 7), "00 02 00000007"),
    ("T NTP-UTC-32", T(3, 9), "00 03 00000009"),
    ("ID", Id(1, b"sip:a"), "00 01 0005 7369703a61"),
    ("CERT", Cert(0, b"\x30\x00"), "00 00 0002 3000"),
    ("CHASH", Chash(1, bytes(16)), "00 01" + "00" * 16),
    ("V", V(2, bytes(range(32))), "00 02" + bytes(range(32)).hex()),
    ("SP", Sp(3, 0, (SpParam(0, b"\x01"), SpParam(1, b"\x10"))), "00 03 00 0006 000101 010110"),
    ("RAND", Rand(b"\x11" * 16), "00 10" + "11" * 16),
    ("ERR", Err(5), "00 05 0000"),
    ("TR", Tr(3, 0, 1), "00 03 00 0000000000000001"),
    ("IDR", Idr(3, 1, b"kms"), "00 03 01 0003 6b6d73"),
    ("RANDR", Randr(2, b"\x22" * 4), "00 02 04 22222222"),
    ("TP", Tp(1, 0, 1, 1, 0x8001, b"\x99"), "00 0001 00 01 01 8001 0001 99"),
    ("TICKET", Ticket(1, 0, 1, b"\x0d\x00"), "00 0001 00 01 0002 0d00"),
    ("General Extension", GeneralExt(1, b"ab"), "00 01 0002 6162"),
    ("SAKKE", Sakke(1, 1, b"\x04"), "00 01 01 0001 04"),
    ("unknown type 99", Unknown(99, b"\x05\x06\x07"), "050607"),
]


@pytest.mark.parametrize(("name", "payload", "body"), CASES, ids=[c[0] for c in CASES])
def test_each_payload_parses_and_builds(name: str, payload: Payload, body: str) -> None:
    ptype = 99 if isinstance(payload, Unknown) else payload.PTYPE
    raw = _hdr(ptype) + bytes.fromhex(body)
    msg = parse(raw)
    assert msg.payloads == (payload,)
    assert build(msg) == raw


MAP_CASES = [
    (
        SrtpIdMap((SrtpIdEntry(1, 0xDEADBEEF, 2), SrtpIdEntry(0, 3, 4))),
        "02 00 01deadbeef00000002 000000000300000004",
        (1, 2),
    ),
    (EmptyMap(3), "03 01", (1, 2, 3)),
    (
        GenericIdMap((GenericIdEntry(7, 2, True, (0, 1), b"\x01\x02", b"\x09"),)),
        "01 02 07 02 82 00 01 0002 0102 01 09",
        (7,),
    ),
    (Ipsec4IdMap((Ipsec4IdEntry(1, 2, 3, 4),)), "01 07 01 00000002 00000003 00000004", (1,)),
]


@pytest.mark.parametrize(
    ("cs_map", "body", "cs_ids"), MAP_CASES, ids=["SRTP-ID", "empty", "GENERIC-ID", "IPSEC4-ID"]
)
def test_hdr_cs_id_maps(cs_map: object, body: str, cs_ids: tuple[int, ...]) -> None:
    raw = bytes.fromhex("01 0e 00 81 cafebabe" + body.replace(" ", ""))
    msg = parse(raw)
    assert msg.hdr == Hdr(14, 0xCAFEBABE, cs_map, True, 1)  # type: ignore[arg-type]
    assert msg.hdr.cs_ids() == cs_ids
    assert build(msg) == raw


def test_key_data_with_salt_and_kv() -> None:
    raw = bytes.fromhex("14 31 0002 aabb 0003 ccddee 01 0500 22 0001 ff 01 ab 02 cdef")
    assert parse_key_data(raw) == (
        KeyData(3, b"\xaa\xbb", b"\xcc\xdd\xee", KvSpi(b"\x05")),
        KeyData(2, b"\xff", None, KvInterval(b"\xab", b"\xcd\xef")),
    )
    assert build_key_data(list(parse_key_data(raw))) == raw


# --- message types ------------------------------------------------------------------------------


def _vectors_messages() -> list[bytes]:
    v = json.loads((VECTORS / "mikey" / "mikey_psk_init.json").read_text())
    return [bytes.fromhex(v[k]["message_hex"]) for k in ("encr_null", "encr_aes_cm_128")]


def _message_of_type(dt: int) -> bytes:
    hdr = bytes.fromhex(f"01 {dt:02x} 05 01 00000042 01 02 01 02 01 00 0000 00")
    return hdr + bytes.fromhex("0b 00 e7c1a2b300000000 09 04 00010203 00 02" + "00" * 32)


@pytest.mark.parametrize("dt", [*range(19), 26, 27, 200])
def test_every_data_type_round_trips_and_unknown_is_reported(dt: int) -> None:
    raw = _message_of_type(dt)
    msg = parse(raw)
    assert msg.hdr.data_type == dt
    assert build(msg) == raw
    assert ("data type 200" in msg.unknowns()) == (dt == 200)


def test_unknown_payload_is_kept_and_reported() -> None:
    raw = (
        bytes.fromhex("01 0e 0b 01 00000001 00 01")
        + bytes.fromhex("63 04 01020304")
        + bytes.fromhex("000102")
    )
    msg = parse(raw)
    assert msg.payloads == (Rand(b"\x01\x02\x03\x04"), Unknown(0x63, b"\x00\x01\x02"))
    assert msg.unknowns() == ["payload type 99 at offset 16 (3 bytes kept raw)"]
    assert build(msg) == raw


# --- malformed input ------------------------------------------------------------------------


def _length_fields(raw: bytes) -> list[tuple[int, int, int]]:
    """(offset, size, mask) of every length field in the PSK-init vector, found by walking it."""
    # HDR(10) + SRTP-ID entry(9): #CS at 8
    out = [(8, 1, 0xFF)]
    # T at 19 (10 bytes), RAND at 29: len at 30; SP at 47: param len at 50, params at 52
    out.append((30, 1, 0xFF))
    out.append((50, 2, 0xFFFF))
    pos = 52
    while pos < 82:
        out.append((pos + 1, 1, 0xFF))
        pos += 2 + raw[pos + 1]
    out.append((pos + 2, 2, 0xFFFF))  # KEMAC encr data len
    return out


@pytest.mark.parametrize("raw", _vectors_messages(), ids=["null", "aes-cm"])
def test_every_length_field_lying_by_one_is_a_located_error(raw: bytes) -> None:
    fields = _length_fields(raw)
    assert raw[30] == 16 and struct.unpack_from("!H", raw, 50)[0] == 30  # the walk is right
    assert struct.unpack_from("!H", raw, fields[-1][0])[0] == 20
    for off, size, _ in fields:
        value = int.from_bytes(raw[off : off + size], "big")
        for delta in (-1, 1):
            bad = bytearray(raw)
            bad[off : off + size] = (value + delta).to_bytes(size, "big")
            try:
                msg = parse(bytes(bad))
            except DissectError as e:
                assert e.layer == "mikey"
                assert e.field is not None
                assert 0 <= e.offset <= len(raw)
            else:
                # The only way a lie can still parse: the bytes after it name a payload type
                # we do not know, kept raw and reported with its offset.
                assert any("at offset" in u for u in msg.unknowns()), (off, delta)


@pytest.mark.parametrize("raw", _vectors_messages(), ids=["null", "aes-cm"])
def test_truncation_at_every_byte_is_a_located_error(raw: bytes) -> None:
    for cut in range(len(raw)):
        with pytest.raises(DissectError) as e:
            parse(raw[:cut])
        assert e.value.layer == "mikey"
        assert e.value.offset <= cut


def test_specific_errors_name_field_and_offset() -> None:
    raw = _vectors_messages()[0]
    bad = bytearray(raw)
    bad[30] = 17  # RAND len 17 swallows SP's next-payload byte
    with pytest.raises(DissectError) as e:
        parse(bytes(bad))
    assert str(e.value)  # a readable message
    with pytest.raises(DissectError) as e2:
        parse(raw + b"\x00")
    assert (e2.value.offset, e2.value.reason) == (len(raw), "1 bytes after the last payload")
    with pytest.raises(DissectError) as e3:
        parse(raw[:19])  # HDR complete, T announced
    assert (e3.value.offset, e3.value.field) == (19, "next_payload")
    assert "T announced" in e3.value.reason
    with pytest.raises(DissectError) as e4:
        parse(bytes.fromhex("01 00 00 00 00000001 01 09"))
    assert (e4.value.field, e4.value.offset) == ("cs_id_map_type", 10)


def test_unknown_mac_alg_is_an_error_not_a_guess() -> None:
    raw = bytes.fromhex("01 00 01 00 00000001 00 01 00 00 0000 07 0000")
    with pytest.raises(DissectError) as e:
        parse(raw)
    assert (e.value.field, e.value.offset) == ("mac", 15)
    assert "unknown mac algorithm 7" in e.value.reason


def test_srtp_one_octet_param_with_other_length_is_an_error() -> None:
    raw = bytes.fromhex("01 00 0a 00 00000001 00 01 00 00 00 0004 00 02 0101")
    with pytest.raises(DissectError) as e:
        parse(raw)
    assert (e.value.field, e.value.offset) == ("param_len", 16)
    # the same bytes under another Prot type are a two-octet parameter
    other = parse(raw[:12] + b"\x02" + raw[13:])
    assert other.payloads == (Sp(0, 2, (SpParam(0, b"\x01\x01"),)),)


def test_builder_rejects_inconsistent_values() -> None:
    hdr = Hdr(0, 1, EmptyMap(0))
    with pytest.raises(ValueError, match="MAC alg 1 needs 20 bytes"):
        build(MikeyMessage(hdr, (Kemac(0, b"", 1, b"short"),)))
    with pytest.raises(ValueError, match="can only be the last"):
        build(MikeyMessage(hdr, (Sign(0, b""), Rand(b""))))
    with pytest.raises(ValueError, match="needs salt"):
        build_key_data([KeyData(1, b"k")])


# Offset and size of the length fields of each payload, from its first byte (RFC 3830
# 6 and docs/profile.md, payload layouts).
LENGTH_FIELDS: dict[type, list[tuple[int, int]]] = {
    Rand: [(1, 1)],
    Idr: [(3, 2)],
    Sp: [(3, 2)],
    Ticket: [(5, 2)],
    Kemac: [(2, 2)],
    Id: [(2, 2)],
    Cert: [(2, 2)],
    GeneralExt: [(2, 2)],
    Randr: [(2, 1)],
    Tp: [(8, 2)],
    Sakke: [(3, 2)],
}


def _transfer_init() -> bytes:
    from mikeyshark.dissectors.mikey.ticket import BaseTicket, protect_ticket
    from mikeyshark.dissectors.mikey.transfer import build_transfer_init

    bt = BaseTicket(
        1 << 32,
        1 << 32,
        9 << 32,
        bytes(16),
        b"sip:a@x",
        b"sip:b@x",
        b"kms",
        bytes(16),
        (bytes(16),),
    )
    td = protect_ticket(bytes(32), 7, bt)
    return build_transfer_init(
        csb_id=7, t_ntp=2 << 32, rand=bytes(16), initiator=b"sip:a@x", responder=b"sip:b@x",
        kms_uri=b"kms", ticket_data=td, mpk=bytes(16),
    )  # fmt: skip


def test_every_length_field_of_a_transfer_init_lying_by_one() -> None:
    from mikeyshark.dissectors.mikey.message import build_chain

    raw = _transfer_init()
    msg = parse(raw)
    hdr_len = len(build(MikeyMessage(msg.hdr, ())))
    # GENERIC-ID map: #CS at 8, the entry's #P at 12, session data len at 14, SPI len at 16
    fields = [(8, 1), (12, 1), (14, 2), (16, 1)]
    for i, p in enumerate(msg.payloads):
        start = hdr_len + len(build_chain(msg.payloads[:i])) if i else hdr_len
        fields += [(start + off, size) for off, size in LENGTH_FIELDS.get(type(p), [])]
    assert len(fields) == 4 + 6  # RAND, IDR x3, SP, TICKET
    for off, size in fields:
        value = int.from_bytes(raw[off : off + size], "big")
        for delta in (-1, 1):
            if value + delta < 0:
                continue
            bad = raw[:off] + (value + delta).to_bytes(size, "big") + raw[off + size :]
            try:
                got = parse(bad)
            except DissectError as e:
                assert e.layer == "mikey" and e.field, (off, delta)
            else:
                # as above: only by running into a payload type we do not know, reported
                assert any("at offset" in u for u in got.unknowns()), (off, delta)


def test_every_length_field_inside_the_ticket_lying_by_one() -> None:
    from mikeyshark.dissectors.mikey.message import build_chain
    from mikeyshark.dissectors.mikey.ticket import TicketError, open_ticket

    tk = parse(_transfer_init()).find(Ticket)
    assert tk is not None
    chain = parse_chain(tk.data, tk.data[0], 1)
    fields: list[tuple[int, int]] = []
    for i, p in enumerate(chain):
        start = 1 + len(build_chain(chain[:i]))
        fields += [(start + off, size) for off, size in LENGTH_FIELDS.get(type(p), [])]
    assert len(fields) == 5  # RAND, IDR x3, KEMAC
    for off, size in fields:
        value = int.from_bytes(tk.data[off : off + size], "big")
        for delta in (-1, 1):
            bad = tk.data[:off] + (value + delta).to_bytes(size, "big") + tk.data[off + size :]
            with pytest.raises(TicketError) as e:
                open_ticket(bytes(32), 7, bad)
            assert e.value.code == "malformed", (off, delta, e.value.reason)
