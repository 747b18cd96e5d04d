"""SIP over TLS: decrypt the signalling with an NSS key log, then treat it like any other SIP.

The conference's SIP may travel in TLS (port 5061, RFC 3261 26.2), protected by a
certificate handshake (ECDHE or RSA). Its keys cannot be recovered from the capture; the
endpoints can log them (``SSLKEYLOGFILE``, ``openssl s_client -keylogfile``). :class:`KeyLog`
reads such a log - from a file given with ``--sip-keylog`` or from the Decryption Secrets
Blocks of the pcapng itself - and :class:`SipTlsHandler` runs the TLS decoder of
:mod:`mikeyshark.decrypt` in its "known secrets" mode on each SIP/TLS connection, handing the
plaintext to the :class:`~mikeyshark.calls.SipFlowHandler` as the connection's SIP stream.

A SIP/TLS connection whose session is not in the key log is reported as encrypted
signalling (:class:`EncryptedSignalling`): its calls, SDP and MIKEY could not be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mikeyshark.calls import SipFlowHandler
from mikeyshark.decrypt import AppData, TlsConnectionDecoder, TlsSessionInfo
from mikeyshark.dissectors import sip as siplib
from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.evidence import CallRecord
from mikeyshark.flows import TcpConnection
from mikeyshark.model import Endpoint, Problem, Severity, StreamChunk

SIP_TLS_PORTS = frozenset({siplib.TLS_PORT})
SECRETS_TLS_KEYLOG = 0x544C534B  # pcapng Decryption Secrets Block type "TLSK"
LAYER = "sip-tls"

_LINE = re.compile(r"^([A-Z_0-9]+) ([0-9A-Fa-f]{64}) ([0-9A-Fa-f]+)$")
_TLS13_LABELS = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
)


class KeyLog:
    """NSS key log secrets by client random (the :class:`mikeyshark.decrypt.KnownSecrets` the
    TLS decoder asks). Lines it cannot use are counted in ``skipped``, never fatal."""

    def __init__(self) -> None:
        self._by_random: dict[bytes, dict[str, bytes]] = {}
        self.lines = 0
        self.skipped = 0
        self._watched: list[tuple[list[tuple[int, bytes]], list[int]]] = []

    @classmethod
    def parse(cls, text: str) -> KeyLog:
        log = cls()
        log.add_text(text)
        return log

    @classmethod
    def load(cls, path: str | Path) -> KeyLog:
        """Raises OSError / UnicodeDecodeError when the file cannot be read."""
        return cls.parse(Path(path).read_text(encoding="ascii"))

    def __len__(self) -> int:
        return len(self._by_random)

    def available(self) -> bool:
        """Whether any secret is known (including from the watched capture blocks so far)."""
        if self._watched:
            self._refresh()
        return bool(self._by_random)

    def add_text(self, text: str) -> None:
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = _LINE.match(line)
            if m is None:
                self.skipped += 1  # RSA pre-master lines and the like: not used here
                continue
            self.lines += 1
            label, cr, secret = m.groups()
            self._by_random.setdefault(bytes.fromhex(cr), {})[label] = bytes.fromhex(secret)

    def watch(self, secrets: list[tuple[int, bytes]]) -> None:
        """Also use the TLS key logs that appear in ``secrets`` (a capture reader's
        Decryption Secrets Blocks, filled while the capture is read)."""
        self._watched.append((secrets, [0]))

    def _refresh(self) -> None:
        for lst, seen in self._watched:
            while seen[0] < len(lst):
                stype, data = lst[seen[0]]
                seen[0] += 1
                if stype == SECRETS_TLS_KEYLOG:
                    self.add_text(data.decode("ascii", "replace"))

    def _get(self, client_random: bytes) -> dict[str, bytes] | None:
        got = self._by_random.get(client_random)
        if got is None and self._watched:
            self._refresh()
            got = self._by_random.get(client_random)
        return got

    def master_secret(self, client_random: bytes) -> bytes | None:
        got = self._get(client_random)
        return got.get("CLIENT_RANDOM") if got else None

    def tls13_secrets(self, client_random: bytes) -> ks.Tls13Secrets | None:
        got = self._get(client_random)
        if not got or any(label not in got for label in _TLS13_LABELS):
            return None
        return ks.Tls13Secrets(
            b"",
            b"",
            b"",
            got["CLIENT_HANDSHAKE_TRAFFIC_SECRET"],
            got["SERVER_HANDSHAKE_TRAFFIC_SECRET"],
            got["CLIENT_TRAFFIC_SECRET_0"],
            got["SERVER_TRAFFIC_SECRET_0"],
            got.get("EXPORTER_SECRET", b""),
        )


@dataclass(frozen=True, slots=True)
class EncryptedSignalling:
    """A SIP/TLS connection whose content could not be read."""

    client: Endpoint
    server: Endpoint
    first_frame: int
    frames: tuple[int, ...]
    reason: str

    def problem(self, file: str | None = None) -> Problem:
        return Problem(
            LAYER,
            f"SIP over TLS {self.client} -> {self.server} is encrypted and could not be "
            f"read ({self.reason}): the SIP, SDP and MIKEY of its calls are unknown; give "
            "the endpoints' TLS key log with --sip-keylog",
            self.first_frame,
            file,
            "tls",
            severity=Severity.ERROR,
        )


@dataclass(eq=False, slots=True)
class _SipView:
    """The connection as the SIP handler sees it: the decrypted byte stream of a TLS
    connection (its own identity, so the SIP handler's per-stream state is its own)."""

    client: Endpoint
    server: Endpoint
    transport: str = "TLS"


@dataclass(eq=False, slots=True)
class _Session:
    conn_client: Endpoint
    conn_server: Endpoint
    first_frame: int
    known_port: bool  # on a SIP/TLS port: reported when it cannot be read
    view: _SipView
    decoder: TlsConnectionDecoder | None = None
    frames: list[int] = field(default_factory=list)
    sip: bool | None = None  # whether the plaintext is SIP (None: no plaintext yet)
    done: bool = False


class SipTlsHandler:
    """Finds SIP in TLS connections and hands its plaintext to ``sip``.

    Connections on a SIP/TLS port are always followed (to decrypt them, or to say that they
    could not be); with a key log, any connection that starts with a TLS handshake is tried,
    and dropped as soon as its plaintext is not SIP or its session is not in the log.
    ``on_tcp_data`` returns True when the bytes belong to SIP/TLS (the caller then need not
    look at them as SIP in the clear).
    """

    def __init__(
        self,
        sip: SipFlowHandler,
        keylog: KeyLog | None,
        *,
        ports: frozenset[int] = SIP_TLS_PORTS,
        max_frames: int = 64,
    ) -> None:
        self.sip = sip
        self.keylog = keylog
        self.ports = ports
        self.max_frames = max_frames
        self.encrypted: list[EncryptedSignalling] = []
        self.sessions: list[TlsSessionInfo] = []  # decrypted SIP/TLS sessions
        self.problems: list[Problem] = []
        self._conns: dict[int, _Session] = {}
        # Connections judged not SIP/TLS at their first bytes: a TLS session is recognised
        # by its first record, so later chunks (every chunk of every media connection) need
        # no second look.
        self._ignored: set[int] = set()

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> bool:
        st = self._conns.get(id(conn))
        if st is None:
            if id(conn) in self._ignored:
                return False
            if not chunk.data:
                return conn.client.port in self.ports or conn.server.port in self.ports
            st = self._start(conn, chunk)
            if st is None:
                self._ignored.add(id(conn))
                return False
        if st.done:
            return st.known_port
        if len(st.frames) < self.max_frames:
            st.frames.append(chunk.frame)
        assert st.decoder is not None
        st.decoder.feed(from_client, chunk)
        info = st.decoder.info
        if info.decryptable is False and not st.known_port:
            self._drop(conn, st)
        return st.known_port or st.sip is True

    def _start(self, conn: TcpConnection, chunk: StreamChunk) -> _Session | None:
        known = conn.client.port in self.ports or conn.server.port in self.ports
        d = chunk.data
        tls_start = len(d) >= 3 and d[0] == 0x16 and d[1] == 3
        if not known and (not tls_start or self.keylog is None or not self.keylog.available()):
            return None
        st = _Session(
            conn.client, conn.server, chunk.frame, known, _SipView(conn.client, conn.server)
        )

        def on_data(item: AppData) -> None:
            self._plain(conn, st, item)

        st.decoder = TlsConnectionDecoder([], on_data, secrets=self.keylog)
        self._conns[id(conn)] = st
        return st

    def _plain(self, conn: TcpConnection, st: _Session, item: AppData) -> None:
        if st.sip is None:
            st.sip = siplib.looks_like_sip(item.data.lstrip(b"\r\n")) or (
                not item.data.strip(b"\r\n")  # a CRLF keep-alive first
            )
            if not st.sip:
                if st.known_port:
                    self.problems.append(
                        Problem(
                            LAYER,
                            f"TLS on SIP port {conn.server.port} decrypted, but the plaintext "
                            "is not SIP",
                            item.frame,
                            severity=Severity.WARNING,
                        )
                    )
                st.done = True
                return
        if not st.sip:
            return
        self.sip.on_tcp_data(
            st.view,
            item.from_client,
            StreamChunk(item.frame, item.ts_ns, item.stream_offset, item.data),
        )

    def _drop(self, conn: TcpConnection, st: _Session) -> None:
        st.done = True
        st.decoder = None

    def on_tcp_close(self, conn: TcpConnection) -> None:
        self._ignored.discard(id(conn))
        st = self._conns.pop(id(conn), None)
        if st is not None:
            self._end(st)

    def finish(self) -> None:
        for st in self._conns.values():
            self._end(st)
        self._conns.clear()
        self._ignored.clear()

    def _end(self, st: _Session) -> None:
        dec = st.decoder
        if dec is not None:
            info = dec.finish()
            if info.decrypted:
                self.sessions.append(info)
            elif st.known_port and info.is_tls:
                why = info.undecryptable_reason or "not decrypted"
                if self.keylog is None or not self.keylog.available():
                    why = "no TLS key log was given, nor found in the capture"
                elif info.client_random is not None and not self._logged(info):
                    why = (
                        "the key log has no secrets for client random "
                        f"{info.client_random.hex()[:16]}..."
                    )
                self.encrypted.append(
                    EncryptedSignalling(
                        st.conn_client, st.conn_server, st.first_frame, tuple(st.frames), why
                    )
                )
            for p in info.problems:
                self.problems.append(p)
        if st.sip:
            self.sip.on_tcp_close(st.view)
        st.decoder = None

    def _logged(self, info: TlsSessionInfo) -> bool:
        cr = info.client_random
        if self.keylog is None or cr is None:
            return False
        return self.keylog.master_secret(cr) is not None or (
            self.keylog.tls13_secrets(cr) is not None
        )


def keylog_from(texts: Iterable[str], watch: list[tuple[int, bytes]] | None) -> KeyLog | None:
    """The key log of the given texts and of a capture's Decryption Secrets Blocks (``watch``,
    filled as the capture is read). None when neither can hold one."""
    texts = [t for t in texts if t]
    if not texts and watch is None:
        return None
    log = KeyLog()
    for t in texts:
        log.add_text(t)
    if watch is not None:
        log.watch(watch)
    return log


def encrypted_call(e: EncryptedSignalling, capture: str) -> CallRecord:
    """A call-level entry for a SIP/TLS connection nobody could read: the report shows that
    signalling was there, encrypted, rather than nothing."""
    return CallRecord(
        call_id=f"encrypted SIP/TLS {e.client} -> {e.server}",
        offerer=e.client,
        answerer=e.server,
        invite_frame=e.first_frame,
        problems=[e.problem(capture)],
        capture=capture,
        signalling="encrypted",
    )
