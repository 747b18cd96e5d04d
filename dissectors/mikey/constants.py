"""MIKEY (RFC 3830) and MIKEY-TICKET (RFC 6043) value tables, one per field.

``verified=True`` values were checked against an independent source; ``verified=False``
values are the mikeyshark profile's adopted choices (docs/profile.md) and are the ones to
correct once the RFC 6043 / TS 33.328 text is at hand.
"""

from __future__ import annotations

from mikeyshark.dissectors.consts import Const, ValueTable

RFC3830 = "RFC 3830"
RFC4563 = "RFC 4563"
RFC6043 = "RFC 6043"
RFC6509 = "RFC 6509"
PROFILE = "mikeyshark profile 1 (docs/profile.md)"
UDP_PORT = 2269  # MIKEY on its own (IANA "mikey", RFC 3830 section 10); in SIP it rides the SDP

VERSION = 1

DATA_TYPE = ValueTable(
    "data type",
    [
        Const(0, "Pre-shared", RFC3830),
        Const(1, "PSK verification", RFC3830),
        Const(2, "Public key", RFC3830),
        Const(3, "PK verification", RFC3830),
        Const(4, "D-H init", RFC3830),
        Const(5, "D-H response", RFC3830),
        Const(6, "Error", RFC3830),
        Const(7, "DHHMAC init", "RFC 4650"),
        Const(8, "DHHMAC response", "RFC 4650"),
        Const(9, "RSA-R I_MESSAGE", "RFC 4738"),
        Const(10, "RSA-R R_MESSAGE", "RFC 4738"),
        Const(11, "REQUEST_INIT_PSK", PROFILE, verified=False),
        Const(12, "REQUEST_INIT_PK", PROFILE, verified=False),
        Const(13, "REQUEST_RESP", PROFILE, verified=False),
        Const(14, "TRANSFER_INIT", PROFILE, verified=False),
        Const(15, "TRANSFER_RESP", PROFILE, verified=False),
        Const(16, "RESOLVE_INIT_PSK", PROFILE, verified=False),
        Const(17, "RESOLVE_INIT_PK", PROFILE, verified=False),
        Const(18, "RESOLVE_RESP", PROFILE, verified=False),
        Const(26, "SAKKE", RFC6509),
        Const(27, "CS ID map update", "3GPP (Wireshark label)"),
    ],
)

PAYLOAD_TYPE = ValueTable(
    "next payload",
    [
        Const(0, "Last payload", RFC3830),
        Const(1, "KEMAC", RFC3830),
        Const(2, "PKE", RFC3830),
        Const(3, "DH", RFC3830),
        Const(4, "SIGN", RFC3830),
        Const(5, "T", RFC3830),
        Const(6, "ID", RFC3830),
        Const(7, "CERT", RFC3830),
        Const(8, "CHASH", RFC3830),
        Const(9, "V", RFC3830),
        Const(10, "SP", RFC3830),
        Const(11, "RAND", RFC3830),
        Const(12, "ERR", RFC3830),
        Const(13, "TR", RFC6043),
        Const(14, "IDR", RFC6043),
        Const(15, "RANDR", RFC6043),
        Const(16, "TP", RFC6043),
        Const(17, "TICKET", RFC6043),
        Const(20, "Key data", RFC3830),
        Const(21, "General Extension", RFC3830),
        Const(26, "SAKKE", RFC6509),
    ],
)

PRF_FUNC = ValueTable(
    "PRF func",
    [
        Const(0, "MIKEY-1", RFC3830),
        Const(1, "PRF-HMAC-SHA-256", RFC6043),
    ],
)

CS_ID_MAP_TYPE = ValueTable(
    "CS ID map type",
    [
        Const(0, "SRTP-ID", RFC3830),
        Const(1, "Empty map", RFC4563),
        Const(2, "GENERIC-ID", RFC6043),
        Const(7, "IPSEC4-ID", "minisip MikeyCsIdMap / Kapsch CsIdMapType"),
    ],
)

# "TLS" is the profile's value; a key file's [profile] tls_prot_type may override it.
PROT_TYPE = ValueTable(
    "Prot type",
    [
        Const(0, "SRTP", RFC3830),
        Const(2, "TLS", PROFILE, verified=False),
    ],
)

