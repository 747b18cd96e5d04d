"""A Wireshark-like text tree of a MIKEY message: ``[(depth, text), ...]``.

Pure formatting of parsed values, so both the ``keys`` command and the ``dissect`` view
(MIKEY inside an SDP ``a=key-mgmt``) can indent it under their own nodes. Never prints key
material unless the caller asks: KEMAC contents are shown only when not encrypted, and then
as fingerprints unless ``reveal`` is set.
"""

from __future__ import annotations

import datetime

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey import constants as C
from mikeyshark.dissectors.mikey.message import MikeyMessage, parse_chain
from mikeyshark.dissectors.mikey.payloads import (
    Cert,
    Chash,
    Dh,
    EmptyMap,
    Err,
    GeneralExt,
    GenericIdMap,
    Hdr,
    Id,
    Idr,
    Ipsec4IdMap,
    Kemac,
    KeyData,
    KvInterval,
    KvSpi,
    Payload,
    Pke,
    Rand,
    Randr,
    Sakke,
    Sign,
    Sp,
    SrtpIdMap,
    T,
    Ticket,
    Tp,
    Tr,
    Unknown,
    V,
    parse_key_data,
)
from mikeyshark.dissectors.secret import show_key

Lines = list[tuple[int, str]]
_NTP_EPOCH = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)


def ntp_to_text(ts_type: int, value: int) -> str:
    if ts_type in (C.TS_TYPE["NTP-UTC"], C.TS_TYPE["NTP"]):
        secs = value / 2**32
    elif ts_type == C.TS_TYPE["NTP-UTC-32"]:
        secs = float(value)
    else:
        return f"counter {value}"
    try:
        when = _NTP_EPOCH + datetime.timedelta(seconds=secs)
    except OverflowError:
        return f"0x{value:x}"
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _text(b: bytes) -> str:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return b.hex()
    return s if s.isprintable() else b.hex()


def render_tree(msg: MikeyMessage, reveal: bool = False) -> Lines:
    out: Lines = [(0, f"Multimedia Internet KEYing: {msg.data_type_name}")]
    out += _hdr(msg.hdr, 1)
    for p in msg.payloads:
        out += render_payload(p, 1, reveal)
    for u in msg.unknowns():
        out.append((1, f"[Unknown value: {u}]"))
    return out


def _hdr(h: Hdr, d: int) -> Lines:
    out: Lines = [
        (d, "Common Header (HDR)"),
        (d + 1, f"Version: {h.version}"),
        (d + 1, f"Data type: {C.DATA_TYPE.label(h.data_type)} ({h.data_type})"),
        (d + 1, f"V: {int(h.v)}"),
        (d + 1, f"PRF func: {C.PRF_FUNC.label(h.prf_func)} ({h.prf_func})"),
        (d + 1, f"CSB ID: 0x{h.csb_id:08x}"),
        (d + 1, f"#CS: {h.cs_map.n_cs}"),
        (d + 1, f"CS ID map type: {C.CS_ID_MAP_TYPE.label(h.cs_map.MAP_TYPE)}"),
    ]
    m = h.cs_map
    if isinstance(m, SrtpIdMap):
        for i, e in enumerate(m.entries, 1):
            out.append(
                (d + 2, f"SRTP-ID cs {i}: policy {e.policy_no}, SSRC 0x{e.ssrc:08x}, ROC {e.roc}")
            )
    elif isinstance(m, GenericIdMap):
        for g in m.entries:
            out += [
                (d + 2, f"GENERIC-ID CS ID {g.cs_id}"),
                (d + 3, f"Prot type: {C.PROT_TYPE.label(g.prot_type)} ({g.prot_type})"),
                (d + 3, f"S: {int(g.s)}"),
                (d + 3, f"Policies: {list(g.policies)}"),
                (d + 3, f"Session data: {g.session_data.hex() or '(empty)'}"),
                (d + 3, f"SPI: {g.spi.hex() or '(empty)'}"),
            ]
    elif isinstance(m, Ipsec4IdMap):
        for e4 in m.entries:
            out.append(
                (
                    d + 2,
                    f"IPSEC4-ID: policy {e4.policy_no}, SPI 0x{e4.spi:08x}, "
                    f"src 0x{e4.src:08x}, dst 0x{e4.dst:08x}",
                )
            )
    elif isinstance(m, EmptyMap):
        pass
    return out


