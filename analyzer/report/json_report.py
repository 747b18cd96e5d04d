"""The JSON report (its contract: analyzer/schema/report.schema.json).

Written as a stream: one call at a time is turned into JSON and written, so the text of the
whole report (hundreds of calls with every MSRP and BFCP message) is never held in memory.
The bytes are those ``json.dumps(document, indent=2)`` would give for the whole document.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any, TextIO

from mikeyshark.checks.rules import RULES
from mikeyshark.dissectors.secret import fingerprint
from mikeyshark.evidence import (
    CallRecord,
    CaptureInfo,
    CheckResult,
    MediaMessage,
    MediaRecord,
    MikeyInfo,
    MpTermination,
    SdpMedia,
    Status,
    UnboundMedia,
    Verdict,
)
from mikeyshark.model import Endpoint, Severity, Tunnel
from mikeyshark.report.model import CallTally, Judged, Report, tally_of


def _ep(ep: Endpoint | None) -> str | None:
    return str(ep) if ep is not None else None


def _capture(c: CaptureInfo) -> dict[str, Any]:
    return {
        "path": c.path,
        "frames": c.frames,
        "errors": [
            {"frame": p.frame if p.frame is not None else 0, **_problem_extra(p.to_json())}
            for p in c.errors
        ],
    }


def _problem_extra(d: dict[str, object]) -> dict[str, object]:
    d = dict(d)
    d.pop("frame", None)
    return d


def _mikey(init: MikeyInfo | None, resp: MikeyInfo | None, m: MediaRecord) -> dict[str, Any] | None:
    if init is None:
        return None
    out: dict[str, Any] = {
        "init": init.data_b64,
        "resp": resp.data_b64 if resp is not None else None,
        "csb_id": init.csb_id,
        "ticket_opened": bool(m.key and m.key.ticket_opened),
        "init_frame": init.frame,
        "resp_frame": resp.frame if resp is not None else None,
        "data_type": init.data_type_name,
        "initiator": init.idr_i,
        "responder": init.idr_r,
        "kms": init.idr_kms,
    }
    if m.key is not None:
        out["opened_by"] = m.key.opened_by
        out["mode"] = m.key.mode
    return out


def _key(m: MediaRecord, reveal: bool) -> dict[str, Any]:
    k = m.key
    tek = k.tek if k is not None and k.recovered else None
    return {
        "recovered": bool(k and k.recovered),
        "oracle": k.oracle if k is not None and k.recovered else None,
        "tek": tek.hex() if tek is not None and reveal else None,
        "tek_fingerprint": fingerprint(tek) if tek is not None else None,
    }


def _mp_sdp(sd: SdpMedia | None) -> dict[str, Any] | None:
    if sd is None:
        return None
    return {
        "frame": sd.frame,
        "address": sd.address,
        "port": sd.port or None,
        "proto": sd.proto,
        "path": list(sd.path),
        "setup": sd.setup,
    }


def _mp(t: MpTermination, reveal: bool) -> dict[str, Any]:
    """``media[].mp``: the m-line's Mp termination, its transactions and what it was given."""
    c = t.configure
    psk = t.psk
    locals_ = t.reply_locals
    return {
        "context": t.context,
        "termination": t.termination,
        "mrfc": str(t.mrfc),
        "mrfp": str(t.mrfp),
        "transport": t.transport,
        "binary": t.binary,
        "bound_by": t.bound_by,
        "psk": psk.hex() if psk is not None and reveal else None,
        "psk_fingerprint": fingerprint(psk) if psk is not None else None,
        "pskid": c.pskid if c is not None else None,
        "role": c.role if c is not None else None,
        "setup": c.local.setup if c is not None and c.local is not None else None,
        "events": list(c.events) if c is not None else [],
        "observed": [
            {"frame": o.frame, "event": o.key, "name": o.name, "cause": o.cause} for o in t.observed
        ],
        "remote": _mp_sdp(t.remote),
        "local": _mp_sdp(locals_[-1] if locals_ else None),
        "connection_joined": t.connection_joined,
        "transactions": [
            {
                "transaction_id": tx.transaction_id,
                "command": tx.command,
                "requester": str(tx.requester),
                "request_frame": tx.request_frame,
                "reply_frame": tx.reply_frame,
                "pending_frames": tx.pending_frames,
                "repeat_frames": tx.repeat_frames,
                "error": tx.error,
            }
            for tx in t.transactions
        ],
    }


