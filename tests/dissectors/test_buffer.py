from __future__ import annotations

import pytest

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError


def test_reader_reads_network_order() -> None:
    r = Reader(bytes.fromhex("01 0203 040506 0708090a 0b0c0d0e0f101112 ff"), "t")
    assert r.u8() == 1
    assert r.u16() == 0x0203
    assert r.u24() == 0x040506
    assert r.u32() == 0x0708090A
    assert r.u64() == 0x0B0C0D0E0F101112
    assert r.rest() == b"\xff"
    assert r.eof()


def test_reader_reports_layer_offset_and_field_on_short_input() -> None:
    r = Reader(b"\x00\x05abc", "mikey")
    n = r.u16("len")
    with pytest.raises(DissectError) as e:
        r.take(n, "data")
    assert (e.value.layer, e.value.offset, e.value.field) == ("mikey", 2, "data")
    assert "needs 5 bytes, 3 left" in str(e.value)


def test_sub_reader_is_bounded() -> None:
    r = Reader(b"\x01\x02\x03\x04", "x")
    s = r.sub(2)
    assert s.u16() == 0x0102
    with pytest.raises(DissectError):
        s.u8()
    assert r.u16() == 0x0304


def test_writer_mirrors_reader_and_rejects_overflow() -> None:
    w = Writer().u8(1).u16(0x0203).u24(0x040506).u32(7).u64(8).raw(b"z")
    assert w.getvalue() == bytes.fromhex("01 0203 040506 00000007 0000000000000008 7a")
    with pytest.raises(ValueError):
        Writer().u16(0x10000)
    with pytest.raises(ValueError):
        Writer().u8(-1)


def test_value_table_labels_unknown_values() -> None:
    t = ValueTable("x", [Const(1, "ONE", "RFC 0"), Const(2, "TWO", "profile", verified=False)])
    assert t["TWO"] == 2
    assert t.label(1) == "ONE"
    assert t.label(9) == "Unknown (9)"
    assert t.get(2) is not None and not t.get(2).verified  # type: ignore[union-attr]
