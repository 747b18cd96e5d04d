"""Erlang/OTP megaco as an independent H.248 decoder: runs megaco_summary.escript and
writes the same one-line summary of our own parse, so a test compares the two.

The summary format is defined by the escript (version, mId, per transaction its kind and
id, per action the Annex A context number, per command the name, termination ids and the
Mp-relevant details: Local/Remote SDP group counts, LocalControl properties, Events,
ObservedEvents, errors). Names and values are lower-cased because megaco lower-cases them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mikeyshark.dissectors.h248.model import (
    Command,
    ErrorDescriptor,
    EventsDescriptor,
    Item,
    MediaDescriptor,
    MegacoMessage,
    Mid,
    MidKind,
    ObservedEventsDescriptor,
    SegmentReply,
    StreamDescriptor,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
    TransactionResponseAck,
    Value,
)
from tests.support.tools import require_tool

ESCRIPT = Path(__file__).with_name("megaco_summary.escript")


def require_megaco() -> str:
    """Path of escript with megaco installed; skip when absent, fail on CI (.ci/run)."""
    path = require_tool("escript")
    if not list(Path("/usr/lib/erlang/lib").glob("megaco-*")):
        if os.environ.get("CI"):
            pytest.fail("erlang-megaco is required on CI (.ci/run installs it)")
        pytest.skip("Erlang/OTP megaco not installed (apt-get install erlang-megaco)")
    return path


def run(args: list[str], messages: list[bytes]) -> list[str]:
    """One output line of the escript per message."""
    escript = require_megaco()
    stdin = "".join(m.hex() + "\n" for m in messages)
    out = subprocess.run(
        [escript, str(ESCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert len(out) == len(messages), out[-3:]
    return out


def erlang_summaries(messages: list[bytes]) -> list[str]:
    return run(["summary"], messages)


def erlang_encode(fmt: str, messages: list[bytes]) -> list[bytes | str]:
    """Each message decoded and re-encoded by megaco (``pretty``, ``compact``, ``ber``);
    an error line is returned as text."""
    return [
        bytes.fromhex(line) if not line.startswith("error") else line
        for line in run(["encode", fmt], messages)
    ]


# ---------------------------------------------------------------------------- our side

_MODES = {
    "SendReceive": "sendrecv",
    "ReceiveOnly": "recvonly",
    "SendOnly": "sendonly",
    "Inactive": "inactive",
    "Loopback": "loopback",
}


def _mid(m: Mid) -> str:
    port = f":{m.port}" if m.port is not None else ""
    if m.kind == MidKind.IPV4:
        return f"[{m.address}]{port}"
    if m.kind == MidKind.DOMAIN:
        return f"<{m.address.lower()}>{port}"
    return m.address.lower()


def _value(v: Value | None) -> str:
    return "&".join(x.strip('"') for x in v.items).lower() if v is not None else ""


def _prop(i: Item) -> str:
    return f"{i.name.lower()}={_value(i.value)}"


def _err(e: ErrorDescriptor) -> str:
    return str(e.code)


def _stream(s: StreamDescriptor) -> str:
    out = "s-" if s.stream_id is None else f"s{s.stream_id}"
    lc = s.local_control
    if lc is not None:
        mode = [f"mo={_MODES[lc.mode]}"] if lc.mode else []
        out += ":O[" + ",".join(mode + sorted(_prop(p) for p in lc.properties)) + "]"
    if s.local is not None:
        out += f":L{len(s.local.sessions)}"
    if s.remote is not None:
        out += f":R{len(s.remote.sessions)}"
    return out


def _details(c: Command) -> str:
    parts: list[str] = []
    for d in c.descriptors:
        if isinstance(d, MediaDescriptor):
            parts.extend(_stream(s) for s in d.streams)
        elif isinstance(d, EventsDescriptor):
            parts.append(f"E{d.request_id}:" + ",".join(e.name.lower() for e in d.events))
        elif isinstance(d, ObservedEventsDescriptor):
            evs = []
            for e in d.events:
                ps = ",".join(_prop(p) for p in e.parms)
                evs.append(e.name.lower() + (f"({ps})" if ps else ""))
            parts.append(f"OE{d.request_id}:" + ",".join(evs))
        elif isinstance(d, ErrorDescriptor):
            parts.append(f"error {_err(d)}")
    return "{" + ";".join(parts) + "}" if parts else ""


def _command(c: Command, request: bool) -> str:
    tids = "&".join(t.lower() for t in c.termination_ids)
    if c.context_audit:
        err = c.error
        return f"{c.name}=Context{{error {err.code}}}" if err else f"{c.name}=Context:{tids}"
    head = f"{c.name}={tids}"
    if c.name in ("AuditValue", "AuditCapability", "ServiceChange") or (
        request and c.name == "Subtract"
    ):
        return head
    if c.name == "Notify" and not request:
        err = c.error
        return head + (f"{{error {err.code}}}" if err else "")
    return head + _details(c)


def summary(m: MegacoMessage) -> str:
    out = f"{m.version} {_mid(m.mid)}"
    if m.error is not None:
        return out + f" | error {_err(m.error)}"
    for t in m.transactions:
        if isinstance(t, TransactionRequest):
            out += f" | req {t.id}"
            for a in t.actions:
                out += f" / C={a.context_number}" + "".join(
                    " + " + _command(c, True) for c in a.commands
                )
        elif isinstance(t, TransactionReply):
            out += f" | rep {t.id}"
            if t.error is not None:
                out += f" error {_err(t.error)}"
            for a in t.actions:
                out += f" / C={a.context_number}" + "".join(
                    " + " + _command(c, False) for c in a.commands
                )
                if a.error is not None:
                    out += f" error {_err(a.error)}"
        elif isinstance(t, TransactionPending):
            out += f" | pend {t.id}"
        elif isinstance(t, TransactionResponseAck):
            out += " | ack " + ",".join(f"{a}-{b}" if b is not None else str(a) for a, b in t.acks)
        elif isinstance(t, SegmentReply):
            out += f" | seg {t.id}"
    return out
