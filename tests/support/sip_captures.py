"""Captures of SIP calls written with scapy for the SIP, call and dissect tests.

The messages are literal text so that what tshark reads is exactly what is written here. One
capture exercises: UDP and TCP, an INVITE retransmission, a reliable 183 + PRACK, UPDATE,
re-INVITE, an INVITE split over three TCP segments, two responses in one segment, compact
header forms, folded header lines, a multipart/mixed body with an SDP part, and an offer in
a 200 OK answered in the ACK.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

UE = "192.0.2.1"
CONF = "192.0.2.2"
T0 = 1_700_000_000.0

MIKEY_INIT = (
    "AQAFABI0VngBAADerb7vAAAAAAsA58GiswAAAAAKEIwfTmotmwfDXoGk8msNk3IBAAAAHgABAQEBEAIBAQMBFAQBDg"
    "UBAAcBAQgBAQoBAQsBCgABABQ3aratBOC4gTmRTX0BiPLz+N/qFQHb26YaHl2zcST2ALEuM25BcSnxNQ=="
)
# 16 bytes 00..0f, written without the "==" padding (RFC 4567 decoders must cope).
MIKEY_RESP = "AAECAwQFBgcICQoLDA0ODw"


def sip(*lines: str, body: str = "") -> bytes:
    text = "\r\n".join(lines)
    if body:
        text += f"\r\nContent-Length: {len(body.encode())}\r\n\r\n{body}"
    else:
        text += "\r\nContent-Length: 0\r\n\r\n"
    return text.encode()


def sdp(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


OFFER = sdp(
    "v=0",
    f"o=alice 1 1 IN IP4 {UE}",
    "s=-",
    f"c=IN IP4 {UE}",
    "t=0 0",
    "m=message 50000 TCP/TLS/MSRP *",
    "a=accept-types:message/cpim text/plain",
    f"a=path:msrps://{UE}:50000/asfd34;tcp",
    "a=msrp-cema",
    "a=setup:actpass",
    f"a=key-mgmt:mikey {MIKEY_INIT}",
    "m=application 50001 TCP/TLS/BFCP *",
    "a=setup:actpass",
    "a=connection:new",
    "a=floorctrl:c-only",
    f"a=key-mgmt:mikey {MIKEY_INIT}",
)
ANSWER = sdp(
    "v=0",
    f"o=conf 7 7 IN IP4 {CONF}",
    "s=-",
    f"c=IN IP4 {CONF}",
    "t=0 0",
    "m=message 6000 TCP/TLS/MSRP *",
    "a=accept-types:message/cpim text/plain",
    f"a=path:msrps://{CONF}:6000/kjhd37s2s20w2a;tcp",
    "a=setup:active",
    f"a=key-mgmt:mikey {MIKEY_RESP}",
    "m=application 6001 TCP/TLS/BFCP *",
    "a=setup:active",
    "a=connection:new",
    "a=floorctrl:s-only",
    "a=confid:4321",
    "a=userid:1234",
    "a=floorid:1 mstrm:10",
    f"a=key-mgmt:mikey {MIKEY_RESP}",
)
OFFER2 = OFFER.replace("o=alice 1 1", "o=alice 1 2")
ANSWER2 = ANSWER.replace("o=conf 7 7", "o=conf 7 8")
OFFER3 = OFFER.replace("o=alice 1 1", "o=alice 1 3").replace("a=setup:actpass", "a=setup:active")
ANSWER3 = ANSWER.replace("o=conf 7 7", "o=conf 7 9").replace("a=setup:active", "a=setup:passive")

C1 = "udp-call-1@192.0.2.1"
VIA_UE = f"Via: SIP/2.0/UDP {UE}:5060;branch=z9hG4bK"
FROM_UE = "From: <sip:alice@example.org>;tag=a1"
TO_CONF = "To: <sip:conf1@conf.example.org>"
TO_CONF_T = "To: <sip:conf1@conf.example.org>;tag=c1"
CONTACT_UE = f"Contact: <sip:alice@{UE}>"
CONTACT_CONF = f"Contact: <sip:conf1@{CONF}>;isfocus"

INVITE1 = sip(
    "INVITE sip:conf1@conf.example.org SIP/2.0",
    VIA_UE + "-inv1",
    "Max-Forwards: 70",
    FROM_UE,
    TO_CONF,
    f"Call-ID: {C1}",
    "CSeq: 1 INVITE",
    CONTACT_UE,
    "Supported: 100rel",
    "Content-Type: application/sdp",
    body=OFFER,
)
TRYING1 = sip(
    "SIP/2.0 100 Trying", VIA_UE + "-inv1", FROM_UE, TO_CONF, f"Call-ID: {C1}", "CSeq: 1 INVITE"
)
PROGRESS1 = sip(
    "SIP/2.0 183 Session Progress",
    VIA_UE + "-inv1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 1 INVITE",
    CONTACT_CONF,
    "Require: 100rel",
    "RSeq: 1",
    "Content-Type: application/sdp",
    body=ANSWER,
)
PRACK1 = sip(
    f"PRACK sip:conf1@{CONF} SIP/2.0",
    VIA_UE + "-prack1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 2 PRACK",
    "RAck: 1 1 INVITE",
)
PRACK_OK1 = sip(
    "SIP/2.0 200 OK", VIA_UE + "-prack1", FROM_UE, TO_CONF_T, f"Call-ID: {C1}", "CSeq: 2 PRACK"
)
UPDATE1 = sip(
    f"UPDATE sip:conf1@{CONF} SIP/2.0",
    VIA_UE + "-upd1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 3 UPDATE",
    CONTACT_UE,
    "Content-Type: application/sdp",
    body=OFFER2,
)
UPDATE_OK1 = sip(
    "SIP/2.0 200 OK",
    VIA_UE + "-upd1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 3 UPDATE",
    CONTACT_CONF,
    "Content-Type: application/sdp",
    body=ANSWER2,
)
INVITE_OK1 = sip(
    "SIP/2.0 200 OK",
    VIA_UE + "-inv1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 1 INVITE",
    CONTACT_CONF,
)
ACK1 = sip(
    f"ACK sip:conf1@{CONF} SIP/2.0",
    VIA_UE + "-ack1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 1 ACK",
)
REINVITE1 = sip(
    f"INVITE sip:conf1@{CONF} SIP/2.0",
    VIA_UE + "-reinv1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 4 INVITE",
    CONTACT_UE,
    "Content-Type: application/sdp",
    body=OFFER3,
)
REINVITE_OK1 = sip(
    "SIP/2.0 200 OK",
    VIA_UE + "-reinv1",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 4 INVITE",
    CONTACT_CONF,
    "Content-Type: application/sdp",
    body=ANSWER3,
)
ACK1B = sip(
    f"ACK sip:conf1@{CONF} SIP/2.0",
    VIA_UE + "-ack1b",
    FROM_UE,
    TO_CONF_T,
    f"Call-ID: {C1}",
    "CSeq: 4 ACK",
)

# ---- call 2: TCP, compact headers, folded lines, multipart body
C2 = "tcp-call-2"
MULTIPART = (
    "--boundary42\r\n"
    "Content-Type: application/sdp\r\n"
    "\r\n"
    f"{OFFER}"
    "\r\n--boundary42\r\n"
    "Content-Type: application/resource-lists+xml\r\n"
    "Content-Disposition: recipient-list\r\n"
    "\r\n"
    '<?xml version="1.0"?><resource-lists/>\r\n'
    "--boundary42--\r\n"
)
VIA_TCP = f"v: SIP/2.0/TCP {UE}:40000;branch=z9hG4bK-tcp2"
INVITE2 = sip(
    "INVITE sip:conf1@conf.example.org SIP/2.0",
    VIA_TCP,
    "Max-Forwards: 70",
    "f: Alice",
    " <sip:alice@example.org>;tag=a2",
    "t: <sip:conf1@conf.example.org>",
    f"i: {C2}",
    "CSeq: 1",
    "\tINVITE",
    "m: <sip:alice@192.0.2.1:40000;transport=tcp>",
    "k: 100rel",
    'c: multipart/mixed;boundary="boundary42"',
    body=MULTIPART,
)
FROM2 = "f: Alice <sip:alice@example.org>;tag=a2"
TO2 = "t: <sip:conf1@conf.example.org>"
TRYING2 = sip("SIP/2.0 100 Trying", VIA_TCP, FROM2, TO2, f"i: {C2}", "CSeq: 1 INVITE")
RINGING2 = sip("SIP/2.0 180 Ringing", VIA_TCP, FROM2, TO2 + ";tag=c2", f"i: {C2}", "CSeq: 1 INVITE")
OK2 = sip(
    "SIP/2.0 200 OK",
    VIA_TCP,
    FROM2,
    TO2 + ";tag=c2",
    f"i: {C2}",
    "CSeq: 1 INVITE",
    f"m: <sip:conf1@{CONF}:5060;transport=tcp>;isfocus",
    "c: application/sdp",
    body=ANSWER,
).replace(b"Content-Length:", b"l:")
ACK2 = sip(
    f"ACK sip:conf1@{CONF}:5060;transport=tcp SIP/2.0",
    f"v: SIP/2.0/TCP {UE}:40000;branch=z9hG4bK-tcp2ack",
    FROM2,
    TO2 + ";tag=c2",
    f"i: {C2}",
    "CSeq: 1 ACK",
)

# ---- call 3: offer in the 200 OK, answer in the ACK
C3 = "udp-call-3"
VIA3 = (
    "Via: SIP/2.0/UDP pcscf.example.org;branch=z9hG4bK-p3,SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-q3"
    f"\r\nVia: SIP/2.0/UDP {UE}:5060;branch=z9hG4bK-inv3;rport"
)
INVITE3 = sip(
    "INVITE sip:bob@example.net SIP/2.0",
    VIA3,
    "From: <sip:alice@example.org>;tag=a3",
    "To: <sip:bob@example.net>",
    f"Call-ID: {C3}",
    "CSeq: 7 INVITE",
    CONTACT_UE,
)
OK3 = sip(
    "SIP/2.0 200 OK",
    VIA3,
    "From: <sip:alice@example.org>;tag=a3",
    "To: <sip:bob@example.net>;tag=b3",
    f"Call-ID: {C3}",
    "CSeq: 7 INVITE",
    f"Contact: <sip:bob@{CONF}>",
    "Content-Type: application/sdp",
    body=ANSWER.replace("a=setup:active", "a=setup:actpass"),
)
ACK3 = sip(
    f"ACK sip:bob@{CONF} SIP/2.0",
    f"Via: SIP/2.0/UDP {UE}:5060;branch=z9hG4bK-ack3",
    "From: <sip:alice@example.org>;tag=a3",
    "To: <sip:bob@example.net>;tag=b3",
    f"Call-ID: {C3}",
    "CSeq: 7 ACK",
    "Content-Type: application/sdp",
    body=OFFER.replace("a=setup:actpass", "a=setup:active"),
)


def _eth(src_ip: str) -> Ether:
    mac = "02:00:00:00:00:01" if src_ip == UE else "02:00:00:00:00:02"
    other = "02:00:00:00:00:02" if src_ip == UE else "02:00:00:00:00:01"
    return Ether(src=mac, dst=other)


def udp(src: str, dst: str, payload: bytes, sport: int = 5060, dport: int = 5060) -> Packet:
    return _eth(src) / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)


class TcpPair:
    """Segments of one TCP connection with consistent sequence numbers."""

    def __init__(self, client: tuple[str, int], server: tuple[str, int]) -> None:
        self.c, self.s = client, server
        self.seq = {True: 1000, False: 5000}

    def seg(self, from_client: bool, flags: str, payload: bytes = b"") -> Packet:
        (sip_, sport), (dip, dport) = (self.c, self.s) if from_client else (self.s, self.c)
        seq, ack = self.seq[from_client], self.seq[not from_client]
        pkt = _eth(sip_) / IP(src=sip_, dst=dip) / TCP(sport=sport, dport=dport, flags=flags)
        pkt[TCP].seq, pkt[TCP].ack = seq, ack if "A" in flags else 0
        if payload:
            pkt = pkt / Raw(payload)
        self.seq[from_client] = seq + len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
        return pkt

    def handshake(self) -> list[Packet]:
        return [self.seg(True, "S"), self.seg(False, "SA"), self.seg(True, "A")]


def call_packets() -> list[Packet]:
    tcp = TcpPair((UE, 40000), (CONF, 5060))
    third = len(INVITE2) // 3
    pkts: list[Packet] = [
        udp(UE, CONF, INVITE1),  # 1
        udp(UE, CONF, INVITE1),  # 2 retransmission
        udp(CONF, UE, TRYING1),  # 3
        udp(CONF, UE, PROGRESS1),  # 4
        udp(UE, CONF, PRACK1),  # 5
        udp(CONF, UE, PRACK_OK1),  # 6
        udp(UE, CONF, UPDATE1),  # 7
        udp(CONF, UE, UPDATE_OK1),  # 8
        udp(CONF, UE, INVITE_OK1),  # 9
        udp(UE, CONF, ACK1),  # 10
        udp(UE, CONF, REINVITE1),  # 11
        udp(CONF, UE, REINVITE_OK1),  # 12
        udp(UE, CONF, ACK1B),  # 13
        *tcp.handshake(),  # 14-16
        tcp.seg(True, "PA", INVITE2[:third]),  # 17
        tcp.seg(True, "PA", INVITE2[third : 2 * third]),  # 18
        tcp.seg(True, "PA", INVITE2[2 * third :]),  # 19
        tcp.seg(False, "PA", TRYING2 + RINGING2),  # 20
        tcp.seg(False, "PA", OK2),  # 21
        tcp.seg(True, "PA", ACK2),  # 22
        udp(UE, CONF, INVITE3),  # 23
        udp(CONF, UE, OK3),  # 24
        udp(UE, CONF, ACK3),  # 25
        tcp.seg(True, "FA"),  # 26
        tcp.seg(False, "FA"),  # 27
        tcp.seg(True, "A"),  # 28
    ]
    for i, p in enumerate(pkts):
        p.time = T0 + i * 0.25
    return pkts


def write_calls(path: Path) -> Path:
    wrpcap(str(path), call_packets())
    return path


# ---- lying Content-Length: UDP and TCP, with good messages around them
LIAR_UDP = sip(
    "MESSAGE sip:conf1@conf.example.org SIP/2.0",
    VIA_UE + "-liar",
    FROM_UE,
    TO_CONF,
    "Call-ID: liar-udp",
    "CSeq: 1 MESSAGE",
    "Content-Type: text/plain",
    body="hello",
).replace(b"Content-Length: 5", b"Content-Length: 500")
LIAR_TCP = sip(
    "MESSAGE sip:conf1@conf.example.org SIP/2.0",
    f"Via: SIP/2.0/TCP {UE}:40001;branch=z9hG4bK-liar2",
    FROM_UE,
    TO_CONF,
    "Call-ID: liar-tcp",
    "CSeq: 1 MESSAGE",
    "Content-Type: text/plain",
    body="hello",
).replace(b"Content-Length: 5", b"Content-Length: 900")
AFTER_TCP = sip(
    "MESSAGE sip:conf1@conf.example.org SIP/2.0",
    f"Via: SIP/2.0/TCP {UE}:40001;branch=z9hG4bK-after",
    FROM_UE,
    TO_CONF,
    "Call-ID: after-tcp",
    "CSeq: 2 MESSAGE",
    "Content-Type: text/plain",
    body="world",
)


def write_liars(path: Path) -> Path:
    tcp = TcpPair((UE, 40001), (CONF, 5060))
    pkts = [
        udp(UE, CONF, INVITE3),  # 1
        udp(UE, CONF, LIAR_UDP),  # 2
        udp(CONF, UE, OK3),  # 3
        *tcp.handshake(),  # 4-6
        tcp.seg(True, "PA", LIAR_TCP + AFTER_TCP),  # 7
        tcp.seg(True, "FA"),  # 8
        tcp.seg(False, "FA"),  # 9
    ]
    for i, p in enumerate(pkts):
        p.time = T0 + i * 0.5
    wrpcap(str(path), pkts)
    return path
