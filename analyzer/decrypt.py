"""Passive TLS-PSK decryption of one TCP connection.

:class:`TlsConnectionDecoder` is fed the reassembled bytes of both directions in capture
order.  It follows the handshake in the clear, finds the PSK among the candidates with a
cryptographic oracle (TLS 1.2 Finished, else the record's AEAD tag or MAC; TLS 1.3 binder),
then decrypts every record of both directions.  A record that does not decrypt is reported
with its frame and the rest goes on.  DHE/ECDHE key exchanges (TLS 1.2 DHE_PSK/ECDHE_PSK and
TLS 1.3 psk_dhe_ke) cannot be decrypted from the PSK alone: the decoder says so and still
verifies the PSK where the handshake allows (the TLS 1.3 binder).

Besides the plaintext, the decoder tells what it reads record by record (``on_record``): each
record as it is split from the stream (:class:`RecordRead`, with its content at once when it
was sent in the clear) and each protected record once a key opens it (:class:`RecordOpened`:
the inner content type, the handshake messages or alert it carried). The dissect view draws its
records from these events, so the record walk, the trial of keys and the TLS 1.3 key updates
exist once. Keys found after a connection started (a MIKEY exchange later in the capture) are
given with :meth:`TlsConnectionDecoder.add_candidates`; with ``retain`` the protected records
not opened so far are kept (within that many bytes) and tried again.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mikeyshark.capture import iter_frames
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.dissectors.tls.constants import (
    ALERT_DESCRIPTION,
    CIPHER_SUITES,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    EXT_ENCRYPT_THEN_MAC,
    EXT_EXTENDED_MASTER_SECRET,
    EXT_KEY_SHARE,
    EXT_PRE_SHARED_KEY,
    EXT_SUPPORTED_VERSIONS,
    HRR_RANDOM,
    HT_CLIENT_HELLO,
    HT_CLIENT_KEY_EXCHANGE,
    HT_FINISHED,
    HT_KEY_UPDATE,
    HT_NEW_SESSION_TICKET,
    HT_SERVER_HELLO,
    HT_SERVER_KEY_EXCHANGE,
    PSK_KEY_EXCHANGE_MODE,
    TLS10,
    TLS12,
    TLS12_HANDSHAKE_ORDER,
    TLS13,
    VERSION,
    CipherSuite,
    Kx,
    Mode,
)
from mikeyshark.dissectors.tls.protection import (
    RecordProtection,
    Tls12MacCipher,
    Tls13Aead,
    tls12_protection,
    tls13_aead,
)
from mikeyshark.dissectors.tls.records import (
    RECORD_HEADER_LEN,
    ClientHello,
    HandshakeBuffer,
    OfferedPsks,
    parse_client_hello,
    parse_offered_psks,
    parse_psk_key_exchange,
    parse_psk_modes,
    parse_server_hello,
    plausible_header,
    record_header,
)
from mikeyshark.flows import FlowTable, NullHandler, TcpConnection
from mikeyshark.model import Endpoint, Problem, Severity, StreamChunk

LAYER = "tls"
# After lost bytes the sequence number is unknown: how far ahead to look for it.
SEQ_GUESS_WINDOW = 64
_ORDER = {t: i for i, t in enumerate(TLS12_HANDSHAKE_ORDER)}
# Why a connection is not decrypted when a key found later may still open it (the others -
# an ephemeral key exchange, a missing handshake, ... - no key can fix).
KEYS_MAY_FIX = frozenset({"no candidate key matched", "no key"})


class KnownSecrets(Protocol):
    """Session secrets known by client random (an NSS key log): the "known secrets" mode
    decrypts certificate (ECDHE/RSA) handshakes, where the PSK candidates cannot help."""

    def master_secret(self, client_random: bytes) -> bytes | None: ...

    def tls13_secrets(self, client_random: bytes) -> ks.Tls13Secrets | None: ...


@dataclass(frozen=True, slots=True)
class PskCandidate:
    key: bytes
    label: str


# Not frozen, though never changed: one is made for every record, and a frozen dataclass
# sets each field through object.__setattr__ (several times slower); nothing hashes one.
@dataclass(slots=True)
class AppData:
    """Plaintext application data of one record (or raw bytes when the stream is not TLS).

    ``stream_offset`` is the position of ``data[0]`` in this direction's plaintext stream;
    ``record_offset`` the position of the record in the TCP byte stream and ``record_end``
    the position just past it; ``frame`` the frame that carried the record's last byte."""

    from_client: bool
    frame: int
    ts_ns: int
    data: bytes
    stream_offset: int
    record_offset: int = 0
    record_end: int = 0


@dataclass(frozen=True, slots=True)
class RecordContent:
    """What one record carried: its content type (the inner type of a TLS 1.3 record), the
    plaintext length, the handshake messages it completed (type, body) and the type of one it
    leaves unfinished for the next record, or the alert it held."""

    content_type: int
    length: int
    messages: tuple[tuple[int, bytes], ...] = ()
    fragment_of: int | None = None
    alert: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class RecordRead:
    """A record as it was split from one direction's stream. ``offset`` is the position of its
    header in the TCP byte stream, ``frame`` the frame that carried its last byte and
    ``frames`` the earlier ones that carried part of it. A record sent in the clear says what
    it holds at once (``content``); a protected one (``protected``) says it with
    :class:`RecordOpened` when a key opens it."""

    from_client: bool
    frame: int
    offset: int
    content_type: int
    version: int
    fragment: bytes
    protected: bool
    frames: tuple[int, ...] = ()
    content: RecordContent | None = None


@dataclass(frozen=True, slots=True)
class RecordOpened:
    """The protected record of direction ``from_client`` at stream ``offset``, opened."""

    from_client: bool
    frame: int
    offset: int
    content: RecordContent


RecordEvent = RecordRead | RecordOpened


@dataclass(frozen=True, slots=True)
class RecordFailure:
    from_client: bool
    frame: int
    record_offset: int
    reason: str


@dataclass(frozen=True, slots=True)
class OutsideRecords:
    """Bytes of a TLS stream that are no TLS record (where records stopped parsing): their
    first bytes, to tell what they are (MSRP or BFCP sent in the clear, say after
    close_notify)."""

    from_client: bool
    frame: int
    stream_offset: int
    head: bytes  # up to OUTSIDE_HEAD bytes


OUTSIDE_HEAD = 64  # bytes kept of each run of bytes outside records
MAX_OUTSIDE = 32  # runs kept per connection


@dataclass(frozen=True, slots=True)
class AlertSeen:
    from_client: bool
    frame: int
    level: int
    description: int
    encrypted: bool

    @property
    def name(self) -> str:
        return ALERT_DESCRIPTION.label(self.description)


