"""TLS-PSK decryption benchmark: mikeyshark.decrypt against tshark on the same capture.

Builds a capture with our own engine (a real TLS-PSK handshake, then ``--mb`` megabytes of
application data from client to server in full 16 KiB records, one record per TCP segment,
and a short answer every 64 records), writes it as Ethernet/IPv4/TCP pcap into bench/out/,
then times

- ``ours``: CaptureReader + FlowTable + TlsConnectionDecoder (plaintext counted, not kept);
- ``tshark -n -r FILE -o tls.psk:KEY -Y tls`` (decrypts every record to apply the filter).

Usage: ``python bench/decrypt.py [--mb 100] [--suite 0x00a8] [--no-tshark]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mikeyshark.decrypt import PskCandidate, decrypt_capture  # noqa: E402
from mikeyshark.dissectors.tls.engine import PskConfig, TlsPskEngine  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
PSK = bytes.fromhex("657bf44e8247bee72094eafe0283ab2f")
MAC = bytes.fromhex("020000000002020000000001")
CLIENT = (bytes([192, 0, 2, 1]), 50000)
SERVER = (bytes([192, 0, 2, 2]), 5061)
RECORD = 16384
ANSWER = b"MSRP a786hjs2 200 OK\r\n-------a786hjs2$\r\n"


def _frame(from_client: bool, seq: int, ack: int, flags: int, payload: bytes) -> bytes:
    (sip, sport), (dip, dport) = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0, sip, dip
    )
    return MAC + b"\x08\x00" + ip + tcp + payload


def build(path: Path, megabytes: int, suite: int) -> int:
    """Write the capture; returns the number of plaintext bytes it carries."""
    cfg = PskConfig(PSK, b"mikey:12345678:01", cipher_suites=(suite,))
    client, server = TlsPskEngine(cfg, True), TlsPskEngine(cfg, False)
    seq = {True: 1000, False: 90000}
    ts = [1_700_000_000 * 10**9]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))

        def emit(fc: bool, flags: int, payload: bytes = b"") -> None:
            frame = _frame(fc, seq[fc], seq[not fc], flags, payload)
            sec, ns = divmod(ts[0], 10**9)
            f.write(struct.pack("<IIII", sec, ns, len(frame), len(frame)) + frame)
            ts[0] += 20_000
            seq[fc] = (seq[fc] + len(payload) + (1 if flags & 0x03 else 0)) % (1 << 32)

        emit(True, 0x02)  # SYN
        emit(False, 0x12)  # SYN-ACK
        emit(True, 0x10)
        client.start()
        server.start()
        for _ in range(3):
            data = client.data_to_send()
            if data:
                emit(True, 0x18, data)
                server.receive_data(data)
            data = server.data_to_send()
            if data:
                emit(False, 0x18, data)
                client.receive_data(data)
        assert client.handshake_complete and server.handshake_complete
        total = 0
        chunk = os.urandom(RECORD)
        n = megabytes * (1 << 20) // RECORD
        for i in range(n):
            client.send_application_data(chunk)
            emit(True, 0x18, client.data_to_send())
            total += RECORD
            if i % 64 == 63:
                server.send_application_data(ANSWER)
                emit(False, 0x18, server.data_to_send())
                total += len(ANSWER)
        emit(True, 0x11)
        emit(False, 0x11)
        emit(True, 0x10)
    return total


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="megabytes of application data")
    ap.add_argument("--suite", type=lambda s: int(s, 0), default=0x00A8)
    ap.add_argument("--no-tshark", action="store_true")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    cap = OUT / f"tls-{args.suite:04x}-{args.mb}MB.pcap"
    t = time.perf_counter()
    expected = build(cap, args.mb, args.suite)
    built = time.perf_counter() - t
    size = cap.stat().st_size / 1e6
    print(
        f"capture: {cap} ({size:.1f} MB, {expected / 1e6:.1f} MB plaintext), built in {built:.1f} s"
    )

    t = time.perf_counter()
    conns = decrypt_capture([cap], [PskCandidate(PSK, "tek")], keep_data=False)
    ours = time.perf_counter() - t
    got = sum(c.info.app_bytes[True] + c.info.app_bytes[False] for c in conns)
    failed = sum(len(c.info.records_failed) for c in conns)
    if got != expected or failed:
        print(f"ERROR: decrypted {got} bytes, expected {expected}; {failed} records failed")
        return 1
    print(
        f"ours:   {ours:7.2f} s  {expected / 1e6 / ours:8.1f} MB/s  (oracle {conns[0].info.oracle})"
    )

    tshark = shutil.which("tshark")
    if tshark and not args.no_tshark:
        t = time.perf_counter()
        subprocess.run(
            [tshark, "-n", "-r", str(cap), "-o", f"tls.psk:{PSK.hex()}", "-Y", "tls"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        ts = time.perf_counter() - t
        print(f"tshark: {ts:7.2f} s  {expected / 1e6 / ts:8.1f} MB/s  (ours is {ts / ours:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
