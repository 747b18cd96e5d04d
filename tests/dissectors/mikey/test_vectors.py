"""mikeyshark.dissectors.mikey against the independent vectors in tests/vectors/mikey."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.dissectors.mikey import (
    Kemac,
    KeyData,
    Rand,
    Sp,
    SpParam,
    SrtpIdEntry,
    SrtpIdMap,
    T,
    build,
    crypto,
    parse,
    parse_key_data,
)
from tests.support.paths import VECTORS


def _load(vectors: Path, name: str) -> Any:
    return json.loads((vectors / "mikey" / name).read_text())


def _prf_cases() -> list[dict[str, Any]]:
    path = VECTORS / "mikey" / "mikey_prf_vectors.json"
    return list(json.loads(path.read_text())["vectors"])


@pytest.mark.parametrize(
    "case", _prf_cases(), ids=lambda c: f"{len(c['inkey']) // 2}B-{c['constant']}"
)
def test_mikey1_prf_follows_the_rfc(case: dict[str, Any]) -> None:
    # Where minisip disagrees (inkeys of 32/64 bytes) the RFC construction is the expected value.
    out = crypto.prf_mikey1(
        bytes.fromhex(case["inkey"]), bytes.fromhex(case["label"]), case["outlen"]
    )
    assert out.hex() == case["mikey1_prf"]
    if not case["agree"]:
        assert out.hex() != case["minisip_libmikey_prf"]


@pytest.mark.parametrize(
    "case", _prf_cases(), ids=lambda c: f"{len(c['inkey']) // 2}B-{c['constant']}"
)
def test_prf_hmac_sha256(case: dict[str, Any]) -> None:
    out = crypto.prf_hmac_sha256(
        bytes.fromhex(case["inkey"]), bytes.fromhex(case["label"]), case["outlen"]
    )
    assert out.hex() == case["prf_hmac_sha256_assumed"]


@pytest.mark.parametrize(
    "case", _prf_cases(), ids=lambda c: f"{len(c['inkey']) // 2}B-{c['constant']}"
)
def test_label_layout(case: dict[str, Any]) -> None:
    lab = crypto.label(
        int(case["constant_hex"], 16),
        case["cs_id"],
        int(case["csb_id"], 16),
        bytes.fromhex(case["rand"]),
    )
    assert lab.hex() == case["label"]


@pytest.mark.parametrize("variant", ["encr_null", "encr_aes_cm_128"])
def test_psk_init_every_intermediate_value(vectors: Path, variant: str) -> None:
    v = _load(vectors, "mikey_psk_init.json")
    case, inp = v[variant], v["inputs"]
    raw = bytes.fromhex(case["message_hex"])
    psk, rand = bytes.fromhex(inp["psk"]), bytes.fromhex(inp["rand"])
    csb, t = int(inp["csb_id"], 16), int(inp["t_ntp64"], 16)

    msg = parse(raw)
    assert build(msg) == raw
    assert msg.hdr.csb_id == csb
    assert msg.hdr.cs_map == SrtpIdMap((SrtpIdEntry(0, int(inp["ssrc"], 16), 0),))
    assert msg.find(T) == T(0, t)
    assert msg.find(Rand) == Rand(rand)
    kemac = msg.find(Kemac)
    assert kemac is not None

    encr_alg = kemac.encr_alg
    keys = crypto.transport_keys(psk, csb, rand, prf_func=0, encr_alg=encr_alg, mac_alg=1)
    assert keys.encr_key.hex() == case["encr_key"]
    assert keys.salt_key.hex() == case["salt_key"]
    assert keys.auth_key.hex() == case["auth_key"]
    if encr_alg:
        assert crypto.kemac_iv(keys.salt_key, csb, t).hex() == case["iv"]

    # the MAC covers everything but itself
    assert kemac.mac.hex() == case["mac"]
    assert crypto.mac(1, keys.auth_key, raw[:-20]).hex() == case["mac"]
    assert crypto.mac_ok(1, keys.auth_key, raw[:-20], kemac.mac)

    plain = crypto.kemac_decrypt(encr_alg, keys, csb, t, kemac.encr_data)
    assert plain.hex() == case["keydata_plain"]
    assert crypto.kemac_encrypt(encr_alg, keys, csb, t, plain) == kemac.encr_data
    (kd,) = parse_key_data(plain)
    assert kd == KeyData(0, bytes.fromhex(inp["tgk"]))

    cs_id = msg.hdr.cs_ids()[0]
    assert cs_id == inp["cs_id_for_TEK"]
    assert crypto.derive_tek(kd.key, cs_id, csb, rand, 16).hex() == case["derived_TEK_cs1_16"]
    assert crypto.derive_salt(kd.key, cs_id, csb, rand, 14).hex() == case["derived_SALT_cs1_14"]


def test_psk_init_sp_params_and_binary_files(vectors: Path) -> None:
    v = _load(vectors, "mikey_psk_init.json")
    for i, variant in enumerate(["encr_null", "encr_aes_cm_128"]):
        raw = (vectors / "mikey" / f"mikey_psk_init_encr{i}.bin").read_bytes()
        assert raw.hex() == v[variant]["message_hex"]
        sp = parse(raw).find(Sp)
        assert sp is not None
        assert (sp.policy_no, sp.prot_type) == (0, 0)
        assert sp.params[0] == SpParam(0, b"\x01")
        assert [p.ptype for p in sp.params] == [0, 1, 2, 3, 4, 5, 7, 8, 10, 11]
        assert [p.value[0] for p in sp.params] == [1, 16, 1, 20, 14, 0, 1, 1, 1, 10]
