"""Bind each media session of each call to its MIKEY exchange, TCP connection and TLS session.

Input: the calls of :mod:`mikeyshark.calls` (SIP dialogs, offer/answer, one media session per
m-line) and the TCP connections the pipeline saw (each with its reassembled bytes). Output:
one :class:`~mikeyshark.report.model.CallRecord` per call with a ``MediaRecord`` per MSRP/BFCP
m-line, ready for the rules.

Binding a connection to an m-line:

1. by the SDP: the connection's server is one side's address and port (``c=``/``m=``, or the
   host and port of its ``a=path`` URI) and its client is at the other side's address;
2. otherwise by key: a connection nobody claimed whose TLS handshake verifies with the
   m-line's TEK belongs to it (NATs and media relays rewrite addresses, keys they cannot).

Dial-in vs dial-out (docs/rules.md, the four flows): the side whose Contact carries
``isfocus`` is the conference; failing that the key file's ``[conference] uri``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from mikeyshark import media as medialib
from mikeyshark.calls import Call, MediaSession, OfferAnswer, SipRecord
from mikeyshark.decrypt import (
    AppData,
    DecodedConnection,
    KnownSecrets,
    PskCandidate,
    TlsConnectionDecoder,
    TlsSessionInfo,
)
from mikeyshark.dissectors import http
from mikeyshark.dissectors import sip as siplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.ip import canonical_address
from mikeyshark.dissectors.mikey.message import MikeyMessage
from mikeyshark.dissectors.mikey.message import parse as parse_mikey
from mikeyshark.dissectors.mikey.payloads import Rand, T, Ticket
from mikeyshark.dissectors.mikey.tree import ntp_to_text, render_tree
from mikeyshark.dissectors.sdp import KeyMgmt, MediaDescription, SessionDescription
from mikeyshark.dissectors.secret import show_key
from mikeyshark.dissectors.tls.constants import CIPHER_SUITES, Kx
from mikeyshark.evidence import (
    BoundBy,
    CallRecord,
    ChatEntry,
    FloorStep,
    KeyStatus,
    KmsLeg,
    LadderEvent,
    Lane,
    MediaMessage,
    MediaRecord,
    MikeyInfo,
    MpTermination,
    SdpMedia,
    TcpInfo,
    TlsInfo,
    TreeNode,
)
from mikeyshark.keyfile import KeyFile
from mikeyshark.keys import Resolution, resolve_exchange, resolve_kms_leg
from mikeyshark.ladder import connection_events
from mikeyshark.model import Endpoint, Problem, Severity, StreamChunk
from mikeyshark.mp import MpLeg
from mikeyshark.mp import candidate as mp_candidate
from mikeyshark.mp import complete as mp_complete
from mikeyshark.procedure import (
    Direction,
    Event,
    Protocol,
    Role,
    Side,
    flow_for,
)

MEDIA_PROTOCOLS = frozenset({"msrp", "bfcp"})


@dataclass(slots=True)
class ConnRecord:
    """One TCP connection as the pipeline collected it (bytes bounded by the pipeline)."""

    index: int
    client: Endpoint
    server: Endpoint
    syn_frame: int | None
    first_frame: int
    first_ts_ns: int
    chunks: list[tuple[bool, StreamChunk]] = field(default_factory=list)
    truncated: bool = False
    claimed: bool = False
    size: int = 0  # payload bytes kept in ``chunks``
    ignored: bool = False  # its first bytes were no media protocol: nothing kept
    # its FINs and RSTs once it closed: (from the client, frame, capture time, "FIN"/"RST")
    closes: list[tuple[bool, int, int, str]] = field(default_factory=list)
    expected: bool = False  # an SDP seen before its first byte names its server
    seq: int = 0  # its place in the order connections were seen (ConnPool)
    client_data: bool = False  # ``chunks`` holds data from the client (ConnPool.tls/http)

    def first_data(self, from_client: bool) -> StreamChunk | None:
        return next((c for fc, c in self.chunks if fc == from_client and c.data), None)

    def data_frames(self) -> list[int]:
        return sorted({c.frame for _, c in self.chunks if c.data})


@dataclass(slots=True)
class Decoded:
    """What one connection gave when decoded with one m-line's keys."""

    info: TlsSessionInfo
    plaintext: list[AppData]


@dataclass(slots=True)
class _Pending:
    """An m-line while correlation is in progress."""

    call: CallRecord
    session: MediaSession
    record: MediaRecord
    resolution: Resolution | None
    candidates: list[PskCandidate]
    secrets: KnownSecrets | None = None  # the TLS key log
    conn: ConnRecord | None = None
    decoded: Decoded | None = None
    kms_events: list[LadderEvent] = field(default_factory=list)


# --- SDP -----------------------------------------------------------------------------------


