"""Hypothesis: BFCP messages with random (nested) attributes survive build/parse and framing."""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mikeyshark.dissectors import bfcp

U16 = st.integers(0, 0xFFFF)
M = st.booleans()
TEXT = st.text(max_size=60)

LEAVES: st.SearchStrategy[bfcp.Attribute] = st.one_of(
    st.builds(bfcp.BeneficiaryId, U16, M),
    st.builds(bfcp.FloorId, U16, M),
    st.builds(bfcp.FloorRequestId, U16, M),
    st.builds(bfcp.Priority, st.integers(0, 7), st.integers(0, 0x1FFF), M),
    st.builds(bfcp.RequestStatus, st.integers(0, 255), st.integers(0, 255), M),
    st.builds(bfcp.ErrorCode, st.integers(0, 255), st.binary(max_size=12), M),
    st.builds(bfcp.ErrorInfo, TEXT, M),
    st.builds(bfcp.ParticipantProvidedInfo, TEXT, M),
    st.builds(bfcp.StatusInfo, TEXT, M),
    st.builds(bfcp.UserDisplayName, TEXT, M),
    st.builds(bfcp.UserUri, TEXT, M),
    st.builds(bfcp.SupportedAttributes, st.lists(st.integers(0, 255), max_size=20).map(tuple), M),
    st.builds(bfcp.SupportedPrimitives, st.lists(st.integers(0, 255), max_size=20).map(tuple), M),
    st.builds(bfcp.UnknownAttribute, st.integers(19, 127), st.binary(max_size=20), M),
)
GROUPS = [
    bfcp.BeneficiaryInformation,
    bfcp.FloorRequestInformation,
    bfcp.RequestedByInformation,
    bfcp.FloorRequestStatus,
    bfcp.OverallRequestStatus,
]
ATTRS: st.SearchStrategy[bfcp.Attribute] = st.recursive(
    LEAVES,
    lambda children: st.builds(
        lambda cls, gid, kids, m: cls(gid, tuple(kids), m),
        st.sampled_from(GROUPS),
        U16,
        st.lists(children, max_size=3),
        M,
    ),
    max_leaves=8,
)
MESSAGES = st.builds(
    bfcp.Message,
    primitive=st.integers(0, 255),
    conference_id=st.integers(0, 0xFFFFFFFF),
    transaction_id=U16,
    user_id=U16,
    attributes=st.lists(ATTRS, max_size=4).map(tuple),
    version=st.sampled_from([1, 2]),
    responder=st.booleans(),
    reserved=st.integers(0, 7),
)


def build(m: bfcp.Message) -> bytes:
    try:
        return bfcp.build_message(m)
    except ValueError:  # a group over 255 bytes cannot be encoded
        assume(False)
        raise


@settings(max_examples=200, deadline=None)
@given(MESSAGES)
def test_build_parse_build(m: bfcp.Message) -> None:
    raw = build(m)
    assert len(raw) % 4 == 0
    parsed = bfcp.parse_message(raw)
    assert parsed == m
    assert bfcp.build_message(parsed) == raw


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        MESSAGES.map(
            lambda m: bfcp.Message(
                (m.primitive % 18) + 1, m.conference_id, m.transaction_id, m.user_id, m.attributes
            )
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(0, 5000), max_size=5),
)
def test_framer_any_cuts(msgs: list[bfcp.Message], cuts: list[int]) -> None:
    stream = b"".join(build(m) for m in msgs)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    f = bfcp.BfcpFramer()
    out: list[bfcp.Framed] = []
    prev = 0
    for p in [*points, len(stream)]:
        out += f.feed(stream[prev:p])
        prev = p
    out += f.close()
    assert [r.message for r in out if isinstance(r, bfcp.FramedMessage)] == msgs
    assert all(isinstance(r, bfcp.FramedMessage) for r in out)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=60))
def test_arbitrary_bytes_give_dissect_errors_only(prefix: bytes, tail: bytes) -> None:
    from mikeyshark.dissectors.errors import DissectError

    # A valid header in front makes the attribute parser (not only the header check) run.
    data = bytes.fromhex("20040000 00000001 0001 0002") + prefix
    data = data[:2] + (len(prefix) // 4).to_bytes(2, "big") + data[4:]
    for candidate in (prefix, data, data + tail):
        with contextlib.suppress(DissectError):
            bfcp.parse_message(candidate)
    f = bfcp.BfcpFramer()
    out = f.feed(data + tail) + f.close()
    # Every byte is accounted for exactly once: messages and errors tile the stream.
    spans = [(r.start, r.end) for r in out]
    assert spans[0][0] == 0
    assert spans[-1][1] == len(data + tail)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
