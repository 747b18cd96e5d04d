"""tshark reads what the synthesizer writes: TCP, SIP/SDP, TLS decrypted with the TEK,
MSRP / BFCP inside, and the MIKEY fields tshark knows.

tshark 4.0 does not hand decrypted TLS to MSRP or BFCP (neither is in the ``tls.port``
table nor a TLS heuristic), so the decrypted streams tshark prints with ``follow,tls,raw``
are put back on a plain TCP connection and dissected with ``-d tcp.port==P,msrp|bfcp``.
"""

from __future__ import annotations

import base64
import random
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from mikeyshark.cli import main
from mikeyshark.dissectors.mikey.message import parse as mikey_parse
from mikeyshark.dissectors.mikey.payloads import Ticket
from mikeyshark.synth import SCENARIOS, SynthResult, synthesize, write_capture
from mikeyshark.synth.net import Cursor, Network, TcpConnection, write_frames

pytestmark = pytest.mark.tshark
SEED = 7


def run(tshark: str, *args: str) -> str:
    out = subprocess.run([tshark, *args], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


def fields(
    tshark: str, path: Path, flt: str, *names: str, extra: tuple[str, ...] = ()
) -> list[list[str]]:
    args = ["-r", str(path), *extra, "-Y", flt, "-T", "fields", "-E", "occurrence=a"]
    for n in names:
        args += ["-e", n]
    return [line.split("\t") for line in run(tshark, *args).splitlines() if line]


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[SynthResult, Path]]:
    d = tmp_path_factory.mktemp("synth")
    out = {}
    for name in SCENARIOS:
        r = synthesize(name, seed=SEED)
        p = d / f"{name}.pcap"
        write_capture(r, p)
        out[name] = (r, p)
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_tcp_connections_opened_by_the_side_the_table_names(
    tshark: str, captures: dict[str, tuple[SynthResult, Path]], scenario: str
) -> None:
    r, path = captures[scenario]
    syns = fields(tshark, path, "tcp.flags.syn==1 && tcp.flags.ack==0", "ip.src", "tcp.dstport")
    ue_ips = {c.ue for c in r.calls}
    assert len(syns) == sum(len(c.media) for c in r.calls)
    by_call_dir = {
        c.call_id: ("203.0.113.30" if c.scenario.endswith("dial-in") else None) for c in r.calls
    }
    for c in r.calls:
        for m in c.media:
            assert m.tcp_client is not None
            row = [m.tcp_client.ip, str(m.tcp_server.port if m.tcp_server else 0)]
            assert row in syns
            # dial-in: the MRFP connects; dial-out: the UE does (the flows' roles, docs/rules.md)
            if by_call_dir[c.call_id]:
                assert m.tcp_client.ip == "203.0.113.30"
            else:
                assert m.tcp_client.ip.startswith("198.51.100.")
    assert ue_ips
    # every connection ends with a FIN from each side
    fins = fields(tshark, path, "tcp.flags.fin==1", "tcp.stream")
    assert len(fins) == 2 * len(syns)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_sip_sdp_fields_match(
    tshark: str, captures: dict[str, tuple[SynthResult, Path]], scenario: str
) -> None:
    r, path = captures[scenario]
    invites = fields(
        tshark,
        path,
        "sip.Method==INVITE",
        "sip.Call-ID",
        "sip.from.addr",
        "sip.to.addr",
        "sdp.media.proto",
        "sdp.media_attr",
    )
    assert len(invites) == len(r.calls)
    for c in r.calls:
        row = next(x for x in invites if x[0] == c.call_id)
        assert row[1] == c.offerer and row[2] == c.answerer
        protos = row[3].split(",")
        for m in c.media:
            assert m.proto in protos
        attrs = row[4]
        assert "setup:actpass" in attrs
        for m in c.media:
            b64 = base64.b64encode(m.mikey_init).decode()
            assert f"key-mgmt:mikey {b64}" in attrs
    answers = fields(
        tshark, path, "sip.Status-Code==200 && sdp", "sip.Call-ID", "sip.Contact", "sdp.media_attr"
    )
    for c in r.calls:
        row = next(x for x in answers if x[0] == c.call_id)
        assert "setup:active" in row[2]
        for m in c.media:
            assert f"key-mgmt:mikey {base64.b64encode(m.mikey_resp).decode()}" in row[2]
        if c.scenario.endswith("dial-in"):
            assert ";isfocus" in row[1]
    focus_invites = fields(tshark, path, "sip.Method==INVITE", "sip.Call-ID", "sip.Contact")
    for c in r.calls:
        if c.scenario.endswith("dial-out"):
            row = next(x for x in focus_invites if x[0] == c.call_id)
            assert ";isfocus" in row[1]
    byes = fields(tshark, path, "sip.Method==BYE", "sip.Call-ID")
    assert sorted(b[0] for b in byes) == sorted(c.call_id for c in r.calls)


