"""``mikeyshark dissect``: rows and details as tshark shows them, JSON, stdin, pipes, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from scapy.utils import wrpcap

from tests.support.dissect import Result
from tests.support.sip_captures import CONF, INVITE1, UE, udp, write_calls, write_liars

CMD = [sys.executable, "-m", "mikeyshark", "dissect"]


def test_vector_row(dissect: Callable[..., Result], vectors: Path) -> None:
    r = dissect(str(vectors / "sip" / "sip_sdp_keymgmt.pcap"))
    assert r.returncode == 0 and r.stderr == ""
    (line,) = r.stdout.splitlines()
    # tshark 4.0.17 prints: "1 0.000000 192.0.2.1 → 192.0.2.2 SIP/SDP 1058
    # Request: INVITE sip:bob@example.net | "
    assert line.split() == [
        "1",
        "0.000000",
        "192.0.2.1",
        "→",
        "192.0.2.2",
        "SIP/SDP",
        "1058",
        "Request:",
        "INVITE",
        "sip:bob@example.net",
        "|",
    ]


def test_vector_detail(dissect: Callable[..., Result], vectors: Path) -> None:
    r = dissect(str(vectors / "sip" / "sip_sdp_keymgmt.pcap"), "-V")
    assert r.returncode == 0
    lines = [ln.strip() for ln in r.stdout.splitlines()]
    # Lines as `tshark -V -O sip,sdp` prints them for this frame.
    for expected in [
        "Frame 1: 1058 bytes on wire (8464 bits), 1058 bytes captured (8464 bits)",
        "Internet Protocol Version 4, Src: 192.0.2.1, Dst: 192.0.2.2",
        "User Datagram Protocol, Src Port: 5060, Dst Port: 5060",
        "Session Initiation Protocol (INVITE)",
        "Request-Line: INVITE sip:bob@example.net SIP/2.0",
        "Request-URI User Part: bob",
        "Branch: z9hG4bK776asdhds",
        "SIP from tag: 1928301774",
        "Contact URI: sip:alice@192.0.2.1",
        "Sequence Number: 314159",
        "Owner/Creator, Session Id (o): alice 2890844526 2890844527 IN IP4 192.0.2.1",
        "Connection Address: 192.0.2.1",
        "Media Description, name and address (m): message 50000 TCP/TLS/MSRP *",
        "Media Protocol: TCP/TLS/BFCP",
        "Media Attribute (a): floorctrl:c-only",
        "Media Attribute Value: actpass",
    ]:
        assert expected in lines, expected
    # Indented like tshark -V: SIP at 0, the request line at 4, the method at 8.
    assert "    Request-Line: INVITE sip:bob@example.net SIP/2.0" in r.stdout.splitlines()
    assert "        Method: INVITE" in r.stdout.splitlines()


def test_known_rows(dissect: Callable[..., Result], tmp_path: Path) -> None:
    """Info strings as tshark 4.0.17 printed them for this capture (trailing blanks cut)."""
    r = dissect(str(write_calls(tmp_path / "calls.pcap")))
    rows = {int(ln.split()[0]): ln for ln in r.stdout.splitlines()}
    assert rows[2].endswith("SIP/SDP 1065 Request: INVITE sip:conf1@conf.example.org |")
    assert rows[6].endswith("SIP 259 Status: 200 OK (PRACK) |")
    assert rows[11].endswith("SIP/SDP 1028 Request: INVITE sip:conf1@192.0.2.2, in-dialog |")
    assert rows[15].endswith("TCP 54 5060 → 40000 [SYN, ACK] Seq=0 Ack=1 Win=8192 Len=0")
    assert rows[17].endswith("[TCP segment of a reassembled PDU]")
    assert rows[19].endswith("SIP/SDP/XML 465 Request: INVITE sip:conf1@conf.example.org |")
    assert rows[20].endswith("SIP 458 Status: 100 Trying | Status: 180 Ringing |")


def test_json_detail_and_stdin(vectors: Path) -> None:
    data = (vectors / "sip" / "sip_sdp_keymgmt.pcap").read_bytes()
    r = subprocess.run(
        [*CMD, "-", "--json", "-V"], input=data, capture_output=True, timeout=60, check=False
    )
    assert r.returncode == 0
    (obj,) = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    assert obj["number"] == 1 and obj["protocol"] == "SIP/SDP" and obj["length"] == 1058
    assert obj["source"] == "192.0.2.1" and obj["destination"] == "192.0.2.2"
    sip_layer = obj["layers"][-1]
    assert sip_layer["label"] == "Session Initiation Protocol (INVITE)"
    assert sip_layer["children"][0]["label"] == "Request-Line: INVITE sip:bob@example.net SIP/2.0"


def test_problems_on_stderr_and_rest_shown(dissect: Callable[..., Result], tmp_path: Path) -> None:
    pcap = write_liars(tmp_path / "liars.pcap")
    r = dissect(str(pcap))
    assert r.returncode == 0
    errs = r.stderr.splitlines()
    assert len(errs) == 2
    assert f"{pcap}, frame 2: sip.content-length" in errs[0]
    assert f"{pcap}, frame 7: sip.content-length" in errs[1]
    rows = {int(ln.split()[0]): ln for ln in r.stdout.splitlines()}
    assert len(rows) == 9
    assert rows[3].endswith("Status: 200 OK (INVITE) |")
    # Both messages of the TCP segment are shown, the liar and the one after it, in the
    # form tshark gives two well-framed MESSAGEs in one segment.
    assert rows[7].endswith(
        "SIP 575 Request: MESSAGE sip:conf1@conf.example.org"
        " | Request: MESSAGE sip:conf1@conf.example.org |  (text/plain)"
    )


def test_unreadable_inputs(dissect: Callable[..., Result], tmp_path: Path) -> None:
    missing = dissect(str(tmp_path / "nope.pcap"))
    assert missing.returncode == 2 and "cannot open" in missing.stderr
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all")
    r = dissect(str(junk))
    assert r.returncode == 2 and "not a pcap or pcapng" in r.stderr
    usage = subprocess.run(CMD, capture_output=True, timeout=60, check=False)
    assert usage.returncode == 2


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    pcap = tmp_path / "many.pcap"
    pkts = [udp(UE, CONF, INVITE1) for _ in range(300)]
    for i, p in enumerate(pkts):
        p.time = 1.0 + i
    wrpcap(str(pcap), pkts)
    proc = subprocess.Popen([*CMD, str(pcap), "-V"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        rc = proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert first.startswith(b"Frame 1: ")
    assert rc == 0 and err == b""


def test_sdp_problems_on_stderr(dissect: Callable[..., Result], tmp_path: Path) -> None:
    from tests.support.sip_captures import OFFER, sip

    bad = OFFER.replace("a=setup:actpass\r\n", "nonsense line\r\n", 1)
    bad = bad.replace("a=key-mgmt:mikey A", "a=key-mgmt:mikey *", 1)
    msg = sip(
        "INVITE sip:conf1@conf.example.org SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-bad",
        "From: <sip:alice@example.org>;tag=x",
        "To: <sip:conf1@conf.example.org>",
        "Call-ID: bad-sdp",
        "CSeq: 1 INVITE",
        "Content-Type: application/sdp",
        body=bad,
    )
    pcap = tmp_path / "bad.pcap"
    wrpcap(str(pcap), [udp(UE, CONF, msg)])
    r = dissect(str(pcap))
    assert r.returncode == 0
    errs = r.stderr.splitlines()
    assert [e.split(": ", 2)[1] for e in errs] == [
        f"{pcap}, frame 1",
        f"{pcap}, frame 1",
    ]
    assert "sdp.line at offset" in errs[0] and "sdp.key-mgmt" in errs[1]
