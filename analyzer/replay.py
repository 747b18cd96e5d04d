"""Live replay: the scenarios played over real sockets instead of written into a file.

The UE, the P-CSCF (a relay that adds and removes its Via), the MRFC (the focus, SIP over
UDP) and the MRFP (TCP media) are separate asyncio endpoints on distinct loopback addresses;
either side can instead face a real peer (``side="ue"`` or ``"conference"`` with ``target``).
The calls follow the seed's steps: TRANSFER_INIT in the offer, the answerer opens the
ticket with the key file and answers with TRANSFER_RESP, TCP from the side the answer makes
active (before the 200 OK in dial-in, as steps 7-8 come before 9-10), TLS-PSK with the TEK
by our engine, then MSRP chat or BFCP floor control, close_notify, FIN, BYE.

The MRFC drives the MRFP over Mp (H.248 on UDP 2944, docs/mp-profile.md): an Add in dial-in
(steps 4-6), a reserve Add and a configure Modify in dial-out (2-4, 9-11), a Subtract at
release. The MRFP does what it is told: it connects to the Remote or accepts on its Local as
the a=setup of its Local says, as the TLS client or server the role says, with the PSK and
identity it was given.

``resend_pcap`` re-sends the frames of a capture with their timing, for feeding a probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from mikeyshark.dissectors import bfcp, msrp, sdp, sip
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248 import PORT_TEXT
from mikeyshark.dissectors.h248.model import (
    CONTEXT_CHOOSE,
    Action,
    Command,
    Descriptor,
    EventsDescriptor,
    MegacoMessage,
    Mid,
    MidKind,
    Transaction,
    TransactionReply,
    TransactionRequest,
)
from mikeyshark.dissectors.h248.mp import (
    MpProfile,
    MpStream,
    events_descriptor,
    local_control_descriptor,
    read_command,
)
from mikeyshark.dissectors.h248.text import build_message, parse_message
from mikeyshark.dissectors.mikey import crypto as mcrypto
from mikeyshark.dissectors.mikey import transfer
from mikeyshark.dissectors.mikey.payloads import Rand
from mikeyshark.dissectors.mikey.payloads import ntp64_from_unix_ns as ntp
from mikeyshark.dissectors.tls import engine as tls
from mikeyshark.keyfile import KeyFile
from mikeyshark.keys import resolve_exchange
from mikeyshark.model import Endpoint
from mikeyshark.mp import sdp_of
from mikeyshark.synth import media as M
from mikeyshark.synth import mp as mpleg
from mikeyshark.synth.scenarios import (
    LOOPBACK,
    AddressPlan,
    Call,
    ProtectedMedia,
    World,
    call_specs,
    keyfile,
    make_world,
    new_call,
    psk_identity,
)

SIP_PORT = sip.PORT
STEP_TIMEOUT = 10.0  # seconds to wait for any one message of the peer


class ReplayError(Exception):
    """The peer did not do what the flow expects (or did not answer in time)."""


# ------------------------------------------------------------------------------- results


@dataclass(slots=True)
class LiveMedia:
    protocol: str
    csb_id: int
    tek: bytes
    tcp_client: Endpoint | None = None
    tcp_server: Endpoint | None = None
    tls_client: Endpoint | None = None
    messages: int = 0  # application messages this side received


@dataclass(slots=True)
class LiveCall:
    call_id: str
    scenario: str
    offerer: str
    answerer: str
    media: list[LiveMedia] = field(default_factory=list)


@dataclass(slots=True)
class ReplayResult:
    scenario: str
    calls: list[LiveCall]
    keyfile_text: str
    capture: Path | None = None


# ---------------------------------------------------------------------------------- SIP


class SipSocket(asyncio.DatagramProtocol):
    """One UDP SIP endpoint: datagrams are parsed and queued per Call-ID; INVITEs of calls
    it does not know yet wait in ``invites``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None
        self.calls: dict[str, asyncio.Queue[tuple[sip.SipMessage, tuple[str, int]]]] = {}
        self.invites: list[tuple[sip.SipMessage, tuple[str, int]]] = []
        self.invite_arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_datagram_endpoint hands a datagram transport (not a registered subclass).
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = sip.parse(data)
        except ValueError:
            return  # not SIP: a real network has such things; the flow goes on
        cid = msg.call_id or ""
        if cid not in self.calls and msg.method == "INVITE" and msg.status is None:
            self.calls[cid] = asyncio.Queue()
            self.invites.append((msg, addr))
            self.invite_arrived.set()
            return
        self.calls.setdefault(cid, asyncio.Queue()).put_nowait((msg, addr))

    def send(self, msg: sip.SipMessage, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(sip.build(msg), addr)

    async def invite_from(self, uri: str) -> tuple[sip.SipMessage, tuple[str, int]]:
        """The first new INVITE whose From is ``uri`` (a focus serves several UEs)."""
        end = time.monotonic() + STEP_TIMEOUT
        while True:
            for i, (msg, addr) in enumerate(self.invites):
                frm = msg.get("From")
                if frm is not None and sip.normalize_uri(frm) == uri:
                    del self.invites[i]
                    return msg, addr
            self.invite_arrived.clear()
            left = end - time.monotonic()
            if left <= 0:
                raise ReplayError(f"{self.name}: no INVITE from {uri} arrived")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.invite_arrived.wait(), left)

    async def next(self, call_id: str) -> tuple[sip.SipMessage, tuple[str, int]]:
        q = self.calls.setdefault(call_id, asyncio.Queue())
        try:
            return await asyncio.wait_for(q.get(), STEP_TIMEOUT)
        except TimeoutError:
            raise ReplayError(f"{self.name}: nothing from the peer in call {call_id}") from None

    async def expect(
        self, call_id: str, want: Callable[[sip.SipMessage], bool], what: str
    ) -> tuple[sip.SipMessage, tuple[str, int]]:
        """The next message of the call that ``want`` accepts; provisional answers and
        retransmissions before it are skipped."""
        while True:
            msg, addr = await self.next(call_id)
            if want(msg):
                return msg, addr
            if msg.status is not None and msg.status >= 300:
                raise ReplayError(f"{self.name}: {msg.status} while waiting for {what}")


def _sent_by(via: sip.Via) -> tuple[str, int]:
    return via.host, via.port or SIP_PORT


