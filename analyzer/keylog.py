"""Hand recovered TLS secrets to other tools: an NSS key log, a pcapng with a Decryption
Secrets Block (Wireshark then decrypts with no options), and a capture with each decrypted
TLS stream re-emitted as plaintext TCP."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence

from mikeyshark.capture import iter_frames
from mikeyshark.decrypt import DecodedConnection, TlsSessionInfo
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
    with open(path, "w", encoding="ascii") as f:
        f.write(text)
    return text.count("\n")


def _block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", block_type, n) + body + struct.pack("<I", n)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def write_pcapng_with_secrets(
    captures: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    sessions: Iterable[TlsSessionInfo],
) -> int:
    """``--inject-secrets FILE.pcapng``: the captures' frames as one pcapng whose
    Decryption Secrets Block (before the first packet) holds the key log.  Returns the
    number of frames written."""
    secrets = keylog_text(sessions).encode("ascii")
    interfaces: dict[int, int] = {}
    n = 0
    with open(out, "wb") as f:
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        f.write(_block(_SHB, shb))
        wrote_dsb = False
        for frame in iter_frames(*captures):
            if frame.linktype not in interfaces:
                interfaces[frame.linktype] = len(interfaces)
                opts = _option(_OPT_IF_TSRESOL, b"\x09") + _option(0, b"")
                f.write(_block(_IDB, struct.pack("<HHI", frame.linktype, 0, 0) + opts))
            if not wrote_dsb:
                f.write(
                    _block(_DSB, struct.pack("<II", _SECRETS_TLS_KEYLOG, len(secrets)) + secrets)
                )
                wrote_dsb = True
            ts = frame.ts_ns
            f.write(
                _block(
                    _EPB,
                    struct.pack(
                        "<IIIII",
                        interfaces[frame.linktype],
                        ts >> 32,
                        ts & 0xFFFFFFFF,
                        len(frame.data),
                        frame.wirelen,
                    )
                    + frame.data,
                )
            )
            n += 1
    return n


def write_decrypted_pcap(
    captures: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    connections: Sequence[DecodedConnection],
) -> int:
    """``--decrypted-pcap FILE``: the captures' frames, except those of decrypted TLS
    connections, which are replaced by a synthetic TCP connection between the same
    endpoints (handshake, one segment per decrypted record at that record's capture time,
    FIN) carrying the plaintext, with consistent sequence numbers so that tshark reassembles
    it.  The output is Ethernet (frames of other link types are re-wrapped).  Returns the
    number of frames written."""
    from scapy.config import conf as scapy_conf
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Packet

    done = [c for c in connections if c.info.decrypted and c.data]
    keys = {frozenset({(c.client.ip, c.client.port), (c.server.ip, c.server.port)}) for c in done}
    items: list[tuple[int, bytes]] = []
    for frame in iter_frames(*captures):
        cls = scapy_conf.l2types.get(frame.linktype)
        pkt: Packet | None = cls(frame.data) if isinstance(cls, type) else None
        ipl = None
        if pkt is not None:
            ipl = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if ipl is not None and pkt is not None and pkt.haslayer(TCP):
            t = pkt[TCP]
            if frozenset({(ipl.src, t.sport), (ipl.dst, t.dport)}) in keys:
                continue
        if frame.linktype == 1:
            items.append((frame.ts_ns, frame.data))
        elif ipl is not None:
            items.append((frame.ts_ns, bytes(Ether(src=_MAC_CLIENT, dst=_MAC_SERVER) / ipl)))
    for c in done:
        nxt = {True: 1000, False: 500000}
        t0 = c.data[0].ts_ns - 3000
        items.append((t0, _segment(c, True, "S", nxt[True] - 1, 0)))
        items.append((t0 + 1000, _segment(c, False, "SA", nxt[False] - 1, nxt[True])))
        items.append((t0 + 2000, _segment(c, True, "A", nxt[True], nxt[False])))
        for a in c.data:
            fc = a.from_client
            for k in range(0, len(a.data), _MAX_SEGMENT):
                piece = a.data[k : k + _MAX_SEGMENT]
                items.append((a.ts_ns, _segment(c, fc, "PA", nxt[fc], nxt[not fc], piece)))
                nxt[fc] = (nxt[fc] + len(piece)) % (1 << 32)
        tl = c.data[-1].ts_ns + 1000
        items.append((tl, _segment(c, True, "FA", nxt[True], nxt[False])))
        items.append((tl + 1000, _segment(c, False, "FA", nxt[False], nxt[True] + 1)))
        items.append((tl + 2000, _segment(c, True, "A", nxt[True] + 1, nxt[False] + 1)))
    items.sort(key=lambda it: it[0])
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        for ts, data in items:
            sec, ns = divmod(ts, 1_000_000_000)
            f.write(struct.pack("<IIII", sec, ns, len(data), len(data)) + data)
    return len(items)


_MAX_SEGMENT = 60000
_MAC_CLIENT = "02:00:00:00:00:01"
_MAC_SERVER = "02:00:00:00:00:02"


def _segment(
    c: DecodedConnection, from_client: bool, flags: str, seq: int, ack: int, data: bytes = b""
) -> bytes:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    a, b = (c.client, c.server) if from_client else (c.server, c.client)
    macs = (_MAC_CLIENT, _MAC_SERVER) if from_client else (_MAC_SERVER, _MAC_CLIENT)
    ip = IPv6(src=a.ip, dst=b.ip) if ":" in a.ip else IP(src=a.ip, dst=b.ip)
    p = Ether(src=macs[0], dst=macs[1]) / ip
    p = p / TCP(sport=a.port, dport=b.port, flags=flags, seq=seq, ack=ack, window=65535)
    return bytes(p / Raw(data)) if data else bytes(p)
