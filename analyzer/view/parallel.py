"""The packet list on two cores: one process follows the signalling, the other shows the rows.

:class:`~mikeyshark.view.stream.FrameStream` does everything in one process. Here the work is
cut where the data flows one way only:

- the *signalling* process (:class:`SignallingSide`, the command's own) reads the capture,
  reassembles it (flow table), follows SIP and resolves the MIKEY exchanges with the key
  file. What it finds for each frame (the TCP bytes of TLS, MSRP, BFCP and H.248
  connections, H.248 and MIKEY datagrams, SIP messages with their columns already
  rendered, the keys to try, the located problems, and at each check what the flow table
  and SIP still hold back) becomes a :data:`Step`, sent in batches down a pipe;
- the *rows* process (:class:`RowsSide`, forked) reads the capture too, decodes the lower
  layers of every frame, replays each frame's step into its TLS/MSRP/BFCP decoder and
  releases and prints the frames exactly as ``FrameStream`` does. The rows of the frames
  nothing can change (UDP datagrams of no protocol of ours) are written by whichever process
  has time for them: the signalling process renders them while ``render_rows`` is set, which
  the command sets while the rows process is behind (:func:`pipe_backlog`).

Every step is replayed at the point of the single process's loop where it happened (after
that frame was fed, in the same order within ``_attach``), so the decoders' states, the
frames held back and the problems (their order included) are the single process's: the
rows are byte-identical (tests/analyzer/test_view_parallel.py compares them). Nothing flows
back, so neither process waits for the other but on a full pipe, and memory stays bounded
by the pipe and by the rows process's own budgets. Only the packet list takes this path: a
display filter, the detail tree and the other output forms need the SIP messages themselves.
"""

from __future__ import annotations

import os
import pickle
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, cast

from mikeyshark.calls import Call, SipRecord, TcpConn
from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import KnownSecrets, PskCandidate
from mikeyshark.dissectors.esp import NAT_T_PORT
from mikeyshark.dissectors.gtp import GTPU_PORT
from mikeyshark.dissectors.ip import PROTO_UDP
from mikeyshark.dissectors.link import LINKTYPE_ETHERNET
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Endpoint, Problem, StreamChunk
from mikeyshark.view.frame import RENDERERS, FrameView, Node, Pdu, RenderedRow, Renderer, register
from mikeyshark.view.stream import (
    CHECK_EVERY,
    MAX_CALLS,
    AppDecoder,
    FrameStream,
    Key,
    _classify,
)

# events of the TLS/MSRP/BFCP decoder, in the order the flow table made them
_NEW, _DATA, _CLOSE, _MEGACO, _MIKEY = range(5)
# what resolving the MIKEY exchanges gave, in order: a problem, keys to try
_PROBLEM, _CANDIDATES = range(2)
END = 0  # the step number of what the end of the capture completes (frames count from 1)

# A step: (frame number (END at the end), decoder events, reassembled datagrams, SIP messages
# placed, problems and keys, problems of the reader, problems of the flow table and SIP, at
# each check: (out-of-order bytes held, oldest frame of a SIP message not complete, frames of
# SIP messages not complete), at END: SIP calls forgotten); or for a frame that only
# completed datagrams (most UDP): (frame number, datagrams); or for a frame shown as it is
# decoded (most UDP, with render_rows): (frame number, its row).
Step = tuple[Any, ...]


def _columns_node(cols: tuple[str, str, str]) -> Node:
    return Node(f"{cols[0]}: {cols[1]}")


# A SIP message as the rows process gets it: its columns, rendered where it was followed.
register(
    "sip-columns",
    Renderer(lambda c: c[0], lambda c: c[1], _columns_node, lambda c: c[2]),
)


