"""``analyze --wireshark-check``: each call read again by Wireshark's own dissectors.

tshark runs (through pyshark) on the capture with the keys the analysis recovered - the key
log of every decrypted session, and each media port bound to MSRP or BFCP as the Wireshark
profile binds it (:mod:`mikeyshark.wireshark`) - and what it shows is compared, call by call,
with what we read: every SIP message of the call (method or status, Call-ID), the SDP
m-lines of the offer and the answer, per media connection the number of decrypted
application-data records, the MSRP transaction ids in order, and the BFCP primitives with
their attribute nesting. A difference is listed with its frame, ours against Wireshark's;
nothing is left out because Wireshark might be the one that is wrong (tshark 4.0 nests a
BFCP attribute that follows a text attribute padded with 3 bytes inside the group before
it: such a call disagrees). Without tshark the check says so and the analysis goes on.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVarTuple

from mikeyshark.decrypt import DecodedConnection
from mikeyshark.dissectors import bfcp
from mikeyshark.evidence import CallRecord, MediaRecord, WiresharkCheck, WiresharkDifference
from mikeyshark.model import Endpoint
from mikeyshark.report.model import Report
from mikeyshark.wireshark import write_profile

DISPLAY_FILTER = "sip || sdp || tls || msrp || bfcp"
AGREE, DISAGREE, NOT_RUN = "agree", "disagree", "not run"
MAX_DIFFERENCES = 50  # per call; the count of the rest is said

BfcpTree = tuple[tuple[int, "BfcpTree"], ...]
_Ts = TypeVarTuple("_Ts")


@dataclass(slots=True)
class _Frame:
    """What tshark showed in one frame."""

    number: int
    src: Endpoint | None = None  # the innermost TCP endpoints
    dst: Endpoint | None = None
    sip: list[tuple[str, str]] = field(default_factory=list)  # (method or status, Call-ID)
    sdp_media: list[str] = field(default_factory=list)  # "message 47530 TCP/TLS/MSRP"
    app_records: int = 0  # TLS application data records handed to a protocol
    msrp: list[str] = field(default_factory=list)  # transaction ids
    bfcp: list[tuple[int, BfcpTree]] = field(default_factory=list)  # primitive, attributes


def check_report(report: Report, keylog_text: str, *, tshark: str | None = None) -> None:
    """Set ``wireshark_check`` on every call of ``report``."""
    exe = tshark if tshark is not None else shutil.which("tshark")
    if exe is None:
        _all_not_run(report.calls, "tshark is not installed (apt-get install tshark)")
        return
    version = _version(exe)
    with tempfile.TemporaryDirectory(prefix="mikeyshark-wscheck-") as tmp:
        profile = write_profile(tmp, report, keylog_text, tshark=exe)
        for cap in report.captures:
            calls = [c for c in report.calls if c.capture == cap.path]
            if not calls:
                continue
            if len(cap.files) != 1:
                _all_not_run(calls, "a capture of several files: tshark reads one", version)
                continue
            try:
                frames = _read(cap.files[0], exe, profile.options())
            except Exception as e:  # pyshark/tshark failing is a note, not an analysis error
                _all_not_run(calls, f"tshark could not read the capture: {e}", version)
                continue
            for call in calls:
                call.wireshark_check = compare_call(call, frames, report.connections, version)


def _all_not_run(calls: Iterable[CallRecord], why: str, version: str | None = None) -> None:
    for c in calls:
        c.wireshark_check = WiresharkCheck(NOT_RUN, version, note=why)


def _version(exe: str) -> str | None:
    try:
        out = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # "TShark (Wireshark) 4.0.17 (Git v4.0.17 packaged as 4.0.17-0+deb12u3)."
    m = re.search(r"\) (\d+\.\d+\.\d+)", out)
    return m.group(1) if m else None


# -- reading tshark's view ----------------------------------------------------------------------


def _read(path: str, exe: str, options: list[str]) -> dict[int, _Frame]:
    import pyshark

    # an event loop of its own: the thread's may be closed or unset (asyncio.run leaves none);
    # and a child watcher that keeps tshark's exit status whoever reaps it (_ChildWatcher)
    loop = asyncio.new_event_loop()
    restore = _own_child_watcher(loop)
    frames: dict[int, _Frame] = {}
    try:
        cap = pyshark.FileCapture(
            path,
            display_filter=DISPLAY_FILTER,
            use_json=True,
            tshark_path=exe,
            custom_parameters=options,
            eventloop=loop,
        )
        try:
            for pkt in cap:
                f = _frame(pkt)
                frames[f.number] = f
        finally:
            cap.close()
            # the capture closes itself once more when collected: while its loop still runs
            del cap
            gc.collect()
    finally:
        restore()
        loop.close()
    return frames


def _own_child_watcher(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Watch the children of ``loop`` with :class:`_ChildWatcher` where the child watcher can
    still be chosen (Python < 3.14 on Linux); returns what puts the previous watcher back."""
    if not hasattr(asyncio, "PidfdChildWatcher") or not hasattr(os, "pidfd_open"):
        return lambda: None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        policy = asyncio.get_event_loop_policy()
        previous = policy.get_child_watcher()
        watcher = _ChildWatcher(loop)
        policy.set_child_watcher(watcher)

    def restore() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            policy.set_child_watcher(previous)
        watcher.close()

    return restore