class Relay(asyncio.DatagramProtocol):
    """The P-CSCF as a stateless proxy: it puts its Via on requests and takes it off
    responses; requests from the UE side go to the focus, the focus's requests go to the
    Request-URI, responses to the next Via."""

    def __init__(self, ip: str, focus: tuple[str, int], token: Callable[[int], str]) -> None:
        self.ip = ip
        self.focus = focus
        self.token = token
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_datagram_endpoint hands a datagram transport (not a registered subclass).
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        try:
            msg = sip.parse(data)
            if msg.status is None:
                via = sip.Header(
                    "Via", f"SIP/2.0/UDP {self.ip}:{SIP_PORT};branch=z9hG4bK{self.token(12)}"
                )
                fwd = sip.SipMessage(msg.start, (via, *msg.headers), msg.body, msg.eol)
                if addr == self.focus and isinstance(msg.start, sip.RequestLine):
                    uri = sip.SipUri.parse(msg.start.uri)
                    dest = (uri.host, uri.port or SIP_PORT)
                else:
                    dest = self.focus
            else:
                vias = [i for i, h in enumerate(msg.headers) if h.key == "via"]
                if not vias:
                    return
                headers = list(msg.headers)
                del headers[vias[0]]
                fwd = sip.SipMessage(msg.start, tuple(headers), msg.body, msg.eol)
                nxt = fwd.top_via
                if nxt is None:
                    return
                dest = _sent_by(nxt)
        except ValueError:
            return
        self.transport.sendto(sip.build(fwd), dest)