def _raw_key_mgmt(
    sd: SessionDescription, md: MediaDescription
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(mikey keymgmt-data as written, "media"/"session", every key-mgmt protocol present)."""
    protocols: list[str] = []
    found: tuple[str | None, str | None] = (None, None)
    for level, section in (("session", sd), ("media", md)):
        for v in section.attrs("key-mgmt"):
            parts = v.split()
            if not parts:
                continue
            protocols.append(parts[0].lower())
            if parts[0].lower() == "mikey" and (found[0] is None or level == "media"):
                found = (parts[1] if len(parts) > 1 else "", level)
    return found[0], found[1], tuple(protocols)


def _sdp_media(
    rec: SipRecord, sd: SessionDescription, index: int, problems: list[Problem]
) -> SdpMedia | None:
    if index >= len(sd.media):
        return None
    md = sd.media[index]
    try:
        m = md.m
        conn = sd.media_connection(index)
        km, level, protocols = _raw_key_mgmt(sd, md)
        paths: tuple[str, ...] = ()
        try:
            paths = tuple(str(p) for p in md.paths)
        except DissectError as e:
            problems.append(_problem(e, rec.frame))
        floorids: tuple[str, ...] = ()
        confid = userid = None
        try:
            floorids = tuple(str(f.floor_id) for f in md.floorids)
            c, u = md.confid, md.userid
            confid = str(c) if c is not None else None
            userid = str(u) if u is not None else None
        except (DissectError, ValueError) as e:
            problems.append(Problem("sdp", f"BFCP attribute: {e}", rec.frame))
        return SdpMedia(
            frame=rec.frame,
            index=index,
            media=m.media,
            port=m.port,
            proto=m.proto,
            address=canonical_address(conn.address) if conn is not None else None,
            setup=md.setup,
            connection=md.connection_attr,
            path=paths,
            cema=md.msrp_cema,
            key_mgmt=km,
            key_mgmt_level=level,
            key_mgmt_protocols=protocols,
            confid=confid,
            userid=userid,
            floorids=floorids,
            floorctrl=" ".join(md.floorctrl) or None,
        )
    except DissectError as e:
        problems.append(_problem(e, rec.frame))
        return None


def _sdp_addresses(rec: SipRecord, sd: SessionDescription, index: int) -> SdpMedia | None:
    """The part of :func:`_sdp_media` binding by SDP reads (where the side listens and may
    connect from), None where it gives None: what claiming a connection needs, quickly."""
    if index >= len(sd.media):
        return None
    md = sd.media[index]
    try:
        m = md.m
        conn = sd.media_connection(index)
    except DissectError:
        return None
    paths: tuple[str, ...] = ()
    with contextlib.suppress(DissectError):  # as _sdp_media: no paths
        paths = tuple(str(p) for p in md.paths)
    address = canonical_address(conn.address) if conn is not None else None
    return SdpMedia(rec.frame, index, m.media, m.port, m.proto, address, path=paths)


def _problem(e: DissectError, frame: int | None) -> Problem:
    return Problem(e.layer, e.reason, frame, field=e.field, offset=e.offset)


# --- MIKEY ---------------------------------------------------------------------------------


def lines_to_tree(lines: list[tuple[int, str]]) -> TreeNode | None:
    """Nest (depth, text) lines (mikeyshark.dissectors.mikey.tree) into a TreeNode."""
    if not lines:
        return None

    def build(i: int, depth: int) -> tuple[list[TreeNode], int]:
        nodes: list[TreeNode] = []
        while i < len(lines) and lines[i][0] >= depth:
            d, text = lines[i]
            if d > depth:  # a jump of more than one level: attach to the last node
                kids, i = build(i, d)
                if nodes:
                    last = nodes[-1]
                    nodes[-1] = TreeNode(last.label, last.value, last.children + tuple(kids))
                else:
                    nodes.extend(kids)
                continue
            kids, i = build(i + 1, depth + 1)
            label, _, value = text.partition(": ")
            nodes.append(TreeNode(label, value, tuple(kids)))
        return nodes, i

    roots, _ = build(0, lines[0][0])
    if len(roots) == 1:
        return roots[0]
    return TreeNode("MIKEY", "", tuple(roots))


def mikey_info(
    frame: int, encoded: str | None, reveal: bool, tree: bool = True
) -> tuple[MikeyInfo, bytes | None]:
    """Decode one a=key-mgmt:mikey value; never raises. ``tree``: with the payload tree (only
    the HTML report shows it)."""
    info, data, _ = _mikey_info(frame, encoded, reveal, tree)
    return info, data


def _mikey_info(
    frame: int, encoded: str | None, reveal: bool, tree: bool = True
) -> tuple[MikeyInfo, bytes | None, MikeyMessage | None]:
    """:func:`mikey_info` and the message parsed (for key resolution: parsed once)."""
    data_b64 = encoded or ""
    try:
        km = KeyMgmt.parse(f"mikey {data_b64}")
    except DissectError as e:
        return MikeyInfo(frame, data_b64, False, error=e.reason), None, None
    try:
        msg = parse_mikey(km.data)
    except DissectError as e:
        why = f"{e.reason} at offset {e.offset}"
        return MikeyInfo(frame, data_b64, False, error=why), km.data, None
    return _info_from(frame, data_b64, msg, reveal, tree), km.data, msg


def _text(b: bytes | None) -> str | None:
    if b is None:
        return None
    return b.decode("utf-8", "replace")


def _info_from(
    frame: int, data_b64: str, msg: MikeyMessage, reveal: bool, tree: bool = True
) -> MikeyInfo:
    t = msg.find(T)
    r = msg.find(Rand)
    idr = {role: msg.idr(role) for role in (1, 2, 3)}
    t_value: bytes | None = None
    if t is not None:
        try:
            t_value = t.value_bytes
        except KeyError:  # a TS type without a defined length: no value to compare
            t_value = None
    return MikeyInfo(
        frame=frame,
        data_b64=data_b64,
        parsed=True,
        data_type=msg.hdr.data_type,
        data_type_name=msg.data_type_name,
        has_ticket=msg.find(Ticket) is not None,
        csb_id=msg.hdr.csb_id,
        cs_count=len(msg.hdr.cs_ids()),
        idr_i=_text(idr[1].data) if idr[1] else None,
        idr_r=_text(idr[2].data) if idr[2] else None,
        idr_kms=_text(idr[3].data) if idr[3] else None,
        t_value=t_value,
        rand=r.value if r is not None else None,
        tree=lines_to_tree(render_tree(msg, reveal)) if tree else None,
    )


def _ntp_text(v: int) -> str:
    return ntp_to_text(0, v)  # TS type 0: NTP-UTC, the profile's ticket timestamps


def key_status(res: Resolution | None, keys: KeyFile, reveal: bool, tree: bool = True) -> KeyStatus:
    configured = bool(keys.kms or keys.psk)
    if res is None:
        return KeyStatus(keys_configured=configured)
    err = (
        res.failure("ticket-not-opened") or res.failure("bad-key-data") or res.failure("malformed")
    )
    ks = KeyStatus(
        keys_configured=configured,
        ticket_opened=res.ticket_opened,
        opened_by=res.opened_by,
        mode=res.mode,
        ticket_error=err.reason if err is not None else None,
        init_mac_ok=res.init_mac_ok,
        resp_mac_ok=res.resp_mac_ok,
        resp_csb_matches=res.same_csb,
        tek_candidates=len(res.tek_candidates),
    )
    if res.validity is not None:
        ks.valid_from_ns = res.validity.start_ns
        ks.valid_to_ns = res.validity.end_ns
    tk = res.ticket
    if tk is not None:
        ks.ticket_idr_r = _text(tk.responder)
        ks.mpk = tk.mpk
        ks.tgks = tk.tgks
        ks.ticket_teks = tuple(c.key for c in res.tek_candidates if c.from_ticket)
    if tk is not None and tree:
        ks.ticket_tree = TreeNode(
            "ticket",
            f"opened with {res.opened_by} ({res.mode})",
            (
                TreeNode("time of issue", _ntp_text(tk.t_issue)),
                TreeNode("valid from", _ntp_text(tk.t_start)),
                TreeNode("valid to", _ntp_text(tk.t_end)),
                TreeNode("RAND", tk.rand.hex()),
                TreeNode("IDRi", _text(tk.initiator) or ""),
                TreeNode("IDRr", _text(tk.responder) or ""),
                TreeNode("IDRkms", _text(tk.kms_uri) or ""),
                TreeNode("MPK", show_key(tk.mpk, reveal)),
                *(TreeNode(f"TGK {i + 1}", show_key(g, reveal)) for i, g in enumerate(tk.tgks)),
            ),
        )
    return ks


# --- TCP / TLS ---------------------------------------------------------------------------


def _endpoints(
    sdp: SdpMedia | None, msrp_paths: bool
) -> tuple[frozenset[Endpoint], frozenset[str]]:
    return sdp.listens(msrp_paths) if sdp is not None else (frozenset(), frozenset())


def _client_side(conn: ConnRecord, m: MediaRecord) -> Side | None:
    """Which side of the offer/answer the connection's client is."""
    o_eps, o_ips = _endpoints(m.offer, m.protocol is Protocol.MSRP)
    a_eps, a_ips = _endpoints(m.answer, m.protocol is Protocol.MSRP)
    if conn.server in o_eps and conn.server not in a_eps:
        return Side.ANSWERER
    if conn.server in a_eps and conn.server not in o_eps:
        return Side.OFFERER
    if conn.client.ip in o_ips and conn.client.ip not in a_ips:
        return Side.OFFERER
    if conn.client.ip in a_ips and conn.client.ip not in o_ips:
        return Side.ANSWERER
    return None


@dataclass(frozen=True, slots=True)
class SdpAddresses:
    """Where the two sides of an m-line listen and connect from, computed once per m-line."""

    offer_eps: frozenset[Endpoint]
    offer_ips: frozenset[str]
    answer_eps: frozenset[Endpoint]
    answer_ips: frozenset[str]
    answered: bool

    @classmethod
    def of(cls, m: MediaRecord) -> SdpAddresses:
        o_eps, o_ips = _endpoints(m.offer, m.protocol is Protocol.MSRP)
        a_eps, a_ips = _endpoints(m.answer, m.protocol is Protocol.MSRP)
        return cls(o_eps, o_ips, a_eps, a_ips, m.answer is not None)

    @property
    def servers(self) -> frozenset[Endpoint]:
        """Every server address a matching connection can have."""
        return self.offer_eps | self.answer_eps if self.answered else self.offer_eps

    def match(self, conn: ConnRecord) -> bool:
        if not self.answered:
            return conn.server in self.offer_eps
        return (conn.server in self.offer_eps and conn.client.ip in self.answer_ips) or (
            conn.server in self.answer_eps and conn.client.ip in self.offer_ips
        )


def decode_connection(
    conn: ConnRecord,
    candidates: list[PskCandidate],
    max_chunks: int | None = None,
    secrets: KnownSecrets | None = None,
) -> Decoded:
    """Decrypt the connection with the candidates (and the key log's ``secrets``);
    ``max_chunks`` stops early (a probe)."""
    dec = TlsConnectionDecoder(candidates, secrets=secrets)
    out: list[AppData] = []
    for from_client, chunk in conn.chunks[:max_chunks]:
        out.extend(dec.feed(from_client, chunk))
    info = dec.finish()
    return Decoded(info, out)


# Pieces of a connection enough to hold a TLS handshake and its first protected records,
# where the oracles (Finished, AEAD tag, binder) decide: probing stops there.
PROBE_CHUNKS = 24


def _verified(info: TlsSessionInfo) -> bool:
    return info.psk is not None or bool(info.binder_ok)


def tls_info(
    conn: ConnRecord, d: Decoded, candidates: int, data_frames: list[int] | None = None
) -> TlsInfo | None:
    """``data_frames``: ``conn.data_frames()``, when the caller has it already."""
    info = d.info
    if not info.is_tls:
        return None
    hello_from_client = info.client_hello_from_client
    client: Endpoint | None = None
    hello_frame = hello_ts = None
    if hello_from_client is not None:
        client = conn.client if hello_from_client else conn.server
        first = conn.first_data(hello_from_client)
        if first is not None:
            hello_frame, hello_ts = first.frame, first.ts_ns
    suite = CIPHER_SUITES.get(info.cipher_suite) if info.cipher_suite is not None else None
    psk_suite: bool | None = None
    if info.cipher_suite is not None:
        psk_suite = suite is not None and suite.kx in (Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK, Kx.TLS13)
    verified: bool | None
    if _verified(info):
        verified = True
    elif info.binder_ok is False or (
        candidates
        and info.version is not None
        and info.undecryptable_reason == "no candidate key matched"
    ):
        verified = False
    else:
        verified = None
    return TlsInfo(
        client=client,
        client_hello_frame=hello_frame,
        client_hello_ts_ns=hello_ts,
        version=info.version_name,
        cipher_suite=info.suite_name,
        psk_suite=psk_suite,
        psk_identity=info.psk_identity.decode("utf-8", "replace") if info.psk_identity else None,
        key_verified=verified,
        oracle=info.oracle,
        decrypted=info.decrypted,
        frames=tuple((conn.data_frames() if data_frames is None else data_frames)[:50]),
        alerts=tuple((a.frame, a.description) for a in info.alerts[:20]),
    )


# --- media messages -------------------------------------------------------------------------


def _media_messages(p: _Pending, problems: list[Problem], detail: bool = True) -> None:
    assert p.conn is not None and p.decoded is not None
    media_messages(p.record, p.conn, p.decoded, problems, detail)


def media_messages(
    m: MediaRecord, conn: ConnRecord, d: Decoded, problems: list[Problem], detail: bool = True
) -> None:
    """Parse the connection's plaintext as ``m``'s protocol: its messages, chat and floor
    (``detail``: the chat transcript and the floor's steps, which only the HTML shows)."""
    sess = medialib.make_session(m.protocol.value, conn.client, conn.server)
    client, server = conn.client, conn.server
    feed = sess.feed_data
    for app in d.plaintext:
        feed(
            client if app.from_client else server, app.frame, app.ts_ns, app.stream_offset, app.data
        )
    sess.close()
    if not d.info.is_tls and d.plaintext:
        proto = d.info.plaintext_protocol or medialib.sniff(d.plaintext[0].data)
        if proto in MEDIA_PROTOCOLS:
            m.plaintext_frames = sorted({a.frame for a in d.plaintext})
    elif d.info.outside:
        # TLS, but with MSRP/BFCP beside its records (after close_notify, between records):
        # any media byte outside the records is media in the clear
        clear = [o.frame for o in d.info.outside if medialib.sniff(o.head) in MEDIA_PROTOCOLS]
        m.plaintext_frames = sorted(set(clear))
    for rec in sess.messages:
        fields = sess.fields(rec)  # type: ignore[arg-type]
        m.messages.append(
            MediaMessage(rec.frame, rec.ts_ns, rec.sender, rec.receiver, _summary(fields), fields)
        )
    for prob in sess.problems:
        if prob.severity is Severity.ERROR:
            m.media_problems.append((prob.frame or 0, prob.reason))
        problems.append(prob)
    if isinstance(sess, medialib.BfcpSession) and detail:
        steps = [
            FloorStep(
                e.frame,
                e.ts_ns,
                e.sender,
                e.primitive,
                frid,
                e.floor_ids,
                e.status,
                e.queue_position,
            )
            for frid, events in sess.floor_requests().items()
            for e in events
        ]
        m.floor = sorted(steps, key=lambda f: (f.frame, f.request_id or 0))
    if isinstance(sess, medialib.MsrpSession):
        for rec in sess.unanswered():
            tid = rec.message.transaction_id
            m.media_problems.append((rec.frame, f"{rec.message.method} {tid} got no response"))
        for req, resp in sess.response_of.items():
            r = sess.messages[resp]
            if r.message.status != 200 and sess.messages[req].message.method == "SEND":
                m.media_problems.append((r.frame, f"SEND answered with {r.message.status}"))
        # the transcript brings delivery up to date; the problems are the chat's own
        for chat in sess.transcript() if detail else sess.chat:
            for issue in chat.problems:
                m.media_problems.append((chat.frame, f"message {chat.message_id}: {issue}"))
            if not detail:
                continue
            text = chat.text
            if text is None:
                text = f"[{len(chat.content)} bytes of {chat.inner_type or 'unknown type'}]"
            m.chat.append(
                ChatEntry(
                    chat.frame,
                    chat.ts_ns,
                    chat.sender,
                    chat.inner_type or chat.content_type or "",
                    text,
                    chat.delivered,
                    chat.state,
                )
            )


def _summary(f: dict[str, object]) -> str:
    if "primitive" in f:
        return str(f["primitive"])
    if f.get("method") is not None:
        return f"{f['method']} {f.get('transaction_id', '')}".strip()
    return f"{f.get('status')} {f.get('transaction_id', '')}".strip()


# --- calls ---------------------------------------------------------------------------------


def _rekeyed(call: Call, first: OfferAnswer) -> list[MediaSession]:
    """MSRP/BFCP m-lines of later offers in the same dialog (re-INVITE, UPDATE) that carry
    a new TRANSFER_INIT: a re-keying, so a new MIKEY exchange and a new TLS session to
    judge. A re-offer that repeats the key-mgmt line it had (a session refresh) adds none."""
    seen = {ms.offer_key_mgmt for ms in call.media if ms.negotiation is first}
    out: list[MediaSession] = []
    for oa in call.negotiations:
        if oa.offer.index <= first.offer.index or oa.dialog is not first.dialog:
            continue
        if oa.answer is None:
            continue
        for ms in call.media:
            km = ms.offer_key_mgmt
            if ms.negotiation is oa and ms.protocol in MEDIA_PROTOCOLS and km and km not in seen:
                seen.add(km)
                out.append(ms)
    return out


def _pick_negotiation(call: Call) -> OfferAnswer | None:
    """The initial offer/answer of the call that has MSRP/BFCP media (the confirmed fork)."""
    with_media = [
        oa
        for oa in call.negotiations
        if any(ms.negotiation is oa and ms.protocol in MEDIA_PROTOCOLS for ms in call.media)
    ]
    if not with_media:
        return None
    first_offer = min(oa.offer.index for oa in with_media)
    forks = [oa for oa in with_media if oa.offer.index == first_offer]

    def rank(oa: OfferAnswer) -> tuple[int, int]:
        # The fork that established the dialog (its answer came with a 2xx, or the dialog
        # got one and may be over by now) before early forks, reliable before unreliable.
        ans = oa.answer
        established = oa.dialog is not None and oa.dialog.state in ("confirmed", "terminated")
        if ans is not None and (200 <= (ans.msg.status or 0) < 300 or established):
            order = 0
        elif ans is not None and oa.answer_reliable:
            order = 1
        else:
            order = 2 if ans is not None else 3
        return (order, oa.offer.index)

    return min(forks, key=rank)


def _uri_of(na: siplib.NameAddr | None) -> str | None:
    return na.uri if na is not None else None


def _focus_host(call: Call) -> str | None:
    for r in call.records:
        try:
            for c in r.msg.contacts:
                if c.param("isfocus") is not None:
                    return c.parsed_uri().host
        except DissectError:
            continue
    return None


def _same_uri(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return siplib.kms_uid(a) == siplib.kms_uid(b)


def _direction(oa: OfferAnswer, rec: CallRecord, keys: KeyFile) -> Direction | None:
    d = oa.dialog
    if d is not None:
        if d.callee_focus and not d.caller_focus:
            return Direction.DIAL_IN
        if d.caller_focus and not d.callee_focus:
            return Direction.DIAL_OUT
    if keys.conference is not None:
        if _same_uri(rec.to_uri, keys.conference.uri):
            return Direction.DIAL_IN
        if _same_uri(rec.from_uri, keys.conference.uri):
            return Direction.DIAL_OUT
    return None


def _new_call_record(call: Call, oa: OfferAnswer, keys: KeyFile, capture: str) -> CallRecord:
    offer = oa.offer
    msg = offer.msg
    rec = CallRecord(call_id=call.call_id, capture=capture)
    if msg.is_request:
        rec.from_uri, rec.to_uri = _uri_of(msg.from_), _uri_of(msg.to)
        rec.offerer, rec.answerer = offer.src, offer.dst
        rec.invite_frame, rec.invite_ts_ns = offer.frame, offer.ts_ns
    else:  # offer in a response (INVITE without SDP): the callee offers
        rec.from_uri, rec.to_uri = _uri_of(msg.to), _uri_of(msg.from_)
        rec.offerer, rec.answerer = offer.src, offer.dst
        inv = call.first_invite
        rec.invite_frame = inv.frame if inv else offer.frame
        rec.invite_ts_ns = inv.ts_ns if inv else offer.ts_ns
    if oa.answer is not None:
        rec.answer_frame, rec.answer_ts_ns = oa.answer.frame, oa.answer.ts_ns
        rec.answer_status = oa.answer.msg.status
    rec.direction = _direction(oa, rec, keys)
    if rec.direction is not None:
        rec.focus_uri = rec.to_uri if rec.direction is Direction.DIAL_IN else rec.from_uri
    rec.problems.extend(call.problems)
    return rec


def _candidates(res: Resolution | None, keys: KeyFile) -> list[PskCandidate]:
    if res is not None:
        return [PskCandidate(c.key, c.derivation) for c in res.tek_candidates]
    return [PskCandidate(t.key, t.identity or "[[tek]] of the key file") for t in keys.tek]


def _media_record(
    call: Call,
    ms: MediaSession,
    rec: CallRecord,
    keys: KeyFile,
    reveal: bool,
    detail: bool = True,
) -> tuple[MediaRecord, Resolution | None]:
    oa = ms.negotiation
    problems = rec.problems
    offer = _sdp_media(oa.offer, oa.offer_sdp, ms.index, problems)
    answer = None
    if oa.answer is not None and oa.answer_sdp is not None:
        answer = _sdp_media(oa.answer, oa.answer_sdp, ms.index, problems)
    m = MediaRecord(index=ms.index, protocol=Protocol(ms.protocol), offer=offer, answer=answer)
    init_bytes = resp_bytes = None
    init_msg = resp_msg = None
    if offer is not None and offer.key_mgmt is not None:
        m.init, init_bytes, init_msg = _mikey_info(offer.frame, offer.key_mgmt, reveal, detail)
        m.init.ts_ns = oa.offer.ts_ns  # a re-INVITE's ticket is judged at its own time
    if answer is not None and answer.key_mgmt is not None:
        m.resp, resp_bytes, resp_msg = _mikey_info(answer.frame, answer.key_mgmt, reveal, detail)
    res: Resolution | None = None
    if init_bytes is not None and init_msg is not None and m.init is not None:
        try:
            res = resolve_exchange(
                init_bytes,
                resp_bytes if resp_msg is not None else None,
                keys,
                oa.offer.ts_ns,
                parsed=(init_msg, resp_msg),
            )
        except DissectError as e:
            problems.append(_problem(e, m.init.frame))
        else:
            m.init.prot_types = tuple(cs.prot_type for cs in res.crypto_sessions)
    m.key = key_status(res, keys, reveal, detail)
    return m, res


class ConnPool:
    """The TCP connections held for calls not correlated yet, in the order they were seen,
    indexed by server address (binding by SDP) and by what their client sent first (a TLS
    handshake may be bound by key, HTTP may be a KMS leg), so that finalizing a call costs
    what the call has, not what the capture holds."""

    def __init__(self) -> None:
        self._next = 0
        self._all: dict[int, ConnRecord] = {}  # by seq: insertion order is the order seen
        self._by_server: dict[Endpoint, dict[int, ConnRecord]] = {}
        # by seq: connections whose first client bytes are a TLS record / HTTP
        self.tls: dict[int, ConnRecord] = {}
        self.http: dict[int, ConnRecord] = {}

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[ConnRecord]:
        return iter(list(self._all.values()))

    def add(self, conn: ConnRecord) -> None:
        conn.seq = self._next
        self._next += 1
        self._all[conn.seq] = conn
        self._by_server.setdefault(conn.server, {})[conn.seq] = conn

    def first_client_data(self, conn: ConnRecord, data: bytes) -> None:
        """The first bytes the client sent were kept (``conn.first_data(True)``)."""
        if conn.seq not in self._all:
            return
        if data[:1] == b"\x16":
            self.tls[conn.seq] = conn
        if http.looks_like_http(data):
            self.http[conn.seq] = conn

    def emptied(self, conn: ConnRecord) -> None:
        """Its bytes were dropped: it no longer has first client data."""
        self.tls.pop(conn.seq, None)
        self.http.pop(conn.seq, None)

    def discard(self, conn: ConnRecord) -> None:
        if self._all.pop(conn.seq, None) is None:
            return
        same = self._by_server.get(conn.server)
        if same is not None:
            same.pop(conn.seq, None)
            if not same:
                del self._by_server[conn.server]
        self.emptied(conn)

    def oldest(self, n: int) -> list[ConnRecord]:
        return list(itertools.islice(self._all.values(), n))

    def matching(self, addrs: SdpAddresses) -> list[ConnRecord]:
        """Unclaimed connections whose addresses the m-line allows, in the order seen."""
        found = [
            c
            for ep in addrs.servers
            for c in self._by_server.get(ep, {}).values()
            if not c.claimed and addrs.match(c)
        ]
        found.sort(key=lambda c: c.seq)
        return found


def _choose_conn(p: _Pending, pool: ConnPool) -> ConnRecord | None:
    found = pool.matching(SdpAddresses.of(p.record))
    if not found:
        return None
    offer_frame = p.session.offer_frame
    # The connection that starts nearest after the offer; one opened earlier (a fault) last.
    return min(found, key=lambda c: (c.first_frame < offer_frame, abs(c.first_frame - offer_frame)))


def _bind(p: _Pending, conn: ConnRecord, how: BoundBy, decoded: Decoded | None = None) -> None:
    conn.claimed = True
    p.conn = conn
    p.decoded = (
        decoded if decoded is not None else decode_connection(conn, p.candidates, secrets=p.secrets)
    )
    m = p.record
    m.tcp = TcpInfo(
        client=conn.client,
        server=conn.server,
        syn_frame=conn.syn_frame,
        syn_ts_ns=conn.first_ts_ns if conn.syn_frame is not None else None,
        bound_by=how,
        client_side=_client_side(conn, m),
    )
    m.data_frames = conn.data_frames()
    m.tls = tls_info(conn, p.decoded, len(p.candidates), m.data_frames)
    if m.key is not None and p.decoded.info.psk is not None:
        m.key.tek = p.decoded.info.psk
        m.key.recovered = True
        m.key.oracle = p.decoded.info.oracle


# --- ladder -------------------------------------------------------------------------------


def _sip_label(r: SipRecord, oa: OfferAnswer) -> str:
    msg = r.msg
    base = (msg.method or "?") if msg.is_request else siplib_status(msg)
    if msg.is_request and msg.method == "INVITE" and _to_tag(msg):
        base = "re-INVITE"  # in the dialog: the To header carries the answerer's tag
    if r is oa.offer:
        base += " (offer)"
    elif r is oa.answer:
        base += " (answer)"
    if r.retransmission:
        base += " [retransmission]"
    elif r.hop_of is not None:
        base += f" [hop copy of frame {r.hop_of.frame}]"
    return base


def _to_tag(msg: siplib.SipMessage) -> str | None:
    try:
        to = msg.to
    except DissectError:
        return None
    return to.tag if to is not None else None


def siplib_status(msg: siplib.SipMessage) -> str:
    start = msg.start
    if isinstance(start, siplib.StatusLine):
        return f"{start.status} {start.reason}".strip()
    return "?"


def _events(call: Call, oa: OfferAnswer, rec: CallRecord, pend: list[_Pending]) -> None:
    mp_frames: set[int] = set()
    for p in pend:
        # the Mp leg's arrows (a frame once, should two terminations share a message)
        for ev in mp_complete(rec, p.record):
            if ev.frame not in mp_frames:
                mp_frames.add(ev.frame)
                rec.events.append(ev)
    flow = None
    if rec.direction is not None and rec.media:
        flow = flow_for(rec.media[0].protocol, rec.direction)
    steps = flow.steps if flow is not None else {}
    for r in call.records:
        step, event = "", None
        if r is oa.offer:
            step, event = steps.get(Event.INVITE, ""), Event.INVITE
        elif r is oa.answer:
            step, event = steps.get(Event.ANSWER, ""), Event.ANSWER
        rec.events.append(
            LadderEvent(r.frame, r.ts_ns, r.src, r.dst, Lane.SIP, _sip_label(r, oa), step, event)
        )
    for p in pend:
        m, conn = p.record, p.conn
        if conn is None:
            continue
        syn = (conn.syn_frame, conn.first_ts_ns) if conn.syn_frame is not None else None
        rec.events += connection_events(
            conn.client,
            conn.server,
            syn,
            conn.chunks,
            conn.closes,
            m.messages,
            m.protocol.value,
            m.tls is not None,
            steps,
            m.index + 1,
        )
        if m.kms is not None and p.kms_events:
            rec.events.extend(p.kms_events)
    rec.events.sort(key=lambda e: (e.frame, e.ts_ns))


def _roles(call: Call, oa: OfferAnswer, rec: CallRecord) -> None:
    focus_ip = _focus_host(call)
    ue_is_offerer = rec.direction is not Direction.DIAL_OUT
    ue_sig = rec.offerer if ue_is_offerer else rec.answerer
    # Captured at the MRF, the focus itself sends and receives the SIP: its peer is the
    # S-CSCF, not the UE
    at_mrf = focus_ip is not None and focus_ip in {
        ep.ip for ep in (rec.offerer, rec.answerer) if ep is not None
    }
    ue_ips = {ue_sig.ip} if ue_sig is not None and not at_mrf else set()
    conf_media_ips: set[str] = set()
    for m in rec.media:
        ue_sdp = m.offer if ue_is_offerer else m.answer
        conf_sdp = m.answer if ue_is_offerer else m.offer
        if ue_sdp is not None and ue_sdp.address:
            ue_ips.add(ue_sdp.address)
        if conf_sdp is not None and conf_sdp.address:
            conf_media_ips.add(conf_sdp.address)
    for ev in rec.events:
        for ep in (ev.src, ev.dst):
            if ep in rec.roles:
                continue
            if ev.kind is Lane.HTTP:
                role = Role.KMS if ep.port in http.PORTS or ep == ev.dst else Role.MRFC
            elif ep.ip in ue_ips:
                role = Role.UE
            elif ev.kind is Lane.SIP:
                if focus_ip is not None and ep.ip == focus_ip:
                    role = Role.MRFC
                else:
                    role = Role.SCSCF if at_mrf else Role.PCSCF
            elif ep.ip in conf_media_ips:
                role = Role.MRFP
            else:
                role = Role.MRFP
            rec.roles[ep] = role


# --- KMS leg -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _HttpSeen:
    """An HTTP message of a connection, with the frame that completed it."""

    frame: int
    ts_ns: int
    from_client: bool
    message: http.HttpMessage


def _http_messages(conn: ConnRecord) -> list[_HttpSeen]:
    """The HTTP/1.1 messages of both directions, in stream order, each direction up to its
    first gap or malformed message."""
    out: list[_HttpSeen] = []
    for from_client in (True, False):
        buf = bytearray()
        frames: list[tuple[int, int, int]] = []
        for fc, c in conn.chunks:
            if fc != from_client or not c.data:
                continue
            if c.gap:
                break
            frames.append((len(buf), c.frame, c.ts_ns))
            buf += c.data
        pos = 0
        while True:
            try:
                found = http.parse_message(buf, pos)
            except DissectError:
                break
            if found is None:
                break
            msg, pos = found
            frame, ts = next(((f, t) for off, f, t in reversed(frames) if off < pos), (0, 0))
            out.append(_HttpSeen(frame, ts, from_client, msg))
    return sorted(out, key=lambda h: h.frame)


def _kms_legs(
    conns: Iterable[ConnRecord],
    pend: list[_Pending],
    keys: KeyFile,
    *,
    claimed: bool = False,
    claims_only: bool = False,
) -> list[ConnRecord]:
    """The KMS legs of the m-lines: HTTP connections whose RESOLVE_INIT carries an m-line's
    ticket are claimed (returned, in order) and, unless ``claims_only``, each becomes its
    m-line's KmsLeg. ``claimed``: ``conns`` were claimed already (by :func:`claim`)."""
    found: list[ConnRecord] = []
    # a ticket seen in several calls (a replayed TRANSFER_INIT): each resolution belongs to
    # the latest of them offered before it
    by_ticket: dict[bytes, list[_Pending]] = {}
    for p in pend:
        if p.resolution is not None:
            tk = p.resolution.init.find(Ticket)
            if tk is not None:
                by_ticket.setdefault(tk.data, []).append(p)
    if not by_ticket:
        return found
    for conn in conns:
        if conn.claimed and not claimed:
            continue
        first = conn.first_data(True)
        if first is None or not http.looks_like_http(first.data):
            continue
        mikey = [
            h for h in _http_messages(conn) if "mikey" in (h.message.header("content-type") or "")
        ]
        reqs = [h for h in mikey if h.from_client]
        resps = [h for h in mikey if not h.from_client]
        for req, resp in zip(reqs, resps + [None] * (len(reqs) - len(resps)), strict=False):
            try:
                im = parse_mikey(req.message.body)
            except DissectError:
                continue
            tk = im.find(Ticket)
            owners = by_ticket.get(tk.data, []) if tk is not None else []
            before = [
                o for o in owners if o.session.offer_frame <= req.frame and o.record.kms is None
            ]
            owner = max(before, key=lambda o: o.session.offer_frame, default=None)
            if owner is None or owner.resolution is None:
                continue
            if not found or found[-1] is not conn:
                found.append(conn)
            conn.claimed = True
            if claims_only:
                owner.record.kms = KmsLeg(req.frame, None, None, None)  # taken (see ``before``)
                continue
            idr_r = im.idr(2)
            leg = KmsLeg(
                req.frame, resp.frame if resp else None, _text(idr_r.data) if idr_r else None, None
            )
            if resp is not None:
                try:
                    kl = resolve_kms_leg(req.message.body, resp.message.body, keys)
                except DissectError as e:
                    leg.error = f"RESOLVE_RESP: {e.reason}"
                else:
                    t = owner.resolution.ticket
                    if kl.mpk is not None and t is not None:
                        leg.keys_match = kl.mpk == t.mpk and kl.tgks == t.tgks
                    elif kl.error is not None and kl.error.code not in ("no-keys",):
                        leg.error = kl.error.reason
            owner.record.kms = leg
            ev_step = ""
            if owner.call.direction is not None:
                ev_step = flow_for(owner.record.protocol, owner.call.direction).steps.get(
                    Event.RESOLVE, ""
                )
            owner.kms_events.append(
                LadderEvent(
                    req.frame,
                    req.ts_ns,
                    conn.client,
                    conn.server,
                    Lane.HTTP,
                    "POST RESOLVE_INIT",
                    ev_step,
                )
            )
            if resp is not None:
                owner.kms_events.append(
                    LadderEvent(
                        resp.frame,
                        resp.ts_ns,
                        conn.server,
                        conn.client,
                        Lane.HTTP,
                        f"{resp.message.status or 'HTTP'} RESOLVE_RESP",
                    )
                )
    return found


# --- entry point ---------------------------------------------------------------------------


@dataclass(slots=True)
class Correlation:
    calls: list[CallRecord]
    # The TLS connections bound to an m-line, decoded (for the key log / decrypted exports).
    connections: list[DecodedConnection]
    # The same, per call of ``calls`` (a call finalized early keeps only its own).
    call_connections: list[list[DecodedConnection]]


def _selected(call: Call) -> tuple[OfferAnswer, list[MediaSession]] | None:
    """The negotiation a call is judged on and its MSRP/BFCP m-lines (with those of later
    offers that re-key); None for a call without any."""
    oa = _pick_negotiation(call)
    if oa is None:
        return None
    rekeyed = {id(ms) for ms in _rekeyed(call, oa)}
    return oa, [
        ms
        for ms in call.media
        if (ms.negotiation is oa or id(ms) in rekeyed) and ms.protocol in MEDIA_PROTOCOLS
    ]


# An m-line of a batch of calls: the call's place in the batch, the m-line's among the call's
MLine = tuple[int, int]


@dataclass(slots=True)
class Bindings:
    """The connections a batch of calls claimed: what :func:`claim` decided and
    :func:`correlate` applies."""

    by_sdp: dict[MLine, ConnRecord] = field(default_factory=dict)  # in the order bound
    by_key: dict[MLine, ConnRecord] = field(default_factory=dict)
    kms: list[ConnRecord] = field(default_factory=list)  # KMS legs' HTTP connections
    mp: dict[MLine, MpTermination] = field(default_factory=dict)  # Mp terminations bound
    mp_leg: dict[int, bool] = field(default_factory=dict)  # by call: Mp traffic seen by then

    def claimed(self) -> list[ConnRecord]:
        return [*self.by_sdp.values(), *self.by_key.values(), *self.kms]

    def of_call(self, i: int) -> Bindings:
        """What the batch's call ``i`` claimed, as a batch of that call alone (the KMS legs
        are matched again by ticket: those of other calls find no m-line of this one)."""
        return Bindings(
            {(0, j): c for (k, j), c in self.by_sdp.items() if k == i},
            {(0, j): c for (k, j), c in self.by_key.items() if k == i},
            list(self.kms),
            {(0, j): t for (k, j), t in self.mp.items() if k == i},
            {0: self.mp_leg[i]} if i in self.mp_leg else {},
        )


def _mp_candidate(p: _Pending) -> None:
    """The PSK the MRFC gave on Mp for the m-line, a TEK candidate like any other."""
    got = mp_candidate(p.record)
    if got is not None and all(c.key != got[0] for c in p.candidates):
        p.candidates.append(PskCandidate(*got))
        if p.record.key is not None:
            p.record.key.tek_candidates += 1


def claim(
    calls: Sequence[Call],
    pool: ConnPool,
    keys: KeyFile,
    *,
    secrets: KnownSecrets | None = None,
    mp: MpLeg | None = None,
) -> Bindings:
    """Which held connections the calls' m-lines claim, as :func:`correlate` would bind them,
    without decoding what is bound: by the SDP in the order of the offers, then a TLS
    connection nobody claimed by the key its handshake verifies, then the KMS legs by
    ticket. The connections are marked claimed. MIKEY tickets are opened only when a key
    or a KMS leg can decide (a connection is left that no SDP names, or HTTP is held)."""
    out = Bindings()
    pend: list[_Pending] = []
    where: list[tuple[Call, MediaSession]] = []
    names: list[MLine] = []
    records: list[tuple[int, CallRecord]] = []
    for ci, call in enumerate(calls):
        sel = _selected(call)
        if sel is None:
            continue
        oa, mlines = sel
        rec = _new_call_record(call, oa, keys, "")  # the direction, for the Mp leg
        records.append((ci, rec))
        for mj, ms in enumerate(mlines):
            names.append((ci, mj))
            n = ms.negotiation
            answer = None
            if n.answer is not None and n.answer_sdp is not None:
                answer = _sdp_addresses(n.answer, n.answer_sdp, ms.index)
            m = MediaRecord(
                index=ms.index,
                protocol=Protocol(ms.protocol),
                offer=_sdp_addresses(n.offer, n.offer_sdp, ms.index),
                answer=answer,
            )
            rec.media.append(m)
            pend.append(_Pending(rec, ms, m, None, [], secrets))
            where.append((call, ms))
    if mp is not None:
        for ci, rec in records:
            mp.bind(rec)
            out.mp_leg[ci] = rec.mp_leg
        for k, p in zip(names, pend, strict=True):
            if p.record.mp is not None:
                out.mp[k] = p.record.mp
    resolved: set[int] = set()

    def resolve(i: int) -> None:
        if i in resolved:
            return
        resolved.add(i)
        call, ms = where[i]
        p = pend[i]
        _, p.resolution = _media_record(call, ms, CallRecord(call.call_id), keys, False, False)
        p.candidates = _candidates(p.resolution, keys)
        _mp_candidate(p)

    order = sorted(range(len(pend)), key=lambda i: pend[i].session.offer_frame)
    for i in order:
        conn = _choose_conn(pend[i], pool)
        if conn is not None:
            conn.claimed = True
            pend[i].conn = conn
            out.by_sdp[names[i]] = conn
    for i, p in enumerate(pend):
        if p.conn is not None:
            continue
        tls = sorted((c for c in pool.tls.values() if not c.claimed), key=lambda c: c.seq)
        if not tls:
            continue
        resolve(i)
        if not p.candidates:
            continue
        for conn in tls:
            if _verified(decode_connection(conn, p.candidates, PROBE_CHUNKS, p.secrets).info):
                conn.claimed = True
                p.conn = conn
                out.by_key[names[i]] = conn
                break
    http_conns = sorted((c for c in pool.http.values() if not c.claimed), key=lambda c: c.seq)
    if http_conns:
        for i in range(len(pend)):
            resolve(i)
        out.kms = _kms_legs(http_conns, pend, keys, claims_only=True)
    return out


def correlate(
    calls: Sequence[Call],
    conns: ConnPool | Bindings,
    keys: KeyFile,
    *,
    capture: str = "",
    reveal: bool = False,
    secrets: KnownSecrets | None = None,
    detail: bool = True,
    mp: MpLeg | None = None,
) -> Correlation:
    """Every call with an MSRP or BFCP m-line, with its media bound and decoded (with the
    TEKs, and the key log's ``secrets`` where the PSK alone cannot open a session).

    ``conns``: the held connections to bind from (with ``mp``, the capture's Mp leg: each
    m-line's Mp termination, its PSK a candidate), or what :func:`claim` bound for these
    calls. ``detail``: with what only the HTML report shows (payload trees, the ladder's
    events and roles, the chat transcript)."""
    bindings = (
        conns if isinstance(conns, Bindings) else claim(calls, conns, keys, secrets=secrets, mp=mp)
    )
    records: list[CallRecord] = []
    pend: list[_Pending] = []
    named: dict[MLine, _Pending] = {}
    per_call_rec: dict[int, CallRecord] = {}
    per_call: list[tuple[Call, OfferAnswer, CallRecord, list[_Pending]]] = []
    for ci, call in enumerate(calls):
        sel = _selected(call)
        if sel is None:
            continue
        oa, mlines = sel
        rec = _new_call_record(call, oa, keys, capture)
        mine: list[_Pending] = []
        for mj, ms in enumerate(mlines):
            m, res = _media_record(call, ms, rec, keys, reveal, detail)
            rec.media.append(m)
            mine.append(p := _Pending(rec, ms, m, res, _candidates(res, keys), secrets))
            named[ci, mj] = p
        records.append(rec)
        per_call_rec[ci] = rec
        pend.extend(mine)
        per_call.append((call, oa, rec, mine))
    # 0. the Mp leg, as claim() bound it: each m-line's termination; the PSK the MRFC gave is
    #    a TEK candidate like any other (the handshake alone proves it)
    for ci, leg in bindings.mp_leg.items():
        per_call_rec[ci].mp_leg = leg
    for k, term in bindings.mp.items():
        named[k].record.mp = term
    for p in pend:
        _mp_candidate(p)
    # 1. by the SDP, 2. by key (as claim() decided)
    for k, conn in bindings.by_sdp.items():
        _bind(named[k], conn, BoundBy.SDP)
    for k, conn in bindings.by_key.items():
        _bind(named[k], conn, BoundBy.KEY)
    # 3. the KMS legs
    _kms_legs(bindings.kms, pend, keys, claimed=True)
    for p in pend:
        if p.conn is not None:
            _media_messages(p, p.call.problems, detail)
    if detail:
        for call, oa, rec, mine in per_call:
            _events(call, oa, rec, mine)
            _roles(call, oa, rec)
    else:
        for _, _, rec, mine in per_call:
            for p in mine:
                mp_complete(rec, p.record)  # whether the connection joins its termination
    decoded = [
        [
            DecodedConnection(
                p.conn.client,
                p.conn.server,
                p.conn.first_frame,
                p.decoded.info,
                p.decoded.plaintext,
            )
            for p in mine
            if p.conn is not None and p.decoded is not None and p.decoded.info.is_tls
        ]
        for _, _, _, mine in per_call
    ]
    return Correlation(records, [d for ds in decoded for d in ds], decoded)
