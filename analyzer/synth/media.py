"""The media of one m-line: TLS-PSK over a TCP connection, then MSRP chat or BFCP floor control.

Both TLS ends are our sans-IO engine (``dissectors.tls.engine``), one per side, fed with each
other's bytes; every TLS flight and every application write becomes TCP segments on the
connection. The application messages come from the MSRP and BFCP builders. The same
conversation scripts (:func:`msrp_script`, :func:`bfcp_script`) drive the live replay.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from mikeyshark.dissectors import bfcp, msrp
from mikeyshark.dissectors.tls import engine as tls
from mikeyshark.dissectors.tls.constants import CIPHER_SUITE, TLS10, TLS12, TLS13
from mikeyshark.synth.certtls import SUITE as CERT_SESSION_SUITE
from mikeyshark.synth.certtls import CertTlsSession
from mikeyshark.synth.net import Cursor, TcpConnection

DEFAULT_SUITE = CIPHER_SUITE["TLS_PSK_WITH_AES_128_GCM_SHA256"]
CERT_SUITE = CERT_SESSION_SUITE  # what the certificate-suite fault negotiates
CBC_SUITE = CIPHER_SUITE["TLS_PSK_WITH_AES_128_CBC_SHA"]
TLS13_SUITE = CIPHER_SUITE["TLS_AES_128_GCM_SHA256"]
VERSIONS = {"1.0": TLS10, "1.2": TLS12, "1.3": TLS13}
MSRP_CHUNK = 2048  # bytes of body per chunk: long messages are sent in pieces (RFC 4975 5.1)

_WORDS = [
    "agenda",
    "minutes",
    "floor",
    "slide",
    "budget",
    "review",
    "draft",
    "action",
    "owner",
    "quarter",
    "release",
    "plan",
    "risk",
    "milestone",
    "customer",
    "feedback",
    "design",
    "test",
    "rollout",
    "metric",
    "launch",
    "summary",
]


def tls_choice(tls_pref: tuple[str, int], tls10: bool) -> tuple[str, int]:
    """(version, suite) of an m-line; the ``tls10`` fault forces TLS 1.0 with a CBC suite."""
    return ("1.0", CBC_SUITE) if tls10 else tls_pref


@dataclass(slots=True)
class Channel:
    """A TCP connection with (or, for the ``plaintext-media`` fault, without) TLS on it."""

    conn: TcpConnection
    cursor: Cursor
    ue_is_tcp_client: bool
    engines: dict[bool, tls.TlsPskEngine] = field(default_factory=dict)  # key: is the UE
    cert: CertTlsSession | None = None  # the certificate-suite fault instead of the engines
    ue_is_tls_client: bool = False
    # a handshake that failed: (the fatal alert's description, whether the UE sent it)
    failure: tuple[int, bool] | None = None

    def transmit(self, from_ue: bool, data: bytes, peer_answers: bool = False) -> None:
        self.conn.send(from_ue == self.ue_is_tcp_client, data, peer_answers=peer_answers)

    def write(self, from_ue: bool, data: bytes, peer_answers: bool = False) -> None:
        """One application write from one side, checked to arrive intact at the other."""
        if self.cert is not None:
            wire = self.cert.application_data(from_ue == self.ue_is_tls_client, data)
            self.transmit(from_ue, wire, peer_answers)
            return
        if not self.engines:
            self.transmit(from_ue, data, peer_answers)
            return
        sender, receiver = self.engines[from_ue], self.engines[not from_ue]
        sender.send_application_data(data)
        wire = sender.data_to_send()
        self.transmit(from_ue, wire, peer_answers)
        got = b"".join(
            e.data for e in receiver.receive_data(wire) if isinstance(e, tls.ApplicationData)
        )
        if got != data:
            raise RuntimeError("TLS peer did not decrypt what was sent")

    def keylog_lines(self) -> list[str]:
        """NSS key log of the session (empty in the clear or when the handshake failed)."""
        if self.failure is not None:
            return []
        if self.cert is not None:
            return [
                f"CLIENT_RANDOM {self.cert.client_random.hex()} {self.cert.master_secret.hex()}"
            ]
        client = next((e for e in self.engines.values() if e.is_client), None)
        return client.keylog_lines() if client is not None else []

    def play(self, script: list[AppWrite]) -> None:
        for w in script:
            self.write(w.from_ue, w.data, peer_answers=w.answered)
            if w.answered:
                self.cursor.wait(1, 40)
            else:
                self.cursor.wait(150, 1200)

    def close(self) -> None:
        """close_notify from the TLS client, the server's answer, FIN from the TCP client
        (after a failed handshake: FIN from the side that sent the fatal alert)."""
        if self.failure is not None:
            self.cursor.wait(0.1, 2)
            self.conn.close(from_client=self.failure[1] == self.ue_is_tcp_client)
            return
        if self.cert is not None:
            c = self.ue_is_tls_client
            self.transmit(c, self.cert.close_notify(True), peer_answers=True)
            self.transmit(not c, self.cert.close_notify(False))
        elif self.engines:
            ue_is_tls_client = next(k for k, e in self.engines.items() if e.is_client)
            client, server = self.engines[ue_is_tls_client], self.engines[not ue_is_tls_client]
            client.close()
            wire = client.data_to_send()
            server.receive_data(wire)
            self.transmit(ue_is_tls_client, wire, peer_answers=True)
            server.close()
            wire = server.data_to_send()
            client.receive_data(wire)
            self.transmit(not ue_is_tls_client, wire)
        self.cursor.wait(1, 20)
        self.conn.close(from_client=True)


def engine_config(psk: bytes, identity: str, version: str, suite: int) -> tls.PskConfig:
    v = VERSIONS[version]
    suites = (TLS13_SUITE,) if v == TLS13 else (suite,)
    return tls.PskConfig(psk=psk, identity=identity.encode(), versions=(v,), cipher_suites=suites)


def start_tls(
    conn: TcpConnection,
    cursor: Cursor,
    rng: random.Random,
    *,
    config: tls.PskConfig | None,
    ue_is_tcp_client: bool,
    ue_is_tls_client: bool,
    certificate_at: int | None = None,
    mrfp_config: tls.PskConfig | None = None,
) -> Channel:
    """Steps 8 / 13: the TLS-PSK handshake right after the TCP handshake (none when
    ``config`` is None: the plaintext-media fault; a certificate handshake for the
    certificate-suite fault). ``config`` is the UE's; ``mrfp_config``, when given, the
    MRFP's: with another PSK the handshake fails, and the channel records the fatal alert."""
    ch = Channel(conn, cursor, ue_is_tcp_client, ue_is_tls_client=ue_is_tls_client)
    if certificate_at is not None:
        # The certificate-suite fault: a certificate handshake made at ``certificate_at``
        # (Unix seconds) instead of TLS-PSK.
        ch.cert = CertTlsSession(rng, certificate_at)
        flights = ch.cert.flights
        for i, (from_client, wire) in enumerate(flights):
            ch.transmit(ue_is_tls_client == from_client, wire, peer_answers=i + 1 < len(flights))
            cursor.wait(0.05, 0.5)
        return ch
    if config is None:
        return ch
    mrfp = mrfp_config or config
    client_cfg, server_cfg = (config, mrfp) if ue_is_tls_client else (mrfp, config)
    client = tls.TlsPskEngine(client_cfg, True, rng.randbytes)
    server = tls.TlsPskEngine(server_cfg, False, rng.randbytes)
    ch.engines = {ue_is_tls_client: client, not ue_is_tls_client: server}
    client.start()
    server.start()
    pending, sender_is_client = client.data_to_send(), True
    while pending:
        receiver = server if sender_is_client else client
        from_ue = ue_is_tls_client == sender_is_client
        try:
            receiver.receive_data(pending)
        except tls.TlsError as e:
            # the receiver could not go on: its fatal alert answers the flight
            ch.transmit(from_ue, pending, peer_answers=True)
            cursor.wait(0.05, 0.5)
            ch.transmit(not from_ue, receiver.data_to_send())
            ch.failure = (e.description, not from_ue)
            return ch
        reply = receiver.data_to_send()
        ch.transmit(from_ue, pending, peer_answers=bool(reply))
        cursor.wait(0.05, 0.5)
        pending, sender_is_client = reply, not sender_is_client
    if not (client.handshake_complete and server.handshake_complete):
        raise RuntimeError("TLS handshake between our two engines did not complete")
    return ch


