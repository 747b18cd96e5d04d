"""H.248 text codec: RFC 3525 Appendix A call-flow messages with the values read off them by
hand, compact tokens, the canonical builder, recovery from a bad transaction, and hostile
input (budgets, every truncation, byte mutations)."""

from __future__ import annotations

import pytest

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248 import text
from mikeyshark.dissectors.h248.model import (
    Action,
    Command,
    DigitMapDescriptor,
    ErrorDescriptor,
    EventsDescriptor,
    Item,
    LocalControlDescriptor,
    LocalRemoteDescriptor,
    MediaDescriptor,
    MegacoMessage,
    Mid,
    MidKind,
    ObservedEvent,
    ObservedEventsDescriptor,
    RequestedEvent,
    ServiceChangeDescriptor,
    SignalsDescriptor,
    StreamDescriptor,
    TerminationStateDescriptor,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
    TransactionResponseAck,
    Value,
    ValueKind,
)

# RFC 3525 Appendix A.1 (residential gateway to gateway call), the messages as printed there
# (comments after ";" included), step numbers as in the RFC.
STEP1_SERVICE_CHANGE = b"""MEGACO/1 [124.124.124.222]
Transaction = 9998 {
    Context = - {
        ServiceChange = ROOT {Services {
            Method=Restart,
            ServiceChangeAddress=55555, Profile=ResGW/1}
        }
    }
}
"""

STEP3_MODIFY = b"""MEGACO/1 [123.123.123.4]:55555
Transaction = 9999 {
    Context = - {
        Modify = A4444 {
            Media { Stream = 1 {
                     LocalControl {
                         Mode = SendReceive,
                         tdmc/gain=2,  ; in dB,
                         tdmc/ec=G165
                     },
                     Local {
v=0
c=IN IP4 $
m=audio $ RTP/AVP 0
a=fmtp:PCMU VAD=X-NNVAD ; special voice activity
                        ; detection algorithm
                     }
                 }
            },
            Events = 2222 {al/of}
        }
    }
}
"""

STEP6_NOTIFY = b"""MEGACO/1 [124.124.124.222]:55555
Transaction = 10000 {
   Context = - {
       Notify = A4444 {ObservedEvents =2222 {
         19990729T22000000:al/of}}
   }
}
"""

STEP9_DIGIT_MAP = b"""MEGACO/1 [123.123.123.4]:55555
Transaction = 10001 {
    Context = - {
        Modify = A4444 {
            Events = 2223 {
                al/on, dd/ce {DigitMap=Dialplan0}
            },
            Signals {cg/dt},
            DigitMap= Dialplan0{
(0S| 00S|[1-7]xLxx|8Lxxxxxxx|#xxxxxxx|*xx|9L1xxxxxxxxxx|9L011x.S)}
        }
    }
}
"""

STEP11_DIGITS = b"""MEGACO/1 [124.124.124.222]:55555
Transaction = 10002 {
   Context = - {
       Notify = A4444 {ObservedEvents =2223 {
         19990729T22010001:dd/ce{ds="916135551212"}}}
   }
}
"""

# Step 13 as printed has a comma before "}" (after "nt/jit=40,"): tolerated and reported.
STEP13_ADD = b"""MEGACO/1 [123.123.123.4]:55555
Transaction = 10003 {
    Context = $ {
       Add = A4444,
       Add = $ {
           Media {
             Stream = 1 {
                  LocalControl {
                      Mode = ReceiveOnly,

                      nt/jit=40, ; in ms
                  },
                  Local {
v=0
c=IN IP4 $
m=audio $ RTP/AVP 4
a=ptime:30
v=0
c=IN IP4 $
m=audio $ RTP/AVP 0
                  }
             }
          }
       }
    }
}
"""

