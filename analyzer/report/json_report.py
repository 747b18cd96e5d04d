"""The JSON report of DESIGN.md (validated by analyzer/schema/report.schema.json)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from mikeyshark.evidence import CallRecord, CaptureInfo, MediaRecord, MikeyInfo
from mikeyshark.model import Endpoint, Tunnel
from mikeyshark.report.model import Report, fingerprint


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


def _media(m: MediaRecord, reveal: bool) -> dict[str, Any]:
    tcp = (
        {
            "client": str(m.tcp.client),
            "server": str(m.tcp.server),
            "syn_frame": m.tcp.syn_frame,
            "bound_by": m.tcp.bound_by,
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
    return {
        "index": m.index,
        "protocol": m.protocol.value,
        "proto": m.proto,
        "mikey": _mikey(m.init, m.resp, m),
        "key": _key(m, reveal),
        "tcp": tcp,
        "tls": tls,
        "messages": [
            {**_jsonable(msg.fields), "frame": msg.frame, "from": str(msg.src)}
            for msg in m.messages
        ],
    }


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
    return {
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
        "signalling": c.signalling,
        "outcome": c.outcome,
        "tunnel": _tunnel(c.tunnel),
        "media": [_media(m, reveal) for m in c.media],
        "checks": [
            {
                "rule": r.rule,
                "status": r.status.value,
                "frames": list(r.frames),
                "message": r.message,
                "severity": r.severity,
            }
            for r in c.checks
        ],
    }


def report_json(report: Report) -> dict[str, Any]:
    return {
        "tool": {"name": "mikeyshark", "version": report.version},
        "captures": [_capture(c) for c in report.captures],
        "calls": [call_json(c, report.reveal_keys) for c in report.calls],
    }


def dumps(report: Report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema of the report, shipped as package data."""
    text = resources.files("mikeyshark").joinpath("schema/report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
