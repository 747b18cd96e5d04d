"""mikeyshark.media: MSRP/BFCP sessions over stream chunks (plain TCP or decrypted TLS)."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.packet import Raw
from scapy.utils import rdpcap

from mikeyshark import media
from mikeyshark.dissectors import bfcp, cpim, msrp
from mikeyshark.model import Endpoint, Severity, StreamChunk

UE = Endpoint("192.0.2.1", 50000)
AS = Endpoint("192.0.2.2", 5061)
A_URI = msrp.MsrpUri("msrps", "192.0.2.1", 50000, "asfd34")
B_URI = msrp.MsrpUri("msrps", "192.0.2.2", 5061, "kjhd37s2s20w2a")


def from_pcap(path: Path, proto: str) -> media.MsrpSession | media.BfcpSession:
    """Feed a plain-TCP capture's payloads, frame by frame, as flows would."""
    session = None
    offsets: dict[Endpoint, int] = {}
    for n, p in enumerate(rdpcap(str(path)), 1):
        src = Endpoint(p[IP].src, p[TCP].sport)
        if session is None:
            session = media.make_session(proto, src, Endpoint(p[IP].dst, p[TCP].dport))
        if Raw in p:
            data = bytes(p[Raw])
            off = offsets.get(src, 0)
            offsets[src] = off + len(data)
            session.feed(src, StreamChunk(n, int(p.time * 1_000_000_000), off, data))
    assert session is not None
    session.close()
    return session


class Wire:
    """Two directions of a connection: cut the bytes of each into frames."""

    def __init__(self, session: media.MsrpSession | media.BfcpSession) -> None:
        self.session = session
        self.offset: dict[Endpoint, int] = {}
        self.frame = 0

    def send(self, sender: Endpoint, data: bytes, gap: int = 0) -> int:
        self.frame += 1
        off = self.offset.get(sender, 0) + gap
        self.offset[sender] = off + len(data)
        self.session.feed(sender, StreamChunk(self.frame, self.frame * 1000, off, data, gap))
        return self.frame


def test_msrp_vector_messages_json_and_transcript(vectors: Path) -> None:
    s = from_pcap(vectors / "app" / "plain_msrp.pcap", "msrp")
    assert isinstance(s, media.MsrpSession)
    send, ok = s.messages
    assert s.to_json(send) == {
        "frame": 4,
        "last_frame": 4,
        "from": "192.0.2.1:50000",
        "to": "192.0.2.2:2855",
        "method": "SEND",
        "transaction_id": "a786hjs2",
        "message_id": "87652491",
        "byte_range": "1-37/37",
        "content_type": "text/plain",
        "flag": "$",
        "body": "Hello Bob, this is MSRP over TLS-PSK.",
        "to_path": "msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp",
        "from_path": "msrps://192.0.2.1:50000/asfd34;tcp",
        "response_frame": 5,
    }
    # the fields a report's message holds: the same but its frame and sender, in the order
    # the JSON report writes them (the frame and sender follow them there)
    assert list(s.fields(send).items()) == [
        ("last_frame", 4),
        ("to", "192.0.2.2:2855"),
        ("method", "SEND"),
        ("transaction_id", "a786hjs2"),
        ("message_id", "87652491"),
        ("byte_range", "1-37/37"),
        ("content_type", "text/plain"),
        ("flag", "$"),
        ("body", "Hello Bob, this is MSRP over TLS-PSK."),
        ("to_path", "msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp"),
        ("from_path", "msrps://192.0.2.1:50000/asfd34;tcp"),
        ("response_frame", 5),
    ]
    j = s.to_json(ok)
    assert (j["status"], j["comment"], j["request_frame"], j["frame"]) == (200, "OK", 4, 5)
    (chat,) = s.transcript()
    assert (chat.text, chat.delivered, chat.state, chat.frame) == (
        "Hello Bob, this is MSRP over TLS-PSK.",
        True,
        "complete",
        4,
    )
    assert s.problems == []
    assert s.paths()[UE][0] == {"msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp"}