@dataclass(slots=True)
class TlsSessionInfo:
    """What one connection's TLS told us.  ``from_client`` everywhere is the caller's
    notion (the TCP client); ``client_hello_from_client`` says whether the TLS client was
    that side."""

    is_tls: bool | None = None
    not_tls_reason: str | None = None
    plaintext_protocol: str | None = None  # "msrp" / "bfcp" when the stream is not TLS
    version: int | None = None
    cipher_suite: int | None = None
    client_hello_from_client: bool | None = None
    psk_identity: bytes | None = None
    psk_identity_hint: bytes | None = None
    psk: bytes | None = None
    psk_label: str | None = None
    oracle: str | None = None  # "finished" | "binder" | "aead-tag" | "record-mac"
    ems: bool = False
    etm: bool = False
    tls13_mode: str | None = None  # "psk_ke" | "psk_dhe_ke"
    binder_ok: bool | None = None
    decryptable: bool | None = None
    undecryptable_reason: str | None = None
    records_ok: int = 0
    records_failed: list[RecordFailure] = field(default_factory=list)
    records_undecrypted: int = 0
    alerts: list[AlertSeen] = field(default_factory=list)
    outside: list[OutsideRecords] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    client_random: bytes | None = None
    server_random: bytes | None = None
    master_secret: bytes | None = None
    tls13_secrets: ks.Tls13Secrets | None = None
    app_bytes: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    from_key_log: bool = False  # the session's secrets came from KnownSecrets, not a PSK

    @property
    def version_name(self) -> str | None:
        return VERSION.label(self.version) if self.version is not None else None

    @property
    def suite_name(self) -> str | None:
        if self.cipher_suite is None:
            return None
        s = CIPHER_SUITES.get(self.cipher_suite)
        return s.name if s else f"Unknown (0x{self.cipher_suite:04x})"

    @property
    def decrypted(self) -> bool:
        return (self.psk is not None or self.from_key_log) and bool(self.decryptable)

    @property
    def failed_frames(self) -> list[int]:
        return [f.frame for f in self.records_failed]


@dataclass(slots=True)
class _Pending:
    content_type: int
    version: int
    fragment: bytes
    frame: int
    ts_ns: int
    offset: int


@dataclass(slots=True)
class _Dir:
    from_client: bool
    buf: bytearray = field(default_factory=bytearray)
    base: int = 0  # stream offset of buf[0]
    frames: list[tuple[int, int, int]] = field(default_factory=list)  # (end offset, frame, ts)
    started: bool = False
    lost: bool = False  # bytes missing; resynchronise on the next plausible header
    seq_unknown: bool = False
    dead: bool = False
    encrypted: bool = False  # past ChangeCipherSpec (1.2) / ServerHello (1.3)
    prot: RecordProtection | None = None
    hs: HandshakeBuffer = field(default_factory=HandshakeBuffer)
    hs_type: int | None = None  # type of the handshake message ``hs`` holds the start of
    pending: list[_Pending] = field(default_factory=list)
    plain_offset: int = 0
    finished_seen: bool = False