ENCR_ALG = ValueTable(
    "KEMAC encr alg",
    [
        Const(0, "NULL", RFC3830),
        Const(1, "AES-CM-128", RFC3830),
        Const(2, "AES-KW-128", RFC3830),
        Const(3, "AES-CM-256", PROFILE, verified=False),
    ],
)

MAC_ALG = ValueTable(
    "MAC alg",
    [
        Const(0, "NULL", RFC3830),
        Const(1, "HMAC-SHA-1-160", RFC3830),
        Const(2, "HMAC-SHA-256-256", PROFILE, verified=False),
    ],
)

# Bytes of MAC / verification data per MAC alg.
MAC_LEN: dict[int, int] = {0: 0, 1: 20, 2: 32}

# Bytes of session key per KEMAC encr alg.
ENCR_KEY_LEN: dict[int, int] = {0: 0, 1: 16, 2: 16, 3: 32}

KEY_TYPE = ValueTable(
    "key data type",
    [
        Const(0, "TGK", RFC3830),
        Const(1, "TGK+SALT", RFC3830),
        Const(2, "TEK", RFC3830),
        Const(3, "TEK+SALT", RFC3830),
        Const(4, "MPK", PROFILE, verified=False),
        Const(5, "GTGK", PROFILE, verified=False),
    ],
)

KEY_TYPES_WITH_SALT = frozenset({1, 3})

KV_TYPE = ValueTable(
    "KV type",
    [
        Const(0, "Null", RFC3830),
        Const(1, "SPI/MKI", RFC3830),
        Const(2, "Interval", RFC3830),
    ],
)

TS_TYPE = ValueTable(
    "TS type",
    [
        Const(0, "NTP-UTC", RFC3830),
        Const(1, "NTP", RFC3830),
        Const(2, "COUNTER", RFC3830),
        Const(3, "NTP-UTC-32", RFC6043),
    ],
)

TS_LEN: dict[int, int] = {0: 8, 1: 8, 2: 4, 3: 4}

ID_TYPE = ValueTable(
    "ID type",
    [
        Const(0, "NAI", RFC3830),
        Const(1, "URI", RFC3830),
        Const(2, "Byte string", RFC6043),
    ],
)

ID_ROLE = ValueTable(
    "ID role",
    [
        Const(0, "Reserved", RFC6043),
        Const(1, "Initiator (IDRi)", RFC6043),
        Const(2, "Responder (IDRr)", RFC6043),
        Const(3, "KMS (IDRkms)", RFC6043),
        Const(4, "Pre-shared key (IDRpsk)", RFC6043),
        Const(5, "Application (IDRapp)", RFC6043),
        Const(6, "Initiator's KMS (IDRkmsi)", RFC6509),
        Const(7, "Responder's KMS (IDRkmsr)", RFC6509),
    ],
)

# RANDR roles share the IDR code space (docs/profile.md, numbers).
RAND_ROLE = ValueTable(
    "RAND role",
    [
        Const(1, "Initiator (RANDRi)", PROFILE, verified=False),
        Const(2, "Responder (RANDRr)", PROFILE, verified=False),
        Const(3, "KMS (RANDRkms)", PROFILE, verified=False),
    ],
)

TS_ROLE = ValueTable(
    "TS role",
    [
        Const(1, "Time of issue", PROFILE, verified=False),
        Const(2, "Start of validity", PROFILE, verified=False),
        Const(3, "End of validity", PROFILE, verified=False),
        Const(4, "Rekeying interval", PROFILE, verified=False),
    ],
)

TICKET_TYPE = ValueTable(
    "ticket type",
    [
        Const(1, "MIKEY base ticket", PROFILE, verified=False),
    ],
)
BASE_TICKET_SUBTYPE = 0
BASE_TICKET_VERSION = 1

CERT_TYPE = ValueTable(
    "cert type",
    [
        Const(0, "X.509v3", RFC3830),
        Const(1, "X.509v3 URL", RFC3830),
        Const(2, "X.509v3 Sign", RFC3830),
        Const(3, "X.509v3 Encr", RFC3830),
    ],
)