@dataclass(slots=True)
class Dialog:
    """What a UA needs for requests inside a dialog (RFC 3261 12)."""

    call_id: str
    local: str  # From/To value of this side, with its tag
    remote: str
    target: str  # remote Contact URI
    routes: list[str]
    via_host: str
    via_port: int
    next_hop: tuple[str, int]
    token: Callable[[int], str]
    cseq: int = 1

    def request(
        self,
        method: str,
        *,
        cseq: int | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> sip.SipMessage:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        headers = [
            (
                "Via",
                f"SIP/2.0/UDP {self.via_host}:{self.via_port};branch=z9hG4bK{self.token(12)};rport",
            ),
            *(("Route", r) for r in self.routes),
            ("Max-Forwards", "70"),
            ("From", self.local),
            ("To", self.remote),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            *(extra or []),
        ]
        return sip.request(method, self.target, headers, body, "application/sdp" if body else None)


def _uac_dialog(
    call: Call, resp: sip.SipMessage, via: tuple[str, int], next_hop: tuple[str, int]
) -> Dialog:
    contact = resp.contact
    routes = list(reversed(resp.values("record-route")))
    return Dialog(
        call_id=resp.call_id or "",
        local=resp.get("From") or "",
        remote=resp.get("To") or "",
        target=contact.uri if contact else "",
        routes=routes,
        via_host=via[0],
        via_port=via[1],
        next_hop=next_hop,
        token=call.w.token,
    )


# ------------------------------------------------------------------------------ TLS pipe


class TlsPipe:
    """Our TLS-PSK engine over an asyncio stream (or the bytes in the clear when
    ``engine`` is None)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        engine: tls.TlsPskEngine | None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.engine = engine
        self.live: LiveMedia | None = None
        self.connected_out = False  # this side opened the TCP connection
        self._app: list[bytes] = []
        self.closed = False  # the peer closed (close_notify, fatal alert or FIN)
        self.sent_close = False

    async def _flush(self) -> None:
        if self.engine is not None:
            out = self.engine.data_to_send()
            if out:
                self.writer.write(out)
                await self.writer.drain()

    def _take(self, events: list[tls.Event]) -> None:
        for e in events:
            if isinstance(e, tls.ApplicationData):
                self._app.append(e.data)
            elif isinstance(e, tls.ConnectionClosed | tls.AlertReceived):
                self.closed = True

    async def handshake(self) -> None:
        if self.engine is None:
            return
        self.engine.start()
        await self._flush()
        while not self.engine.handshake_complete:
            data = await asyncio.wait_for(self.reader.read(65536), STEP_TIMEOUT)
            if not data:
                raise ReplayError("the peer closed the connection during the TLS handshake")
            try:
                self._take(self.engine.receive_data(data))
            finally:
                await self._flush()

    async def send(self, data: bytes) -> None:
        if self.engine is None:
            self.writer.write(data)
            await self.writer.drain()
            return
        self.engine.send_application_data(data)
        await self._flush()

    async def recv(self, timeout: float = STEP_TIMEOUT) -> bytes:
        """Next application bytes; b"" once the peer closed (close_notify or FIN)."""
        while not self._app:
            if self.closed:
                return b""
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                self.closed = True
                return b""
            if self.engine is None:
                return data
            self._take(self.engine.receive_data(data))
            await self._flush()
        return self._app.pop(0)

    async def close(self) -> None:
        """close_notify (answered by the peer's), then FIN."""
        if self.engine is not None and not self.sent_close:
            self.sent_close = True
            self.engine.close()
            await self._flush()
            with contextlib.suppress(TimeoutError, ConnectionError):
                while not self.closed:
                    if await self.recv(timeout=2.0) == b"":
                        break
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def _answer_close(pipe: TlsPipe) -> None:
    """The side that did not hang up: answer close_notify and close."""
    if pipe.engine is not None and not pipe.sent_close:
        pipe.sent_close = True
        pipe.engine.close()
        with contextlib.suppress(ConnectionError):
            await pipe._flush()
    pipe.writer.close()
    with contextlib.suppress(ConnectionError):
        await pipe.writer.wait_closed()


# ---------------------------------------------------------------------------- MSRP, BFCP


@dataclass(slots=True)
class MsrpPeer:
    """One side of the chat: sends its messages of :func:`media.msrp_texts` in their turn
    (after as many complete messages of the peer as come before them), answers every SEND."""

    pipe: TlsPipe
    own: list[tuple[int, list[msrp.Message]]]  # (peer messages to wait for, chunks)
    expect_peer: int
    received: int = 0
    acks: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def _reader(self) -> None:
        framer = msrp.MsrpFramer()
        while True:
            data = await self.pipe.recv(timeout=60)
            if not data:
                self.progress.set()
                return
            for f in framer.feed(data):
                if not isinstance(f, msrp.FramedMessage):
                    raise ReplayError(f"MSRP from the peer does not frame: {f}")
                m = f.message
                if m.method == "SEND":
                    await self.pipe.send(msrp.build_message(msrp.response(m)))
                    if m.flag == msrp.FLAG_COMPLETE:
                        self.received += 1
                        self.progress.set()
                elif m.status is not None and m.transaction_id in self.acks:
                    self.acks.pop(m.transaction_id).set_result(None)

    async def run(self, hang_up: bool) -> None:
        reader = asyncio.ensure_future(self._reader())
        try:
            for after, chunks in self.own:
                while self.received < after:
                    self.progress.clear()
                    await asyncio.wait_for(self.progress.wait(), STEP_TIMEOUT)
                    if reader.done():
                        raise ReplayError("the peer closed the MSRP session early")
                for c in chunks:
                    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    self.acks[c.transaction_id] = fut
                    await self.pipe.send(msrp.build_message(c))
                    await asyncio.wait_for(fut, STEP_TIMEOUT)
            if hang_up:
                while self.received < self.expect_peer:
                    self.progress.clear()
                    await asyncio.wait_for(self.progress.wait(), STEP_TIMEOUT)
            else:
                await asyncio.wait_for(asyncio.shield(reader), 60)
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader


def msrp_peer(
    call: Call,
    pipe: TlsPipe,
    *,
    ue: bool,
    own_path: str,
    peer_path: str,
    ue_first: bool,
) -> MsrpPeer:
    texts = M.msrp_texts(call.w.rng, call.ue_uri, ue_first)
    own: list[tuple[int, list[msrp.Message]]] = []
    seen_peer = 0
    to_uri, from_uri = msrp.MsrpUri.parse(peer_path), msrp.MsrpUri.parse(own_path)
    for from_ue, text in texts:
        if from_ue == ue:
            own.append((seen_peer, M.msrp_chunks(call.w.token, to_uri, from_uri, text)))
        else:
            seen_peer += 1
    return MsrpPeer(pipe, own, seen_peer)


def _bfcp_messages(data: bytes, framer: bfcp.BfcpFramer) -> list[bfcp.Message]:
    out = []
    for f in framer.feed(data):
        if not isinstance(f, bfcp.FramedMessage):
            raise ReplayError(f"BFCP from the peer does not frame: {f}")
        out.append(f.message)
    return out


async def bfcp_client(pipe: TlsPipe, call: Call, confid: int, userid: int, floor: int) -> int:
    """The floor control client (the UE): Hello, FloorRequest, FloorRelease, each answered."""
    framer = bfcp.BfcpFramer()
    tid = call.w.rng.randrange(1, 0x8000)
    got = 0
    frid = 0
    for i, make in enumerate(("hello", "request", "release")):
        if make == "hello":
            req = bfcp.hello(confid, tid + i, userid)
        elif make == "request":
            req = bfcp.floor_request(confid, tid + i, userid, [floor])
        else:
            req = bfcp.floor_release(confid, tid + i, userid, frid)
        await pipe.send(bfcp.build_message(req))
        answers: list[bfcp.Message] = []
        while not answers:
            data = await pipe.recv()
            if not data:
                raise ReplayError("the floor control server closed the connection")
            answers = [a for a in _bfcp_messages(data, framer) if a.transaction_id == tid + i]
        got += 1
        for a in answers[0].find(bfcp.FloorRequestInformation):
            assert isinstance(a, bfcp.FloorRequestInformation)
            frid = a.id
    return got


async def bfcp_server(pipe: TlsPipe, call: Call, hang_up: bool) -> int:
    """The floor control server (the conference): HelloAck, Granted, Released."""
    framer = bfcp.BfcpFramer()
    frid = call.w.rng.randrange(1, 0x10000)
    got = 0
    while True:
        data = await pipe.recv(timeout=60)
        if not data:
            return got
        for m in _bfcp_messages(data, framer):
            got += 1
            name = m.primitive_name
            if name == "Hello":
                ans = bfcp.hello_ack(m)
            elif name == "FloorRequest":
                floors = [f.value for f in m.find(bfcp.FloorId) if isinstance(f, bfcp.FloorId)]
                ans = bfcp.floor_request_status(m, frid, floors, bfcp.REQUEST_STATUS["Granted"])
            elif name == "FloorRelease":
                ans = bfcp.floor_request_status(m, frid, [1], bfcp.REQUEST_STATUS["Released"])
            else:
                ans = bfcp.error(m, 3)  # unknown primitive
            await pipe.send(bfcp.build_message(ans))
            if name == "FloorRelease" and hang_up:
                return got


# ------------------------------------------------------------------------ the two sides


@dataclass(slots=True)
class Keys:
    """What an answerer learns from a TRANSFER_INIT it resolves with the key file."""

    tek: bytes
    resp: bytes
    csb_id: int


def resolve_init(init: bytes, keys: KeyFile, responder: str, at_ns: int) -> Keys:
    """Steps 3 / 7: open the ticket, derive the TEK, build TRANSFER_RESP (docs/profile.md)."""
    res = resolve_exchange(init, None, keys, at_ns)
    if res.ticket is None:
        why = res.failures[0].reason if res.failures else "no key opens it"
        raise ReplayError(f"cannot resolve the ticket of the offer: {why}")
    rand = res.init.find(Rand)
    if rand is None:
        raise ReplayError("TRANSFER_INIT without RAND")
    csb = res.init.hdr.csb_id
    cs_id = res.init.hdr.cs_ids()[0]
    tek = mcrypto.derive_tek(res.ticket.tgks[0], cs_id, csb, rand.value, 16, res.init.hdr.prf_func)
    resp = transfer.build_transfer_resp(
        init=init, t_ntp=ntp(at_ns), responder=responder.encode(), mpk=res.ticket.mpk
    )
    return Keys(tek, resp, csb)


def _protected(sd: sdp.SessionDescription) -> list[tuple[int, sdp.MediaDescription]]:
    return [(i, m) for i, m in enumerate(sd.media) if m.proto in sdp.TLS_PROTOS]


def _media_addr(sd: sdp.SessionDescription, index: int) -> tuple[str, int]:
    conn = sd.media_connection(index)
    if conn is None:
        raise ReplayError("SDP m-line without a c= address")
    return conn.address, sd.media[index].m.port


class Side:
    """One side of one call (UE, or MRFC + MRFP) with its sockets."""

    def __init__(
        self, call: Call, sock: SipSocket, keys: KeyFile, ue: bool, next_hop: tuple[str, int]
    ) -> None:
        self.call = call
        self.sock = sock
        self.keys = keys
        self.ue = ue
        self.next_hop = next_hop
        self.live = LiveCall(call.call_id, call.scenario, call.offerer_uri, call.answerer_uri)
        self.servers: list[asyncio.Server] = []
        self.accepted: dict[
            int, asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
        ] = {}
        self.mp: MrfcMp | None = None  # the conference's: its end of the Mp leg
        # what the MRFP started when the MRFC configured it, by m-line
        self.mrfp_pipes: dict[int, asyncio.Future[TlsPipe]] = {}
        self.terminations: list[tuple[str, str]] = []  # (context, id) on the MRFP

    @property
    def media_ip(self) -> str:
        return self.call.ue.ip if self.ue else self.call.w.mrfp.ip

    @property
    def sip_addr(self) -> tuple[str, int]:
        return (
            (self.call.ue.ip, self.call.ue_sip_port)
            if self.ue
            else (self.call.w.addr.mrfc, SIP_PORT)
        )

    def own_port(self, pm: ProtectedMedia) -> int:
        return self.call.media_ip_port(pm, self.ue)[1]

    async def listen(self) -> None:
        for i, pm in enumerate(self.call.media):
            q: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
            self.accepted[i] = q

            async def on_conn(
                r: asyncio.StreamReader,
                w: asyncio.StreamWriter,
                q: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = q,
            ) -> None:
                await q.put((r, w))

            self.servers.append(
                await asyncio.start_server(on_conn, self.media_ip, self.own_port(pm))
            )

    def stop(self) -> None:
        for s in self.servers:
            s.close()

    # ---- media ---------------------------------------------------------------------
    async def open_media(
        self,
        index: int,
        pm: ProtectedMedia,
        tek: bytes,
        csb_id: int,
        *,
        connect_to: tuple[str, int] | None,
        tls_client: bool,
        identity: str | None = None,
    ) -> TlsPipe:
        if connect_to is not None:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*connect_to, local_addr=(self.media_ip, 0)), STEP_TIMEOUT
            )
        else:
            try:
                reader, writer = await asyncio.wait_for(self.accepted[index].get(), STEP_TIMEOUT)
            except TimeoutError:
                raise ReplayError(
                    f"nobody connected to {self.media_ip}:{self.own_port(pm)}"
                ) from None
        local = writer.get_extra_info("sockname")
        peer = writer.get_extra_info("peername")
        me, them = Endpoint(local[0], local[1]), Endpoint(peer[0], peer[1])
        lm = LiveMedia(pm.protocol, csb_id, tek)
        lm.tcp_client, lm.tcp_server = (me, them) if connect_to else (them, me)
        lm.tls_client = me if tls_client else them
        self.live.media.append(lm)
        cfg = M.engine_config(tek, identity or psk_identity(csb_id, 1), pm.tls_version, pm.suite)
        pipe = TlsPipe(reader, writer, tls.TlsPskEngine(cfg, tls_client, self.call.w.rng.randbytes))
        pipe.live, pipe.connected_out = lm, connect_to is not None
        await pipe.handshake()
        return pipe

    async def talk(
        self,
        pm: ProtectedMedia,
        pipe: TlsPipe,
        offer: sdp.SessionDescription,
        answer: sdp.SessionDescription,
        index: int,
        hang_up: bool,
    ) -> None:
        lm = pipe.live
        ue_sd, conf_sd = (offer, answer) if self.call.dial_in else (answer, offer)
        ue_md, conf_md = ue_sd.media[index], conf_sd.media[index]
        if pm.protocol == "msrp":
            own = (ue_md if self.ue else conf_md).paths[0]
            peer = (conf_md if self.ue else ue_md).paths[0]
            # The side that opened TCP binds the MSRP session with the first SEND.
            ue_first = pipe.connected_out == self.ue
            p = msrp_peer(
                self.call,
                pipe,
                ue=self.ue,
                own_path=str(own),
                peer_path=str(peer),
                ue_first=ue_first,
            )
            await p.run(hang_up)
            got = p.received
        elif self.ue:
            confid, userid = conf_md.confid or 0, conf_md.userid or 0
            floors = conf_md.floorids
            got = await bfcp_client(
                pipe, self.call, confid, userid, floors[0].floor_id if floors else 1
            )
        else:
            got = await bfcp_server(pipe, self.call, hang_up)
        if lm is not None:
            lm.messages = got
        if hang_up:
            await pipe.close()
        else:
            while await pipe.recv(timeout=30):
                pass
            await _answer_close(pipe)


