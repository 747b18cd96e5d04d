"""The report: the judged calls of an analysis, with the keys it used.

The evidence itself (calls, m-lines, check results) is :mod:`mikeyshark.evidence`; a report
adds what only a reader of the whole analysis needs: the captures, the key table and whether
keys may be shown.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# The evidence, re-exported for the tests that still import it from here.
from mikeyshark.decrypt import DecodedConnection
from mikeyshark.evidence import (
    CallRecord,
    CaptureInfo,
    ChatEntry,
    CheckResult,
    FloorStep,
    KeyStatus,
    KmsLeg,
    LadderEvent,
    MediaMessage,
    MediaRecord,
    MikeyInfo,
    SdpMedia,
    Status,
    TcpInfo,
    TlsInfo,
    TreeNode,
    Verdict,
)


def fingerprint(secret: bytes) -> str:
    """What the report shows instead of a key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(secret).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One key of the key table: configured (KMS master key, PSK, TEK) or recovered (TEK)."""

    kind: str
    identity: str
    secret: bytes
    note: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.secret)


@dataclass(slots=True)
class Report:
    version: str
    captures: list[CaptureInfo] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    keys: list[KeyRow] = field(default_factory=list)
    reveal_keys: bool = False
    # the TLS connections bound to m-lines, with their secrets and plaintext: what the key
    # log and decrypted-capture exports write (no report shows them)
    connections: list[DecodedConnection] = field(default_factory=list, repr=False)

    def compliant(self, *, strict: bool = False) -> bool:
        """No call failed a rule; ``strict``: at least one call, and every call passed (an
        incomplete call, with rules not observed, is then a finding too)."""
        if strict:
            return bool(self.calls) and all(c.verdict is Verdict.PASS for c in self.calls)
        return not any(c.verdict is Verdict.FAIL for c in self.calls)

    @property
    def exit_code(self) -> int:
        """Kept for the tests that still ask for it: 0 compliant, 1 findings."""
        return 0 if self.compliant() else 1


# the names of this module, and (for one step) the ones it re-exports
__all__ = [
    "CallRecord",
    "CaptureInfo",
    "ChatEntry",
    "CheckResult",
    "FloorStep",
    "KeyRow",
    "KeyStatus",
    "KmsLeg",
    "LadderEvent",
    "MediaMessage",
    "MediaRecord",
    "MikeyInfo",
    "Report",
    "SdpMedia",
    "Status",
    "TcpInfo",
    "TlsInfo",
    "TreeNode",
    "Verdict",
    "fingerprint",
]
