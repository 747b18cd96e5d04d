"""The Mp profile 1 (docs/mp-profile.md): the adopted table, renaming, what a command means
in the profile's terms, the builders, and the dissect rows (PSK only as a fingerprint)."""

from __future__ import annotations

import pytest

from mikeyshark.dissectors.h248 import mp, names, text, tree
from mikeyshark.dissectors.h248.model import Command, ErrorDescriptor, Item, Value
from tests.support.h248_mp import PSK, PSKID, messages

# SHA-256 of PSK 8f0e6c1f9b3a2d4e5f60718293a4b5c6 begins 83d0fc5c (sha256sum).
PSK_FINGERPRINT = "sha256:83d0fc5c (16 bytes)"


def _command(key: str) -> Command:
    ((_, _, c),) = messages()[key].commands()
    return c


def test_adopted_table() -> None:
    assert [(i.key, i.name, i.binary_id, i.verified) for i in mp.MP_ITEMS] == [
        ("psk", "mkstls/psk", 0x0002, False),
        ("pskid", "mkstls/pskid", 0x0003, False),
        ("role", "mkstls/role", 0x0001, False),
        ("tcp_fail_event", "mkstls/tcpfail", 0x0001, False),
        ("tls_fail_event", "mkstls/tlsfail", 0x0002, False),
    ]
    assert mp.BINARY_PACKAGE == 0xFE01
    assert mp.DEFAULT_PROFILE.names() == {
        "psk": "mkstls/psk",
        "pskid": "mkstls/pskid",
        "role": "mkstls/role",
        "tcp_fail_event": "mkstls/tcpfail",
        "tls_fail_event": "mkstls/tlsfail",
    }


def test_profile_overrides() -> None:
    p = mp.DEFAULT_PROFILE.with_overrides({"psk": "tlsbsc/psk", "tls_fail_event": "tlsbsc/fail"})
    assert (p.psk, p.pskid, p.tls_fail_event) == ("tlsbsc/psk", "mkstls/pskid", "tlsbsc/fail")
    assert p.key_of("TLSBSC/PSK") == "psk" and p.key_of("mkstls/psk") is None
    assert p.is_item("psk", "TlsBsc/Psk")
    with pytest.raises(ValueError, match="unknown Mp profile key 'secret'"):
        mp.DEFAULT_PROFILE.with_overrides({"secret": "a/b"})
    with pytest.raises(ValueError, match="package/item"):
        mp.DEFAULT_PROFILE.with_overrides({"role": "no-slash"})


def test_read_dial_in_add() -> None:
    r = mp.read_command(_command("msrp-dial-in-add"))
    assert (r.command, r.termination_ids, r.request_id) == ("Add", ("$",), "1")
    assert r.requested == ("tcp_fail_event", "tls_fail_event")
    (s,) = r.streams
    assert (s.stream_id, s.psk, s.pskid, s.role, s.problems) == (1, PSK, PSKID, "client", ())
    assert r.psk == PSK
    assert s.local is not None and s.local.sessions[0].media[0].setup == "active"
    assert s.remote is not None and s.remote.sessions[0].media[0].m.port == 49170


def test_read_configure_modify_and_notify() -> None:
    r = mp.read_command(_command("msrp-dial-out-configure"))
    assert r.command == "Modify" and r.streams[0].role == "server"
    n = mp.read_command(_command("tls-fail-notify"))
    assert n.observed == (
        mp.MpObserved("tls_fail_event", "mkstls/tlsfail", 40, "20240101T12000000"),
    )
    assert mp.read_command(_command("msrp-dial-out-reserve")).streams[0].psk is None


def test_read_follows_renamed_items_case_insensitively() -> None:
    c = text.parse_message(
        b"!/1 [10.0.0.1]:2944 T=9{C=${A=${M{ST=1{O{TLSBSC/PSK=00FF,tlsbsc/role=Server}}},"
        b"E=4{tlsbsc/fail}}}}"
    ).commands()[0][2]
    assert mp.read_command(c).streams[0].psk is None  # default names: not the PSK
    p = mp.MpProfile(psk="tlsbsc/psk", role="tlsbsc/role", tls_fail_event="tlsbsc/fail")
    r = mp.read_command(c, p)
    assert (r.streams[0].psk, r.streams[0].role, r.requested) == (
        b"\x00\xff",
        "server",
        ("tls_fail_event",),
    )