# ---------------------------------------------------------------------------------- Mp


def _mid(ip: str) -> Mid:
    return Mid(MidKind.IPV6 if ":" in ip else MidKind.IPV4, ip, PORT_TEXT)


class MpEnd(asyncio.DatagramProtocol):
    """One end of the Mp leg on UDP 2944."""

    def __init__(self, ip: str, profile: MpProfile) -> None:
        self.mid = _mid(ip)
        self.profile = profile
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def send(self, addr: tuple[str, int], *transactions: Transaction) -> None:
        if self.transport is not None:
            self.transport.sendto(build_message(MegacoMessage(1, self.mid, transactions)), addr)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse_message(data)
        except DissectError:
            return  # not H.248: a real network has such things
        for t in msg.transactions:
            self.on_transaction(t, addr)

    def on_transaction(self, t: Transaction, addr: tuple[str, int]) -> None:
        raise NotImplementedError


class MrfpMp(MpEnd):
    """The MRFP: answers each command with its Local and does what the command says."""

    def __init__(self, ip: str, profile: MpProfile) -> None:
        super().__init__(ip, profile)
        # Which m-line of which call an MRFC transaction is about: the resources the
        # replay's MRFP chooses (the ports it listens on) are the call's plan's
        self.slots: dict[int, tuple[Side, int, ProtectedMedia]] = {}
        self.terms: dict[str, tuple[Side, int, ProtectedMedia]] = {}
        self._contexts = 0
        self._ids = 0

    def on_transaction(self, t: Transaction, addr: tuple[str, int]) -> None:
        if not isinstance(t, TransactionRequest):
            return
        actions = []
        for a in t.actions:
            context = a.context
            if context == CONTEXT_CHOOSE:
                self._contexts += 1
                context = str(self._contexts)
            actions.append(Action(context, tuple(self._command(t.id, c) for c in a.commands)))
        self.send(addr, TransactionReply(t.id, tuple(actions)))

    def _command(self, tid: int, c: Command) -> Command:
        if c.name == "Add":
            slot = self.slots.pop(tid, None)
            if slot is None:
                return Command("Add", c.termination_ids)
            self._ids += 1
            term = f"{slot[2].protocol}/{self._ids}"
            self.terms[term] = slot
        else:
            term = c.termination_ids[0] if c.termination_ids else ""
            slot = self.terms.get(term)
            if slot is None or c.name != "Modify":
                if c.name == "Subtract":
                    self.terms.pop(term, None)
                return Command(c.name, (term,))
        side, index, pm = slot
        reading = read_command(c, self.profile)
        stream = reading.streams[0] if reading.streams else None
        local = sdp_of(0, stream.local) if stream is not None else None
        setup = local.setup if local is not None and local.setup else "actpass"
        if stream is not None and stream.psk is not None:
            self._act(side, index, pm, stream, setup)
        if c.name == "Modify":
            return Command("Modify", (term,))
        concrete = side.call.mp_local(pm, setup, True)
        return Command("Add", (term,), (mpleg.media_descriptor(concrete, None, None),))

    @staticmethod
    def _act(side: Side, index: int, pm: ProtectedMedia, stream: MpStream, setup: str) -> None:
        """Connect to the Remote (a=setup:active) or accept on the Local, TLS with the role,
        the PSK and the identity given."""
        remote = sdp_of(0, stream.remote)
        target = None
        if setup == "active" and remote is not None and remote.address is not None:
            target = (remote.address, remote.port)
        assert stream.psk is not None
        side.mrfp_pipes[index] = asyncio.ensure_future(
            side.open_media(
                index,
                pm,
                stream.psk,
                pm.csb_id,
                connect_to=target,
                tls_client=stream.role == "client",
                identity=stream.pskid,
            )
        )


