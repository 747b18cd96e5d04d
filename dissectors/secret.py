"""How a secret is shown: by a fingerprint, in full only when the user asks for it.

Every output (the dissect view, ``keys resolve``, the terminal, JSON and HTML reports) names a
key by the same fingerprint, so one key can be followed from one output to the next.
"""

from __future__ import annotations

import hashlib


def fingerprint(key: bytes) -> str:
    """``sha256:`` and the first 8 hex digits of the key's SHA-256: names it, reveals nothing."""
    return "sha256:" + hashlib.sha256(key).hexdigest()[:8]


def show_key(key: bytes, reveal: bool) -> str:
    """The key in hex when ``reveal``, else its fingerprint and length."""
    return key.hex() if reveal else f"{fingerprint(key)} ({len(key)} bytes)"