def _follow(
    tshark: str, path: Path, tek: bytes, port: int, keylog: Path | None = None
) -> list[tuple[bool, bytes]]:
    """Decrypted bytes of the TLS stream on ``port``: (from node 0, data) in order. The
    key is the TEK as TLS PSK or, with ``keylog``, the NSS key log alone."""
    streams = fields(tshark, path, f"tcp.port=={port} && tcp.flags.syn==1", "tcp.stream")
    key = f"tls.keylog_file:{keylog}" if keylog else f"tls.psk:{tek.hex()}"
    text = run(
        tshark,
        "-r",
        str(path),
        "-o",
        key,
        "-d",
        f"tcp.port=={port},tls",
        "-q",
        "-z",
        f"follow,tls,raw,{streams[0][0]}",
    )
    body = text.split("\n", 1)[1]
    out = []
    for line in body.splitlines():
        if not line.strip() or line.startswith(("=", "Follow", "Filter", "Node")):
            continue
        out.append((not line.startswith("\t"), bytes.fromhex(line.strip())))
    return out


def _plain_pcap(pieces: list[tuple[bool, bytes]], path: Path, port: int) -> None:
    rng = random.Random(0)
    net = Network(rng)
    cur = Cursor(rng, 10**18)
    a, b = net.host("a", "192.0.2.1"), net.host("b", "192.0.2.2")
    conn = TcpConnection(net, cur, a, 50000, b, port)
    conn.connect()
    for from_a, data in pieces:
        conn.send(from_a, data)
    write_frames(net.frames(), path)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_tls_decrypts_with_tek_and_app_dissects(
    tshark: str, captures: dict[str, tuple[SynthResult, Path]], scenario: str, tmp_path: Path
) -> None:
    r, path = captures[scenario]
    for c in r.calls:
        for m in c.media:
            assert m.tcp_server is not None
            pieces = _follow(tshark, path, m.tek, m.tcp_server.port)
            assert pieces, "tshark decrypted nothing with the TEK"
            plain = tmp_path / f"{m.protocol}-{m.csb_id}.pcap"
            _plain_pcap(pieces, plain, 7777)
            if m.protocol == "msrp":
                rows = fields(
                    tshark,
                    plain,
                    "msrp",
                    "msrp.request.line",
                    "msrp.response.line",
                    "msrp.to.path",
                    extra=("-d", "tcp.port==7777,msrp"),
                )
                sends = [x for x in rows if x[0].endswith("SEND")]
                oks = [x for x in rows if x[1].endswith("200 OK")]
                assert len(sends) >= 4 and len(oks) == len(sends)
                sdp_paths = fields(
                    tshark, path, f'sip.Call-ID=="{c.call_id}" && sdp', "sdp.media_attr"
                )
                paths = {
                    a.split("path:", 1)[1]
                    for row in sdp_paths
                    for a in row[0].split(",")
                    if a.startswith("path:")
                }
                assert {s[2] for s in sends} <= paths
            else:
                rows = fields(
                    tshark,
                    plain,
                    "bfcp",
                    "bfcp.primitive",
                    "bfcp.conference_id",
                    extra=("-d", "tcp.port==7777,bfcp"),
                )
                assert [x[0] for x in rows] == ["11", "12", "1", "4", "2", "4"]
                confids = fields(
                    tshark, path, f'sip.Call-ID=="{c.call_id}" && sdp', "sdp.media_attr"
                )
                confid = next(
                    a.split(":", 1)[1]
                    for row in confids
                    for a in row[0].split(",")
                    if a.startswith("confid:")
                )
                assert {x[1] for x in rows} == {confid}