class MrfcMp(MpEnd):
    """The MRFC: sends a command and waits for its final Reply (a Pending is not it)."""

    def __init__(self, ip: str, mrfp: MrfpMp, mrfp_addr: tuple[str, int]) -> None:
        super().__init__(ip, mrfp.profile)
        self.mrfp = mrfp
        self.mrfp_addr = mrfp_addr
        self.waiting: dict[int, asyncio.Future[TransactionReply]] = {}
        self._tid = 1000
        self.rid = 0

    def on_transaction(self, t: Transaction, addr: tuple[str, int]) -> None:
        if isinstance(t, TransactionReply):
            fut = self.waiting.pop(t.id, None)
            if fut is not None and not fut.done():
                fut.set_result(t)
        elif isinstance(t, TransactionRequest):  # the MRFP's Notify: acknowledged
            acts = tuple(
                Action(a.context, tuple(Command(c.name, c.termination_ids) for c in a.commands))
                for a in t.actions
            )
            self.send(addr, TransactionReply(t.id, acts))

    async def transact(
        self, context: str, command: Command, about: tuple[Side, int, ProtectedMedia]
    ) -> tuple[str, str]:
        """The command and its Reply: the context and termination id the Reply names."""
        self._tid += 1
        tid = self._tid
        fut: asyncio.Future[TransactionReply] = asyncio.get_running_loop().create_future()
        self.waiting[tid] = fut
        self.mrfp.slots[tid] = about
        self.send(self.mrfp_addr, TransactionRequest(tid, (Action(context, (command,)),)))
        try:
            reply = await asyncio.wait_for(fut, STEP_TIMEOUT)
        except TimeoutError:
            raise ReplayError(f"the MRFP did not answer {command.name} {tid}") from None
        if reply.error is not None or not reply.actions or not reply.actions[0].commands:
            raise ReplayError(f"the MRFP refused {command.name} {tid}: {reply.error}")
        a = reply.actions[0]
        return a.context, (a.commands[0].termination_ids or ("",))[0]

    def events(self) -> EventsDescriptor:
        self.rid += 1
        return events_descriptor(self.rid, self.profile)


async def _mp_dial_in(
    side: Side, offer: sdp.SessionDescription, keys: list[Keys]
) -> list[tuple[int, ProtectedMedia, asyncio.Future[TlsPipe]]]:
    """Dial-in steps 4-6: an Add per TCP/TLS m-line with the UE's offer as Remote, the PSK
    (the TEK the MRFC resolved), its identity and the TLS role client; the MRFP connects."""
    mp = side.mp
    assert mp is not None
    call = side.call
    prot = _protected(offer)
    if len(prot) != len(call.media):
        raise ReplayError(
            f"the offer has {len(prot)} TCP/TLS m-lines, the scenario {len(call.media)}"
        )
    out = []
    context = CONTEXT_CHOOSE
    for (index, _md), pm, k in zip(prot, call.media, keys, strict=True):
        control = local_control_descriptor(
            mp.profile, psk=k.tek, pskid=psk_identity(k.csb_id, 1), role="client"
        )
        media = mpleg.media_descriptor(
            call.mp_local(pm, "active", False), mpleg.remote_sdp(offer, index), control
        )
        descs: tuple[Descriptor, ...] = (media, mp.events())
        context, term = await mp.transact(
            context, Command("Add", (CONTEXT_CHOOSE,), descs), (side, call.media.index(pm), pm)
        )
        side.terminations.append((context, term))
        out.append((index, pm, side.mrfp_pipes[call.media.index(pm)]))
    return out


async def _mp_reserve(side: Side, offer: sdp.SessionDescription) -> None:
    """Dial-out steps 2-4: an Add per m-line with Local only (BFCP's with Mode as well)."""
    mp = side.mp
    assert mp is not None
    call = side.call
    context = CONTEXT_CHOOSE
    for i, pm in enumerate(call.media):
        control = local_control_descriptor(mp.profile) if pm.protocol == "bfcp" else None
        media = mpleg.media_descriptor(call.mp_local(pm, "actpass", False), None, control)
        context, term = await mp.transact(
            context, Command("Add", (CONTEXT_CHOOSE,), (media,)), (side, i, pm)
        )
        side.terminations.append((context, term))


async def _mp_configure(
    side: Side, offer: sdp.SessionDescription, answer: sdp.SessionDescription
) -> list[tuple[int, ProtectedMedia, asyncio.Future[TlsPipe]]]:
    """Dial-out steps 9-11: a Modify of each termination with UE-B's answer as Remote, the
    PSK, its identity and the TLS role server; the MRFP accepts UE-B's connection."""
    mp = side.mp
    assert mp is not None
    call = side.call
    out = []
    for i, ((index, _md), pm) in enumerate(zip(_protected(offer), call.media, strict=True)):
        context, term = side.terminations[i]
        control = local_control_descriptor(
            mp.profile, psk=pm.tek, pskid=psk_identity(pm.csb_id, 1), role="server"
        )
        media = mpleg.media_descriptor(
            call.mp_local(pm, "passive", True), mpleg.remote_sdp(answer, index), control
        )
        await mp.transact(context, Command("Modify", (term,), (media, mp.events())), (side, i, pm))
        out.append((index, pm, side.mrfp_pipes[i]))
    return out


async def _mp_release(side: Side) -> None:
    """At release the MRFC subtracts the call's terminations."""
    mp = side.mp
    if mp is None:
        return
    for i, (context, term) in enumerate(side.terminations):
        await mp.transact(context, Command("Subtract", (term,)), (side, i, side.call.media[i]))


