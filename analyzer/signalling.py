"""What the SIP of a call says about the call as a whole, added to its report entry: how the
signalling was read (in the clear, or decrypted from SIP over TLS) and how the initial
INVITE ended - a call rejected, cancelled or never answered has no media to judge, and the
report says so instead of leaving only rules that saw nothing."""

from __future__ import annotations

from collections.abc import Iterable

from mikeyshark.calls import CallTracker
from mikeyshark.evidence import CallRecord, Signalling
from mikeyshark.model import Problem, Severity


def annotate_calls(calls: Iterable[CallRecord], tracker: CallTracker) -> None:
    for c in calls:
        tc = tracker.calls.get(c.call_id)
        if tc is None:
            continue
        if any(r.transport == "TLS" for r in tc.records):
            c.signalling = Signalling.TLS
        # The first message that came through a tunnel names it (a probe on N3 may also see
        # the call's SIP again beyond the UPF, outside any tunnel).
        c.tunnel = next((r.tunnel for r in tc.records if r.tunnel is not None), None)
        outcome = tc.outcome
        if outcome is None:
            continue
        c.outcome = str(outcome)
        if not outcome.reached_media:
            c.problems.append(
                Problem(
                    "sip",
                    f"the call never reached media: {outcome}",
                    outcome.frame,
                    field="status",
                    severity=Severity.WARNING,
                )
            )