def _media(m: MediaRecord, reveal: bool, lazy: bool = False) -> dict[str, Any]:
    tcp = (
        {
            "client": str(m.tcp.client),
            "server": str(m.tcp.server),
            "syn_frame": m.tcp.syn_frame,
            "bound_by": m.tcp.bound_by.value,
        }
        if m.tcp is not None
        else None
    )
    tls = (
        {
            "version": m.tls.version,
            "cipher_suite": m.tls.cipher_suite,
            "client": _ep(m.tls.client),
            "psk_identity": m.tls.psk_identity,
            "decrypted": m.tls.decrypted,
        }
        if m.tls is not None
        else None
    )
    out = {
        "index": m.index,
        "protocol": m.protocol.value,
        "proto": m.proto,
        "mikey": _mikey(m.init, m.resp, m),
        "key": _key(m, reveal),
        "tcp": tcp,
        "tls": tls,
        "messages": _Messages(m.messages) if lazy else _messages(m.messages),
    }
    if m.mp is not None:  # only a capture at the MRF has it: the UE's reports stay as they were
        out["mp"] = _mp(m.mp, reveal)
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.hex()
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def _tunnel(t: Tunnel | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"teid": t.teid, "outer_src": t.outer_src, "outer_dst": t.outer_dst, "qfi": t.qfi}


def call_json(c: CallRecord, reveal: bool) -> dict[str, Any]:
    return _call_json(c, reveal, False)


def _call_json(c: CallRecord, reveal: bool, lazy: bool) -> dict[str, Any]:
    """``lazy``: the m-lines' messages as :class:`_Messages`, for :func:`_encode` alone."""
    out: dict[str, Any] = {
        "call_id": c.call_id,
        "scenario": c.scenario,
        "offerer": c.from_uri or _ep(c.offerer) or "",
        "answerer": c.to_uri or _ep(c.answerer) or "",
        "verdict": c.verdict.value,
        "capture": c.capture,
        "offerer_address": _ep(c.offerer),
        "answerer_address": _ep(c.answerer),
        "invite_frame": c.invite_frame,
        "answer_frame": c.answer_frame,
        "signalling": c.signalling.value,
        "outcome": c.outcome,
        "tunnel": _tunnel(c.tunnel),
        "media": [_media(m, reveal, lazy) for m in c.media],
        "checks": _Checks(c.checks) if lazy else [_check(r) for r in c.checks],
    }
    w = c.wireshark_check
    if w is not None:  # only with --wireshark-check
        out["wireshark_check"] = {
            "status": w.status,
            "tshark": w.tshark,
            "compared": dict(w.compared),
            "differences": [
                {"frame": d.frame, "what": d.what, "ours": d.ours, "wireshark": d.wireshark}
                for d in w.differences
            ],
            "note": w.note,
        }
    return out


def _check(r: CheckResult) -> dict[str, Any]:
    return {
        "rule": r.rule,
        "status": r.status.value,
        "frames": list(r.frames),
        "message": r.message,
        "severity": r.severity.value,
    }


class _Checks:
    """``checks`` for :func:`_encode` to write as :func:`_check` gives them, each in one
    piece (a call has one per rule)."""

    __slots__ = ("checks",)

    def __init__(self, checks: list[CheckResult]) -> None:
        self.checks = checks

    def encode(self, nl: str, out: list[str]) -> None:
        if not self.checks:
            out.append("[]")
            return
        inner = nl + "  "
        deeper = inner + "  "
        deepest = deeper + "  "
        rule_, status_ = "{" + deeper + '"rule": ', "," + deeper + '"status": '
        frames_, message_ = "," + deeper + '"frames": ', "," + deeper + '"message": '
        severity_, between = "," + deeper + '"severity": ', "," + deepest
        sep = "[" + inner
        for r in self.checks:
            frames = r.frames
            if (
                type(r.rule) is str
                and type(r.message) is str
                and type(r.status) is Status
                and type(r.severity) is Severity
                and (all(type(f) is int for f in frames) if len(frames) > 1 else _ints(frames))
            ):
                key = (inner, r.rule, r.status, r.severity)
                text = _CHECK_TEXT.get(key)
                if text is None:
                    text = _check_text(key, rule_, status_, frames_, severity_)
                listed = (
                    "[" + deepest + between.join(map(int.__repr__, frames)) + deeper + "]"
                    if frames
                    else "[]"
                )
                head, tail = text
                out.append(sep + head + listed + message_ + _escape(r.message) + tail)
            else:
                out.append(sep)
                _encode(_check(r), inner, out)
            sep = "," + inner
        out.append(nl + "]")