def _sdp_of(msg: sip.SipMessage) -> sdp.SessionDescription:
    body = msg.sdp_body()
    if not body:
        raise ReplayError(f"{msg.start} carries no SDP")
    return sdp.parse(body)


async def _answerer_media(
    side: Side, offer: sdp.SessionDescription, keys: list[Keys]
) -> list[tuple[int, ProtectedMedia, asyncio.Task[TlsPipe]]]:
    """The answerer's side connects (a=setup:active) to the offer's c=/m= and starts TLS."""
    tasks = []
    prot = _protected(offer)
    if len(prot) != len(side.call.media):
        raise ReplayError(
            f"the offer has {len(prot)} TCP/TLS m-lines, the scenario {len(side.call.media)}"
        )
    for (index, _md), pm, k in zip(prot, side.call.media, keys, strict=True):
        target = _media_addr(offer, index)
        tasks.append(
            (
                index,
                pm,
                asyncio.ensure_future(
                    side.open_media(index, pm, k.tek, k.csb_id, connect_to=target, tls_client=True)
                ),
            )
        )
    return tasks


def _resolve_offer(side: Side, offer: sdp.SessionDescription, now_ns: int) -> list[Keys]:
    out = []
    for index, _md in _protected(offer):
        km = offer.media_key_mgmt(index)
        if km is None:
            raise ReplayError("the offer's m-line has no a=key-mgmt:mikey")
        out.append(resolve_init(km.data, side.keys, side.call.answerer_uri, now_ns))
    for pm, k in zip(side.call.media, out, strict=False):
        pm.resp = k.resp
    return out


async def offerer_dial_in_ue(side: Side) -> None:
    """UE-A: INVITE with the offer; accept the MRFP's connection (TLS server); answer
    PRACK / ACK; chat or floor control; hang up."""
    call = side.call
    call.make_mikey(time.time_ns(), None)
    await side.listen()
    inv = call.invite()
    offer = _sdp_of(inv)
    side.sock.send(inv, side.next_hop)
    pipes = [
        asyncio.ensure_future(
            side.open_media(i, pm, pm.tek, pm.csb_id, connect_to=None, tls_client=False)
        )
        for i, pm in enumerate(call.media)
    ]
    answer, dlg = await _uac_wait_answer(side, inv)
    await _talk_all(
        side,
        [
            (idx, pm, t)
            for (idx, _), pm, t in zip(_protected(offer), call.media, pipes, strict=True)
        ],
        offer,
        answer,
        hang_up=True,
    )
    bye = dlg.request("BYE")
    side.sock.send(bye, side.next_hop)
    await side.sock.expect(
        call.call_id,
        lambda m: m.status == 200 and (m.cseq is not None and m.cseq.method == "BYE"),
        "200 to BYE",
    )


async def _uac_wait_answer(
    side: Side, inv: sip.SipMessage
) -> tuple[sdp.SessionDescription, Dialog]:
    call = side.call
    answer: sdp.SessionDescription | None = None
    dlg: Dialog | None = None
    while True:
        msg, _ = await side.sock.expect(call.call_id, lambda m: m.status is not None, "a response")
        if msg.cseq is None or msg.cseq.method != "INVITE":
            continue
        status = msg.status or 0
        if status in (180, 183) and msg.reliable and msg.sdp_body():
            answer = _sdp_of(msg)
            dlg = _uac_dialog(call, msg, side.sip_addr, side.next_hop)
            prack = dlg.request("PRACK", extra=[("RAck", f"{msg.rseq} 1 INVITE")])
            side.sock.send(prack, side.next_hop)
            await side.sock.expect(
                call.call_id,
                lambda m: m.status == 200 and m.cseq is not None and m.cseq.method == "PRACK",
                "200 to PRACK",
            )
        elif status == 200:
            if msg.sdp_body():
                answer = _sdp_of(msg)
            dlg = _uac_dialog(call, msg, side.sip_addr, side.next_hop)
            side.sock.send(dlg.request("ACK", cseq=1), side.next_hop)
            if answer is None:
                raise ReplayError("200 OK without an answer and no reliable 18x before it")
            return answer, dlg


async def _talk_all(
    side: Side,
    tasks: Sequence[tuple[int, ProtectedMedia, asyncio.Future[TlsPipe]]],
    offer: sdp.SessionDescription,
    answer: sdp.SessionDescription,
    hang_up: bool,
) -> None:
    for index, pm, fut in tasks:
        pipe = await fut
        await side.talk(pm, pipe, offer, answer, index, hang_up)


async def answerer_dial_in_conf(side: Side) -> None:
    """MRFC + MRFP: 100 Trying; resolve the ticket (step 3); MRFP connects and starts TLS
    (7-8); 200 OK (or reliable 183) with TRANSFER_RESP (9-10); ACK; serve; BYE."""
    call = side.call
    inv, src = await _wait_invite(side)
    call.call_id = inv.call_id or call.call_id
    side.live.call_id = call.call_id
    side.sock.send(sip.response_to(inv, 100, "Trying"), src)
    offer = _sdp_of(inv)
    keys = _resolve_offer(side, offer, time.time_ns())
    tasks: Sequence[tuple[int, ProtectedMedia, asyncio.Future[TlsPipe]]]
    if side.mp is not None:
        tasks = await _mp_dial_in(side, offer, keys)  # the MRFP connects as told
    else:
        tasks = await _answerer_media(side, offer, keys)
    for _, _, t in tasks:
        await asyncio.wait_for(asyncio.shield(t), STEP_TIMEOUT)
    answer_body = call.sdp_body(offer=False)
    await _uas_answer(
        side,
        inv,
        src,
        answer_body,
        call.conf_tag,
        f"<sip:conf1@{call.w.addr.mrfc}:{SIP_PORT};transport=udp>;isfocus",
    )
    await _talk_all(side, tasks, offer, sdp.parse(answer_body), hang_up=False)
    bye, bsrc = await side.sock.expect(
        call.call_id, lambda m: m.method == "BYE" and m.status is None, "BYE"
    )
    side.sock.send(sip.response_to(bye, 200, "OK"), bsrc)
    await _mp_release(side)


async def _wait_invite(side: Side) -> tuple[sip.SipMessage, tuple[str, int]]:
    return await side.sock.invite_from(side.call.offerer_uri)