STEP14_REPLY = b"""MEGACO/1 [124.124.124.222]:55555
Reply = 10003 {
   Context = 2000 {
      Add = A4444,
      Add=A4445{
         Media {
             Stream = 1 {
                 Local {
v=0
c=IN IP4 124.124.124.222
m=audio 2222 RTP/AVP 4
a=ptime:30
a=recvonly
                 } ; RTP profile for G.723 is 4
             }
         }
      }
   }
}
"""

STEP18_RING_OFF = b"""MEGACO/1 [123.123.123.4]:55555
Transaction = 50006 {
   Context = 5000 {
      Modify = A5555 {
         Events = 1235 {al/on},
         Signals { } ; to turn off ringing
      }
   }
}
"""

RFC_EXAMPLES = [
    STEP1_SERVICE_CHANGE,
    STEP3_MODIFY,
    STEP6_NOTIFY,
    STEP9_DIGIT_MAP,
    STEP11_DIGITS,
    STEP13_ADD,
    STEP14_REPLY,
    STEP18_RING_OFF,
]

# Frame 21 of tests/vectors/megaco/megaco-heplify.pcap (a trunk gateway's MGC, compact form).
COMPACT_ADD = (
    b"!/1 <iMSS>\nT=555282723{C=${A=DS/4/24{E=1{ctyp/dtone},M{O{MO=SR,tdmc/ec=on},"
    b"TS{ctyp/calltyp=[FAX,TEXT,DATA]}}},A=RTP/${E=2{ipfax/faxconnchange},"
    b"M{O{MO=RC,RV=ON,RG=ON},L{v=0\nc=IN IP4 $\nm=audio $ RTP/AVP 8 103 18 102\n"
    b"a=rtpmap:103 G726-32/8000\na=rtpmap:102 telephone-event/8000\na=ptime:30\nv=0\n"
    b"c=IN IP4 $\nm=image $ udptl t38\n}}}}}"
)


def _only_command(m: MegacoMessage) -> Command:
    (t,) = m.transactions
    assert isinstance(t, TransactionRequest | TransactionReply)
    (a,) = t.actions
    (c,) = a.commands
    return c


def _stream(c: Command) -> StreamDescriptor:
    media = c.media
    assert media is not None
    (s,) = media.streams
    return s


def test_service_change_registration() -> None:
    m = text.parse_message(STEP1_SERVICE_CHANGE)
    assert (m.version, m.mid) == (1, Mid(MidKind.IPV4, "124.124.124.222", None))
    (t,) = m.transactions
    assert isinstance(t, TransactionRequest) and t.id == 9998
    assert t.actions[0].context == "-" and t.actions[0].context_number == 0
    c = _only_command(m)
    assert (c.name, c.termination_ids) == ("ServiceChange", ("ROOT",))
    (sv,) = c.descriptors
    assert isinstance(sv, ServiceChangeDescriptor)
    assert [(p.name, p.value.text if p.value else None) for p in sv.parms] == [
        ("Method", "Restart"),
        ("ServiceChangeAddress", "55555"),
        ("Profile", "ResGW/1"),
    ]
    assert m.problems == ()


def test_modify_local_control_local_sdp_and_events() -> None:
    m = text.parse_message(STEP3_MODIFY)
    assert m.mid == Mid(MidKind.IPV4, "123.123.123.4", 55555)
    c = _only_command(m)
    assert (c.name, c.termination_ids) == ("Modify", ("A4444",))
    s = _stream(c)
    assert s.stream_id == 1
    assert s.local_control == LocalControlDescriptor(
        "SendReceive",
        properties=(Item.prop("tdmc/gain", "2"), Item.prop("tdmc/ec", "G165")),
    )
    local = s.local
    assert local is not None and not local.remote and s.remote is None
    (sd,) = local.sessions
    assert [str(ln) for ln in sd.session] == ["v=0", "c=IN IP4 $"]
    assert [str(ln) for ln in sd.media[0].lines] == [
        "m=audio $ RTP/AVP 0",
        "a=fmtp:PCMU VAD=X-NNVAD ; special voice activity",
        "                        ; detection algorithm",
    ]
    assert c.events == EventsDescriptor("2222", (RequestedEvent("al/of"),))
    # the RFC's comment line inside the SDP is not an SDP line: one located SDP problem
    (p,) = m.problems
    assert (p.layer, p.field) == ("sdp", "line")
    assert p.offset == STEP3_MODIFY.index(b"                        ; detection")


