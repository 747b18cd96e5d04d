"""The packet list on two processes (mikeyshark.view.parallel): the signalling process's
steps replayed in the rows process give the rows and the problems (in their order) of the
one-process FrameStream, on every shipped capture and on synthesized ones that exercise
what the steps carry: TLS decrypted with keys from MIKEY tickets and with a key log, TLS 1.3,
plain MSRP/BFCP, H.248 over UDP and TPKT, GTP-U, ESP, IPv6, IP fragments, TCP segments out
of order, a capture cut short (-c).

The steps are pickled and read back as the pipe between the processes does
(tests/cli/test_dissect_workers.py runs the command both ways, forked). Dropping, reordering
or misplacing anything a step carries changes a row or the problems compared.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from mikeyshark.calls import TcpConn
from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import PskCandidate
from mikeyshark.keyfile import KeyFile
from mikeyshark.keylog import keylog_from
from mikeyshark.model import Frame, Problem, StreamChunk
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import Cursor, Network, TcpConnection, write_frames
from mikeyshark.synth.scenarios import BASE_TIME_NS
from mikeyshark.view.parallel import RowsSide, SignallingSide, Step, pipe_backlog
from mikeyshark.view.stream import CHECK_EVERY, AppDecoder, FrameStream
from tests.support.golden import CASES, ROOT
from tests.support.sip_captures import CONF, INVITE1, UE, udp
from tests.support.tunnels import NULL_SAS, sip_in_esp, tunnelled

Rows = tuple[list[str], list[str]]


def _one_process(
    path: Path, keys: KeyFile | None, psks: list[PskCandidate], keylog: str, count: int | None
) -> Rows:
    problems: list[Problem] = []
    reader = CaptureReader(str(path))
    secrets = keylog_from([keylog], reader.secrets)
    stream = FrameStream(reader, keys, psks, False, problems.append, None, count, secrets)
    return [v.row() for v in stream], [str(p) for p in problems]


def _two_processes(
    path: Path,
    keys: KeyFile | None,
    psks: list[PskCandidate],
    keylog: str,
    count: int | None,
    render: bool,
) -> Rows:
    side = SignallingSide(CaptureReader(str(path)), keys, psks, count)
    # the rows of UDP datagrams rendered by the signalling process in every other batch (the
    # command decides by batch too), from the first batch on or from the second
    side.render_rows = render
    sent = []
    for b in side.steps():
        sent.append(pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL))
        side.render_rows = not side.render_rows

    def steps() -> Iterator[Step]:
        for b in sent:
            yield from pickle.loads(b)

    problems: list[Problem] = []
    reader = CaptureReader(str(path))
    secrets = keylog_from([keylog], reader.secrets)
    rows = RowsSide(reader, keys, psks, False, problems.append, None, count, secrets, steps())
    return [v.row() for v in rows], [str(p) for p in problems]


def _same(
    path: Path,
    keys: KeyFile | None = None,
    psks: list[PskCandidate] | None = None,
    keylog: str = "",
    count: int | None = None,
) -> list[str]:
    one = _one_process(path, keys, psks or [], keylog, count)
    for render in (False, True):
        two = _two_processes(path, keys, psks or [], keylog, count, render)
        assert two[0] == one[0]
        assert two[1] == one[1]
    return one[0]


def test_rows_rendered_by_either_process(tmp_path: Path) -> None:
    """The signalling process renders the rows of UDP datagrams of no protocol of ours
    while asked to (not SIP's, not a fragment's); the rows process renders them otherwise."""
    pkts = [udp(UE, CONF, b"rtp %d" % i, 40000, 40002) for i in range(3)]
    pieces = fragment(udp(UE, CONF, INVITE1)[IP], fragsize=400)  # type: ignore[no-untyped-call]
    pkts += [udp(UE, CONF, INVITE1), *(Ether() / f for f in pieces)]
    pkts += [udp(CONF, UE, b"rtp", 40002, 40000)]
    for i, p in enumerate(pkts):
        p.time = 1.0 + i
    path = tmp_path / "udp.pcap"
    wrpcap(str(path), pkts)
    rows = _same(path)
    assert [r.split()[5] for r in rows] == ["UDP"] * 3 + [
        "SIP/SDP",
        "IPv4",
        "IPv4",
        "SIP/SDP",
        "UDP",
    ]
    for render in (False, True):
        side = SignallingSide(CaptureReader(str(path)), None, [], None)
        side.render_rows = render
        texts = [s for b in side.steps() for s in b if len(s) == 2 and type(s[1]) is str]
        assert texts == ([(n, rows[n - 1]) for n in (1, 2, 3, 8)] if render else [])


def test_pipe_backlog() -> None:
    r, w = os.pipe()
    try:
        assert pipe_backlog(w) == 0
        os.write(w, bytes(100))
        assert pipe_backlog(w) == 100
        os.read(r, 40)
        assert pipe_backlog(w) == 60
    finally:
        os.close(r)
        os.close(w)


def _shipped_args(args: list[str]) -> tuple[KeyFile | None, list[PskCandidate]]:
    keys = KeyFile.load(ROOT / args[1]) if args[:1] == ["--keys"] else None
    psks = [PskCandidate(bytes.fromhex(args[1]), "psk")] if args[:1] == ["--psk"] else []
    return keys, psks


@pytest.mark.parametrize("capture", sorted(CASES))
def test_shipped_captures(capture: str) -> None:
    keys, psks = _shipped_args(CASES[capture])
    rows = _same(ROOT / capture, keys, psks)
    assert len(rows) == sum(1 for _ in CaptureReader(str(ROOT / capture)))


@pytest.mark.parametrize("name", ["psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"])
def test_tls_with_a_key_log(name: str) -> None:
    base = ROOT / "tests/vectors/tls_psk" / name
    keylog = base.with_suffix(".keylog").read_text(encoding="ascii")
    rows = _same(base.with_suffix(".pcap"), keylog=keylog)
    assert any(" TLSv1" in r for r in rows)


def test_megaco_datagrams() -> None:
    rows = _same(ROOT / "tests/vectors/megaco/megaco-heplify.pcap")
    assert any(" MEGACO " in r for r in rows)


def _write(frames: list[Frame] | tuple[Frame, ...], tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.pcap"
    write_frames(frames, path)
    return path


def _keys(text: str, tmp: Path) -> KeyFile:
    path = tmp / "keys.toml"
    path.write_text(text, encoding="utf-8")
    return KeyFile.load(path)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"tls13": True},
        {"ipv6": True},
        {"capture_point": "mrf", "mp_transport": "tcp"},
        {"capture_point": "mrf", "mp_transport": "udp"},
    ],
    ids=["tls12", "tls13", "ipv6", "mrf-tpkt", "mrf-udp"],
)
def test_conference(options: dict[str, object], tmp_path: Path) -> None:
    s = synthesize("conference", seed=3, now_ns=BASE_TIME_NS, **options)  # type: ignore[arg-type]
    keys = _keys(s.keyfile_text, tmp_path)
    rows = _same(_write(s.frames, tmp_path, "conference"), keys)
    assert any(" MSRP " in r for r in rows) and any(" BFCP " in r for r in rows)
    # without keys nothing is decrypted: the TLS rows are the records themselves
    _same(_write(s.frames, tmp_path, "conference"))


def test_cut_short(tmp_path: Path) -> None:
    s = synthesize("conference", seed=3, now_ns=BASE_TIME_NS)
    path = _write(s.frames, tmp_path, "conference")
    keys = _keys(s.keyfile_text, tmp_path)
    for count in (1, 40, len(s.frames) // 2):
        assert len(_same(path, keys, count=count)) == count


def test_gtp_u(tmp_path: Path) -> None:
    s = synthesize("msrp-dial-in", seed=2, now_ns=BASE_TIME_NS)
    rows = _same(_write(tunnelled(s.frames), tmp_path, "gtp"), _keys(s.keyfile_text, tmp_path))
    assert any(" GTP <MSRP> " in r for r in rows)


@pytest.mark.parametrize("with_sa", [True, False], ids=["sa", "heuristic"])
def test_esp(with_sa: bool, tmp_path: Path) -> None:
    s = synthesize("bfcp-dial-out", seed=2, now_ns=BASE_TIME_NS)
    sa = NULL_SAS["hmac-sha1-96"]
    frames = sip_in_esp(s.frames, sa)
    keys = s.keyfile_text
    if with_sa:
        keys += (
            f'\n[[esp]]\nspi = {sa.spi}\nencryption = "null"\nintegrity = "{sa.integrity}"\n'
            f'integrity_key = "{sa.integrity_key.hex()}"\n'
        )
    rows = _same(_write(frames, tmp_path, "esp"), _keys(keys, tmp_path))
    assert any(" SIP" in r for r in rows)


def _noise(i: int, ts_ns: int) -> list[Frame]:
    """A UDP datagram of no protocol of ours; every fifth cut in IP fragments."""
    pkt = IP(src="192.0.2.7", dst="192.0.2.9", id=i) / UDP(sport=40000, dport=40002)
    pkt = pkt / bytes(range(256))
    parts = fragment(pkt, fragsize=128) if i % 5 == 0 else [pkt]  # type: ignore[no-untyped-call]
    eth = Ether(src="02:00:00:00:00:07", dst="02:00:00:00:00:09")
    out = []
    for j, part in enumerate(parts):
        data = bytes(eth / part)
        out.append(Frame(0, ts_ns + j, 1, data, len(data)))
    return out


def _direction(f: Frame) -> tuple[str, int, str, int] | None:
    p = Ether(f.data)
    if TCP not in p or not len(p[TCP].payload):
        return None
    return (p[IP].src, p[TCP].sport, p[IP].dst, p[TCP].dport)


def test_fragments_and_reordered_segments(tmp_path: Path) -> None:
    """Between the frames of a call, UDP datagrams of no protocol of ours (some in IP
    fragments: shown as UDP in the frame that completes them) so that the checks of what
    may still change a frame (every CHECK_EVERY frames) fall inside it; SIP datagrams in IP
    fragments; and at each check a TCP segment swapped with the next one of its direction
    after the check (the flow table holds the out-of-order bytes across the check)."""
    s = synthesize("conference", seed=4, now_ns=BASE_TIME_NS)
    frames: list[Frame] = []
    for i, f in enumerate(s.frames):
        p = Ether(f.data)
        if UDP in p and 5060 in (p[UDP].sport, p[UDP].dport) and len(p[UDP].payload) > 600:
            for j, part in enumerate(fragment(p[IP], fragsize=400)):  # type: ignore[no-untyped-call]
                data = bytes(Ether(src=p.src, dst=p.dst) / part)
                frames.append(dataclasses.replace(f, ts_ns=f.ts_ns + j * 1000, data=data))
        else:
            frames.append(f)
        for k in range(4):
            frames += _noise(i * 4 + k, f.ts_ns + 10_000 * (k + 1))
    swapped = 0
    for check in range(CHECK_EVERY - 1, len(frames), CHECK_EVERY):
        before = next(i for i in range(check, 0, -1) if _direction(frames[i]) is not None)
        way = _direction(frames[before])
        after = next(
            (i for i in range(check + 1, len(frames)) if _direction(frames[i]) == way), None
        )
        if after is None:
            continue
        a, b = frames[before], frames[after]
        frames[before] = dataclasses.replace(a, data=b.data)
        frames[after] = dataclasses.replace(b, data=a.data)
        swapped += 1
    assert swapped > 3
    rows = _same(_write(frames, tmp_path, "damaged"), _keys(s.keyfile_text, tmp_path))
    assert any(" IPv4 " in r and "Fragmented IP protocol" in r for r in rows)
    assert sum(" UDP " in r and "40000 → 40002" in r for r in rows) == len(s.frames) * 4


def _plain_and_sip_over_tcp() -> list[Frame]:
    """An HTTP-like exchange (neither SIP nor TLS/MSRP/BFCP) and SIP over TCP, each message
    in several segments."""
    net = Network(random.Random(5))
    cursor = Cursor(net.rng, BASE_TIME_NS)
    a, b = net.host("a", "192.0.2.10"), net.host("b", "192.0.2.20")
    web = TcpConnection(net, cursor, a, 40001, b, 8080)
    web.connect()
    sip = TcpConnection(net, cursor, a, 40002, b, 5060)
    sip.connect()
    invite = (ROOT / "tests/vectors/sip/sip_invite_example.txt").read_bytes()
    invite = invite.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    for i in range(3):
        web.send(True, b"GET /%d HTTP/1.1\r\nHost: b\r\n\r\n" % i)
        web.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + bytes(3000))
        web.mss = sip.mss = 200
        sip.send(True, invite.replace(b"314159", b"%d" % (314159 + i)))
    return net.frames()


def test_plain_tcp_is_not_handed_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once SIP and the TLS/MSRP/BFCP decoder both declined a direction, the flow table
    stops handing its bytes on (their rows are TCP's either way); SIP over TCP still is."""
    path = _write(_plain_and_sip_over_tcp(), tmp_path, "tcp")
    handed: list[int] = []
    real = AppDecoder.on_tcp_data

    def counted(self: AppDecoder, conn: TcpConn, from_client: bool, chunk: StreamChunk) -> None:
        handed.append(conn.server.port)
        real(self, conn, from_client, chunk)

    monkeypatch.setattr(AppDecoder, "on_tcp_data", counted)
    rows = _same(path)
    assert sum(" SIP/SDP " in r and "Request: INVITE" in r for r in rows) == 3
    # one process: the first chunk of each direction of the HTTP connection, then nothing of
    # it (two processes: the rows process's decoder is given none of it)
    assert handed.count(8080) == 2
    assert handed.count(5060) > 3 * 2