async def _uas_answer(
    side: Side, inv: sip.SipMessage, src: tuple[str, int], body: bytes, tag: str, contact: str
) -> None:
    """200 OK with the answer, or a reliable 183 with it, PRACK, then 200 OK; then ACK."""
    call = side.call
    if call.w.opts.reliable_183:
        r183 = sip.response_to(
            inv,
            183,
            "Session Progress",
            to_tag=tag,
            headers=[("Contact", contact), ("Require", "100rel"), ("RSeq", "1")],
            body=body,
            content_type="application/sdp",
        )
        side.sock.send(r183, src)
        prack, psrc = await side.sock.expect(
            call.call_id, lambda m: m.method == "PRACK" and m.status is None, "PRACK"
        )
        side.sock.send(sip.response_to(prack, 200, "OK"), psrc)
        ok = sip.response_to(inv, 200, "OK", to_tag=tag, headers=[("Contact", contact)])
    else:
        ok = sip.response_to(
            inv,
            200,
            "OK",
            to_tag=tag,
            headers=[("Contact", contact)],
            body=body,
            content_type="application/sdp",
        )
    side.sock.send(ok, src)
    await side.sock.expect(call.call_id, lambda m: m.method == "ACK" and m.status is None, "ACK")


async def offerer_dial_out_conf(side: Side, ue_target: tuple[str, int] | None) -> None:
    """MRFC: INVITE towards UE-B; 200 OK; ACK; the MRFP accepts UE-B's connection (TLS
    server); chat or floor control; hang up with BYE."""
    call = side.call
    call.make_mikey(time.time_ns(), None)
    await side.listen()
    body = call.sdp_body(offer=True)
    offer = sdp.parse(body)
    user = call.ue_uri[4:].split("@")[0]
    host, port = ue_target or (call.ue.ip, call.ue_sip_port)
    ruri = f"sip:{user}@{host}:{port}"
    mrfc = call.w.addr.mrfc
    headers = [
        ("Via", f"SIP/2.0/UDP {mrfc}:{SIP_PORT};branch=z9hG4bK{call.w.token(12)};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<{call.conf_uri}>;tag={call.conf_tag}"),
        ("To", f"<{call.ue_uri}>"),
        ("Call-ID", call.call_id),
        ("CSeq", "1 INVITE"),
        ("Contact", f"<sip:conf1@{mrfc}:{SIP_PORT};transport=udp>;isfocus"),
        ("P-Asserted-Identity", f"<{call.conf_uri}>"),
        ("Supported", "100rel, timer"),
        ("Allow", "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE"),
    ]
    inv = sip.request("INVITE", ruri, headers, body, "application/sdp")
    if side.mp is not None:
        await _mp_reserve(side, offer)  # steps 2-4, before the offer leaves
    side.sock.send(inv, side.next_hop)
    pipes: Sequence[tuple[int, ProtectedMedia, asyncio.Future[TlsPipe]]] = []
    if side.mp is None:
        pipes = [
            (
                idx,
                pm,
                asyncio.ensure_future(
                    side.open_media(i, pm, pm.tek, pm.csb_id, connect_to=None, tls_client=False)
                ),
            )
            for i, ((idx, _), pm) in enumerate(zip(_protected(offer), call.media, strict=True))
        ]
    answer, dlg = await _uac_wait_answer(side, inv)
    if side.mp is not None:
        pipes = await _mp_configure(side, offer, answer)  # the MRFP accepts UE-B as told
    await _talk_all(side, pipes, offer, answer, hang_up=True)
    side.sock.send(dlg.request("BYE"), side.next_hop)
    await side.sock.expect(
        call.call_id,
        lambda m: m.status == 200 and m.cseq is not None and m.cseq.method == "BYE",
        "200 to BYE",
    )
    await _mp_release(side)


async def answerer_dial_out_ue(side: Side) -> None:
    """UE-B: 100, 180, resolve the ticket (7), 200 OK (or reliable 183) with TRANSFER_RESP
    (8), ACK, then connect to the MRFP and start TLS (12-13); serve; answer BYE."""
    call = side.call
    inv, src = await _wait_invite(side)
    call.call_id = inv.call_id or call.call_id
    side.live.call_id = call.call_id
    side.sock.send(sip.response_to(inv, 100, "Trying"), src)
    offer = _sdp_of(inv)
    keys = _resolve_offer(side, offer, time.time_ns())
    contact = f"<sip:{call.ue_uri[4:].split('@')[0]}@{call.ue.ip}:{call.ue_sip_port}>"
    side.sock.send(
        sip.response_to(inv, 180, "Ringing", to_tag=call.ue_tag, headers=[("Contact", contact)]),
        src,
    )
    answer_body = call.sdp_body(offer=False)
    await _uas_answer(side, inv, src, answer_body, call.ue_tag, contact)
    tasks = await _answerer_media(side, offer, keys)
    await _talk_all(side, tasks, offer, sdp.parse(answer_body), hang_up=False)
    bye, bsrc = await side.sock.expect(
        call.call_id, lambda m: m.method == "BYE" and m.status is None, "BYE"
    )
    side.sock.send(sip.response_to(bye, 200, "OK"), bsrc)


# ------------------------------------------------------------------------------ running


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    scenario: str
    seed: int = 0
    side: str = "both"  # both | ue | conference
    target: tuple[str, int] | None = None
    keys: str | None = None  # key file text; generated for ``both`` when None
    reliable_183: bool = False
    addr: AddressPlan = LOOPBACK


