"""mikeyshark.keyfile: the key file read (errors naming the line) and written back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mikeyshark.dissectors.esp import EspSa
from mikeyshark.keyfile import (
    Conference,
    KeyFile,
    KeyFileError,
    KmsKey,
    PskKey,
    TekKey,
    parse_psk,
)

GOOD = """\
# demo keys
[[kms]]
uri = "kms.example.org"
master_key = "00112233445566778899aabbccddeeff"

[[kms]]
uri = "kms2.example.org"
master_key = "0xFFEE"

[[psk]]
identity = "sip:alice@example.org"
key = "a0a1a2a3"

[[tek]]
key = "657bf44e8247bee72094eafe0283ab2f"

[conference]
uri = "sip:conf1@conf.example.org"
authorized = ["sip:alice@example.org", "sip:bob@example.org"]

[profile]
tls_prot_type = 7
"""


def test_a_good_file() -> None:
    kf = KeyFile.parse(GOOD, "demo.toml")
    assert kf.kms == (
        KmsKey("kms.example.org", bytes.fromhex("00112233445566778899aabbccddeeff"), 2),
        KmsKey("kms2.example.org", b"\xff\xee", 6),
    )
    assert kf.psk == (PskKey("sip:alice@example.org", bytes.fromhex("a0a1a2a3"), 10),)
    assert kf.tek == (TekKey(bytes.fromhex("657bf44e8247bee72094eafe0283ab2f"), None, 14),)
    # where each key was written (not part of a key's identity)
    assert [k.line for k in (*kf.kms, *kf.psk, *kf.tek)] == [2, 6, 10, 14]
    assert kf.conference == Conference(
        "sip:conf1@conf.example.org", ("sip:alice@example.org", "sip:bob@example.org")
    )
    assert kf.tls_prot_type == 7
    # loaded, but said: a key under 16 bytes is most often a truncated paste
    assert kf.warnings == (
        "demo.toml:8: [[kms]] #2 master_key is 2 bytes, under 16: is it whole?",
        "demo.toml:12: [[psk]] #1 key is 4 bytes, under 16: is it whole?",
    )


def test_profile_default_is_the_adopted_tls_value() -> None:
    assert KeyFile.parse("", "empty.toml").tls_prot_type == 2


def _error(text: str) -> KeyFileError:
    with pytest.raises(KeyFileError) as e:
        KeyFile.parse(text, "k.toml")
    return e.value


def test_syntax_error_names_line() -> None:
    e = _error('[[kms]]\nuri = "a"\nmaster_key = "00\n')
    assert e.line == 3
    assert str(e).startswith("k.toml:3: TOML syntax")


def test_bad_hex_names_the_line_of_that_key_in_the_second_block() -> None:
    text = GOOD.replace('master_key = "0xFFEE"', 'master_key = "0xFFEG"')
    e = _error(text)
    assert (e.line, e.message) == (8, "[[kms]] #2 master_key is not an even number of hex digits")


def test_odd_length_hex_in_psk() -> None:
    e = _error(GOOD.replace('key = "a0a1a2a3"', 'key = "a0a1a2a"'))
    assert e.line == 12


def test_missing_key_names_the_table_header() -> None:
    e = _error('[[psk]]\nidentity = "x"\n\n[[psk]]\nidentity = "y"\nkey = "00"\n')
    assert (e.line, e.message) == (1, "[[psk]] #1 key is missing")


def test_wrong_type_names_line() -> None:
    e = _error('[[kms]]\nuri = "a"\nmaster_key = 1234\n')
    assert (e.line, e.message) == (3, "[[kms]] #1 master_key must be a hex string")


def test_empty_key() -> None:
    assert _error('[[tek]]\nkey = ""\n').line == 2


def test_unknown_key_in_block() -> None:
    e = _error('[[kms]]\nuri = "a"\nmaster_key = "00"\nmaster = "11"\n')
    assert (e.line, e.message) == (4, "[[kms]] #1: unknown key 'master'")


def test_unknown_table() -> None:
    e = _error('[[kms]]\nuri = "a"\nmaster_key = "00"\n\n[[kmss]]\nuri = "b"\n')
    assert (e.line, e.message) == (5, "unknown table or key 'kmss'")


def test_conference_errors() -> None:
    e = _error('[conference]\nuri = "sip:c@x"\nauthorized = "sip:a@x"\n')
    assert e.line == 3
    assert _error("[conference]\nauthorized = []\n").line == 1


def test_profile_type_errors_and_unknown_profile_key_warns() -> None:
    assert _error('[profile]\ntls_prot_type = "two"\n').line == 2
    assert _error("[profile]\n\ntls_prot_type = 300\n").line == 3
    assert _error('[profile]\nbfcp_tls_client = "server"\n').line == 2
    kf = KeyFile.parse("[profile]\ntls_prot_type = 2\nfuture_knob = 1\n", "k.toml")
    assert kf.warnings == ("k.toml:3: [profile] future_knob is not known to the key resolver",)


def test_load_reads_a_file_and_names_it(tmp_path: Path) -> None:
    p = tmp_path / "keys.toml"
    p.write_text(GOOD)
    assert KeyFile.load(p).name == str(p)
    with pytest.raises(KeyFileError) as e:
        KeyFile.load(tmp_path / "missing.toml")
    assert e.value.line is None
    assert "missing.toml: cannot read key file" in str(e.value)


def test_inline_array_error_points_at_its_key() -> None:
    e = _error('# keys\nkms = [{uri = "a", master_key = "zz"}]\n')
    assert (e.line, e.message) == (2, "[[kms]] #1 master_key is not an even number of hex digits")


def test_profile_mp_holds_the_mp_names() -> None:
    kf = KeyFile.parse(
        '[profile]\ntls_prot_type = 2\n\n[profile.mp]\npsk = "mkstls/psk"\n'
        'tcp_fail_event = "mkstls/tcpfail"\n',
        "k.toml",
    )
    assert kf.mp_profile == {"psk": "mkstls/psk", "tcp_fail_event": "mkstls/tcpfail"}
    assert kf.profile == {"tls_prot_type": 2}  # the subtable is not a [profile] override
    assert kf.warnings == ()


def test_profile_mp_renames_the_items_of_the_mp_profile() -> None:
    kf = KeyFile.parse('[profile.mp]\npsk = "tlsbsc/psk"\ntls_fail_event = "tlsbsc/estfail"\n')
    assert kf.mp.psk == "tlsbsc/psk"
    assert kf.mp.tls_fail_event == "tlsbsc/estfail"
    # the items it does not name keep their adopted names (docs/mp-profile.md)
    assert (kf.mp.pskid, kf.mp.role, kf.mp.tcp_fail_event) == (
        "mkstls/pskid",
        "mkstls/role",
        "mkstls/tcpfail",
    )
    assert KeyFile().mp.psk == "mkstls/psk"


def test_profile_mp_errors_name_the_line() -> None:
    e = _error('[profile.mp]\npsk = "mkstls/psk"\npsk_id = "mkstls/pskid"\n')
    assert e.line == 3
    assert e.message.startswith("[profile.mp]: unknown Mp profile key 'psk_id' (known: psk, ")
    e = _error('[profile.mp]\n\nrole = "role"\n')
    assert (e.line, e.message) == (
        3,
        "[profile.mp]: Mp profile role must be a package/item name, not 'role'",
    )
    assert _error('[profile.mp]\nrole = "mkstls/2role"\n').line == 2


def test_dumps_writes_what_parse_reads() -> None:
    kf = KeyFile(
        kms=(KmsKey("kms.example.org", bytes(range(16))),),
        psk=(PskKey('sip:"odd"@example.org', b"\x01\x02"),),
        tek=(TekKey(b"\xaa" * 16), TekKey(b"\xbb" * 16, "mikey:01020304:01")),
        conference=Conference("sip:conf1@conf.example.org", ("sip:alice@example.org",)),
        profile={"tls_prot_type": 2, "bfcp_tls_client": "offerer"},
        esp=(
            EspSa(0x1234, "aes-cbc", "hmac-sha1-96", b"\x11" * 16, b"\x22" * 20),
            EspSa(7, "aes-gcm", "none", b"\x33" * 20),
        ),
        mp_profile={"psk": "mkstls/psk", "role": "mkstls/role"},
    )
    again = KeyFile.parse(kf.dumps("a comment\nover two lines"))
    assert again.warnings == ("<keys>:10: [[psk]] #1 key is 2 bytes, under 16: is it whole?",)
    assert dataclasses.replace(again, warnings=()) == kf


def test_dumps_layout_is_the_synthesizers() -> None:
    # the layout of pcaps/demo-keys.toml, written by hand
    kf = KeyFile(
        kms=(KmsKey("kms.example.org", b"\x0f" * 2),),
        psk=(PskKey("sip:alice@example.org", b"\x05"),),
        conference=Conference("sip:c@x", ("sip:a@x", "sip:b@x")),
    )
    assert kf.dumps("keys") == (
        '# keys\n\n[[kms]]\nuri = "kms.example.org"\nmaster_key = "0f0f"\n\n'
        '[[psk]]\nidentity = "sip:alice@example.org"\nkey = "05"\n\n'
        '[conference]\nuri = "sip:c@x"\nauthorized = ["sip:a@x", "sip:b@x"]\n'
    )


@pytest.mark.parametrize(
    ("text", "key", "identity"),
    [
        ("00ff", b"\x00\xff", None),
        ("0x00FF:mikey:01020304:01", b"\x00\xff", "mikey:01020304:01"),  # the identity may hold ':'
    ],
)
def test_psk_text(text: str, key: bytes, identity: str | None) -> None:
    assert parse_psk(text) == TekKey(key, identity)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--psk: the key is empty"),
        (":id", "--psk: the key is empty"),
        ("abc", "--psk: the key is not an even number of hex digits"),
        ("12345g", "--psk: the key is not an even number of hex digits"),
    ],
)
def test_psk_follows_the_key_files_rule_and_never_echoes_digits(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_psk(text)
    assert str(e.value) == message
    # the key file says the same of the same text
    assert _error(f'[[tek]]\nkey = "{text.partition(":")[0]}"\n').message.endswith(
        message.removeprefix("--psk: the key ")
    )
