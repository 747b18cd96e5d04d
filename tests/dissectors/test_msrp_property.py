"""Hypothesis: MSRP messages and chunk sets survive build -> parse -> build and any framing."""

from __future__ import annotations

import contextlib
from typing import Literal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mikeyshark.dissectors import msrp

IDENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}", fullmatch=True)
HOST = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9.\-]{0,20}", fullmatch=True),
    st.from_regex(r"\[[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}\]", fullmatch=True),
)
URI = st.builds(
    msrp.MsrpUri,
    scheme=st.sampled_from(["msrp", "msrps"]),
    host=HOST,
    port=st.none() | st.integers(0, 65535),
    session_id=st.none() | st.from_regex(r"[A-Za-z0-9+=/_.\-]{0,20}", fullmatch=True),
    transport=st.sampled_from(["tcp", "ws", "sctp"]),
    userinfo=st.none() | st.from_regex(r"[a-z0-9.]{1,8}", fullmatch=True),
    params=st.lists(st.from_regex(r"[a-z]{1,5}(=[a-z0-9]{1,5})?", fullmatch=True), max_size=2).map(
        tuple
    ),
)
PATH = st.lists(URI, min_size=1, max_size=3)
# Spelled as a Literal: the decorated st.characters loses the context that would infer it.
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
LINE_TEXT = st.text(
    st.characters(exclude_characters="\r\n", exclude_categories=SURROGATES), max_size=30
)
VALUE = LINE_TEXT.filter(lambda v: not v.startswith((" ", "\t")))
BYTE_RANGE = st.builds(
    lambda s, n, end_star, tot_star: msrp.ByteRange(
        s, None if end_star else s + n - 1, None if tot_star else s + n + 5
    ),
    st.integers(1, 10**6),
    st.integers(0, 10**6),
    st.booleans(),
    st.booleans(),
)
EXTRA = st.lists(
    st.builds(msrp.Header, st.from_regex(r"X-[A-Za-z0-9\-]{1,10}", fullmatch=True), VALUE),
    max_size=3,
)


@st.composite
def requests(draw: st.DrawFn) -> msrp.Message:
    body = draw(st.none() | st.binary(max_size=300))
    return msrp.request(
        draw(IDENT),
        draw(st.sampled_from(["SEND", "REPORT", "AUTH", "NICKNAME"])),
        draw(PATH),
        draw(PATH),
        message_id=draw(st.none() | IDENT),
        success_report=draw(st.none() | st.sampled_from(["yes", "no"])),
        failure_report=draw(st.none() | st.sampled_from(["yes", "no", "partial"])),
        byte_range=draw(st.none() | BYTE_RANGE),
        status=draw(
            st.none()
            | st.builds(
                msrp.ReportStatus, st.integers(0, 999), st.integers(0, 999), st.none() | VALUE
            )
        ),
        extra_headers=draw(EXTRA),
        content_type=draw(st.none() | st.just("text/plain") | st.just("message/cpim")),
        body=body,
        flag=draw(st.sampled_from(msrp.FLAGS)),
    )


@st.composite
def responses(draw: st.DrawFn) -> msrp.Message:
    headers = (
        msrp.Header("To-Path", " ".join(map(str, draw(PATH)))),
        msrp.Header("From-Path", " ".join(map(str, draw(PATH)))),
        *draw(EXTRA),
    )
    return msrp.Message(
        draw(IDENT),
        None,
        draw(st.integers(100, 999)),
        draw(st.none() | LINE_TEXT),
        headers,
    )


def buildable(m: msrp.Message) -> bytes:
    try:
        return msrp.build_message(m)
    except ValueError:
        assume(False)
        raise


@settings(max_examples=200, deadline=None)
@given(st.one_of(requests(), responses()))
def test_build_parse_build(m: msrp.Message) -> None:
    raw = buildable(m)
    parsed = msrp.parse_message(raw)
    assert parsed == m
    assert msrp.build_message(parsed) == raw
    assert parsed.to_path == tuple(msrp.MsrpUri.parse(u) for u in m.header("To-Path").split())  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(
    st.binary(min_size=0, max_size=600),
    st.integers(1, 200),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 10_000), max_size=6),
)
def test_chunk_sets_reassemble_through_the_framer(
    body: bytes, size: int, rnd: object, cuts: list[int]
) -> None:
    a = msrp.MsrpUri("msrps", "192.0.2.1", 50000, "asfd34")
    b = msrp.MsrpUri("msrps", "192.0.2.2", 5061, "kjhd37s2s20w2a")
    whole = msrp.send("unused00", [b], [a], "87652491", body)
    n = max(1, -(-len(body) // size))
    chunks = msrp.chunk_message(whole, size, [f"t{i:07d}" for i in range(n)])
    wire = [buildable(c) for c in chunks]
    # Deliver the chunks in a shuffled order, with one duplicate, cut at arbitrary points.
    order = list(range(n))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    order.append(order[0])
    stream = b"".join(wire[i] for i in order)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    framer = msrp.MsrpFramer()
    out: list[msrp.Framed] = []
    prev = 0
    for p in [*points, len(stream)]:
        out += framer.feed(stream[prev:p])
        prev = p
    out += framer.close()
    framed = [r for r in out if isinstance(r, msrp.FramedMessage)]
    assert [r.message for r in framed] == [chunks[i] for i in order]
    reasm = msrp.Reassembler[int]()
    done = [d for i, r in enumerate(framed) for d in reasm.add(r.message, i)]
    # The repeated first chunk arrives after the message completed: a duplicate.
    assert [d.state for d in done] == ["complete", "duplicate"]
    assert done[0].body == body
    assert done[1].refs == (n,)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300), st.sampled_from([b"", b"\r\n", b"\r\n\r\n", b"-------abcd1234$\r\n"])
)
def test_arbitrary_bytes_give_dissect_errors_only(noise: bytes, end: bytes) -> None:
    from mikeyshark.dissectors import cpim
    from mikeyshark.dissectors.errors import DissectError

    head = b"MSRP abcd1234 SEND\r\nTo-Path: msrp://a.example:1/s;tcp\r\n"
    for data in (noise, head + noise + end, noise + end):
        for parse in (msrp.parse_message, cpim.parse_cpim):
            with contextlib.suppress(DissectError):
                parse(data)
        f = msrp.MsrpFramer(max_message=256)
        out = f.feed(data) + f.close()
        # Every byte is accounted for exactly once: messages and errors tile the stream.
        spans = [(r.start, r.end) for r in out]
        if not data:
            assert spans == []
            continue
        assert [s for s, _ in spans] == [0, *(e for _, e in spans[:-1])]
        assert spans[-1][1] == len(data)
