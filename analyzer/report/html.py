"""The self-contained HTML report (jinja2, templates/report.html.j2, autoescape on).

Layout work (which column an endpoint is, where an arrow goes) is done here in Python so
that the template only draws. Everything that came from the wire reaches the page through
jinja2's autoescaping; nothing is marked safe.
"""

from __future__ import annotations

import datetime
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import jinja2

from mikeyshark.checks.rules import RULES_BY_ID
from mikeyshark.dissectors.secret import fingerprint, show_key
from mikeyshark.evidence import (
    CallRecord,
    LadderEvent,
    MediaRecord,
    SdpMedia,
    Status,
    TreeNode,
    Verdict,
)
from mikeyshark.model import Endpoint
from mikeyshark.procedure import Direction, Role
from mikeyshark.report import wording
from mikeyshark.report.model import Report, unbound_key_text
from mikeyshark.report.output import open_text

# the ladder's geometry: the distance between two lifelines, in CSS pixels
LANE = 120
# a run of media frames longer than this folds into one row (its first and last ones stay)
FOLD_MIN = 12
FOLD_KEEP_HEAD = 4
FOLD_KEEP_TAIL = 2
# Each kind of arrow and its colour: an event kind that is not listed is drawn grey, so a
# new protocol on the ladder (H.248 between MRFC and MRFP) needs one entry here, no template
# change. The lanes are the roles, in this order; an address no role fits gets its own lane.
KIND_COLOURS: dict[str, str] = {
    "sip": "#0550ae",
    "tcp": "#6e7781",
    "tls": "#8250df",
    "msrp": "#1a7f37",
    "bfcp": "#1a7f37",
    "http": "#bc4c00",
    "h248": "#953800",
}
_MEDIA_KINDS = frozenset({"msrp", "bfcp", "tls", "tcp"})
_ROLE_ORDER = (Role.UE, Role.PCSCF, Role.SCSCF, Role.MRFC, Role.MRFP, Role.KMS)


@dataclass(frozen=True, slots=True)
class Lane:
    index: int
    role: str
    hosts: tuple[str, ...]
    endpoints: tuple[str, ...]  # every ip:port of the lane (its tooltip)


@dataclass(frozen=True, slots=True)
class Row:
    """One frame of the call: a full row (time, addresses, protocol, info) and its arrow."""

    frame: int
    time: str
    src: str
    dst: str
    kind: str
    label: str
    step: str
    lane1: int
    lane2: int
    anchor: str
    failing: tuple[str, ...] = ()  # the failing rules that cite the frame
    cited: bool = False  # a rule (passing or not) cites it: never folded
    note: str = ""  # where the frame belongs when it is not one of this call's


