"""Hand recovered TLS secrets to other tools: an NSS key log, and a pcapng with a Decryption
Secrets Block (Wireshark then decrypts with no options). The capture with the plaintext in
place of the TLS is :mod:`mikeyshark.plaintext_pcap`."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from mikeyshark.capture import iter_frames
from mikeyshark.decrypt import TlsSessionInfo
from mikeyshark.dissectors.tls.constants import TLS13

# pcapng (draft-ietf-opsawg-pcapng): block types and the TLS key log secrets type.
_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_DSB = 0x0000000A
_SECRETS_TLS_KEYLOG = 0x544C534B
_OPT_IF_TSRESOL = 9


def keylog_lines(info: TlsSessionInfo) -> list[str]:
    """NSS key log lines for one session whose key was recovered (else none)."""
    cr = info.client_random
    if cr is None or info.psk is None:
        return []
    r = cr.hex()
    if info.version == TLS13:
        t = info.tls13_secrets
        if t is None:
            return []
        lines = [
            f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {t.client_hs.hex()}",
            f"SERVER_HANDSHAKE_TRAFFIC_SECRET {r} {t.server_hs.hex()}",
        ]
        if t.client_ap:
            lines += [
                f"CLIENT_TRAFFIC_SECRET_0 {r} {t.client_ap.hex()}",
                f"SERVER_TRAFFIC_SECRET_0 {r} {t.server_ap.hex()}",
                f"EXPORTER_SECRET {r} {t.exporter.hex()}",
            ]
        return lines
    if info.master_secret is None:
        return []
    return [f"CLIENT_RANDOM {r} {info.master_secret.hex()}"]


def keylog_text(sessions: Iterable[TlsSessionInfo]) -> str:
    lines: list[str] = []
    for s in sessions:
        for line in keylog_lines(s):
            if line not in lines:
                lines.append(line)
    return "".join(line + "\n" for line in lines)


def write_keylog(path: str | os.PathLike[str], sessions: Iterable[TlsSessionInfo]) -> int:
    """``--keylog FILE``; returns the number of lines written."""
    text = keylog_text(sessions)
    write_private(path, text.encode("ascii"))
    return text.count("\n")


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` into a file only its owner can read (mode 0600, also when it existed):
    key logs hold secrets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", block_type, n) + body + struct.pack("<I", n)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


class PcapngWriter:
    """A pcapng file written frame by frame: one section, an interface per link type (in
    order of first use, nanosecond timestamps), an optional Decryption Secrets Block before
    the first packet."""

    def __init__(self, f: BinaryIO, secrets: bytes | None = None) -> None:
        self._f = f
        self._secrets = secrets
        self._interfaces: dict[int, int] = {}
        self.frames = 0
        f.write(_block(_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))

    def write(self, linktype: int, ts_ns: int, data: bytes, wirelen: int) -> None:
        f = self._f
        ifc = self._interfaces.get(linktype)
        if ifc is None:
            ifc = self._interfaces[linktype] = len(self._interfaces)
            opts = _option(_OPT_IF_TSRESOL, b"\x09") + _option(0, b"")
            f.write(_block(_IDB, struct.pack("<HHI", linktype, 0, 0) + opts))
        if self.frames == 0 and self._secrets is not None:
            s = self._secrets
            f.write(_block(_DSB, struct.pack("<II", _SECRETS_TLS_KEYLOG, len(s)) + s))
        hdr = struct.pack("<IIIII", ifc, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data), wirelen)
        f.write(_block(_EPB, hdr + data))
        self.frames += 1


def write_pcapng_with_secrets(
    captures: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    sessions: Iterable[TlsSessionInfo],
) -> int:
    """``--inject-secrets FILE.pcapng``: the captures' frames as one pcapng whose
    Decryption Secrets Block (before the first packet) holds the key log.  Returns the
    number of frames written."""
    secrets = keylog_text(sessions).encode("ascii")
    with open(out, "wb") as f:
        w = PcapngWriter(f, secrets)
        for frame in iter_frames(*captures):
            w.write(frame.linktype, frame.ts_ns, frame.data, frame.wirelen)
    return w.frames
