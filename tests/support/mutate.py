"""Deterministic mutants of real captures, for the fuzz corpus and the fuzz campaign.

A *seed* is a capture (with the key file that opens it, when there is one): the shipped
demo captures, the independent vectors and freshly synthesized calls. A *mutant* is a seed
damaged by one operator drawn from a ``random.Random`` seeded with a string, so the same
``(seed, number)`` gives the same bytes on every machine and run: flipped bits, truncation,
the pcap/pcapng headers, one record's lengths, IP/UDP/TCP header fields, TLS record and
handshake fields, SIP header text, the MIKEY message inside an SDP's base64, and MSRP/BFCP
damaged before encryption (the call synthesized again with its plaintext patched, so the
damage sits inside a TLS session that decrypts).
"""

from __future__ import annotations

import base64
import random
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mikeyshark.synth.media as synth_media
from mikeyshark.synth import SCENARIOS, synthesize
from mikeyshark.synth.net import write_frames
from tests.support.hostile import patched
from tests.support.paths import DEMO_KEYS, PCAPS, VECTORS

# the PSK of every TLS vector (tests/vectors/README.md)
VECTOR_TEK = "657bf44e8247bee72094eafe0283ab2f"
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
PCAP_MAGICS = (0xA1B2C3D4, 0xA1B23C4D)  # microsecond, nanosecond (little-endian on disk)


@dataclass(frozen=True, slots=True)
class Seed:
    name: str
    data: bytes
    keys: str | None  # key file text (TOML) or None


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str  # seed, operator and number: enough to make it again
    data: bytes
    keys: str | None


def _synth_bytes(result_frames: object, tmp: Path, name: str) -> bytes:
    path = tmp / name
    write_frames(result_frames, path)  # type: ignore[arg-type]
    return path.read_bytes()


def seeds(tmp: Path) -> list[Seed]:
    """The shipped captures and vectors, and one synthesized call per scenario (pcap and,
    for one of them, pcapng)."""
    out: list[Seed] = []
    demo = DEMO_KEYS.read_text()
    for p in sorted(PCAPS.glob("*.pcap")):
        out.append(Seed(p.name, p.read_bytes(), demo))
    tek = f'[[tek]]\nkey = "{VECTOR_TEK}"\n'
    for p in sorted(VECTORS.rglob("*.pcap")):
        out.append(Seed(p.name, p.read_bytes(), tek if "tls_psk" in p.parts else None))
    for scenario in SCENARIOS:
        r = synthesize(scenario, seed=3)
        out.append(
            Seed(f"{scenario}-3.pcap", _synth_bytes(r.frames, tmp, "s.pcap"), r.keyfile_text)
        )
    r = synthesize("msrp-dial-out", seed=5)
    out.append(
        Seed("msrp-dial-out-5.pcapng", _synth_bytes(r.frames, tmp, "s.pcapng"), r.keyfile_text)
    )
    return out


# ------------------------------------------------------------------------- pcap structure


def records(data: bytes) -> list[tuple[int, int]]:
    """(offset of the record header, captured length) of each record of a little-endian
    classic pcap; [] for anything else (pcapng, big-endian)."""
    if len(data) < 24 or struct.unpack_from("<I", data)[0] not in PCAP_MAGICS:
        return []
    out, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        if pos + 16 + incl > len(data):
            break
        out.append((pos, incl))
        pos += 16 + incl
    return out


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each frame's bytes."""
    return [(pos + 16, incl) for pos, incl in records(data)]


def _set(data: bytearray, at: int, fmt: str, value: int) -> None:
    size = struct.calcsize(fmt)
    if at >= 0 and at + size <= len(data):
        struct.pack_into(fmt, data, at, value % (1 << (8 * size)))


def _near(rng: random.Random, value: int, bits: int) -> int:
    """A value a length field should not have: off by one, zero, the largest, a power of 2."""
    return rng.choice(
        [
            value - 1,
            value + 1,
            0,
            (1 << bits) - 1,
            1 << (bits - 1),
            value * 2,
            rng.getrandbits(bits),
        ]
    )


# ------------------------------------------------------------------------------ operators


def op_flip(rng: random.Random, data: bytes) -> bytes | None:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(24, len(b)) if len(b) > 24 else rng.randrange(len(b))
        b[at] ^= 1 << rng.randrange(8)
    return bytes(b)


def op_bytes(rng: random.Random, data: bytes) -> bytes | None:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        b[rng.randrange(len(b))] = rng.choice(INTERESTING)
    return bytes(b)


