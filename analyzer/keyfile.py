"""The key file: TOML read with line-located errors, and written back (docs/keyfile.md).

:meth:`KeyFile.load` / :meth:`KeyFile.parse` read and validate a key file; every value it
rejects is a :class:`KeyFileError` naming the file, the line and why. :meth:`KeyFile.dumps`
writes one (the synthesizer and the live replay hand out the keys of what they made), so the
format has one home. What the keys open is :mod:`mikeyshark.keys`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mikeyshark.dissectors import esp as esplib
from mikeyshark.dissectors.h248.mp import DEFAULT_PROFILE as DEFAULT_MP_PROFILE
from mikeyshark.dissectors.h248.mp import MpProfile
from mikeyshark.dissectors.mikey import constants as C


class KeyFileError(ValueError):
    """A key file that cannot be used: which file, which line, why."""

    def __init__(self, name: str, line: int | None, message: str) -> None:
        self.name = name
        self.line = line
        self.message = message
        super().__init__(f"{name}:{line}: {message}" if line else f"{name}: {message}")


@dataclass(frozen=True, slots=True)
class KmsKey:
    """``[[kms]]``: a KMS whose tickets we can open, by its master key."""

    uri: str
    master_key: bytes
    line: int | None = field(default=None, compare=False)  # where the key file says it


@dataclass(frozen=True, slots=True)
class PskKey:
    """``[[psk]]``: a key a user (or the MRFC) shares with the KMS."""

    identity: str
    key: bytes
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class TekKey:
    """``[[tek]]`` or ``--psk``: a TLS PSK known directly."""

    key: bytes
    identity: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Conference:
    """``[conference]``: the focus and who may join it (rule GEN-AUTH)."""

    uri: str
    authorized: tuple[str, ...] = ()


SHORT_KEY = 16  # bytes: a key shorter than this is loaded with a warning


def parse_hex_key(text: str) -> bytes:
    """A key written in hex (an optional ``0x``, surrounding blanks ignored): the one rule for
    keys in the key file and on the command line. The message never repeats the digits."""
    s = text.strip()
    if s[:2].lower() == "0x":
        s = s[2:]
    if not s:
        raise ValueError("is empty")
    if len(s) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", s):
        raise ValueError("is not an even number of hex digits")
    return bytes.fromhex(s)


def parse_psk(value: str | bytes) -> TekKey:
    """A TLS PSK known directly: its bytes, or the text ``HEX[:IDENTITY]`` of ``--psk``."""
    if isinstance(value, bytes):
        if not value:
            raise ValueError("--psk: the key is empty")
        return TekKey(value)
    hexpart, _, identity = value.partition(":")
    try:
        key = parse_hex_key(hexpart)
    except ValueError as e:
        raise ValueError(f"--psk: the key {e}") from None
    return TekKey(key, identity or None)


_PROFILE_KEYS: dict[str, type] = {"tls_prot_type": int, "bfcp_tls_client": str}
_TABLES = ("kms", "psk", "tek", "esp", "conference", "profile")
_ENTRY_KEYS = {
    "kms": {"uri", "master_key"},
    "psk": {"identity", "key"},
    "tek": {"key", "identity"},
    "esp": {"spi", "encryption", "integrity", "encryption_key", "integrity_key"},
}


@dataclass(frozen=True, slots=True)
class KeyFile:
    """The keys and policy of one key file (every table optional)."""

    kms: tuple[KmsKey, ...] = ()
    psk: tuple[PskKey, ...] = ()
    tek: tuple[TekKey, ...] = ()
    conference: Conference | None = None
    profile: dict[str, Any] = field(default_factory=dict)  # [profile] overrides
    name: str = "<keys>"
    warnings: tuple[str, ...] = ()
    esp: tuple[esplib.EspSa, ...] = ()  # [[esp]]: IPsec SAs of the Gm interface
    # NSS key log text (``analyze --tls-keylog``): SIP over TLS and media alike
    tls_keylog: str = ""
    mp_profile: dict[str, str] = field(default_factory=dict)  # [profile.mp]: key -> "pkg/name"

    @property
    def tls_prot_type(self) -> int:
        return int(self.profile.get("tls_prot_type", C.PROT_TYPE["TLS"]))

    @property
    def mp(self) -> MpProfile:
        """The Mp profile's item names, the adopted ones renamed by ``[profile.mp]``."""
        return DEFAULT_MP_PROFILE.with_overrides(self.mp_profile)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyFile:
        """Read and validate the key file at ``path``; raises :class:`KeyFileError`."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise KeyFileError(str(p), None, f"cannot read key file: {e}") from e
        return cls.parse(text, str(p))

    @classmethod
    def parse(cls, text: str, name: str = "<keys>") -> KeyFile:
        """Validate key-file ``text`` (``name`` is what errors call it)."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
            line = int(m.group(1)) if m else None
            raise KeyFileError(name, line, f"TOML syntax: {e}") from e
        return _KeyFileReader(text, name).read(doc)

    def dumps(self, comment: str = "") -> str:
        """The key file as TOML text that :meth:`parse` reads back to an equal ``KeyFile``
        (``comment`` becomes its leading ``#`` lines). It holds the keys in clear."""
        lines: list[str] = [f"# {line}" for line in comment.splitlines()]
        for k in self.kms:
            lines += ["", "[[kms]]", f"uri = {_s(k.uri)}", f'master_key = "{k.master_key.hex()}"']
        for p in self.psk:
            lines += ["", "[[psk]]", f"identity = {_s(p.identity)}", f'key = "{p.key.hex()}"']
        for t in self.tek:
            lines += ["", "[[tek]]", f'key = "{t.key.hex()}"']
            lines += [f"identity = {_s(t.identity)}"] if t.identity is not None else []
        if self.conference is not None:
            members = ", ".join(_s(u) for u in self.conference.authorized)
            lines += [
                "",
                "[conference]",
                f"uri = {_s(self.conference.uri)}",
                f"authorized = [{members}]",
            ]
        for sa in self.esp:
            lines += ["", "[[esp]]", f"spi = {sa.spi}", f"encryption = {_s(sa.encryption)}"]
            lines += [f"integrity = {_s(sa.integrity)}"]
            for field_, key in (
                ("encryption_key", sa.encryption_key),
                ("integrity_key", sa.integrity_key),
            ):
                lines += [f'{field_} = "{key.hex()}"'] if key else []
        if self.profile:
            lines += ["", "[profile]"] + [f"{k} = {_value(v)}" for k, v in self.profile.items()]
        if self.mp_profile:
            lines += ["", "[profile.mp]"] + [f"{k} = {_s(v)}" for k, v in self.mp_profile.items()]
        return "\n".join(lines).lstrip("\n") + "\n"