# ------------------------------------------------------------------------------ MSRP


@dataclass(frozen=True, slots=True)
class AppWrite:
    """One application message: who sends it, its bytes, whether the peer answers at once."""

    from_ue: bool
    data: bytes
    answered: bool


def msrp_texts(rng: random.Random, user: str, ue_first: bool) -> list[tuple[bool, bytes]]:
    """The chat of one MSRP session in order, as (sent by the UE, text): the connecting side
    binds the session with the first SEND, the UE sends a long message (sent in chunks), the
    conference answers."""
    long_text = " ".join(rng.choice(_WORDS) for _ in range(900)).encode()
    hello = (True, f"Hello from {user}".encode())
    welcome = (False, f"Welcome {user}, you are in conf1".encode())
    texts = [hello, welcome] if ue_first else [welcome, hello]
    return [*texts, (True, long_text), (False, b"Thanks, minutes received.")]


def msrp_chunks(
    token: Callable[[int], str], to_path: msrp.MsrpUri, from_path: msrp.MsrpUri, text: bytes
) -> list[msrp.Message]:
    """One SEND of ``text``, cut into chunks of MSRP_CHUNK bytes when it is longer."""
    msg = msrp.send(token(10), [to_path], [from_path], token(12), text)
    if len(text) <= MSRP_CHUNK:
        return [msg]
    tids = [token(10) for _ in range(len(text) // MSRP_CHUNK + 1)]
    return msrp.chunk_message(msg, MSRP_CHUNK, tids)


def msrp_script(
    rng: random.Random,
    token: Callable[[int], str],
    *,
    ue_path: str,
    conf_path: str,
    ue_first: bool,
    wrong_path: bool,
    user: str,
) -> list[AppWrite]:
    """:func:`msrp_texts` as wire messages, every SEND (chunk) answered by a 200 OK."""
    ue_uri, conf_uri = msrp.MsrpUri.parse(ue_path), msrp.MsrpUri.parse(conf_path)
    wrong = msrp.MsrpUri.parse(conf_path.replace(conf_uri.session_id or "", "x" + token(11)))
    out: list[AppWrite] = []
    for from_ue, text in msrp_texts(rng, user, ue_first):
        to_path = (wrong if wrong_path else conf_uri) if from_ue else ue_uri
        from_path = ue_uri if from_ue else conf_uri
        for piece in msrp_chunks(token, to_path, from_path, text):
            out.append(AppWrite(from_ue, msrp.build_message(piece), True))
            out.append(AppWrite(not from_ue, msrp.build_message(msrp.response(piece)), False))
    return out


def bfcp_script(rng: random.Random, *, confid: int, userid: int, floor_id: int) -> list[AppWrite]:
    """Hello / HelloAck, FloorRequest / Granted, FloorRelease / Released; the UE is the
    floor control client (``a=floorctrl:c-only``), the conference the server."""
    tid = rng.randrange(1, 0x8000)
    frid = rng.randrange(1, 0x10000)
    hello = bfcp.hello(confid, tid, userid)
    req = bfcp.floor_request(confid, tid + 1, userid, [floor_id])
    rel = bfcp.floor_release(confid, tid + 2, userid, frid)
    granted = bfcp.REQUEST_STATUS["Granted"]
    released = bfcp.REQUEST_STATUS["Released"]
    pairs = [
        (hello, bfcp.hello_ack(hello)),
        (req, bfcp.floor_request_status(req, frid, [floor_id], granted)),
        (rel, bfcp.floor_request_status(rel, frid, [floor_id], released)),
    ]
    out: list[AppWrite] = []
    for q, a in pairs:
        out.append(AppWrite(True, bfcp.build_message(q), True))
        out.append(AppWrite(False, bfcp.build_message(a), False))
    return out
