"""--decrypted-pcap keeps the capture's frames: frame N of the output is frame N of the input,
the plaintext of each record sits in the frame where the record ended, and the sequence
numbers of the rewritten connection make one consistent TCP stream again.

The input is OpenSSL's TLS 1.2 PSK session of tests/vectors (its plaintext is in the vector's
JSON), cut and shuffled with scapy: the application data record split into two segments
that arrive in reverse order, the first one retransmitted, and a SACK block on an ACK. The
output is read back with scapy, not with the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap, wrpcap

from mikeyshark.decrypt import decrypt_capture
from mikeyshark.plaintext_pcap import write_plaintext_pcap
from tests.support.paths import VECTORS
from tests.support.vectors import TEK

STEM = "psk_aes128_gcm_sha256"
CLIENT = ("192.0.2.1", 50000)


def _plaintext() -> tuple[bytes, bytes]:
    v = json.loads((VECTORS / "tls_psk" / f"{STEM}.json").read_text())
    c2s, s2c = (
        b"".join(bytes.fromhex(x) for t, x in v[k] if t == 23)
        for k in ("decrypted_c2s", "decrypted_s2c")
    )
    return c2s, s2c


def _shuffled(tmp_path: Path) -> Path:
    """Frames 1-14 of the vector (see tshark's listing in tests/vectors/README.md), with
    frame 8 (the client's application data record) cut in two: second half first, then the
    first half, then the first half again; and frame 9 (the server's record) acknowledging
    with a SACK block."""
    pkts = list(rdpcap(str(VECTORS / "tls_psk" / f"{STEM}.pcap")))
    app = pkts[7]
    data = bytes(app[TCP].payload)
    half = len(data) // 2

    def piece(seq_add: int, chunk: bytes, t: float) -> Packet:
        p = Ether(src=app[Ether].src, dst=app[Ether].dst) / IP(src=app[IP].src, dst=app[IP].dst)
        tcp = TCP(
            sport=app[TCP].sport,
            dport=app[TCP].dport,
            seq=app[TCP].seq + seq_add,
            ack=app[TCP].ack,
            flags="PA",
            window=app[TCP].window,
        )
        out = p / tcp / Raw(chunk)
        out.time = t
        return out

    second = piece(half, data[half:], float(app.time))
    first = piece(0, data[:half], float(app.time) + 0.0002)
    again = piece(0, data[:half], float(app.time) + 0.0004)
    reply = pkts[8]
    sacked = reply.copy()
    sacked[TCP].options = [("NOP", None), ("NOP", None), ("SAck", (reply[TCP].ack, reply[TCP].ack))]
    del sacked[IP].len, sacked[IP].chksum, sacked[TCP].chksum, sacked[TCP].dataofs
    out = [*pkts[:7], second, first, again, sacked, *pkts[9:]]
    path = tmp_path / "shuffled.pcap"
    wrpcap(str(path), out)
    return path


def _stream(pkts: list[Packet], from_client: bool) -> tuple[bytes, int, int]:
    """(bytes reassembled by sequence number, ISN, highest ACK sent) of one direction."""
    mine = [p for p in pkts if TCP in p and ((p[IP].src, p[TCP].sport) == CLIENT) == from_client]
    isn = next(p[TCP].seq for p in mine if p[TCP].flags.S)
    buf: dict[int, int] = {}
    for p in mine:
        for i, b in enumerate(bytes(p[TCP].payload)):
            buf.setdefault((p[TCP].seq - isn - 1 + i) % (1 << 32), b)
    data = bytes(buf[i] for i in range(len(buf)))
    return data, isn, max(p[TCP].ack for p in mine)


def test_frames_kept_plaintext_in_place_and_one_consistent_stream(tmp_path: Path) -> None:
    src = _shuffled(tmp_path)
    conns = decrypt_capture([src], [TEK])
    out = tmp_path / "plain.pcapng"
    n = write_plaintext_pcap([src], out, conns)
    before = list(rdpcap(str(src)))
    after = list(rdpcap(str(out)))
    assert n == len(after) == len(before) == 16
    assert [float(p.time) for p in after] == [float(p.time) for p in before]
    c2s, s2c = _plaintext()
    got_c2s, c_isn, c_ack = _stream(after, True)
    got_s2c, s_isn, s_ack = _stream(after, False)
    assert (got_c2s, got_s2c) == (c2s, s2c)
    # the client's record ends in the segment captured first (frame 8), which therefore
    # carries all of its plaintext; the first half and its retransmission carry none
    assert bytes(after[7][TCP].payload) == c2s
    assert [len(after[i][TCP].payload) for i in (8, 9)] == [0, 0]
    # the handshake frames keep their TCP headers, with nothing in them
    assert [len(after[i][TCP].payload) for i in (3, 4, 5, 6)] == [0, 0, 0, 0]
    # each side's last ACK acknowledges the other's FIN: ISN + 1 + plaintext + 1
    assert c_ack == (s_isn + len(s2c) + 2) % (1 << 32)
    assert s_ack == (c_isn + len(c2s) + 2) % (1 << 32)
    # a SACK block names ciphertext offsets: it is gone, the other options stay (then the
    # End of Options List that pads the header to 32-bit words)
    assert [o[0] for o in after[10][TCP].options] == ["NOP", "NOP", "EOL"]


def test_frames_of_other_connections_are_copied_byte_for_byte(tmp_path: Path) -> None:
    src = VECTORS / "app" / "plain_bfcp.pcap"
    out = tmp_path / "plain.pcapng"
    assert write_plaintext_pcap([src], out, decrypt_capture([src], [TEK])) == 9
    assert [bytes(p) for p in rdpcap(str(out))] == [bytes(p) for p in rdpcap(str(src))]