def test_notify_observed_event_time_stamp() -> None:
    c = _only_command(text.parse_message(STEP6_NOTIFY))
    assert (c.name, c.termination_ids) == ("Notify", ("A4444",))
    assert c.observed_events == ObservedEventsDescriptor(
        "2222", (ObservedEvent("al/of", (), "19990729T22000000"),)
    )


def test_events_signals_and_digit_map() -> None:
    c = _only_command(text.parse_message(STEP9_DIGIT_MAP))
    ev, sig, dm = c.descriptors
    assert ev == EventsDescriptor(
        "2223",
        (
            RequestedEvent("al/on"),
            RequestedEvent("dd/ce", (Item("DigitMap", "=", Value.of("Dialplan0")),)),
        ),
    )
    assert sig == SignalsDescriptor((Item("cg/dt"),))
    assert dm == DigitMapDescriptor(
        "Dialplan0", "\n(0S| 00S|[1-7]xLxx|8Lxxxxxxx|#xxxxxxx|*xx|9L1xxxxxxxxxx|9L011x.S)"
    )


def test_event_parameter_ds_is_not_the_discard_token() -> None:
    # "DS" is the short form of Discard, but here it is dd/ce's digit string parameter
    c = _only_command(text.parse_message(STEP11_DIGITS))
    oe = c.observed_events
    assert oe is not None
    (e,) = oe.events
    assert (e.name, e.timestamp) == ("dd/ce", "19990729T22010001")
    assert e.parms == (Item("ds", "=", Value(('"916135551212"',))),)
    assert e.parms[0].value is not None and e.parms[0].value.text == "916135551212"


def test_choose_context_two_adds_and_alternative_sdp() -> None:
    m = text.parse_message(STEP13_ADD)
    (t,) = m.transactions
    assert isinstance(t, TransactionRequest)
    (a,) = t.actions
    assert a.context == "$" and a.context_number == 0xFFFFFFFE
    first, second = a.commands
    assert first == Command("Add", ("A4444",))
    assert second.termination_ids == ("$",)
    s = _stream(second)
    assert s.local_control == LocalControlDescriptor(
        "ReceiveOnly", properties=(Item.prop("nt/jit", "40"),)
    )
    assert s.local is not None
    assert [sd.media[0].lines[0].value for sd in s.local.sessions] == [
        "audio $ RTP/AVP 4",
        "audio $ RTP/AVP 0",
    ]
    assert s.local.sessions[0].media[0].attr("ptime") == "30"
    # the comma the RFC leaves before "}" is reported where the "}" is
    (p,) = m.problems
    assert (p.layer, p.field) == ("megaco", "list")
    assert STEP13_ADD[p.offset : p.offset + 1] == b"}"
    assert STEP13_ADD.rindex(b"nt/jit=40, ; in ms") < p.offset


def test_reply_with_context_and_local() -> None:
    m = text.parse_message(STEP14_REPLY)
    (t,) = m.transactions
    assert isinstance(t, TransactionReply) and t.id == 10003 and t.error is None
    (a,) = t.actions
    assert a.context == "2000"
    plain, with_media = a.commands
    assert plain == Command("Add", ("A4444",))
    assert with_media.termination_ids == ("A4445",)
    s = _stream(with_media)
    assert s.local is not None
    (sd,) = s.local.sessions
    assert sd.connection is not None and sd.connection.address == "124.124.124.222"
    assert (sd.media[0].m.port, sd.media[0].m.proto) == (2222, "RTP/AVP")
    assert sd.media[0].attrs("recvonly") == ("",)
    assert m.problems == ()


