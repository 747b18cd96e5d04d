"""The four TR 29.828 call flows (and a conference of them) as traffic, step by step.

Two capture points are modelled. ``ue``, on the Gm side of the access network, sees every
UE's SIP with its P-CSCF over UDP and every UE's TCP media with the MRFP. The MRFC (the
conference focus, Contact ``;isfocus``) is reached through the P-CSCF and the S-CSCF, so its
messages arrive from the P-CSCF with their Via and Record-Route chains. ``mrf``, beside the
MRF, sees the same SIP messages between the S-CSCF and the MRFC, the Mp leg (H.248 between
the MRFC and the MRFP, :mod:`.mp`), the MRFC's KMS leg when it resolves a ticket (dial-in),
and the same UE-MRFP media. Step numbers in comments are the seed's ("dial-in / dial-out").

Every random value (keys, RANDs, CSB IDs, ports, tags, branches, TLS randoms) is drawn from
one ``random.Random(seed)``, and time starts at a fixed base offset by the seed, so one
seed gives one capture byte for byte. What only the MRF sees draws from a source of its own,
so one seed gives the same calls at both capture points.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

from mikeyshark.checks.rules import RULES
from mikeyshark.dissectors import http, sdp, sip
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248.model import LocalControlDescriptor
from mikeyshark.dissectors.h248.mp import DEFAULT_PROFILE as DEFAULT_MP_PROFILE
from mikeyshark.dissectors.h248.mp import local_control_descriptor
from mikeyshark.dissectors.mikey import crypto as mcrypto
from mikeyshark.dissectors.mikey import message as mmsg
from mikeyshark.dissectors.mikey import ticket as mticket
from mikeyshark.dissectors.mikey import transfer
from mikeyshark.dissectors.mikey.payloads import (
    GenericIdEntry,
    GenericIdMap,
    Hdr,
    Idr,
    Payload,
    Rand,
    Sp,
    T,
    Ticket,
    V,
)
from mikeyshark.dissectors.mikey.payloads import ntp64_from_unix_ns as ntp
from mikeyshark.keyfile import Conference, KeyFile, KmsKey, PskKey
from mikeyshark.model import Endpoint, Frame
from mikeyshark.synth import media as M
from mikeyshark.synth import mp as mpleg
from mikeyshark.synth.faults import CAPTURE_POINTS, FAULTS, applicable, expected_status
from mikeyshark.synth.net import Cursor, Host, Network, TcpConnection

BASE_TIME_NS = 1_767_268_800 * 1_000_000_000  # 2026-01-01T12:00:00Z; + seed minutes

DOMAIN = "example.org"
CONFERENCE_URI = "sip:conf1@conf.example.org"
MRFC_URI = "sip:mrfc@conf.example.org"  # the focus's own name: what id-mismatch puts in IDRr
KMS_URI = "kms.example.org"
USERS = ("alice", "bob", "carol", "dave")
UNAUTHORIZED = "mallory"

# Addresses (documentation ranges, RFC 5737): UEs in one access net, IMS core and MRFP apart.
PCSCF_IP = "192.0.2.10"
SCSCF_IP = "192.0.2.15"
MRFC_IP = "192.0.2.20"
KMS_IP = "192.0.2.40"
MRFP_IP = "203.0.113.30"
KMS_PORT = 80
UE_IPS = ("198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14", "198.51.100.66")


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """Where each node is. The synthesizer uses documentation addresses; the live replay
    uses distinct loopback addresses (Linux answers on all of 127/8)."""

    pcscf: str = PCSCF_IP
    mrfc: str = MRFC_IP
    mrfp: str = MRFP_IP
    ues: tuple[str, ...] = UE_IPS
    scscf: str = SCSCF_IP
    kms: str = KMS_IP


# The same nodes over IPv6, in the documentation prefix 2001:db8::/32 (RFC 3849).
IPV6 = AddressPlan(
    "2001:db8:0:2::10",
    "2001:db8:0:2::20",
    "2001:db8:0:113::30",
    (
        "2001:db8:0:100::11",
        "2001:db8:0:100::12",
        "2001:db8:0:100::13",
        "2001:db8:0:100::14",
        "2001:db8:0:100::66",
    ),
    scscf="2001:db8:0:2::15",
    kms="2001:db8:0:2::40",
)

LOOPBACK = AddressPlan(
    "127.0.0.10",
    "127.0.0.20",
    "127.0.0.30",
    ("127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.66"),
    scscf="127.0.0.15",
    kms="127.0.0.40",
)

SCENARIOS: dict[str, str] = {
    "msrp-dial-in": "UE-A calls the conference; MSRP over TLS-PSK, the MRFP connects (7.2.1.2.n1)",
    "msrp-dial-out": "the conference calls UE-B; MSRP over TLS-PSK, UE-B connects (7.2.1.2.n2)",
    "bfcp-dial-in": "UE-A calls the conference; BFCP over TLS-PSK, the MRFP connects (7.2.1.3.1)",
    "bfcp-dial-out": "the conference calls UE-B; BFCP over TLS-PSK, UE-B connects (7.2.1.3.2)",
    "conference": "one focus, two UEs dial in and one is dialed out; audio + MSRP + BFCP each",
}


def uri_host(ip: str) -> str:
    """An address as the host part of a SIP or MSRP URI or a Via sent-by: an IPv6 address in
    brackets (RFC 3261 25.1, RFC 4975 9), else unchanged."""
    return f"[{ip}]" if ":" in ip else ip


def sdp_addr(ip: str) -> str:
    """``nettype addrtype address`` of an SDP o=/c= line (RFC 8866 5.2, 5.7)."""
    return f"IN {'IP6' if ':' in ip else 'IP4'} {ip}"


def psk_identity(csb_id: int, cs_id: int) -> str:
    """The PSK identity of a crypto session (docs/profile.md, TEK, PSK and identities)."""
    return f"mikey:{csb_id:08x}:{cs_id:02x}"


# --------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class MediaFacts:
    protocol: str  # "msrp" | "bfcp"
    proto: str  # m= proto as offered
    csb_id: int
    cs_id: int
    tek: bytes  # TLS PSK = TEK of the crypto session
    psk_identity: str
    tcp_client: Endpoint | None
    tcp_server: Endpoint | None
    tls_client: Endpoint | None
    tls_version: str | None
    cipher_suite: int | None
    mikey_init: bytes
    mikey_resp: bytes
    keylog: tuple[str, ...] = ()  # NSS key log lines of the TLS session


@dataclass(frozen=True, slots=True)
class CallFacts:
    call_id: str
    scenario: str  # e.g. "msrp-dial-in"; conference calls: "msrp+bfcp-dial-in"
    offerer: str  # KMS UID (normalized SIP URI) of the side that sends the offer
    answerer: str
    ue: str
    mode3: bool
    faults: frozenset[str]
    media: tuple[MediaFacts, ...]
    # rule -> "pass" | "fail" | "any" | "not-applicable" | "not-observed" | "warning" | "info"
    expected: dict[str, str]
    capture_point: str = "ue"


@dataclass(frozen=True, slots=True)
class SynthResult:
    scenario: str
    seed: int
    frames: tuple[Frame, ...]
    keyfile_text: str
    calls: tuple[CallFacts, ...]

    @property
    def packets(self) -> tuple[Frame, ...]:
        return self.frames


# ------------------------------------------------------------------------------- the world


@dataclass(slots=True)
class Options:
    faults: frozenset[str]
    mode3: bool
    reliable_183: bool
    capture_point: str = "ue"


@dataclass(slots=True)
class World:
    rng: random.Random
    net: Network
    opts: Options
    kms_key: bytes
    pcscf: Host
    mrfp: Host
    addr: AddressPlan
    user_psk: dict[str, bytes] = field(default_factory=dict)
    keys_given: bool = False  # the keys come from a key file: none may be made up
    ue_hosts: dict[str, Host] = field(default_factory=dict)
    mrf: Mrf | None = None  # what a capture at the MRF adds

    def token(self, n: int = 10) -> str:
        """A random alphanumeric token (tags, branches, session ids)."""
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def psk_of(self, uri: str) -> bytes:
        if uri not in self.user_psk:
            if self.keys_given:
                # a made-up key would be in no key file: nothing could open the ticket
                raise ValueError(
                    f"--mode3: the key file has no [[psk]] for {uri} (the initiator's key "
                    "shared with the KMS, with which it builds its ticket)"
                )
            self.user_psk[uri] = self.rng.randbytes(32)
        return self.user_psk[uri]


@dataclass(slots=True)
class Mrf:
    """The nodes and legs only a capture at the MRF sees: the S-CSCF (the MRFC's SIP peer),
    the MRFC, the KMS, and the Mp leg, with a random source of their own."""

    mp: mpleg.MpLeg
    scscf: Host
    mrfc: Host
    kms: Host

    @property
    def rng(self) -> random.Random:
        return self.mp.rng

    @property
    def net(self) -> Network:
        return self.mp.net


def _flip_last_bit(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _kms_http(start: str, body: bytes) -> bytes:
    """A KMS leg's HTTP/1.1 request or response carrying a MIKEY message."""
    host = [("Host", KMS_URI)] if not start.startswith("HTTP/") else []
    return http.build_message(start, [*host, ("Content-Type", "application/mikey")], body)


# ------------------------------------------------------------------------------- one m-line


@dataclass(slots=True)
class ProtectedMedia:
    """One TCP/TLS m-line of a call with its MIKEY-TICKET exchange and TLS parameters."""

    protocol: str  # msrp | bfcp
    offer_port: int
    answer_port: int
    ue_session: str  # MSRP session ids in a=path
    conf_session: str
    confid: int
    userid: int
    floor_id: int
    csb_id: int
    rand: bytes
    mpk: bytes
    tgks: tuple[bytes, ...]
    tek: bytes
    tls_version: str
    suite: int
    init: bytes = b""
    resp: bytes = b""
    tcp: TcpConnection | None = None
    tls_client: Endpoint | None = None
    channel: M.Channel | None = None
    keylog: list[str] = field(default_factory=list)
    mismatch_psk: bytes | None = None  # the psk-mismatch fault's key, drawn when first needed
    mp_term: mpleg.Termination | None = None  # its termination on the MRFP (capture at the MRF)


class Call:
    """One SIP dialog between a UE and the focus with its protected media."""

    def __init__(
        self,
        world: World,
        *,
        dial_in: bool,
        user: str,
        protocols: tuple[str, ...],
        audio: bool,
        start_ns: int,
        faults: frozenset[str],
        tls: tuple[str, int] = ("1.2", M.DEFAULT_SUITE),
        index: int = 0,
    ) -> None:
        self.w = world
        rng = world.rng
        self.index = index
        self.mp = world.mrf.mp.numbering(index) if world.mrf is not None else None
        self.ue_sdp: sdp.SessionDescription | None = None  # as the UE sent it
        self.dial_in = dial_in
        self.faults = faults
        self.protocols = protocols
        self.audio = audio
        self.ue_uri = f"sip:{user}@{DOMAIN}"
        self.ue = world.ue_hosts[user]
        self.ue_sip_port = world.net.ephemeral_port(self.ue)
        self.cursor = Cursor(rng, start_ns)
        self.call_id = f"{world.token(16)}@{self.ue.ip if dial_in else world.addr.mrfc}"
        self.ue_tag, self.conf_tag = world.token(8), world.token(8)
        self.audio_ports = (rng.randrange(20000, 30000, 2), rng.randrange(30000, 40000, 2))
        self.conf_uri = CONFERENCE_URI
        self.media: list[ProtectedMedia] = []
        for proto in protocols:
            t_ue = M.tls_choice(tls, "tls10" in faults)
            self.media.append(
                ProtectedMedia(
                    protocol=proto,
                    offer_port=rng.randrange(40000, 50000),
                    answer_port=rng.randrange(40000, 50000),
                    ue_session=world.token(12),
                    conf_session=world.token(12),
                    confid=rng.randrange(1, 1 << 31),
                    userid=rng.randrange(1, 1 << 16),
                    floor_id=1,
                    csb_id=rng.getrandbits(32),
                    rand=rng.randbytes(16),
                    mpk=rng.randbytes(16),
                    tgks=tuple(
                        rng.randbytes(16)
                        for _ in range(2 if "two-crypto-sessions" in faults else 1)
                    ),
                    tek=b"",
                    tls_version=t_ue[0],
                    suite=t_ue[1],
                )
            )

    # ---- identities -------------------------------------------------------------------
    @property
    def scenario(self) -> str:
        """The flow of this call: ``msrp-dial-in``, ..., ``msrp+bfcp-dial-out``."""
        return f"{'+'.join(self.protocols)}-dial-{'in' if self.dial_in else 'out'}"

    @property
    def offerer_uri(self) -> str:
        return self.ue_uri if self.dial_in else self.conf_uri

    @property
    def answerer_uri(self) -> str:
        return self.conf_uri if self.dial_in else self.ue_uri

    def _has(self, fault: str) -> bool:
        return fault in self.faults

    # ---- MIKEY (steps 1 / 1, 9 / 8) ---------------------------------------------------
    def make_mikey(self, invite_ns: int, replay_of: Call | None) -> None:
        w = self.w
        for i, pm in enumerate(self.media):
            if replay_of is not None:
                src = replay_of.media[i]
                pm.csb_id, pm.rand, pm.mpk, pm.tgks = src.csb_id, src.rand, src.mpk, src.tgks
                pm.init = src.init
            else:
                pm.init = self._transfer_init(pm, invite_ns)
            pm.tek = mcrypto.derive_tek(
                pm.tgks[0], 1, pm.csb_id, pm.rand, 16, prf_func=transfer.PRF_FUNC
            )
            responder = self.answerer_uri
            if self._has("resp-id-mismatch"):
                responder = MRFC_URI if self.dial_in else f"sip:impostor@{DOMAIN}"
            pm.resp = transfer.build_transfer_resp(
                init=pm.init,
                t_ntp=ntp(invite_ns + w.rng.randrange(50, 400) * 1_000_000),
                responder=responder.encode(),
                mpk=pm.mpk,
            )
            if self._has("bad-resp-mac"):
                pm.resp = _flip_last_bit(pm.resp)

    def _transfer_init(self, pm: ProtectedMedia, invite_ns: int) -> bytes:
        rng = self.w.rng
        initiator, responder = self.offerer_uri, self.answerer_uri
        if self._has("id-mismatch"):
            # The conference side is named by the focus's own URI, not the dialog's.
            if self.dial_in:
                responder = MRFC_URI
            else:
                initiator = MRFC_URI
        t_issue = invite_ns - rng.randrange(2, 30) * 1_000_000_000
        if self._has("expired-ticket"):
            t_end = invite_ns - 600 * 1_000_000_000
            t_issue = t_end - 3600 * 1_000_000_000
        else:
            t_end = t_issue + 3600 * 1_000_000_000
        base = mticket.BaseTicket(
            t_issue=ntp(t_issue),
            t_start=ntp(t_issue),
            t_end=ntp(t_end),
            rand=rng.randbytes(16),
            initiator=initiator.encode(),
            responder=responder.encode(),
            kms_uri=KMS_URI.encode(),
            mpk=pm.mpk,
            tgks=pm.tgks,
        )
        key = self.w.psk_of(initiator) if self.w.opts.mode3 else self.w.kms_key
        ticket_data = mticket.protect_ticket(key, pm.csb_id, base)
        if self._has("bad-ticket-mac"):
            ticket_data = _flip_last_bit(ticket_data)
        t_init = ntp(invite_ns - rng.randrange(5, 60) * 1_000_000)
        prot = 0 if self._has("srtp-prot-type") else transfer.TLS_PROT_TYPE
        if self._has("two-crypto-sessions") or self._has("wrong-data-type"):
            init = self._custom_init(pm, t_init, initiator, responder, ticket_data, prot)
        else:
            init = transfer.build_transfer_init(
                csb_id=pm.csb_id,
                t_ntp=t_init,
                rand=pm.rand,
                initiator=initiator.encode(),
                responder=responder.encode(),
                kms_uri=KMS_URI.encode(),
                ticket_data=ticket_data,
                mpk=pm.mpk,
                prot_type=prot,
            )
        return _flip_last_bit(init) if self._has("bad-init-mac") else init

    def _custom_init(
        self,
        pm: ProtectedMedia,
        t_init: int,
        initiator: str,
        responder: str,
        ticket_data: bytes,
        prot: int,
    ) -> bytes:
        """TRANSFER_INIT as the profile builds it but with the two faults the profile builder
        cannot express: two crypto sessions in the HDR, or another data type."""
        data_type = 0 if self._has("wrong-data-type") else transfer.DT_TRANSFER_INIT
        entries = tuple(
            GenericIdEntry(cs_id, prot, False, (0,)) for cs_id in range(1, len(pm.tgks) + 1)
        )
        hdr = Hdr(data_type, pm.csb_id, GenericIdMap(entries), True, transfer.PRF_FUNC)
        payloads: list[Payload] = [
            T(0, t_init),
            Rand(pm.rand),
            Idr(1, transfer.ID_URI, initiator.encode()),
            Idr(2, transfer.ID_URI, responder.encode()),
            Idr(3, transfer.ID_URI, KMS_URI.encode()),
            Sp(0, prot),
            Ticket(1, 0, 1, ticket_data),
            V(transfer.V_ALG, bytes(32)),
        ]
        covered = mmsg.build(mmsg.MikeyMessage(hdr, tuple(payloads)))[:-32]
        auth = transfer.v_auth_key(pm.mpk, pm.csb_id, pm.rand)
        return covered + mcrypto.v_init(transfer.V_ALG, auth, covered)

    # ---- SDP (steps 1 / 5 and 9 / 8) --------------------------------------------------
    def _session(self, ip: str, media: list[sdp.MediaDescription]) -> bytes:
        rng = self.w.rng
        sess_id = str(rng.randrange(10**9, 10**10))
        lines = (
            sdp.SdpLine("v", "0"),
            sdp.SdpLine("o", f"- {sess_id} {sess_id} {sdp_addr(ip)}"),
            sdp.SdpLine("s", "-"),
            sdp.SdpLine("c", sdp_addr(ip)),
            sdp.SdpLine("t", "0 0"),
        )
        return sdp.build(sdp.SessionDescription(lines, tuple(media)))

    def _audio(self, ip_is_ue: bool) -> sdp.MediaDescription:
        port = self.audio_ports[0 if ip_is_ue else 1]
        return sdp.media_description(
            "audio",
            port,
            "RTP/AVP",
            ("0", "8", "101"),
            (
                sdp.attribute("rtpmap", "0 PCMU/8000"),
                sdp.attribute("rtpmap", "8 PCMA/8000"),
                sdp.attribute("rtpmap", "101 telephone-event/8000"),
                sdp.attribute("label", "10"),
                sdp.attribute("sendrecv"),
            ),
        )

    def media_ip_port(self, pm: ProtectedMedia, ue_side: bool) -> tuple[str, int]:
        """The SDP address and port of one side of an m-line."""
        offer_side_is_ue = self.dial_in
        port = pm.offer_port if ue_side == offer_side_is_ue else pm.answer_port
        return (self.ue.ip if ue_side else self.w.mrfp.ip), port

    def _protected(self, pm: ProtectedMedia, offer: bool) -> sdp.MediaDescription:
        ue_side = offer == self.dial_in
        ip, port = self.media_ip_port(pm, ue_side)
        conf_side = not ue_side
        lines: list[sdp.SdpLine] = []
        if pm.protocol == "msrp":
            mtype, proto = "message", "TCP/TLS/MSRP"
            session = pm.conf_session if conf_side else pm.ue_session
            lines += [
                sdp.attribute("accept-types", "message/cpim text/plain"),
                sdp.attribute("path", f"msrps://{uri_host(ip)}:{port}/{session};tcp"),
            ]
        else:
            mtype, proto = "application", "TCP/TLS/BFCP"
            lines.append(sdp.attribute("floorctrl", "s-only" if conf_side else "c-only"))
            if conf_side:
                mstrm = " mstrm:10" if self.audio else ""
                lines += [
                    sdp.attribute("confid", str(pm.confid)),
                    sdp.attribute("userid", str(pm.userid)),
                    sdp.attribute("floorid", f"{pm.floor_id}{mstrm}"),
                ]
            lines.append(sdp.attribute("bfcpver", "1"))
        setup = "actpass" if offer else "active"
        if offer and self._has("setup-active-offer"):
            setup = "active"
        if not offer and self._has("setup-passive-answer"):
            setup = "passive"
        lines += [sdp.attribute("setup", setup), sdp.attribute("connection", "new")]
        if pm.protocol == "msrp":
            lines.append(sdp.attribute("msrp-cema"))
        mikey = pm.init if offer else pm.resp
        if not (
            (offer and self._has("no-key-mgmt")) or (not offer and self._has("no-transfer-resp"))
        ):
            lines.append(sdp.key_mgmt_attribute("mikey", mikey))
        if self._has("plain-transport"):
            proto = proto.replace("TLS/", "")
        return sdp.media_description(mtype, port, proto, ("*",), lines)

    def sdp_body(self, offer: bool) -> bytes:
        ue_side = offer == self.dial_in
        ip = self.ue.ip if ue_side else self.w.mrfp.ip
        media = [self._audio(ue_side)] if self.audio else []
        media += [self._protected(pm, offer) for pm in self.media]
        return self._session(ip, media)

    # ---- SIP (steps 2, 10 / 6, 8) -----------------------------------------------------
    def _ue_contact(self) -> str:
        return f"<sip:{self.ue_uri[4:].split('@')[0]}@{uri_host(self.ue.ip)}:{self.ue_sip_port}>"

    def _conf_contact(self) -> str:
        return f"<sip:conf1@{uri_host(self.w.addr.mrfc)}:5060;transport=udp>;isfocus"

    def _ue_via(self) -> tuple[str, str]:
        branch = f"z9hG4bK{self.w.token(12)}"
        return (
            "Via",
            f"SIP/2.0/UDP {uri_host(self.ue.ip)}:{self.ue_sip_port};branch={branch};rport",
        )

    def _pcscf_uri(self) -> str:
        return f"sip:{uri_host(self.w.pcscf.ip)}:5060;lr"

    def _core_vias(self) -> list[tuple[str, str]]:
        """The Via chain of a request the focus sent through S-CSCF and P-CSCF."""
        w = self.w
        return [
            ("Via", f"SIP/2.0/UDP {uri_host(w.pcscf.ip)}:5060;branch=z9hG4bK{w.token(12)}"),
            ("Via", f"SIP/2.0/UDP scscf.{DOMAIN}:5060;branch=z9hG4bK{w.token(12)}"),
            ("Via", f"SIP/2.0/UDP {uri_host(w.addr.mrfc)}:5060;branch=z9hG4bK{w.token(12)}"),
        ]

    def _record_route(self) -> list[tuple[str, str]]:
        return [
            ("Record-Route", f"<{self._pcscf_uri()}>"),
            ("Record-Route", f"<sip:scscf.{DOMAIN}:5060;lr>"),
        ]

    def _send(self, msg: sip.SipMessage, from_ue: bool) -> None:
        """One SIP message on the captured hop: the UE's with the P-CSCF, or at the MRF the
        MRFC's with the S-CSCF (the same message; only the hop differs)."""
        w = self.w
        data = sip.build(msg)
        if w.mrf is not None:
            a, b = w.mrf.scscf, w.mrf.mrfc
            src, dst = (a, b) if from_ue else (b, a)
            w.net.udp(self.cursor, src, sip.PORT, dst, sip.PORT, data)
        elif from_ue:
            w.net.udp(self.cursor, self.ue, self.ue_sip_port, w.pcscf, 5060, data)
        else:
            w.net.udp(self.cursor, w.pcscf, 5060, self.ue, self.ue_sip_port, data)

    def _from_to(self) -> tuple[str, str]:
        frm = f"<{self.offerer_uri}>;tag={self.ue_tag if self.dial_in else self.conf_tag}"
        return frm, f"<{self.answerer_uri}>"

    def invite(self) -> sip.SipMessage:
        frm, to = self._from_to()
        body = self.sdp_body(offer=True)
        common = [
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", "1 INVITE"),
        ]
        if self.dial_in:
            headers = [
                self._ue_via(),
                ("Route", f"<{self._pcscf_uri()}>"),
                *common,
                ("Contact", self._ue_contact()),
                ("P-Preferred-Identity", f"<{self.ue_uri}>"),
            ]
            ruri = self.conf_uri
        else:
            headers = [
                *self._core_vias(),
                *self._record_route(),
                *common,
                ("Contact", self._conf_contact()),
                ("P-Asserted-Identity", f"<{self.conf_uri}>"),
            ]
            ruri = f"sip:{self.ue_uri[4:].split('@')[0]}@{uri_host(self.ue.ip)}:{self.ue_sip_port}"
        headers += [
            ("Supported", "100rel, timer"),
            ("Allow", "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE"),
            ("User-Agent", "mikeyshark-synth"),
        ]
        return sip.request("INVITE", ruri, headers, body, "application/sdp")

    def _answer_headers(self, reliable: bool) -> list[tuple[str, str]]:
        hs: list[tuple[str, str]] = []
        if self.dial_in:
            hs += self._record_route()
            hs.append(("Contact", self._conf_contact()))
        else:
            hs.append(("Contact", self._ue_contact()))
        if reliable:
            hs += [("Require", "100rel"), ("RSeq", "1")]
        return hs

    def _in_dialog(
        self, method: str, cseq: int, from_ue: bool, extra: list[tuple[str, str]]
    ) -> sip.SipMessage:
        """A request inside the dialog: ACK, PRACK or BYE, routed by the record-route set."""
        frm_uri, to_uri = (self.ue_uri, self.conf_uri) if from_ue else (self.conf_uri, self.ue_uri)
        frm_tag, to_tag = (self.ue_tag, self.conf_tag) if from_ue else (self.conf_tag, self.ue_tag)
        if from_ue:
            vias = [self._ue_via()]
            route = [
                ("Route", f"<{self._pcscf_uri()}>"),
                ("Route", f"<sip:scscf.{DOMAIN}:5060;lr>"),
            ]
            ruri = f"sip:conf1@{uri_host(self.w.addr.mrfc)}:5060;transport=udp"
        else:
            vias = self._core_vias()
            route = []
            ruri = f"sip:{self.ue_uri[4:].split('@')[0]}@{uri_host(self.ue.ip)}:{self.ue_sip_port}"
        headers = [
            *vias,
            *route,
            ("Max-Forwards", "70"),
            ("From", f"<{frm_uri}>;tag={frm_tag}"),
            ("To", f"<{to_uri}>;tag={to_tag}"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            *extra,
        ]
        return sip.request(method, ruri, headers)

    # ---- the flow ---------------------------------------------------------------------
    def run(self, replay_of: Call | None = None) -> None:
        cur = self.cursor
        early = self._has("early-connect")
        # Step 1: the offerer has its ticket and keys before anything is sent.
        self.make_mikey(cur.now_ns, replay_of)
        if early and self.dial_in:
            self._connect_all()  # fault: the MRFP connects before there is an INVITE
            cur.wait(200, 600)
        mrf = self.w.mrf is not None
        late = self._has("mp-late-configure")
        if mrf and not self.dial_in:
            self._mp_reserve()  # dial-out steps 2-4: the MRFC reserves on the MRFP
        inv = self.invite()
        if self.dial_in:
            self.ue_sdp = sdp.parse(inv.body)
        ue_answers = not self.dial_in
        self._send(inv, from_ue=self.dial_in)  # step 2 / 6
        cur.wait(1, 4)
        self._send(sip.response_to(inv, 100, "Trying"), from_ue=ue_answers)
        if self.dial_in:
            resolving = cur.now_ns
            cur.wait(40, 160)  # step 3: the MRFC resolves the ticket with the KMS
            if mrf:
                self._resolve_with_kms(resolving)
                if not late:
                    self._mp_dial_in()  # steps 4-6: the MRFC reserves and configures the MRFP
            if not early and not late:
                self._connect_all()  # steps 7-8: MRFP opens TCP and starts TLS
            cur.wait(5, 30)
        else:
            cur.wait(30, 90)  # step 7: UE-B resolves the ticket
            self._send(
                sip.response_to(
                    inv,
                    180,
                    "Ringing",
                    to_tag=self.ue_tag,
                    headers=[("Contact", self._ue_contact())],
                ),
                from_ue=True,
            )
            cur.wait(800, 2500)
            if early:
                self._connect_all()  # fault: UE-B connects before its answer
        answer = self.sdp_body(offer=False)
        if not self.dial_in:
            self.ue_sdp = sdp.parse(answer)
        to_tag = self.conf_tag if self.dial_in else self.ue_tag
        cseq = 1
        if self.w.opts.reliable_183:
            r183 = sip.response_to(
                inv,
                183,
                "Session Progress",
                to_tag=to_tag,
                headers=self._answer_headers(True),
                body=answer,
                content_type="application/sdp",
            )
            self._send(r183, from_ue=ue_answers)  # step 10 / 8 (reliable 18x)
            if mrf and not self.dial_in and not late:
                self._mp_configure()  # dial-out steps 9-11, on the answer
            cur.wait(20, 60)
            cseq += 1
            prack = self._in_dialog(
                "PRACK", cseq, from_ue=self.dial_in, extra=[("RAck", "1 1 INVITE")]
            )
            self._send(prack, from_ue=self.dial_in)
            cur.wait(20, 60)
            self._send(sip.response_to(prack, 200, "OK"), from_ue=ue_answers)
            cur.wait(50, 300)
            ok = sip.response_to(inv, 200, "OK", to_tag=to_tag, headers=self._answer_headers(False))
        else:
            ok = sip.response_to(
                inv,
                200,
                "OK",
                to_tag=to_tag,
                headers=self._answer_headers(False),
                body=answer,
                content_type="application/sdp",
            )
        self._send(ok, from_ue=ue_answers)  # step 10 / 8
        if mrf and not self.dial_in and not late and not self.w.opts.reliable_183:
            self._mp_configure()  # dial-out steps 9-11, on the answer
        cur.wait(20, 60)
        self._send(self._in_dialog("ACK", 1, from_ue=self.dial_in, extra=[]), from_ue=self.dial_in)
        if self.dial_in and late:
            self._mp_dial_in()  # the mp-late-configure fault: after the answer
            self._connect_all()
        if not self.dial_in and not early:
            cur.wait(20, 80)
            self._connect_all()  # steps 12-13: UE-B opens TCP and starts TLS
        if mrf and not self.dial_in and late:
            self._mp_configure()  # the mp-late-configure fault: after UE-B's SYN
        cur.wait(200, 900)
        for pm in self.media:
            if pm.channel is not None and pm.channel.failure is None:
                self._talk(pm)
                cur.wait(300, 1500)
        for pm in self.media:
            if pm.channel is not None and pm.channel.failure is None:
                pm.keylog = pm.channel.keylog_lines()
                pm.channel.close()
        cur.wait(100, 400)
        # The offerer hangs up (UE-A in dial-in, the focus in dial-out): its next CSeq.
        bye = self._in_dialog("BYE", cseq + 1, from_ue=self.dial_in, extra=[])
        self._send(bye, from_ue=self.dial_in)
        cur.wait(15, 50)
        self._send(sip.response_to(bye, 200, "OK"), from_ue=not self.dial_in)
        if mrf:
            self._mp_release()  # the MRFC subtracts the call's terminations

    def _sides(self, pm: ProtectedMedia) -> tuple[bool, bool]:
        """(TCP client is the UE, TLS client is the UE) after the faults that move them."""
        answerer_is_ue = not self.dial_in
        tcp_ue = answerer_is_ue  # the answer says active: the answerer's side connects
        if self._has("offerer-connects"):
            tcp_ue = not answerer_is_ue
        tls_ue = answerer_is_ue  # the flows' roles (docs/rules.md): the answerer's side
        if self._has("tls-by-offerer") or self._has("mp-role-swapped"):
            # mp-role-swapped: the MRFC gives the MRFP the other TLS role, which it obeys
            tls_ue = not answerer_is_ue
        return tcp_ue, tls_ue

    def _tls_psk(self, pm: ProtectedMedia) -> bytes:
        """The PSK the UE's TLS uses: the TEK, or the psk-mismatch fault's other key."""
        if not self._has("psk-mismatch"):
            return pm.tek
        if pm.mismatch_psk is None:
            rng = self.w.mrf.rng if self.w.mrf is not None else self.w.rng
            pm.mismatch_psk = rng.randbytes(16)
        return pm.mismatch_psk

    def _connect_all(self) -> None:
        for pm in self.media:
            self._connect(pm)

    def _connect(self, pm: ProtectedMedia) -> None:
        w, cur = self.w, self.cursor
        tcp_ue, tls_ue = self._sides(pm)
        _, ue_port = self.media_ip_port(pm, True)
        _, mrfp_port = self.media_ip_port(pm, False)
        if tcp_ue:
            conn = TcpConnection(
                w.net, cur, self.ue, w.net.ephemeral_port(self.ue), w.mrfp, mrfp_port
            )
        else:
            conn = TcpConnection(w.net, cur, w.mrfp, w.net.ephemeral_port(w.mrfp), self.ue, ue_port)
        conn.connect()
        cur.wait(0.1, 2)
        pm.tcp = conn
        pm.tls_client = conn.client if tls_ue == tcp_ue else conn.server
        psk = self._tls_psk(pm)
        config = mrfp_config = None
        if not self._has("plaintext-media"):
            identity = psk_identity(pm.csb_id, 1)
            config = M.engine_config(psk, identity, pm.tls_version, pm.suite)
            if w.mrf is not None and self._mp_psk(pm) != psk:
                # the MRFP uses the PSK the MRFC gave it on Mp (the mp-wrong-psk fault)
                mrfp_config = M.engine_config(self._mp_psk(pm), identity, pm.tls_version, pm.suite)
        cert_at = cur.now_ns // 1_000_000_000 if self._has("certificate-suite") else None
        pm.channel = M.start_tls(
            conn,
            cur,
            w.rng,
            config=config,
            ue_is_tcp_client=tcp_ue,
            ue_is_tls_client=tls_ue,
            certificate_at=cert_at,
            mrfp_config=mrfp_config,
        )
        failure = pm.channel.failure
        if failure is not None:
            pm.channel.close()  # after the fatal alert, the side that sent it closes TCP
            if w.mrf is not None and pm.mp_term is not None and self.mp is not None:
                # the MRFP tells the MRFC, with the alert it sent or received as the cause
                w.mrf.mp.delay(cur, 1, 5)
                w.mrf.mp.notify(cur, self.mp, pm.mp_term, "tls_fail_event", failure[0])

    def _talk(self, pm: ProtectedMedia) -> None:
        assert pm.channel is not None
        ue_ip, ue_port = self.media_ip_port(pm, True)
        mrfp_ip, mrfp_port = self.media_ip_port(pm, False)
        if pm.protocol == "msrp":
            script = M.msrp_script(
                self.w.rng,
                self.w.token,
                ue_path=f"msrps://{uri_host(ue_ip)}:{ue_port}/{pm.ue_session};tcp",
                conf_path=f"msrps://{uri_host(mrfp_ip)}:{mrfp_port}/{pm.conf_session};tcp",
                ue_first=pm.channel.ue_is_tcp_client,
                wrong_path=self._has("msrp-wrong-path"),
                user=self.ue_uri,
            )
        else:
            confid = pm.confid + 1 if self._has("bfcp-wrong-confid") else pm.confid
            script = M.bfcp_script(
                self.w.rng, confid=confid, userid=pm.userid, floor_id=pm.floor_id
            )
        pm.channel.play(script)

    # ---- at the MRF: the KMS leg and the Mp leg ----------------------------------------
    def _mline(self, pm: ProtectedMedia) -> int:
        """The index of ``pm``'s m-line in the SDP bodies (audio first when there is some)."""
        return (1 if self.audio else 0) + self.media.index(pm)

    def _mp_psk(self, pm: ProtectedMedia) -> bytes:
        """The PSK the MRFC gives the MRFP on Mp: what the TLS runs with (the TEK), or a
        key one bit off (the mp-wrong-psk fault)."""
        psk = self._tls_psk(pm)
        return _flip_last_bit(psk) if self._has("mp-wrong-psk") else psk

    def _mp_role(self) -> str:
        """The TLS role the MRFC gives the MRFP: the roles table (the answerer's side is
        the TLS client), swapped by the mp-role-swapped fault."""
        client = self.dial_in != self._has("mp-role-swapped")
        return "client" if client else "server"

    def _mp_control(self, pm: ProtectedMedia) -> LocalControlDescriptor:
        assert self.w.mrf is not None
        # mp-pskid-mismatch: the identity of another crypto session of the same exchange
        pskid = psk_identity(pm.csb_id, 2 if self._has("mp-pskid-mismatch") else 1)
        return local_control_descriptor(
            self.w.mrf.mp.profile, psk=self._mp_psk(pm), pskid=pskid, role=self._mp_role()
        )

    def mp_local(self, pm: ProtectedMedia, setup: str, concrete: bool) -> sdp.SessionDescription:
        """Local of ``pm`` as the MRFC asks for it (``$``) or as the MRFP returns it (the
        mp-local-mismatch fault: a port other than the one the MRFC puts in its SDP)."""
        conf = self._protected(pm, offer=not self.dial_in)
        if not concrete:
            return mpleg.local_sdp(conf, setup, None)
        port = None
        if self._has("mp-local-mismatch"):
            port = conf.m.port + 2 if conf.m.port < 65534 else conf.m.port - 2
        return mpleg.local_sdp(conf, setup, self.w.mrfp.ip, port)

    def _mp_remote(self, pm: ProtectedMedia) -> sdp.SessionDescription:
        """Remote: the UE's SDP for ``pm``'s m-line (the mp-wrong-remote fault: another port)."""
        assert self.ue_sdp is not None
        i = self._mline(pm)
        port = None
        if self._has("mp-wrong-remote"):
            p = self.ue_sdp.media[i].m.port
            port = p + 2 if p < 65534 else p - 2
        return mpleg.remote_sdp(self.ue_sdp, i, port)

    def _mp_dial_in(self) -> None:
        """Dial-in steps 4-6, "Reserve And Configure IMS resources": an Add per TCP/TLS
        m-line with Local, Remote, the PSK, its identity, the TLS role and the failure
        events; each answered by a Reply with the MRFP's Local."""
        mrf, call = self.w.mrf, self.mp
        if mrf is None or call is None or self._has("mp-missing"):
            return
        for i, pm in enumerate(self.media):
            pm.mp_term = mrf.mp.add(
                self.cursor,
                call,
                pm.protocol,
                self.mp_local(pm, "active", False),
                self.mp_local(pm, "active", True),
                remote=self._mp_remote(pm),
                control=self._mp_control(pm),
                events=not self._has("mp-no-events"),
                error_first=i == 0 and self._has("mp-error-reply"),
            )

    def _mp_reserve(self) -> None:
        """Dial-out steps 2-4, "Reserve IMS resources": an Add with Local only (BFCP's with
        Mode = SendReceive, the reserve no procedure specifies), before the offer."""
        mrf, call = self.w.mrf, self.mp
        if mrf is None or call is None or self._has("mp-missing"):
            return
        for i, pm in enumerate(self.media):
            mode = local_control_descriptor(mrf.mp.profile) if pm.protocol == "bfcp" else None
            pm.mp_term = mrf.mp.add(
                self.cursor,
                call,
                pm.protocol,
                self.mp_local(pm, "actpass", False),
                self.mp_local(pm, "actpass", True),
                control=mode,
                error_first=i == 0 and self._has("mp-error-reply"),
            )
        mrf.mp.delay(self.cursor, 2, 6)

    def _mp_configure(self) -> None:
        """Dial-out steps 9-11, "Configure IMS resources": a Modify of each reserved
        termination with UE-B's answer as Remote, the reserve Reply's Local with
        a=setup:passive, the PSK, its identity, the TLS role and the failure events."""
        mrf, call = self.w.mrf, self.mp
        if mrf is None or call is None:
            return
        for pm in self.media:
            if pm.mp_term is None:
                continue
            mrf.mp.modify(
                self.cursor,
                call,
                pm.mp_term,
                self.mp_local(pm, "passive", True),
                self._mp_remote(pm),
                self._mp_control(pm),
                events=not self._has("mp-no-events"),
            )

    def _mp_release(self) -> None:
        """At call release the MRFC subtracts each termination of the call."""
        mrf, call = self.w.mrf, self.mp
        if mrf is None or call is None:
            return
        mrf.mp.delay(self.cursor, 2, 8)
        for pm in self.media:
            if pm.mp_term is not None:
                mrf.mp.subtract(self.cursor, call, pm.mp_term)

    def _resolve_with_kms(self, start_ns: int) -> None:
        """Dial-in step 3 as the MRF sees it: the MRFC posts RESOLVE_INIT_PSK for each
        ticket to the KMS over HTTP and gets RESOLVE_RESP (docs/profile.md, the KMS leg);
        the call goes on once the keys are back."""
        mrf = self.w.mrf
        if mrf is None:
            return
        pms = []
        for pm in self.media:
            try:
                msg = mmsg.parse(pm.init)
            except DissectError:
                continue
            ticket = msg.find(Ticket)
            if ticket is not None and not self._has("no-key-mgmt"):
                pms.append((pm, msg, ticket))
        if not pms:
            return
        rng = mrf.rng
        psk = self.w.user_psk.get(CONFERENCE_URI) or self.w.user_psk.setdefault(
            CONFERENCE_URI, rng.randbytes(32)
        )
        cur = Cursor(rng, start_ns + 1_000_000)
        conn = TcpConnection(
            mrf.net, cur, mrf.mrfc, mrf.net.ephemeral_port(mrf.mrfc), mrf.kms, KMS_PORT
        )
        conn.connect(rtt_ms=(1.0, 4.0))
        for pm, msg, ticket in pms:
            cs_map = msg.hdr.cs_map if isinstance(msg.hdr.cs_map, GenericIdMap) else None
            init = transfer.build_resolve_init(
                csb_id=msg.hdr.csb_id,
                t_ntp=ntp(cur.now_ns),
                rand=rng.randbytes(16),
                responder=self.answerer_uri.encode(),
                kms_uri=KMS_URI.encode(),
                ticket=ticket,
                psk=psk,
                cs_map=cs_map,
            )
            resp = transfer.build_resolve_resp(
                resolve_init=init,
                t_ntp=ntp(cur.now_ns + 2_000_000),
                kms_uri=KMS_URI.encode(),
                psk=psk,
                mpk=pm.mpk,
                tgks=list(pm.tgks),
            )
            conn.send(True, _kms_http("POST /resolve HTTP/1.1", init), peer_answers=True)
            mrf.mp.delay(cur, 2, 6)
            conn.send(False, _kms_http("HTTP/1.1 200 OK", resp), rtt_ms=(1.0, 4.0))
        conn.close(True, rtt_ms=(1.0, 4.0))
        self.cursor.now_ns = max(self.cursor.now_ns, cur.now_ns + 1_000_000)

    # ---- facts -------------------------------------------------------------------------
    def facts(self, expected: dict[str, str]) -> CallFacts:
        media = []
        for pm in self.media:
            proto = f"TCP/TLS/{pm.protocol.upper()}"
            if self._has("plain-transport"):
                proto = f"TCP/{pm.protocol.upper()}"
            tls_on = not self._has("plaintext-media")
            media.append(
                MediaFacts(
                    protocol=pm.protocol,
                    proto=proto,
                    csb_id=pm.csb_id,
                    cs_id=1,
                    tek=pm.tek,
                    psk_identity=psk_identity(pm.csb_id, 1),
                    tcp_client=pm.tcp.client if pm.tcp else None,
                    tcp_server=pm.tcp.server if pm.tcp else None,
                    tls_client=pm.tls_client if tls_on else None,
                    tls_version=pm.tls_version if tls_on else None,
                    cipher_suite=(M.CERT_SUITE if self._has("certificate-suite") else pm.suite)
                    if tls_on
                    else None,
                    mikey_init=pm.init,
                    mikey_resp=pm.resp,
                    keylog=tuple(pm.keylog),
                )
            )
        return CallFacts(
            call_id=self.call_id,
            scenario=self.scenario,
            offerer=self.offerer_uri,
            answerer=self.answerer_uri,
            ue=self.ue_uri,
            mode3=self.w.opts.mode3,
            faults=self.faults,
            media=tuple(media),
            expected=expected,
            capture_point=self.w.opts.capture_point,
        )


# ------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True, slots=True)
class CallSpec:
    user: str
    dial_in: bool
    protocols: tuple[str, ...]
    audio: bool
    offset_s: float
    tls: tuple[str, int]


def call_specs(scenario: str) -> list[CallSpec]:
    if scenario == "conference":
        both = ("msrp", "bfcp")
        return [
            CallSpec("alice", True, both, True, 0.0, ("1.2", M.DEFAULT_SUITE)),
            CallSpec("bob", True, both, True, 3.0, ("1.2", M.CBC_SUITE)),
            CallSpec("carol", False, both, True, 6.0, ("1.2", M.DEFAULT_SUITE)),
        ]
    proto, _, direction = scenario.partition("-dial-")
    return [
        CallSpec(
            "alice" if direction == "in" else "bob",
            direction == "in",
            (proto,),
            False,
            0.0,
            ("1.2", M.DEFAULT_SUITE),
        )
    ]


def _expected(call: Call, faults: frozenset[str]) -> dict[str, str]:
    point = call.w.opts.capture_point
    # at the MRF the MRFC is seen resolving the dial-in tickets with the KMS
    kms_leg = point == "mrf" and call.dial_in and "no-key-mgmt" not in faults
    bfcp_dial_out = not call.dial_in and "bfcp" in call.protocols
    exp = expected_status(faults, point, kms_leg=kms_leg, bfcp_dial_out=bfcp_dial_out)
    for rule in RULES:
        if rule.protocol is not None and rule.protocol.value not in call.protocols:
            exp[rule.id] = "not-applicable"
    return exp


def make_world(
    seed: int,
    *,
    faults: frozenset[str] = frozenset(),
    mode3: bool = False,
    reliable_183: bool = False,
    keys: str | None = None,
    addr: AddressPlan = AddressPlan(),
    capture_point: str = "ue",
    mp_transport: str = "udp",
) -> World:
    """The nodes, keys and random source of one run (synthesized or replayed); at the
    capture point ``mrf`` also the nodes and the Mp leg (over ``mp_transport``) only that
    capture sees, with the Mp item names of the key file's ``[profile.mp]``."""
    if capture_point not in CAPTURE_POINTS:
        raise ValueError(f"capture point must be one of {', '.join(CAPTURE_POINTS)}")
    rng = random.Random(seed)
    net = Network(rng)
    given = KeyFile.parse(keys) if keys is not None else None
    if given is not None and not given.kms:
        raise ValueError("the key file has no [[kms]] master_key to issue tickets with")
    world = World(
        rng=rng,
        net=net,
        opts=Options(faults, mode3, reliable_183, capture_point),
        kms_key=given.kms[0].master_key if given else rng.randbytes(32),
        pcscf=net.host("P-CSCF", addr.pcscf),
        mrfp=net.host("MRFP", addr.mrfp),
        addr=addr,
    )
    if given:
        world.user_psk.update({p.identity: p.key for p in given.psk})
        world.keys_given = True
    for name, ip in zip((*USERS, UNAUTHORIZED), addr.ues, strict=True):
        world.ue_hosts[name] = net.host(name, ip)
    if capture_point == "mrf":
        # str seeds are hashed with SHA-512 (random.seed version 2): stable across runs
        mrf_rng = random.Random(f"mrf:{seed}")
        leg = mpleg.MpLeg(
            net.view(mrf_rng),
            mrf_rng,
            Host("MRFC", addr.mrfc, ip_id=0x2000),
            world.mrfp,
            mp_transport,
            given.mp if given is not None else DEFAULT_MP_PROFILE,
        )
        world.mrf = Mrf(
            leg, Host("S-CSCF", addr.scscf, ip_id=0x1000), leg.mrfc, Host("KMS", addr.kms, 0x3000)
        )
    return world


def new_call(
    world: World,
    spec: CallSpec,
    start_ns: int,
    faults: frozenset[str] = frozenset(),
    index: int = 0,
) -> Call:
    user = UNAUTHORIZED if "unauthorized-user" in faults else spec.user
    return Call(
        world,
        dial_in=spec.dial_in,
        user=user,
        protocols=spec.protocols,
        audio=spec.audio,
        start_ns=start_ns,
        faults=faults,
        tls=spec.tls,
        index=index,
    )


def check_faults(scenario: str, faults: frozenset[str], capture_point: str = "ue") -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    for f in faults:
        if f not in FAULTS:
            raise ValueError(f"unknown fault {f!r}; see `mikeyshark synth --list`")
        if not applicable(f, frozenset(call_specs(scenario)[0].protocols)):
            raise ValueError(f"fault {f!r} does not apply to scenario {scenario!r}")
        if capture_point not in FAULTS[f].capture_points:
            raise ValueError(
                f"fault {f!r} is seen only in a capture at the "
                f"{' or '.join(sorted(FAULTS[f].capture_points))} (--capture-point)"
            )


def synthesize(
    scenario: str,
    *,
    faults: tuple[str, ...] | list[str] | frozenset[str] = (),
    seed: int = 0,
    keys: str | None = None,
    mode3: bool = False,
    reliable_183: bool = False,
    now_ns: int | None = None,
    ipv6: bool = False,
    tls13: bool = False,
    capture_point: str = "ue",
    mp_transport: str = "udp",
) -> SynthResult:
    """Build the capture of ``scenario`` with ``faults`` applied (to the first call).

    ``keys`` is the text of a key file to use instead of generating one: its first KMS
    master key and its PSKs protect the tickets, so its captures open with it (and its
    ``[profile.mp]`` names the Mp items). ``now_ns`` replaces the fixed base time (the
    CLI's ``--now``); ``ipv6`` puts every node on an IPv6 address (:data:`IPV6`);
    ``tls13`` runs every media connection in TLS 1.3 instead of the scenario's TLS 1.2
    suites. ``capture_point`` is ``ue`` (the UEs' access) or ``mrf`` (beside the MRF:
    SIP at the MRFC, the Mp leg over ``mp_transport`` ``udp`` or ``tcp``, the KMS leg).
    """
    fault_set = frozenset(faults)
    check_faults(scenario, fault_set, capture_point)
    world = make_world(
        seed,
        faults=fault_set,
        mode3=mode3,
        reliable_183=reliable_183,
        keys=keys,
        addr=IPV6 if ipv6 else AddressPlan(),
        capture_point=capture_point,
        mp_transport=mp_transport,
    )
    start = (BASE_TIME_NS + seed * 60_000_000_000) if now_ns is None else now_ns
    if world.mrf is not None:
        world.mrf.mp.service_change(start - 1_000_000_000)  # the MRFP came up before the calls
    calls: list[tuple[Call, CallSpec, frozenset[str]]] = []
    specs = call_specs(scenario)
    if tls13:
        specs = [dataclasses.replace(s, tls=("1.3", M.TLS13_SUITE)) for s in specs]
    for i, spec in enumerate(specs):
        call_faults = (fault_set if i == 0 else frozenset()) - {"replayed-init"}
        call = new_call(world, spec, start + int(spec.offset_s * 1e9), call_faults, i)
        call.run()
        calls.append((call, spec, call_faults))
    if "replayed-init" in fault_set:
        first, spec, _ = calls[0]
        again = new_call(world, spec, first.cursor.now_ns + 5_000_000_000, index=len(calls))
        again.run(replay_of=first)
        calls.append((again, spec, frozenset({"replayed-init"})))
    if world.mrf is not None:
        world.mrf.mp.emit()
    facts = tuple(c.facts(_expected(c, f)) for c, _, f in calls)
    flags = "".join(f" --fault {f}" for f in sorted(fault_set)) + (" --mode3" if mode3 else "")
    flags += " --ipv6" if ipv6 else ""
    flags += " --tls13" if tls13 else ""
    if capture_point != "ue":
        flags += f" --capture-point {capture_point}"
        flags += f" --mp-transport {mp_transport}" if mp_transport != "udp" else ""
    keyfile_text = (
        keys
        if keys is not None
        else keyfile(world, f"keys of `mikeyshark synth {scenario} --seed {seed}{flags}`")
    )
    return SynthResult(scenario, seed, tuple(world.net.frames()), keyfile_text, facts)


def keyfile(world: World, comment: str) -> str:
    """The key file that opens every ticket of ``world``: its KMS, every user's and the
    focus's key shared with the KMS (mode 3), the conference policy."""
    for name in USERS:
        world.psk_of(f"sip:{name}@{DOMAIN}")
    world.psk_of(CONFERENCE_URI)
    kf = KeyFile(
        kms=(KmsKey(KMS_URI, world.kms_key),),
        psk=tuple(PskKey(i, k) for i, k in sorted(world.user_psk.items())),
        conference=Conference(CONFERENCE_URI, tuple(f"sip:{u}@{DOMAIN}" for u in USERS)),
    )
    return kf.dumps(comment)