# A check's text around its frames and message, by (indentation, rule, status, severity):
# a report's checks are its rules' results, each rule with a few statuses. Bounded: emptied
# when full.
_CHECK_TEXT: dict[tuple[str, str, Status, Severity], tuple[str, str]] = {}
MAX_CHECK_TEXTS = 1024


def _check_text(
    key: tuple[str, str, Status, Severity], rule_: str, status_: str, frames_: str, severity_: str
) -> tuple[str, str]:
    """The text of ``key``: up to the frames, and after the message."""
    inner, rule, status, severity = key
    head = rule_ + _escape(rule) + status_ + _escape(status.value) + frames_
    text = head, severity_ + _escape(severity.value) + inner + "}"
    if len(_CHECK_TEXT) >= MAX_CHECK_TEXTS:
        _CHECK_TEXT.clear()
    _CHECK_TEXT[key] = text
    return text


def _ints(frames: tuple[int, ...]) -> bool:
    """Whether an empty or one-frame tuple holds ints alone (not a bool)."""
    return not frames or type(frames[0]) is int


def _messages(messages: Iterable[MediaMessage]) -> list[dict[str, Any]]:
    return [{**_jsonable(m.fields), "frame": m.frame, "from": str(m.src)} for m in messages]


class _Messages:
    """``media[].messages`` for :func:`_encode` to write as :func:`_messages` gives them,
    without the intermediate dicts (a report's messages are most of its values)."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[MediaMessage]) -> None:
        self.messages = messages

    def encode(self, nl: str, out: list[str]) -> None:
        if not self.messages:
            out.append("[]")
            return
        inner = nl + "  "
        deeper = inner + "  "
        frame_ = deeper + '"frame": '
        from_ = "," + deeper + '"from": '
        keys: dict[str, str] = {}  # each key as written at this depth (the messages share them)
        sep = "[" + inner
        for m in self.messages:
            f = m.fields
            start = len(out)
            out.append(sep + "{")
            if "frame" in f or "from" in f or not _plain_fields(f, keys, deeper, out):
                del out[start:]  # keys the merge or str() would fold: as _messages does
                out.append(sep)
                _encode({**_jsonable(f), "frame": m.frame, "from": str(m.src)}, inner, out)
            else:
                tail = from_ + _escape(str(m.src)) + inner + "}"
                if type(m.frame) is int:
                    out.append(frame_ + int.__repr__(m.frame) + tail)
                else:
                    out.append(frame_)
                    _encode(m.frame, deeper, out)
                    out.append(tail)
            sep = "," + inner
        out.append(nl + "]")


def _plain_fields(f: dict[str, Any], keys: dict[str, str], nl: str, out: list[str]) -> bool:
    """A message's fields, each as ``nl"key": value,`` (``keys``: the keys' text, kept
    across messages); False, with part of them written, at a key that is not a string."""
    for k, v in f.items():
        kt = keys.get(k)
        if kt is None:
            if type(k) is not str:
                return False
            kt = keys[k] = nl + _escape(k) + ": "
        t = type(v)
        if t is str:
            out.append(kt + _escape(v) + ",")
        elif v is None:
            out.append(kt + "null,")
        elif t is int:
            out.append(kt + int.__repr__(v) + ",")
        else:
            out.append(kt)
            _encode_jsonable(v, nl, out)
            out.append(",")
    return True


def _encode_jsonable(o: Any, nl: str, out: list[str]) -> None:
    """``_encode(_jsonable(o), nl, out)`` in one walk: the containers are walked here without
    the copies ``_jsonable`` makes of them; anything else is what ``_jsonable`` makes it."""
    t = type(o)
    if t is str:  # the commonest values first, as _jsonable and _encode write them
        out.append(_escape(o))
    elif o is None:
        out.append("null")
    elif t is int:
        out.append(int.__repr__(o))
    elif o is True or o is False:
        out.append("true" if o else "false")
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        for k in o:
            if type(k) is not str:  # str() may fold two keys into one
                _encode(_jsonable(o), nl, out)
                return
        inner = nl + "  "
        sep = "{" + inner
        for k, v in o.items():
            t = type(v)
            if t is str:  # the commonest values in one piece, without a call
                out.append(sep + _escape(k) + ": " + _escape(v))
            elif t is int:
                out.append(sep + _escape(k) + ": " + int.__repr__(v))
            else:
                out.append(sep + _escape(k) + ": ")
                _encode_jsonable(v, inner, out)
            sep = "," + inner
        out.append(nl + "}")
    elif isinstance(o, list | tuple):
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in o:
            if type(v) is str:  # (a list of names: no call for each)
                out.append(sep + _escape(v))
            else:
                out.append(sep)
                _encode_jsonable(v, inner, out)
            sep = "," + inner
        out.append(nl + "]")
    else:
        _encode(_jsonable(o), nl, out)


def unbound_json(u: UnboundMedia, reveal: bool) -> dict[str, Any]:
    """One TLS connection no call claims (``unbound_media``)."""
    return {
        "capture": u.capture,
        "client": str(u.tcp.client),
        "server": str(u.tcp.server),
        "syn_frame": u.tcp.syn_frame,
        "first_frame": u.first_frame,
        "last_frame": u.last_frame,
        "data_frames": u.data_frames,
        "tls": {
            "version": u.tls.version,
            "cipher_suite": u.tls.cipher_suite,
            "client": _ep(u.tls.client),
            "psk_identity": u.tls.psk_identity,
            "tls13_mode": u.tls13_mode,
            "decrypted": u.tls.decrypted,
        },
        "key": {
            "opened_by": u.opened_by,
            "oracle": u.tls.oracle,
            "psk_verified": u.tls.key_verified,
            "psk_label": u.psk_label,
            "psk": u.psk.hex() if u.psk is not None and reveal else None,
            "psk_fingerprint": fingerprint(u.psk) if u.psk is not None else None,
        },
        "not_opened": u.not_opened,
        "protocol": u.protocol.value if u.protocol is not None else None,
        "messages": _messages(u.messages),
        "problems": [p.to_json() for p in u.problems],
    }


_RULE_ORDER = {r.id: i for i, r in enumerate(RULES)}


class Summary:
    """The report's ``summary``, counted call by call as the calls are written."""

    def __init__(self, captures: Iterable[CaptureInfo]) -> None:
        self.captures = [(c.path, c.frames, len(c.errors)) for c in captures]
        self.verdicts: Counter[str] = Counter()
        self.scenarios: dict[str, Counter[str]] = {}
        self.failing: Counter[str] = Counter()

    def add(self, call: CallRecord) -> None:
        self.count(tally_of(call))

    def count(self, tally: CallTally) -> None:
        verdict = tally.verdict.value
        self.verdicts[verdict] += 1
        self.scenarios.setdefault(tally.scenario, Counter())[verdict] += 1
        # a rule counts once per call, however many m-lines failed it
        self.failing.update(tally.failing)

    def json(self) -> dict[str, Any]:
        def per_verdict(c: Counter[str]) -> dict[str, int]:
            return {v.value: c[v.value] for v in Verdict}

        return {
            "calls": sum(self.verdicts.values()),
            "verdicts": per_verdict(self.verdicts),
            "scenarios": {s: per_verdict(c) for s, c in sorted(self.scenarios.items())},
            "failing_rules": [
                {"rule": rule, "calls": n}
                for rule, n in sorted(
                    self.failing.items(), key=lambda rn: (-rn[1], _RULE_ORDER.get(rn[0], 99))
                )
            ],
            "captures": [
                {"path": path, "frames": frames, "problems": problems}
                for path, frames, problems in self.captures
            ],
        }