def _key_data(kd: KeyData, d: int, reveal: bool) -> Lines:
    out: Lines = [
        (d, f"Key data: {C.KEY_TYPE.label(kd.key_type)} ({kd.key_type})"),
        (d + 1, f"Key: {show_key(kd.key, reveal)}"),
    ]
    if kd.salt is not None:
        out.append((d + 1, f"Salt: {show_key(kd.salt, reveal)}"))
    if isinstance(kd.kv, KvSpi):
        out.append((d + 1, f"KV SPI/MKI: {kd.kv.spi.hex()}"))
    elif isinstance(kd.kv, KvInterval):
        out.append((d + 1, f"KV interval: {kd.kv.valid_from.hex()} .. {kd.kv.valid_to.hex()}"))
    return out


def render_key_data(keys: tuple[KeyData, ...], d: int, reveal: bool) -> Lines:
    out: Lines = []
    for kd in keys:
        out += _key_data(kd, d, reveal)
    return out


def render_payload(p: Payload, d: int, reveal: bool = False) -> Lines:
    o = d + 1
    match p:
        case Kemac():
            out: Lines = [
                (d, "Key data transport (KEMAC)"),
                (o, f"Encr alg: {C.ENCR_ALG.label(p.encr_alg)} ({p.encr_alg})"),
                (o, f"Encr data len: {len(p.encr_data)}"),
            ]
            if p.encr_alg == C.ENCR_ALG["NULL"]:
                try:
                    out += render_key_data(parse_key_data(p.encr_data), o, reveal)
                except DissectError as e:
                    out.append((o, f"[Malformed key data: {e}]"))
            out += [
                (o, f"MAC alg: {C.MAC_ALG.label(p.mac_alg)} ({p.mac_alg})"),
                (o, f"MAC: {p.mac.hex()}"),
            ]
            return out
        case Pke():
            return [
                (d, "Envelope data (PKE)"),
                (o, f"C: {C.PKE_CACHE.label(p.c)}"),
                (o, f"Data len: {len(p.data)}"),
            ]
        case Dh():
            return [
                (d, "DH data (DH)"),
                (o, f"DH group: {C.DH_GROUP.label(p.group)}"),
                (o, f"DH value len: {len(p.value)}"),
            ]
        case Sign():
            return [
                (d, "Signature (SIGN)"),
                (o, f"S type: {C.S_TYPE.label(p.s_type)}"),
                (o, f"Signature len: {len(p.signature)}"),
            ]
        case T():
            return [
                (d, "Timestamp (T)"),
                (o, f"TS type: {C.TS_TYPE.label(p.ts_type)} ({p.ts_type})"),
                (o, f"TS value: {ntp_to_text(p.ts_type, p.value)} (0x{p.value:x})"),
            ]
        case Id():
            return [
                (d, "ID"),
                (o, f"ID type: {C.ID_TYPE.label(p.id_type)}"),
                (o, f"ID data: {_text(p.data)}"),
            ]
        case Cert():
            return [
                (d, "Certificate (CERT)"),
                (o, f"Cert type: {C.CERT_TYPE.label(p.cert_type)}"),
                (o, f"Cert len: {len(p.data)}"),
            ]
        case Chash():
            return [
                (d, "Cert hash (CHASH)"),
                (o, f"Hash func: {C.HASH_FUNC.label(p.hash_func)}"),
                (o, f"Hash: {p.digest.hex()}"),
            ]
        case V():
            return [
                (d, "Verification (V)"),
                (o, f"Auth alg: {C.MAC_ALG.label(p.auth_alg)} ({p.auth_alg})"),
                (o, f"Verification data: {p.data.hex()}"),
            ]
        case Sp():
            out = [
                (d, f"Security policy (SP) no {p.policy_no}"),
                (o, f"Prot type: {C.PROT_TYPE.label(p.prot_type)} ({p.prot_type})"),
            ]
            for prm in p.params:
                srtp = p.prot_type == C.SRTP_PROT_TYPE
                name = C.SRTP_PARAM.label(prm.ptype) if srtp else f"Param {prm.ptype}"
                shown = int.from_bytes(prm.value) if 0 < len(prm.value) <= 4 else prm.value.hex()
                out.append((o, f"{name}: {shown}"))
            return out
        case Rand():
            return [(d, "RAND"), (o, f"RAND len: {len(p.value)}"), (o, f"RAND: {p.value.hex()}")]
        case Err():
            return [
                (d, "Error (ERR)"),
                (o, f"Error no: {C.ERROR_NO.label(p.error_no)} ({p.error_no})"),
            ]
        case Tr():
            return [
                (d, f"Timestamp with role (TR): {C.TS_ROLE.label(p.role)}"),
                (o, f"TS type: {C.TS_TYPE.label(p.ts_type)} ({p.ts_type})"),
                (o, f"TS value: {ntp_to_text(p.ts_type, p.value)} (0x{p.value:x})"),
            ]
        case Idr():
            return [
                (d, f"ID with role (IDR): {C.ID_ROLE.label(p.role)}"),
                (o, f"ID type: {C.ID_TYPE.label(p.id_type)} ({p.id_type})"),
                (o, f"ID data: {_text(p.data)}"),
            ]
        case Randr():
            return [
                (d, f"RAND with role (RANDR): {C.RAND_ROLE.label(p.role)}"),
                (o, f"RAND: {p.value.hex()}"),
            ]
        case Tp():
            return [
                (d, "Ticket policy (TP)"),
                (o, f"Ticket type: {C.TICKET_TYPE.label(p.ticket_type)} ({p.ticket_type})"),
                (o, f"Subtype: {p.subtype}, version: {p.version}"),
                (o, f"PRF func: {C.PRF_FUNC.label(p.prf_func)}, flags: 0x{p.flags:04x}"),
                (o, f"Policy data len: {len(p.policy_data)}"),
            ]
        case Ticket():
            out = [
                (d, "Ticket (TICKET)"),
                (o, f"Ticket type: {C.TICKET_TYPE.label(p.ticket_type)} ({p.ticket_type})"),
                (o, f"Subtype: {p.subtype}, version: {p.version}"),
                (o, f"Ticket data len: {len(p.data)}"),
            ]
            return out + render_ticket_data(p.data, o, reveal)
        case GeneralExt():
            return [
                (d, "General extension"),
                (o, f"Type: {C.GEN_EXT_TYPE.label(p.ext_type)} ({p.ext_type})"),
                (o, f"Data: {p.data.hex()}"),
            ]
        case Sakke():
            return [
                (d, "SAKKE"),
                (o, f"Params: {p.params}, ID scheme: {p.id_scheme}"),
                (o, f"SAKKE data len: {len(p.data)}"),
            ]
        case Unknown():
            return [(d, f"Unknown payload {p.ptype} ({len(p.raw)} bytes kept)")]


def render_ticket_data(data: bytes, d: int, reveal: bool = False) -> Lines:
    """The ticket data's own payload chain (its first byte names the first payload)."""
    if not data:
        return []
    try:
        chain = parse_chain(data, data[0], 1, "mikey.ticket")
    except DissectError as e:
        return [(d, f"[Ticket data not a payload chain: {e}]")]
    out: Lines = [(d, "Ticket data")]
    for p in chain:
        out += render_payload(p, d + 1, reveal)
    return out