HASH_FUNC = ValueTable(
    "hash func",
    [
        Const(0, "SHA-1", RFC3830),
        Const(1, "MD5", RFC3830),
    ],
)
HASH_LEN: dict[int, int] = {0: 20, 1: 16}

DH_GROUP = ValueTable(
    "DH group",
    [
        Const(0, "OAKLEY 5", RFC3830),
        Const(1, "OAKLEY 1", RFC3830),
        Const(2, "OAKLEY 2", RFC3830),
    ],
)
DH_VALUE_LEN: dict[int, int] = {0: 192, 1: 96, 2: 128}

S_TYPE = ValueTable(
    "signature type",
    [
        Const(0, "RSA/PKCS#1/1.5", RFC3830),
        Const(1, "RSA/PSS", RFC3830),
        Const(2, "ECCSI", RFC6509),
    ],
)

PKE_CACHE = ValueTable(
    "PKE C",
    [
        Const(0, "No cache", RFC3830),
        Const(1, "Cache", RFC3830),
        Const(2, "Cache for CSB", RFC3830),
    ],
)

ERROR_NO = ValueTable(
    "error no",
    [
        Const(0, "Auth failure", RFC3830),
        Const(1, "Invalid TS", RFC3830),
        Const(2, "Invalid PRF", RFC3830),
        Const(3, "Invalid MAC", RFC3830),
        Const(4, "Invalid EA", RFC3830),
        Const(5, "Invalid HA", RFC3830),
        Const(6, "Invalid DH", RFC3830),
        Const(7, "Invalid ID", RFC3830),
        Const(8, "Invalid Cert", RFC3830),
        Const(9, "Invalid SP", RFC3830),
        Const(10, "Invalid SPpar", RFC3830),
        Const(11, "Invalid DT", RFC3830),
        Const(12, "Unspecified error", RFC3830),
    ],
)

GEN_EXT_TYPE = ValueTable(
    "general extension type",
    [
        Const(0, "Vendor ID", RFC3830),
        Const(1, "SDP IDs", RFC3830),
    ],
)

SRTP_PARAM = ValueTable(
    "SRTP policy param",
    [
        Const(0, "Encryption algorithm", RFC3830),
        Const(1, "Session Encr. key length", RFC3830),
        Const(2, "Authentication algorithm", RFC3830),
        Const(3, "Session Auth. key length", RFC3830),
        Const(4, "Session Salt key length", RFC3830),
        Const(5, "SRTP Pseudo Random Function", RFC3830),
        Const(6, "Key derivation rate", RFC3830),
        Const(7, "SRTP encryption", RFC3830),
        Const(8, "SRTCP encryption", RFC3830),
        Const(9, "Sender's FEC order", RFC3830),
        Const(10, "SRTP authentication", RFC3830),
        Const(11, "Authentication tag length", RFC3830),
        Const(12, "SRTP prefix length", RFC3830),
        Const(20, "AEAD auth tag length", "RFC 7714 / TS 33.179"),
    ],
)

# SRTP policy params whose value is a single octet (Wireshark packet-mikey.c: FT_UINT8 fields).
SRTP_PARAM_ONE_OCTET = frozenset(range(13))
SRTP_PROT_TYPE = PROT_TYPE["SRTP"]  # the prot type whose params SRTP_PARAM names

# Key-derivation constants (RFC 3830 4.1.3 / 4.1.4): successive 9-digit chunks of e.
CONST_TEK = Const(0x2AD01C64, "TEK", RFC3830)
CONST_AUTH = Const(0x1B5C7973, "authentication key", RFC3830)
CONST_ENCR = Const(0x15798CEF, "encryption key", RFC3830)
CONST_SALT = Const(0x39A2C14B, "salting key", RFC3830)
CONST_TRANSPORT_ENCR = Const(0x150533E1, "transport encr_key", RFC3830)
CONST_TRANSPORT_SALT = Const(0x29B88916, "transport salt_key", RFC3830)
CONST_TRANSPORT_AUTH = Const(0x2D22AC75, "transport auth_key", RFC3830)
TRANSPORT_CS_ID = 0xFF

# docs/profile.md, TEK, PSK and identities: TEK (TLS PSK) length in bytes.
TEK_LEN = Const(16, "TEK length", PROFILE, verified=False)
