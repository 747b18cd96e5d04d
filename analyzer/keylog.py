"""NSS key logs (``SSLKEYLOGFILE``, ``openssl -keylogfile``), read and written.

:class:`KeyLog` reads the secrets the endpoints logged (``--tls-keylog``, or the Decryption
Secrets Blocks of the pcapng itself) for the TLS decoder's "known secrets" mode. The writers
hand the secrets the analysis recovered to other tools: an NSS key log, and a pcapng with a
Decryption Secrets Block (Wireshark then decrypts with no options). The capture with the
plaintext in place of the TLS is :mod:`mikeyshark.plaintext_pcap`."""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from mikeyshark.capture import (
    BT_DSB,
    BT_EPB,
    BT_IDB,
    OPT_IF_TSRESOL,
    PCAPNG_BOM,
    PCAPNG_SHB,
    SECRETS_TLS_KEYLOG,
    iter_frames,
)
from mikeyshark.decrypt import TlsSessionInfo
from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.dissectors.tls.constants import TLS13

_LINE = re.compile(r"^([A-Z_0-9]+) ([0-9A-Fa-f]{64}) ([0-9A-Fa-f]+)$")
_TLS13_LABELS = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
)


class KeyLogError(ValueError):
    """A key log file that is not text: names the file (``filename``) and the first byte."""

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename}: {reason}")

    def __reduce__(self) -> tuple[type[KeyLogError], tuple[str, str]]:
        return (type(self), (self.filename, self.reason))


def read_keylog_text(path: str | os.PathLike[str]) -> str:
    """The text of an NSS key log file (ASCII). Raises OSError when it cannot be read and
    :class:`KeyLogError` when it is not text (a pcap, an image: a wrong file given)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as e:
        raise KeyLogError(
            os.fspath(path),
            f"not an NSS key log (byte 0x{data[e.start]:02x} at offset {e.start} is not text)",
        ) from None


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
        """Raises OSError / :class:`KeyLogError` when the file cannot be read."""
        return cls.parse(read_keylog_text(path))

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


def keylog_facts(info: TlsSessionInfo) -> TlsSessionInfo:
    """The session with what :func:`keylog_lines` reads of it and nothing else: what a
    report written call by call keeps of each connection for ``--keylog``."""
    return TlsSessionInfo(
        version=info.version,
        psk=info.psk,
        client_random=info.client_random,
        master_secret=info.master_secret,
        tls13_secrets=info.tls13_secrets,
    )


def keylog_text(sessions: Iterable[TlsSessionInfo]) -> str:
    # each line once, where it first came (a list's `in` made this quadratic in the lines)
    lines = dict.fromkeys(line for s in sessions for line in keylog_lines(s))
    return "".join(line + "\n" for line in lines)


def write_keylog(path: str | os.PathLike[str], sessions: Iterable[TlsSessionInfo]) -> int:
    """``--keylog FILE``; returns the number of lines written."""
    text = keylog_text(sessions)
    write_private(path, text.encode("ascii"))
    return text.count("\n")


def open_private(path: str | os.PathLike[str]) -> BinaryIO:
    """A new file only its owner can read (mode 0600, also when it existed), for writing:
    every file that holds key material (key logs, key files, a pcapng with a Decryption
    Secrets Block) is created so, never made private after the fact."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` into a file only its owner can read (see :func:`open_private`)."""
    with open_private(path) as f:
        f.write(data)


def _block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", block_type, n) + body + struct.pack("<I", n)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


_MAX_U32, _MAX_U64 = (1 << 32) - 1, (1 << 64) - 1


class PcapngWriter:
    """A pcapng file written frame by frame: one section, an interface per link type (in
    order of first use, nanosecond timestamps), an optional Decryption Secrets Block before
    the first packet."""

    def __init__(self, f: BinaryIO, secrets: bytes | None = None) -> None:
        self._f = f
        self._secrets = secrets
        self._interfaces: dict[int, int] = {}
        self.frames = 0
        f.write(_block(PCAPNG_SHB, struct.pack("<IHHq", PCAPNG_BOM, 1, 0, -1)))

    def write(self, linktype: int, ts_ns: int, data: bytes, wirelen: int) -> None:
        f = self._f
        ifc = self._interfaces.get(linktype)
        if ifc is None:
            ifc = self._interfaces[linktype] = len(self._interfaces)
            opts = _option(OPT_IF_TSRESOL, b"\x09") + _option(0, b"")
            f.write(_block(BT_IDB, struct.pack("<HHI", linktype, 0, 0) + opts))
        if self.frames == 0 and self._secrets is not None:
            s = self._secrets
            f.write(_block(BT_DSB, struct.pack("<II", SECRETS_TLS_KEYLOG, len(s)) + s))
        # a damaged capture's time or length may not fit its field: the nearest one that does
        ts = min(max(ts_ns, 0), _MAX_U64)
        wirelen = min(max(wirelen, len(data)), _MAX_U32)
        hdr = struct.pack("<IIIII", ifc, ts >> 32, ts & _MAX_U32, len(data), wirelen)
        f.write(_block(BT_EPB, hdr + data))
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
    with open_private(out) as f:
        w = PcapngWriter(f, secrets)
        for frame in iter_frames(*captures):
            w.write(frame.linktype, frame.ts_ns, frame.data, frame.wirelen)
    return w.frames
