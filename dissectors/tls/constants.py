"""TLS value tables: cipher suites with their record-protection parameters, content,
handshake and extension types, alerts, versions (RFC 5246, 4279, 8446).

Each suite row carries every fact the key schedule and the record layer need, so that a
suite is described in exactly one place.  Codes were checked against tshark 4.0.17's
``tls.handshake.ciphersuite`` value table (``tshark -G values``) and OpenSSL 3.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mikeyshark.dissectors.consts import Const, ValueTable


class Kx(StrEnum):
    """Key exchange family: decides whether the PSK alone gives the premaster."""

    PSK = "PSK"
    DHE_PSK = "DHE_PSK"
    ECDHE_PSK = "ECDHE_PSK"
    RSA_PSK = "RSA_PSK"
    TLS13 = "TLS13"  # TLS 1.3 suites name only the AEAD and hash
    # certificate key exchanges (SIP over TLS): decryptable only with a key log
    RSA = "RSA"
    DHE_RSA = "DHE_RSA"
    ECDHE_RSA = "ECDHE_RSA"
    ECDHE_ECDSA = "ECDHE_ECDSA"


class Mode(StrEnum):
    NULL = "NULL"
    STREAM = "STREAM"  # RC4
    CBC = "CBC"
    GCM = "GCM"
    CCM = "CCM"
    CCM_8 = "CCM_8"
    CHACHA20_POLY1305 = "CHACHA20_POLY1305"


AEAD_MODES = frozenset({Mode.GCM, Mode.CCM, Mode.CCM_8, Mode.CHACHA20_POLY1305})


@dataclass(frozen=True, slots=True)
class CipherSuite:
    code: int
    name: str
    kx: Kx
    cipher: str  # "AES", "3DES", "RC4", "CHACHA20" or "NULL"
    mode: Mode
    key_len: int
    fixed_iv_len: int  # key-block IV bytes for TLS 1.1/1.2 (CBC: 0; GCM/CCM: 4; ChaCha: 12)
    block_len: int  # cipher block size for CBC (and the TLS 1.0 implicit IV length)
    mac: str | None  # HMAC hash for non-AEAD suites
    mac_len: int
    prf: str  # TLS 1.2 PRF hash / TLS 1.3 HKDF hash
    tag_len: int  # AEAD tag length (0 otherwise)
    rfc: str

    @property
    def aead(self) -> bool:
        return self.mode in AEAD_MODES

    @property
    def psk_only(self) -> bool:
        """True when the PSK alone determines the keys (passively decryptable)."""
        return self.kx in (Kx.PSK, Kx.TLS13)


_MAC_LEN = {"SHA1": 20, "SHA256": 32, "SHA384": 48}


def _suite(code: int, name: str, rfc: str) -> CipherSuite:
    """Derive a suite's parameters from its registered name (one rule, no hand copying)."""
    if name.startswith("TLS_") and "_WITH_" not in name:
        kx = Kx.TLS13
        body = name[4:]
    else:
        left, body = name[4:].split("_WITH_")
        kx = {
            "PSK": Kx.PSK,
            "DHE_PSK": Kx.DHE_PSK,
            "PSK_DHE": Kx.DHE_PSK,
            "ECDHE_PSK": Kx.ECDHE_PSK,
            "RSA_PSK": Kx.RSA_PSK,
            "RSA": Kx.RSA,
            "DHE_RSA": Kx.DHE_RSA,
            "ECDHE_RSA": Kx.ECDHE_RSA,
            "ECDHE_ECDSA": Kx.ECDHE_ECDSA,
        }[left]
    parts = body.split("_")
    last = "SHA1" if parts[-1] == "SHA" else parts[-1]
    prf = "SHA384" if last == "SHA384" else "SHA256"
    mac: str | None = last
    fixed_iv = block = tag = 0
    if body.startswith("NULL_"):
        cipher, mode, key_len = "NULL", Mode.NULL, 0
    elif body.startswith("RC4_128_"):
        cipher, mode, key_len = "RC4", Mode.STREAM, 16
    elif body.startswith("3DES_EDE_CBC_"):
        cipher, mode, key_len, block = "3DES", Mode.CBC, 24, 8
    elif body.startswith("CHACHA20_POLY1305"):
        cipher, mode, key_len = "CHACHA20", Mode.CHACHA20_POLY1305, 32
        fixed_iv, tag, mac = 12, 16, None
    elif parts[0] == "AES" and parts[2] in ("CBC", "GCM", "CCM"):
        cipher, key_len = "AES", {"128": 16, "256": 32}[parts[1]]
        if parts[2] == "CBC":
            mode, block = Mode.CBC, 16
        else:
            ccm8 = parts[2] == "CCM" and len(parts) > 3 and parts[3] == "8"
            mode = Mode.GCM if parts[2] == "GCM" else Mode.CCM_8 if ccm8 else Mode.CCM
            fixed_iv, tag, mac = 4, 8 if ccm8 else 16, None
    else:
        raise ValueError(f"cannot derive parameters of {name}")
    mac_len = _MAC_LEN[mac] if mac else 0
    return CipherSuite(
        code, name, kx, cipher, mode, key_len, fixed_iv, block, mac, mac_len, prf, tag, rfc
    )