def test_bfcp_vector_pairs_and_unanswered(vectors: Path) -> None:
    s = from_pcap(vectors / "app" / "plain_bfcp.pcap", "bfcp")
    assert isinstance(s, media.BfcpSession)
    _, ack, req = s.messages
    assert s.response_of == {0: 1}
    assert s.to_json(ack)["request_frame"] == 4
    j = s.to_json(req)
    assert j["attributes"] == [{"type": "FLOOR-ID", "mandatory": True, "value": 1}]
    assert (j["primitive"], j["conference_id"], j["transaction_id"], j["user_id"]) == (
        "FloorRequest",
        1,
        2,
        2,
    )
    (p,) = s.problems
    assert (p.frame, p.severity, p.layer) == (6, Severity.WARNING, "bfcp")
    assert "FloorRequest (transaction 2) got no response" in p.reason
    assert s.identifiers() == {"conference_id": {1}, "user_id": {2}, "floor_id": {1}}


def test_msrp_chunked_cpim_across_records_with_report() -> None:
    s = media.MsrpSession(UE, AS)
    w = Wire(s)
    text = "Bonjour à tous, " * 20  # 340 UTF-8 bytes
    wrapped = cpim.build_cpim(
        cpim.make_cpim(
            cpim.CpimAddress("Alice", "sip:alice@example.org"),
            [cpim.CpimAddress(None, "sip:conf1@conf.example.org")],
            text.encode(),
            datetime="2026-11-26T21:00:00Z",
        )
    )
    whole = msrp.request(
        "unused00",
        "SEND",
        [B_URI],
        [A_URI],
        message_id="m1xk9",
        success_report="yes",
        byte_range=msrp.ByteRange(1, len(wrapped), len(wrapped)),
        content_type="message/cpim",
        body=wrapped,
    )
    c1, c2, c3 = (
        msrp.build_message(c)
        for c in msrp.chunk_message(whole, 200, ["ta000001", "ta000002", "ta000003"])
    )
    ok = [msrp.build_message(msrp.response(msrp.parse_message(c))) for c in (c1, c2, c3)]
    rep = msrp.build_message(
        msrp.report("tr000001", msrp.parse_message(c1), msrp.ReportStatus(0, 200, "OK"))
    )
    f1 = w.send(UE, c1 + c2[:100])  # record with one message and the start of the next
    f2 = w.send(UE, c2[100:])
    f3 = w.send(AS, ok[0] + ok[1])  # two messages in one record
    f4 = w.send(UE, c3[:10])
    f5 = w.send(UE, c3[10:])
    f6 = w.send(AS, ok[2] + rep)
    s.close()
    assert [(r.frame, r.last_frame) for r in s.messages] == [
        (f1, f1),
        (f1, f2),
        (f3, f3),
        (f3, f3),
        (f4, f5),
        (f6, f6),
        (f6, f6),
    ]
    assert s.problems == []
    (chat,) = s.transcript()
    assert chat.state == "complete"
    assert (chat.frame, chat.last_frame, chat.chunks) == (f1, f5, (0, 1, 4))
    assert chat.content == wrapped
    assert chat.cpim is not None
    assert chat.cpim.sender == cpim.CpimAddress("Alice", "sip:alice@example.org")
    assert (chat.inner_type, chat.text) == ("text/plain", text)
    assert (chat.delivered, chat.report) == (True, "000 200 OK")
    assert s.to_json(s.messages[6])["report_status"] == "000 200 OK"


def test_msrp_cpim_in_one_chunk_is_unwrapped_in_json() -> None:
    s = media.MsrpSession(UE, AS)
    body = cpim.build_cpim(
        cpim.make_cpim(
            cpim.CpimAddress(None, "sip:a@x"), [cpim.CpimAddress(None, "sip:b@y")], b"hi"
        )
    )
    Wire(s).send(
        UE,
        msrp.build_message(
            msrp.send("tx000001", [B_URI], [A_URI], "msg00002", body, "message/cpim")
        ),
    )
    (rec,) = s.messages
    assert s.to_json(rec)["cpim"] == {
        "from": "<sip:a@x>",
        "to": ["<sip:b@y>"],
        "datetime": None,
        "content_type": "text/plain;charset=UTF-8",
        "body": "hi",
    }


