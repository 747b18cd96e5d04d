"""The evidence of one analysis: what was seen of each call, m-line by m-line, and the verdicts.

Correlation fills these records from the other stages' results; the rules judge them (each
rule's result is a ``CheckResult`` on the call); the writers (JSON, JUnit, HTML, terminal)
only present them. Secrets (the TEK) stay in the records and every writer decides, from
``Report.reveal_keys``, whether to show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.msrp import MsrpUri
from mikeyshark.model import Endpoint, Problem, Severity, Tunnel
from mikeyshark.procedure import Direction, Event, Protocol, Role, Side
from mikeyshark.wiretext import strict_text


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_OBSERVED = "not-observed"
    NOT_APPLICABLE = "not-applicable"
    # what the operator should know, which never makes a verdict fail (the PSK crossing Mp
    # in the clear; which command reserved a BFCP dial-out termination)
    WARNING = "warning"
    INFO = "info"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCOMPLETE = "incomplete"


class Lane(StrEnum):
    """What a ladder arrow carries (its colour in the HTML report)."""

    SIP = "sip"
    TCP = "tcp"
    TLS = "tls"
    MSRP = "msrp"
    BFCP = "bfcp"
    HTTP = "http"
    H248 = "h248"  # the Mp leg between MRFC and MRFP


class BoundBy(StrEnum):
    """How a TCP connection was bound to its m-line."""

    SDP = "sdp"  # the SDP's addresses and ports (or the a=path URI)
    KEY = "key"  # its TLS handshake verifies with the m-line's TEK (addresses rewritten)
    NONE = "none"  # bound to no m-line: media without signalling


class Signalling(StrEnum):
    """How a call's SIP was read."""

    CLEAR = "clear"
    TLS = "tls"  # SIP over TLS, decrypted with a key log
    ENCRYPTED = "encrypted"  # SIP over TLS that could not be read: the call stands for unknowns


