"""The self-contained HTML report (jinja2, templates/report.html.j2, autoescape on).

Layout work (which column an endpoint is, where an arrow goes) is done here in Python so
that the template only draws. Everything that came from the wire reaches the page through
jinja2's autoescaping; nothing is marked safe.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from typing import TextIO

import jinja2

from mikeyshark.checks.rules import RULES_BY_ID
from mikeyshark.evidence import CallRecord, MediaRecord, Status, TreeNode
from mikeyshark.model import Endpoint
from mikeyshark.procedure import Role
from mikeyshark.report.model import Report, fingerprint, unbound_key_text

COL_WIDTH = 170
ROW_HEIGHT = 26
TOP = 58
LEFT = 150

_ROLE_ORDER = (Role.UE, Role.PCSCF, Role.MRFC, Role.MRFP, Role.KMS)


@dataclass(frozen=True, slots=True)
class Column:
    x: int
    role: str
    hosts: tuple[str, ...]
    endpoints: tuple[str, ...]  # every ip:port drawn in the column (its tooltip)


@dataclass(frozen=True, slots=True)
class Arrow:
    y: int
    x1: int
    x2: int
    kind: str
    label: str
    step: str
    frame: int
    time: str
    anchor: str


@dataclass(frozen=True, slots=True)
class Ladder:
    width: int
    height: int
    columns: tuple[Column, ...]
    arrows: tuple[Arrow, ...]


def _column_key(ep: Endpoint, roles: dict[Endpoint, Role]) -> tuple[Role, str]:
    role = roles.get(ep)
    if role is None:
        # An address the correlation could not place: its own column, labelled by IP.
        role = next((r for e, r in roles.items() if e.ip == ep.ip), Role.PCSCF)
    return role, ep.ip


def build_ladder(call: CallRecord, index: int) -> Ladder:
    keys: dict[tuple[Role, str], set[str]] = {}
    for ev in call.events:
        for ep in (ev.src, ev.dst):
            keys.setdefault(_column_key(ep, call.roles), set()).add(str(ep))
    ordered = sorted(keys, key=lambda k: (_ROLE_ORDER.index(k[0]), k[1]))
    xs = {k: LEFT + i * COL_WIDTH for i, k in enumerate(ordered)}
    columns = tuple(Column(xs[k], k[0].value, (k[1],), tuple(sorted(keys[k]))) for k in ordered)
    arrows = []
    t0 = call.events[0].ts_ns if call.events else 0
    for row, ev in enumerate(sorted(call.events, key=lambda e: (e.frame, e.ts_ns))):
        x1 = xs[_column_key(ev.src, call.roles)]
        x2 = xs[_column_key(ev.dst, call.roles)]
        arrows.append(
            Arrow(
                y=TOP + 20 + row * ROW_HEIGHT,
                x1=x1,
                x2=x2,
                kind=ev.kind,
                label=ev.label,
                step=ev.step,
                frame=ev.frame,
                time=f"+{(ev.ts_ns - t0) / 1e9:.3f}s",
                anchor=frame_anchor(index, ev.frame),
            )
        )
    width = LEFT * 2 + max(len(columns) - 1, 1) * COL_WIDTH
    height = TOP + 40 + len(arrows) * ROW_HEIGHT
    return Ladder(width, height, columns, tuple(arrows))


@dataclass(frozen=True, slots=True)
class FrameRow:
    frame: int
    src: str
    dst: str
    step: str
    label: str


def frame_rows(call: CallRecord) -> list[FrameRow]:
    """The call's frames table: every ladder event, and every frame a rule or the transcript
    points at, so that each frame number on the page is a working link."""
    rows = {
        e.frame: FrameRow(e.frame, str(e.src), str(e.dst), e.step, e.label) for e in call.events
    }
    cited: dict[int, list[str]] = {}
    for c in call.checks:
        for f in c.frames:
            cited.setdefault(f, []).append(c.rule)
    for m in call.media:
        for chat in m.chat:
            cited.setdefault(chat.frame, []).append("chat transcript")
    for f, why in cited.items():
        if f not in rows:
            rows[f] = FrameRow(f, "", "", "", f"(cited by {', '.join(why)})")
    return [rows[f] for f in sorted(rows)]


def frame_anchor(call_index: int, frame: int) -> str:
    return f"c{call_index}-f{frame}"


@dataclass(frozen=True, slots=True)
class ChatLine:
    frame: int
    time: str
    sender: str
    content_type: str
    body: str
    anchor: str


@dataclass(frozen=True, slots=True)
class FloorEvent:
    frame: int
    time: str
    sender: str
    primitive: str
    detail: str
    anchor: str
    x: int


def _iso(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).strftime("%H:%M:%S.%f")[:-3]


def transcript(call_index: int, call: CallRecord, m: MediaRecord) -> list[ChatLine]:
    """The reassembled chat; from the SEND requests when correlation gave no transcript."""
    if m.chat:
        return [
            ChatLine(
                c.frame,
                _iso(c.ts_ns),
                f"{call.roles.get(c.sender, Role.UE).value} {c.sender}",
                c.content_type + ("" if c.delivered is not False else " (not delivered)"),
                c.text,
                frame_anchor(call_index, c.frame),
            )
            for c in m.chat
        ]
    out = []
    for msg in m.messages:
        f = msg.fields
        if f.get("method") != "SEND":
            continue
        body = f.get("body")
        out.append(
            ChatLine(
                msg.frame,
                _iso(msg.ts_ns),
                f"{call.roles.get(msg.src, Role.UE).value} {msg.src}",
                str(f.get("content_type") or ""),
                body if isinstance(body, str) else "" if body is None else str(body),
                frame_anchor(call_index, msg.frame),
            )
        )
    return out


def floor_timeline(call_index: int, call: CallRecord, m: MediaRecord) -> list[FloorEvent]:
    """The floor requests' steps (request, Pending/Granted/Released, release) along time;
    every BFCP message when no floor request was seen."""
    if m.floor:
        rows = [
            (
                f.frame,
                f.ts_ns,
                f.sender,
                f.primitive + (f" {f.status}" if f.status else ""),
                ", ".join(
                    p
                    for p in (
                        f"request {f.request_id}" if f.request_id is not None else "",
                        f"floor {', '.join(map(str, f.floor_ids))}" if f.floor_ids else "",
                        f"queue {f.queue_position}" if f.queue_position else "",
                    )
                    if p
                ),
            )
            for f in m.floor
        ]
    else:
        rows = [
            (
                msg.frame,
                msg.ts_ns,
                msg.src,
                str(msg.fields.get("primitive", msg.summary)),
                ", ".join(
                    f"{k}={msg.fields[k]}"
                    for k in ("conference_id", "user_id", "transaction_id")
                    if k in msg.fields
                ),
            )
            for msg in m.messages
        ]
    if not rows:
        return []
    t0, t1 = rows[0][1], rows[-1][1]
    span = max(t1 - t0, 1)
    return [
        FloorEvent(
            frame,
            _iso(ts),
            f"{call.roles.get(sender, Role.UE).value} {sender}",
            primitive,
            detail,
            frame_anchor(call_index, frame),
            20 + int(660 * (ts - t0) / span),
        )
        for frame, ts, sender, primitive, detail in rows
    ]


@dataclass(frozen=True, slots=True)
class KeyView:
    kind: str
    identity: str
    fingerprint: str
    secret: str | None
    note: str


def key_table(report: Report) -> list[KeyView]:
    rows = [
        KeyView(
            k.kind,
            k.identity,
            k.fingerprint,
            k.secret.hex() if report.reveal_keys else None,
            k.note,
        )
        for k in report.keys
    ]
    for call in report.calls:
        for m in call.media:
            if m.key is not None and m.key.recovered and m.key.tek is not None:
                rows.append(
                    KeyView(
                        "TEK (recovered)",
                        f"{call.call_id} m-line {m.index}",
                        fingerprint(m.key.tek),
                        m.key.tek.hex() if report.reveal_keys else None,
                        f"confirmed by {m.key.oracle}",
                    )
                )
    return rows


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mikeyshark", "templates"),
        autoescape=True,  # every template, whatever its file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["frame_anchor"] = frame_anchor
    return env


def render_html(report: Report) -> str:
    buf = io.StringIO()
    write_html(report, buf)
    return buf.getvalue()


def write_html(report: Report, out: TextIO) -> None:
    """The page, streamed to ``out`` as the template renders it."""
    calls = []
    for i, call in enumerate(report.calls):
        calls.append(
            {
                "index": i,
                "call": call,
                "ladder": build_ladder(call, i),
                "events": frame_rows(call),
                "rules": [(c, RULES_BY_ID[c.rule]) for c in call.checks],
                "media": [
                    {
                        "m": m,
                        "chat": transcript(i, call, m),
                        "floor": floor_timeline(i, call, m) if m.protocol.value == "bfcp" else [],
                        "trees": [t for t in (_tree(m.init), _tree(m.resp)) if t is not None],
                        "ticket": m.key.ticket_tree if m.key is not None else None,
                    }
                    for m in call.media
                ],
            }
        )
    unbound = [
        {"u": u, "key": unbound_key_text(u, report.reveal_keys)} for u in report.unbound_media
    ]
    template = _env().get_template("report.html.j2")
    for chunk in template.generate(
        report=report,
        calls=calls,
        unbound=unbound,
        keys=key_table(report),
        Status=Status,
        generated=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
    ):
        out.write(chunk)


def _tree(info: object) -> TreeNode | None:
    tree = getattr(info, "tree", None)
    return tree if isinstance(tree, TreeNode) else None