def test_msrp_problems_are_located_by_frame() -> None:
    s = media.MsrpSession(UE, AS)
    w = Wire(s)
    send = msrp.build_message(msrp.send("tx000001", [B_URI], [A_URI], "msg00001", b"hello"))
    nobody = msrp.build_message(
        msrp.send("tx000002", [B_URI], [A_URI], "msg00002", b"x", failure_report="no")
    )
    w.send(UE, send)
    garbage_frame = w.send(UE, b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
    w.send(UE, nobody)
    stray_frame = w.send(
        AS,
        msrp.build_message(
            msrp.Message(
                "zz000009",
                None,
                200,
                "OK",
                (msrp.Header("To-Path", str(A_URI)), msrp.Header("From-Path", str(B_URI))),
            )
        ),
    )
    cut_frame = w.send(UE, send[:30])
    s.close()
    reasons = [(p.frame, p.severity, p.reason.split(": ", 1)[1]) for p in s.problems]
    assert reasons == [
        (garbage_frame, Severity.ERROR, "37 bytes that are not MSRP"),
        (stray_frame, Severity.WARNING, "response 200 to unknown transaction zz000009"),
        (cut_frame, Severity.ERROR, reasons[2][2]),
        (1, Severity.WARNING, "SEND tx000001 got no response"),
    ]
    assert reasons[2][2] == "stream ended inside a message: no end-line for transaction tx000001"
    assert [r.message.transaction_id for r in s.unanswered()] == ["tx000001"]


def test_gap_and_retransmitted_overlap() -> None:
    s = media.MsrpSession(UE, AS)
    a = msrp.build_message(msrp.send("tx000001", [B_URI], [A_URI], "msg00001", b"one"))
    b = msrp.build_message(msrp.send("tx000002", [B_URI], [A_URI], "msg00002", b"two"))
    c = msrp.build_message(msrp.send("tx000003", [B_URI], [A_URI], "msg00003", b"three"))
    s.feed(UE, StreamChunk(1, 0, 0, a))
    s.feed(UE, StreamChunk(2, 0, len(a) - 10, a[-10:] + b))  # 10 bytes sent again
    s.feed(UE, StreamChunk(3, 0, len(a) + len(b) + 40, c[40:], gap=40))  # c's head lost
    s.feed(UE, StreamChunk(4, 0, len(a) + len(b) + len(c), a))
    s.close()
    assert [(r.frame, r.message.transaction_id) for r in s.messages] == [
        (1, "tx000001"),
        (2, "tx000002"),
        (4, "tx000001"),
    ]
    assert [p.frame for p in s.problems if p.severity == Severity.ERROR] == [3]


def test_bfcp_floor_control_timeline() -> None:
    client = Endpoint("192.0.2.1", 50001)
    server = Endpoint("192.0.2.2", 5070)
    s = media.BfcpSession(client, server)
    w = Wire(s)
    hello = bfcp.hello(7, 1, 2)
    req = bfcp.floor_request(7, 2, 2, [1])
    pending = bfcp.floor_request_status(
        req, 5, [1], bfcp.REQUEST_STATUS["Pending"], queue_position=1
    )
    granted = bfcp.floor_request_status(
        None, 5, [1], bfcp.REQUEST_STATUS["Granted"], conference_id=7, user_id=2
    )
    release = bfcp.floor_release(7, 3, 2, 5)
    released = bfcp.floor_request_status(release, 5, [1], bfcp.REQUEST_STATUS["Released"])
    raw = [
        bfcp.build_message(m)
        for m in (hello, bfcp.hello_ack(hello), req, pending, granted, release, released)
    ]
    f1 = w.send(client, raw[0])
    f2 = w.send(server, raw[1])
    f3 = w.send(client, raw[2][:5])  # one message across two records
    f4 = w.send(client, raw[2][5:])
    f5 = w.send(server, raw[3] + raw[4])  # two messages in one record
    f6 = w.send(client, raw[5])
    f7 = w.send(server, raw[6])
    s.close()
    assert s.problems == []
    assert [(r.frame, r.last_frame) for r in s.messages] == [
        (f1, f1),
        (f2, f2),
        (f3, f4),
        (f5, f5),
        (f5, f5),
        (f6, f6),
        (f7, f7),
    ]
    assert s.response_of == {0: 1, 2: 3, 5: 6}
    assert [(e.frame, e.primitive, e.status) for e in s.timeline] == [
        (f3, "FloorRequest", None),
        (f5, "FloorRequestStatus", "Pending"),
        (f5, "FloorRequestStatus", "Granted"),
        (f6, "FloorRelease", None),
        (f7, "FloorRequestStatus", "Released"),
    ]
    assert s.timeline[1].queue_position == 1
    assert [e.status for e in s.floor_requests()[5]] == [
        None,
        "Pending",
        "Granted",
        None,
        "Released",
    ]
    assert s.to_json(s.messages[4])["attributes"] == [
        {
            "type": "FLOOR-REQUEST-INFORMATION",
            "mandatory": True,
            "id": 5,
            "attributes": [
                {
                    "type": "OVERALL-REQUEST-STATUS",
                    "mandatory": True,
                    "id": 5,
                    "attributes": [
                        {
                            "type": "REQUEST-STATUS",
                            "mandatory": True,
                            "value": 3,
                            "name": "Granted",
                            "queue_position": 0,
                        }
                    ],
                },
                {"type": "FLOOR-REQUEST-STATUS", "mandatory": True, "id": 1, "attributes": []},
            ],
        }
    ]


def test_bfcp_stray_response_and_lying_length_are_reported() -> None:
    client = Endpoint("192.0.2.1", 50001)
    server = Endpoint("192.0.2.2", 5070)
    s = media.BfcpSession(client, server)
    w = Wire(s)
    stray = w.send(server, bfcp.build_message(bfcp.hello_ack(bfcp.hello(1, 9, 2))))
    liar = w.send(
        client,
        bytes.fromhex("200b0002 00000001 0001 0002") + bfcp.build_message(bfcp.hello(1, 1, 2)),
    )
    s.close()
    got = [(p.frame, p.severity, p.field) for p in s.problems]
    assert got == [
        (stray, Severity.WARNING, "transaction_id"),
        (liar, Severity.ERROR, "REQUESTED-BY-INFORMATION"),
        (liar, Severity.WARNING, "transaction_id"),  # the Hello found after resync: no answer
    ]


def test_sniff(vectors: Path) -> None:
    msrp_payload = bytes(rdpcap(str(vectors / "app" / "plain_msrp.pcap"))[3][Raw])
    bfcp_payload = bytes(rdpcap(str(vectors / "app" / "plain_bfcp.pcap"))[3][Raw])
    assert media.sniff(msrp_payload) == "msrp"
    assert media.sniff(bfcp_payload) == "bfcp"
    assert media.sniff(bytes.fromhex("160301005a010000560303")) is None


def test_view_renderers_registered() -> None:
    from mikeyshark import view

    m = msrp.send("a786hjs2", [B_URI], [A_URI], "87652491", b"Hi")
    r = view.RENDERERS["msrp"]
    assert (r.protocol(m), r.info(m)) == ("MSRP", "Request: SEND Transaction ID: a786hjs2 ")
    node = r.detail(m)
    assert node.label == "Message Session Relay Protocol"
    assert node.children[0].label == "Request Line: MSRP a786hjs2 SEND"
    assert [c.label for c in node.children[0].children] == [
        "Transaction Id: a786hjs2",
        "Method: SEND",
    ]
    b = view.RENDERERS["bfcp"]
    h = bfcp.hello(1, 1, 2)
    assert (b.protocol(h), b.info(h)) == ("BFCP", "Hello ")
    assert b.detail(h).children[3].label == "Primitive: Hello (11)"
    assert r.suffix is not None
    assert r.info(m) + r.suffix(m) == "Request: SEND Transaction ID: a786hjs2 (text/plain)"


def test_openssl_plaintext_record_with_msrp_then_bfcp(vectors: Path) -> None:
    """The tls_psk vector's application records (decrypted by OpenSSL's peer) each hold an
    MSRP message followed by a BFCP message: each session takes its own and reports the rest."""
    import json

    v = json.loads((vectors / "tls_psk" / "psk_aes128_gcm_sha256.json").read_text())
    c2s = [bytes.fromhex(h) for t, h in v["decrypted_c2s"] if t == 23]
    s2c = [bytes.fromhex(h) for t, h in v["decrypted_s2c"] if t == 23]
    sessions = (media.MsrpSession(UE, AS), media.BfcpSession(UE, AS))
    for s in sessions:
        s.feed(UE, StreamChunk(7, 0, 0, c2s[0]))
        s.feed(AS, StreamChunk(8, 0, 0, s2c[0]))
        s.close()
    ms, bs = sessions
    assert [(r.frame, msrp.info_line(r.message)) for r in ms.messages] == [
        (7, "MSRP SEND a786hjs2"),
        (8, "MSRP 200 OK a786hjs2"),
    ]
    assert [(p.frame, p.reason.split(": ", 1)[1]) for p in ms.problems] == [
        (7, "12 bytes that are not MSRP"),
        (8, "48 bytes that are not MSRP"),
    ]
    assert [(r.frame, r.start, r.message.primitive_name) for r in bs.messages] == [
        (7, 247, "Hello"),
        (8, 139, "HelloAck"),
    ]
    assert bs.response_of == {0: 1}
    assert [p.reason.split(": ", 1)[1] for p in bs.problems] == [
        "247 bytes that are not BFCP",
        "139 bytes that are not BFCP",
    ]
    assert media.sniff(c2s[0]) == "msrp"


def test_supported_names_kept_once_and_bounded() -> None:
    # RFC 4582 5.1 / 5.2: primitive 1 FloorRequest, 11 Hello; attribute 2 FLOOR-ID (an octet
    # holds the attribute type in its upper seven bits)
    prims = bfcp.SupportedPrimitives((1, 11, 99))
    attrs = bfcp.SupportedAttributes.of((2,))
    want = {"type": "SUPPORTED-PRIMITIVES", "mandatory": True}
    assert media.attribute_json(prims) == {
        **want,
        "value": ["FloorRequest", "Hello", "Unknown (99)"],
    }
    first = media.attribute_json(attrs)["value"]
    assert first == ["FLOOR-ID"]
    assert isinstance(first, list)
    first.append("changed by its reader")  # the next message's list is its own
    assert media.attribute_json(attrs)["value"] == ["FLOOR-ID"]
    for n in range(3 * media.MAX_SUPPORTED_NAMES):  # hostile: a new list in every message
        media.supported_names(bfcp.PRIMITIVES, (n % 256, n // 256), 0)
        assert len(media._SUPPORTED_NAMES) <= media.MAX_SUPPORTED_NAMES


def test_bfcp_attributes_omitted_only_past_a_budget() -> None:
    def omitted(attrs: tuple[bfcp.Attribute, ...]) -> object:
        m = bfcp.Message(bfcp.PRIMITIVES["FloorRequest"], 1, 2, 3, attrs)
        return media.bfcp_json(media.Located(0, UE, AS, 1, 1, 0, 0, 0, b"", m)).get(
            "attributes_omitted"
        )

    def nested(levels: int) -> bfcp.Attribute:  # a FLOOR-ID under levels - 1 groups
        a: bfcp.Attribute = bfcp.FloorId(1)
        for _ in range(levels - 1):
            a = bfcp.FloorRequestInformation(7, (a,))
        return a

    flat = tuple(bfcp.FloorId(n) for n in range(media.MAX_ATTRIBUTES))
    assert omitted(flat) is None  # 64 listed
    assert omitted((*flat, bfcp.FloorId(99))) == 1  # the 65th counted
    assert omitted((nested(media.MAX_ATTRIBUTE_DEPTH),)) is None  # 4 levels listed
    assert omitted((nested(media.MAX_ATTRIBUTE_DEPTH + 2),)) == 2  # the 5th and 6th counted