# Never changed once made (a result judged again is replaced), but not frozen: a call has one
# per rule, and a frozen dataclass sets each field through object.__setattr__, several times
# slower. Hashed and compared by value as a frozen one is.
@dataclass(slots=True, unsafe_hash=True)
class CheckResult:
    rule: str
    status: Status
    frames: tuple[int, ...]
    message: str
    severity: Severity = Severity.ERROR  # of a failure: the rule's, or its outcome's
    # not-observed because the capture point does not see the leg the rule is about (no
    # Mp in a capture taken at the UE): the call's verdict does not wait for it
    unseen_leg: bool = False

    @property
    def counts(self) -> bool:
        """Whether the result bears on the verdict and the counts of what was observed."""
        return not self.unseen_leg


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One line of a payload tree (MIKEY payloads, ticket contents) for the HTML report."""

    label: str
    value: str = ""
    children: tuple[TreeNode, ...] = ()


@dataclass(slots=True)
class LadderEvent:
    """One arrow of the ladder diagram: a frame between two endpoints, with its step."""

    frame: int
    ts_ns: int
    src: Endpoint
    dst: Endpoint
    kind: Lane
    label: str
    step: str = ""  # the seed's step number, when the event is one of the flow's steps
    event: Event | None = None  # the step of the flow it stands for, if any


@dataclass(slots=True)
class SdpMedia:
    """One m-line as one side wrote it."""

    frame: int
    index: int
    media: str  # "message", "application", ...
    port: int
    proto: str
    address: str | None  # the effective c= address (media level over session level)
    setup: str | None = None
    connection: str | None = None
    path: tuple[str, ...] = ()
    cema: bool = False
    key_mgmt: str | None = None  # the mikey keymgmt-data (base64) that applies to this m-line
    key_mgmt_level: str | None = None  # "media" / "session"
    key_mgmt_protocols: tuple[str, ...] = ()  # every a=key-mgmt protocol name present
    confid: str | None = None
    userid: str | None = None
    floorids: tuple[str, ...] = ()
    floorctrl: str | None = None

    def listens(self, msrp_paths: bool) -> tuple[frozenset[Endpoint], frozenset[str]]:
        """Where this side listens (c=/m=, and with ``msrp_paths`` each a=path URI with a
        port) and the IPs it may connect from."""
        eps: set[Endpoint] = set()
        ips: set[str] = set()
        if self.address is not None:
            eps.add(Endpoint(self.address, self.port))
            ips.add(self.address)
        if msrp_paths:
            for p in self.path:
                try:
                    u = MsrpUri.parse(p)
                except DissectError:
                    continue
                host = u.address
                ips.add(host)
                if u.port is not None:
                    eps.add(Endpoint(host, u.port))
        return frozenset(eps), frozenset(ips)


@dataclass(slots=True)
class MikeyInfo:
    """A MIKEY message taken from a=key-mgmt."""

    frame: int
    data_b64: str
    parsed: bool
    ts_ns: int | None = None  # capture time of the SIP message that carried it
    error: str | None = None
    data_type: int | None = None
    data_type_name: str | None = None
    has_ticket: bool = False
    csb_id: int | None = None
    cs_count: int | None = None
    prot_types: tuple[int, ...] = ()
    idr_i: str | None = None
    idr_r: str | None = None
    idr_kms: str | None = None
    t_value: bytes | None = None
    rand: bytes | None = None
    tree: TreeNode | None = None


@dataclass(slots=True)
class KeyStatus:
    """What the configured keys proved about one exchange (from mikeyshark.keys)."""

    keys_configured: bool
    ticket_opened: bool = False
    opened_by: str | None = None
    mode: str | None = None  # "kms" (a KMS issued it) / "mode-3" (the initiator built it)
    ticket_error: str | None = None
    valid_from_ns: int | None = None
    valid_to_ns: int | None = None
    ticket_idr_r: str | None = None
    init_mac_ok: bool | None = None
    resp_mac_ok: bool | None = None
    resp_csb_matches: bool | None = None
    tek: bytes | None = None  # the recovered TEK (a secret)
    recovered: bool = False  # an oracle confirmed ``tek``
    oracle: str | None = None
    tek_candidates: int = 0
    ticket_tree: TreeNode | None = None
    mpk: bytes | None = None
    tgks: tuple[bytes, ...] = ()
    # the TEK candidates derived from the opened ticket, the profile's TEK first (secrets);
    # not the key file's [[tek]] nor a PSK seen on Mp
    ticket_teks: tuple[bytes, ...] = ()


@strict_text  # the packets' addresses and the analysis's own values
@dataclass(slots=True)
class TcpInfo:
    client: Endpoint
    server: Endpoint
    syn_frame: int | None
    syn_ts_ns: int | None
    bound_by: BoundBy = BoundBy.SDP
    client_side: Side | None = None  # which side of the offer/answer opened it


@strict_text  # packets' addresses, table names; the PSK identity decoded with "replace"
@dataclass(slots=True)
class TlsInfo:
    client: Endpoint | None  # who sent the ClientHello
    client_hello_frame: int | None
    client_hello_ts_ns: int | None
    version: str | None
    cipher_suite: str | None
    psk_suite: bool | None  # a pure PSK suite (RFC 4279/5487/6655/7905 families)
    certificate_frame: int | None = None
    psk_identity: str | None = None
    key_verified: bool | None = None  # True: PSK proven; False: candidates tried, none fit
    oracle: str | None = None
    decrypted: bool = False
    frames: tuple[int, ...] = ()
    alerts: tuple[tuple[int, int], ...] = ()  # (frame, description) of the TLS alerts seen


@strict_text  # made of the strictly decoded MSRP/BFCP message and the packets' addresses
@dataclass(slots=True)
class MediaMessage:
    frame: int
    ts_ns: int
    src: Endpoint
    dst: Endpoint
    summary: str  # "SEND tid=..." / "FloorRequest"
    fields: dict[str, object]  # the JSON report's protocol fields (body, attributes, ...)


@dataclass(frozen=True, slots=True)
class ChatEntry:
    """One chat message of the transcript, reassembled from its chunks."""

    frame: int
    ts_ns: int
    sender: Endpoint
    content_type: str
    text: str
    delivered: bool | None  # every chunk got its 200 (None: no response was asked for)
    state: str = "complete"  # complete | aborted | incomplete


@dataclass(frozen=True, slots=True)
class FloorStep:
    """One step of a BFCP floor request's life (request, statuses, release)."""

    frame: int
    ts_ns: int
    sender: Endpoint
    primitive: str
    request_id: int | None
    floor_ids: tuple[int, ...]
    status: str | None  # Pending, Granted, Released, ... (None for requests)
    queue_position: int | None = None


@dataclass(slots=True)
class KmsLeg:
    """RESOLVE_INIT / RESOLVE_RESP over HTTP (docs/profile.md, The KMS leg), when captured."""

    init_frame: int | None
    resp_frame: int | None
    resolver: str | None  # IDRr of RESOLVE_INIT
    keys_match: bool | None  # RESOLVE_RESP's MPK/TGKs equal the ticket's
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MpObserved:
    """A failure the MRFP reported in a Notify's ObservedEvents."""

    frame: int
    key: str  # tcp_fail_event / tls_fail_event (the Mp profile's item)
    name: str  # package/event as written
    cause: int | None = None  # the TLS alert description, for the TLS one


