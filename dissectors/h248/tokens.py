"""H.248.1 Annex B tokens (RFC 3525 section B.2 and its version 2/3 additions): long and
short forms, matched case-insensitively; the builder writes the long form.

A word is a token only where the grammar expects one: ``ds`` is the Discard token in a
buffer control but the digit string parameter of ``dd/ce`` (RFC 3525 Appendix A). So the
parser canonicalises a name only against the token set of its position (the frozensets
below), never globally.
"""

from __future__ import annotations

from collections.abc import Iterable

# (long form, short form or None). Version 2/3 tokens included; none of them clashes with a
# version 1 token.
_TOKENS: tuple[tuple[str, str | None], ...] = (
    ("Add", "A"),
    ("ANDLgc", None),
    ("Audit", "AT"),
    ("AuditCapability", "AC"),
    ("AuditValue", "AV"),
    ("Authentication", "AU"),
    ("Both", "B"),
    ("Bothway", "BW"),
    ("Brief", "BR"),
    ("Buffer", "BF"),
    ("Context", "C"),
    ("ContextAttr", "CT"),
    ("ContextAudit", "CA"),
    ("ContextList", "CLT"),
    ("Delay", "DL"),
    ("DigitMap", "DM"),
    ("Discard", "DS"),
    ("Disconnected", "DC"),
    ("Duration", "DR"),
    ("Embed", "EM"),
    ("Emergency", "EG"),
    ("EmergencyOff", "EGO"),
    ("EmergencyValue", "EGV"),
    ("END", "&"),
    ("Error", "ER"),
    ("EventBuffer", "EB"),
    ("Events", "E"),
    ("External", "EX"),
    ("Failover", "FL"),
    ("Forced", "FO"),
    ("Graceful", "GR"),
    ("H221", None),
    ("H223", None),
    ("H226", None),
    ("HandOff", "HO"),
    ("IEPSCall", "IEPS"),
    ("ImmAckRequired", "IA"),
    ("ImmediateNotify", "NBIN"),
    ("Inactive", "IN"),
    ("InService", "IV"),
    ("IntByEvent", "IBE"),
    ("IntBySigDescr", "IBS"),
    ("Internal", "IT"),
    ("Intersignal", "SPAIS"),
    ("Isolate", "IS"),
    ("Iteration", "IR"),
    ("KeepActive", "KA"),
    ("Local", "L"),
    ("LocalControl", "O"),
    ("LockStep", "SP"),
    ("Loopback", "LB"),
    ("Media", "M"),
    ("Method", "MT"),
    ("MgcIdToTry", "MG"),
    ("Mode", "MO"),
    ("Modem", "MD"),
    ("Modify", "MF"),
    ("Move", "MV"),
    ("MTP", None),
    ("Mux", "MX"),
    ("NeverNotify", "NBNN"),
    ("Notify", "N"),
    ("NotifyCompletion", "NC"),
    ("Nx64Kservice", "N64"),
    ("ObservedEvents", "OE"),
    ("OFF", None),
    ("ON", None),
    ("OnOff", "OO"),
    ("Oneway", "OW"),
    ("OnewayBoth", "OWB"),
    ("OnewayExternal", "OWE"),
    ("ORLgc", None),
    ("OtherReason", "OR"),
    ("OutOfService", "OS"),
    ("Packages", "PG"),
    ("Pending", "PN"),
    ("Priority", "PR"),
    ("Profile", "PF"),
    ("Reason", "RE"),
    ("ReceiveOnly", "RC"),
    ("RegulatedNotify", "NBRN"),
    ("Remote", "R"),
    ("Reply", "P"),
    ("ReservedGroup", "RG"),
    ("ReservedValue", "RV"),
    ("ResetEventsDescriptor", "RSE"),
    ("Restart", "RS"),
    ("Segment", "SM"),
    ("SendOnly", "SO"),
    ("SendReceive", "SR"),
    ("ServiceChange", "SC"),
    ("ServiceChangeAddress", "AD"),
    ("ServiceChangeInc", "SIC"),
    ("Services", "SV"),
    ("ServiceStates", "SI"),
    ("SignalList", "SL"),
    ("Signals", "SG"),
    ("SignalType", "SY"),
    ("SPADirection", "SPADI"),
    ("SPARequestID", "SPARQ"),
    ("Statistics", "SA"),
    ("Stream", "ST"),
    ("Subtract", "S"),
    ("SynchISDN", "SN"),
    ("TerminationState", "TS"),
    ("Test", "TE"),
    ("TimeOut", "TO"),
    ("Topology", "TP"),
    ("Transaction", "T"),
    ("TransactionResponseAck", "K"),
    ("V18", None),
    ("V22", None),
    ("V22b", None),
    ("V32", None),
    ("V32b", None),
    ("V34", None),
    ("V76", None),
    ("V90", None),
    ("V91", None),
    ("Version", "V"),
)