def op_truncate(rng: random.Random, data: bytes) -> bytes | None:
    return data[: rng.randrange(len(data))]


def op_header(rng: random.Random, data: bytes) -> bytes | None:
    if not records(data):
        return None
    b = bytearray(data)
    field = rng.choice(["magic", "snaplen", "linktype", "version", "zone"])
    if field == "magic":
        _set(b, 0, "<I", rng.choice([0xD4C3B2A1, 0x4D3CB2A1, 0xA1B2CD34, 0x0A0D0D0A, 0]))
    elif field == "snaplen":
        _set(b, 16, "<I", rng.choice([0, 1, 14, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
    elif field == "linktype":
        _set(b, 20, "<I", rng.choice([0, 101, 113, 228, 229, 276, 0xFFFF, 0x10000001]))
    elif field == "version":
        _set(b, 4, "<H", rng.getrandbits(16))
    else:
        _set(b, 8, "<i", rng.getrandbits(31))
    return bytes(b)


def op_record(rng: random.Random, data: bytes) -> bytes | None:
    recs = records(data)
    if not recs:
        return None
    pos, incl = rng.choice(recs)
    b = bytearray(data)
    if rng.random() < 0.5:
        _set(b, pos + 8, "<I", _near(rng, incl, 32))  # incl_len: later records misaligned
    else:
        _set(b, pos + 12, "<I", _near(rng, incl, 32))  # orig_len
    return bytes(b)


def op_ip(rng: random.Random, data: bytes) -> bytes | None:
    v4 = [(o, n) for o, n in _frames(data) if n >= 34 and data[o + 12 : o + 14] == b"\x08\x00"]
    if not v4:
        return None
    o, n = rng.choice(v4)
    b = bytearray(data)
    ip = o + 14
    ihl = (b[ip] & 15) * 4
    l4 = ip + ihl
    field = rng.choice(["total", "ihl", "frag", "proto", "l4len", "tcpoff", "tcpflags"])
    if field == "total":
        _set(b, ip + 2, ">H", _near(rng, n - 14, 16))
    elif field == "ihl":
        b[ip] = 0x40 | rng.randrange(16)
    elif field == "frag":
        _set(b, ip + 6, ">H", rng.getrandbits(16))
    elif field == "proto":
        b[ip + 9] = rng.choice([1, 6, 17, 41, 47, 50, 132, 255])
    elif field == "l4len" and b[ip + 9] == 17:
        _set(b, l4 + 4, ">H", _near(rng, n - 14 - ihl, 16))
    elif field == "tcpoff" and b[ip + 9] == 6 and l4 + 13 < len(b):
        b[l4 + 12] = rng.randrange(16) << 4
    elif b[ip + 9] == 6 and l4 + 13 < len(b):
        b[l4 + 13] = rng.getrandbits(8)
    else:
        return None
    return bytes(b)


_TLS_RECORD = re.compile(rb"[\x14-\x17]\x03[\x00-\x04]", re.DOTALL)


def op_tls(rng: random.Random, data: bytes) -> bytes | None:
    hits = [
        m.start() for o, n in _frames(data) for m in _TLS_RECORD.finditer(data, o + 54, o + n - 5)
    ]
    if not hits:
        return None
    at = rng.choice(hits)
    b = bytearray(data)
    length = struct.unpack_from(">H", b, at + 3)[0]
    field = rng.choice(["length", "type", "version", "hs_type", "hs_length", "hs_body"])
    if field == "length":
        _set(b, at + 3, ">H", rng.choice([length - 1, length + 1, 0, 0xFFFF, 0x4001, 0x4800]))
    elif field == "type":
        b[at] = rng.choice([0x14, 0x15, 0x16, 0x17, 0x18, 0x00])
    elif field == "version":
        _set(b, at + 1, ">H", rng.choice([0x0300, 0x0301, 0x0302, 0x0304, 0x0305, 0xFEFD]))
    elif b[at] == 0x16 and at + 9 < len(b):
        if field == "hs_type":
            b[at + 5] = rng.choice([0, 1, 2, 4, 11, 12, 14, 16, 20, 24, 255])
        elif field == "hs_length":
            hl = int.from_bytes(b[at + 6 : at + 9], "big")
            b[at + 6 : at + 9] = (_near(rng, hl, 24) % (1 << 24)).to_bytes(3, "big")
        else:
            # the hello's version, a cipher suite, an extension length: somewhere in the body
            k = at + 9 + rng.randrange(max(1, min(length - 4, 120)))
            if k + 2 <= len(b):
                _set(b, k, ">H", rng.choice([0x0302, 0x0303, 0x0304, 0x00A8, 0x008C, 0, 0xFFFF]))
    else:
        return None
    return bytes(b)


_SIP_LINE = re.compile(
    rb"(?m)^(CSeq|Content-Length|Call-ID|From|To|Contact|Via|RSeq|RAck|Content-Type|m|c|a)"
    rb"([:=][^\r\n]*)\r?\n"
)


def op_sip(rng: random.Random, data: bytes) -> bytes | None:
    hits = [m for m in _SIP_LINE.finditer(data) if len(m.group(2)) > 2]
    if not hits:
        return None
    m = rng.choice(hits)
    b = bytearray(data)
    lo, hi = m.start(2) + 1, m.end(2)
    kind = rng.choice(["cr", "latin1", "escape", "digit", "bracket", "nul"])
    if kind == "cr" and data[hi : hi + 1] == b"\r":
        b[hi] = ord("M")  # the review's CSeq mutant: a bare LF inside the header
    elif kind == "latin1":
        b[rng.randrange(lo, hi)] = 0xE9
    elif kind == "escape":
        b[rng.randrange(lo, hi)] = 0x1B
    elif kind == "digit":
        digits = [i for i in range(lo, hi) if 0x30 <= b[i] <= 0x39]
        if not digits:
            return None
        b[rng.choice(digits)] = rng.choice(b"09x- ")
    elif kind == "bracket":
        at = data.find(b">", lo, hi)
        if at < 0:
            return None
        b[at] = ord(" ")
    else:
        b[rng.randrange(lo, hi)] = 0
    return bytes(b)


_KEY_MGMT = re.compile(rb"a=key-mgmt:mikey ([A-Za-z0-9+/=]+)")


def op_mikey(rng: random.Random, data: bytes) -> bytes | None:
    """Damage the MIKEY message inside an SDP's base64 and encode it again in place (same
    length: a shorter message is padded with spaces, which the line then ends with)."""
    hits = list(_KEY_MGMT.finditer(data))
    if not hits:
        return None
    m = rng.choice(hits)
    try:
        msg = bytearray(base64.b64decode(m.group(1), validate=True))
    except ValueError:
        return None
    if not msg:
        return None
    kind = rng.choice(["flip", "byte", "length", "next", "cut"])
    if kind == "flip":
        for _ in range(rng.randint(1, 4)):
            msg[rng.randrange(len(msg))] ^= 1 << rng.randrange(8)
    elif kind == "byte":
        msg[rng.randrange(len(msg))] = rng.choice(INTERESTING)
    elif kind == "length":
        # a 16-bit field somewhere: MIKEY's payload lengths (KEMAC, T, RAND, ID, ...)
        at = rng.randrange(len(msg) - 1) if len(msg) > 1 else 0
        value = int.from_bytes(msg[at : at + 2], "big")
        msg[at : at + 2] = (_near(rng, value, 16) % 65536).to_bytes(2, "big")
    elif kind == "next":
        msg[rng.randrange(len(msg))] = rng.choice([0, 1, 5, 9, 10, 11, 12, 26, 27, 255])
    else:
        del msg[rng.randrange(len(msg)) :]
    text = base64.b64encode(bytes(msg))
    old = m.group(1)
    if len(text) > len(old):
        return None
    b = bytearray(data)
    b[m.start(1) : m.end(1)] = text + b" " * (len(old) - len(text))
    return bytes(b)


def _damage_plaintext(rng: random.Random, plain: bytes) -> bytes:
    b = bytearray(plain)
    kind = rng.choice(["flip", "byte_range", "length", "cut", "double"])
    if kind == "flip" and b:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == "byte_range" and b"Byte-Range: " in b:
        at = b.index(b"Byte-Range: ") + 12
        end = b.index(b"\r\n", at)
        b[at:end] = rng.choice(
            [b"4194000-4194009/*", b"1-*/18446744073709551616", b"0-0/0", b"9-1/5"]
        )
    elif kind == "length" and len(b) > 4:
        # BFCP: the Payload Length of the common header, or an attribute's Length byte
        at = rng.choice([2, 3, 13, 17, 21]) if len(b) > 21 else 3
        b[at] = rng.getrandbits(8)
    elif kind == "cut" and b:
        del b[rng.randrange(len(b)) :]
    else:
        b = b + b
    return bytes(b)


def blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, total length) of each block of a little-endian pcapng; [] otherwise."""
    if data[:4] != b"\x0a\x0d\x0d\x0a" or data[8:12] != b"\x4d\x3c\x2b\x1a":
        return []
    out, pos = [], 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        if blen < 12 or pos + blen > len(data):
            break
        out.append((pos, btype, blen))
        pos += blen
    return out


def op_block(rng: random.Random, data: bytes) -> bytes | None:
    found = blocks(data)
    if not found:
        return None
    pos, btype, blen = rng.choice(found)
    b = bytearray(data)
    field = rng.choice(["length", "trailer", "type", "body"])
    if field == "length":
        _set(
            b, pos + 4, "<I", rng.choice([blen - 1, blen + 4, blen - 4, 12, 0xFFFFFFFC, 0x1000000])
        )
    elif field == "trailer":
        _set(b, pos + blen - 4, "<I", _near(rng, blen, 32))
    elif field == "type":
        _set(b, pos, "<I", rng.choice([1, 2, 3, 5, 6, 0x0A, 0x0A0D0D0A, 0x80000001]))
    elif btype == 6:  # EPB: interface id, captured and original lengths
        at = rng.choice([8, 20, 24])
        _set(b, pos + at, "<I", _near(rng, struct.unpack_from("<I", b, pos + at)[0], 32))
    elif btype == 1:  # IDB: link type, snaplen, then options (code, length)
        at = rng.choice([8, 12, 16, 18])
        _set(b, pos + at, "<H", rng.getrandbits(16))
    else:
        return None
    return bytes(b)


OPERATORS: dict[str, Callable[[random.Random, bytes], bytes | None]] = {
    "flip": op_flip,
    "bytes": op_bytes,
    "truncate": op_truncate,
    "header": op_header,
    "record": op_record,
    "ip": op_ip,
    "tls": op_tls,
    "sip": op_sip,
    "mikey": op_mikey,
    "block": op_block,
}
PLAINTEXT_SCENARIOS = ("msrp-dial-in", "msrp-dial-out", "bfcp-dial-in", "bfcp-dial-out")


def mutant(seed: Seed, op: str, number: int) -> Mutant | None:
    """Mutant ``number`` of ``seed`` by operator ``op``; None when the operator finds nothing
    to damage in that seed (no TLS, no SDP, ...)."""
    rng = random.Random(f"{seed.name}:{op}:{number}")
    data = OPERATORS[op](rng, seed.data)
    if data is None or data == seed.data:
        return None
    return Mutant(f"{seed.name}:{op}:{number}", data, seed.keys)


def plaintext_mutants(scenario: str, count: int, tmp: Path, start: int = 0) -> Iterator[Mutant]:
    """``count`` calls of ``scenario`` each with one MSRP/BFCP message damaged in the clear
    before the TLS session encrypts it."""
    script = "bfcp_script" if scenario.startswith("bfcp") else "msrp_script"
    for number in range(start, start + count):
        rng = random.Random(f"{scenario}:plaintext:{number}")
        with patched(script, _damaging(rng)):
            r = synthesize(scenario, seed=rng.randrange(1000))
        path = tmp / "plain.pcap"
        write_frames(r.frames, path)
        yield Mutant(f"{scenario}:plaintext:{number}", path.read_bytes(), r.keyfile_text)


def _damaging(
    rng: random.Random,
) -> Callable[[Callable[..., list[synth_media.AppWrite]]], Callable[..., object]]:
    """A replacement for a conversation script: the same messages, one of them damaged."""

    def make(orig: Callable[..., list[synth_media.AppWrite]]) -> Callable[..., object]:
        def damaged(*a: object, **kw: object) -> list[synth_media.AppWrite]:
            s = list(orig(*a, **kw))
            i = rng.randrange(len(s))
            s[i] = synth_media.AppWrite(s[i].from_ue, _damage_plaintext(rng, s[i].data), False)
            return s

        return damaged

    return make


def corpus(tmp: Path, per_operator: int, plaintext: int) -> Iterator[Mutant]:
    """The fixed corpus: ``per_operator`` mutants of every seed by every operator (those the
    seed offers something to), and ``plaintext`` damaged calls per MSRP/BFCP scenario."""
    for seed in seeds(tmp):
        for op in OPERATORS:
            for number in range(per_operator):
                m = mutant(seed, op, number)
                if m is not None:
                    yield m
    for scenario in PLAINTEXT_SCENARIOS:
        yield from plaintext_mutants(scenario, plaintext, tmp)
