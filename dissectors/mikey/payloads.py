"""MIKEY payloads as frozen dataclasses, with the parser and builder of each one.

RFC 3830 payloads carry no generic length: every payload's end follows from its own layout,
and each one names the type of the payload after it (``next payload``). The chain walker in
:mod:`mikeyshark.dissectors.mikey.message` owns that byte: a dataclass here holds only the payload's
own fields, so a message can be rearranged without patching neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey import constants as C

LAYER = "mikey"


# --- KV data (Key validity), shared by Key data sub-payloads and DH ---------------------


@dataclass(frozen=True, slots=True)
class KvSpi:
    """KV type 1: the SPI/MKI the key is used with."""

    KV_TYPE: ClassVar[int] = C.KV_TYPE["SPI/MKI"]
    spi: bytes


@dataclass(frozen=True, slots=True)
class KvInterval:
    """KV type 2: the key is valid from ``valid_from`` to ``valid_to`` (e.g. SRTP index)."""

    KV_TYPE: ClassVar[int] = C.KV_TYPE["Interval"]
    valid_from: bytes
    valid_to: bytes


Kv = KvSpi | KvInterval | None
_KV_NULL = C.KV_TYPE["Null"]


def kv_type(kv: Kv) -> int:
    return _KV_NULL if kv is None else kv.KV_TYPE


def _parse_kv(r: Reader, kind: int) -> Kv:
    if kind == _KV_NULL:
        return None
    if kind == KvSpi.KV_TYPE:
        return KvSpi(r.take(r.u8("spi_len"), "spi"))
    if kind == KvInterval.KV_TYPE:
        vf = r.take(r.u8("vf_len"), "valid_from")
        return KvInterval(vf, r.take(r.u8("vt_len"), "valid_to"))
    raise r.error(f"unknown KV type {kind}: length of the KV data unknown", "kv")


def _build_kv(w: Writer, kv: Kv) -> None:
    if isinstance(kv, KvSpi):
        w.u8(len(kv.spi)).raw(kv.spi)
    elif isinstance(kv, KvInterval):
        w.u8(len(kv.valid_from)).raw(kv.valid_from).u8(len(kv.valid_to)).raw(kv.valid_to)


# --- HDR and its CS ID maps --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SrtpIdEntry:
    policy_no: int
    ssrc: int
    roc: int


@dataclass(frozen=True, slots=True)
class GenericIdEntry:
    """RFC 6043 6.1.1 GENERIC-ID entry: the CS ID is explicit and used in key derivation."""

    cs_id: int
    prot_type: int
    s: bool
    policies: tuple[int, ...]
    session_data: bytes = b""
    spi: bytes = b""


@dataclass(frozen=True, slots=True)
class Ipsec4IdEntry:
    policy_no: int
    spi: int
    src: int
    dst: int


@dataclass(frozen=True, slots=True)
class SrtpIdMap:
    MAP_TYPE: ClassVar[int] = C.CS_ID_MAP_TYPE["SRTP-ID"]
    entries: tuple[SrtpIdEntry, ...]

    @property
    def n_cs(self) -> int:
        return len(self.entries)


@dataclass(frozen=True, slots=True)
class EmptyMap:
    """RFC 4563 empty map: #CS stands alone (0 is allowed)."""

    MAP_TYPE: ClassVar[int] = C.CS_ID_MAP_TYPE["Empty map"]
    n_cs: int = 0


@dataclass(frozen=True, slots=True)
class GenericIdMap:
    MAP_TYPE: ClassVar[int] = C.CS_ID_MAP_TYPE["GENERIC-ID"]
    entries: tuple[GenericIdEntry, ...]

    @property
    def n_cs(self) -> int:
        return len(self.entries)


@dataclass(frozen=True, slots=True)
class Ipsec4IdMap:
    MAP_TYPE: ClassVar[int] = C.CS_ID_MAP_TYPE["IPSEC4-ID"]
    entries: tuple[Ipsec4IdEntry, ...]

    @property
    def n_cs(self) -> int:
        return len(self.entries)