def test_empty_signals_descriptor() -> None:
    c = _only_command(text.parse_message(STEP18_RING_OFF))
    assert c.descriptors == (
        EventsDescriptor("1235", (RequestedEvent("al/on"),)),
        SignalsDescriptor(()),
    )


def test_compact_tokens_of_a_real_gateway() -> None:
    m = text.parse_message(COMPACT_ADD)
    assert m.mid == Mid(MidKind.DOMAIN, "iMSS")
    (t,) = m.transactions
    assert isinstance(t, TransactionRequest) and t.id == 555282723
    tdm, rtp = t.actions[0].commands
    assert (tdm.name, tdm.termination_ids, rtp.termination_ids) == ("Add", ("DS/4/24",), ("RTP/$",))
    assert tdm.events == EventsDescriptor("1", (RequestedEvent("ctyp/dtone"),))
    media = tdm.media
    assert media is not None
    assert media.termination_state == TerminationStateDescriptor(
        (Item("ctyp/calltyp", "=", Value(("FAX", "TEXT", "DATA"), ValueKind.LIST)),)
    )
    assert _stream(tdm).local_control == LocalControlDescriptor(
        "SendReceive", properties=(Item.prop("tdmc/ec", "on"),)
    )
    s = _stream(rtp)
    assert s.local_control == LocalControlDescriptor("ReceiveOnly", True, True)
    assert s.local is not None
    assert [sd.media[0].lines[0].value for sd in s.local.sessions] == [
        "audio $ RTP/AVP 8 103 18 102",
        "image $ udptl t38",
    ]
    assert m.problems == ()


def test_tokens_are_case_insensitive_and_short_equals_long() -> None:
    long = b"MEGACO/2 [10.0.0.1]:2944 Transaction = 7 { Context = - { Modify = t1 { Media {"
    long += b" Stream = 1 { LocalControl { Mode = SendOnly, ReservedValue = OFF } } } } } }"
    short = b"!/2 [10.0.0.1]:2944 t=7{c=-{mf=t1{m{st=1{o{mo=so,rv=off}}}}}}"
    mixed = b"megaco/2 [10.0.0.1]:2944 tRaNsAcTiOn=7{CONTEXT=-{MODIFY=t1{MEDIA{STREAM=1{"
    mixed += b"LOCALCONTROL{MODE=SENDONLY,RESERVEDVALUE=off}}}}}}"
    expected = text.parse_message(long)
    assert _stream(_only_command(expected)).local_control == LocalControlDescriptor(
        "SendOnly", False
    )
    assert text.parse_message(short) == expected == text.parse_message(mixed)


def test_pending_response_ack_and_errors() -> None:
    m = text.parse_message(
        b"MEGACO/1 <mg.example.net>:2944\nPN=1 { }\nK{5, 10-12}\n"
        b'P=2{ER=510{"Insufficient resources"}}\nP=3{C=4{ER=435{}}}'
    )
    assert m.mid == Mid(MidKind.DOMAIN, "mg.example.net", 2944)
    assert m.transactions == (
        TransactionPending(1),
        TransactionResponseAck(((5, None), (10, 12))),
        TransactionReply(2, (), ErrorDescriptor(510, "Insufficient resources")),
        TransactionReply(3, (Action("4", error=ErrorDescriptor(435)),)),
    )
    msg_err = text.parse_message(b'MEGACO/1 [10.0.0.1]:2944\nError = 402 {"Unauthorized"}')
    assert (msg_err.transactions, msg_err.error) == ((), ErrorDescriptor(402, "Unauthorized"))