class _ChildWatcher(asyncio.AbstractChildWatcher):
    """A child's exit seen through its pidfd, with the exit status kept when the child was
    reaped by its own ``Popen`` first.

    At the end of the file pyshark kills tshark if the loop has not yet seen it exit, and
    ``Popen.send_signal`` polls before signalling: tshark is reaped there, asyncio's own
    watchers then find no status, report 255, and pyshark says tshark crashed. The status
    is in the ``Popen`` of the subprocess transport (the first argument of the callback).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._children: dict[int, tuple[int, Callable[..., object], tuple[Any, ...]]] = {}

    def add_child_handler(
        self, pid: int, callback: Callable[[int, int, *_Ts], object], *args: *_Ts
    ) -> None:
        pidfd = os.pidfd_open(pid)
        self._loop.add_reader(pidfd, self._exited, pid)
        self._children[pid] = (pidfd, callback, args)

    def remove_child_handler(self, pid: int) -> bool:
        child = self._children.pop(pid, None)
        if child is None:
            return False
        self._forget(child[0])
        return True

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None:
            self._loop = loop

    def close(self) -> None:
        for pidfd, _, _ in self._children.values():
            self._forget(pidfd)
        self._children.clear()

    def is_active(self) -> bool:
        return not self._loop.is_closed()

    def __enter__(self) -> _ChildWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _forget(self, pidfd: int) -> None:
        if not self._loop.is_closed():
            self._loop.remove_reader(pidfd)
        os.close(pidfd)

    def _exited(self, pid: int) -> None:
        pidfd, callback, args = self._children.pop(pid)
        self._forget(pidfd)
        try:
            _, status = os.waitpid(pid, 0)
            code: int | None = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            popen = getattr(args[0], "_proc", None) if args else None
            code = getattr(popen, "returncode", None)
        callback(pid, 255 if code is None else code, *args)


def _layers(pkt: Any, name: str) -> list[dict[str, Any]]:
    return [layer._all_fields for layer in pkt.get_multiple_layers(name)]


def _frame(pkt: Any) -> _Frame:
    f = _Frame(int(pkt.frame_info.number))
    ips = _layers(pkt, "ip") + _layers(pkt, "ipv6")
    tcp = _layers(pkt, "tcp")
    if ips and tcp:
        ip = ips[-1]  # the innermost (GTP-U carries an inner IP)
        src = ip.get("ip.src") or ip.get("ipv6.src")
        dst = ip.get("ip.dst") or ip.get("ipv6.dst")
        t = tcp[-1]
        if src and dst:
            f.src = Endpoint(str(src), int(t["tcp.srcport"]))
            f.dst = Endpoint(str(dst), int(t["tcp.dstport"]))
    for sip in _layers(pkt, "sip"):
        for start, call_id in _sip_messages(sip):
            f.sip.append((start, call_id))
    # SDP is a layer of its own, or nested in the SIP message body
    for body in _layers(pkt, "sdp") + _layers(pkt, "sip"):
        f.sdp_media += [" ".join(str(v).split()[:3]) for v in _values(body, "sdp.media")]
    for tls in _layers(pkt, "tls"):
        f.app_records += len(list(_values(tls, "tls.app_data_proto")))
    for msrp in _layers(pkt, "msrp"):
        tree = msrp.get("msrp.request.line_tree") or msrp.get("msrp.response.line_tree") or {}
        tid = tree.get("msrp.transaction.id") if isinstance(tree, dict) else None
        if tid is not None:
            f.msrp.append(str(tid))
    for b in _layers(pkt, "bfcp"):
        if "bfcp.primitive" in b:
            f.bfcp.append((int(b["bfcp.primitive"]), _bfcp_tree(b)))
    return f


def _sip_messages(sip: dict[str, Any]) -> Iterator[tuple[str, str]]:
    line = sip.get("sip.Request-Line_tree") or sip.get("sip.Status-Line_tree") or {}
    start = (
        line.get("sip.Method") or line.get("sip.Status-Code") if isinstance(line, dict) else None
    )
    call_id = next(iter(_values(sip, "sip.Call-ID")), "")
    if start is not None:
        yield str(start), str(call_id)


def _values(obj: Any, key: str) -> Iterator[Any]:
    """Every value of ``key`` anywhere in a tshark JSON layer (lists flattened)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield from v if isinstance(v, list) else [v]
            else:
                yield from _values(v, key)
    elif isinstance(obj, list):
        for v in obj:
            yield from _values(v, key)


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _bfcp_tree(d: dict[str, Any]) -> BfcpTree:
    types = _as_list(d.get("bfcp.attribute_type"))
    subs = _as_list(d.get("bfcp.attribute_type_tree"))
    return tuple(
        (int(t), _bfcp_tree(subs[i]) if i < len(subs) and isinstance(subs[i], dict) else ())
        for i, t in enumerate(types)
    )


