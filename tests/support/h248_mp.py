"""The Mp profile-1 messages of every flow (docs/mp-profile.md), composed from the codec's
model and builders: MSRP and BFCP dial-in Add, dial-out reserve Add and configure Modify,
Subtract, the failure Notify, their Replies (with the MRFP's Local), a Pending and an Error
reply. The interop tests hand each to Erlang megaco and tshark."""

from __future__ import annotations

from mikeyshark.dissectors import sdp
from mikeyshark.dissectors.h248 import mp
from mikeyshark.dissectors.h248.model import (
    Action,
    Command,
    ErrorDescriptor,
    LocalRemoteDescriptor,
    MediaDescriptor,
    MegacoMessage,
    Mid,
    MidKind,
    StreamDescriptor,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
)

MRFC = Mid(MidKind.IPV4, "198.51.100.1", 2944)
MRFP = Mid(MidKind.IPV4, "198.51.100.2", 2944)
PSK = bytes.fromhex("8f0e6c1f9b3a2d4e5f60718293a4b5c6")
PSKID = "tek-1.csb-2a.3b@kms.example.net"
TID = "mrfp/tls/1"


def session(*lines: str) -> sdp.SessionDescription:
    """An SDP session; ``$`` ports (the MRFP chooses) are the only complaint allowed."""
    sd, errors = sdp.decode(("\r\n".join(lines) + "\r\n").encode())
    assert all(e.field == "m" and " $ " in e.reason for e in errors), errors
    return sd


def ue_msrp_offer() -> sdp.SessionDescription:
    return session(
        "v=0",
        "o=- 2890844526 2890844526 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=message 49170 TCP/TLS/MSRP *",
        "a=accept-types:text/plain message/cpim",
        "a=path:msrps://192.0.2.10:49170/s111271;tcp",
        "a=setup:actpass",
    )


def mrfp_msrp_request(setup: str) -> sdp.SessionDescription:
    return session(
        "v=0",
        "c=IN IP4 $",
        "m=message $ TCP/TLS/MSRP *",
        f"a=setup:{setup}",
        "a=path:$",
    )


def mrfp_msrp_reply(setup: str) -> sdp.SessionDescription:
    return session(
        "v=0",
        "o=- 0 0 IN IP4 198.51.100.20",
        "s=-",
        "c=IN IP4 198.51.100.20",
        "t=0 0",
        "m=message 7394 TCP/TLS/MSRP *",
        f"a=setup:{setup}",
        "a=path:msrps://198.51.100.20:7394/m9xq2;tcp",
    )


def ue_bfcp_offer() -> sdp.SessionDescription:
    return session(
        "v=0",
        "o=- 2890844527 2890844527 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=application 50000 TCP/TLS/BFCP *",
        "a=setup:actpass",
        "a=floorctrl:c-only",
    )


def mrfp_bfcp_request() -> sdp.SessionDescription:
    return session(
        "v=0",
        "c=IN IP4 $",
        "m=application $ TCP/TLS/BFCP *",
        "a=setup:active",
        "a=floorctrl:s-only",
        "a=confid:4321",
        "a=userid:1234",
        "a=floorid:1 mstrm:10",
    )


def media(
    local: sdp.SessionDescription | None,
    remote: sdp.SessionDescription | None,
    *,
    psk: bytes | None = None,
    role: str | None = None,
    mode: str | None = "SendReceive",
) -> MediaDescriptor:
    parms: list[object] = []
    if psk is not None or role is not None or mode is not None:
        pskid = PSKID if psk is not None else None
        parms.append(mp.local_control_descriptor(psk=psk, pskid=pskid, role=role, mode=mode))
    if local is not None:
        parms.append(LocalRemoteDescriptor.of(False, [local]))
    if remote is not None:
        parms.append(LocalRemoteDescriptor.of(True, [remote]))
    return MediaDescriptor((StreamDescriptor(1, tuple(parms)),))  # type: ignore[arg-type]


def request(tid: int, context: str, *commands: Command) -> MegacoMessage:
    return MegacoMessage(1, MRFC, (TransactionRequest(tid, (Action(context, commands),)),))


def reply(tid: int, context: str, *commands: Command) -> MegacoMessage:
    return MegacoMessage(1, MRFP, (TransactionReply(tid, (Action(context, commands),)),))


def messages() -> dict[str, MegacoMessage]:
    """Every profile-1 message, by a name saying which flow step it is."""
    ev = mp.events_descriptor(1)
    msrp_dial_in = Command(
        "Add",
        ("$",),
        (media(mrfp_msrp_request("active"), ue_msrp_offer(), psk=PSK, role="client"), ev),
    )
    bfcp_dial_in = Command(
        "Add",
        ("$",),
        (media(mrfp_bfcp_request(), ue_bfcp_offer(), psk=PSK, role="client"), ev),
    )
    reserve = Command("Add", ("$",), (media(mrfp_msrp_request("actpass"), None, mode=None),))
    configure = Command(
        "Modify",
        (TID,),
        (media(mrfp_msrp_reply("passive"), ue_msrp_offer(), psk=PSK, role="server"), ev),
    )
    notify = Command(
        "Notify",
        (TID,),
        (mp.observed_events_descriptor(1, "tls_fail_event", "20240101T12000000", cause=40),),
    )
    return {
        "msrp-dial-in-add": request(1001, "$", msrp_dial_in),
        "msrp-dial-in-reply": reply(
            1001,
            "7",
            Command("Add", (TID,), (media(mrfp_msrp_reply("active"), None, mode=None),)),
        ),
        "bfcp-dial-in-add": request(1002, "7", bfcp_dial_in),
        "msrp-dial-out-reserve": request(1003, "$", reserve),
        "msrp-dial-out-reserve-reply": reply(
            1003,
            "8",
            Command("Add", (TID,), (media(mrfp_msrp_reply("actpass"), None, mode=None),)),
        ),
        "msrp-dial-out-configure": request(1004, "8", configure),
        "msrp-dial-out-configure-reply": reply(1004, "8", Command("Modify", (TID,))),
        "subtract": request(1005, "8", Command("Subtract", (TID,))),
        "subtract-reply": reply(1005, "8", Command("Subtract", (TID,))),
        "tls-fail-notify": MegacoMessage(
            1, MRFP, (TransactionRequest(2001, (Action("8", (notify,)),)),)
        ),
        "tls-fail-notify-reply": MegacoMessage(
            1, MRFC, (TransactionReply(2001, (Action("8", (Command("Notify", (TID,)),)),)),)
        ),
        "pending": MegacoMessage(1, MRFP, (TransactionPending(1004),)),
        "error-reply": MegacoMessage(
            1,
            MRFP,
            (TransactionReply(1006, (), ErrorDescriptor(510, "Insufficient resources")),),
        ),
    }
