"""SIP over TLS: decrypt the signalling with an NSS key log, then treat it like any other SIP.

The conference's SIP may travel in TLS (port 5061, RFC 3261 26.2), protected by a
certificate handshake (ECDHE or RSA). Its keys cannot be recovered from the capture; the
endpoints can log them (``SSLKEYLOGFILE``, ``openssl s_client -keylogfile``).
:class:`~mikeyshark.keylog.KeyLog` reads such a log - from a file given with
``--tls-keylog`` or from the Decryption Secrets Blocks of the pcapng itself - and
:class:`SipTlsHandler` runs the TLS decoder of :mod:`mikeyshark.decrypt` in its "known
secrets" mode on each SIP/TLS connection, handing the plaintext to the
:class:`~mikeyshark.calls.SipFlowHandler` as the connection's SIP stream.

A SIP/TLS connection whose session is not in the key log is reported as encrypted
signalling (:class:`EncryptedSignalling`): its calls, SDP and MIKEY could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mikeyshark.calls import SipFlowHandler
from mikeyshark.decrypt import AppData, TlsConnectionDecoder, TlsSessionInfo
from mikeyshark.dissectors import sip as siplib
from mikeyshark.dissectors.tls.constants import CIPHER_SUITES, Kx
from mikeyshark.evidence import CallRecord, Signalling
from mikeyshark.flows import TcpConnection
from mikeyshark.keylog import KeyLog
from mikeyshark.model import Endpoint, Problem, Severity, StreamChunk

SIP_TLS_PORTS = frozenset({siplib.TLS_PORT})
LAYER = "sip-tls"


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
            "the endpoints' TLS key log with --tls-keylog",
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
        self.sip_streams: set[int] = set()  # the TCP streams whose plaintext is SIP
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

    def declined(self, conn: TcpConnection) -> bool:
        """``conn`` was found not to be SIP/TLS, nor on a SIP/TLS port: ``on_tcp_data`` will
        return False for all its later bytes without looking at them."""
        if id(conn) in self._ignored:
            return True
        st = self._conns.get(id(conn))
        return st is not None and st.done and not st.known_port

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
        if not item.data:
            return  # an empty record (TLS 1.0 CBC's empty first fragment) says nothing
        if st.sip is None:
            st.sip = siplib.looks_like_sip(item.data.lstrip(b"\r\n")) or (
                not item.data.strip(b"\r\n")  # a CRLF keep-alive first
            )
            if not st.sip:
                # not SIP, even on the SIP/TLS port: the media analysis reports what it is
                st.done = True
                return
            self.sip_streams.add(conn.index)
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
            elif st.known_port and info.is_tls and not _psk_session(info):
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
            if st.sip or not _psk_session(info):
                # (a TLS-PSK session that is not SIP is media: reported with the media)
                self.problems.extend(info.problems)
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


def _psk_session(info: TlsSessionInfo) -> bool:
    """A TLS-PSK session (RFC 4279/5487 suites, TLS 1.3 with a PSK): not how SIP uses TLS
    (RFC 3261 26.2: certificates), but how the TR 29.828 media does; reported as media."""
    if info.tls13_mode is not None:
        return True
    suite = CIPHER_SUITES.get(info.cipher_suite) if info.cipher_suite is not None else None
    return suite is not None and suite.kx in (Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK)


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
        signalling=Signalling.ENCRYPTED,
    )
