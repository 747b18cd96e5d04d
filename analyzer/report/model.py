"""The report: the judged calls of an analysis, with the keys it used.

The evidence itself (calls, m-lines, check results) is :mod:`mikeyshark.evidence`; a report
adds what only a reader of the whole analysis needs: the captures, the key table and whether
keys may be shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from mikeyshark.decrypt import DecodedConnection
from mikeyshark.dissectors.secret import fingerprint
from mikeyshark.evidence import CallRecord, CaptureInfo, Status, UnboundMedia, Verdict


def unbound_key_text(u: UnboundMedia, reveal: bool) -> str:
    """What opened a connection no call claims, and what proved the PSK, in one line."""
    psk = ""
    if u.psk is not None:
        shown = u.psk.hex() if reveal else fingerprint(u.psk)
        psk = f"PSK {shown} ({u.psk_label}) proven by {u.tls.oracle}"
    if u.opened_by == "key log":
        return "key log" + (f"; {psk}" if psk else f", {u.tls.oracle}")
    if u.opened_by == "psk":
        return psk
    if psk:
        return f"{psk}; not opened: {u.not_opened}"
    return f"not opened: {u.not_opened or 'no key'}"


class CallTally(NamedTuple):
    """What the summaries of the reports count of a call."""

    verdict: Verdict
    scenario: str
    failing: tuple[str, ...]  # the rules it failed, each once


def tally_of(call: CallRecord) -> CallTally:
    failed = (c.rule for c in call.checks if c.status is Status.FAIL)
    return CallTally(call.verdict, call.scenario, tuple(dict.fromkeys(failed)))


@runtime_checkable
class Judged(Protocol):
    """Calls whose verdicts and summary tallies are known without reading the calls (those
    read back from a spool one at a time: :class:`mikeyshark.spool.SpooledCalls`)."""

    @property
    def tallies(self) -> Sequence[CallTally]: ...


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
    # in the report's order: a list (mikeyshark.analyze), or read back from a spool one
    # at a time (the command line's streamed reports, mikeyshark.spool)
    calls: Sequence[CallRecord] = field(default_factory=list)
    keys: list[KeyRow] = field(default_factory=list)
    reveal_keys: bool = False
    # the TLS connections bound to m-lines, with their secrets and plaintext: what the key
    # log and decrypted-capture exports write (no report shows them)
    connections: list[DecodedConnection] = field(default_factory=list, repr=False)
    # the TLS connections no call claims (media without signalling), in capture order
    unbound_media: list[UnboundMedia] = field(default_factory=list)

    def verdicts(self) -> Sequence[Verdict]:
        """The verdict of each call, in the report's order."""
        calls = self.calls
        if isinstance(calls, Judged):
            return [t.verdict for t in calls.tallies]
        return [c.verdict for c in calls]

    def compliant(self, *, strict: bool = False) -> bool:
        """No call failed a rule; ``strict``: at least one call, and every call passed (an
        incomplete call, with rules not observed, is then a finding too)."""
        verdicts = self.verdicts()
        if strict:
            return bool(verdicts) and all(v is Verdict.PASS for v in verdicts)
        return Verdict.FAIL not in verdicts
