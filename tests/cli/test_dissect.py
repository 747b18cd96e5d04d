"""``mikeyshark dissect``: rows and details as tshark shows them, JSON, stdin, pipes, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.utils import wrpcap

from mikeyshark.cli import main
from tests.support.sip_captures import CONF, INVITE1, UE, udp, write_calls, write_liars

CMD = [sys.executable, "-m", "mikeyshark", "dissect"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def dissect(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the command in this process (a subprocess per test costs seconds of imports)."""

    def run(*args: str) -> Result:
        rc = main(["dissect", *args])
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return run


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


@pytest.mark.tshark
def test_rows_equal_tshark_columns(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path
) -> None:
    pcap = write_calls(tmp_path / "calls.pcap")
    cols = ["frame.number", "_ws.col.Source", "_ws.col.Destination", "_ws.col.Protocol"]
    cols += ["frame.len", "_ws.col.Info"]
    cmd = [tshark, "-r", str(pcap), "-T", "fields", "-E", "separator=/t"]
    for c in cols:
        cmd += ["-e", c]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    theirs = [ln.split("\t") for ln in out.splitlines()]
    r = dissect(str(pcap), "--json")
    assert r.returncode == 0 and r.stderr == ""
    ours = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(ours) == len(theirs) == 28
    for o, t in zip(ours, theirs, strict=True):
        row = [str(o["number"]), o["source"], o["destination"], o["protocol"], str(o["length"])]
        assert [*row, o["info"]] == [*t[:5], t[5].rstrip()]


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


@pytest.mark.tshark
def test_tcp_options_and_window_scaling_like_tshark(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path
) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    opts_c = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None)]
    opts_c += [("WScale", 7)]
    opts_s = [("MSS", 1400), ("SAckOK", b""), ("Timestamp", (200, 100)), ("NOP", None)]
    opts_s += [("WScale", 3)]
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    c, s = IP(src=UE, dst=CONF), IP(src=CONF, dst=UE)
    pkts = [
        e / c / TCP(sport=40000, dport=55555, flags="S", seq=10, window=64240, options=opts_c),
        e
        / s
        / TCP(sport=55555, dport=40000, flags="SA", seq=90, ack=11, window=65160, options=opts_s),
        e / c / TCP(sport=40000, dport=55555, flags="A", seq=11, ack=91, window=502),
        e / c / TCP(sport=40000, dport=55555, flags="PA", seq=11, ack=91, window=502) / b"hi",
        e / s / TCP(sport=55555, dport=40000, flags="A", seq=91, ack=13, window=1000),
    ]
    for i, p in enumerate(pkts):
        p.time = 5.0 + i / 10
    pcap = tmp_path / "tcp.pcap"
    wrpcap(str(pcap), pkts)
    cmd = [tshark, "-r", str(pcap), "-T", "fields", "-e", "_ws.col.Info"]
    theirs = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    r = dissect(str(pcap), "--json")
    ours = [json.loads(ln)["info"] for ln in r.stdout.splitlines()]
    assert ours == [ln.rstrip() for ln in theirs.splitlines()]
    # What tshark printed, for the record: options in order, windows scaled after the SYNs.
    assert (
        ours[0]
        == "40000 → 55555 [SYN] Seq=0 Win=64240 Len=0 MSS=1460 SACK_PERM TSval=100 TSecr=0 WS=128"
    )
    assert ours[2] == "40000 → 55555 [ACK] Seq=1 Ack=1 Win=64256 Len=0"


