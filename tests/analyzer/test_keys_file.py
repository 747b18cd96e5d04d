"""mikeyshark.keys.KeyFile: the key-file contract of DESIGN.md, errors naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mikeyshark.keys import Conference, KeyFile, KeyFileError, KmsKey, PskKey, TekKey

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
    assert kf.conference == Conference(
        "sip:conf1@conf.example.org", ("sip:alice@example.org", "sip:bob@example.org")
    )
    assert kf.tls_prot_type == 7
    assert kf.warnings == ()


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