# -- comparing ----------------------------------------------------------------------------------


def compare_call(
    call: CallRecord,
    frames: dict[int, _Frame],
    connections: Iterable[DecodedConnection],
    version: str | None,
) -> WiresharkCheck:
    diffs: list[WiresharkDifference] = []
    compared: dict[str, int] = {}
    note = None
    if call.signalling == "encrypted":
        note = "the SIP of this call could not be read: nothing of it to compare"
    else:
        compared["SIP messages"] = _compare_sip(call, frames, diffs)
        compared["SDP m-lines"] = _compare_sdp(call, frames, diffs)
    conns = list(connections)
    for m in call.media:
        if m.tcp is None:
            continue
        mine = sorted(
            (f for f in frames.values() if _of(f, m.tcp.client, m.tcp.server)),
            key=lambda f: f.number,
        )
        if m.tls is not None and m.tls.decrypted:
            n = _compare_records(m, mine, conns, diffs)
            compared["decrypted TLS records"] = compared.get("decrypted TLS records", 0) + n
        if m.protocol.value == "msrp":
            n = _compare_msrp(m, mine, diffs)
            compared["MSRP messages"] = compared.get("MSRP messages", 0) + n
        else:
            n = _compare_bfcp(m, mine, diffs)
            compared["BFCP messages"] = compared.get("BFCP messages", 0) + n
    if len(diffs) > MAX_DIFFERENCES:
        note = f"{len(diffs) - MAX_DIFFERENCES} more differences not listed"
        diffs = diffs[:MAX_DIFFERENCES]
    return WiresharkCheck(DISAGREE if diffs else AGREE, version, compared, diffs, note)


def _of(f: _Frame, a: Endpoint, b: Endpoint) -> bool:
    return {f.src, f.dst} == {a, b}


def _compare_sip(
    call: CallRecord, frames: dict[int, _Frame], diffs: list[WiresharkDifference]
) -> int:
    n = 0
    for ev in call.events:
        if ev.kind != "sip":
            continue
        n += 1
        start = ev.label.split()[0] if ev.label else ""
        theirs = frames.get(ev.frame)
        seen = theirs.sip if theirs is not None else []
        if (start, call.call_id) in seen:
            continue
        shown = "; ".join(f"{s} Call-ID {c}" for s, c in seen) or "no SIP"
        diffs.append(
            WiresharkDifference(ev.frame, "SIP message", f"{start} Call-ID {call.call_id}", shown)
        )
    return n