def test_tshark_decodes_mikey_fields(tshark: str, tmp_path: Path) -> None:
    """HDR as tshark reads it; tshark has no GENERIC-ID map, so T/RAND/IDR/SP are read by
    putting our payload chain (from byte 17, after the 1-entry GENERIC-ID HDR) behind an
    SRTP-ID HDR with #CS = 0 that tshark knows."""
    r = synthesize("msrp-dial-in", seed=SEED)
    c = r.calls[0]
    m = c.media[0]
    init = m.mikey_init
    srtp_hdr = init[:8] + bytes([0, 0])  # same version/type/next/V/PRF/CSB ID, #CS 0, map 0
    pkts = [
        Ether(dst="02:00:00:00:00:02")
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=2269, dport=2269)
        / Raw(init),
        Ether(dst="02:00:00:00:00:02")
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=2269, dport=2269)
        / Raw(srtp_hdr + init[17:]),
    ]
    p = tmp_path / "mikey.pcap"
    wrpcap(str(p), pkts)
    rows = fields(
        tshark,
        p,
        "mikey",
        "mikey.version",
        "mikey.type",
        "mikey.csb_id",
        "mikey.cs_count",
        "mikey.cs_id_map_type",
        "mikey.prf_func",
        "mikey.v.set",
    )
    assert rows[0] == ["1", "14", f"0x{m.csb_id:08x}", "1", "2", "1", "1"]
    rows = fields(
        tshark,
        p,
        "frame.number==2",
        "mikey.t.ts_type",
        "mikey.rand.len",
        "mikey.id.role",
        "mikey.id.data",
        "mikey.sp.proto_type",
    )
    ts_type, rand_len, roles, ids, prot = rows[0]
    assert ts_type == "0" and rand_len == "16"
    assert roles.split(",") == ["1", "2", "3"]
    assert prot == "2"  # docs/profile.md, numbers: Prot type TLS
    assert ids.split(",") == [c.offerer, c.answerer, "kms.example.org"]


def test_tshark_decodes_ticket_kemac_and_transfer_resp(tshark: str, tmp_path: Path) -> None:
    """The ticket's KEMAC (its last payload; docs/profile.md, the base ticket: AES-CM-128, key
    data = MPK and one TGK sub-payload of 1+1+2+16 bytes each, HMAC-SHA-256 MAC of 32 bytes)
    behind a tshark-readable HDR, and TRANSFER_RESP's T and IDR as tshark reads them."""
    r = synthesize("bfcp-dial-out", seed=SEED)
    c = r.calls[0]
    m = c.media[0]
    ticket = mikey_parse(m.mikey_init).find(Ticket)
    assert ticket is not None
    kemac = ticket.data[-(1 + 1 + 2 + 40 + 1 + 32) :]
    hdr = m.mikey_init[:2] + b"\x01" + m.mikey_init[3:8] + b"\x00\x00"  # next payload: KEMAC
    resp_hdr = m.mikey_resp[:8] + b"\x00\x00"  # T follows the 17-byte GENERIC-ID HDR
    udp = Ether(dst="02:00:00:00:00:02") / IP(src="192.0.2.1", dst="192.0.2.2")
    udp = udp / UDP(sport=2269, dport=2269)
    p = tmp_path / "kemac.pcap"
    wrpcap(str(p), [udp / Raw(hdr + kemac), udp / Raw(resp_hdr + m.mikey_resp[17:])])
    rows = fields(
        tshark,
        p,
        "frame.number==1",
        "mikey.kemac.encr_alg",
        "mikey.kemac.key_data_len",
        "mikey.kemac.key_data",
        "mikey.kemac.mac_alg",
    )
    assert rows[0][:2] == ["1", "40"] and rows[0][3] == "2"
    assert bytes.fromhex(rows[0][2].replace(":", "")) == kemac[4:44]
    rows = fields(
        tshark,
        p,
        "frame.number==2",
        "mikey.type",
        "mikey.csb_id",
        "mikey.t.ts_type",
        "mikey.id.role",
        "mikey.id.data",
    )
    assert rows[0] == ["15", f"0x{m.csb_id:08x}", "0", "2", c.answerer]


