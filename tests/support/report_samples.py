"""Hand-built report records of a compliant call, for the rule and report tests.

The values follow the seed's flows and the flows' roles table (docs/rules.md), written out by hand
(not produced by the code under test): UE-A 10.0.0.5 calls conference conf1 whose MRFC
signals from 10.0.1.10 and whose MRFP carries media at 10.0.1.20. With ``mp=True`` the call
is seen beside the MRF: the MRFC (10.0.1.10:2944) configures the MRFP (10.0.1.20:2944) over
Mp as docs/mp-profile.md says, its commands numbered into the frames of the flow.
"""

from __future__ import annotations

from dataclasses import replace

from mikeyshark.evidence import (
    CallRecord,
    KeyStatus,
    LadderEvent,
    Lane,
    MediaMessage,
    MediaRecord,
    MikeyInfo,
    MpCommand,
    MpFrame,
    MpTermination,
    MpTransaction,
    SdpMedia,
    TcpInfo,
    TlsInfo,
    TreeNode,
)
from mikeyshark.model import Endpoint
from mikeyshark.procedure import Direction, Protocol, Role

UE = "10.0.0.5"
PCSCF = "10.0.0.1"
MRFC = "10.0.1.10"
MRFP = "10.0.1.20"
ALICE = "sip:alice@example.org"
CONF = "sip:conf1@conf.example.org"
T0 = 1_780_000_000_000_000_000  # 2026-05-28, inside the ticket validity below
SEC = 1_000_000_000
TEK = bytes(range(16))
PSKID = "mikey:01020304:01"
MRFC_MP = Endpoint(MRFC, 2944)
MRFP_MP = Endpoint(MRFP, 2944)
BOTH_EVENTS = ("tcp_fail_event", "tls_fail_event")


def _sdp(frame: int, side: str, protocol: Protocol, dial_in: bool) -> SdpMedia:
    ue_side = "offer" if dial_in else "answer"
    is_ue = side == ue_side
    addr = UE if is_ue else MRFP
    port = 43120 if is_ue else 2855
    proto = f"TCP/TLS/{protocol.value.upper()}"
    conf_side = not is_ue
    return SdpMedia(
        frame=frame,
        index=0,
        media="message" if protocol is Protocol.MSRP else "application",
        port=port,
        proto=proto,
        address=addr,
        setup="actpass" if side == "offer" else "active",
        connection="new",
        path=(f"msrps://{addr}:{port}/s{side};tcp",) if protocol is Protocol.MSRP else (),
        key_mgmt="AQ4B" if side == "offer" else "AQ8B",
        key_mgmt_level="media",
        key_mgmt_protocols=("mikey",),
        confid="4321" if protocol is Protocol.BFCP and conf_side else None,
        userid="7" if protocol is Protocol.BFCP and conf_side else None,
        floorids=("1",) if protocol is Protocol.BFCP and conf_side else (),
        floorctrl="s-only" if conf_side else "c-only",
    )