class _Recorder(AppDecoder):
    """The signalling process's TLS/MSRP/BFCP decoder: notes what it is given, for the rows
    process's decoder. A connection whose first bytes are none of TLS, MSRP, BFCP or TPKT is
    not passed on (the decoder would ignore it: the same test decides here)."""

    def __init__(self, file: str) -> None:
        super().__init__(file, False)
        self.events: list[tuple[Any, ...]] = []
        self.ops: list[tuple[Any, ...]] | None = None  # None: before the first frame
        self._sent: dict[int, bool] = {}  # by id(conn): passed on or not

    def on_tcp_data(self, conn: TcpConn, from_client: bool, chunk: StreamChunk) -> None:
        cid = id(conn)
        sent = self._sent.get(cid)
        if sent is None:
            if not chunk.data:
                return
            ports = (conn.client.port, conn.server.port)
            sent = self._sent[cid] = _classify(chunk.data, ports) is not None
            if sent:
                self.events.append((_NEW, cid, conn.client, conn.server))
        if sent:
            c = chunk
            self.events.append((_DATA, cid, from_client, c.frame, c.ts_ns, c.offset, c.data, c.gap))

    def ignores(self, conn: TcpConn) -> bool:
        return self._sent.get(id(conn)) is False

    def on_tcp_close(self, conn: TcpConn) -> None:
        if self._sent.pop(id(conn), False):
            self.events.append((_CLOSE, id(conn)))

    def megaco(self, frame: int, payload: bytes) -> None:
        self.events.append((_MEGACO, frame, payload))

    def mikey(self, frame: int, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        self.events.append((_MIKEY, frame, src, dst, payload))

    def add_candidates(
        self, cands: Sequence[PskCandidate], endpoints: Sequence[Endpoint] | None = None
    ) -> None:
        if self.ops is not None:
            eps = list(endpoints) if endpoints is not None else None
            self.ops.append((_CANDIDATES, list(cands), eps))

    def finish(self) -> None:
        pass


class SignallingSide(FrameStream):
    """Reads, reassembles and follows SIP; :meth:`steps` gives what the rows process needs."""

    def __init__(
        self,
        reader: CaptureReader,
        keys: KeyFile | None,
        psks: Sequence[PskCandidate],
        max_frames: int | None,
    ) -> None:
        self.recorder = _Recorder(reader.name)
        super().__init__(reader, keys, psks, max_frames=max_frames, apps=self.recorder)
        self.ops: list[tuple[Any, ...]] = []
        self.recorder.ops = self.ops
        # whether the rows of UDP datagrams of no protocol of ours are rendered here (and sent
        # as text) rather than in the rows process; read at each batch
        self.render_rows = False

    def _problem(self, p: Problem) -> None:
        self.ops.append((_PROBLEM, p))

    def steps(self) -> Iterator[list[Step]]:
        """Batches of the steps of the frames that have one (every CHECK_EVERY-th frame
        has), the last one ending with the END step."""
        batch: list[Step] = []
        rec, sip, reader, feed = self.recorder, self.sip, self.reader, self.table.feed
        dgrams, udp_row = sip.datagrams, self.decoder.plain_udp_row
        render = self.render_rows
        for n, frame in enumerate(reader, 1):
            if n == 1:
                self.decoder.first_frame(frame)
            feed(frame)
            check = n % CHECK_EVERY == 0
            if check or rec.events or sip.tracker.records or sip.problems or reader.problems:
                batch.append(self._step(n, self._check() if check else None))
            elif dgrams or render:
                # (most UDP datagrams: nothing else happened in their frame)
                row = udp_row(frame) if render else None
                if row is not None:
                    batch.append((n, row))
                elif dgrams and not _whole_udp(frame.linktype, frame.data):
                    batch.append((n, _datagrams(dgrams)))
                dgrams.clear()
            if check:
                yield batch
                batch = []
                render = self.render_rows
            if n == self.max_frames:
                break
        self.table.finish()
        self.sip.finish()
        last = self._step(END, None)
        batch.append((*last[:7], self.forgotten_calls))
        yield batch

    def _check(self) -> tuple[bool, int | None, dict[int, tuple[Key, bool]]]:
        buffered, held = self._flows_held()
        return buffered, held, self._sip_partial() if held is not None else {}

    def _step(self, n: int, check: Any) -> Step:
        rec, sip = self.recorder, self.sip
        events, rec.events = rec.events, []
        datagrams = _datagrams(sip.datagrams)
        sip.datagrams.clear()
        placed: list[tuple[Any, ...]] = []
        self.ops = rec.ops = []
        tracker = sip.tracker
        if tracker.records:
            recs, tracker.records = tracker.records, []
            calls = tracker.calls
            touched: dict[str, Call] = {}
            for r in recs:
                placed.append(_placed(r))
                cid = r.msg.call_id
                call = calls.pop(cid, None) if cid is not None else None
                if call is not None:
                    calls[call.call_id] = touched[call.call_id] = call
            while len(calls) > MAX_CALLS:
                del calls[next(iter(calls))]
                self.forgotten_calls += 1
            if self.keys is not None:
                self._resolve_sessions(touched.values())
        read = list(self.reader.problems)
        self.reader.problems.clear()
        if read and self.first_read_problem is None:
            self.first_read_problem = read[0]
        found = list(sip.problems)
        sip.problems.clear()
        return (n, events, datagrams, placed, self.ops, read, found, check)


def pipe_backlog(fd: int) -> int | None:
    """The bytes written to the pipe ``fd`` and not read yet (None where the system does not
    say)."""
    try:
        import fcntl
        import termios

        got = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except (ImportError, OSError, AttributeError):
        return None
    return int(struct.unpack("i", got)[0])


# How much the pipe to the rows process holds where the system lets it be set: the processes
# run at the same pace on the whole, not frame by frame (a burst of SIP here, of TLS there),
# and a deeper pipe lets either go on while the other catches up.
PIPE_BYTES = 1 << 20
# The rows process is behind while it has more than this to read (a few batches): kept well
# below PIPE_BYTES, so that it has little left to do once the signalling process is done.
BEHIND_BYTES = 128 << 10


def send_steps(side: SignallingSide, fd: int) -> None:
    """Pickle the steps down the pipe ``fd`` in batches. While the rows process is behind
    (BEHIND_BYTES unread, or half the pipe), the signalling process takes the rows of UDP
    datagrams of no protocol of ours (``render_rows``)."""
    size = PIPE_BYTES
    try:
        import fcntl

        size = fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, OSError, AttributeError):
        size = 1 << 16  # (the least a pipe holds on Linux; elsewhere only a guess)
    behind = min(BEHIND_BYTES, size // 2)
    with os.fdopen(fd, "wb", buffering=1 << 16) as pipe:
        for batch in side.steps():
            pickle.dump(batch, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.flush()
            held = pipe_backlog(fd)
            side.render_rows = held is not None and held > behind


def _datagrams(got: list[tuple[int, Endpoint, Endpoint, int]]) -> list[tuple[int, int, int, int]]:
    """(frame, source port, destination port, length) of each datagram: what a frame that
    completed one shows."""
    return [(num, src.port, dst.port, n) for num, src, dst, n in got]


def _whole_udp(linktype: int, data: bytes) -> bool:
    """Whether the frame is Ethernet, IPv4 without options, not a fragment, UDP on neither the
    GTP-U nor the NAT-T port: it shows as UDP (or malformed) whatever datagram completes in
    it, so the rows process needs no word of it (FrameStream._datagrams relabels only the
    frames shown as IP fragments)."""
    if linktype != LINKTYPE_ETHERNET or len(data) < 38 or data[12:15] != b"\x08\x00\x45":
        return False
    ff, proto, sport, dport = _V4_UDP.unpack_from(data, 20)
    return not ff & 0x3FFF and proto == PROTO_UDP and _TUNNEL_PORTS.isdisjoint((sport, dport))


_V4_UDP = struct.Struct("!HxB8xHH")  # flags + fragment offset, protocol, ports
_TUNNEL_PORTS = frozenset({GTPU_PORT, NAT_T_PORT})


def _placed(rec: SipRecord) -> tuple[Any, ...]:
    """What the rows process needs of a SIP message: where it goes, its columns."""
    r = RENDERERS["sip"]
    assert r.suffix is not None
    key = (rec.src.ip, rec.src.port, rec.dst.ip, rec.dst.port)
    cols = (r.protocol(rec), r.info(rec), r.suffix(rec))
    return (rec.frame, rec.first_frame, key, cols, rec.summary(), rec.problems)


class _Conn:
    """A TCP connection as the rows process's decoder sees it: its two ends."""

    __slots__ = ("client", "server")

    def __init__(self, client: Endpoint, server: Endpoint) -> None:
        self.client, self.server = client, server


class RowsSide(FrameStream):
    """A FrameStream whose flow table and SIP are the signalling process's: their steps
    (from ``steps``) are replayed in their frames."""

    def __init__(
        self,
        reader: CaptureReader,
        keys: KeyFile | None,
        psks: Sequence[PskCandidate],
        reveal: bool,
        on_problem: Callable[[Problem], None] | None,
        on_batch: Callable[[], None] | None,
        max_frames: int | None,
        secrets: KnownSecrets | None,
        steps: Iterator[Step],
    ) -> None:
        super().__init__(reader, keys, psks, reveal, on_problem, on_batch, max_frames, secrets)
        self.steps = steps
        self._conns: dict[int, _Conn] = {}
        self._check: Any = None

    def __iter__(self) -> Iterator[FrameView]:
        steps, reader, decode, pending = self.steps, self.reader, self.decoder.decode, self.pending
        udp_row = self.decoder.plain_udp_row
        step = next(steps)
        for n, frame in enumerate(reader, 1):
            if n == 1:
                self.decoder.first_frame(frame)  # (the signalling process may show it)
            self.held_bytes += len(frame.data)
            if reader.problems:
                reader.problems.clear()  # (the signalling process reports them)
            if step[0] != n:
                # nothing happened in this frame: the row of a UDP datagram is final now
                row = udp_row(frame)
                pending[frame.number] = decode(frame) if row is None else RenderedRow(frame, row)
            elif len(step) == 2 and type(step[1]) is str:
                pending[frame.number] = RenderedRow(frame, step[1])
                step = next(steps)
            else:
                pending[frame.number] = decode(frame)
                if len(step) == 2:  # datagrams only
                    self._datagrams(step[1])
                else:
                    self._replay(step)
                    self._check = step[7]
                step = next(steps)
            if n % CHECK_EVERY == 0:
                yield from self._release(final=False)
                if self.on_batch is not None:
                    self.on_batch()
            if n == self.max_frames:
                break
        if step[0] != END:
            raise RuntimeError(f"the signalling process's step {step[0]} has no frame here")
        self.forgotten_calls = step[7]
        self._replay(step)
        yield from self._release(final=True)
        self._warn_end()

    def _replay(self, step: Step) -> None:
        n, events, datagrams, placed, ops, read, found, _ = step
        apps = self.apps
        conns = self._conns
        for ev in events:
            kind = ev[0]
            if kind == _DATA:
                conn = cast(TcpConn, conns[ev[1]])
                apps.on_tcp_data(conn, ev[2], StreamChunk(ev[3], ev[4], ev[5], ev[6], ev[7]))
            elif kind == _NEW:
                conns[ev[1]] = _Conn(ev[2], ev[3])
            elif kind == _CLOSE:
                apps.on_tcp_close(cast(TcpConn, conns.pop(ev[1])))
            elif kind == _MEGACO:
                apps.megaco(ev[1], ev[2])
            else:
                apps.mikey(ev[1], ev[2], ev[3], ev[4])
        if n == END:
            apps.finish()
        if datagrams:
            self._datagrams(datagrams)
        for p in placed:
            self._place_columns(p)
        for op in ops:
            if op[0] == _PROBLEM:
                self._problem(op[1])
            else:
                apps.add_candidates(op[1], op[2])
        self._attach_apps()
        if read or found or apps.problems:
            self._report_all(read, found)

    def _place_columns(self, placed: tuple[Any, ...]) -> None:
        """FrameStream._place, for a SIP message followed in the signalling process."""
        frame, first, key, cols, summary, problems = placed
        v = self.pending.get(frame)
        if v is None:
            self._problem(
                Problem("sip", f"message completed late: {summary}", frame, self.reader.name)
            )
            return
        v.pdus.append(Pdu("sip-columns", cols))
        v.problems.extend(problems)
        if first != frame:
            for num in range(first, frame):
                seg = self.pending.get(num)
                if seg is not None and seg.conn == key and seg.has_payload:
                    seg.segment_of = frame

    def _report_all(self, read: list[Problem], found: list[Problem]) -> None:
        """FrameStream._report with the signalling process's problems."""
        if read and self.first_read_problem is None:
            self.first_read_problem = read[0]
        for i, src in enumerate((read, found, self.apps.problems)):
            for p in src:
                self._problem(p)
                v = self.pending.get(p.frame) if i == 2 and p.frame is not None else None
                if v is not None:
                    v.problems.append(p)
        self.apps.problems.clear()

    def _flows_held(self) -> tuple[bool, int | None]:
        return self._check[0], self._check[1]

    def _sip_partial(self) -> dict[int, tuple[Key, bool]]:
        return dict(self._check[2])


class SignallingStopped(Exception):
    """The signalling process closed the pipe before the END step: it failed (and says so)."""


def steps_from(pipe: IO[bytes]) -> Iterator[Step]:
    """The steps the signalling process pickled in batches down ``pipe``, up to END."""
    while True:
        try:
            batch: list[Step] = pickle.load(pipe)
        except EOFError:
            raise SignallingStopped from None
        yield from batch
        if batch and batch[-1][0] == END:
            return