def test_read_reports_bad_values() -> None:
    c = text.parse_message(
        b"!/1 [10.0.0.1]:2944 T=9{C=${A=${M{O{mkstls/psk=xyz,mkstls/role=master}}}}}"
    ).commands()[0][2]
    (s,) = mp.read_command(c).streams
    assert s.stream_id is None and s.psk is None and s.role == "master"
    assert s.problems == (
        "mkstls/psk is not hex octets",
        "mkstls/role 'master' is neither client nor server",
    )


def test_builders() -> None:
    lc = mp.local_control_descriptor(psk=b"\x01\xab", pskid="id 1", role="server")
    assert lc.mode == "SendReceive"
    assert lc.properties == (
        Item("mkstls/psk", "=", Value(("01ab",))),
        Item("mkstls/pskid", "=", Value(('"id 1"',))),
        Item("mkstls/role", "=", Value(("server",))),
    )
    with pytest.raises(ValueError):
        mp.local_control_descriptor(role="both")
    with pytest.raises(ValueError):
        mp.local_control_descriptor(pskid='say "hi"')
    with pytest.raises(ValueError):
        mp.observed_events_descriptor(1, "psk", "20240101T00000000")


def test_every_profile_message_round_trips() -> None:
    for name, m in messages().items():
        assert text.parse_message(text.build_message(m)) == m, name


def test_detail_rows_name_items_by_meaning_and_hide_the_psk() -> None:
    m = messages()["msrp-dial-in-add"]
    rows = tree.detail_tree(m)
    texts = [t for _, t in rows]
    assert (7, f"Pre-Shared Key (mkstls/psk) = {PSK_FINGERPRINT}") in rows
    assert (7, f'PSK identity (mkstls/pskid) = "{PSKID}"') in rows
    assert (7, "TLS role (mkstls/role) = client") in rows
    assert (5, "TCP connection establishment failure (mkstls/tcpfail)") in rows
    assert (5, "TLS session establishment failure (mkstls/tlsfail)") in rows
    assert not any(PSK.hex() in t.lower() for t in texts)
    revealed = tree.detail_tree(m, reveal=True)
    assert (7, f"Pre-Shared Key (mkstls/psk) = {PSK.hex()}") in revealed


def test_psk_that_is_not_hex_is_not_shown() -> None:
    m = text.parse_message(b"!/1 [10.0.0.1]:2944 T=9{C=${A=${M{O{mkstls/psk=s3cr3t}}}}}")
    texts = [t for _, t in tree.detail_tree(m)]
    assert "Pre-Shared Key (mkstls/psk) = (not hex octets, 6 characters)" in texts
    assert not any("s3cr3t" in t for t in texts)


def test_info_line_and_column() -> None:
    ms = messages()
    assert tree.info_line(ms["msrp-dial-in-add"]) == "MEGACO/1 Transaction 1001 Add"
    assert tree.info_line(ms["error-reply"]) == "MEGACO/1 Reply 1006 Error 510"
    assert tree.info_line(ms["pending"]) == "MEGACO/1 Pending 1004"
    # tshark's megaco Info column, as tshark 4.0 shows these messages
    assert tree.column_info(ms["msrp-dial-in-add"]) == "1001 Request |=Choose one Add=$"
    assert tree.column_info(ms["subtract-reply"]) == "1005 Reply   |=8 Subtract=mrfp/tls/1"
    assert tree.column_info(ms["pending"]) == "1004 Pending"


def test_names() -> None:
    assert names.package_label(0x000D) == "tdmc (0x000d)"
    assert names.package_label(0x0117) == "tlsbsc (0x0117)"
    assert names.package_label(0x00EA) == "H.248.69 MSRP package (0x00ea)"
    assert names.package_label(mp.BINARY_PACKAGE) == "private package (0xfe01)"
    entry = names.package_of("RTP/jit")
    assert entry is not None and (entry.value, entry.verified) == (0x000C, True)
    assert not names.PACKAGES.get(0x0117).verified  # type: ignore[union-attr]
    rows = tree.detail_tree(text.parse_message(b'!/1 [1.2.3.4]:2944 P=1{C=1{MF=a{ER=441{"x"}}}}'))
    assert (4, 'Error Descriptor: 441 Missing Remote or Local Descriptor "x"') in rows
    assert ErrorDescriptor(441) == ErrorDescriptor(441, None)