CsIdMap = SrtpIdMap | EmptyMap | GenericIdMap | Ipsec4IdMap


@dataclass(frozen=True, slots=True)
class Hdr:
    data_type: int
    csb_id: int
    cs_map: CsIdMap
    v: bool = False
    prf_func: int = 0
    version: int = C.VERSION

    def cs_ids(self) -> tuple[int, ...]:
        """The cs_id of each crypto session as key derivation uses it.

        GENERIC-ID names it; the other maps number the sessions from 1 in map order
        (minisip ``findCsId``).
        """
        if isinstance(self.cs_map, GenericIdMap):
            return tuple(e.cs_id for e in self.cs_map.entries)
        return tuple(range(1, self.cs_map.n_cs + 1))


def parse_hdr(r: Reader) -> tuple[Hdr, int]:
    version = r.u8("version")
    data_type = r.u8("data_type")
    nxt = r.u8("next_payload")
    vp = r.u8("v_prf")
    csb_id = r.u32("csb_id")
    n_cs = r.u8("n_cs")
    map_type = r.u8("cs_id_map_type")
    cs_map: CsIdMap
    if map_type == SrtpIdMap.MAP_TYPE:
        cs_map = SrtpIdMap(
            tuple(SrtpIdEntry(r.u8("policy_no"), r.u32("ssrc"), r.u32("roc")) for _ in range(n_cs))
        )
    elif map_type == EmptyMap.MAP_TYPE:
        cs_map = EmptyMap(n_cs)
    elif map_type == GenericIdMap.MAP_TYPE:
        cs_map = GenericIdMap(tuple(_parse_generic_entry(r) for _ in range(n_cs)))
    elif map_type == Ipsec4IdMap.MAP_TYPE:
        cs_map = Ipsec4IdMap(
            tuple(
                Ipsec4IdEntry(r.u8("policy_no"), r.u32("spi"), r.u32("src"), r.u32("dst"))
                for _ in range(n_cs)
            )
        )
    else:
        raise r.error(f"unknown CS ID map type {map_type}: map length unknown", "cs_id_map_type")
    hdr = Hdr(data_type, csb_id, cs_map, bool(vp & 0x80), vp & 0x7F, version)
    return hdr, nxt


def _parse_generic_entry(r: Reader) -> GenericIdEntry:
    cs_id = r.u8("cs_id")
    prot = r.u8("prot_type")
    sp = r.u8("s_np")
    policies = tuple(r.u8("policy") for _ in range(sp & 0x7F))
    session_data = r.take(r.u16("session_data_len"), "session_data")
    spi = r.take(r.u8("spi_len"), "spi")
    return GenericIdEntry(cs_id, prot, bool(sp & 0x80), policies, session_data, spi)


def build_hdr(w: Writer, h: Hdr, nxt: int) -> None:
    if not 0 <= h.prf_func <= 0x7F:
        raise ValueError(f"PRF func {h.prf_func} does not fit in 7 bits")
    w.u8(h.version).u8(h.data_type).u8(nxt).u8((0x80 if h.v else 0) | h.prf_func)
    w.u32(h.csb_id).u8(h.cs_map.n_cs).u8(h.cs_map.MAP_TYPE)
    m = h.cs_map
    if isinstance(m, SrtpIdMap):
        for e in m.entries:
            w.u8(e.policy_no).u32(e.ssrc).u32(e.roc)
    elif isinstance(m, GenericIdMap):
        for g in m.entries:
            if len(g.policies) > 0x7F:
                raise ValueError("GENERIC-ID #P does not fit in 7 bits")
            w.u8(g.cs_id).u8(g.prot_type).u8((0x80 if g.s else 0) | len(g.policies))
            for p in g.policies:
                w.u8(p)
            w.u16(len(g.session_data)).raw(g.session_data).u8(len(g.spi)).raw(g.spi)
    elif isinstance(m, Ipsec4IdMap):
        for i in m.entries:
            w.u8(i.policy_no).u32(i.spi).u32(i.src).u32(i.dst)