def _compare_sdp(
    call: CallRecord, frames: dict[int, _Frame], diffs: list[WiresharkDifference]
) -> int:
    n = 0
    for m in call.media:
        for sdp in (m.offer, m.answer):
            if sdp is None:
                continue
            n += 1
            ours = f"{sdp.media} {sdp.port} {sdp.proto}"
            theirs = frames.get(sdp.frame)
            seen = theirs.sdp_media if theirs is not None else []
            if ours not in seen:
                diffs.append(
                    WiresharkDifference(sdp.frame, "SDP m-line", ours, "; ".join(seen) or "no SDP")
                )
    return n


def _connection(m: MediaRecord, conns: list[DecodedConnection]) -> DecodedConnection | None:
    assert m.tcp is not None
    pair = {m.tcp.client, m.tcp.server}
    return next((c for c in conns if {c.client, c.server} == pair), None)


def _compare_records(
    m: MediaRecord,
    frames: list[_Frame],
    conns: list[DecodedConnection],
    diffs: list[WiresharkDifference],
) -> int:
    dc = _connection(m, conns)
    ours = len(dc.data) if dc is not None else 0
    theirs = sum(f.app_records for f in frames)
    if ours != theirs:
        first = frames[0].number if frames else None
        what = f"decrypted TLS records ({m.protocol.value.upper()} {m.tcp.client if m.tcp else ''})"
        diffs.append(WiresharkDifference(first, what, str(ours), str(theirs)))
    return ours


def _compare_msrp(m: MediaRecord, frames: list[_Frame], diffs: list[WiresharkDifference]) -> int:
    ours = [str(msg.fields.get("transaction_id")) for msg in m.messages]
    theirs = [tid for f in frames for tid in f.msrp]
    if ours != theirs:
        at = _first_mismatch(ours, theirs)
        frame = m.messages[at].frame if at < len(m.messages) else None
        diffs.append(
            WiresharkDifference(frame, "MSRP transactions", _short(ours, at), _short(theirs, at))
        )
    return len(ours)


def _compare_bfcp(m: MediaRecord, frames: list[_Frame], diffs: list[WiresharkDifference]) -> int:
    ours = [(_primitive(msg.fields), _our_tree(msg.fields.get("attributes"))) for msg in m.messages]
    theirs = [(f.number, p, t) for f in frames for p, t in f.bfcp]
    if [p for p, _ in ours] != [p for _, p, _ in theirs]:
        at = _first_mismatch([p for p, _ in ours], [p for _, p, _ in theirs])
        frame = m.messages[at].frame if at < len(m.messages) else None
        diffs.append(
            WiresharkDifference(
                frame,
                "BFCP primitives",
                _short([_prim_name(p) for p, _ in ours], at),
                _short([_prim_name(p) for _, p, _ in theirs], at),
            )
        )
        return len(ours)
    for msg, (p, tree), (_, _, their_tree) in zip(m.messages, ours, theirs, strict=True):
        if tree != their_tree:
            diffs.append(
                WiresharkDifference(
                    msg.frame,
                    f"BFCP {_prim_name(p)} attributes",
                    _tree_text(tree),
                    _tree_text(their_tree),
                )
            )
    return len(ours)


def _primitive(fields: dict[str, object]) -> int:
    name = str(fields.get("primitive"))
    try:
        return int(bfcp.PRIMITIVES[name])
    except KeyError:
        return -1


def _prim_name(p: int) -> str:
    return bfcp.PRIMITIVES.label(p)


def _our_tree(attrs: object) -> BfcpTree:
    if not isinstance(attrs, list):
        return ()
    out = []
    for a in attrs:
        if not isinstance(a, dict):
            continue
        try:
            t = int(bfcp.ATTRIBUTES[str(a.get("type"))])
        except KeyError:
            t = -1
        out.append((t, _our_tree(a.get("attributes"))))
    return tuple(out)


def _tree_text(tree: BfcpTree) -> str:
    """``15(18(5,9),17)``: attribute types, nested attributes in brackets."""
    return ",".join(f"{t}({_tree_text(sub)})" if sub else str(t) for t, sub in tree)


def _first_mismatch(a: list[Any], b: list[Any]) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _short(items: list[str], at: int, around: int = 2) -> str:
    lo = max(0, at - around)
    shown = items[lo : at + around + 1]
    text = ", ".join(shown)
    return (
        f"{len(items)}: "
        + ("... " if lo else "")
        + text
        + (" ..." if at + around + 1 < len(items) else "")
    )
