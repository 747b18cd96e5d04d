"""``mikeyshark dissect``: rows, TCP options, ARP, IP fragments and the SIP tree, compared with
tshark on the same captures."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.utils import wrpcap

from tests.support.dissect import Result
from tests.support.sip_captures import CONF, INVITE1, UE, udp, write_calls

pytestmark = pytest.mark.tshark


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
        # an ACK with two SACK blocks (RFC 2018), in the client's sequence space
        e
        / s
        / TCP(
            sport=55555,
            dport=40000,
            flags="A",
            seq=91,
            ack=13,
            window=1000,
            options=[("NOP", None), ("NOP", None), ("SAck", (20, 30, 40, 50))],
        ),
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
    assert ours[4] == "55555 → 40000 [ACK] Seq=1 Ack=3 Win=8000 Len=0 SLE=10 SRE=20 SLE=30 SRE=40"


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
