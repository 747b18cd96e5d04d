"""``mikeyshark.dissect``: the frames of a capture with named fields, the way a script reads
them. Expected values are the vectors' (tests/vectors/README.md: the RFC 4975 SEND of
transaction a786hjs2 and its 200, the BFCP Hello / HelloAck / FloorRequest, the INVITE of
sip_sdp_keymgmt.pcap as tshark reads it) or stated by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mikeyshark
from mikeyshark.keyfile import KeyFileError
from mikeyshark.model import Problem
from mikeyshark.view.layers import FIELDS, Layer, attribute_name
from tests.support.paths import VECTORS

PSK = "657bf44e8247bee72094eafe0283ab2f"


def test_sip_sdp_and_mikey_fields() -> None:
    (frame,) = mikeyshark.dissect(VECTORS / "sip" / "sip_sdp_keymgmt.pcap")
    assert frame.sip is not None and frame.sdp is not None and frame.udp is not None
    assert frame.sip.call_id == "a84b4c76e66710@192.0.2.1"
    assert (frame.sip.method, frame.sip.status_code) == ("INVITE", None)
    assert frame.sdp.media == ("message 50000 TCP/TLS/MSRP *", "application 50001 TCP/TLS/BFCP *")
    assert frame.sdp.media_port == (50000, 50001)
    assert frame.ip is not None and frame.ip.src == "192.0.2.1"
    # the MIKEY of each a=key-mgmt: RFC 3830 PSK-init (data type 0), CSB ID 0x12345678
    mikeys = frame.all("mikey")
    assert [(m.type, m.csb_id) for m in mikeys] == [(0, 0x12345678)] * 2  # type: ignore[attr-defined]
    assert frame.values("sip.Method") == ["INVITE"]
    assert frame.tcp is None and frame.tls is None and frame.msrp is None


def test_plain_msrp_and_bfcp() -> None:
    msrp = [f for f in mikeyshark.dissect(VECTORS / "app" / "plain_msrp.pcap") if f.msrp]
    assert [(f.number, f.msrp.method, f.msrp.status_code) for f in msrp if f.msrp] == [
        (4, "SEND", None),
        (5, None, 200),
    ]
    assert {f.msrp.transaction_id for f in msrp if f.msrp} == {"a786hjs2"}
    bfcp = [f for f in mikeyshark.dissect(VECTORS / "app" / "plain_bfcp.pcap") if f.bfcp]
    # Hello 11, HelloAck 12, FloorRequest 1 (RFC 8855 5.1)
    assert [f.bfcp.primitive for f in bfcp if f.bfcp] == [11, 12, 1]
    assert {f.tcp.stream for f in bfcp if f.tcp} == {0}


def test_decrypted_tls_gives_the_msrp_inside() -> None:
    frames = list(mikeyshark.dissect(VECTORS / "tls_psk" / "psk_aes128_gcm_sha256.pcap", psk=[PSK]))
    send = frames[7]
    assert send.number == 8 and send.tls is not None and send.msrp is not None
    assert (send.msrp.method, send.msrp.transaction_id) == ("SEND", "a786hjs2")
    assert send.tls.record_content_type == (23,)
    # without the key the same frame is application data only
    plain = list(mikeyshark.dissect(VECTORS / "tls_psk" / "psk_aes128_gcm_sha256.pcap"))
    assert plain[7].msrp is None and plain[7].tls is not None


def test_a_field_is_its_filter_name_as_an_attribute() -> None:
    assert attribute_name("sip.Call-ID") == "call_id"
    assert attribute_name("msrp.transaction.id") == "transaction_id"
    assert attribute_name("tcp.flags.syn") == "flags_syn"
    assert attribute_name("sip.From") == "from_"  # a Python keyword
    for info in FIELDS.values():
        assert info.attr == attribute_name(info.name)
        assert info.name.split(".")[0] == info.layer


def test_layer_classes_refuse_a_field_not_named_by_the_rule() -> None:
    from mikeyshark.view.layers import named_field

    # (Python 3.11 wraps what __set_name__ raises in a RuntimeError)
    with pytest.raises((TypeError, RuntimeError)) as e:

        class _Bad(Layer):
            name = "sip"

            @named_field("sip.Call-ID", "Call-ID")
            def callid(self) -> str:
                return ""

    err = e.value if isinstance(e.value, TypeError) else e.value.__cause__
    assert str(err) == "field sip.Call-ID must be attribute call_id"


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        mikeyshark.dissect(tmp_path / "missing.pcap")
    text = tmp_path / "text.pcap"
    text.write_text("not a capture at all")
    frames = mikeyshark.dissect(text)
    with pytest.raises(ValueError, match="not a pcap or pcapng file"):
        list(frames)
    bad_keys = tmp_path / "keys.toml"
    bad_keys.write_text("[[kms]]\nuri = 3\n")
    with pytest.raises(KeyFileError):
        mikeyshark.dissect(text, keys=bad_keys)
    with pytest.raises(ValueError, match="not an even number of hex digits"):
        mikeyshark.dissect(text, psk=["zz"])


def test_problems_reach_the_callback_and_the_frame(tmp_path: Path) -> None:
    data = (VECTORS / "app" / "plain_bfcp.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-10])  # the last record is cut short
    seen: list[Problem] = []
    frames = list(mikeyshark.dissect(cut, on_problem=seen.append))
    assert len(frames) == 8
    assert [(p.layer, p.frame) for p in seen] == [("capture", 9)]


def test_import_stays_cheap() -> None:
    code = "import sys, mikeyshark; print('mikeyshark.view' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