class TlsConnectionDecoder:
    """Decode one TCP connection.  ``feed`` returns the plaintext that became available;
    ``on_data`` (if given) receives the same items as they appear, ``on_record`` every
    :class:`RecordRead` and :class:`RecordOpened`. ``retain`` bytes of protected records no
    candidate opened are kept for :meth:`add_candidates` (0: none, they are counted as
    undecrypted)."""

    def __init__(
        self,
        candidates: Sequence[PskCandidate],
        on_data: Callable[[AppData], None] | None = None,
        secrets: KnownSecrets | None = None,
        on_record: Callable[[RecordEvent], None] | None = None,
        retain: int = 0,
    ) -> None:
        self.candidates = list(candidates)
        self.on_data = on_data
        self.on_record = on_record
        self.retain = retain
        self.retained_bytes = 0  # of the protected records kept in the directions' pending
        self.secrets = secrets
        self._logged_ms: bytes | None = None  # TLS 1.2 master secret from ``secrets``
        self._logged_13: ks.Tls13Secrets | None = None  # TLS 1.3 traffic secrets from it
        self.info = TlsSessionInfo()
        self._dirs = {True: _Dir(True), False: _Dir(False)}
        self._out: list[AppData] = []
        # TLS 1.3: the handshake messages in wire order.  TLS 1.2: the messages up to the
        # ClientKeyExchange by type (so that capture order across directions cannot break
        # the session hash), then the client Finished and any NewSessionTicket.
        self._transcript = bytearray()
        self._pre: list[tuple[int, bytes]] = []
        self._client_finished = b""
        self._tickets: list[bytes] = []
        self._ch_msg: bytes | None = None
        self._ch: ClientHello | None = None
        self._suite: CipherSuite | None = None
        self._keys_tried = False
        self._t13: ks.Tls13Secrets | None = None
        self._offered: OfferedPsks | None = None
        self._binder_match: tuple[PskCandidate, int] | None = None
        self._psk_selected: int | None = None  # the TLS 1.3 ServerHello's selected identity
        self._key_share = False  # the TLS 1.3 ServerHello chose psk_dhe_ke
        # the last TLS 1.2 Finished computed: ((master secret, client, transcript), verify_data)
        self._finished: tuple[tuple[bytes, bool, bytes], bytes] | None = None

    # ------------------------------------------------------------ input

    def feed(self, from_client: bool, chunk: StreamChunk) -> list[AppData]:
        d = self._dirs[from_client]
        if chunk.gap > 0 and d.started:
            self._problem(
                f"{chunk.gap} bytes missing before this frame; resynchronising",
                chunk.frame,
                severity=Severity.WARNING,
            )
            d.buf.clear()
            d.frames.clear()
            d.lost = True
            d.seq_unknown = d.encrypted
            if d.encrypted and self._suite is not None and self._suite.mode is Mode.STREAM:
                d.dead = True
                self._problem("RC4 cannot resynchronise after lost bytes", chunk.frame)
        if (
            not d.buf
            and self.info.is_tls
            and d.started
            and self.on_record is None
            and not (d.dead or d.lost)
        ):
            self._whole_records(d, chunk)
            return self._drain()
        if not d.started or not d.buf:
            d.base = chunk.offset
        d.buf += chunk.data
        d.frames.append((chunk.offset + len(chunk.data), chunk.frame, chunk.ts_ns))
        if not d.started and chunk.data:
            d.started = True
            if self.info.is_tls is None and not self._detect(d, chunk):
                return self._drain()
        if self.info.is_tls is False:
            self._emit_raw(d, chunk)
        elif not d.dead:
            self._process(d)
        return self._drain()

    def finish(self) -> TlsSessionInfo:
        """End of capture: report what is left over and return the summary."""
        for d in self._dirs.values():
            if d.buf and self.info.is_tls and not d.dead:
                frame = d.frames[-1][1] if d.frames else 0
                self._problem(f"{len(d.buf)} bytes of an incomplete record at the end", frame)
            self.info.records_undecrypted += len(d.pending)
            d.pending.clear()
        if (
            self.info.is_tls
            and self.info.psk is None
            and not self.info.from_key_log
            and self.info.decryptable is not False
        ):
            if self.info.version is None:
                self._no_decrypt("the handshake was not captured")
            elif not self._keys_tried:
                self._no_decrypt("no protected record to test a key on")
            elif self.candidates:
                self._no_decrypt("no candidate key matched")
            else:
                self._no_decrypt("no key")
        return self.info

    @property
    def retaining(self) -> bool:
        """Whether protected records are kept for keys that may still come."""
        return self.retain > 0 and self._keys_may_come()

    def add_candidates(self, candidates: Sequence[PskCandidate]) -> None:
        """Keys found after the connection started: tried on the records kept so far (see
        ``retain``) and on every later record, after the ones given before."""
        known = {c.key for c in self.candidates}
        new = [c for c in candidates if c.key not in known]
        if not new:
            return
        self.candidates.extend(new)
        info = self.info
        if info.psk is not None or info.from_key_log or info.is_tls is False:
            return
        if self._offered is not None and self._binder_match is None and self._ch_msg:
            self._check_binders(self._ch_msg, new)
        match = self._binder_match
        if info.version == TLS13 and match is not None and match[1] == self._psk_selected:
            info.binder_ok = True
            self._accept(match[0], "binder")
            if not self._key_share:  # (psk_dhe_ke: proven, but not decryptable from it)
                self._recover()
                self._install_tls13(match[0].key)
                self._flush_pending()
            return
        if not self._keys_may_come():
            return
        first = self._first_pending()
        if first is None or self._suite is None:
            return  # the records to come try every candidate
        if self.info.version == TLS13:
            self._trial_tls13(first, new)
        else:
            self._trial_tls12(first, new)

    def stop_retaining(self) -> None:
        """Keep no more records for later keys (and forget those kept)."""
        self.retain = 0
        self._undecrypted_pending()

    def partial_frames(self) -> Iterator[tuple[bool, int]]:
        """(direction, frame) of the frames whose bytes wait in a record not complete yet."""
        for d in self._dirs.values():
            if d.buf:
                for end, frame, _ in d.frames:
                    if end > d.base:
                        yield d.from_client, frame

    def oldest_frame(self) -> int | None:
        """The earliest frame whose bytes are still held: part of a record not complete yet,
        or a protected record kept for a later key."""
        found = [
            f
            for d in self._dirs.values()
            for f in (
                d.frames[0][1] if d.buf and d.frames else None,
                d.pending[0].frame if d.pending else None,
            )
            if f is not None
        ]
        return min(found) if found else None

    # ------------------------------------------------------------ helpers

    def _keys_may_come(self) -> bool:
        info = self.info
        if info.psk is not None or info.from_key_log or self.info.is_tls is False:
            return False
        return info.decryptable is not False or info.undecryptable_reason in KEYS_MAY_FIX

    def _recover(self) -> None:
        """A key found late opens what an earlier trial could not: forget that verdict."""
        if self.info.decryptable is False and self.info.undecryptable_reason in KEYS_MAY_FIX:
            self.info.problems = [
                p for p in self.info.problems if not p.reason.startswith("cannot decrypt: ")
            ]
            self.info.decryptable = None
            self.info.undecryptable_reason = None

    def _first_pending(self) -> _Dir | None:
        """The direction whose oldest kept record came first (the trial record)."""
        dirs = [d for d in self._dirs.values() if d.pending]
        return min(dirs, key=lambda d: d.pending[0].frame) if dirs else None

    def _drain(self) -> list[AppData]:
        out, self._out = self._out, []
        return out

    def _problem(
        self,
        reason: str,
        frame: int | None,
        field_: str | None = None,
        severity: Severity = Severity.ERROR,
        offset: int | None = None,
        code: str = "",
    ) -> None:
        self.info.problems.append(
            Problem(LAYER, reason, frame, field=field_, offset=offset, severity=severity, code=code)
        )

    def _no_decrypt(self, reason: str) -> None:
        if self.info.decryptable is not False:
            self.info.decryptable = False
            self.info.undecryptable_reason = reason
            self.info.problems.append(
                Problem(LAYER, f"cannot decrypt: {reason}", None, severity=Severity.WARNING)
            )

    def _frame_at(self, d: _Dir, end_offset: int) -> tuple[int, int]:
        """Frame and timestamp of the byte just before ``end_offset``."""
        i = bisect.bisect_left(d.frames, (end_offset, -1, -1))
        if i >= len(d.frames):
            i = len(d.frames) - 1
        _, frame, ts = d.frames[i]
        return frame, ts

    def _detect(self, d: _Dir, chunk: StreamChunk) -> bool:
        data = bytes(d.buf[:8])
        if plausible_header(d.buf) or (
            len(d.buf) < RECORD_HEADER_LEN and data[:1] in (b"\x16", b"\x15")
        ):
            self.info.is_tls = True
            return True
        if data.startswith(b"MSRP "):
            proto: str | None = "msrp"
        elif len(data) >= 2 and (data[0] >> 5) in (1, 2) and 1 <= data[1] <= 17:
            proto = "bfcp"
        else:
            proto = None
            if self._chained_header(d.buf):
                # The capture began inside a record (no SYN): resynchronise on the next one.
                self.info.is_tls = True
                d.lost = True
                self._problem(
                    "the stream starts inside a TLS record; skipping to the next record",
                    chunk.frame,
                    severity=Severity.WARNING,
                )
                return True
        self.info.is_tls = False
        self.info.plaintext_protocol = proto
        what = proto.upper() if proto else f"bytes {data[:8].hex()}"
        self.info.not_tls_reason = f"not TLS: the stream starts with {what}"
        self.info.problems.append(
            Problem(LAYER, self.info.not_tls_reason, chunk.frame, severity=Severity.WARNING)
        )
        for dd in self._dirs.values():
            if dd.buf:
                self._emit_raw(dd, chunk)
        return False

    @staticmethod
    def _chained_header(buf: bytearray) -> bool:
        """Whether a plausible record header somewhere in ``buf`` leads to another one or
        exactly to the end of the data."""
        for p in range(1, len(buf) - RECORD_HEADER_LEN + 1):
            if plausible_header(buf, p):
                nxt = p + RECORD_HEADER_LEN + ((buf[p + 3] << 8) | buf[p + 4])
                if nxt == len(buf) or plausible_header(buf, nxt):
                    return True
        return False

    def _emit_raw(self, d: _Dir, chunk: StreamChunk) -> None:
        if not d.buf:
            return
        data = bytes(d.buf)
        end = d.base + len(data)
        self._emit(
            AppData(d.from_client, chunk.frame, chunk.ts_ns, data, d.plain_offset, d.base, end)
        )
        d.plain_offset += len(data)
        d.base += len(data)
        d.buf.clear()
        d.frames.clear()

    def _emit(self, item: AppData) -> None:
        self._out.append(item)
        self.info.app_bytes[item.from_client] += len(item.data)
        if self.on_data is not None:
            self.on_data(item)

    # ------------------------------------------------------------ records

    def _process(self, d: _Dir) -> None:
        while d.buf and not d.dead:
            if d.lost and not self._resync(d):
                return
            try:
                got = record_header(d.buf)
            except DissectError as e:
                frame, _ = self._frame_at(d, d.base + 1)
                self._problem(f"{e.reason} at stream offset {d.base + e.offset}", frame, e.field)
                if len(self.info.outside) < MAX_OUTSIDE:
                    head = bytes(d.buf[:OUTSIDE_HEAD])
                    self.info.outside.append(OutsideRecords(d.from_client, frame, d.base, head))
                d.lost = True
                continue
            if got is None:
                return
            ct, version, end = got
            fragment = bytes(d.buf[RECORD_HEADER_LEN:end])
            offset = d.base
            frames = d.frames
            # the commonest case, a record in one piece of the stream: that piece's frame
            frame, ts = frames[0][1:] if len(frames) == 1 else self._frame_at(d, offset + end)
            on_record = self.on_record
            # which frames carried the record: only the dissect view (on_record) shows them
            earlier = (
                () if on_record is None else self._earlier_frames(d, offset, offset + end, frame)
            )
            del d.buf[:end]
            d.base += end
            # forget the frames whose bytes are all consumed (keep the last one)
            if len(frames) > 1:
                done = bisect.bisect_right(frames, (d.base, 1 << 62, 0))
                del frames[: min(done, len(frames) - 1)]
            r = _Pending(ct, version, fragment, frame, ts, offset)
            if self._is_protected(d, r):
                if on_record is not None:
                    on_record(
                        RecordRead(
                            d.from_client,
                            frame,
                            offset,
                            r.content_type,
                            r.version,
                            r.fragment,
                            True,
                            earlier,
                        )
                    )
                self._on_protected(d, r)
            else:
                content = self._plain_record(d, r, on_record is not None)
                if on_record is not None:
                    assert content is not None
                    on_record(
                        RecordRead(
                            d.from_client,
                            frame,
                            offset,
                            r.content_type,
                            r.version,
                            r.fragment,
                            False,
                            earlier,
                            content,
                        )
                    )

    def _whole_records(self, d: _Dir, chunk: StreamChunk) -> None:
        """:meth:`_process` of a piece that starts a record with nothing buffered before it
        (most pieces: a record or a few in one segment): its complete records read where
        they are, not copied through the buffer, and the rest buffered as :meth:`feed` and
        :meth:`_process` leave it."""
        data = chunk.data
        base, n = chunk.offset, len(chunk.data)
        frame, ts = chunk.frame, chunk.ts_ns
        pos = 0
        while pos < n and not d.dead:
            try:
                got = record_header(data, pos)
            except DissectError:
                break  # _process reports it from the buffer
            if got is None:
                break
            ct, version, end = got
            r = _Pending(ct, version, data[pos + RECORD_HEADER_LEN : end], frame, ts, base + pos)
            pos = end
            d.base = base + pos
            if d.encrypted and d.prot is not None and ct != CT_CHANGE_CIPHER_SPEC:
                self._decrypt(d, r)  # (most records: under the keys found already)
            elif self._is_protected(d, r):
                self._on_protected(d, r)
            else:
                self._plain_record(d, r, False)
        if pos:
            d.base = base + pos
            # _process keeps the frame of the bytes consumed last (see there)
            d.frames[:] = [(base + n, frame, ts)]
            if pos == n:
                return
            d.buf += data[pos:]
        else:
            d.base = base
            d.buf += data
            d.frames.append((base + n, frame, ts))
        if not d.dead:
            self._process(d)

    @staticmethod
    def _earlier_frames(d: _Dir, start: int, stop: int, last: int) -> tuple[int, ...]:
        """The frames before ``last`` that carried bytes of stream range [start, stop)."""
        out: list[int] = []
        chunk_start: int | None = None  # unknown for the first entry: it began before start
        for end, frame, _ in d.frames:
            if chunk_start is not None and chunk_start >= stop:
                break
            if end > start and end != chunk_start and frame != last:
                out.append(frame)
            chunk_start = end
        return tuple(out)

    def _resync(self, d: _Dir) -> bool:
        """Drop bytes up to the next plausible record header whose length leads to another
        plausible header, to the end of the data, or past it (record not complete yet)."""
        buf = d.buf
        for p in range(len(buf) - RECORD_HEADER_LEN + 1):
            if not plausible_header(buf, p):
                continue
            nxt = p + RECORD_HEADER_LEN + ((buf[p + 3] << 8) | buf[p + 4])
            if nxt >= len(buf) or plausible_header(buf, nxt):
                del buf[:p]
                d.base += p
                d.lost = False
                return True
        keep = RECORD_HEADER_LEN - 1
        if len(buf) > keep:
            d.base += len(buf) - keep
            del buf[: len(buf) - keep]
        return False

    def _is_protected(self, d: _Dir, r: _Pending) -> bool:
        """Whether the record was sent under keys: after the sender's ChangeCipherSpec (TLS
        1.2) or the ServerHello (TLS 1.3); application data and an alert that is not two
        bytes are protected whenever they come."""
        ct = r.content_type
        if ct == CT_CHANGE_CIPHER_SPEC:
            return False
        return d.encrypted or ct == CT_APPLICATION_DATA or (ct == CT_ALERT and len(r.fragment) != 2)

    def _on_protected(self, d: _Dir, r: _Pending) -> None:
        if not d.encrypted:
            if r.content_type == CT_APPLICATION_DATA and self.info.version not in (TLS13, None):
                self._problem("application data before ChangeCipherSpec", r.frame)
                return
            d.encrypted = True  # TLS 1.3 data, or an encrypted alert after a CCS not captured
        if d.prot is None:
            if self.info.decryptable is False:
                self._keep(d, r)
                return
            self._keep(d, r, trial=True)
            self._try_keys(d)
            return
        self._decrypt(d, r)

    def _keep(self, d: _Dir, r: _Pending, trial: bool = False) -> None:
        """Keep a protected record until a key opens it: the trial record always, the others
        while keys may still come and ``retain`` allows."""
        if not trial and not self.retaining:
            self.info.records_undecrypted += 1
            return
        if not trial and self.retained_bytes + len(r.fragment) > self.retain:
            self.stop_retaining()
            self.info.records_undecrypted += 1
            return
        d.pending.append(r)
        self.retained_bytes += len(r.fragment)

    def _is_tls_client(self, d: _Dir) -> bool:
        side = self.info.client_hello_from_client
        return d.from_client if side is None else d.from_client == side

    def _plain_record(self, d: _Dir, r: _Pending, content: bool) -> RecordContent | None:
        """Take a record in the clear; what it holds (``content``: for the dissect view)."""
        ct, frag = r.content_type, r.fragment
        if ct == CT_CHANGE_CIPHER_SPEC:
            if self.info.version != TLS13:
                d.encrypted = True
        elif ct == CT_HANDSHAKE:
            messages, fragment_of = self._handshake_fragment(d, frag)
            for msg in messages:
                self._plain_handshake(d, msg, r.frame)
            return RecordContent(ct, len(frag), _split(messages), fragment_of) if content else None
        elif ct == CT_ALERT:
            self.info.alerts.append(AlertSeen(d.from_client, r.frame, frag[0], frag[1], False))
            return RecordContent(ct, 2, alert=(frag[0], frag[1])) if content else None
        return RecordContent(ct, len(frag)) if content else None

    @staticmethod
    def _handshake_fragment(d: _Dir, fragment: bytes) -> tuple[list[bytes], int | None]:
        """The messages a handshake record completes, and the type of the message it leaves
        unfinished (started here or earlier), if any."""
        before = len(d.hs)
        done = d.hs.add(fragment)
        left = len(d.hs)
        if not left:
            return done, None
        start = before + len(fragment) - left
        if start >= before:
            d.hs_type = fragment[start - before]
        return done, d.hs_type

    # ------------------------------------------------------------ handshake in the clear

    def _plain_handshake(self, d: _Dir, msg: bytes, frame: int) -> None:
        t = msg[0]
        body = msg[4:]
        try:
            if t == HT_CLIENT_HELLO and self._ch_msg is None:
                self._on_client_hello(d, msg, body)
                return
            if t == HT_SERVER_HELLO:
                self._transcript += msg
                self._pre.append((t, msg))
                self._on_server_hello(d, body, frame)
                return
            self._transcript += msg
            if t == HT_NEW_SESSION_TICKET:
                self._tickets.append(msg)
            else:
                self._pre.append((t, msg))
            if t == HT_CLIENT_KEY_EXCHANGE and (
                self._suite is None
                or self._suite.kx in (Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK)
                or self._suite.kx is Kx.RSA_PSK
            ):
                cke = parse_psk_key_exchange(body)
                self.info.psk_identity = cke.identity
            elif t == HT_SERVER_KEY_EXCHANGE:
                suite = self._suite
                if suite is not None and suite.kx in (Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK):
                    self.info.psk_identity_hint = parse_psk_key_exchange(
                        body, "server_key_exchange"
                    ).identity
        except DissectError as e:
            self._problem(e.reason, frame, e.field, offset=e.offset)

    def _on_client_hello(self, d: _Dir, msg: bytes, body: bytes) -> None:
        self._ch_msg = msg
        self._transcript += msg
        self._pre.append((HT_CLIENT_HELLO, msg))
        self.info.client_hello_from_client = d.from_client
        ch = parse_client_hello(body)
        self._ch = ch
        self.info.client_random = ch.random
        psk_ext = ch.ext(EXT_PRE_SHARED_KEY)
        if (
            psk_ext is not None
            and ch.extensions
            and ch.extensions[-1].ext_type == EXT_PRE_SHARED_KEY
        ):
            self._offered = parse_offered_psks(psk_ext)
            self._check_binders(msg, self.candidates)

    def _check_binders(self, ch_msg: bytes, candidates: Sequence[PskCandidate]) -> None:
        offered = self._offered
        assert offered is not None
        truncated = ch_msg[: len(ch_msg) - (2 + sum(1 + len(b) for b in offered.binders))]
        for cand in candidates:
            for idx, binder in enumerate(offered.binders):
                h = "SHA384" if len(binder) == 48 else "SHA256"
                if ks.psk_binder(h, cand.key, ks.digest(h, truncated)) == binder:
                    self._binder_match = (cand, idx)
                    return

    def _on_server_hello(self, d: _Dir, body: bytes, frame: int) -> None:
        sh = parse_server_hello(body)
        if sh.random == HRR_RANDOM:
            self._no_decrypt("HelloRetryRequest is not followed")
            return
        self.info.server_random = sh.random
        sv = sh.ext(EXT_SUPPORTED_VERSIONS)
        version = int.from_bytes(sv, "big") if sv and len(sv) == 2 else sh.legacy_version
        self.info.version = version
        self.info.cipher_suite = sh.cipher_suite
        suite = CIPHER_SUITES.get(sh.cipher_suite)
        self._suite = suite
        if suite is None:
            self._no_decrypt(f"unknown cipher suite 0x{sh.cipher_suite:04x}")
            return
        ch = self._ch
        cr = self.info.client_random
        if self.secrets is not None and cr is not None:
            if version == TLS13:
                self._logged_13 = self.secrets.tls13_secrets(cr)
            else:
                self._logged_ms = self.secrets.master_secret(cr)
        if version == TLS13 and self._logged_13 is not None:
            # the key log opens the records; a candidate PSK can still be proven by the binder
            self._tls13_psk_selected(sh.ext(EXT_PRE_SHARED_KEY), sh.ext(EXT_KEY_SHARE), frame)
            self._install_logged_tls13(self._logged_13)
            return
        if version == TLS13:
            self._tls13_after_server_hello(
                sh.ext(EXT_PRE_SHARED_KEY), sh.ext(EXT_KEY_SHARE), suite, frame
            )
            for dd in self._dirs.values():
                dd.encrypted = True
            return
        if not TLS10 <= version <= TLS12:
            self._problem(f"ServerHello chose version 0x{version:04x}", frame, "version")
            self._no_decrypt(f"version 0x{version:04x} is not TLS 1.0-1.3")
            return
        if suite.aead and version < TLS12:
            # RFC 5246 6.2.3.3: AEAD record protection exists from TLS 1.2 on; no key can
            # decrypt this, so the session is not tried (and the records stay encrypted).
            label = VERSION.label(version)
            self._problem(
                f"{suite.name} needs TLS 1.2, the ServerHello chose {label}", frame, "version"
            )
            self._no_decrypt(f"{suite.name} with {label}")
            return
        self.info.ems = bool(
            ch is not None
            and ch.ext(EXT_EXTENDED_MASTER_SECRET) is not None
            and sh.ext(EXT_EXTENDED_MASTER_SECRET) is not None
        )
        self.info.etm = bool(
            suite.mode is Mode.CBC
            and ch is not None
            and ch.ext(EXT_ENCRYPT_THEN_MAC) is not None
            and sh.ext(EXT_ENCRYPT_THEN_MAC) is not None
        )
        if self._logged_ms is not None:
            return  # the key log holds this session's master secret (resumed or not)
        if not suite.psk_only:
            self._no_decrypt(
                f"{suite.name}: {suite.kx} keys need the ephemeral secret, not only the PSK"
                + (" (the key log has no secret for this client random)" if self.secrets else "")
            )
        elif ch is not None and ch.session_id and sh.session_id == ch.session_id:
            # RFC 5246 7.4.1.3: an echoed session id resumes an earlier session.
            self._no_decrypt(
                "abbreviated handshake (session resumption): the master secret belongs to an "
                "earlier connection"
            )

    def _tls13_after_server_hello(
        self, psk_sel: bytes | None, key_share: bytes | None, suite: CipherSuite, frame: int
    ) -> None:
        if psk_sel is None or self._offered is None:
            self._no_decrypt("TLS 1.3 without a PSK (certificate handshake)")
            return
        self._tls13_psk_selected(psk_sel, key_share, frame)
        if key_share is not None:
            self._no_decrypt(
                "TLS 1.3 psk_dhe_ke: traffic keys depend on an ephemeral (EC)DHE secret"
            )
            return
        if self.info.psk is not None:
            self._install_tls13(self.info.psk)

    def _tls13_psk_selected(
        self, psk_sel: bytes | None, key_share: bytes | None, frame: int
    ) -> None:
        """The server's choice among the offered PSKs: identity, mode, and the candidate
        whose binder matched, accepted with the binder as its proof."""
        ch = self._ch
        modes = parse_psk_modes(ch.ext(45) or b"\x00") if ch else ()
        if psk_sel is None or self._offered is None:
            return
        sel = self._psk_selected = int.from_bytes(psk_sel, "big")
        self._key_share = key_share is not None
        if sel < len(self._offered.identities):
            self.info.psk_identity = self._offered.identities[sel].identity
        self.info.tls13_mode = "psk_dhe_ke" if key_share is not None else "psk_ke"
        if modes and (1 if key_share is not None else 0) not in modes:
            self._problem(
                f"server chose {self.info.tls13_mode}, client offered "
                + ", ".join(PSK_KEY_EXCHANGE_MODE.label(m) for m in modes),
                frame,
            )
        if self._binder_match is not None:
            cand, idx = self._binder_match
            self.info.binder_ok = idx == sel
            if idx == sel:
                self._accept(cand, "binder")
        elif self.candidates:
            self.info.binder_ok = False

    # ------------------------------------------------------------ keys

    def _accept(self, cand: PskCandidate, oracle: str) -> None:
        self.info.psk = cand.key
        self.info.psk_label = cand.label
        self.info.oracle = oracle

    def _install_logged_tls13(self, t13: ks.Tls13Secrets) -> None:
        """TLS 1.3 with traffic secrets from the key log (any key exchange)."""
        self._t13 = t13
        self.info.tls13_secrets = t13
        self.info.decryptable = True
        self.info.from_key_log = True
        if self.info.oracle is None:
            self.info.oracle = "aead-tag"  # the first record that opens (no PSK proven)
        for d in self._dirs.values():
            d.encrypted = True
            secret = t13.client_hs if self._is_tls_client(d) else t13.server_hs
            d.prot = self._tls13_prot(secret)

    def _install_tls13(self, psk: bytes) -> None:
        suite = self._suite
        assert suite is not None
        self._t13 = ks.tls13_handshake_secrets(suite.prf, psk, None, bytes(self._transcript))
        self.info.tls13_secrets = self._t13
        self.info.decryptable = True
        for d in self._dirs.values():
            secret = self._t13.client_hs if self._is_tls_client(d) else self._t13.server_hs
            d.prot = self._tls13_prot(secret)

    def _tls13_prot(self, secret: bytes) -> Tls13Aead:
        assert self._suite is not None
        return tls13_aead(self._suite, secret)

    def _t12_transcript(self, with_client_finished: bool) -> bytes:
        pre = b"".join(m for _, m in sorted(self._pre, key=lambda tm: _ORDER.get(tm[0], 99)))
        if not with_client_finished:
            return pre
        return pre + self._client_finished + b"".join(self._tickets)

    def _tls12_prots(self, psk: bytes) -> tuple[RecordProtection, RecordProtection, bytes]:
        """(client protection, server protection, master secret) for a candidate PSK."""
        ms = self._tls12_master(psk)
        c, s = self._tls12_prots_ms(ms)
        return c, s, ms

    def _tls12_master(self, psk: bytes) -> bytes:
        suite = self._suite
        v = self.info.version
        assert suite is not None and v is not None
        cr, sr = self.info.client_random or b"", self.info.server_random or b""
        pms = ks.psk_premaster(psk)
        if self.info.ems:
            return ks.extended_master_secret(
                v, suite.prf, pms, ks.transcript_hash(v, suite.prf, self._t12_transcript(False))
            )
        return ks.master_secret(v, suite.prf, pms, cr, sr)

    def _try_keys(self, d: _Dir) -> None:
        """Find the PSK with the first encrypted record of ``d`` (the Finished, in TLS 1.2)."""
        if self._keys_tried or self.info.decryptable is False:
            return
        suite, v = self._suite, self.info.version
        if suite is None or v is None or self.info.client_random is None:
            self._keys_tried = True
            self._no_decrypt("the handshake was not captured")
            self._undecrypted_pending()
            return
        self._keys_tried = True
        if v == TLS13:
            self._try_keys_tls13(d)
            return
        if self._logged_ms is not None:
            self._use_logged_master(d)
            return
        if not self.candidates:
            self._no_decrypt("no key")
            self._undecrypted_pending(keep=True)
            return
        self._trial_tls12(d, self.candidates)

    def _trial_tls12(self, d: _Dir, candidates: Sequence[PskCandidate]) -> None:
        """Try ``candidates`` on the first kept record of ``d`` (the Finished, normally)."""
        suite, v = self._suite, self.info.version
        assert suite is not None and v is not None
        first = d.pending[0]
        tls_client = self._is_tls_client(d)
        for cand in candidates:
            ms = self._tls12_master(cand.key)
            kb = self._key_block(ms)
            c, s = self._tls12_prots_kb(kb)
            prot = c if tls_client else s
            try:
                ct, plain = prot.unprotect(first.content_type, first.version, first.fragment)
            except DissectError:
                continue
            oracle = "aead-tag" if suite.aead else "record-mac"
            if ct == CT_HANDSHAKE and plain[:1] == bytes((HT_FINISHED,)) and tls_client:
                expected = self._finished12(ms, True, self._t12_transcript(False))
                if plain[4:] == expected:
                    oracle = "finished"
                else:
                    self._problem(
                        "client Finished does not verify (transcript incomplete?)", first.frame
                    )
            self._recover()
            self._accept(cand, oracle)
            self.info.master_secret = ms
            self.info.decryptable = True
            # Fresh states: the trial consumed a sequence number.
            fresh_c, fresh_s = self._tls12_prots_kb(kb)
            for dd in self._dirs.values():
                dd.prot = fresh_c if self._is_tls_client(dd) else fresh_s
            self._flush_pending()
            return
        self._no_match()

    def _finished12(self, ms: bytes, client: bool, transcript: bytes) -> bytes:
        """A TLS 1.2 Finished's verify_data; the trial's for the client Finished is kept, as
        the record is opened once more with the fresh states."""
        key = (ms, client, transcript)
        if self._finished is not None and self._finished[0] == key:
            return self._finished[1]
        suite, v = self._suite, self.info.version
        assert suite is not None and v is not None
        h = ks.transcript_hash(v, suite.prf, transcript)
        got = ks.finished_verify_data(v, suite.prf, ms, client, h)
        self._finished = (key, got)
        return got

    def _tls12_prots_ms(self, ms: bytes) -> tuple[RecordProtection, RecordProtection]:
        return self._tls12_prots_kb(self._key_block(ms))

    def _key_block(self, ms: bytes) -> ks.KeyBlock:
        suite, v = self._suite, self.info.version
        assert suite is not None and v is not None
        cr, sr = self.info.client_random or b"", self.info.server_random or b""
        return ks.key_block(v, suite, ms, cr, sr)

    def _tls12_prots_kb(self, kb: ks.KeyBlock) -> tuple[RecordProtection, RecordProtection]:
        suite, v = self._suite, self.info.version
        assert suite is not None and v is not None
        etm = self.info.etm
        c = tls12_protection(suite, v, kb.client_key, kb.client_mac_key, kb.client_iv, etm)
        s = tls12_protection(suite, v, kb.server_key, kb.server_mac_key, kb.server_iv, etm)
        return c, s

    def _use_logged_master(self, d: _Dir) -> None:
        """TLS 1.2 with the master secret from the key log; its Finished is the oracle."""
        ms = self._logged_ms
        suite, v = self._suite, self.info.version
        assert ms is not None and suite is not None and v is not None
        first = d.pending[0]
        tls_client = self._is_tls_client(d)
        c, s = self._tls12_prots_ms(ms)
        try:
            ct, plain = (c if tls_client else s).unprotect(
                first.content_type, first.version, first.fragment
            )
        except DissectError as e:
            self._no_decrypt(f"the key log's master secret does not decrypt: {e.reason}")
            self._undecrypted_pending()
            return
        oracle = "aead-tag" if suite.aead else "record-mac"
        if ct == CT_HANDSHAKE and plain[:1] == bytes((HT_FINISHED,)) and tls_client:
            transcript = ks.transcript_hash(v, suite.prf, self._t12_transcript(False))
            if plain[4:] == ks.finished_verify_data(v, suite.prf, ms, True, transcript):
                oracle = "finished"
        self.info.oracle = oracle
        self.info.from_key_log = True
        self.info.master_secret = ms
        if self._suite is not None and self._suite.psk_only:
            # a pure PSK suite: the candidate whose master secret is the logged one is the PSK
            for cand in self.candidates:
                if self._tls12_prots(cand.key)[2] == ms:
                    self._accept(cand, oracle)
                    break
        self.info.decryptable = True
        fresh_c, fresh_s = self._tls12_prots_ms(ms)
        for dd in self._dirs.values():
            dd.prot = fresh_c if self._is_tls_client(dd) else fresh_s
        self._flush_pending()

    def _try_keys_tls13(self, d: _Dir) -> None:
        if self.info.decryptable is False:
            return
        self._trial_tls13(d, self.candidates)

    def _trial_tls13(self, d: _Dir, candidates: Sequence[PskCandidate]) -> None:
        """psk_ke without a matching binder (a damaged binder, or keys that came after the
        ClientHello): try the AEAD tag of the first kept record of ``d``."""
        first = d.pending[0]
        for cand in candidates:
            self._install_tls13(cand.key)
            prot = d.prot
            assert prot is not None
            try:
                prot.unprotect(first.content_type, first.version, first.fragment)
            except DissectError:
                continue
            self._recover()
            self._install_tls13(cand.key)
            self._accept(cand, "aead-tag")
            self._flush_pending()
            return
        for dd in self._dirs.values():
            dd.prot = None
        if self.info.decryptable is not False:
            self.info.decryptable = None
        self._no_match()

    def _no_match(self) -> None:
        reason = "no candidate key matched" if self.candidates else "no key"
        self._no_decrypt(reason)
        self.info.undecryptable_reason = reason  # (a later trial says it again)
        self._undecrypted_pending(keep=True)

    def _undecrypted_pending(self, keep: bool = False) -> None:
        """Count the kept records as undecrypted and forget them, unless ``keep`` and keys
        may still come (``retain``): then they wait for :meth:`add_candidates`."""
        if keep and self.retaining and self.retained_bytes <= self.retain:
            return
        for d in self._dirs.values():
            self.info.records_undecrypted += len(d.pending)
            d.pending.clear()
        self.retained_bytes = 0

    def _flush_pending(self) -> None:
        # The side whose Finished the other side's Finished hashes goes first: the TLS 1.2
        # client's, the TLS 1.3 server's.
        first = self.info.version != TLS13
        for d in sorted(self._dirs.values(), key=lambda d: self._is_tls_client(d) != first):
            pending, d.pending = d.pending, []
            for r in pending:
                self.retained_bytes -= len(r.fragment)
                self._decrypt(d, r)

    # ------------------------------------------------------------ decryption

    def _decrypt(self, d: _Dir, r: _Pending) -> None:
        prot = d.prot
        if prot is None or self.info.decryptable is False:
            self.info.records_undecrypted += 1
            return
        try:
            if d.seq_unknown:
                ct, plain = self._unprotect_guessing_seq(d, prot, r)
            else:
                ct, plain = prot.unprotect(r.content_type, r.version, r.fragment)
        except DissectError as e:
            self.info.records_failed.append(
                RecordFailure(d.from_client, r.frame, r.offset, e.reason)
            )
            self._problem(
                f"record at stream offset {r.offset} does not decrypt: {e.reason}",
                r.frame,
                "record",
                code=e.code,
            )
            return
        self.info.records_ok += 1
        if ct == CT_APPLICATION_DATA:
            end = r.offset + RECORD_HEADER_LEN + len(r.fragment)
            self._emit(
                AppData(d.from_client, r.frame, r.ts_ns, plain, d.plain_offset, r.offset, end)
            )
            d.plain_offset += len(plain)
            if self.on_record is not None:
                self.on_record(
                    RecordOpened(d.from_client, r.frame, r.offset, RecordContent(ct, len(plain)))
                )
            return
        on_record = self.on_record  # what the record holds: for the dissect view alone
        if ct == CT_ALERT and len(plain) == 2:
            self.info.alerts.append(AlertSeen(d.from_client, r.frame, plain[0], plain[1], True))
            if on_record is not None:
                content = RecordContent(ct, 2, alert=(plain[0], plain[1]))
        elif ct == CT_HANDSHAKE:
            messages, fragment_of = self._handshake_fragment(d, plain)
            if on_record is not None:
                content = RecordContent(ct, len(plain), _split(messages), fragment_of)
            for msg in messages:
                self._encrypted_handshake(d, msg, r.frame)
        elif on_record is not None:
            content = RecordContent(ct, len(plain))
        if on_record is not None:
            on_record(RecordOpened(d.from_client, r.frame, r.offset, content))

    def _unprotect_guessing_seq(
        self, d: _Dir, prot: RecordProtection, r: _Pending
    ) -> tuple[int, bytes]:
        suite = self._suite
        start = prot.seq
        guesses = list(range(start, start + SEQ_GUESS_WINDOW))
        explicit = suite is not None and suite.mode in (Mode.GCM, Mode.CCM, Mode.CCM_8)
        if explicit and self.info.version != TLS13 and len(r.fragment) >= 8:
            # OpenSSL and most stacks send the sequence number as the explicit nonce.
            guesses.insert(0, int.from_bytes(r.fragment[:8], "big"))
        iv = prot.iv if isinstance(prot, Tls12MacCipher) else None
        for g in guesses:
            prot.seq = g
            if isinstance(prot, Tls12MacCipher) and iv is not None:
                prot.iv = iv
            try:
                got = prot.unprotect(r.content_type, r.version, r.fragment)
            except DissectError:
                continue
            d.seq_unknown = False
            return got
        prot.seq = start + 1
        raise DissectError(
            LAYER, 0, "after lost bytes: no sequence number in reach authenticates", "record"
        )

    def _encrypted_handshake(self, d: _Dir, msg: bytes, frame: int) -> None:
        t, body = msg[0], msg[4:]
        tls_client = self._is_tls_client(d)
        suite, v = self._suite, self.info.version
        assert suite is not None and v is not None
        if v != TLS13:
            if t == HT_FINISHED and not d.finished_seen:
                d.finished_seen = True
                ms = self.info.master_secret or b""
                expected = self._finished12(ms, tls_client, self._t12_transcript(not tls_client))
                if body != expected:
                    self._problem(
                        f"{'client' if tls_client else 'server'} Finished does not verify", frame
                    )
                if tls_client:
                    self._client_finished = msg
            else:
                self._problem(
                    f"encrypted handshake message {t} (renegotiation?) not followed", frame
                )
            return
        t13 = self._t13
        assert t13 is not None
        h = suite.prf
        if t == HT_FINISHED and not d.finished_seen:
            d.finished_seen = True
            base = t13.client_hs if tls_client else t13.server_hs
            if body != ks.tls13_finished(h, base, ks.digest(h, bytes(self._transcript))):
                self._problem(
                    f"{'client' if tls_client else 'server'} Finished does not verify", frame
                )
            elif self.info.oracle == "aead-tag":
                self.info.oracle = "finished"
            self._transcript += msg
            if not tls_client and self._logged_13 is not None:
                # the key log gives the application secrets themselves
                self._t13 = t13
                d.prot = self._tls13_prot(t13.server_ap)
            elif not tls_client:
                self._t13 = ks.tls13_application_secrets(h, t13, bytes(self._transcript))
                self.info.tls13_secrets = self._t13
                d.prot = self._tls13_prot(self._t13.server_ap)
            else:
                d.prot = self._tls13_prot(t13.client_ap)
            return
        if not d.finished_seen:
            self._transcript += msg  # EncryptedExtensions (and anything before Finished)
            return
        if t == HT_KEY_UPDATE:
            t13 = self._t13 = ks.tls13_key_update(h, t13, tls_client)
            d.prot = self._tls13_prot(t13.client_ap if tls_client else t13.server_ap)