def test_certificate_suite_fault_is_a_real_certificate_session(tshark: str, tmp_path: Path) -> None:
    """The fault's handshake verifies (certificate and ServerKeyExchange signatures, checked
    here with `cryptography`) and tshark decrypts its records with the session's key log."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    r = synthesize("bfcp-dial-out", seed=SEED, faults=["certificate-suite"])
    m = r.calls[0].media[0]
    assert m.cipher_suite == 0xC02B
    path, keylog = tmp_path / "cert.pcap", tmp_path / "cert.keylog"
    write_capture(r, path)
    keylog.write_text("\n".join(m.keylog) + "\n")
    rows = fields(
        tshark,
        path,
        "tls.handshake.type==11",
        "tls.handshake.certificate",
        "tls.handshake.ciphersuite",
    )
    cert = x509.load_der_x509_certificate(bytes.fromhex(rows[0][0].replace(":", "")))
    assert rows[0][1] == "0xc02b"
    key = cert.public_key()
    assert isinstance(key, Ed25519PublicKey)
    key.verify(cert.signature, cert.tbs_certificate_bytes)  # self-signed
    hs = fields(
        tshark,
        path,
        "tls.handshake.type==2 || tls.handshake.type==12",
        "tls.handshake.random",
        "tls.handshake.server_point",
        "tls.handshake.sig",
    )
    cr = fields(tshark, path, "tls.handshake.type==1", "tls.handshake.random")[0][0]
    sr, point, sig = hs[0][0], hs[0][1], hs[0][2]
    params = bytes([3, 0, 29, 32]) + bytes.fromhex(point.replace(":", ""))
    key.verify(
        bytes.fromhex(sig.replace(":", "")),
        bytes.fromhex(cr.replace(":", "")) + bytes.fromhex(sr.replace(":", "")) + params,
    )
    assert m.tcp_server is not None
    text = run(
        tshark,
        "-r",
        str(path),
        "-o",
        f"tls.keylog_file:{keylog}",
        "-d",
        f"tcp.port=={m.tcp_server.port},tls",
        "-q",
        "-z",
        "follow,tls,raw,0",
    )
    plain = b"".join(
        bytes.fromhex(ln.strip())
        for ln in text.splitlines()[6:]
        if ln.strip() and not ln.startswith("=")
    )
    assert plain[:2] == b"\x20\x0b"  # BFCP Hello in the clear after decryption


def test_ipv6_tcp_connection(tshark: str, tmp_path: Path) -> None:
    rng = random.Random(1)
    net = Network(rng)
    cur = Cursor(rng, 10**18)
    a, b = net.host("a", "2001:db8::1"), net.host("b", "2001:db8::2")
    conn = TcpConnection(net, cur, a, 50000, b, 2855)
    conn.connect()
    conn.send(True, b"x" * 3000)
    conn.close(True)
    path = tmp_path / "v6.pcapng"
    write_frames(net.frames(), path)
    rows = fields(tshark, path, "tcp", "ipv6.src", "tcp.flags", "tcp.len", "tcp.options.mss_val")
    # SYN, SYN-ACK, ACK, two full segments and the PSH rest, the ACK, FIN, FIN, ACK
    assert [int(r[1], 16) for r in rows] == [
        0x002,
        0x012,
        0x010,
        0x010,
        0x010,
        0x018,
        0x010,
        0x011,
        0x011,
        0x010,
    ]
    assert [r[2] for r in rows] == ["0", "0", "0", "1440", "1440", "120", "0", "0", "0", "0"]
    assert rows[0][0] == "2001:db8::1" and rows[0][3] == "1440"


def test_cli_keylog_alone_decrypts_the_conference(tshark: str, tmp_path: Path) -> None:
    cap, keylog = tmp_path / "c.pcapng", tmp_path / "c.keylog"
    assert (
        main(["synth", "conference", "-o", str(cap), "--seed", "2", "--keylog", str(keylog)]) == 0
    )
    r = synthesize("conference", seed=2)
    lines = keylog.read_text().splitlines()
    assert len(lines) == 6 and all(ln.startswith("CLIENT_RANDOM ") for ln in lines)
    for c in r.calls:
        for m in c.media:
            assert m.tcp_server is not None
            pieces = _follow(tshark, cap, b"", m.tcp_server.port, keylog)
            first = pieces[0][1]
            assert first.startswith(b"MSRP ") if m.protocol == "msrp" else first[:2] == b"\x20\x0b"
