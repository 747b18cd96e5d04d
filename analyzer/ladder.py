"""The ladder's events of one media connection: every frame of it, as a packet list shows it.

Correlation hands each bound connection here while its bytes are still held: the SYN, each
frame that carried data (named by the TLS records that end in it and the MSRP/BFCP messages
it completed, like a packet list's Info column), and the FINs and RSTs. The HTML report
draws one arrow per event, so that every frame a rule cites has its row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mikeyshark.dissectors.tls.constants import (
    ALERT_DESCRIPTION,
    ALERT_LEVEL,
    CONTENT_TYPE,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    HANDSHAKE_TYPE,
    HT_CLIENT_HELLO,
)
from mikeyshark.dissectors.tls.records import RECORD_HEADER_LEN
from mikeyshark.evidence import LadderEvent, Lane, MediaMessage
from mikeyshark.model import Endpoint, StreamChunk
from mikeyshark.procedure import Event

# the message summaries named in one frame's label; the rest are counted
MAX_NAMED = 3


def _title(label: str) -> str:
    """ "client_hello" -> "Client Hello", as packet lists write TLS names."""
    return " ".join(w.capitalize() for w in label.split("_"))


@dataclass(slots=True)
class _Direction:
    """The TLS record boundaries of one direction, followed from the stream's bytes."""

    need: int = 0  # bytes of the current record still to come (header included)
    header: bytearray = field(default_factory=bytearray)
    name: str = ""
    encrypted: bool = False  # past this side's ChangeCipherSpec
    lost: bool = False  # a hole or a byte that is not TLS: names stop here

    def feed(self, data: bytes) -> list[str]:
        """The names of the records that end in ``data``."""
        out: list[str] = []
        pos = 0
        while pos < len(data) and not self.lost:
            if self.need == 0:
                take = min(RECORD_HEADER_LEN - len(self.header), len(data) - pos)
                self.header += data[pos : pos + take]
                pos += take
                if len(self.header) < RECORD_HEADER_LEN:
                    break
                ct, length = self.header[0], int.from_bytes(self.header[3:5], "big")
                if ct not in CONTENT_TYPE or self.header[1] != 3:
                    self.lost = True
                    break
                self.name = self._name(ct, data[pos : pos + 2])
                if ct == CT_CHANGE_CIPHER_SPEC:
                    self.encrypted = True
                self.header.clear()
                self.need = length
                if length == 0:
                    out.append(self.name)
                continue
            take = min(self.need, len(data) - pos)
            self.need -= take
            pos += take
            if self.need == 0:
                out.append(self.name)
        return out

    def _name(self, ct: int, first: bytes) -> str:
        if ct == CT_HANDSHAKE:
            if self.encrypted:
                # TLS 1.2: the one handshake message after ChangeCipherSpec is Finished
                return "Finished"
            return _title(HANDSHAKE_TYPE.label(first[0])) if first else "Handshake"
        if ct == CT_ALERT:
            if self.encrypted or len(first) < 2:
                return "Encrypted Alert"
            level, desc = _title(ALERT_LEVEL.label(first[0])), ALERT_DESCRIPTION.label(first[1])
            return f"Alert ({level}: {desc})"
        if ct == CT_APPLICATION_DATA:
            return "Application Data"
        return _title(CONTENT_TYPE.label(ct))


def _names(names: Sequence[str]) -> str:
    """ "Application Data" x 3 -> "Application Data x3"."""
    out: list[str] = []
    for n in names:
        if out and (out[-1] == n or out[-1].startswith(n + " x")):
            k = int(out[-1].rpartition(" x")[2]) + 1 if out[-1] != n else 2
            out[-1] = f"{n} x{k}"
        else:
            out.append(n)
    return ", ".join(out)


def connection_events(
    client: Endpoint,
    server: Endpoint,
    syn: tuple[int, int] | None,
    chunks: Iterable[tuple[bool, StreamChunk]],
    closes: Iterable[tuple[bool, int, int, str]],
    messages: Sequence[MediaMessage],
    protocol: str,
    tls: bool,
    steps: Mapping[Event, str],
    mline: int,
) -> list[LadderEvent]:
    """One event per frame of the connection (``syn``: its frame and time; ``closes``:
    (from client, frame, time, "FIN"/"RST")), the flow's steps on the SYN, the ClientHello
    and the first media message."""
    out: list[LadderEvent] = []
    if syn is not None:
        out.append(
            LadderEvent(
                syn[0],
                syn[1],
                client,
                server,
                Lane.TCP,
                f"TCP SYN (m-line {mline})",
                steps.get(Event.TCP, ""),
                Event.TCP,
            )
        )
    by_frame: dict[int, list[MediaMessage]] = {}
    for msg in messages:
        by_frame.setdefault(msg.frame, []).append(msg)
    first_media = messages[0].frame if messages else None
    dirs = {True: _Direction(), False: _Direction()}
    frames: dict[int, tuple[bool, int, list[str]]] = {}
    for from_client, chunk in chunks:
        if not chunk.data:
            continue
        d = dirs[from_client]
        if chunk.gap:
            d.lost = True
        names = d.feed(chunk.data) if tls else []
        if chunk.frame in frames:
            frames[chunk.frame][2].extend(names)
        else:
            frames[chunk.frame] = (from_client, chunk.ts_ns, list(names))
    hello_seen = False
    for frame, (from_client, ts, names) in frames.items():
        src, dst = (client, server) if from_client else (server, client)
        msgs = by_frame.get(frame, [])
        step: str = ""
        event: Event | None = None
        if msgs:
            kind = Lane(protocol)
            label = ", ".join(m.summary for m in msgs[:MAX_NAMED])
            if len(msgs) > MAX_NAMED:
                label += f" and {len(msgs) - MAX_NAMED} more"
            if frame == first_media:
                step, event = steps.get(Event.MEDIA, ""), Event.MEDIA
        elif names:
            kind, label = Lane.TLS, "TLS " + _names(names)
            if not hello_seen and names[0] == _title(HANDSHAKE_TYPE.label(HT_CLIENT_HELLO)):
                hello_seen = True
                step, event = steps.get(Event.TLS, ""), Event.TLS
        else:
            kind = Lane.TCP
            label = "TLS segment (record continues)" if tls else f"{protocol.upper()} data"
        out.append(LadderEvent(frame, ts, src, dst, kind, label, step, event))
    for from_client, frame, ts, what in closes:
        src, dst = (client, server) if from_client else (server, client)
        out.append(LadderEvent(frame, ts, src, dst, Lane.TCP, f"TCP {what}"))
    return out
