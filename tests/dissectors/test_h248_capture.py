"""A public Megaco capture no one here wrote (tests/vectors/megaco/SOURCE.md), read with the
project's capture reader and codecs. Expected numbers are tshark 4.0's reading of it, written
down by hand: 4 Add, 106 AuditValue, 16 Modify, 4 Notify, 4 Subtract; 65 transaction ids,
each seen once as a Request and once as a Reply."""

from __future__ import annotations

from collections import Counter

from mikeyshark.dissectors.h248 import text
from mikeyshark.dissectors.h248.model import (
    ErrorDescriptor,
    Item,
    MegacoMessage,
    ObservedEvent,
    StatisticsDescriptor,
    TransactionReply,
    TransactionRequest,
)
from tests.support.h248_capture import HEPLIFY, udp_payloads


def _messages() -> list[tuple[int, MegacoMessage]]:
    return [(n, text.parse_message(p)) for n, p in udp_payloads(HEPLIFY)]


def test_command_and_transaction_counts() -> None:
    msgs = _messages()
    assert len(msgs) == 130
    assert all(m.problems == () for _, m in msgs)
    commands = Counter(c.name for _, m in msgs for _, _, c in m.commands())
    assert commands == {"Add": 4, "AuditValue": 106, "Modify": 16, "Notify": 4, "Subtract": 4}
    requests = Counter(
        t.id for _, m in msgs for t in m.transactions if isinstance(t, TransactionRequest)
    )
    replies = Counter(
        t.id for _, m in msgs for t in m.transactions if isinstance(t, TransactionReply)
    )
    assert len(requests) == 65
    assert requests == replies and set(requests.values()) == {1}


def test_frames_read_by_hand() -> None:
    m = dict(_messages())
    # frame 4: !/1 [10.23.1.42]:2944 P = 555282714{ C = * {av=ds/1/5 { er = 435 {"..."} } }}
    (t,) = m[4].transactions
    assert isinstance(t, TransactionReply) and t.actions[0].context == "*"
    (c,) = t.actions[0].commands
    assert (c.name, c.termination_ids) == ("AuditValue", ("ds/1/5",))
    assert c.error == ErrorDescriptor(435, "TerminationId_id_is_not_in_specified_Context")
    # frame 41: the MG notifies the answer tone, with its time stamp
    (t,) = m[41].transactions
    assert isinstance(t, TransactionRequest) and t.id == 3989
    (c,) = t.actions[0].commands
    assert c.observed_events is not None
    assert c.observed_events.request_id == "1"
    assert c.observed_events.events == (
        ObservedEvent("CTYP/DTONE", (Item.prop("DTT", "ANS"),), "20081205T10120025"),
    )
    # frame 79: "R{}" is a Remote with no SDP; Local has two alternatives (audio, T.38)
    ((_, _, c),) = m[79].commands()
    media = c.media
    assert media is not None
    (s,) = media.streams
    assert s.remote is not None and s.remote.sessions == ()
    assert s.local is not None
    assert [sd.media[0].lines[0].value for sd in s.local.sessions] == [
        "audio $ RTP/AVP 8 102",
        "image 16756 udptl t38",
    ]
    # frame 120: the audit reply's RTP statistics
    ((_, _, c),) = m[120].commands()
    (stats,) = c.descriptors
    assert isinstance(stats, StatisticsDescriptor)
    assert stats.parms[:2] == (Item.prop("RTP/PR", "3840"), Item.prop("RTP/PL", "0.130039011"))
    assert len(stats.parms) == 8