def clean_call(
    protocol: Protocol = Protocol.MSRP,
    direction: Direction = Direction.DIAL_IN,
    *,
    mp: bool = False,
) -> CallRecord:
    """A call that satisfies every rule (docs/rules.md); with ``mp``, seen at the MRF."""
    dial_in = direction is Direction.DIAL_IN
    ue_sip, conf_sip = Endpoint(UE, 5060), Endpoint(MRFC, 5060)
    offerer, answerer = (ue_sip, conf_sip) if dial_in else (conf_sip, ue_sip)
    from_uri, to_uri = (ALICE, CONF) if dial_in else (CONF, ALICE)
    ue_media, conf_media = Endpoint(UE, 43120), Endpoint(MRFP, 2855)
    # The answerer is a=setup:active and opens TCP from an ephemeral port.
    if dial_in:
        client, server = Endpoint(MRFP, 50001), ue_media
        # at the MRF: the MRFC's Add in frame 2, the MRFP's Reply in 3
        invite, syn, hello, answer = 1, (4 if mp else 3), 6, 10
    else:
        client, server = Endpoint(UE, 50001), conf_media
        # at the MRF: the reserve Add and Reply in 1, 2; the configure Modify and Reply in 5, 6
        invite, answer, syn, hello = (3, 4, 7, 8) if mp else (1, 3, 5, 8)
    init = MikeyInfo(
        frame=invite,
        data_b64="AQ4B",
        parsed=True,
        data_type=14,
        data_type_name="TRANSFER_INIT",
        has_ticket=True,
        csb_id=0x01020304,
        cs_count=1,
        prot_types=(2,),
        idr_i=from_uri,
        idr_r=to_uri,
        idr_kms="kms.example.org",
        t_value=bytes.fromhex("e9c3b2a100000000"),
        rand=bytes(range(16)),
        tree=TreeNode("TRANSFER_INIT", "", (TreeNode("HDR", "CSB ID 0x01020304"),)),
    )
    resp = MikeyInfo(
        frame=answer,
        data_b64="AQ8B",
        parsed=True,
        data_type=15,
        data_type_name="TRANSFER_RESP",
        csb_id=0x01020304,
        cs_count=1,
        prot_types=(2,),
        idr_r=to_uri,
    )
    key = KeyStatus(
        keys_configured=True,
        ticket_opened=True,
        opened_by="kms.example.org",
        mode="kms",
        valid_from_ns=T0 - 3600 * SEC,
        valid_to_ns=T0 + 3600 * SEC,
        ticket_idr_r=to_uri,
        init_mac_ok=True,
        resp_mac_ok=True,
        resp_csb_matches=True,
        tek=TEK,
        recovered=True,
        oracle="TLS Finished",
        tek_candidates=4,
        ticket_tree=TreeNode("ticket", "", (TreeNode("IDRi", from_uri),)),
        ticket_teks=(TEK, bytes(range(16, 32))),
    )
    media = MediaRecord(
        index=0,
        protocol=protocol,
        offer=_sdp(invite, "offer", protocol, dial_in),
        answer=_sdp(answer, "answer", protocol, dial_in),
        init=init,
        resp=resp,
        key=key,
        tcp=TcpInfo(client=client, server=server, syn_frame=syn, syn_ts_ns=T0 + syn * SEC),
        tls=TlsInfo(
            client=client,
            client_hello_frame=hello,
            client_hello_ts_ns=T0 + hello * SEC,
            version="TLS 1.2",
            cipher_suite="TLS_PSK_WITH_AES_128_GCM_SHA256",
            psk_suite=True,
            psk_identity=PSKID,
            key_verified=True,
            oracle="TLS Finished",
            decrypted=True,
            frames=(hello, hello + 1),
        ),
        data_frames=[hello, hello + 1, 12, 13],
    )
    ue_is_client = client.ip == UE
    ue_ep = client if ue_is_client else server
    conf_ep = server if ue_is_client else client
    if protocol is Protocol.MSRP:
        ue_path = media.offer.path if dial_in else media.answer.path  # type: ignore[union-attr]
        conf_path = media.answer.path if dial_in else media.offer.path  # type: ignore[union-attr]
        media.messages = [
            MediaMessage(
                12,
                T0 + 12 * SEC,
                ue_ep,
                conf_ep,
                "SEND t1",
                {
                    "method": "SEND",
                    "transaction_id": "t1",
                    "message_id": "m1",
                    "byte_range": "1-5/5",
                    "content_type": "text/plain",
                    "body": "hello",
                    "to_path": list(conf_path),
                    "from_path": list(ue_path),
                },
            ),
            MediaMessage(
                13,
                T0 + 13 * SEC,
                conf_ep,
                ue_ep,
                "200 t1",
                {
                    "status": 200,
                    "transaction_id": "t1",
                    "to_path": list(ue_path),
                    "from_path": list(conf_path),
                },
            ),
        ]
    else:
        media.messages = [
            MediaMessage(
                12,
                T0 + 12 * SEC,
                ue_ep,
                conf_ep,
                "FloorRequest",
                {
                    "primitive": "FloorRequest",
                    "conference_id": 4321,
                    "transaction_id": 1,
                    "user_id": 7,
                    "attributes": [{"name": "FLOOR-ID", "value": 1}],
                },
            ),
            MediaMessage(
                13,
                T0 + 13 * SEC,
                conf_ep,
                ue_ep,
                "FloorRequestStatus",
                {
                    "primitive": "FloorRequestStatus",
                    "conference_id": 4321,
                    "transaction_id": 1,
                    "user_id": 7,
                    "attributes": [{"name": "FLOOR-REQUEST-INFORMATION", "value": "granted"}],
                },
            ),
        ]
    pcscf = Endpoint(PCSCF, 5060)
    events = [
        LadderEvent(invite, T0 + invite * SEC, offerer, answerer, Lane.SIP, "INVITE (offer)", "2"),
        LadderEvent(syn, T0 + syn * SEC, client, server, Lane.TCP, "SYN", "7"),
        LadderEvent(hello, T0 + hello * SEC, client, server, Lane.TLS, "ClientHello", "8"),
        LadderEvent(
            answer, T0 + answer * SEC, answerer, offerer, Lane.SIP, "200 OK (answer)", "10"
        ),
        LadderEvent(12, T0 + 12 * SEC, ue_ep, conf_ep, Lane(protocol.value), "SEND"),
        LadderEvent(13, T0 + 13 * SEC, conf_ep, ue_ep, Lane(protocol.value), "200"),
    ]
    call = CallRecord(
        call_id=f"call-{protocol.value}-{direction.value}@example.org",
        from_uri=from_uri,
        to_uri=to_uri,
        offerer=offerer,
        answerer=answerer,
        direction=direction,
        focus_uri=CONF,
        invite_frame=invite,
        invite_ts_ns=T0 + invite * SEC,
        answer_frame=answer,
        answer_ts_ns=T0 + answer * SEC,
        answer_status=200,
        media=[media],
        events=events,
        roles={
            ue_sip: Role.UE,
            conf_sip: Role.MRFC,
            ue_media: Role.UE,
            client if not ue_is_client else server: Role.MRFP,
            conf_media: Role.MRFP,
            client: Role.UE if ue_is_client else Role.MRFP,
            pcscf: Role.PCSCF,
        },
        capture="sample.pcap",
    )
    if mp:
        call.mp_leg = True
        media.mp = termination(media, dial_in)
    return call


