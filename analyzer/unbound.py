"""Media without signalling: the TLS connections of a capture that no call claims.

A probe on the media side, or SIP that could not be read, leaves TLS-PSK connections with no
m-line to bind them to. Each is still reported (:class:`~mikeyshark.evidence.UnboundMedia`):
its endpoints and frames, TLS version and suite, and whether the keys the user gave opened
it - every ``--psk`` / ``[[tek]]`` is tried on every connection whose ClientHello offers a
PSK, whatever its port, proven as for calls (TLS 1.2 Finished, AEAD tag or MAC, TLS 1.3
binder), and the TLS key log opens what the PSK alone cannot (TLS 1.3 psk_dhe_ke,
(EC)DHE-PSK, certificates). A connection on the SIP/TLS port is media like any other until
its plaintext says it is SIP. The plaintext, when it is MSRP or BFCP, is parsed as a call's
would be.
"""

from __future__ import annotations

from collections.abc import Iterable

from mikeyshark.correlate import (
    ConnRecord,
    Decoded,
    decode_connection,
    media_messages,
    tls_info,
)
from mikeyshark.decrypt import DecodedConnection, KnownSecrets, PskCandidate
from mikeyshark.evidence import BoundBy, MediaRecord, TcpInfo, UnboundMedia
from mikeyshark.keyfile import KeyFile
from mikeyshark.media import sniff
from mikeyshark.model import Problem
from mikeyshark.procedure import Protocol

LAYER = "media"


def given_psks(keys: KeyFile) -> list[PskCandidate]:
    """The TLS PSKs the user gave (``--psk`` and ``[[tek]]``), labelled for the report."""
    return [PskCandidate(t.key, t.identity or "given TLS PSK") for t in keys.tek]


def unbound_media(
    conns: Iterable[ConnRecord],
    keys: KeyFile,
    secrets: KnownSecrets | None,
    *,
    capture: str = "",
    sip_streams: frozenset[int] = frozenset(),
) -> tuple[list[UnboundMedia], list[DecodedConnection]]:
    """Every unclaimed TLS connection of ``conns`` (not one of ``sip_streams``, the streams
    found to carry SIP), decoded with the given PSKs and ``secrets``; and the decrypted ones
    for the exports (key log, decrypted capture, Wireshark profile)."""
    candidates = given_psks(keys)
    out: list[UnboundMedia] = []
    decoded: list[DecodedConnection] = []
    for conn in conns:
        if conn.claimed or conn.ignored or conn.index in sip_streams:
            continue
        first = conn.first_data(True) or conn.first_data(False)
        if first is None or first.data[:1] != b"\x16":
            continue  # not a TLS handshake (plaintext, or the capture began mid-stream)
        d = decode_connection(conn, candidates, secrets=secrets)
        if not d.info.is_tls:
            continue
        out.append(_record(conn, d, capture, len(candidates)))
        if d.info.decrypted:
            decoded.append(
                DecodedConnection(conn.client, conn.server, conn.first_frame, d.info, d.plaintext)
            )
    return out, decoded


def _record(conn: ConnRecord, d: Decoded, capture: str, candidates: int) -> UnboundMedia:
    info = d.info
    tls = tls_info(conn, d, candidates)
    assert tls is not None  # info.is_tls
    frames = conn.data_frames()
    u = UnboundMedia(
        capture=capture,
        tcp=TcpInfo(conn.client, conn.server, conn.syn_frame, None, bound_by=BoundBy.NONE),
        tls=tls,
        first_frame=conn.first_frame,
        last_frame=frames[-1] if frames else conn.first_frame,
        data_frames=len(frames),
        psk=info.psk,
        psk_label=info.psk_label,
        opened_by=("key log" if info.from_key_log else "psk") if info.decrypted else None,
        tls13_mode=info.tls13_mode,
        not_opened=None if info.decrypted else info.undecryptable_reason,
        plaintext_bytes=sum(len(a.data) for a in d.plaintext),
    )
    problems: list[Problem] = list(info.problems)
    head = next((a.data for a in d.plaintext if a.data), b"")
    proto = sniff(head) if head else None
    if proto is not None:
        u.protocol = Protocol(proto)
        m = MediaRecord(index=0, protocol=u.protocol, offer=None, tcp=u.tcp, tls=tls)
        media_messages(m, conn, d, problems)
        u.messages, u.chat, u.floor = m.messages, m.chat, m.floor
    elif head:
        problems.append(
            Problem(
                LAYER,
                f"the plaintext of {conn.client} -> {conn.server} is neither MSRP nor BFCP "
                f"(starts {head[:8].hex()})",
                conn.first_frame,
            )
        )
    u.problems = [_located(p, capture) for p in problems]
    return u


def _located(p: Problem, capture: str) -> Problem:
    if p.file is not None or not capture:
        return p
    return Problem(p.layer, p.reason, p.frame, capture, p.field, p.offset, p.severity)