_SUITE_ROWS: tuple[tuple[int, str, str], ...] = (
    # plain PSK
    (0x002C, "TLS_PSK_WITH_NULL_SHA", "RFC 4785"),
    (0x008A, "TLS_PSK_WITH_RC4_128_SHA", "RFC 4279"),
    (0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA", "RFC 4279"),
    (0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", "RFC 4279"),
    (0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", "RFC 4279"),
    (0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "RFC 5487"),
    (0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "RFC 5487"),
    (0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", "RFC 5487"),
    (0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", "RFC 5487"),
    (0x00B0, "TLS_PSK_WITH_NULL_SHA256", "RFC 5487"),
    (0x00B1, "TLS_PSK_WITH_NULL_SHA384", "RFC 5487"),
    (0xC0A4, "TLS_PSK_WITH_AES_128_CCM", "RFC 6655"),
    (0xC0A5, "TLS_PSK_WITH_AES_256_CCM", "RFC 6655"),
    (0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", "RFC 6655"),
    (0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8", "RFC 6655"),
    (0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", "RFC 7905"),
    # DHE_PSK / ECDHE_PSK / RSA_PSK: named and parsed, not passively decryptable
    (0x002D, "TLS_DHE_PSK_WITH_NULL_SHA", "RFC 4785"),
    (0x002E, "TLS_RSA_PSK_WITH_NULL_SHA", "RFC 4785"),
    (0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA", "RFC 4279"),
    (0x008F, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA", "RFC 4279"),
    (0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", "RFC 4279"),
    (0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", "RFC 4279"),
    (0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA", "RFC 4279"),
    (0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA", "RFC 4279"),
    (0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", "RFC 4279"),
    (0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", "RFC 4279"),
    (0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", "RFC 5487"),
    (0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", "RFC 5487"),
    (0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", "RFC 5487"),
    (0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", "RFC 5487"),
    (0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", "RFC 5487"),
    (0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", "RFC 5487"),
    (0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256", "RFC 5487"),
    (0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384", "RFC 5487"),
    (0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", "RFC 5487"),
    (0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", "RFC 5487"),
    (0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256", "RFC 5487"),
    (0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384", "RFC 5487"),
    (0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA", "RFC 5489"),
    (0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA", "RFC 5489"),
    (0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", "RFC 5489"),
    (0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", "RFC 5489"),
    (0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", "RFC 5489"),
    (0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", "RFC 5489"),
    (0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA", "RFC 5489"),
    (0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256", "RFC 5489"),
    (0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384", "RFC 5489"),
    (0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM", "RFC 6655"),
    (0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM", "RFC 6655"),
    (0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", "RFC 6655"),
    (0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8", "RFC 6655"),
    (0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "RFC 7905"),
    (0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "RFC 7905"),
    (0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", "RFC 7905"),
    (0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", "RFC 8442"),
    (0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", "RFC 8442"),
    (0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", "RFC 8442"),
    (0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", "RFC 8442"),
    # certificate suites SIP over TLS uses (RFC 3261 26.3.1, RFC 5630): named, and
    # decrypted only with a key log
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "RFC 5246"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "RFC 5246"),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "RFC 5288"),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "RFC 5288"),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "RFC 5288"),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "RFC 5288"),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "RFC 8422"),
    (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "RFC 8422"),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "RFC 8422"),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "RFC 8422"),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "RFC 5289"),
    (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "RFC 5289"),
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "RFC 5289"),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "RFC 5289"),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "RFC 5289"),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "RFC 5289"),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "RFC 7905"),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "RFC 7905"),
    # TLS 1.3
    (0x1301, "TLS_AES_128_GCM_SHA256", "RFC 8446"),
    (0x1302, "TLS_AES_256_GCM_SHA384", "RFC 8446"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256", "RFC 8446"),
    (0x1304, "TLS_AES_128_CCM_SHA256", "RFC 8446"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256", "RFC 8446"),
)

CIPHER_SUITES: dict[int, CipherSuite] = {c: _suite(c, n, r) for c, n, r in _SUITE_ROWS}
CIPHER_SUITE = ValueTable(
    "tls.cipher_suite",
    [Const(s.code, s.name, f"{s.rfc}; tshark 4.0.17 value table") for s in CIPHER_SUITES.values()]
    + [Const(0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "RFC 5746")],
)


def suite_name(code: int) -> str:
    return CIPHER_SUITE.label(code)


CONTENT_TYPE = ValueTable(
    "tls.record.content_type",
    [
        Const(20, "change_cipher_spec", "RFC 5246 6.2.1"),
        Const(21, "alert", "RFC 5246 6.2.1"),
        Const(22, "handshake", "RFC 5246 6.2.1"),
        Const(23, "application_data", "RFC 5246 6.2.1"),
        Const(24, "heartbeat", "RFC 6520"),
    ],
)
CT_CHANGE_CIPHER_SPEC = CONTENT_TYPE["change_cipher_spec"]
CT_ALERT = CONTENT_TYPE["alert"]
CT_HANDSHAKE = CONTENT_TYPE["handshake"]
CT_APPLICATION_DATA = CONTENT_TYPE["application_data"]

VERSION = ValueTable(
    "tls.version",
    [
        Const(0x0300, "SSL 3.0", "RFC 6101"),
        Const(0x0301, "TLS 1.0", "RFC 2246"),
        Const(0x0302, "TLS 1.1", "RFC 4346"),
        Const(0x0303, "TLS 1.2", "RFC 5246"),
        Const(0x0304, "TLS 1.3", "RFC 8446"),
    ],
)
TLS10 = VERSION["TLS 1.0"]
TLS11 = VERSION["TLS 1.1"]
TLS12 = VERSION["TLS 1.2"]
TLS13 = VERSION["TLS 1.3"]

HANDSHAKE_TYPE = ValueTable(
    "tls.handshake.type",
    [
        Const(0, "hello_request", "RFC 5246 7.4"),
        Const(1, "client_hello", "RFC 5246 7.4"),
        Const(2, "server_hello", "RFC 5246 7.4"),
        Const(4, "new_session_ticket", "RFC 5077 / RFC 8446 4"),
        Const(5, "end_of_early_data", "RFC 8446 4"),
        Const(8, "encrypted_extensions", "RFC 8446 4"),
        Const(11, "certificate", "RFC 5246 7.4"),
        Const(12, "server_key_exchange", "RFC 5246 7.4"),
        Const(13, "certificate_request", "RFC 5246 7.4"),
        Const(14, "server_hello_done", "RFC 5246 7.4"),
        Const(15, "certificate_verify", "RFC 5246 7.4"),
        Const(16, "client_key_exchange", "RFC 5246 7.4"),
        Const(20, "finished", "RFC 5246 7.4"),
        Const(24, "key_update", "RFC 8446 4"),
        Const(254, "message_hash", "RFC 8446 4.4.1"),
    ],
)
HT_CLIENT_HELLO = HANDSHAKE_TYPE["client_hello"]
HT_SERVER_HELLO = HANDSHAKE_TYPE["server_hello"]
HT_NEW_SESSION_TICKET = HANDSHAKE_TYPE["new_session_ticket"]
HT_END_OF_EARLY_DATA = HANDSHAKE_TYPE["end_of_early_data"]
HT_ENCRYPTED_EXTENSIONS = HANDSHAKE_TYPE["encrypted_extensions"]
HT_SERVER_KEY_EXCHANGE = HANDSHAKE_TYPE["server_key_exchange"]
HT_CERTIFICATE = HANDSHAKE_TYPE["certificate"]
HT_SERVER_HELLO_DONE = HANDSHAKE_TYPE["server_hello_done"]
HT_CLIENT_KEY_EXCHANGE = HANDSHAKE_TYPE["client_key_exchange"]
HT_FINISHED = HANDSHAKE_TYPE["finished"]
HT_KEY_UPDATE = HANDSHAKE_TYPE["key_update"]
HT_MESSAGE_HASH = HANDSHAKE_TYPE["message_hash"]
HT_CERTIFICATE_REQUEST = HANDSHAKE_TYPE["certificate_request"]
HT_CERTIFICATE_VERIFY = HANDSHAKE_TYPE["certificate_verify"]
# The TLS 1.0-1.2 full handshake in wire order up to the client's CertificateVerify (RFC 5246
# 7.3, figure 1; the client's Certificate shares the server's place): the order in which the
# messages enter the session hash, whatever order a capture delivers the two directions in.
TLS12_HANDSHAKE_ORDER = (
    HT_CLIENT_HELLO,
    HT_SERVER_HELLO,
    HT_CERTIFICATE,
    HT_SERVER_KEY_EXCHANGE,
    HT_CERTIFICATE_REQUEST,
    HT_SERVER_HELLO_DONE,
    HT_CLIENT_KEY_EXCHANGE,
    HT_CERTIFICATE_VERIFY,
)

EXTENSION_TYPE = ValueTable(
    "tls.handshake.extension.type",
    [
        Const(0, "server_name", "RFC 6066"),
        Const(10, "supported_groups", "RFC 8422"),
        Const(11, "ec_point_formats", "RFC 8422"),
        Const(13, "signature_algorithms", "RFC 5246 / RFC 8446"),
        Const(16, "application_layer_protocol_negotiation", "RFC 7301"),
        Const(21, "padding", "RFC 7685"),
        Const(22, "encrypt_then_mac", "RFC 7366"),
        Const(23, "extended_master_secret", "RFC 7627"),
        Const(28, "record_size_limit", "RFC 8449"),
        Const(35, "session_ticket", "RFC 5077"),
        Const(41, "pre_shared_key", "RFC 8446 4.2.11"),
        Const(42, "early_data", "RFC 8446 4.2.10"),
        Const(43, "supported_versions", "RFC 8446 4.2.1"),
        Const(44, "cookie", "RFC 8446 4.2.2"),
        Const(45, "psk_key_exchange_modes", "RFC 8446 4.2.9"),
        Const(49, "post_handshake_auth", "RFC 8446 4.2.6"),
        Const(51, "key_share", "RFC 8446 4.2.8"),
        Const(0xFF01, "renegotiation_info", "RFC 5746"),
    ],
)
EXT_SUPPORTED_GROUPS = EXTENSION_TYPE["supported_groups"]
EXT_EC_POINT_FORMATS = EXTENSION_TYPE["ec_point_formats"]
EXT_SIGNATURE_ALGORITHMS = EXTENSION_TYPE["signature_algorithms"]
EXT_ENCRYPT_THEN_MAC = EXTENSION_TYPE["encrypt_then_mac"]
EXT_EXTENDED_MASTER_SECRET = EXTENSION_TYPE["extended_master_secret"]
EXT_SESSION_TICKET = EXTENSION_TYPE["session_ticket"]
EXT_PRE_SHARED_KEY = EXTENSION_TYPE["pre_shared_key"]
EXT_EARLY_DATA = EXTENSION_TYPE["early_data"]
EXT_SUPPORTED_VERSIONS = EXTENSION_TYPE["supported_versions"]
EXT_PSK_KEY_EXCHANGE_MODES = EXTENSION_TYPE["psk_key_exchange_modes"]
EXT_KEY_SHARE = EXTENSION_TYPE["key_share"]
EXT_RENEGOTIATION_INFO = EXTENSION_TYPE["renegotiation_info"]

PSK_KEY_EXCHANGE_MODE = ValueTable(
    "tls.handshake.extensions.psk_ke_mode",
    [Const(0, "psk_ke", "RFC 8446 4.2.9"), Const(1, "psk_dhe_ke", "RFC 8446 4.2.9")],
)
PSK_KE = PSK_KEY_EXCHANGE_MODE["psk_ke"]
PSK_DHE_KE = PSK_KEY_EXCHANGE_MODE["psk_dhe_ke"]

NAMED_GROUP = ValueTable(
    "tls.handshake.extensions_supported_group",
    [
        Const(0x0017, "secp256r1", "RFC 8446 4.2.7"),
        Const(0x0018, "secp384r1", "RFC 8446 4.2.7"),
        Const(0x001D, "x25519", "RFC 8446 4.2.7"),
    ],
)
GROUP_X25519 = NAMED_GROUP["x25519"]

SIGNATURE_SCHEME = ValueTable(
    "tls.handshake.sig_hash_alg",
    [Const(0x0807, "ed25519", "RFC 8446 4.2.3")],
)
SIG_ED25519 = SIGNATURE_SCHEME["ed25519"]
# ServerECDHParams.curve_params.curve_type (RFC 8422 5.4)
EC_CURVE_TYPE = ValueTable(
    "tls.handshake.server_curve_type", [Const(3, "named_curve", "RFC 8422 5.4")]
)
CURVE_TYPE_NAMED = EC_CURVE_TYPE["named_curve"]

ALERT_LEVEL = ValueTable(
    "tls.alert_message.level",
    [Const(1, "warning", "RFC 5246 7.2"), Const(2, "fatal", "RFC 5246 7.2")],
)
ALERT_DESCRIPTION = ValueTable(
    "tls.alert_message.desc",
    [
        Const(0, "close_notify", "RFC 5246 7.2"),
        Const(10, "unexpected_message", "RFC 5246 7.2"),
        Const(20, "bad_record_mac", "RFC 5246 7.2"),
        Const(21, "decryption_failed", "RFC 5246 7.2"),
        Const(22, "record_overflow", "RFC 5246 7.2"),
        Const(40, "handshake_failure", "RFC 5246 7.2"),
        Const(47, "illegal_parameter", "RFC 5246 7.2"),
        Const(50, "decode_error", "RFC 5246 7.2"),
        Const(51, "decrypt_error", "RFC 5246 7.2"),
        Const(70, "protocol_version", "RFC 5246 7.2"),
        Const(71, "insufficient_security", "RFC 5246 7.2"),
        Const(80, "internal_error", "RFC 5246 7.2"),
        Const(86, "inappropriate_fallback", "RFC 7507"),
        Const(90, "user_canceled", "RFC 5246 7.2"),
        Const(100, "no_renegotiation", "RFC 5246 7.2"),
        Const(109, "missing_extension", "RFC 8446 6.2"),
        Const(110, "unsupported_extension", "RFC 5246 7.2"),
        Const(115, "unknown_psk_identity", "RFC 4279 2"),
        Const(116, "certificate_required", "RFC 8446 6.2"),
        Const(120, "no_application_protocol", "RFC 7301"),
    ],
)
ALERT_WARNING = ALERT_LEVEL["warning"]
ALERT_FATAL = ALERT_LEVEL["fatal"]
AD_CLOSE_NOTIFY = ALERT_DESCRIPTION["close_notify"]
AD_UNEXPECTED_MESSAGE = ALERT_DESCRIPTION["unexpected_message"]
AD_BAD_RECORD_MAC = ALERT_DESCRIPTION["bad_record_mac"]
AD_HANDSHAKE_FAILURE = ALERT_DESCRIPTION["handshake_failure"]
AD_ILLEGAL_PARAMETER = ALERT_DESCRIPTION["illegal_parameter"]
AD_DECODE_ERROR = ALERT_DESCRIPTION["decode_error"]
AD_DECRYPT_ERROR = ALERT_DESCRIPTION["decrypt_error"]
AD_UNKNOWN_PSK_IDENTITY = ALERT_DESCRIPTION["unknown_psk_identity"]

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = (1 << 14) + 2048

# RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