def _mp_sdp(sdp: SdpMedia, frame: int, **changes: object) -> SdpMedia:
    """An m-line's SDP as a Local or Remote carries it (no a=connection, key-mgmt)."""
    return replace(sdp, frame=frame, connection=None, key_mgmt=None, key_mgmt_protocols=(),
                   key_mgmt_level=None, **changes)  # type: ignore[arg-type]  # fmt: skip


def _txn(tid: int, command: str, frame: int, reply: int | None, **kw: object) -> MpTransaction:
    frames = [MpFrame(frame, T0 + frame * SEC, True, "request")]
    if reply is not None:
        frames.append(MpFrame(reply, T0 + reply * SEC, False, "reply"))
    return MpTransaction(tid, command, MRFC_MP, MRFP_MP, frame, reply, frames, **kw)  # type: ignore[arg-type]


def termination(media: MediaRecord, dial_in: bool) -> MpTermination:
    """The Mp termination of the m-line: dial-in one Add (steps 4-6) in frames 2/3; dial-out
    a reserve Add (2-4) in frames 1/2 and a configure Modify (9-11) in 5/6; a Subtract at
    release in frames 14/15."""
    assert media.offer is not None and media.answer is not None
    ue, conf = (media.offer, media.answer) if dial_in else (media.answer, media.offer)
    proto = conf.proto
    ask = SdpMedia(0, 0, conf.media, 0, proto, None, setup="active" if dial_in else "actpass")
    subtract = MpCommand("Subtract", 103, MRFC_MP, 14, 15)
    if dial_in:
        add = MpCommand(
            "Add", 101, MRFC_MP, 2, 3,
            local=replace(ask, frame=2), remote=_mp_sdp(ue, 2), reply_local=_mp_sdp(conf, 3),
            psk=TEK, pskid=PSKID, role="client", events=BOTH_EVENTS,
            carried=("Local", "Remote", "PSK", "PSK identity", "TLS role", "Events"),
        )  # fmt: skip
        commands = [add, subtract]
        txns = [_txn(101, "Add", 2, 3), _txn(103, "Subtract", 14, 15)]
    else:
        reserve = MpCommand(
            "Add", 101, MRFC_MP, 1, 2, local=replace(ask, frame=1),
            reply_local=_mp_sdp(conf, 2, setup="actpass"), carried=("Local",),
        )  # fmt: skip
        configure = MpCommand(
            "Modify", 102, MRFC_MP, 5, 6,
            local=_mp_sdp(conf, 5, setup="passive"), remote=_mp_sdp(ue, 5),
            psk=TEK, pskid=PSKID, role="server", events=BOTH_EVENTS,
            carried=("Local", "Remote", "PSK", "PSK identity", "TLS role", "Events"),
        )  # fmt: skip
        commands = [reserve, configure, subtract]
        txns = [_txn(101, "Add", 1, 2), _txn(102, "Modify", 5, 6), _txn(103, "Subtract", 14, 15)]
    return MpTermination(
        context="7",
        termination=f"{media.protocol.value}/1",
        mrfc=MRFC_MP,
        mrfp=MRFP_MP,
        bound_by="remote",
        transport="udp",
        binary=False,
        commands=commands,
        transactions=txns,
        connection_joined=True,
    )