@pytest.mark.tshark
def test_arp_rows_like_tshark(dissect: Callable[..., Result], tshark: str, tmp_path: Path) -> None:
    from scapy.layers.l2 import ARP, Ether

    a, b = "02:00:00:00:00:01", "02:00:00:00:00:02"
    pkts = [
        Ether(src=a, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=a, psrc=UE, pdst=CONF),
        Ether(src=b, dst=a) / ARP(op=2, hwsrc=b, psrc=CONF, hwdst=a, pdst=UE),
    ]
    pcap = tmp_path / "arp.pcap"
    wrpcap(str(pcap), pkts)
    cols = ["_ws.col.Source", "_ws.col.Destination", "_ws.col.Protocol", "_ws.col.Info"]
    cmd = [tshark, "-r", str(pcap), "-T", "fields", "-E", "separator=/t"]
    for c in cols:
        cmd += ["-e", c]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    theirs = [ln.split("\t") for ln in out.splitlines()]
    r = dissect(str(pcap), "--json")
    ours = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [[o["source"], o["destination"], o["protocol"], o["info"]] for o in ours] == theirs
    assert ours[0]["info"] == "Who has 192.0.2.2? Tell 192.0.2.1"


@pytest.mark.tshark
def test_ip_fragments_like_tshark(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path
) -> None:
    from scapy.layers.inet import IP, fragment
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
    from scapy.layers.l2 import Ether

    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    v4 = [e / f for f in fragment(udp(UE, CONF, INVITE1)[IP], fragsize=400)]  # type: ignore[no-untyped-call]
    big = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=7)
    big = big / UDP(sport=4000, dport=4001) / (b"x" * 2000)
    v6 = list(fragment6(e / big, 1000))  # type: ignore[no-untyped-call]
    pkts = [*v4, *v6]
    for i, p in enumerate(pkts):
        p.time = 1.0 + i
    pcap = tmp_path / "frag.pcap"
    wrpcap(str(pcap), pkts)
    cols = ["_ws.col.Source", "_ws.col.Destination", "_ws.col.Protocol", "_ws.col.Info"]
    cmd = [tshark, "-r", str(pcap), "-T", "fields", "-E", "separator=/t"]
    for c in cols:
        cmd += ["-e", c]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    theirs = [[*t[:3], t[3].rstrip()] for t in (ln.split("\t") for ln in out.splitlines())]
    r = dissect(str(pcap), "--json")
    ours = [
        [o["source"], o["destination"], o["protocol"], o["info"]]
        for o in map(json.loads, r.stdout.splitlines())
    ]
    assert ours == theirs
    assert ours[0][3] == "Fragmented IP protocol (proto=UDP 17, off=0, ID=0001)"
    assert ours[2][2:] == ["SIP/SDP", "Request: INVITE sip:conf1@conf.example.org |"]


def _tree_of(text: str, number: int) -> list[str]:
    lines = text.splitlines()
    start = lines.index(next(ln for ln in lines if ln.startswith(f"Frame {number}:")))
    out = []
    for ln in lines[start:]:
        if not ln.strip():
            break
        out.append(ln.rstrip())
    return out


@pytest.mark.tshark
@pytest.mark.parametrize("number", [3, 4, 5, 12])
def test_detail_contains_tsharks_sip_tree(
    dissect: Callable[..., Result], tshark: str, tmp_path: Path, number: int
) -> None:
    """Every line tshark -V prints for SIP/SDP appears in ours, in order and equally
    indented; ours may add lines (the MIKEY inside a=key-mgmt, a=path's value). tshark's
    transaction timing lines are not reproduced."""
    pcap = write_calls(tmp_path / "calls.pcap")
    cmd = [tshark, "-r", str(pcap), "-Y", f"frame.number=={number}", "-V", "-O", "sip,sdp"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    lines = out.splitlines()
    sip_at = next(i for i, ln in enumerate(lines) if ln.startswith("Session Initiation Protocol"))
    theirs = [ln.rstrip() for ln in lines[sip_at:] if ln.strip()]
    theirs = [ln for ln in theirs if "[Request Frame:" not in ln and "[Response Time" not in ln]
    ours = _tree_of(dissect(str(pcap), "-V").stdout, number)
    i = 0
    for line in theirs:
        while i < len(ours) and ours[i] != line:
            i += 1
        assert i < len(ours), f"tshark line not found in order: {line!r}"
        i += 1


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