@dataclass(frozen=True, slots=True)
class Fold:
    """A run of media frames shown as one row that opens in place."""

    rows: tuple[Row, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class Ladder:
    lanes: tuple[Lane, ...]
    items: tuple[Row | Fold, ...]
    elsewhere: tuple[Row, ...]  # cited frames that are not this call's messages

    @property
    def width(self) -> int:
        return max(len(self.lanes), 2) * LANE


def _lane_key(ep: Endpoint, roles: dict[Endpoint, Role]) -> tuple[Role, str]:
    role = roles.get(ep)
    if role is None:
        # An address the correlation could not place: its own lane, labelled by IP.
        role = next((r for e, r in roles.items() if e.ip == ep.ip), Role.PCSCF)
    return role, ep.ip


def _order(key: tuple[Role, str]) -> tuple[int, str]:
    role, ip = key
    return (_ROLE_ORDER.index(role) if role in _ROLE_ORDER else len(_ROLE_ORDER), ip)


def _citations(call: CallRecord) -> tuple[dict[int, list[str]], set[int]]:
    """(frame -> failing rules citing it, every frame any rule cites)."""
    failing: dict[int, list[str]] = {}
    cited: set[int] = set()
    for c in call.checks:
        cited.update(c.frames)
        if c.status is Status.FAIL:
            for f in c.frames:
                if c.rule not in failing.setdefault(f, []):
                    failing[f].append(c.rule)
    return failing, cited


def _fold_summary(rows: list[Row]) -> str:
    kinds = Counter(r.kind.upper() for r in rows)
    what = ", ".join(wording.count(n, f"{k} message") for k, n in kinds.most_common())
    return f"\u2026 {what}, frames {rows[0].frame}-{rows[-1].frame} \u2026"


def _fold(rows: list[Row]) -> list[Row | Fold]:
    """Long runs of uncited media frames folded, their first and last frames kept."""
    out: list[Row | Fold] = []
    run: list[Row] = []

    def flush() -> None:
        if len(run) >= FOLD_MIN:
            out.extend(run[:FOLD_KEEP_HEAD])
            middle = run[FOLD_KEEP_HEAD : len(run) - FOLD_KEEP_TAIL]
            out.append(Fold(tuple(middle), _fold_summary(middle)))
            out.extend(run[len(run) - FOLD_KEEP_TAIL :])
        else:
            out.extend(run)
        run.clear()

    for r in rows:
        if r.kind in _MEDIA_KINDS and not r.cited and not r.step:
            run.append(r)
        else:
            flush()
            out.append(r)
    flush()
    return out


FrameIndex = dict[tuple[str, int], tuple[int, CallRecord, LadderEvent]]


def build_ladder(call: CallRecord, index: int, others: FrameIndex | None = None) -> Ladder:
    """The call's ladder: one row per frame, lanes by role; ``others`` finds the frames a
    rule cites that belong to another call of the report (REPLAY cites the first use)."""
    keys: dict[tuple[Role, str], set[str]] = {}
    for ev in call.events:
        for ep in (ev.src, ev.dst):
            keys.setdefault(_lane_key(ep, call.roles), set()).add(str(ep))
    ordered = sorted(keys, key=_order)
    at = {k: i for i, k in enumerate(ordered)}
    lanes = tuple(
        Lane(i, k[0].value, (k[1],), tuple(sorted(keys[k]))) for i, k in enumerate(ordered)
    )
    failing, cited = _citations(call)
    events = sorted(call.events, key=lambda e: (e.frame, e.ts_ns))
    t0 = call.invite_ts_ns or (events[0].ts_ns if events else 0)
    rows: list[Row] = []
    seen: set[int] = set()
    for ev in events:
        seen.add(ev.frame)
        rows.append(
            Row(
                frame=ev.frame,
                time=_offset(ev.ts_ns, t0),
                src=str(ev.src),
                dst=str(ev.dst),
                kind=ev.kind,
                label=ev.label,
                step=ev.step,
                lane1=at[_lane_key(ev.src, call.roles)],
                lane2=at[_lane_key(ev.dst, call.roles)],
                anchor=frame_anchor(index, ev.frame),
                failing=tuple(failing.get(ev.frame, ())),
                cited=ev.frame in cited,
            )
        )
    elsewhere = []
    for f in sorted(cited - seen):
        found = (others or {}).get((call.capture, f))
        if found is not None:
            j, other, ev = found
            note = f"call {j + 1} ({other.call_id})"
            src, dst, kind, label, time = (
                str(ev.src),
                str(ev.dst),
                ev.kind.value,
                ev.label,
                _iso(ev.ts_ns),
            )
        else:
            note, src, dst, kind, label, time = "not a message of a call", "", "", "", "", ""
        elsewhere.append(
            Row(f, time, src, dst, kind, label, "", -1, -1, frame_anchor(index, f),
                tuple(failing.get(f, ())), True, note)
        )  # fmt: skip
    return Ladder(lanes, tuple(_fold(rows)), tuple(elsewhere))


def _offset(ts: int, t0: int) -> str:
    return f"{(ts - t0) / 1e9:+.3f}"


def frame_anchor(call_index: int, frame: int) -> str:
    return f"c{call_index}-f{frame}"


def rule_anchor(call_index: int, rule: str) -> str:
    return f"c{call_index}-{rule}"


def what_to_fix(call: CallRecord) -> str:
    """One sentence for the top of a failing call: the first failing rule's requirement."""
    failing = call.failing
    if not failing:
        return ""
    first = failing[0]
    rule = RULES_BY_ID.get(first.rule)
    need = rule.title if rule is not None else first.message
    where = f", {wording.frames(first.frames, 4)}" if first.frames else ""
    n = len(failing) - 1
    more = f"; {n} more {'rule fails' if n == 1 else 'rules fail'} below" if n else ""
    return f"Make sure {need} (rule {first.rule} fails{where}){more}."


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
                        f"{call.call_id} m-line {m.index + 1}",
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
    env.globals.update(
        frame_anchor=frame_anchor,
        rule_anchor=rule_anchor,
        count=wording.count,
        frames_text=wording.frames,
        LANE=LANE,
        KIND_COLOURS=KIND_COLOURS,
    )
    return env


# Up to this many calls the page holds every call; past it, each call has a page of its
# own beside the index (measured in bench/report.py: 450 calls on one page were 22.7 MB and
# took Chromium 24.6 s to load).
INLINE_CALLS = 40
_VERDICT_ORDER = {Verdict.FAIL: 0, Verdict.INCOMPLETE: 1, Verdict.PASS: 2}


@dataclass(frozen=True, slots=True)
class MpRow:
    """One item of an Mp termination beside the SIP SDP it must equal."""

    item: str
    mp: str
    sdp: str
    same: bool


def _sdp_items(sd: SdpMedia | None) -> dict[str, str]:
    if sd is None:
        return {}
    return {
        "c= address": sd.address or "$",
        "m= port": str(sd.port) if sd.port else "$",
        "proto": sd.proto,
        "a=path": sd.path[-1] if sd.path else "-",
        "a=setup": sd.setup or "-",
    }


def _mp_rows(what: str, got: SdpMedia | None, sdp_name: str, want: SdpMedia | None) -> list[MpRow]:
    g, w = _sdp_items(got), _sdp_items(want)
    rows = []
    for item in g:
        if item == "a=path" and g[item] == "-" and w.get(item, "-") == "-":
            continue
        mine = f"{g[item]}"
        theirs = w.get(item, "not captured")
        # a=setup differs by design between the sides: the MRFP's role is MP-ROLE's to judge
        same = item == "a=setup" or mine == theirs
        rows.append(MpRow(f"{what} {item}", mine, f"{theirs}" if want else "not captured", same))
    if rows and got is not None and want is not None:
        rows[0] = replace(
            rows[0], item=f"{rows[0].item} (frame {got.frame} / {sdp_name} frame {want.frame})"
        )
    return rows


def mp_view(call: CallRecord, m: MediaRecord, reveal: bool) -> dict[str, object] | None:
    """The m-line's Mp termination for the call page: its Remote beside the UE's SDP, the
    MRFP's Local beside the conference's, and what it was given."""
    t = m.mp
    if t is None:
        return None
    out = call.direction is Direction.DIAL_OUT
    ue, conf = (m.answer, m.offer) if out else (m.offer, m.answer)
    ue_name, conf_name = ("answer", "offer") if out else ("offer", "answer")
    c = t.configure
    locals_ = t.reply_locals
    rows = _mp_rows("Remote", t.remote, f"UE's {ue_name}", ue)
    rows += _mp_rows("Reply's Local", locals_[-1] if locals_ else None, conf_name, conf)
    psk = t.psk
    return {
        "t": t,
        "rows": rows,
        "psk": show_key(psk, reveal) if psk is not None else "none given",
        "pskid": (c.pskid if c is not None else None) or "-",
        "role": (c.role if c is not None else None) or "-",
        "setup": (c.local.setup if c is not None and c.local is not None else None) or "-",
        "events": ", ".join(c.events) if c is not None and c.events else "none",
        "observed": [f"{o.name} (frame {o.frame}, cause {o.cause})" for o in t.observed],
    }


def _call_view(
    i: int, call: CallRecord, others: FrameIndex, reveal: bool = False
) -> dict[str, object]:
    return {
        "index": i,
        "call": call,
        "fix": what_to_fix(call),
        "ladder": build_ladder(call, i, others),
        "rules": [(c, RULES_BY_ID.get(c.rule)) for c in call.checks],
        "media": [
            {
                "m": m,
                "chat": transcript(i, call, m),
                "floor": floor_timeline(i, call, m) if m.protocol.value == "bfcp" else [],
                "trees": [t for t in (_tree(m.init), _tree(m.resp)) if t is not None],
                "ticket": m.key.ticket_tree if m.key is not None else None,
                "mp": mp_view(call, m, reveal),
            }
            for m in call.media
        ],
    }


def _frame_index(report: Report) -> FrameIndex:
    """(capture, frame) -> the call and event it is, to place frames cited across calls."""
    out: FrameIndex = {}
    for i, call in enumerate(report.calls):
        for ev in call.events:
            out.setdefault((call.capture, ev.frame), (i, call, ev))
    return out


def _overview(report: Report) -> list[tuple[str, dict[str, int]]]:
    counts: dict[str, Counter[str]] = {}
    for call in report.calls:
        counts.setdefault(call.scenario, Counter())[call.verdict.value] += 1
    return [(s, {v.value: c[v.value] for v in Verdict}) for s, c in sorted(counts.items())]


def call_page_name(index: int) -> str:
    return f"call-{index + 1:04d}.html"


def render_html(report: Report) -> str:
    """The page of the report with every call on it (whatever the number of calls)."""
    buf = io.StringIO()
    _write_index(report, buf, inline=True, pages="")
    return buf.getvalue()


def write_html(report: Report, path: str) -> None:
    """The report at ``path``; past ``INLINE_CALLS`` calls, one page per call in the folder
    ``<path>.calls/`` beside it, each written whole or not at all, the index last."""
    if path == "-" or len(report.calls) <= INLINE_CALLS:
        with open_text(path) as f:
            _write_index(report, f, inline=True, pages="")
        return
    target = Path(path)
    folder = target.with_name(target.name + ".calls")
    folder.mkdir(exist_ok=True)
    index = _frame_index(report)
    template = _env().get_template("call.html.j2")
    written = set()
    for i, call in enumerate(report.calls):
        name = call_page_name(i)
        written.add(name)
        with open_text(str(folder / name)) as f:
            for chunk in template.generate(
                report=report,
                c=_call_view(i, call, index, report.reveal_keys),
                index_page=target.name,
                Status=Status,
                generated=_now(),
            ):
                f.write(chunk)
    for stale in folder.glob("call-*.html"):
        if stale.name not in written:
            stale.unlink()
    with open_text(path) as f:
        _write_index(report, f, inline=False, pages=folder.name + "/")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _write_index(report: Report, out: TextIO, *, inline: bool, pages: str) -> None:
    """The index: captures, counts per scenario, the calls failing first; with ``inline``
    every call's detail follows, else each row links to the call's page under ``pages``."""
    order = sorted(
        range(len(report.calls)), key=lambda i: (_VERDICT_ORDER[report.calls[i].verdict], i)
    )
    index = _frame_index(report) if inline else {}

    def views() -> Iterator[dict[str, object]]:
        # one call's view at a time: the page streams, the views are not all held
        for i, call in enumerate(report.calls):
            yield _call_view(i, call, index, report.reveal_keys)

    template = _env().get_template("report.html.j2")
    for chunk in template.generate(
        report=report,
        order=order,
        calls=views() if inline else (),
        inline=inline,
        pages=pages,
        page_name=call_page_name,
        overview=_overview(report),
        start_time=lambda call: _iso(call.invite_ts_ns) if call.invite_ts_ns else "",
        unbound=[
            {"u": u, "key": unbound_key_text(u, report.reveal_keys)} for u in report.unbound_media
        ],
        keys=key_table(report),
        Status=Status,
        generated=_now(),
    ):
        out.write(chunk)


def _tree(info: object) -> TreeNode | None:
    tree = getattr(info, "tree", None)
    return tree if isinstance(tree, TreeNode) else None
