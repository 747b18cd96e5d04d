"""``mikeyshark dissect``: TLS, MSRP and BFCP rows and details, compared with tshark 4.0.

tshark 4.0 has no MSRP/BFCP dissector registered under TLS (``-d tls.port==P,msrp`` is
rejected: "isn't valid for layer type tls.port"), so after decryption it shows the records as
Application Data (or hands them to SIP on port 5061). Where we show the decrypted MSRP/BFCP,
the expected Info strings come from tshark on the same messages over plain TCP instead: the
``app/`` vectors for the ``tls_psk`` ones, and the analyzer's plaintext export
(``--decrypted-pcap``) decoded as MSRP/BFCP for the synthesized calls.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.utils import rdpcap, wrpcap

from mikeyshark.cli import main
from tests.support.dissect import Result, our_tree
from tests.support.paths import DEMO_KEYS, ROOT
from tests.support.vectors import PSK, tls_psk_frames

pytestmark = pytest.mark.tshark

_GCM = tls_psk_frames("psk_aes128_gcm_sha256")

TLS12 = ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256"]


def tshark_columns(tshark: str, pcap: Path | str, *opts: str) -> list[tuple[str, str]]:
    cmd = [tshark, "-r", str(pcap), *opts, "-T", "fields", "-E", "separator=/t"]
    cmd += ["-e", "_ws.col.Protocol", "-e", "_ws.col.Info"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    return [(p, i.rstrip()) for p, i in (ln.split("\t") for ln in out.splitlines())]


def tshark_tree(tshark: str, pcap: Path | str, number: int, *opts: str) -> list[str]:
    cmd = [tshark, "-r", str(pcap), *opts, "-Y", f"frame.number=={number}", "-V"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    return [ln.rstrip() for ln in out.splitlines() if ln.strip()]


def assert_in_order(expected: list[str], ours: list[str]) -> None:
    i = 0
    for line in expected:
        while i < len(ours) and ours[i] != line:
            i += 1
        assert i < len(ours), f"line not found in order: {line!r}"
        i += 1


def section(lines: list[str], title: str) -> list[str]:
    """The lines of one top-level layer of a -V tree."""
    start = lines.index(title)
    out = [title]
    for ln in lines[start + 1 :]:
        if not ln.startswith(" "):
            break
        out.append(ln)
    return out


@pytest.mark.parametrize("stem", [*TLS12, "tls13_psk_ke_aes128gcm"])
def test_rows_without_keys_equal_tshark(
    dissect: Callable[..., Result], tshark: str, vectors: Path, stem: str
) -> None:
    pcap = vectors / "tls_psk" / f"{stem}.pcap"
    theirs = tshark_columns(tshark, pcap, "-d", "tcp.port==5061,tls")
    r = dissect(str(pcap), "--json")
    assert r.returncode == 0 and r.stderr == ""
    assert r.columns() == theirs
    # What tshark printed, for the record.
    assert theirs[3] == ("TLSv1", "Client Hello")
    if stem in TLS12:
        assert theirs[5] == (
            "TLSv1.2",
            "Client Key Exchange, Change Cipher Spec, Encrypted Handshake Message",
        )
        assert theirs[9] == ("TLSv1.2", "Encrypted Alert")


@pytest.mark.parametrize("stem", TLS12)
def test_tls12_rows_with_psk_equal_tshark(
    dissect: Callable[..., Result], tshark: str, vectors: Path, stem: str
) -> None:
    pcap = vectors / "tls_psk" / f"{stem}.pcap"
    theirs = tshark_columns(tshark, pcap, "-d", "tcp.port==5061,tls", "-o", f"tls.psk:{PSK}")
    plain = tshark_columns(tshark, vectors / "app" / "plain_msrp.pcap")
    r = dissect(str(pcap), "--psk", PSK, "--json")
    assert r.returncode == 0
    ours = r.columns()
    assert len(ours) == len(theirs) == 14
    # tshark decrypts frames 8 and 9 but hands them to its SIP heuristics (port 5061): the
    # same MSRP over plain TCP (app/plain_msrp.pcap frames 4, 5) gives the Info we show.
    assert [t[0] for t in theirs[7:9]] == ["SIP", "SIP"]
    assert ours[7:9] == plain[3:5]
    assert ours[:7] + ours[9:] == theirs[:7] + theirs[9:]
    assert theirs[6] == ("TLSv1.2", "New Session Ticket, Change Cipher Spec, Finished")
    assert theirs[9] == ("TLSv1.2", "Alert (Level: Warning, Description: Close Notify)")
    assert plain[3] == ("MSRP", "Request: SEND Transaction ID: a786hjs2 (text/plain)")
    # The vector's client sends a BFCP Hello after the SEND in the same stream; the MSRP
    # framer reports it where it is (frame 8) rather than dropping it silently.
    errs = r.stderr.splitlines()
    assert len(errs) == 2
    assert f"{pcap}, frame 8: msrp.stream" in errs[0] and "12 bytes that are not MSRP" in errs[0]


def tls13_keylog(vectors: Path, path: Path) -> Path:
    """A key log for the TLS 1.3 vector from its secrets. The vector's own ``.keylog`` is of
    another session (its client random is not the pcap's), so tshark cannot use it."""
    vec = json.loads((vectors / "tls_psk" / "tls13_psk_ke_aes128gcm.json").read_text())
    random = bytes.fromhex(vec["c2s_stream_hex"])[11:43].hex()  # record 5 + type 1 + len 3 + ver 2
    lines = [
        f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {random} {vec['c_hs_traffic']}",
        f"SERVER_HANDSHAKE_TRAFFIC_SECRET {random} {vec['s_hs_traffic']}",
        f"CLIENT_TRAFFIC_SECRET_0 {random} {vec['c_ap_traffic']}",
        f"SERVER_TRAFFIC_SECRET_0 {random} {vec['s_ap_traffic']}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tls13_rows_with_psk(
    dissect: Callable[..., Result], tshark: str, vectors: Path, tmp_path: Path
) -> None:
    pcap = vectors / "tls_psk" / "tls13_psk_ke_aes128gcm.pcap"
    keylog = tls13_keylog(vectors, tmp_path / "t13.keylog")
    opts = ("-d", "tcp.port==5061,tls", "-o", f"tls.keylog_file:{keylog}")
    theirs = tshark_columns(tshark, pcap, *opts)
    plain = tshark_columns(tshark, vectors / "app" / "plain_msrp.pcap")
    r = dissect(str(pcap), "--psk", f"{PSK}:synthetic-psk-identity", "--json")
    ours = r.columns()
    assert [t[0] for t in theirs[7:9]] == ["SIP", "SIP"]  # tshark: decrypted, port 5061
    assert ours[7:9] == plain[3:5]
    assert ours[:7] + ours[9:] == theirs[:7] + theirs[9:]
    assert theirs[4] == (
        "TLSv1.3",
        "Server Hello, Change Cipher Spec, Encrypted Extensions, Finished",
    )
    assert theirs[6] == ("TLSv1.3", "New Session Ticket")
    # Each decrypted record's tree as tshark -V shows it (frames 5, 6, 7 and the alert).
    tree = dissect(str(pcap), "-V", "--psk", PSK).stdout
    for number in (5, 6, 7, 10):
        want = section(tshark_tree(tshark, pcap, number, *opts), "Transport Layer Security")
        want = [ln for ln in want if "[JA3S" not in ln]
        assert_in_order(want, our_tree(tree, number))
    assert "        [Content Type: Handshake (22)]" in our_tree(tree, 7)


def test_client_hello_detail_like_tshark(
    dissect: Callable[..., Result], tshark: str, vectors: Path
) -> None:
    """Every line of tshark's TLS tree for the TLS 1.2 ClientHello and the ServerHello /
    ClientKeyExchange frames is in ours, in order and equally indented, except the
    signature algorithm names and the JA3 hashes."""
    pcap = vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
    r = dissect(str(pcap), "-V", "--psk", PSK)
    skip = re.compile(r"Signature (Algorithm|Hash Algorithm (Hash|Signature)):|\[JA3")
    for number in (4, 5, 6, 7):
        opts = ("-d", "tcp.port==5061,tls", "-o", f"tls.psk:{PSK}")
        theirs = section(tshark_tree(tshark, pcap, number, *opts), "Transport Layer Security")
        theirs = [ln for ln in theirs if not skip.search(ln)]
        assert_in_order(theirs, our_tree(r.stdout, number))
    # Lines of that tree, as tshark -V printed them.
    ours = our_tree(r.stdout, 4)
    for line in [
        "    TLSv1 Record Layer: Handshake Protocol: Client Hello",
        "        Version: TLS 1.0 (0x0301)",
        "            Random: 1d64d24e464df904e7afc0b53ac891c90a28fc9c87f316e16734cd010fc2f201",
        "                GMT Unix Time: Aug 17, 1985 17:11:42.000000000 UTC",
        "                Cipher Suite: TLS_PSK_WITH_AES_128_GCM_SHA256 (0x00a8)",
        "            Extension: extended_master_secret (len=0)",
    ]:
        assert line in ours
    cke = our_tree(r.stdout, 6)
    assert "                Identity: 73796e7468657469632d70736b2d6964656e74697479" in cke
    assert "        Handshake Protocol: Finished" in cke


def test_tls13_client_hello_psk_extension_like_tshark(
    dissect: Callable[..., Result], tshark: str, vectors: Path
) -> None:
    pcap = vectors / "tls_psk" / "tls13_psk_ke_aes128gcm.pcap"
    theirs = section(
        tshark_tree(tshark, pcap, 4, "-d", "tcp.port==5061,tls"), "Transport Layer Security"
    )
    psk_at = theirs.index("            Extension: pre_shared_key (len=65)")
    expected = theirs[psk_at : psk_at + 11]
    assert expected[-1] == "                    PSK Binders"
    sv_at = theirs.index("            Extension: supported_versions (len=9)")
    expected = theirs[sv_at : sv_at + 8] + expected
    r = dissect(str(pcap), "-V")
    ours = our_tree(r.stdout, 4)
    assert_in_order(expected, ours)
    assert "                        [Identity (text): synthetic-psk-identity]" in ours
    # pre_shared_key is the last extension and the binder the last bytes of the ClientHello
    # (RFC 8446 4.2.11), the first record of the client's stream in the vector.
    vec = json.loads((vectors / "tls_psk" / "tls13_psk_ke_aes128gcm.json").read_text())
    stream = bytes.fromhex(vec["c2s_stream_hex"])
    binder_hex = stream[5 : 5 + int.from_bytes(stream[3:5], "big")][-32:].hex()
    assert f"                        [Binder (32 bytes): {binder_hex}]" in ours
    sh = section(
        tshark_tree(tshark, pcap, 5, "-d", "tcp.port==5061,tls"), "Transport Layer Security"
    )
    sh = [ln for ln in sh if "[JA3S" not in ln]
    # The records after the ServerHello: tshark names their application protocol after the
    # port (SIP on 5061); without a key we cannot tell, so ours says Application Data.
    sh = [ln.replace("Session Initiation Protocol", "Application Data") for ln in sh]
    sh = [ln for ln in sh if ln != "        [Application Data Protocol: Application Data]"]
    assert "        Opaque Type: Application Data (23)" in sh
    assert_in_order(sh, our_tree(r.stdout, 5))


def test_decrypted_msrp_send_detail(
    dissect: Callable[..., Result], tshark: str, vectors: Path
) -> None:
    """The decrypted SEND: the TLS record with its decrypted length, then the MSRP tree whose
    lines tshark -V prints for the same SEND over plain TCP."""
    pcap = vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
    r = dissect(str(pcap), "-V", "--psk", PSK)
    ours = our_tree(r.stdout, 8)
    vec = json.loads((vectors / "tls_psk" / "psk_aes128_gcm_sha256.json").read_text())
    app = next(h for t, h in vec["decrypted_c2s"] if t == 23)
    assert_in_order(
        [
            "Transport Layer Security",
            "    TLSv1.2 Record Layer: Application Data Protocol: Message Session Relay Protocol",
            "        Content Type: Application Data (23)",
            "        Length: 283",
            f"        [Decrypted TLS ({len(app) // 2} bytes)]",
            "Message Session Relay Protocol",
        ],
        ours,
    )
    theirs = section(
        tshark_tree(tshark, vectors / "app" / "plain_msrp.pcap", 4),
        "Message Session Relay Protocol",
    )
    # tshark's Data/Line-based text lines and the End Line's sub-fields are rendered
    # differently by the MSRP codec (dissectors/msrp.py); every other line must be there.
    dropped = ("Data:", "Line-based", "Hello Bob", "-------a786hjs2$\\r")
    keep = [ln for ln in theirs if not ln.lstrip().startswith(dropped)]
    keep = keep[: keep.index("    End Line: -------a786hjs2$") + 1]
    assert "    Request Line: MSRP a786hjs2 SEND" in keep
    assert "    End Line: -------a786hjs2$" in keep
    assert_in_order(keep, ours[ours.index("Message Session Relay Protocol") :])


@pytest.mark.parametrize(
    ("name", "decode_as"),
    [("plain_msrp", "tcp.port==2855,msrp"), ("plain_bfcp", "tcp.port==5070,bfcp")],
)
def test_plain_app_rows_equal_tshark(
    dissect: Callable[..., Result], tshark: str, vectors: Path, name: str, decode_as: str
) -> None:
    pcap = vectors / "app" / f"{name}.pcap"
    theirs = tshark_columns(tshark, pcap, "-d", decode_as)
    r = dissect(str(pcap), "--json")
    assert r.returncode == 0 and r.stderr == ""
    assert r.columns() == theirs
    if name == "plain_bfcp":
        assert [i for p, i in theirs if p == "BFCP"] == ["Hello", "HelloAck", "FloorRequest"]


def test_plain_bfcp_detail_fields(
    dissect: Callable[..., Result], tshark: str, vectors: Path
) -> None:
    pcap = vectors / "app" / "plain_bfcp.pcap"
    theirs = tshark_tree(tshark, pcap, 5, "-d", "tcp.port==5070,bfcp")
    ours = our_tree(dissect(str(pcap), "-V").stdout, 5)
    same = [
        "    Primitive: HelloAck (12)",
        "    Conference ID: 1",
        "    Transaction ID: 1",
        "    User ID: 2",
    ]
    for line in same:
        assert line in theirs and line in ours


def _export(tmp_path: Path, pcap: Path, name: str) -> tuple[Path, Path]:
    keylog, plain = tmp_path / f"{name}.keylog", tmp_path / f"{name}-plain.pcap"
    rc = main(
        [
            "analyze",
            str(pcap),
            "--keys",
            str(DEMO_KEYS),
            "--keylog",
            str(keylog),
            "--decrypted-pcap",
            str(plain),
            "--quiet",
            "--json",
            str(tmp_path / f"{name}.json"),
        ]
    )
    assert rc == 0  # the demo captures are clean calls: every rule passes
    return keylog, plain


def _media_ports(rows: list[dict[str, object]]) -> list[int]:
    """The server ports of the capture's TCP connections other than SIP's (their SYNs)."""
    syns = [str(r["info"]) for r in rows if "[SYN]" in str(r["info"])]
    ports = {int(s.split(" → ")[1].split()[0]) for s in syns}
    return sorted(ports - {5060})


@pytest.mark.parametrize("scenario", ["msrp-dial-in", "bfcp-dial-out", "conference"])
def test_synthesized_call_rows(
    dissect: Callable[..., Result],
    tshark: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
) -> None:
    pcap = ROOT / "pcaps" / f"{scenario}.pcap"
    keylog, plain = _export(tmp_path, pcap, scenario)
    capsys.readouterr()
    r = dissect(str(pcap), "--keys", str(DEMO_KEYS), "--json")
    assert r.returncode == 0 and r.stderr == ""
    rows = r.rows()
    opts = [f"-d tcp.port=={port},tls".split() for port in _media_ports(rows)]
    theirs = tshark_columns(
        tshark, pcap, *(o for pair in opts for o in pair), "-o", f"tls.keylog_file:{keylog}"
    )
    ours = r.columns()
    assert len(ours) == len(theirs)
    app = [i for i, (p, _) in enumerate(ours) if p in ("MSRP", "BFCP")]
    assert app, "no decrypted message shown"
    # tshark decrypts (it shows the Finished messages) but has no MSRP/BFCP under TLS: those
    # rows are Application Data there; everything else is equal.
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        if i in app:
            assert t == ("TLSv1.2", "Application Data"), i
        else:
            assert o == t, i
    assert any(t[1].endswith("Change Cipher Spec, Finished") for t in theirs)
    # The messages themselves: what tshark shows for the plaintext export (MSRP by its
    # heuristic, BFCP by its disabled-by-default one). The export writes each connection
    # after the other, so across connections only the multiset is the same.
    exported = tshark_columns(tshark, plain, "--enable-heuristic", "bfcp_tcp")
    exported = [t for t in exported if t[0] in ("MSRP", "BFCP")]
    shown = [ours[i] for i in app]
    if scenario == "conference":
        assert sorted(shown) == sorted(exported)
        assert len(shown) == 60
    else:
        assert shown == exported


def test_ticket_under_key_mgmt_and_tek_proved_by_tshark(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path
) -> None:
    pcap = ROOT / "pcaps" / "msrp-dial-in.pcap"
    r = dissect(str(pcap), "-V", "--keys", str(DEMO_KEYS))
    offer = our_tree(r.stdout, 1)
    at = offer.index("                    [Ticket opened with kms kms.example.org (kms)]")
    ticket = offer[at : at + 16]
    # Values of the ticket as the T and IDR payloads inside it carry them (RFC 6043 6.10),
    # which the MIKEY tree above shows undecrypted.
    assert "                        valid to: 2026-01-01 13:00:32.000000 UTC" in ticket
    assert "                        IDRi: sip:alice@example.org" in ticket
    assert "                        IDRr: sip:conf1@conf.example.org" in ticket
    stripped = [ln.strip() for ln in offer]
    assert "TS value: 2026-01-01 13:00:32.000000 UTC (0xed00ee7000000000)" in stripped
    cands = [ln for ln in ticket if "TEK candidate" in ln]
    assert len(cands) == 4 and all(
        re.search(r"sha256:[0-9a-f]{8} \(\d+ bytes\)$", c) for c in cands
    )
    # With --reveal-keys the candidates are printed; one of them, given to tshark as the
    # TLS PSK, decrypts the session (tshark shows the Finished messages): an independent
    # proof, and the fingerprint shown without --reveal-keys is its SHA-256.
    shown = dissect(str(pcap), "-V", "--keys", str(DEMO_KEYS), "--reveal-keys").stdout
    offer_shown = "\n".join(our_tree(shown, 1))
    keys = re.findall(r"TEK candidate \(cs 1, ([^)]*\)[^)]*)\): ([0-9a-f]+)$", offer_shown, re.M)
    assert len(keys) == 4
    proved = []
    for _, hexkey in keys:
        cols = tshark_columns(tshark, pcap, "-d", "tcp.port==47530,tls", "-o", f"tls.psk:{hexkey}")
        if cols[7] == ("TLSv1.2", "Client Key Exchange, Change Cipher Spec, Finished"):
            proved.append(hexkey)
    assert len(proved) == 1
    fp = hashlib.sha256(bytes.fromhex(proved[0])).hexdigest()[:8]
    assert any(f"sha256:{fp} " in c for c in cands)
    assert proved[0] not in r.stdout
    # The answer's exchange lists the same key among its candidates.
    answer = our_tree(r.stdout, 11)
    assert any(f"sha256:{fp} " in ln and "TEK candidate" in ln for ln in answer)
    assert f"[PSK sha256:{fp} (" in r.stdout


def _tcp_capture(path: Path, port: int, c2s: list[bytes], s2c: list[bytes]) -> Path:
    """A connection whose client sends the ``c2s`` segments, then the server ``s2c``."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    c, s = IP(src="192.0.2.1", dst="192.0.2.2"), IP(src="192.0.2.2", dst="192.0.2.1")
    pkts = [
        e / c / TCP(sport=50000, dport=port, flags="S", seq=0),
        e / s / TCP(sport=port, dport=50000, flags="SA", seq=0, ack=1),
        e / c / TCP(sport=50000, dport=port, flags="A", seq=1, ack=1),
    ]
    cseq = sseq = 1
    for data in c2s:
        pkts.append(e / c / TCP(sport=50000, dport=port, flags="PA", seq=cseq, ack=1) / data)
        cseq += len(data)
    for data in s2c:
        pkts.append(e / s / TCP(sport=port, dport=50000, flags="PA", seq=sseq, ack=cseq) / data)
        sseq += len(data)
    for i, p in enumerate(pkts):
        p.time = 1.0 + i / 10
    wrpcap(str(path), pkts)
    return path


def test_plain_msrp_split_and_shared_segments_like_tshark(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path
) -> None:
    send = (
        b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://192.0.2.2:2855/kjhd37s2s20w2a;tcp\r\n"
        b"From-Path: msrp://192.0.2.1:50000/asfd34;tcp\r\nMessage-ID: 87652491\r\n"
        b"Byte-Range: 1-25/25\r\nContent-Type: text/plain\r\n\r\n"
        b"Hey Bob, are you there?\r\n-------a786hjs2$\r\n"
    )
    ok = (
        b"MSRP a786hjs2 200 OK\r\nTo-Path: msrp://192.0.2.1:50000/asfd34;tcp\r\n"
        b"From-Path: msrp://192.0.2.2:2855/kjhd37s2s20w2a;tcp\r\n-------a786hjs2$\r\n"
    )
    nope = ok.replace(b"a786hjs2", b"zz99").replace(b"200 OK", b"403 Nope")
    pcap = _tcp_capture(tmp_path / "msrp.pcap", 2855, [send[:60], send[60:]], [ok + nope])
    theirs = tshark_columns(tshark, pcap)
    r = dissect(str(pcap), "--json")
    assert r.returncode == 0 and r.stderr == ""
    assert r.columns() == theirs
    assert theirs[3][1].endswith("Len=60 [TCP segment of a reassembled PDU]")
    assert theirs[5] == ("MSRP", "Response: 200 OK Transaction ID: a786hjs2")
    # The second message of the segment is in our tree although tshark leaves it out.
    tree = our_tree(dissect(str(pcap), "-V").stdout, 6)
    assert "    Response Line: MSRP zz99 403 Nope" in tree


def test_plain_bfcp_two_messages_in_one_segment_like_tshark(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path, vectors: Path
) -> None:
    from scapy.packet import Raw

    pkts = rdpcap(str(vectors / "app" / "plain_bfcp.pcap"))
    hello, hello_ack, floor_request = (bytes(pkts[i][Raw].load) for i in (3, 4, 5))
    pcap = _tcp_capture(tmp_path / "bfcp.pcap", 5070, [hello + floor_request], [hello_ack])
    theirs = tshark_columns(tshark, pcap, "-d", "tcp.port==5070,bfcp")
    r = dissect(str(pcap), "--json")
    assert r.returncode == 0 and r.stderr == ""
    assert r.columns() == theirs
    assert theirs[3:5] == [("BFCP", "Hello"), ("BFCP", "HelloAck")]


def test_client_hello_split_over_two_records_like_tshark(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path, vectors: Path
) -> None:
    from tests.support.tls_live import write_tcp_pcap

    vec = json.loads((vectors / "tls_psk" / "psk_aes128_gcm_sha256.json").read_text())
    c2s, s2c = bytes.fromhex(vec["c2s_stream_hex"]), bytes.fromhex(vec["s2c_stream_hex"])
    n = int.from_bytes(c2s[3:5], "big")
    hello = c2s[5 : 5 + n]
    first = c2s[:3] + (60).to_bytes(2, "big") + hello[:60]
    second = c2s[:3] + (n - 60).to_bytes(2, "big") + hello[60:]
    pcap = tmp_path / "split-hello.pcap"
    # the server's hello flight: its first two records
    end = 0
    for _ in range(2):
        end += 5 + int.from_bytes(s2c[end + 3 : end + 5], "big")
    write_tcp_pcap(pcap, [(5061, [(True, first), (True, second), (False, s2c[:end])])])
    expected = tshark_columns(tshark, pcap, "-d", "tcp.port==5061,tls")
    r = dissect(str(pcap), "--json")
    assert r.returncode == 0 and r.stderr == ""
    assert r.columns() == expected
    assert expected[3:6] == [
        ("TLSv1", "[Client Hello Fragment]"),
        ("TLSv1", "Client Hello"),
        ("TLSv1.2", "Server Hello, Server Hello Done"),
    ]
    tree = our_tree(dissect(str(pcap), "-V").stdout, 4)
    assert_in_order(
        section(
            tshark_tree(tshark, pcap, 4, "-d", "tcp.port==5061,tls"), "Transport Layer Security"
        ),
        tree,
    )


def test_hello_random_time_like_tshark(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path
) -> None:
    """The random's first four bytes as tshark prints a time (a one-digit day is padded)."""
    from scapy.layers.l2 import Ether

    frames = list(_GCM)
    hello = bytearray(frames[3])
    hello[65:69] = (999_648_000).to_bytes(4, "big")  # Eth 14 + IP 20 + TCP 20 + 5 + 4 + 2
    frames[3] = bytes(hello)
    pcap = tmp_path / "day.pcap"
    wrpcap(str(pcap), [Ether(f) for f in frames])
    theirs = tshark_tree(tshark, pcap, 4, "-d", "tcp.port==5061,tls")
    (line,) = [ln for ln in theirs if "GMT Unix Time" in ln]
    assert line == "                GMT Unix Time: Sep  5, 2001 00:00:00.000000000 UTC"
    assert line in our_tree(dissect(str(pcap), "-V").stdout, 4)
