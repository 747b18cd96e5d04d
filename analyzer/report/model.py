"""The report: the judged calls of an analysis, with the keys it used.

The evidence itself (calls, m-lines, check results) is :mod:`mikeyshark.evidence`; a report
adds what only a reader of the whole analysis needs: the captures, the key table and whether
keys may be shown.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# The evidence, re-exported for the tests that still import it from here.
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

    @property
    def exit_code(self) -> int:
        """DESIGN.md: 0 every call compliant, 1 at least one rule failed (2 is the CLI's)."""
        return 1 if any(c.verdict is Verdict.FAIL for c in self.calls) else 0


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
