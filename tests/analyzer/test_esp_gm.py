"""IPsec ESP on Gm (TS 33.203): ESP-NULL read without keys for every ICV length the
integrity algorithms give, ICV verification and AES-CBC / AES-GCM decryption with the key
file's [[esp]] SAs; the call inside is judged like the plain call."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mikeyshark.dissectors import esp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.keyfile import KeyFile, KeyFileError
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_frames, statuses
from tests.support.tunnels import (
    MD5_KEY,
    NULL_SAS,
    SHA1_KEY,
    SHA256_KEY,
    XCBC_KEY,
    sip_in_esp,
    sip_ports,
)


@pytest.mark.parametrize(
    ("msg", "mac"),
    [
        # RFC 3566 section 4.6, test cases 1-3 (AES-XCBC-MAC-96 = first 96 bits)
        (b"", "75f0251d528ac01c4573dfd5"),
        (bytes(range(3)), "5b376580ae2f19afe7219cee"),
        (bytes(range(16)), "d2a246fa349b68a79998a439"),
        (bytes(range(20)), "47f51b4564966215b8985c63"),
        (bytes(range(32)), "f54f0ec8d2b9f3d36807734b"),
    ],
)
def test_aes_xcbc_mac_96_rfc3566_vectors(msg: bytes, mac: str) -> None:
    assert esp.aes_xcbc_mac_96(XCBC_KEY, msg).hex() == mac


@pytest.mark.parametrize("alg", ["hmac-sha1-96", "hmac-md5-96", "hmac-sha256-128"])
def test_hmac_icv_step_by_step(alg: str) -> None:
    algo, key, n = {
        "hmac-sha1-96": (hashes.SHA1(), SHA1_KEY, 12),
        "hmac-md5-96": (hashes.MD5(), MD5_KEY, 12),
        "hmac-sha256-128": (hashes.SHA256(), SHA256_KEY, 16),
    }[alg]
    h = hmac.HMAC(key, algo)
    h.update(b"esp header and payload")
    assert esp.compute_icv(alg, key, b"esp header and payload") == h.finalize()[:n]


def test_null_codec_roundtrip_and_heuristic() -> None:
    udp = b"\x13\xc4\x13\xc4\x00\x0d\x00\x00hello"
    for icv in (12, 16, 0):
        p = esp.EspNull(0xABCD, 7, udp, esp.default_padding(1), 17, bytes(range(icv)))
        raw = esp.build_null(p)
        assert len(raw) % 4 == 0
        assert esp.parse_null(raw, icv) == p
        assert esp.build_null(esp.parse_null(raw, icv)) == raw
        assert esp.find_null(raw, 0, len(raw)) == (icv, 17, 8, 8 + len(udp))
        assert esp.parse(raw).spi == 0xABCD and esp.build(esp.parse(raw)) == raw
    # encrypted-looking bytes are not taken for ESP-NULL
    assert esp.find_null(bytes(8) + bytes(range(200, 248)), 0, 56) is None


def test_seal_and_open_with_sas() -> None:
    inner = b"\x13\xc4\x13\xc4\x00\x0d\x00\x00hello"
    cbc = esp.EspSa(5, "aes-cbc", "hmac-sha1-96", bytes(16), SHA1_KEY)
    raw = esp.seal_packet(cbc, 1, 17, inner, bytes(range(16)))
    # RFC 4303 / RFC 3602 by hand: SPI | seq | IV | AES-CBC(payload, pad 1..n, pad length,
    # next header) | HMAC-SHA-1-96 over everything before it
    h = hmac.HMAC(SHA1_KEY, hashes.SHA1())
    h.update(raw[:-12])
    assert (raw[:8], raw[8:24], raw[-12:]) == (
        bytes.fromhex("00000005 00000001"),
        bytes(range(16)),
        h.finalize()[:12],
    )
    dec = Cipher(algorithms.AES(bytes(16)), modes.CBC(bytes(range(16)))).decryptor()
    plain = dec.update(raw[24:-12]) + dec.finalize()
    assert plain == inner + b"\x01" + bytes((1, 17))  # 13 + 1 pad octet + 2 = one block
    assert esp.open_packet(cbc, raw) == (17, inner)
    gcm = esp.EspSa(6, "aes-gcm", "none", bytes(16) + b"salt")
    raw = esp.seal_packet(gcm, 9, 17, inner, b"ivivivi!")
    # RFC 4106: nonce = salt || IV, AAD = SPI || sequence number, 16-octet tag at the end
    plain = AESGCM(bytes(16)).decrypt(b"salt" + b"ivivivi!", raw[16:], raw[:8])
    assert plain[: len(inner)] == inner and plain[-1] == 17
    assert esp.open_packet(gcm, raw) == (17, inner)
    bad = raw[:-1] + bytes((raw[-1] ^ 1,))
    with pytest.raises(DissectError, match="tag does not verify"):
        esp.open_packet(gcm, bad)


def _keyfile(base: str, sas: list[esp.EspSa]) -> str:
    out = [base]
    for sa in sas:
        out.append("[[esp]]")
        out.append(f'spi = "0x{sa.spi:08x}"')
        out.append(f'encryption = "{sa.encryption}"')
        out.append(f'integrity = "{sa.integrity}"')
        if sa.encryption_key:
            out.append(f'encryption_key = "{sa.encryption_key.hex()}"')
        if sa.integrity_key:
            out.append(f'integrity_key = "{sa.integrity_key.hex()}"')
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def call(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[tuple[Frame, ...], str, dict[str, dict[str, str]], Path]:
    r = synthesize("msrp-dial-in", seed=7)
    d = tmp_path_factory.mktemp("gm")
    plain = statuses(analyze_frames(r.frames, r.keyfile_text, d / "plain.pcap"))
    return r.frames, r.keyfile_text, plain, d


@pytest.mark.parametrize("alg", sorted(NULL_SAS))
def test_esp_null_without_keys_is_judged_like_plain(
    call: tuple[tuple[Frame, ...], str, dict[str, dict[str, str]], Path], alg: str
) -> None:
    frames, keys, plain, d = call
    gm = sip_in_esp(frames, NULL_SAS[alg])
    rep = analyze_frames(gm, keys, d / f"{alg}.pcap")
    assert statuses(rep) == plain
    assert [c.verdict for c in rep.calls] == ["pass"]
    n = sum(1 for f in frames if sip_ports(f))
    icv = esp.ICV_LEN[alg]
    first = next(i + 1 for i, f in enumerate(frames) if sip_ports(f))
    read = [(e.frame, e.reason) for c in rep.captures for e in c.errors if e.layer == "esp"]
    assert len(read) == 1 and read[0][0] == first
    assert read[0][1].startswith(f"{n} ESP packet(s) of SPI 0x{NULL_SAS[alg].spi:08x}")
    assert f"read: ESP-NULL with a {icv}-octet ICV" in read[0][1]
    assert ("HMAC-SHA-256-128" if icv == 16 else "HMAC-SHA-1-96") in read[0][1]


@pytest.mark.parametrize("alg", sorted(NULL_SAS))
def test_esp_null_with_keys_verifies_icv(
    call: tuple[tuple[Frame, ...], str, dict[str, dict[str, str]], Path], alg: str
) -> None:
    frames, keys, plain, d = call
    sa = NULL_SAS[alg]
    gm = sip_in_esp(frames, sa)
    rep = analyze_frames(gm, _keyfile(keys, [sa]), d / f"k-{alg}.pcap")
    assert statuses(rep) == plain
    wrong = esp.EspSa(sa.spi, "null", alg, b"", bytes(len(sa.integrity_key)))
    rep = analyze_frames(gm, _keyfile(keys, [wrong]), d / f"w-{alg}.pcap")
    assert rep.calls == []
    errs = [e for c in rep.captures for e in c.errors if e.layer == "esp" and e.severity == "error"]
    assert len(errs) == 1
    assert f"SPI 0x{sa.spi:08x}" in errs[0].reason and "ICV does not verify" in errs[0].reason
    first_esp = next(i + 1 for i, f in enumerate(frames) if sip_ports(f))
    assert errs[0].frame == first_esp


@pytest.mark.parametrize(
    "sa",
    [
        esp.EspSa(0x2001, "aes-cbc", "hmac-sha1-96", bytes(range(16)), SHA1_KEY),
        esp.EspSa(0x2002, "aes-cbc", "hmac-sha256-128", bytes(range(32)), SHA256_KEY),
        esp.EspSa(0x2003, "aes-gcm", "none", bytes(range(16)) + b"SALT"),
    ],
    ids=["cbc-sha1", "cbc256-sha256", "gcm"],
)
def test_encrypted_esp_with_keys_and_without(
    call: tuple[tuple[Frame, ...], str, dict[str, dict[str, str]], Path], sa: esp.EspSa
) -> None:
    frames, keys, plain, d = call
    iv = bytes(range(16)) if sa.encryption == "aes-cbc" else b"8bytesIV"
    gm = sip_in_esp(frames, sa, iv)
    rep = analyze_frames(gm, _keyfile(keys, [sa]), d / f"{sa.spi}.pcap")
    assert statuses(rep) == plain
    info = [e.reason for c in rep.captures for e in c.errors if e.layer == "esp"]
    assert len(info) == 1 and f"read: {sa.encryption}, " in info[0] and "verified" in info[0]
    rep = analyze_frames(gm, keys, d / f"{sa.spi}-nokey.pcap")
    assert rep.calls == []
    errs = [e for c in rep.captures for e in c.errors if e.layer == "esp" and e.severity == "error"]
    n = sum(1 for f in frames if sip_ports(f))
    assert len(errs) == 1 and errs[0].reason.startswith(f"{n} ESP packet(s) of SPI 0x{sa.spi:08x}")
    assert "no key for this SPI" in errs[0].reason


@pytest.mark.parametrize(
    ("entry", "msg"),
    [
        ('spi = 0\nintegrity = "hmac-sha1-96"\nintegrity_key = "00"', "spi must be"),
        ('spi = 5\nintegrity = "hmac-sha1-96"\nintegrity_key = "0011"', "takes 20 bytes"),
        ('spi = 5\nencryption = "des"\nintegrity = "hmac-sha1-96"', "encryption must be"),
        ('spi = 5\nencryption = "aes-gcm"\nintegrity = "hmac-sha1-96"', "integrity must be"),
        ('spi = 5\nintegrity = "hmac-md5-96"', "integrity_key is missing"),
    ],
)
def test_key_file_esp_errors_name_the_line(entry: str, msg: str) -> None:
    with pytest.raises(KeyFileError, match=msg) as e:
        KeyFile.parse("# keys\n[[esp]]\n" + entry + "\n")
    assert e.value.line is not None and e.value.line >= 2


def test_key_file_esp_entry() -> None:
    kf = KeyFile.parse(
        '[[esp]]\nspi = "0x1234"\nencryption = "aes-gcm"\nencryption_key = "' + "11" * 20 + '"\n'
    )
    assert kf.esp == (esp.EspSa(0x1234, "aes-gcm", "none", b"\x11" * 20, b""),)


def test_udp_encapsulated_esp_nat_t(
    call: tuple[tuple[Frame, ...], str, dict[str, dict[str, str]], Path],
) -> None:
    """RFC 3948: ESP in UDP 4500 behind a NAT; keep-alives (0xFF) and IKE (non-ESP marker)
    on the same port are not taken for ESP."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    frames, keys, plain, d = call
    sa = NULL_SAS["hmac-sha1-96"]
    out: list[Frame] = []
    for f in sip_in_esp(frames, sa):
        pkt = Ether(f.data)
        ip = pkt[IP]
        if ip.proto == 50:
            body = bytes(ip.payload)
            new = (
                Ether(src=pkt.src, dst=pkt.dst)
                / IP(src=ip.src, dst=ip.dst)
                / UDP(sport=4500, dport=4500)
                / body
            )
            data = bytes(new)
            f = Frame(f.number, f.ts_ns, 1, data, len(data))
        out.append(f)
    extra = [
        bytes(Ether() / IP(src="198.51.100.11", dst="192.0.2.10") / UDP(sport=4500, dport=4500) / p)
        for p in (b"\xff", b"\x00\x00\x00\x00" + bytes(28))
    ]
    t = out[0].ts_ns
    out = [
        Frame(1, t - 2, 1, extra[0], len(extra[0])),
        Frame(2, t - 1, 1, extra[1], len(extra[1])),
    ] + [Frame(i + 3, f.ts_ns, 1, f.data, f.wirelen) for i, f in enumerate(out)]
    rep = analyze_frames(out, keys, d / "natt.pcap")
    assert statuses(rep) == plain
    assert not [
        e for c in rep.captures for e in c.errors if e.layer == "esp" and e.severity == "error"
    ]
