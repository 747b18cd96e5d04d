"""Our decoding of mikey_psk_init.pcap equals tshark's, field by field."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest

from mikeyshark.dissectors.mikey import Kemac, Rand, Sp, SrtpIdMap, T, parse, parse_key_data
from mikeyshark.dissectors.mikey.message import MikeyMessage
from mikeyshark.dissectors.mikey.payloads import payload_type

pytestmark = pytest.mark.tshark

FIELDS = [
    "udp.payload",
    "mikey.version",
    "mikey.type",
    "mikey.next_payload",
    "mikey.v.set",
    "mikey.prf_func",
    "mikey.csb_id",
    "mikey.cs_count",
    "mikey.cs_id_map_type",
    "mikey.srtp_id.policy_no",
    "mikey.srtp_id.ssrc",
    "mikey.srtp_id.roc",
    "mikey.t.ts_type",
    "mikey.t.ntp",
    "mikey.rand.len",
    "mikey.rand.data",
    "mikey.sp.no",
    "mikey.sp.proto_type",
    "mikey.sp.param_len",
    "mikey.sp.param.type",
    "mikey.sp.param.len",
    "mikey.sp.patam.value",  # sic: tshark 4.0's field name
    "mikey.kemac.encr_alg",
    "mikey.kemac.key_data_len",
    "mikey.kemac.mac_alg",
    "mikey.kemac.mac",
    "mikey.key.type",
    "mikey.key.kv",
    "mikey.key.data.len",
    "mikey.key.data",
]


@pytest.fixture(scope="module")
def tshark_rows(tshark: str, vectors: Path) -> list[dict[str, str]]:
    cmd = [
        tshark,
        "-r",
        str(vectors / "mikey" / "mikey_psk_init.pcap"),
        "-d",
        "udp.port==2269,mikey",
    ]
    cmd += ["-T", "fields", "-E", "separator=|", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [dict(zip(FIELDS, line.split("|"), strict=True)) for line in out.splitlines() if line]
    assert len(rows) == 2
    return rows


def _ntp_text(v: int) -> str:
    t = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=v >> 32)
    ns = ((v & 0xFFFFFFFF) * 10**9) >> 32
    return t.strftime("%b %d, %Y %H:%M:%S") + f".{ns:09d} UTC"


def _ours(msg: MikeyMessage) -> dict[str, str]:
    h = msg.hdr
    assert isinstance(h.cs_map, SrtpIdMap)
    (e,) = h.cs_map.entries
    t, rand, sp, kemac = msg.find(T), msg.find(Rand), msg.find(Sp), msg.find(Kemac)
    assert t and rand and sp and kemac
    keys = parse_key_data(kemac.encr_data) if kemac.encr_alg == 0 else ()
    nexts = [payload_type(p) for p in msg.payloads] + [0]
    return {
        "mikey.version": str(h.version),
        "mikey.type": str(h.data_type),
        "mikey.next_payload": ",".join(map(str, nexts)),
        "mikey.v.set": str(int(h.v)),
        "mikey.prf_func": str(h.prf_func),
        "mikey.csb_id": f"0x{h.csb_id:08x}",
        "mikey.cs_count": str(h.cs_map.n_cs),
        "mikey.cs_id_map_type": str(h.cs_map.MAP_TYPE),
        "mikey.srtp_id.policy_no": str(e.policy_no),
        "mikey.srtp_id.ssrc": f"0x{e.ssrc:08x}",
        "mikey.srtp_id.roc": f"0x{e.roc:08x}",
        "mikey.t.ts_type": str(t.ts_type),
        "mikey.t.ntp": _ntp_text(t.value),
        "mikey.rand.len": str(len(rand.value)),
        "mikey.rand.data": rand.value.hex(),
        "mikey.sp.no": str(sp.policy_no),
        "mikey.sp.proto_type": str(sp.prot_type),
        "mikey.sp.param_len": str(sum(2 + len(p.value) for p in sp.params)),
        "mikey.sp.param.type": ",".join(str(p.ptype) for p in sp.params),
        "mikey.sp.param.len": ",".join(str(len(p.value)) for p in sp.params),
        "mikey.sp.patam.value": ",".join(p.value.hex() for p in sp.params),
        "mikey.kemac.encr_alg": str(kemac.encr_alg),
        "mikey.kemac.key_data_len": str(len(kemac.encr_data)),
        "mikey.kemac.mac_alg": str(kemac.mac_alg),
        "mikey.kemac.mac": kemac.mac.hex(),
        "mikey.key.type": ",".join(str(k.key_type) for k in keys),
        "mikey.key.kv": ",".join("0" for _ in keys),
        "mikey.key.data.len": ",".join(str(len(k.key)) for k in keys),
        "mikey.key.data": ",".join(k.key.hex() for k in keys),
    }


@pytest.mark.parametrize("frame", [0, 1])
def test_fields_equal_tshark(tshark_rows: list[dict[str, str]], frame: int) -> None:
    row = tshark_rows[frame]
    msg = parse(bytes.fromhex(row.pop("udp.payload").replace(":", "")))
    assert _ours(msg) == row
