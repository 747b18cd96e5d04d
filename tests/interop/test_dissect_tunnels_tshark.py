"""`mikeyshark dissect` shows encapsulation as tshark 4.0 does: a call tunnelled in GTP-U on
N3 (outer IPv4 or IPv6; scapy builds the tunnel) has the inner addresses and protocol in its
rows, marked "GTP <...>" (TCP control segments too, not "UDP 2152 -> 2152"), and a GTP layer
(TEID, sequence number, QFI) before the inner IP and TCP/UDP layers; a call whose SIP runs in
ESP-NULL (Gm) reads as tshark reads it with its ESP-NULL heuristic, with an ESP layer (SPI,
sequence, how it was read)."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.dissect import Result, our_tree
from tests.support.tshark_fields import differences, our_fields, tshark_fields
from tests.support.tunnels import NULL_SAS, sip_in_esp, tunnelled

pytestmark = pytest.mark.tshark

COLUMNS = ["_ws.col.Source", "_ws.col.Destination", "_ws.col.Protocol", "_ws.col.Info"]
GTP_FIELDS = ["gtp.message", "gtp.teid", "gtp.seq_number", "gtp.ext_hdr.pdu_ses_con.qos_flow_id"]
GTP_FIELDS += ["ip.src", "ip.dst", "udp.port", "tcp.stream", "tcp.seq", "sip.Method"]
ESP_FIELDS = ["esp.spi", "esp.sequence", "ip.src", "udp.port", "sip.Call-ID", "tcp.stream"]
ESP_HEURISTIC = ["-o", "esp.enable_null_encryption_decode_heuristic:TRUE"]


def _columns_differ(ours: dict[int, list[str]], theirs: dict[int, list[str]]) -> list[str]:
    # tshark pads the Source column and ends SIP's Info with a space: compare stripped
    strip = {n: [c.strip() for c in row] for n, row in theirs.items()}
    return differences(ours, strip, COLUMNS)


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("tunnels")
    r = synthesize("msrp-dial-in", seed=3)
    keys = tmp / "keys.toml"
    keys.write_text(r.keyfile_text)
    write_frames(tunnelled(r.frames), tmp / "n3.pcap")
    write_frames(tunnelled(r.frames, gnb="2001:db8::1", upf="2001:db8::2"), tmp / "n3v6.pcap")
    write_frames(sip_in_esp(r.frames, NULL_SAS["hmac-sha1-96"]), tmp / "gm.pcap")
    return tmp, keys


@pytest.mark.parametrize("name", ["n3", "n3v6"])
def test_gtp_rows_and_fields_like_tshark(tshark: str, call: tuple[Path, Path], name: str) -> None:
    pcap = call[0] / f"{name}.pcap"
    assert _columns_differ(our_fields(pcap, COLUMNS), tshark_fields(tshark, pcap, COLUMNS)) == []
    theirs = tshark_fields(tshark, pcap, GTP_FIELDS)
    assert differences(our_fields(pcap, GTP_FIELDS), theirs, GTP_FIELDS) == []
    # what tshark printed, for the record: the handshake inside the tunnel is TCP
    rows = our_fields(pcap, ["_ws.col.Protocol", "_ws.col.Info"])
    assert rows[3][0] == "GTP <TCP>" and "[SYN]" in rows[3][1]
    assert rows[1][0] == "GTP <SIP/SDP>"


def test_gtp_detail_like_tshark(
    dissect: Callable[..., Result], tshark: str, call: tuple[Path, Path]
) -> None:
    pcap = call[0] / "n3.pcap"
    ours = our_tree(dissect(str(pcap), "-V", "-c", "3").stdout, 3)
    cmd = [tshark, "-n", "-r", str(pcap), "-V", "-Y", "frame.number==3"]
    theirs = [
        ln.rstrip()
        for ln in subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()
    ]
    # tshark's layers (top-level lines) and its GTP header fields, in its order
    gtp_lines = ["    Length: 60", "    TEID: 0x00002000 (8192)", "    Sequence number: 0x0003 (3)"]
    top = ("Ethernet", "Internet Protocol", "User Datagram", "GPRS", "Transmission Control")
    wanted = [ln for ln in theirs if ln.startswith(top) or ln in gtp_lines]
    assert len(wanted) == 9  # eth, ip, udp, gtp (+3), ip, tcp
    i = 0
    for line in wanted:
        while ours[i] != line:
            i += 1
    assert "    QoS Flow Identifier (QFI): 5" in ours  # tshark: "..00 0101 = QoS Flow ..."


def test_gtp_with_keys_shows_the_decrypted_media(call: tuple[Path, Path]) -> None:
    tmp, keys = call
    rows = our_fields(tmp / "n3.pcap", ["_ws.col.Protocol"], "msrp", keys=keys)
    assert rows and {r[0] for r in rows.values()} == {"GTP <MSRP>"}


def test_esp_null_rows_and_fields_like_tshark(tshark: str, call: tuple[Path, Path]) -> None:
    pcap = call[0] / "gm.pcap"
    theirs = tshark_fields(tshark, pcap, COLUMNS, ESP_HEURISTIC)
    assert _columns_differ(our_fields(pcap, COLUMNS), theirs) == []
    theirs = tshark_fields(tshark, pcap, ESP_FIELDS, ESP_HEURISTIC)
    assert differences(our_fields(pcap, ESP_FIELDS), theirs, ESP_FIELDS) == []
    assert any(row[0] for row in theirs.values())  # (tshark read the ESP)


def test_esp_detail_says_how_it_was_read(
    dissect: Callable[..., Result], call: tuple[Path, Path], tmp_path: Path
) -> None:
    tmp, keys = call
    pcap = tmp / "gm.pcap"
    tree = our_tree(dissect(str(pcap), "-V", "-c", "1").stdout, 1)
    assert tree[3:7] == [
        "Encapsulating Security Payload",
        "    ESP SPI: 0x00001001 (4097)",
        "    ESP Sequence: 1",
        "    [NULL encryption, 12-octet ICV not verified: no key]",
    ]
    assert tree[7].startswith("User Datagram Protocol, Src Port: ")
    # with the SA in the key file the ICV is checked
    sa = NULL_SAS["hmac-sha1-96"]
    with_sa = tmp_path / "with-sa.toml"
    with_sa.write_text(
        keys.read_text()
        + f'\n[[esp]]\nspi = {sa.spi}\nencryption = "null"\nintegrity = "{sa.integrity}"\n'
        + f'integrity_key = "{sa.integrity_key.hex()}"\n'
    )
    tree = our_tree(dissect(str(pcap), "-V", "-c", "1", "--keys", str(with_sa)).stdout, 1)
    assert tree[6] == "    [NULL encryption, hmac-sha1-96 ICV verified with the key file's SA]"
    # and a wrong key says so
    bad = dataclasses.replace(sa, integrity_key=bytes(20))
    wrong = tmp_path / "wrong-sa.toml"
    wrong.write_text(
        keys.read_text()
        + f'\n[[esp]]\nspi = {bad.spi}\nencryption = "null"\nintegrity = "{bad.integrity}"\n'
        + f'integrity_key = "{bad.integrity_key.hex()}"\n'
    )
    tree = our_tree(dissect(str(pcap), "-V", "-c", "1", "--keys", str(wrong)).stdout, 1)
    assert tree[6].startswith("    [not opened with the key file's [[esp]] SA: ")