@dataclass(frozen=True, slots=True)
class MpFrame:
    """A frame of an H.248 transaction: its request, a Pending, its Reply, or a copy."""

    frame: int
    ts_ns: int
    from_requester: bool
    kind: str  # "request", "pending", "reply", "request again", "reply again"


@dataclass(slots=True)
class MpTransaction:
    """One H.248 transaction: a request and its final Reply, retransmitted copies folded
    in, Pendings apart (a Pending is not the Reply)."""

    transaction_id: int
    command: str  # the request's commands: "Add", "Modify", "Notify", ...
    requester: Endpoint
    responder: Endpoint
    request_frame: int | None
    reply_frame: int | None = None
    frames: list[MpFrame] = field(default_factory=list)  # every frame, in capture order
    error: str | None = None  # "510 Insufficient resources": an Error in the Reply
    transport: str = "udp"  # udp | tcp | sctp
    binary: bool = False  # BER (H.248.1 Annex A): read to command level only
    ipsec: bool = False  # carried inside ESP

    @property
    def pending_frames(self) -> list[int]:
        return [f.frame for f in self.frames if f.kind == "pending"]

    @property
    def repeat_frames(self) -> list[int]:
        return [f.frame for f in self.frames if f.kind.endswith(" again")]


@dataclass(slots=True)
class MpCommand:
    """One command in a termination's life, with what its request and its Reply carried."""

    name: str  # Add, Modify, Subtract, Notify, ...
    transaction_id: int
    sender: Endpoint
    frame: int | None  # the request's
    reply_frame: int | None = None  # its final Reply's
    error: str | None = None
    local: SdpMedia | None = None  # the request's Local ("$": no address, port 0)
    remote: SdpMedia | None = None
    reply_local: SdpMedia | None = None
    psk: bytes | None = None  # a secret: writers show its fingerprint
    pskid: str | None = None
    role: str | None = None  # the MRFP's TLS role: client / server
    events: tuple[str, ...] = ()  # the failure events asked for (tcp_fail_event, ...)
    observed: tuple[MpObserved, ...] = ()
    carried: tuple[str, ...] = ()  # "Local", "Remote", "PSK", ... for the reports
    problems: tuple[str, ...] = ()


@dataclass(slots=True)
class MpTermination:
    """The Mp termination that carries an m-line's SDP (docs/mp-profile.md): its context,
    every command and transaction of its life (a refused attempt included), and how it was
    bound to the m-line."""

    context: str
    termination: str | None  # None when every attempt to create it was refused
    mrfc: Endpoint
    mrfp: Endpoint
    bound_by: str  # "remote": its Remote is the UE's SDP; "local": its Reply's Local ours
    transport: str
    binary: bool
    commands: list[MpCommand] = field(default_factory=list)
    transactions: list[MpTransaction] = field(default_factory=list)
    # the m-line's TCP connection joins its Local and Remote (None: no connection)
    connection_joined: bool | None = None

    @property
    def configure(self) -> MpCommand | None:
        """The command that gave the PSK (else the first that gave a Remote): the dial-in
        Add, the dial-out Modify."""
        return next((c for c in self.commands if c.psk is not None), None) or next(
            (c for c in self.commands if c.remote is not None), None
        )

    @property
    def reserve(self) -> MpCommand | None:
        """The command that created the termination (the first Add that was not refused)."""
        adds = [c for c in self.commands if c.name == "Add"]
        return next((c for c in adds if c.error is None), adds[0] if adds else None)

    @property
    def psk(self) -> bytes | None:
        c = self.configure
        return c.psk if c is not None else None

    @property
    def remote(self) -> SdpMedia | None:
        """The last Remote the MRFC gave."""
        return next((c.remote for c in reversed(self.commands) if c.remote is not None), None)

    @property
    def reply_locals(self) -> list[SdpMedia]:
        """Every concrete Local the MRFP returned in a Reply."""
        return [
            c.reply_local
            for c in self.commands
            if c.reply_local is not None and c.reply_local.address is not None
        ]

    @property
    def observed(self) -> list[MpObserved]:
        return [o for c in self.commands for o in c.observed]


@dataclass(slots=True)
class MediaRecord:
    """One m-line of one call, with everything bound to it."""

    index: int
    protocol: Protocol
    offer: SdpMedia | None
    answer: SdpMedia | None = None
    init: MikeyInfo | None = None
    resp: MikeyInfo | None = None
    key: KeyStatus | None = None
    tcp: TcpInfo | None = None
    tls: TlsInfo | None = None
    plaintext_frames: list[int] = field(default_factory=list)  # MSRP/BFCP seen in the clear
    data_frames: list[int] = field(default_factory=list)  # every TCP frame carrying payload
    messages: list[MediaMessage] = field(default_factory=list)
    chat: list[ChatEntry] = field(default_factory=list)
    floor: list[FloorStep] = field(default_factory=list)
    media_problems: list[tuple[int, str]] = field(default_factory=list)  # (frame, reason)
    kms: KmsLeg | None = None
    mp: MpTermination | None = None  # its termination on the Mp leg (capture at the MRF)

    @property
    def proto(self) -> str:
        return self.offer.proto if self.offer else ""