def _s(value: str) -> str:
    # A TOML basic string has JSON's escapes for the characters a URI can hold.
    return json.dumps(value, ensure_ascii=False)


def _value(value: object) -> str:
    return _s(value) if isinstance(value, str) else str(value)


class _KeyFileReader:
    """Validates the parsed TOML; finds the source line of each value it rejects."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.lines = text.splitlines()
        self.warnings: list[str] = []

    def _sections(self) -> Iterator[tuple[str, int, int]]:
        """(table name, occurrence index, 1-based header line) for each table header."""
        seen: dict[str, int] = {}
        for no, raw in enumerate(self.lines, 1):
            m = re.match(r"\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?", raw)
            if m:
                t = m.group(1)
                yield t, seen.get(t, 0), no
                seen[t] = seen.get(t, 0) + 1

    def line_of(self, table: str | None, index: int, key: str | None) -> int | None:
        """Line of ``key`` in the ``index``-th ``table`` (``None``: top level)."""
        heads = list(self._sections())
        start, end = 1, len(self.lines) + 1
        if table is not None:
            found = [(n, i) for i, (t, k, n) in enumerate(heads) if t == table and k == index]
            if not found:
                return None
            start, pos = found[0]
            end = heads[pos + 1][2] if pos + 1 < len(heads) else len(self.lines) + 1
        elif heads:
            end = heads[0][2]
        if key is None:
            return start if table is not None else None
        pat = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=")
        for no in range(start, end):
            if pat.match(self.lines[no - 1]):
                return no
        return start if table is not None else None

    def fail(self, table: str | None, index: int, key: str | None, msg: str) -> KeyFileError:
        line = self.line_of(table, index, key)
        if line is None and table is not None:
            # an inline array (kms = [{...}]) has no header: point at its key instead
            pat = re.compile(rf"\s*{re.escape(table)}\s*=")
            line = next((n for n, t in enumerate(self.lines, 1) if pat.match(t)), None)
        return KeyFileError(self.name, line, msg)

    def _hex(self, table: str, i: int, entry: dict[str, Any], key: str) -> bytes:
        where = f"[[{table}]] #{i + 1} {key}"
        if key not in entry:
            raise self.fail(table, i, None, f"{where} is missing")
        v = entry[key]
        if not isinstance(v, str):
            raise self.fail(table, i, key, f"{where} must be a hex string")
        try:
            got = parse_hex_key(v)
        except ValueError as e:
            raise self.fail(table, i, key, f"{where} {e}") from None
        if len(got) < SHORT_KEY:
            # any length is allowed (docs/profile.md, The base ticket), but a truncated paste is
            # the usual cause: say so before the call fails TICKET-OPEN or TLS-KEY
            self.warnings.append(
                f"{self.name}:{self.line_of(table, i, key)}: {where} is {len(got)} bytes, "
                f"under {SHORT_KEY}: is it whole?"
            )
        return got

    def _str(
        self, table: str, i: int, entry: dict[str, Any], key: str, required: bool
    ) -> str | None:
        if key not in entry:
            if required:
                raise self.fail(table, i, None, f"[[{table}]] #{i + 1} {key} is missing")
            return None
        v = entry[key]
        if not isinstance(v, str) or not v:
            raise self.fail(table, i, key, f"[[{table}]] #{i + 1} {key} must be a non-empty string")
        return v

    def _array(self, doc: dict[str, Any], table: str) -> list[dict[str, Any]]:
        v = doc.get(table, [])
        if not isinstance(v, list) or not all(isinstance(e, dict) for e in v):
            raise self.fail(None, 0, table, f"{table} must be an array of tables ([[{table}]])")
        for i, e in enumerate(v):
            for k in e:
                if k not in _ENTRY_KEYS[table]:
                    raise self.fail(table, i, k, f"[[{table}]] #{i + 1}: unknown key {k!r}")
        return v

    def read(self, doc: dict[str, Any]) -> KeyFile:
        for k in doc:
            if k not in _TABLES:
                line = self.line_of(k, 0, None) or self.line_of(None, 0, k)
                raise KeyFileError(self.name, line, f"unknown table or key {k!r}")
        kms = tuple(
            KmsKey(
                self._str("kms", i, e, "uri", True) or "",
                self._hex("kms", i, e, "master_key"),
                self.line_of("kms", i, None),
            )
            for i, e in enumerate(self._array(doc, "kms"))
        )
        psk = tuple(
            PskKey(
                self._str("psk", i, e, "identity", True) or "",
                self._hex("psk", i, e, "key"),
                self.line_of("psk", i, None),
            )
            for i, e in enumerate(self._array(doc, "psk"))
        )
        tek = tuple(
            TekKey(
                self._hex("tek", i, e, "key"),
                self._str("tek", i, e, "identity", False),
                self.line_of("tek", i, None),
            )
            for i, e in enumerate(self._array(doc, "tek"))
        )
        return KeyFile(
            kms,
            psk,
            tek,
            self._conference(doc),
            self._profile(doc),
            self.name,
            tuple(self.warnings),
            tuple(self._esp(i, e) for i, e in enumerate(self._array(doc, "esp"))),
            mp_profile=self._mp_profile(doc),
        )

    def _esp(self, i: int, e: dict[str, Any]) -> esplib.EspSa:
        spi = e.get("spi")
        if isinstance(spi, str):
            try:
                spi = int(spi, 16 if spi.lower().startswith("0x") else 10)
            except ValueError:
                spi = None
        if not isinstance(spi, int) or isinstance(spi, bool) or not 0 < spi < 1 << 32:
            raise self.fail(
                "esp", i, "spi" if "spi" in e else None, f"[[esp]] #{i + 1} spi must be 1..2^32-1"
            )
        enc = self._str("esp", i, e, "encryption", False) or "null"
        integ = self._str("esp", i, e, "integrity", False) or ("none" if enc == "aes-gcm" else "")
        if enc not in esplib.ENCRYPTION_NAMES:
            raise self.fail(
                "esp",
                i,
                "encryption",
                f"[[esp]] #{i + 1} encryption must be null, aes-cbc or aes-gcm",
            )
        if integ not in esplib.INTEGRITY_NAMES or (enc == "aes-gcm") != (integ == "none"):
            raise self.fail(
                "esp",
                i,
                "integrity",
                f"[[esp]] #{i + 1} integrity must be one of hmac-md5-96, hmac-sha1-96, "
                "aes-xcbc-mac-96, hmac-sha256-128 (none only with aes-gcm)",
            )
        keys = []
        for field_, alg in (("encryption_key", enc), ("integrity_key", integ)):
            want = esplib.KEY_LENGTHS[alg]
            key = self._hex("esp", i, e, field_) if want != (0,) else b""
            if len(key) not in want:
                raise self.fail(
                    "esp",
                    i,
                    field_,
                    f"[[esp]] #{i + 1} {field_}: {alg} takes "
                    f"{' or '.join(str(n) for n in want)} bytes, not {len(key)}",
                )
            keys.append(key)
        return esplib.EspSa(spi, enc, integ, keys[0], keys[1])

    def _conference(self, doc: dict[str, Any]) -> Conference | None:
        c = doc.get("conference")
        if c is None:
            return None
        if not isinstance(c, dict):
            raise self.fail(None, 0, "conference", "conference must be a table")
        uri = c.get("uri")
        if not isinstance(uri, str) or not uri:
            raise self.fail(
                "conference",
                0,
                "uri" if "uri" in c else None,
                "[conference] uri must be a non-empty string",
            )
        auth = c.get("authorized", [])
        if not isinstance(auth, list) or not all(isinstance(a, str) for a in auth):
            raise self.fail(
                "conference", 0, "authorized", "[conference] authorized must be a list of strings"
            )
        for k in c:
            if k not in ("uri", "authorized"):
                raise self.fail("conference", 0, k, f"[conference]: unknown key {k!r}")
        return Conference(uri, tuple(auth))

    def _profile(self, doc: dict[str, Any]) -> dict[str, Any]:
        p = doc.get("profile", {})
        if not isinstance(p, dict):
            raise self.fail(None, 0, "profile", "profile must be a table")
        for k, v in p.items():
            if k == "mp":
                continue  # [profile.mp], read by _mp_profile
            want = _PROFILE_KEYS.get(k)
            if want is None:
                # Other stages may read more overrides; say so rather than refuse the file.
                self.warnings.append(
                    f"{self.name}:{self.line_of('profile', 0, k)}: "
                    f"[profile] {k} is not known to the key resolver"
                )
                continue
            if not isinstance(v, want) or isinstance(v, bool):
                raise self.fail("profile", 0, k, f"[profile] {k} must be a {want.__name__}")
        tpt = p.get("tls_prot_type")
        if tpt is not None and not 0 <= tpt <= 255:
            raise self.fail("profile", 0, "tls_prot_type", "[profile] tls_prot_type must be 0..255")
        bfcp = p.get("bfcp_tls_client")
        if bfcp is not None and bfcp not in ("offerer", "answerer"):
            raise self.fail(
                "profile",
                0,
                "bfcp_tls_client",
                '[profile] bfcp_tls_client must be "offerer" or "answerer"',
            )
        return {k: v for k, v in p.items() if k != "mp"}

    def _mp_profile(self, doc: dict[str, Any]) -> dict[str, str]:
        p = doc.get("profile", {})
        mp = p.get("mp", {}) if isinstance(p, dict) else {}
        if not isinstance(mp, dict):
            raise self.fail("profile", 0, "mp", "[profile] mp must be a table ([profile.mp])")
        for k, v in mp.items():
            try:
                DEFAULT_MP_PROFILE.with_overrides({k: v})
            except ValueError as e:
                raise self.fail("profile.mp", 0, k, f"[profile.mp]: {e}") from None
        return dict(mp)