_BY_UPPER: dict[str, str] = {}
SHORT: dict[str, str] = {}
for _long, _short in _TOKENS:
    _BY_UPPER[_long.upper()] = _long
    if _short is not None:
        _BY_UPPER[_short.upper()] = _long
        SHORT[_long] = _short
LONG: frozenset[str] = frozenset(long for long, _ in _TOKENS)


def canonical(word: str) -> str | None:
    """The long form of a token written in either form and any case, else None."""
    return _BY_UPPER.get(word.upper())


def in_set(word: str, allowed: frozenset[str]) -> str | None:
    """The long form when ``word`` is a token of ``allowed`` (a set of long forms)."""
    c = _BY_UPPER.get(word.upper())
    return c if c is not None and c in allowed else None


def tokens(*names: str) -> frozenset[str]:
    out = frozenset(names)
    unknown = out - LONG
    if unknown:
        raise ValueError(f"not tokens: {sorted(unknown)}")
    return out


def union(*sets: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for s in sets:
        out.update(s)
    return frozenset(out)


# ---- token sets by grammar position (long forms)
COMMANDS = tokens(
    "Add", "Modify", "Move", "Subtract", "AuditValue", "AuditCapability", "Notify", "ServiceChange"
)
CONTEXT_PROPERTIES = tokens(
    "Topology",
    "Priority",
    "Emergency",
    "EmergencyOff",
    "IEPSCall",
    "ContextAttr",
    "ContextAudit",
    "ContextList",
)
CONTEXT_AUDIT_ITEMS = tokens(
    "Topology", "Emergency", "Priority", "IEPSCall", "ANDLgc", "ORLgc", "EmergencyValue"
)
STREAM_MODES = tokens("SendOnly", "ReceiveOnly", "SendReceive", "Inactive", "Loopback")
ON_OFF = tokens("ON", "OFF")
SIGNAL_PARAMS = tokens(
    "Stream",
    "SignalType",
    "Duration",
    "NotifyCompletion",
    "KeepActive",
    "SPADirection",
    "SPARequestID",
    "Intersignal",
)
EVENT_PARAMS = tokens(
    "Stream",
    "KeepActive",
    "Embed",
    "DigitMap",
    "ResetEventsDescriptor",
    "ImmediateNotify",
    "NeverNotify",
    "RegulatedNotify",
)
EMBED_ITEMS = tokens("Signals", "Events")
SERVICE_CHANGE_PARAMS = tokens(
    "Method",
    "Reason",
    "Delay",
    "ServiceChangeAddress",
    "Profile",
    "MgcIdToTry",
    "Version",
    "ServiceChangeInc",
)
TERMINATION_STATE_PARAMS = tokens("ServiceStates", "Buffer")
TOPOLOGY_ITEMS = tokens("Bothway", "Isolate", "Oneway", "OnewayBoth", "OnewayExternal", "Stream")
# Values that are tokens, by the (long) name of the parameter they are the value of.
VALUE_TOKENS: dict[str, frozenset[str]] = {
    "Mode": STREAM_MODES,
    "ReservedValue": ON_OFF,
    "ReservedGroup": ON_OFF,
    "IEPSCall": ON_OFF,
    "SignalType": tokens("OnOff", "TimeOut", "Brief"),
    "NotifyCompletion": tokens(
        "TimeOut", "IntByEvent", "IntBySigDescr", "OtherReason", "Iteration"
    ),
    "SPADirection": tokens("External", "Internal", "Both"),
    "ServiceStates": tokens("Test", "OutOfService", "InService"),
    "Buffer": tokens("OFF", "LockStep"),
    "Method": tokens("Failover", "Forced", "Graceful", "Restart", "Disconnected", "HandOff"),
}

__all__ = [
    "COMMANDS",
    "CONTEXT_AUDIT_ITEMS",
    "CONTEXT_PROPERTIES",
    "EMBED_ITEMS",
    "EVENT_PARAMS",
    "LONG",
    "ON_OFF",
    "SERVICE_CHANGE_PARAMS",
    "SHORT",
    "SIGNAL_PARAMS",
    "STREAM_MODES",
    "TERMINATION_STATE_PARAMS",
    "TOPOLOGY_ITEMS",
    "VALUE_TOKENS",
    "canonical",
    "in_set",
    "tokens",
    "union",
]