def _split(messages: list[bytes]) -> tuple[tuple[int, bytes], ...]:
    """Whole handshake messages as (type, body)."""
    return tuple((m[0], m[4:]) for m in messages)


# ---------------------------------------------------------------- whole captures


@dataclass(slots=True)
class DecodedConnection:
    """One TCP connection's TLS summary and plaintext (both directions, record order)."""

    client: Endpoint
    server: Endpoint
    first_frame: int
    info: TlsSessionInfo
    data: list[AppData]

    def plaintext(self, from_client: bool) -> bytes:
        return b"".join(a.data for a in self.data if a.from_client == from_client)


class TlsFlowHandler(NullHandler):
    """A FlowHandler that runs one :class:`TlsConnectionDecoder` per TCP connection whose
    port is in ``ports`` (all connections when ``ports`` is None)."""

    def __init__(
        self,
        candidates: Sequence[PskCandidate],
        ports: set[int] | None = None,
        keep_data: bool = True,
    ) -> None:
        self.candidates = candidates
        self.ports = ports
        self.keep_data = keep_data
        self.connections: list[DecodedConnection] = []
        self._decoders: dict[int, tuple[TlsConnectionDecoder, DecodedConnection]] = {}

    def _wanted(self, conn: TcpConnection) -> bool:
        return (
            self.ports is None or conn.client.port in self.ports or conn.server.port in self.ports
        )

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        got = self._decoders.get(conn.index)
        if got is None:
            if not self._wanted(conn):
                return
            dec = TlsConnectionDecoder(self.candidates)
            dc = DecodedConnection(conn.client, conn.server, conn.first_frame, dec.info, [])
            self.connections.append(dc)
            got = self._decoders[conn.index] = (dec, dc)
        out = got[0].feed(from_client, chunk)
        if self.keep_data:
            got[1].data.extend(out)

    def on_tcp_close(self, conn: TcpConnection) -> None:
        got = self._decoders.pop(conn.index, None)
        if got is not None:
            got[0].finish()

    def finish(self) -> None:
        for dec, _ in self._decoders.values():
            dec.finish()
        self._decoders.clear()


def decrypt_capture(
    paths: Sequence[str | os.PathLike[str]],
    candidates: Sequence[PskCandidate],
    ports: set[int] | None = None,
    keep_data: bool = True,
) -> list[DecodedConnection]:
    """Decode every TCP connection of the captures (on ``ports``) as TLS-PSK."""
    handler = TlsFlowHandler(candidates, ports, keep_data)
    table = FlowTable(handler)
    table.feed_all(iter_frames(*paths))
    handler.finish()
    return handler.connections
