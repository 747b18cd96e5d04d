"""H.248 / Megaco in `mikeyshark dissect`, against tshark 4.0: a public trunk-gateway capture
(text over UDP) and synthesized calls captured beside the MRF (the Mp leg over UDP, and over
TCP with TPKT framing). The rows are tshark's (its Info without the "(Mode:..)"/"(Signal:..)"
notes it adds, its Protocol column without the "/SDP" of bodies), the named fields are
tshark's; the Mp profile's PSK shows as a fingerprint unless keys are revealed."""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mikeyshark.synth import synthesize, write_capture
from tests.support.dissect import Result
from tests.support.paths import VECTORS
from tests.support.tshark_fields import differences, our_fields, tshark_fields

pytestmark = pytest.mark.tshark

HEPLIFY = VECTORS / "megaco" / "megaco-heplify.pcap"
# megaco.context is left out: tshark adds it once per command and descriptor of a context
FIELDS = ["megaco.version", "megaco.mId", "megaco.transid", "megaco.command", "megaco.termid"]
_NOTES = re.compile(r" \((?:Mode|Signal):[^)]*\)")


@pytest.fixture(scope="module")
def mrf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, bytes]:
    tmp = tmp_path_factory.mktemp("mp")
    udp = synthesize("msrp-dial-in", seed=1, capture_point="mrf")
    tcp = synthesize("msrp-dial-in", seed=1, capture_point="mrf", mp_transport="tcp")
    write_capture(udp, tmp / "udp.pcap")
    write_capture(tcp, tmp / "tcp.pcap")
    (tmp / "keys.toml").write_text(udp.keyfile_text)
    return tmp / "udp.pcap", tmp / "tcp.pcap", tmp / "keys.toml", udp.calls[0].media[0].tek


def _rows_like_tshark(tshark: str, pcap: Path) -> None:
    cols = ["_ws.col.Protocol", "_ws.col.Info"]
    theirs = tshark_fields(tshark, pcap, cols, display_filter="megaco")
    ours = our_fields(pcap, cols, "megaco")
    assert sorted(ours) == sorted(theirs) and theirs
    for n, (proto, info) in theirs.items():
        assert ours[n][0] == proto.split("/")[0]
        assert ours[n][1] == _NOTES.sub("", info).rstrip()


@pytest.mark.parametrize("which", ["heplify", "udp", "tcp"])
def test_rows_and_fields_like_tshark(
    tshark: str, mrf: tuple[Path, Path, Path, bytes], which: str
) -> None:
    pcap = {"heplify": HEPLIFY, "udp": mrf[0], "tcp": mrf[1]}[which]
    _rows_like_tshark(tshark, pcap)
    theirs = tshark_fields(tshark, pcap, FIELDS, display_filter="megaco")
    assert differences(our_fields(pcap, FIELDS, "megaco"), theirs, FIELDS) == []


def test_psk_on_mp_is_a_fingerprint_unless_revealed(
    dissect: Callable[..., Result], mrf: tuple[Path, Path, Path, bytes]
) -> None:
    _, tcp, keys, tek = mrf
    shown = dissect(str(tcp), "-V", "-Y", "megaco.command == Add", "--keys", str(keys)).stdout
    fingerprint = "sha256:" + hashlib.sha256(tek).hexdigest()[:8]
    assert f"Pre-Shared Key (mkstls/psk) = {fingerprint} (16 bytes)" in shown
    assert tek.hex() not in shown
    revealed = dissect(
        str(tcp), "-V", "-Y", "megaco.command == Add", "--keys", str(keys), "--reveal-keys"
    ).stdout
    assert f"Pre-Shared Key (mkstls/psk) = {tek.hex()}" in revealed


def test_tpkt_segments_and_rows(tshark: str, mrf: tuple[Path, Path, Path, bytes]) -> None:
    """The TCP connection of the Mp leg: every row as tshark shows it, handshake included."""
    pcap = mrf[1]
    cmd = [tshark, "-n", "-r", str(pcap), "-Y", "tcp.port == 2944", "-T", "fields"]
    cmd += ["-e", "frame.number"]
    theirs = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    ours = our_fields(pcap, ["frame.number"], "tcp.port == 2944")
    assert [str(n) for n in ours] == theirs