async def _run(opts: ReplayOptions) -> ReplayResult:
    world: World = make_world(
        opts.seed, reliable_183=opts.reliable_183, keys=opts.keys, addr=opts.addr
    )
    kf_text = (
        opts.keys
        if opts.keys is not None
        else keyfile(world, f"keys of `mikeyshark replay {opts.scenario} --seed {opts.seed}`")
    )
    keys = KeyFile.parse(kf_text)
    loop = asyncio.get_running_loop()
    closers: list[asyncio.BaseTransport] = []
    addr = opts.addr

    async def udp(proto: asyncio.DatagramProtocol, ip: str, port: int) -> None:
        t, _ = await loop.create_datagram_endpoint(lambda: proto, local_addr=(ip, port))
        closers.append(t)

    local_ue = opts.side in ("both", "ue")
    local_conf = opts.side in ("both", "conference")
    pcscf = (
        (addr.pcscf, SIP_PORT) if opts.side == "both" else (opts.target or (addr.pcscf, SIP_PORT))
    )
    if opts.side == "both":
        await udp(Relay(addr.pcscf, (addr.mrfc, SIP_PORT), world.token), addr.pcscf, SIP_PORT)
    conf_sock = SipSocket("MRFC")
    mrfc_mp: MrfcMp | None = None
    if local_conf:
        await udp(conf_sock, addr.mrfc, SIP_PORT)
        # the Mp leg between the conference's MRFC and MRFP (UDP 2944 both)
        mrfp_mp = MrfpMp(addr.mrfp, keys.mp)
        await udp(mrfp_mp, addr.mrfp, PORT_TEXT)
        mrfc_mp = MrfcMp(addr.mrfc, mrfp_mp, (addr.mrfp, PORT_TEXT))
        await udp(mrfc_mp, addr.mrfc, PORT_TEXT)
    jobs: list[asyncio.Future[None]] = []
    sides: list[Side] = []
    start = time.time_ns()
    for spec in call_specs(opts.scenario):
        call = new_call(world, spec, start)
        if opts.side == "ue":
            # Facing a real network the UE listens where a peer looks for it.
            call.ue_sip_port = SIP_PORT
        delay = spec.offset_s * 0.3
        if local_ue:
            ue_sock = SipSocket(f"UE {spec.user}")
            await udp(ue_sock, call.ue.ip, call.ue_sip_port)
            ue = Side(call, ue_sock, keys, True, pcscf)
            sides.append(ue)
            job = offerer_dial_in_ue(ue) if spec.dial_in else answerer_dial_out_ue(ue)
            jobs.append(asyncio.ensure_future(_later(delay, job)))
        if local_conf:
            conf = Side(
                call,
                conf_sock,
                keys,
                False,
                pcscf if opts.side == "both" else (opts.target or pcscf),
            )
            conf.mp = mrfc_mp
            sides.append(conf)
            target = opts.target if opts.side == "conference" else None
            job = (
                answerer_dial_in_conf(conf) if spec.dial_in else offerer_dial_out_conf(conf, target)
            )
            jobs.append(asyncio.ensure_future(_later(delay, job)))
    try:
        await asyncio.wait_for(asyncio.gather(*jobs), 120)
    finally:
        for j in jobs:
            j.cancel()
        for s in sides:
            s.stop()
        for t in closers:
            t.close()
    calls: dict[str, LiveCall] = {}
    for s in sides:
        lc = calls.setdefault(s.live.call_id, s.live)
        if lc is not s.live and not lc.media:
            lc.media = s.live.media
    return ReplayResult(opts.scenario, list(calls.values()), kf_text)


async def _later(delay: float, job: Coroutine[object, object, None]) -> None:
    """Start ``job`` after ``delay`` seconds (the calls of a conference are staggered)."""
    await asyncio.sleep(delay)
    await job


def run_replay(
    opts: ReplayOptions, capture: Path | None = None, *, all_legs: bool = False
) -> ReplayResult:
    """Play ``opts.scenario`` live; with ``capture``, record loopback with tcpdump (or
    dumpcap) while it runs: by default what a probe at the UEs' access sees (SIP with the
    P-CSCF, media with the MRFP), like the synthesizer; ``all_legs`` adds P-CSCF <-> MRFC
    and the Mp leg MRFC <-> MRFP."""
    ips = (opts.addr.pcscf, opts.addr.mrfc, opts.addr.mrfp, *opts.addr.ues)
    with _capturing(capture, ips if all_legs else opts.addr.ues):
        result = asyncio.run(_run(opts))
    result.capture = capture
    return result


@contextlib.contextmanager
def _capturing(path: Path | None, hosts_of: tuple[str, ...]) -> Iterator[None]:
    if path is None:
        yield
        return
    tool = shutil.which("tcpdump") or shutil.which("dumpcap")
    if tool is None:
        raise ReplayError("--capture needs tcpdump or dumpcap on PATH")
    hosts = " or ".join(f"host {ip}" for ip in hosts_of)
    if tool.endswith("tcpdump"):
        # Immediate mode: without it libpcap holds packets up to its 1 s buffer timeout and
        # a short run ends before any reaches the file. A large buffer (-B, KiB) keeps the
        # bursts of a conference on a busy machine.
        cmd = [tool, "-i", "lo", "--immediate-mode", "-B", "32768", "-U", "-s", "0"]
        cmd += ["-w", str(path), hosts]
    else:
        cmd = [tool, "-i", "lo", "-q", "-B", "32", "-w", str(path), "-f", hosts]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = b""
    try:
        log = _wait_started(proc)
        yield
        time.sleep(0.5)  # let the last segments reach the file
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, rest = proc.communicate(timeout=10)
            log += rest
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    dropped = re.search(rb"(\d+) packets? dropped by (?:kernel|interface)", log)
    if dropped and int(dropped.group(1)):
        raise ReplayError(f"the capture lost {int(dropped.group(1))} packets: {path} is incomplete")


def _wait_started(proc: subprocess.Popen[bytes]) -> bytes:
    """Wait until the capture tool says it listens; returns what it printed so far."""
    assert proc.stderr is not None
    seen = b""
    end = time.monotonic() + 10
    while b"listening on" not in seen.lower() and b"capturing on" not in seen.lower():
        if proc.poll() is not None or time.monotonic() > end:
            raise ReplayError(f"capture did not start: {seen.decode(errors='replace')[-300:]}")
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            seen += os.read(proc.stderr.fileno(), 4096)
    time.sleep(0.2)
    return seen


# ------------------------------------------------------------------------ pcap re-sending


def resend_pcap(path: Path, iface: str, speed: float = 1.0) -> int:
    """Send the frames of a capture on ``iface`` with their original spacing divided by
    ``speed`` (0 = as fast as possible); returns the number of frames sent.

    A missing interface or a file that is not a capture is a ``ValueError`` (usage); a
    capture that breaks off after some frames stops the sending there (``ReplayError``).
    """
    from scapy.arch import get_if_list
    from scapy.error import Scapy_Exception
    from scapy.sendrecv import sendp
    from scapy.utils import PcapReader

    if speed < 0:
        raise ValueError("--speed must be >= 0")
    if iface not in get_if_list():
        raise ValueError(f"no interface {iface!r} (have: {', '.join(get_if_list())})")
    try:
        reader = PcapReader(str(path))
    except (OSError, Scapy_Exception) as e:
        raise ValueError(f"{path}: not a readable capture: {e}") from e
    sent = 0
    first_ts: float | None = None
    t0 = time.monotonic()
    with reader:
        while True:
            try:
                pkt = reader.read_packet()
            except EOFError:
                break
            except (OSError, Scapy_Exception) as e:
                raise ReplayError(f"{path}: frame {sent + 1} unreadable ({e}); {sent} sent") from e
            ts = float(pkt.time)
            if first_ts is None:
                first_ts = ts
            if speed > 0:
                pause = t0 + (ts - first_ts) / speed - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            sendp(pkt, iface=iface, verbose=False)
            sent += 1
    return sent