# --- Key data sub-payload (inside KEMAC / PKE encrypted data) ----------------------------


@dataclass(frozen=True, slots=True)
class KeyData:
    key_type: int
    key: bytes
    salt: bytes | None = None  # present exactly for TGK+SALT and TEK+SALT
    kv: Kv = None


def parse_key_data(data: bytes, layer: str = "mikey.keydata") -> tuple[KeyData, ...]:
    """The Key data chain of a decrypted KEMAC: 20 announces another sub-payload, 0 ends it."""
    r = Reader(data, layer)
    out: list[KeyData] = []
    while True:
        start = r.pos
        nxt = r.u8("next_payload")
        tk = r.u8("type_kv")
        ktype, kvt = tk >> 4, tk & 0x0F
        key = r.take(r.u16("key_len"), "key")
        salt = r.take(r.u16("salt_len"), "salt") if ktype in C.KEY_TYPES_WITH_SALT else None
        out.append(KeyData(ktype, key, salt, _parse_kv(r, kvt)))
        if nxt == 0:
            break
        if nxt != 20:
            raise DissectError(
                layer, start, f"announces payload {nxt}, not Key data (20) or 0", "next_payload"
            )
    if not r.eof():
        raise r.error(f"{r.remaining} bytes after the last key data sub-payload")
    return tuple(out)


def build_key_data(keys: tuple[KeyData, ...] | list[KeyData]) -> bytes:
    if not keys:
        raise ValueError("a key data chain needs at least one sub-payload")
    w = Writer()
    for i, k in enumerate(keys):
        if (k.salt is not None) != (k.key_type in C.KEY_TYPES_WITH_SALT):
            need = "needs" if k.salt is None else "has no"
            raise ValueError(f"key type {k.key_type} {need} salt")
        if not 0 <= k.key_type <= 15:
            raise ValueError(f"key type {k.key_type} does not fit in 4 bits")
        w.u8(20 if i + 1 < len(keys) else 0).u8((k.key_type << 4) | kv_type(k.kv))
        w.u16(len(k.key)).raw(k.key)
        if k.salt is not None:
            w.u16(len(k.salt)).raw(k.salt)
        _build_kv(w, k.kv)
    return w.getvalue()


# --- Payloads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kemac:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["KEMAC"]
    encr_alg: int
    encr_data: bytes
    mac_alg: int
    mac: bytes

    def key_data(self) -> tuple[KeyData, ...]:
        """The key data chain; only readable as is when the encryption is NULL."""
        if self.encr_alg != 0:
            raise ValueError(
                "KEMAC is encrypted: decrypt it with mikeyshark.dissectors.mikey.crypto"
            )
        return parse_key_data(self.encr_data)


@dataclass(frozen=True, slots=True)
class Pke:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["PKE"]
    c: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Dh:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["DH"]
    group: int
    value: bytes
    kv: Kv = None
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class Sign:
    """Always the last payload and, unlike all others, without a next-payload byte."""

    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["SIGN"]
    s_type: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class T:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["T"]
    ts_type: int
    value: int

    @property
    def value_bytes(self) -> bytes:
        return self.value.to_bytes(C.TS_LEN[self.ts_type], "big")


NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (the NTP epoch) to 1970-01-01