@dataclass(frozen=True, slots=True)
class WiresharkDifference:
    """One thing Wireshark's dissectors read otherwise than we do."""

    frame: int | None
    what: str  # "SIP message", "SDP m-line", "decrypted TLS records", "MSRP transactions", ...
    ours: str
    wireshark: str


@dataclass(slots=True)
class WiresharkCheck:
    """``analyze --wireshark-check``: the call read again by tshark with the keys we found."""

    status: str  # "agree" / "disagree" / "not run"
    tshark: str | None = None  # its version
    compared: dict[str, int] = field(default_factory=dict)  # what, how many
    differences: list[WiresharkDifference] = field(default_factory=list)
    note: str | None = None  # why it did not run, or what it could not compare


@dataclass(slots=True)
class CallRecord:
    call_id: str
    from_uri: str | None = None
    to_uri: str | None = None
    offerer: Endpoint | None = None  # SIP signalling address of the INVITE's sender
    answerer: Endpoint | None = None
    direction: Direction | None = None
    focus_uri: str | None = None
    invite_frame: int | None = None
    invite_ts_ns: int | None = None
    answer_frame: int | None = None
    answer_ts_ns: int | None = None
    answer_status: int | None = None
    media: list[MediaRecord] = field(default_factory=list)
    events: list[LadderEvent] = field(default_factory=list)
    roles: dict[Endpoint, Role] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    capture: str = ""
    signalling: Signalling = Signalling.CLEAR
    # how the initial INVITE ended: "established: 200 OK (frame 11)", "rejected: 486 Busy
    # Here (frame 3)", "cancelled by the caller ...", "no final response ..."
    outcome: str | None = None
    # the GTP-U tunnel its SIP came through (a capture on N3 / S1-U); None outside tunnels
    tunnel: Tunnel | None = None
    mp_leg: bool = False  # the capture holds Mp traffic (of this call or another)
    wireshark_check: WiresharkCheck | None = None  # analyze --wireshark-check

    @property
    def scenario(self) -> str:
        if self.direction is None or not self.media:
            return "unknown"
        protocols = dict.fromkeys(m.protocol.value for m in self.media)
        return f"{'+'.join(protocols)}-{self.direction.value}"

    @property
    def verdict(self) -> Verdict:
        unseen = not self.checks
        for c in self.checks:  # (read several times a call: one pass, no set)
            if c.unseen_leg:  # not ``counts``
                continue
            if c.status is Status.FAIL:
                return Verdict.FAIL
            if c.status is Status.NOT_OBSERVED:
                unseen = True
        return Verdict.INCOMPLETE if unseen else Verdict.PASS

    @property
    def failing(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is Status.FAIL]


@dataclass(slots=True)
class UnboundMedia:
    """A TLS connection no call claims: media whose signalling is not in the capture (a
    media-side probe, SIP that could not be read), or TLS of something else. Opened, when it
    could be, with the PSKs the user gave (``--psk``, ``[[tek]]``) or the TLS key log."""

    capture: str
    tcp: TcpInfo
    tls: TlsInfo
    first_frame: int
    last_frame: int
    data_frames: int  # frames carrying payload
    psk: bytes | None = None  # the given PSK the handshake proved (a secret)
    psk_label: str | None = None  # where that PSK came from
    opened_by: str | None = None  # "psk" / "key log": what decrypted the records
    tls13_mode: str | None = None  # "psk_ke" / "psk_dhe_ke"
    not_opened: str | None = None  # why the records could not be read
    protocol: Protocol | None = None  # what the plaintext is, when it is MSRP or BFCP
    plaintext_bytes: int = 0
    messages: list[MediaMessage] = field(default_factory=list)
    chat: list[ChatEntry] = field(default_factory=list)
    floor: list[FloorStep] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(slots=True)
class CaptureInfo:
    path: str
    frames: int = 0
    errors: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    files: tuple[str, ...] = ()  # the files read as this capture (several: rotated pieces)

    @property
    def unreadable(self) -> bool:
        """Not a capture at all, or not openable: no frame, and the reader said why."""
        return self.frames == 0 and any(p.layer == "capture" for p in self.errors)