def test_reply_imm_ack_and_wildcard_prefixes() -> None:
    m = text.parse_message(
        b"MEGACO/3 [2001:db8::1]:2944 Reply = 9 {ImmAckRequired, Context = 1 {W-Subtract = *}}"
        b" Transaction = 10 {Context = 1 {O-W-Add = t/*}}"
    )
    assert m.mid == Mid(MidKind.IPV6, "2001:db8::1", 2944)
    rep, req = m.transactions
    assert isinstance(rep, TransactionReply) and rep.imm_ack_required
    assert rep.actions[0].commands == (Command("Subtract", ("*",), wildcard=True),)
    assert isinstance(req, TransactionRequest)
    assert req.actions[0].commands == (Command("Add", ("t/*",), optional=True, wildcard=True),)


def test_bad_transaction_is_reported_and_the_others_kept() -> None:
    data = (
        b"MEGACO/1 [10.0.0.1]:2944\n"
        b"Transaction = 1 {Context = - {Modify = a}}\n"
        b"Transaction = 2 {Context = - {Frobnicate = b}}\n"
        b"Transaction = 3 {Context = - {Add = c {Media {Stream = x {}}}}}\n"
        b"Transaction = 4 {Context = - {Add = e ] }}\n"
        b"Transaction = 5 {Context = - {Subtract = d}}\n"
    )
    m = text.parse_message(data)
    assert [t.id for t in m.transactions if isinstance(t, TransactionRequest)] == [1, 5]
    assert [(p.field, p.offset) for p in m.problems] == [
        ("command", data.index(b"Frobnicate")),
        ("StreamID", data.index(b"Stream = x")),
        ("list", data.index(b"] }")),
    ]


def test_nothing_usable_raises_located() -> None:
    with pytest.raises(DissectError) as e:
        text.parse_message(b"SIP/2.0 200 OK\r\n")
    assert (e.value.field, e.value.offset) == ("header", 0)
    with pytest.raises(DissectError) as e:
        text.parse_message(b"MEGACO/1 [10.0.0.1]:2944 Transaction = 99999999999 {}")
    assert e.value.field == "TransactionID"
    with pytest.raises(DissectError) as e:
        text.parse_message(b"MEGACO/1 [10.0.0.300x]:2944 T=1{C=-{A=a}}")
    assert (e.value.field, e.value.offset) == ("mId", 9)


def test_budgets() -> None:
    deep = b"MEGACO/1 [10.0.0.1]:2944 T=1{C=-{MF=a{SG{" + b"x{" * 40 + b"}" * 44
    with pytest.raises(DissectError) as e:
        text.parse_message(deep)
    assert e.value.field == "budget" and "deeper than 32" in e.value.reason
    wide = b"MEGACO/1 [10.0.0.1]:2944 T=1{C=-{AV=a{PG{" + b"g-1," * 20_001 + b"g-1}}}}"
    with pytest.raises(DissectError) as e:
        text.parse_message(wide)
    assert e.value.field == "budget" and "20000 items" in e.value.reason
    sessions = b"v=0\n" * 33
    with pytest.raises(DissectError) as e:
        text.parse_message(b"MEGACO/1 [10.0.0.1]:2944 T=1{C=-{A=a{M{L{" + sessions + b"}}}}}")
    assert e.value.field == "budget" and "32 SDP sessions" in e.value.reason


# ----------------------------------------------------------------------------- builder

CANONICAL_MODIFY = (
    b"MEGACO/1 [10.0.0.1]:2944\r\n"
    b"Transaction = 5 {\r\n"
    b"  Context = - {\r\n"
    b"    Modify = A1 {\r\n"
    b"      Media {\r\n"
    b"        Stream = 1 {\r\n"
    b"          LocalControl {\r\n"
    b"            Mode = ReceiveOnly,\r\n"
    b"            ReservedGroup = ON\r\n"
    b"          },\r\n"
    b"          Remote {\r\n"
    b"v=0\r\n"
    b"c=IN IP4 192.0.2.1\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
    b"}\r\n"
    b"        }\r\n"
    b"      },\r\n"
    b"      Events = 7 {\r\n"
    b"        al/on\r\n"
    b"      }\r\n"
    b"    }\r\n"
    b"  }\r\n"
    b"}\r\n"
)


