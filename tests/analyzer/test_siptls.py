"""mikeyshark.siptls: the key log reader."""

from __future__ import annotations

from mikeyshark.keylog import KeyLog


def test_keylog_reader() -> None:
    cr = bytes(range(32))
    log = KeyLog.parse(
        "# a comment\n"
        f"CLIENT_RANDOM {cr.hex()} {'ab' * 48}\n"
        f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {'11' * 32} {'01' * 32}\n"
        "RSA 0011 2233\n"
    )
    assert log.master_secret(cr) == b"\xab" * 48
    assert log.master_secret(b"\x11" * 32) is None
    assert log.tls13_secrets(b"\x11" * 32) is None  # incomplete: no traffic secrets
    assert (log.lines, log.skipped) == (2, 1)
