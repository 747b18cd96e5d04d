"""A sans-IO TLS-PSK client and server: TLS 1.0-1.2 with plain PSK suites (extended master
secret and encrypt-then-MAC as options) and TLS 1.3 with an external PSK (psk_ke, or
psk_dhe_ke over X25519).

Bytes in (:meth:`TlsPskEngine.receive_data`), bytes out (:meth:`TlsPskEngine.data_to_send`),
events for the caller.  The synthesizer uses it in both roles to produce real handshakes and
records; the live replay runs it over sockets.  It is a test peer, not a hardened stack:
no renegotiation, resumption, HelloRetryRequest or 0-RTT.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.dissectors.tls.constants import (
    AD_BAD_RECORD_MAC,
    AD_CLOSE_NOTIFY,
    AD_DECODE_ERROR,
    AD_DECRYPT_ERROR,
    AD_HANDSHAKE_FAILURE,
    AD_ILLEGAL_PARAMETER,
    AD_UNEXPECTED_MESSAGE,
    AD_UNKNOWN_PSK_IDENTITY,
    ALERT_FATAL,
    ALERT_WARNING,
    CIPHER_SUITE,
    CIPHER_SUITES,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    EXT_ENCRYPT_THEN_MAC,
    EXT_EXTENDED_MASTER_SECRET,
    EXT_KEY_SHARE,
    EXT_PRE_SHARED_KEY,
    EXT_PSK_KEY_EXCHANGE_MODES,
    EXT_RENEGOTIATION_INFO,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS,
    GROUP_X25519,
    HT_CLIENT_HELLO,
    HT_CLIENT_KEY_EXCHANGE,
    HT_ENCRYPTED_EXTENSIONS,
    HT_FINISHED,
    HT_KEY_UPDATE,
    HT_NEW_SESSION_TICKET,
    HT_SERVER_HELLO,
    HT_SERVER_HELLO_DONE,
    HT_SERVER_KEY_EXCHANGE,
    MAX_PLAINTEXT,
    PSK_DHE_KE,
    PSK_KE,
    TLS10,
    TLS12,
    TLS13,
    CipherSuite,
    Kx,
    Mode,
)
from mikeyshark.dissectors.tls.protection import (
    Plaintext,
    RecordProtection,
    Tls13Aead,
    tls12_protection,
    tls13_aead,
)
from mikeyshark.dissectors.tls.records import (
    Alert,
    ClientHello,
    Extension,
    HandshakeBuffer,
    KeyShareEntry,
    OfferedPsks,
    PskIdentity,
    PskKeyExchange,
    ServerHello,
    build_binders,
    build_record,
    build_u16_list,
    handshake_message,
    parse_alert,
    parse_client_hello,
    parse_key_share_client,
    parse_key_share_server,
    parse_offered_psks,
    parse_psk_key_exchange,
    parse_psk_modes,
    parse_record,
    parse_server_hello,
    parse_u16_list,
)

Rng = Callable[[int], bytes]

SCSV = 0x00FF
# What OpenSSL accepts from a PSK client; PSK handshakes never use them.
_SIGALGS = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601)


@dataclass(frozen=True, slots=True)
class PskConfig:
    """What one side offers or accepts.  Order of ``cipher_suites`` is preference order."""

    psk: bytes
    identity: bytes
    versions: tuple[int, ...] = (TLS12,)
    cipher_suites: tuple[int, ...] = (CIPHER_SUITE["TLS_PSK_WITH_AES_128_GCM_SHA256"],)
    ems: bool = True
    etm: bool = True
    tls13_modes: tuple[int, ...] = (PSK_KE,)
    tls13_psk_hash: str = "SHA256"
    identity_hint: bytes | None = None  # server: send a ServerKeyExchange with this hint
    max_fragment: int = MAX_PLAINTEXT
    compat_ccs: bool = True  # TLS 1.3 middlebox compatibility (session id + CCS)


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    pass


@dataclass(frozen=True, slots=True)
class ApplicationData:
    data: bytes


@dataclass(frozen=True, slots=True)
class AlertReceived:
    level: int
    description: int


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    pass


Event = HandshakeComplete | ApplicationData | AlertReceived | ConnectionClosed


class TlsError(Exception):
    """The handshake failed; a fatal alert with ``description`` is queued for the peer."""

    def __init__(self, description: int, reason: str) -> None:
        super().__init__(reason)
        self.description = description
        self.reason = reason

    def __reduce__(self) -> tuple[type[TlsError], tuple[int, str]]:
        # pickled by its constructor's arguments, not ``args`` (see DissectError)
        return (type(self), (self.description, self.reason))


@dataclass(slots=True)
class SessionSecrets:
    """What a key log needs (NSS format): TLS 1.2 master secret, TLS 1.3 traffic secrets."""

    client_random: bytes = b""
    server_random: bytes = b""
    master_secret: bytes = b""
    tls13: ks.Tls13Secrets | None = None


class TlsPskEngine:
    """One side of a TLS-PSK connection.  Call :meth:`start` first (the client then has its
    ClientHello ready in :meth:`data_to_send`)."""

    def __init__(self, config: PskConfig, is_client: bool, rng: Rng = os.urandom) -> None:
        self.config = config
        self.is_client = is_client
        self.rng = rng
        self.version = 0
        self.suite: CipherSuite | None = None
        self.ems = False
        self.etm = False
        self.tls13_mode: int | None = None
        self.handshake_complete = False
        self.closed = False
        self.secrets = SessionSecrets()
        self.peer_identity: bytes | None = None
        self._out = bytearray()
        self._in = bytearray()
        self._hs_in = HandshakeBuffer()
        self._hs_out = bytearray()
        self._transcript = bytearray()
        self._read: RecordProtection = Plaintext()
        self._write: RecordProtection = Plaintext()
        self._pending_read: RecordProtection | None = None
        self._pending_write: RecordProtection | None = None
        self._expect: tuple[int, ...] = ()
        self._record_version = TLS10
        self._client_hello: ClientHello | None = None
        self._x25519: X25519PrivateKey | None = None
        self._t13: ks.Tls13Secrets | None = None
        self._session_id = b""
        self._events: list[Event] = []

    # ------------------------------------------------------------ public API

    def start(self) -> None:
        if self.is_client:
            self._send_client_hello()
        else:
            self._expect = (HT_CLIENT_HELLO,)

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> list[Event]:
        """Consume bytes from the peer; returns the events they caused.  Raises TlsError
        (after queuing a fatal alert) when the peer misbehaves."""
        self._in += data
        try:
            while True:
                got = parse_record(self._in)
                if got is None:
                    break
                rec, end = got
                del self._in[:end]
                self._on_record(rec.content_type, rec.version, rec.fragment)
        except DissectError as e:
            self._fatal(AD_DECODE_ERROR, str(e))
        events, self._events = self._events, []
        return events

    def send_application_data(self, data: bytes) -> None:
        # A TLS 1.3 server may send right after its Finished (0.5-RTT data, RFC 8446 2).
        if not self.handshake_complete and not (self.version == TLS13 and not self.is_client):
            raise RuntimeError("handshake not complete")
        self._send_records(CT_APPLICATION_DATA, data)

    def close(self) -> None:
        """Queue a close_notify alert."""
        self._send_records(CT_ALERT, Alert(ALERT_WARNING, AD_CLOSE_NOTIFY).build())
        self.closed = True

    def keylog_lines(self) -> list[str]:
        """NSS key log lines for this connection (empty until keys exist)."""
        s = self.secrets
        cr = s.client_random.hex()
        if s.tls13 is not None:
            t = s.tls13
            lines = [
                f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {t.client_hs.hex()}",
                f"SERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {t.server_hs.hex()}",
            ]
            if t.client_ap:
                lines += [
                    f"CLIENT_TRAFFIC_SECRET_0 {cr} {t.client_ap.hex()}",
                    f"SERVER_TRAFFIC_SECRET_0 {cr} {t.server_ap.hex()}",
                    f"EXPORTER_SECRET {cr} {t.exporter.hex()}",
                ]
            return lines
        if s.master_secret:
            return [f"CLIENT_RANDOM {cr} {s.master_secret.hex()}"]
        return []

    # ------------------------------------------------------------ output helpers

    def _send_records(self, content_type: int, payload: bytes) -> None:
        step = self.config.max_fragment
        pieces = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        for piece in pieces:
            ct, frag = self._write.protect(content_type, self._record_version, piece)
            self._out += build_record(ct, self._record_version, frag)

    def _queue_handshake(self, msg_type: int, body: bytes) -> bytes:
        msg = handshake_message(msg_type, body)
        self._hs_out += msg
        self._transcript += msg
        return msg

    def _flush_handshake(self) -> None:
        if self._hs_out:
            self._send_records(CT_HANDSHAKE, bytes(self._hs_out))
            self._hs_out.clear()

    def _fatal(self, description: int, reason: str) -> None:
        self._flush_handshake()
        try:
            self._send_records(CT_ALERT, Alert(ALERT_FATAL, description).build())
        finally:
            self.closed = True
        raise TlsError(description, reason)

    # ------------------------------------------------------------ input dispatch

    def _on_record(self, content_type: int, version: int, fragment: bytes) -> None:
        if content_type == CT_CHANGE_CIPHER_SPEC:
            if self.version == TLS13:
                return  # TLS 1.3 compatibility CCS: ignored
            if self._pending_read is None:
                self._fatal(AD_UNEXPECTED_MESSAGE, "ChangeCipherSpec before the key exchange")
            assert self._pending_read is not None
            self._read, self._pending_read = self._pending_read, None
            return
        try:
            content_type, data = self._read.unprotect(content_type, version, fragment)
        except DissectError as e:
            self._fatal(AD_BAD_RECORD_MAC, e.reason)
        if content_type == CT_ALERT:
            alert = parse_alert(data)
            self._events.append(AlertReceived(alert.level, alert.description))
            if alert.description == AD_CLOSE_NOTIFY or alert.level == ALERT_FATAL:
                self.closed = True
                self._events.append(ConnectionClosed())
        elif content_type == CT_HANDSHAKE:
            for msg in self._hs_in.add(data):
                self._on_handshake(msg)
        elif content_type == CT_APPLICATION_DATA:
            if not self.handshake_complete:
                self._fatal(AD_UNEXPECTED_MESSAGE, "application data before Finished")
            self._events.append(ApplicationData(data))
        else:
            self._fatal(AD_UNEXPECTED_MESSAGE, f"unexpected content type {content_type}")

    def _on_handshake(self, msg: bytes) -> None:
        t = msg[0]
        body = msg[4:]
        if self.handshake_complete:
            self._post_handshake(t, body)
            return
        if t not in self._expect:
            self._fatal(AD_UNEXPECTED_MESSAGE, f"handshake type {t}, expected {self._expect}")
        handler = {
            HT_CLIENT_HELLO: self._on_client_hello,
            HT_SERVER_HELLO: self._on_server_hello,
            HT_SERVER_KEY_EXCHANGE: self._on_server_key_exchange,
            HT_SERVER_HELLO_DONE: self._on_server_hello_done,
            HT_CLIENT_KEY_EXCHANGE: self._on_client_key_exchange,
            HT_NEW_SESSION_TICKET: self._on_new_session_ticket,
            HT_ENCRYPTED_EXTENSIONS: self._on_encrypted_extensions,
            HT_FINISHED: self._on_finished,
        }[t]
        handler(msg, body)

    def _post_handshake(self, t: int, body: bytes) -> None:
        if t == HT_NEW_SESSION_TICKET:
            return  # no resumption here
        if t == HT_KEY_UPDATE and self.version == TLS13 and self._t13 is not None:
            assert self.suite is not None
            t13 = self._t13 = ks.tls13_key_update(self.suite.prf, self._t13, not self.is_client)
            self._read = self._tls13_protection(t13.server_ap if self.is_client else t13.client_ap)
            if body[:1] == b"\x01":  # update_requested: answer and move our own keys
                self._send_records(CT_HANDSHAKE, handshake_message(HT_KEY_UPDATE, b"\x00"))
                t13 = self._t13 = ks.tls13_key_update(self.suite.prf, t13, self.is_client)
                self._write = self._tls13_protection(
                    t13.client_ap if self.is_client else t13.server_ap
                )
            return
        self._fatal(AD_UNEXPECTED_MESSAGE, f"handshake type {t} after the handshake")

    # ------------------------------------------------------------ client side

    def _send_client_hello(self) -> None:
        c = self.config
        random = self.rng(32)
        self.secrets.client_random = random
        offers13 = TLS13 in c.versions
        max12 = max((v for v in c.versions if v < TLS13), default=0)
        suites = [s for s in c.cipher_suites if s in CIPHER_SUITES]
        if max12:
            suites.append(SCSV)
        exts: list[Extension] = []
        if max12:
            if c.ems:
                exts.append(Extension(EXT_EXTENDED_MASTER_SECRET, b""))
            if c.etm:
                exts.append(Extension(EXT_ENCRYPT_THEN_MAC, b""))
        exts.append(Extension(EXT_SIGNATURE_ALGORITHMS, build_u16_list(_SIGALGS)))
        if offers13:
            if c.compat_ccs:
                self._session_id = self.rng(32)
            versions = tuple(sorted(c.versions, reverse=True))
            exts.append(Extension(EXT_SUPPORTED_VERSIONS, build_u16_list(versions, 1)))
            exts.append(Extension(EXT_SUPPORTED_GROUPS, build_u16_list((GROUP_X25519,))))
            exts.append(
                Extension(EXT_PSK_KEY_EXCHANGE_MODES, bytes((len(c.tls13_modes), *c.tls13_modes)))
            )
            if PSK_DHE_KE in c.tls13_modes:
                self._x25519 = X25519PrivateKey.from_private_bytes(self.rng(32))
                pub = self._x25519.public_key().public_bytes_raw()
                entry = KeyShareEntry(GROUP_X25519, pub).build()
                exts.append(Extension(EXT_KEY_SHARE, len(entry).to_bytes(2, "big") + entry))
        hlen = ks.hash_len(c.tls13_psk_hash)
        if offers13:
            offered = OfferedPsks((PskIdentity(c.identity, 0),), (bytes(hlen),))
            exts.append(Extension(EXT_PRE_SHARED_KEY, offered.build()))
        legacy = TLS12 if offers13 else max12
        ch = ClientHello(legacy, random, self._session_id, tuple(suites), b"\x00", tuple(exts))
        msg = ch.build()
        if offers13:
            # The binder covers the ClientHello up to its binders list (RFC 8446 4.2.11.2).
            blen = 2 + 1 + hlen
            truncated = msg[: len(msg) - blen]
            binder = ks.psk_binder(c.tls13_psk_hash, c.psk, ks.digest(c.tls13_psk_hash, truncated))
            msg = truncated + build_binders((binder,))
        self._client_hello = ch
        self._hs_out += msg
        self._transcript += msg
        self._record_version = TLS10
        self._flush_handshake()
        self._expect = (HT_SERVER_HELLO,)

    def _on_server_hello(self, msg: bytes, body: bytes) -> None:
        sh = parse_server_hello(body)
        c = self.config
        self.secrets.server_random = sh.random
        self._transcript += msg
        sv = sh.ext(EXT_SUPPORTED_VERSIONS)
        version = (
            parse_u16_list(b"\x00\x02" + sv, "supported_versions")[0] if sv else sh.legacy_version
        )
        if version not in c.versions:
            self._fatal(AD_ILLEGAL_PARAMETER, f"server chose version 0x{version:04x}")
        suite = CIPHER_SUITES.get(sh.cipher_suite)
        if suite is None or sh.cipher_suite not in c.cipher_suites:
            self._fatal(AD_ILLEGAL_PARAMETER, f"server chose suite 0x{sh.cipher_suite:04x}")
        assert suite is not None
        self.version, self.suite = version, suite
        if version == TLS13:
            self._client_tls13_after_sh(sh, suite)
            return
        self._record_version = version
        self.ems = c.ems and sh.ext(EXT_EXTENDED_MASTER_SECRET) is not None
        self.etm = c.etm and sh.ext(EXT_ENCRYPT_THEN_MAC) is not None and suite.mode is Mode.CBC
        self._expect = (HT_SERVER_KEY_EXCHANGE, HT_SERVER_HELLO_DONE)

    def _on_server_key_exchange(self, msg: bytes, body: bytes) -> None:
        self._transcript += msg
        parse_psk_key_exchange(body, "server_key_exchange")
        self._expect = (HT_SERVER_HELLO_DONE,)

    def _on_server_hello_done(self, msg: bytes, body: bytes) -> None:
        self._transcript += msg
        c = self.config
        self._queue_handshake(HT_CLIENT_KEY_EXCHANGE, PskKeyExchange(c.identity).build_body())
        self._derive_tls12(bytes(self._transcript))
        self._flush_handshake()
        self._send_ccs()
        self._send_finished12()
        self._expect = (HT_NEW_SESSION_TICKET, HT_FINISHED)

    def _on_new_session_ticket(self, msg: bytes, body: bytes) -> None:
        self._transcript += msg
        self._expect = (HT_FINISHED,)

    def _client_tls13_after_sh(self, sh: ServerHello, suite: CipherSuite) -> None:
        c = self.config
        sel = sh.ext(EXT_PRE_SHARED_KEY)
        if sel is None or sel != b"\x00\x00":
            self._fatal(AD_HANDSHAKE_FAILURE, "server did not accept our PSK")
        if suite.prf != c.tls13_psk_hash:
            self._fatal(AD_ILLEGAL_PARAMETER, "suite hash differs from the PSK hash")
        ksd = sh.ext(EXT_KEY_SHARE)
        dhe: bytes | None = None
        if ksd is not None:
            if self._x25519 is None:
                self._fatal(AD_ILLEGAL_PARAMETER, "key_share without psk_dhe_ke")
            assert self._x25519 is not None
            entry = parse_key_share_server(ksd)
            dhe = self._x25519.exchange(X25519PublicKey.from_public_bytes(entry.key_exchange))
            self.tls13_mode = PSK_DHE_KE
        else:
            self.tls13_mode = PSK_KE
            if PSK_KE not in c.tls13_modes:
                self._fatal(AD_ILLEGAL_PARAMETER, "server chose psk_ke")
        self._record_version = TLS12
        self._t13 = ks.tls13_handshake_secrets(suite.prf, c.psk, dhe, bytes(self._transcript))
        self.secrets.tls13 = self._t13
        self._read = self._tls13_protection(self._t13.server_hs)
        self._expect = (HT_ENCRYPTED_EXTENSIONS,)

    def _on_encrypted_extensions(self, msg: bytes, body: bytes) -> None:
        self._transcript += msg
        self._expect = (HT_FINISHED,)

    # ------------------------------------------------------------ server side

    def _on_client_hello(self, msg: bytes, body: bytes) -> None:
        c = self.config
        ch = parse_client_hello(body)
        self._client_hello = ch
        self.secrets.client_random = ch.random
        sv = ch.ext(EXT_SUPPORTED_VERSIONS)
        offered_versions = parse_u16_list(sv, "supported_versions", 1) if sv else ()
        if TLS13 in offered_versions and TLS13 in c.versions:
            self._server_tls13(msg, ch)
            return
        self._transcript += msg
        max12 = max((v for v in c.versions if v < TLS13), default=0)
        version = min(ch.legacy_version, max12)
        if version not in c.versions:
            self._fatal(70, f"client offers 0x{ch.legacy_version:04x}")
        suite = next(
            (
                CIPHER_SUITES[s]
                for s in c.cipher_suites
                if s in ch.cipher_suites
                and s in CIPHER_SUITES
                and CIPHER_SUITES[s].kx is Kx.PSK
                and (version == TLS12 or not CIPHER_SUITES[s].aead)
            ),
            None,
        )
        if suite is None:
            self._fatal(AD_HANDSHAKE_FAILURE, "no shared PSK cipher suite")
        assert suite is not None
        self.version, self.suite = version, suite
        self._record_version = version
        self.ems = c.ems and ch.ext(EXT_EXTENDED_MASTER_SECRET) is not None
        self.etm = c.etm and ch.ext(EXT_ENCRYPT_THEN_MAC) is not None and suite.mode is Mode.CBC
        random = self.rng(32)
        self.secrets.server_random = random
        exts: list[Extension] = []
        if SCSV in ch.cipher_suites or ch.ext(EXT_RENEGOTIATION_INFO) is not None:
            exts.append(Extension(EXT_RENEGOTIATION_INFO, b"\x00"))
        if self.etm:
            exts.append(Extension(EXT_ENCRYPT_THEN_MAC, b""))
        if self.ems:
            exts.append(Extension(EXT_EXTENDED_MASTER_SECRET, b""))
        sh = ServerHello(version, random, b"", suite.code, 0, tuple(exts) if exts else None)
        self._queue_handshake(HT_SERVER_HELLO, sh.build_body())
        if c.identity_hint is not None:
            self._queue_handshake(
                HT_SERVER_KEY_EXCHANGE, PskKeyExchange(c.identity_hint).build_body()
            )
        self._queue_handshake(HT_SERVER_HELLO_DONE, b"")
        self._flush_handshake()
        self._expect = (HT_CLIENT_KEY_EXCHANGE,)

    def _on_client_key_exchange(self, msg: bytes, body: bytes) -> None:
        self._transcript += msg
        cke = parse_psk_key_exchange(body)
        self.peer_identity = cke.identity
        if cke.identity != self.config.identity:
            self._fatal(AD_UNKNOWN_PSK_IDENTITY, f"unknown PSK identity {cke.identity!r}")
        self._derive_tls12(bytes(self._transcript))
        self._expect = (HT_FINISHED,)

    def _server_tls13(self, msg: bytes, ch: ClientHello) -> None:
        c = self.config
        if not ch.extensions or ch.extensions[-1].ext_type != EXT_PRE_SHARED_KEY:
            self._fatal(109, "TLS 1.3 ClientHello without pre_shared_key last")
        assert ch.extensions is not None
        offered = parse_offered_psks(ch.extensions[-1].data)
        idx = next((i for i, p in enumerate(offered.identities) if p.identity == c.identity), None)
        if idx is None:
            self._fatal(AD_UNKNOWN_PSK_IDENTITY, "no offered identity is ours")
        assert idx is not None
        self.peer_identity = c.identity
        h = c.tls13_psk_hash
        blen = 2 + sum(1 + len(b) for b in offered.binders)
        truncated = msg[: len(msg) - blen]
        if ks.psk_binder(h, c.psk, ks.digest(h, truncated)) != offered.binders[idx]:
            self._fatal(AD_DECRYPT_ERROR, "PSK binder does not verify")
        self._transcript += msg
        modes_raw = ch.ext(EXT_PSK_KEY_EXCHANGE_MODES)
        client_modes = parse_psk_modes(modes_raw) if modes_raw else ()
        shares = parse_key_share_client(ch.ext(EXT_KEY_SHARE) or b"\x00\x00")
        x_share = next((s for s in shares if s.group == GROUP_X25519), None)
        mode = next(
            (
                m
                for m in c.tls13_modes
                if m in client_modes and (m == PSK_KE or x_share is not None)
            ),
            None,
        )
        if mode is None:
            self._fatal(AD_HANDSHAKE_FAILURE, "no common PSK key exchange mode")
        suite = next(
            (
                CIPHER_SUITES[s]
                for s in c.cipher_suites
                if s in ch.cipher_suites
                and s in CIPHER_SUITES
                and CIPHER_SUITES[s].kx is Kx.TLS13
                and CIPHER_SUITES[s].prf == h
            ),
            None,
        )
        if suite is None:
            self._fatal(AD_HANDSHAKE_FAILURE, "no shared TLS 1.3 suite for the PSK hash")
        assert suite is not None
        self.version, self.suite, self.tls13_mode = TLS13, suite, mode
        self._record_version = TLS12
        random = self.rng(32)
        self.secrets.server_random = random
        exts = [
            Extension(EXT_SUPPORTED_VERSIONS, TLS13.to_bytes(2, "big")),
            Extension(EXT_PRE_SHARED_KEY, idx.to_bytes(2, "big")),
        ]
        dhe: bytes | None = None
        if mode == PSK_DHE_KE:
            assert x_share is not None
            priv = X25519PrivateKey.from_private_bytes(self.rng(32))
            dhe = priv.exchange(X25519PublicKey.from_public_bytes(x_share.key_exchange))
            pub = priv.public_key().public_bytes_raw()
            exts.append(Extension(EXT_KEY_SHARE, KeyShareEntry(GROUP_X25519, pub).build()))
        sh = ServerHello(TLS12, random, ch.session_id, suite.code, 0, tuple(exts))
        self._queue_handshake(HT_SERVER_HELLO, sh.build_body())
        self._flush_handshake()
        if ch.session_id:
            self._send_ccs()
        self._t13 = ks.tls13_handshake_secrets(suite.prf, c.psk, dhe, bytes(self._transcript))
        self.secrets.tls13 = self._t13
        self._write = self._tls13_protection(self._t13.server_hs)
        self._read = self._tls13_protection(self._t13.client_hs)
        self._queue_handshake(HT_ENCRYPTED_EXTENSIONS, b"\x00\x00")
        vd = ks.tls13_finished(
            suite.prf, self._t13.server_hs, ks.digest(suite.prf, bytes(self._transcript))
        )
        self._queue_handshake(HT_FINISHED, vd)
        self._flush_handshake()
        self._t13 = ks.tls13_application_secrets(suite.prf, self._t13, bytes(self._transcript))
        self.secrets.tls13 = self._t13
        self._write = self._tls13_protection(self._t13.server_ap)
        self._expect = (HT_FINISHED,)

    # ------------------------------------------------------------ both sides

    def _tls13_protection(self, secret: bytes) -> Tls13Aead:
        assert self.suite is not None
        return tls13_aead(self.suite, secret)

    def _derive_tls12(self, transcript_through_cke: bytes) -> None:
        assert self.suite is not None
        s, v, c = self.suite, self.version, self.config
        pms = ks.psk_premaster(c.psk)
        cr, sr = self.secrets.client_random, self.secrets.server_random
        if self.ems:
            sh = ks.transcript_hash(v, s.prf, transcript_through_cke)
            ms = ks.extended_master_secret(v, s.prf, pms, sh)
        else:
            ms = ks.master_secret(v, s.prf, pms, cr, sr)
        self.secrets.master_secret = ms
        kb = ks.key_block(v, s, ms, cr, sr)
        client = tls12_protection(
            s, v, kb.client_key, kb.client_mac_key, kb.client_iv, self.etm, self.rng
        )
        server = tls12_protection(
            s, v, kb.server_key, kb.server_mac_key, kb.server_iv, self.etm, self.rng
        )
        self._pending_write, self._pending_read = (
            (client, server) if self.is_client else (server, client)
        )

    def _send_ccs(self) -> None:
        self._out += build_record(CT_CHANGE_CIPHER_SPEC, self._record_version, b"\x01")
        if self.version != TLS13:
            assert self._pending_write is not None
            self._write, self._pending_write = self._pending_write, None

    def _send_finished12(self) -> None:
        assert self.suite is not None
        vd = ks.finished_verify_data(
            self.version,
            self.suite.prf,
            self.secrets.master_secret,
            self.is_client,
            ks.transcript_hash(self.version, self.suite.prf, bytes(self._transcript)),
        )
        self._queue_handshake(HT_FINISHED, vd)
        self._flush_handshake()

    def _on_finished(self, msg: bytes, body: bytes) -> None:
        assert self.suite is not None
        h = self.suite.prf
        if self.version == TLS13:
            assert self._t13 is not None
            base = self._t13.server_hs if self.is_client else self._t13.client_hs
            if body != ks.tls13_finished(h, base, ks.digest(h, bytes(self._transcript))):
                self._fatal(AD_DECRYPT_ERROR, "peer Finished does not verify")
            self._transcript += msg
            if self.is_client:
                self._t13 = ks.tls13_application_secrets(h, self._t13, bytes(self._transcript))
                self.secrets.tls13 = self._t13
                if self.config.compat_ccs and self._session_id:
                    self._send_ccs()
                self._write = self._tls13_protection(self._t13.client_hs)
                vd = ks.tls13_finished(
                    h, self._t13.client_hs, ks.digest(h, bytes(self._transcript))
                )
                self._queue_handshake(HT_FINISHED, vd)
                self._flush_handshake()
                self._write = self._tls13_protection(self._t13.client_ap)
                self._read = self._tls13_protection(self._t13.server_ap)
            else:
                self._read = self._tls13_protection(self._t13.client_ap)
            self._complete()
            return
        expected = ks.finished_verify_data(
            self.version,
            h,
            self.secrets.master_secret,
            not self.is_client,
            ks.transcript_hash(self.version, h, bytes(self._transcript)),
        )
        if body != expected:
            self._fatal(AD_DECRYPT_ERROR, "peer Finished does not verify (wrong PSK?)")
        self._transcript += msg
        if not self.is_client:
            self._send_ccs()
            self._send_finished12()
        self._complete()

    def _complete(self) -> None:
        self.handshake_complete = True
        self._expect = ()
        self._events.append(HandshakeComplete())