def summary(report: Report) -> dict[str, Any]:
    s = Summary(report.captures)
    for c in report.calls:
        s.add(c)
    return s.json()


def _dump(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(indent=2, ensure_ascii=False)`` writes it ``level`` levels
    deep in a document (JSON text has no raw newline inside a string, so every newline is
    indentation).

    The standard library writes indented JSON with its pure-Python encoder, generators
    within generators; this one writes the same text with one list of pieces (strings go
    through the C escaper), several times as fast on a report's thousands of small objects.
    """
    out: list[str] = []
    _encode(value, "\n" + "  " * level, out)
    return "".join(out)


_escape = json.encoder.encode_basestring  # the C function when the accelerator is there
_INFINITY = float("inf")


def _float(f: float) -> str:
    if f != f:
        return "NaN"
    if f == _INFINITY:
        return "Infinity"
    if f == -_INFINITY:
        return "-Infinity"
    return float.__repr__(f)


def _json_key(k: object) -> str:
    # the standard library's order of tests (json.encoder._make_iterencode)
    if isinstance(k, str):
        return k
    if isinstance(k, float):
        return _float(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return int.__repr__(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _encode(o: Any, nl: str, out: list[str]) -> None:
    """Append the pieces of ``o``; ``nl`` is the newline and indentation of its own line."""
    t = type(o)
    if t is str:
        out.append(_escape(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif t is int:
        out.append(int.__repr__(o))
    elif t is dict:
        if not o:
            out.append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for k, v in o.items():
            out.append(sep + _escape(k if type(k) is str else _json_key(k)) + ": ")
            sep = "," + inner
            if type(v) is str:  # most values: no call
                out.append(_escape(v))
            else:
                _encode(v, inner, out)
        out.append(nl + "}")
    elif t is list or t is tuple:
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in o:
            if type(v) is str:  # (a list of names: no call for each)
                out.append(sep + _escape(v))
            else:
                out.append(sep)
                _encode(v, inner, out)
            sep = "," + inner
        out.append(nl + "]")
    elif isinstance(o, str):  # StrEnum and other subclasses: as the standard library does
        out.append(_escape(o))
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(_float(o))
    elif isinstance(o, list | tuple):
        _encode(list(o), nl, out)
    elif isinstance(o, dict):
        _encode(dict(o), nl, out)
    elif t is _Messages or t is _Checks:
        o.encode(nl, out)
    else:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def call_parts(c: CallRecord, reveal: bool) -> tuple[str, str, str]:
    """The call's entry, as :func:`write` places it, in three parts: what comes before its
    m-lines, its m-lines, and what follows them (its verdict and checks are in the first and
    the last: a verdict judged again leaves the m-lines as they were)."""
    nl = "\n" + "  " * 2
    inner = nl + "  "
    out: list[str] = []
    cut: list[int] = []
    sep = "{" + inner
    for k, v in _call_json(c, reveal, True).items():
        out.append(sep + _escape(k) + ": ")
        sep = "," + inner
        if k == "media":
            cut.append(len(out))
        _encode(v, inner, out)
        if k == "media":
            cut.append(len(out))
    out.append(nl + "}")
    a, b = cut
    return "".join(out[:a]), "".join(out[a:b]), "".join(out[b:])


def write(report: Report, out: TextIO, entries: Sequence[Callable[[], str]] | None = None) -> None:
    """The JSON report, streamed to ``out`` call by call; ``entries``: for each call of the
    report, what gives its entry's text (written already, :mod:`mikeyshark.spool`)."""
    out.write('{\n  "tool": ' + _dump({"name": "mikeyshark", "version": report.version}, 1))
    out.write(',\n  "captures": ' + _dump([_capture(c) for c in report.captures], 1))
    out.write(',\n  "calls": [')
    counted = Summary(report.captures)
    calls = report.calls
    if entries is not None and isinstance(calls, Judged):
        # spooled calls: their entries and what the summary counts, without reading a call
        for i, (entry, tally) in enumerate(zip(entries, calls.tallies, strict=True)):
            out.write(("," if i else "") + "\n    " + entry())
            counted.count(tally)
    else:
        for i, call in enumerate(calls):
            text = (
                entries[i]()
                if entries is not None
                else _dump(call_json(call, report.reveal_keys), 2)
            )
            out.write(("," if i else "") + "\n    " + text)
            counted.add(call)
    out.write("\n  ]" if report.calls else "]")
    unbound = [unbound_json(u, report.reveal_keys) for u in report.unbound_media]
    out.write(',\n  "unbound_media": ' + _dump(unbound, 1))
    out.write(',\n  "summary": ' + _dump(counted.json(), 1))
    out.write("\n}\n")


def dumps(report: Report) -> str:
    buf = io.StringIO()
    write(report, buf)
    return buf.getvalue()


def schema() -> dict[str, Any]:
    """The JSON Schema of the report, shipped as package data."""
    text = resources.files("mikeyshark").joinpath("schema/report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