def ntp64_from_unix_ns(ns: int) -> int:
    """The 64-bit NTP timestamp (TS types NTP-UTC and NTP, ticket times) of a Unix time."""
    sec, frac_ns = divmod(ns, 1_000_000_000)
    return ((sec + NTP_UNIX_OFFSET) << 32) | ((frac_ns << 32) // 1_000_000_000)


def ntp64_to_unix_ns(v: int) -> int:
    """The Unix time in nanoseconds of a 64-bit NTP timestamp."""
    return ((v >> 32) - NTP_UNIX_OFFSET) * 1_000_000_000 + ((v & 0xFFFFFFFF) * 1_000_000_000 >> 32)


@dataclass(frozen=True, slots=True)
class Id:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["ID"]
    id_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Cert:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["CERT"]
    cert_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Chash:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["CHASH"]
    hash_func: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class V:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["V"]
    auth_alg: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SpParam:
    ptype: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Sp:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["SP"]
    policy_no: int
    prot_type: int
    params: tuple[SpParam, ...] = ()


@dataclass(frozen=True, slots=True)
class Rand:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["RAND"]
    value: bytes


@dataclass(frozen=True, slots=True)
class Err:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["ERR"]
    error_no: int
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class Tr:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["TR"]
    role: int
    ts_type: int
    value: int

    @property
    def value_bytes(self) -> bytes:
        return self.value.to_bytes(C.TS_LEN[self.ts_type], "big")


@dataclass(frozen=True, slots=True)
class Idr:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["IDR"]
    role: int
    id_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Randr:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["RANDR"]
    role: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Tp:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["TP"]
    ticket_type: int
    subtype: int
    version: int
    prf_func: int
    flags: int
    policy_data: bytes = b""


@dataclass(frozen=True, slots=True)
class Ticket:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["TICKET"]
    ticket_type: int
    subtype: int
    version: int
    data: bytes


@dataclass(frozen=True, slots=True)
class GeneralExt:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["General Extension"]
    ext_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Sakke:
    PTYPE: ClassVar[int] = C.PAYLOAD_TYPE["SAKKE"]
    params: int
    id_scheme: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Unknown:
    """A payload type we cannot size: its bytes (from its first byte) run to the end.

    ``offset`` (where it started in the parsed buffer) is for reports only; it takes no
    part in equality, so a rebuilt message compares equal.
    """

    ptype: int
    raw: bytes
    offset: int = field(default=0, compare=False)


Payload = (
    Kemac
    | Pke
    | Dh
    | Sign
    | T
    | Id
    | Cert
    | Chash
    | V
    | Sp
    | Rand
    | Err
    | Tr
    | Idr
    | Randr
    | Tp
    | Ticket
    | GeneralExt
    | Sakke
    | Unknown
)


def payload_type(p: Payload) -> int:
    return p.ptype if isinstance(p, Unknown) else p.PTYPE


def _sized(r: Reader, table: dict[int, int], alg: int, what: str) -> bytes:
    """Data whose length follows from an algorithm number (a MAC, a hash)."""
    n = table.get(alg)
    if n is None:
        raise r.error(f"unknown {what} algorithm {alg}: length unknown", what)
    return r.take(n, what)


def _parse_ts(r: Reader, ts_type: int) -> int:
    n = C.TS_LEN.get(ts_type)
    if n is None:
        raise r.error(f"unknown TS type {ts_type}: timestamp length unknown", "ts_type")
    return r.u64("ts_value") if n == 8 else r.u32("ts_value")


def parse_payload(ptype: int, r: Reader) -> tuple[Payload, int]:
    """One payload of type ``ptype`` at the reader's position; returns it and its next type."""
    if ptype == Sign.PTYPE:
        b = r.u16("s_type_len")
        return Sign(b >> 12, r.take(b & 0x0FFF, "signature")), 0
    if ptype not in _PARSERS:
        at = r.pos
        return Unknown(ptype, r.rest(), at), 0
    nxt = r.u8("next_payload")
    return _PARSERS[ptype](r), nxt


def _p_kemac(r: Reader) -> Payload:
    ea = r.u8("encr_alg")
    data = r.take(r.u16("encr_data_len"), "encr_data")
    ma = r.u8("mac_alg")
    return Kemac(ea, data, ma, _sized(r, C.MAC_LEN, ma, "mac"))


def _p_pke(r: Reader) -> Payload:
    b = r.u16("c_data_len")
    return Pke(b >> 14, r.take(b & 0x3FFF, "data"))


def _p_dh(r: Reader) -> Payload:
    group = r.u8("dh_group")
    n = C.DH_VALUE_LEN.get(group)
    if n is None:
        raise r.error(f"unknown DH group {group}: DH value length unknown", "dh_group")
    value = r.take(n, "dh_value")
    b = r.u8("reserved_kv")
    return Dh(group, value, _parse_kv(r, b & 0x0F), b >> 4)


def _p_t(r: Reader) -> Payload:
    ts_type = r.u8("ts_type")
    return T(ts_type, _parse_ts(r, ts_type))


def _p_id(r: Reader) -> Payload:
    t = r.u8("id_type")
    return Id(t, r.take(r.u16("id_len"), "id_data"))


def _p_cert(r: Reader) -> Payload:
    t = r.u8("cert_type")
    return Cert(t, r.take(r.u16("cert_len"), "cert_data"))


def _p_chash(r: Reader) -> Payload:
    f = r.u8("hash_func")
    return Chash(f, _sized(r, C.HASH_LEN, f, "hash"))


def _p_v(r: Reader) -> Payload:
    a = r.u8("auth_alg")
    return V(a, _sized(r, C.MAC_LEN, a, "verification_data"))


def _p_sp(r: Reader) -> Payload:
    no = r.u8("policy_no")
    prot = r.u8("prot_type")
    pr = r.sub(r.u16("policy_param_len"), "policy_params")
    params: list[SpParam] = []
    while not pr.eof():
        t = pr.u8("param_type")
        n = pr.u8("param_len")
        if prot == C.SRTP_PROT_TYPE and t in C.SRTP_PARAM_ONE_OCTET and n != 1:
            pr.pos -= 1
            raise pr.error(f"SRTP policy param {t} holds one octet, length says {n}", "param_len")
        params.append(SpParam(t, pr.take(n, "param_value")))
    return Sp(no, prot, tuple(params))


def _p_rand(r: Reader) -> Payload:
    return Rand(r.take(r.u8("rand_len"), "rand"))


def _p_err(r: Reader) -> Payload:
    return Err(r.u8("error_no"), r.u16("reserved"))


def _p_tr(r: Reader) -> Payload:
    role = r.u8("ts_role")
    ts_type = r.u8("ts_type")
    return Tr(role, ts_type, _parse_ts(r, ts_type))


def _p_idr(r: Reader) -> Payload:
    role = r.u8("id_role")
    t = r.u8("id_type")
    return Idr(role, t, r.take(r.u16("id_len"), "id_data"))


def _p_randr(r: Reader) -> Payload:
    role = r.u8("rand_role")
    return Randr(role, r.take(r.u8("rand_len"), "rand"))


def _p_tp(r: Reader) -> Payload:
    tt = r.u16("ticket_type")
    st = r.u8("subtype")
    ver = r.u8("version")
    prf = r.u8("prf_func")
    flags = r.u16("flags")
    return Tp(tt, st, ver, prf, flags, r.take(r.u16("policy_data_len"), "policy_data"))


def _p_ticket(r: Reader) -> Payload:
    tt = r.u16("ticket_type")
    st = r.u8("subtype")
    ver = r.u8("version")
    return Ticket(tt, st, ver, r.take(r.u16("ticket_data_len"), "ticket_data"))


def _p_genext(r: Reader) -> Payload:
    t = r.u8("ext_type")
    return GeneralExt(t, r.take(r.u16("ext_len"), "ext_data"))


def _p_sakke(r: Reader) -> Payload:
    params = r.u8("sakke_params")
    scheme = r.u8("id_scheme")
    return Sakke(params, scheme, r.take(r.u16("sakke_data_len"), "sakke_data"))


_PARSERS = {
    Kemac.PTYPE: _p_kemac,
    Pke.PTYPE: _p_pke,
    Dh.PTYPE: _p_dh,
    T.PTYPE: _p_t,
    Id.PTYPE: _p_id,
    Cert.PTYPE: _p_cert,
    Chash.PTYPE: _p_chash,
    V.PTYPE: _p_v,
    Sp.PTYPE: _p_sp,
    Rand.PTYPE: _p_rand,
    Err.PTYPE: _p_err,
    Tr.PTYPE: _p_tr,
    Idr.PTYPE: _p_idr,
    Randr.PTYPE: _p_randr,
    Tp.PTYPE: _p_tp,
    Ticket.PTYPE: _p_ticket,
    GeneralExt.PTYPE: _p_genext,
    Sakke.PTYPE: _p_sakke,
}


def _ts(w: Writer, ts_type: int, value: int) -> None:
    n = C.TS_LEN.get(ts_type)
    if n is None:
        raise ValueError(f"unknown TS type {ts_type}")
    w.u64(value) if n == 8 else w.u32(value)


def _fixed(data: bytes, table: dict[int, int], alg: int, what: str) -> bytes:
    n = table.get(alg)
    if n is not None and n != len(data):
        raise ValueError(f"{what} alg {alg} needs {n} bytes, got {len(data)}")
    return data


def build_payload(w: Writer, p: Payload, nxt: int) -> None:
    """Write ``p`` announcing ``nxt`` as the payload after it."""
    if isinstance(p, Unknown):
        w.raw(p.raw)
        return
    if isinstance(p, Sign):
        if not 0 <= p.s_type <= 15 or len(p.signature) > 0x0FFF:
            raise ValueError("SIGN type or length out of range")
        w.u16((p.s_type << 12) | len(p.signature)).raw(p.signature)
        return
    w.u8(nxt)
    match p:
        case Kemac():
            w.u8(p.encr_alg).u16(len(p.encr_data)).raw(p.encr_data).u8(p.mac_alg)
            w.raw(_fixed(p.mac, C.MAC_LEN, p.mac_alg, "MAC"))
        case Pke():
            if not 0 <= p.c <= 3 or len(p.data) > 0x3FFF:
                raise ValueError("PKE C or data length out of range")
            w.u16((p.c << 14) | len(p.data)).raw(p.data)
        case Dh():
            w.u8(p.group).raw(_fixed(p.value, C.DH_VALUE_LEN, p.group, "DH group"))
            w.u8((p.reserved << 4) | kv_type(p.kv))
            _build_kv(w, p.kv)
        case T():
            w.u8(p.ts_type)
            _ts(w, p.ts_type, p.value)
        case Id():
            w.u8(p.id_type).u16(len(p.data)).raw(p.data)
        case Cert():
            w.u8(p.cert_type).u16(len(p.data)).raw(p.data)
        case Chash():
            w.u8(p.hash_func).raw(_fixed(p.digest, C.HASH_LEN, p.hash_func, "hash"))
        case V():
            w.u8(p.auth_alg).raw(_fixed(p.data, C.MAC_LEN, p.auth_alg, "auth"))
        case Sp():
            pw = Writer()
            for prm in p.params:
                if (
                    p.prot_type == C.SRTP_PROT_TYPE
                    and prm.ptype in C.SRTP_PARAM_ONE_OCTET
                    and len(prm.value) != 1
                ):
                    raise ValueError(f"SRTP policy param {prm.ptype} holds one octet")
                pw.u8(prm.ptype).u8(len(prm.value)).raw(prm.value)
            params = pw.getvalue()
            w.u8(p.policy_no).u8(p.prot_type).u16(len(params)).raw(params)
        case Rand():
            w.u8(len(p.value)).raw(p.value)
        case Err():
            w.u8(p.error_no).u16(p.reserved)
        case Tr():
            w.u8(p.role).u8(p.ts_type)
            _ts(w, p.ts_type, p.value)
        case Idr():
            w.u8(p.role).u8(p.id_type).u16(len(p.data)).raw(p.data)
        case Randr():
            w.u8(p.role).u8(len(p.value)).raw(p.value)
        case Tp():
            w.u16(p.ticket_type).u8(p.subtype).u8(p.version).u8(p.prf_func).u16(p.flags)
            w.u16(len(p.policy_data)).raw(p.policy_data)
        case Ticket():
            w.u16(p.ticket_type).u8(p.subtype).u8(p.version).u16(len(p.data)).raw(p.data)
        case GeneralExt():
            w.u8(p.ext_type).u16(len(p.data)).raw(p.data)
        case Sakke():
            w.u8(p.params).u8(p.id_scheme).u16(len(p.data)).raw(p.data)