def test_builder_writes_the_canonical_form() -> None:
    compact = (
        b"!/1 [10.0.0.1]:2944 T=5{C=-{MF=A1{M{ST=1{O{MO=RC,RG=ON},R{v=0\n"
        b"c=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\n}}},E=7{al/on}}}}"
    )
    assert text.build_message(text.parse_message(compact)) == CANONICAL_MODIFY
    assert text.build_message(text.parse_message(CANONICAL_MODIFY)) == CANONICAL_MODIFY


def test_builder_from_model_round_trips() -> None:
    sdp_text = "\r\nv=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n"
    remote = text.parse_message(CANONICAL_MODIFY).commands()[0][2]
    stream = _stream(remote)
    assert stream.remote is not None and stream.remote.text == sdp_text
    assert LocalRemoteDescriptor.of(True, stream.remote.sessions) == stream.remote
    m = MegacoMessage(
        1,
        Mid(MidKind.IPV4, "10.0.0.1", 2944),
        (
            TransactionRequest(
                5,
                (
                    Action(
                        "-",
                        (
                            Command(
                                "Modify",
                                ("A1",),
                                (
                                    MediaDescriptor(
                                        (
                                            StreamDescriptor(
                                                1,
                                                (
                                                    LocalControlDescriptor(
                                                        "ReceiveOnly", None, True
                                                    ),
                                                    stream.remote,
                                                ),
                                            ),
                                        )
                                    ),
                                    EventsDescriptor("7", (RequestedEvent("al/on"),)),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )
    assert text.build_message(m) == CANONICAL_MODIFY
    assert text.parse_message(CANONICAL_MODIFY) == m


@pytest.mark.parametrize("data", [*RFC_EXAMPLES, COMPACT_ADD], ids=lambda d: d[:40].decode())
def test_canonical_form_is_a_fixed_point(data: bytes) -> None:
    once = text.build_message(text.parse_message(data))
    m = text.parse_message(once)
    assert text.build_message(m) == once
    assert text.parse_message(text.build_message(m)) == m
    # canonical text has long tokens and CRLF only
    assert b"\n" not in once.replace(b"\r\n", b"")


def test_sdp_close_brace_is_escaped() -> None:
    m = text.parse_message(b"MEGACO/1 [10.0.0.1]:2944 T=1{C=-{A=a{M{L{v=0\na=x:{\\}\n}}}}}")
    local = _stream(_only_command(m)).local
    assert local is not None and local.sessions[0].attr("x") == "{}"
    out = text.build_message(m)
    assert b"a=x:{\\}\r\n}" in out
    assert text.parse_message(out) == text.parse_message(out)  # parses again
    again = _stream(_only_command(text.parse_message(out))).local
    assert again is not None and again.sessions[0].attr("x") == "{}"


# ----------------------------------------------------------------------------- hostile input


def _only_dissect_errors(data: bytes) -> None:
    try:
        m = text.parse_message(data)
    except DissectError:
        return
    text.build_message(m)  # whatever parsed also builds


@pytest.mark.parametrize("data", [*RFC_EXAMPLES, COMPACT_ADD], ids=lambda d: d[:40].decode())
def test_every_truncation_raises_only_dissect_error(data: bytes) -> None:
    for i in range(len(data)):
        _only_dissect_errors(data[:i])


@pytest.mark.parametrize("data", [STEP3_MODIFY, STEP13_ADD, COMPACT_ADD], ids=["3", "13", "c"])
def test_byte_mutations_raise_only_dissect_error(data: bytes) -> None:
    for i in range(len(data)):
        for b in b'{}"=,;:[]<>#\x00\xff ':
            _only_dissect_errors(data[:i] + bytes((b,)) + data[i + 1 :])
