"""Display filters: the subset of Wireshark's language that ``mikeyshark dissect -Y`` reads,
over the named fields of :mod:`mikeyshark.view.layers`.

A filter is a field or protocol name alone (present in the frame), or a comparison of a field
with a value (``==``/``eq``, ``!=``/``ne``, ``<``/``lt``, ``>``/``gt``, ``<=``/``le``,
``>=``/``ge``, ``contains``, ``matches``/``~``), combined with ``&&``/``and``, ``||``/``or``,
``!``/``not`` and parentheses. As in Wireshark 4.0: a comparison is true when some occurrence
of the field satisfies it, except ``!=``, true when every occurrence differs (a field that
is absent satisfies no comparison); ``matches`` is a case-insensitive regular expression;
``ip.src == 192.0.2.0/24`` tests a network. Values are numbers (decimal or ``0x`` hex),
``"quoted strings"`` (with ``\\"``, ``\\\\`` and ``\\xNN``), or bare words (``INVITE``,
``02:00:00:00:00:01``, ``True``).

A mistake is a :class:`FilterError` that says where: :meth:`FilterError.show` prints the
filter with a caret under the culprit, as tshark does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mikeyshark.view.frame import FrameView
from mikeyshark.view.layers import FIELDS, LAYER_NAMES, FieldInfo, Fmt

Predicate = Callable[[FrameView], bool]


class FilterError(ValueError):
    """A filter that cannot be read: ``message``, and the span of the filter at fault."""

    def __init__(self, message: str, text: str, start: int, length: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.start = start
        self.length = max(length, 1)

    def show(self) -> str:
        """The message, the filter, and a caret under the culprit."""
        if self.start >= len(self.text):
            return self.message
        return f"{self.message}\n    {self.text}\n    {' ' * self.start}^{'~' * (self.length - 1)}"


@dataclass(frozen=True, slots=True)
class Filter:
    """A compiled display filter; ``matches(frame)`` tells whether ``frame`` passes."""

    text: str
    matches: Predicate


# -------------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lp>\() | (?P<rp>\)) |
      (?P<op>==|!=|<=|>=|<|>|~|&&|\|\||!) |
      (?P<str>"(?:[^"\\]|\\.)*"?) |
      (?P<word>[A-Za-z0-9_.:/\-]+)
    )""",
    re.VERBOSE,
)
_WORD_OPS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "contains": "contains",
    "matches": "matches",
    "and": "&&",
    "or": "||",
    "not": "!",
}
_COMPARISONS = frozenset({"==", "!=", "<", ">", "<=", ">=", "~", "contains", "matches"})


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "(", ")", "op", "str", "word", "end"
    text: str
    start: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise FilterError(f'"{text[start]}" was unexpected in this context.', text, start)
        kind = m.lastgroup
        assert kind is not None
        tok = m.group(kind)
        start = m.start(kind)
        if kind == "word" and tok.lower() in _WORD_OPS:
            out.append(_Tok("op", _WORD_OPS[tok.lower()], start))
        elif kind == "lp":
            out.append(_Tok("(", tok, start))
        elif kind == "rp":
            out.append(_Tok(")", tok, start))
        elif kind == "str" and (len(tok) < 2 or not tok.endswith('"') or tok.endswith('\\"')):
            raise FilterError("The string is not closed.", text, start, len(tok))
        else:
            out.append(_Tok(kind, tok, start))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


# -------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, tok: _Tok, message: str | None = None) -> FilterError:
        if tok.kind == "end":
            return FilterError("Unexpected end of filter expression.", self.text, tok.start)
        msg = message or f'"{tok.text}" was unexpected in this context.'
        return FilterError(msg, self.text, tok.start, len(tok.text))

    def parse(self) -> Predicate:
        pred = self.disjunction()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(tok)
        return pred

    def disjunction(self) -> Predicate:
        left = self.conjunction()
        while self.peek().kind == "op" and self.peek().text == "||":
            self.take()
            right = self.conjunction()
            left = _or(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.negation()
        while self.peek().kind == "op" and self.peek().text == "&&":
            self.take()
            right = self.negation()
            left = _and(left, right)
        return left

    def negation(self) -> Predicate:
        tok = self.peek()
        if tok.kind == "op" and tok.text == "!":
            self.take()
            inner = self.negation()
            return lambda f: not inner(f)
        return self.primary()

    def primary(self) -> Predicate:
        tok = self.take()
        if tok.kind == "(":
            inner = self.disjunction()
            close = self.take()
            if close.kind != ")":
                raise self.error(close)
            return inner
        if tok.kind != "word":
            raise self.error(tok)
        op = self.peek()
        if op.kind == "op" and op.text in _COMPARISONS:
            self.take()
            value = self.take()
            if value.kind not in ("word", "str"):
                raise self.error(value)
            info = FIELDS.get(tok.text)
            if info is None:
                raise self.error(
                    tok,
                    f'Left side of "{op.text}" expression must be a field or function, '
                    f"not {tok.text}.",
                )
            return _comparison(info, op.text, self._literal(info, op.text, value))
        if tok.text in FIELDS:
            name = tok.text
            return lambda f: bool(f.values(name))
        if tok.text in LAYER_NAMES:
            layer = tok.text
            return lambda f: f.layer(layer) is not None
        raise self.error(tok, f'"{tok.text}" is neither a field nor a protocol name.')

    def _literal(self, info: FieldInfo, op: str, tok: _Tok) -> object:
        """The value ``tok`` as the field's type (an address network, a compiled regular
        expression, bytes, a number, ...)."""
        raw = _unquote(tok.text) if tok.kind == "str" else tok.text
        if op in ("matches", "~"):
            try:
                return re.compile(raw, re.IGNORECASE)
            except re.error as e:
                raise self.error(tok, f'"{raw}" is not a valid regular expression: {e}.') from None
        fmt = info.fmt
        if op == "contains":
            return _as_bytes(raw) if fmt is Fmt.BYTES else raw
        try:
            if fmt in (Fmt.DEC, Fmt.HEX8, Fmt.HEX16, Fmt.HEX32):
                return int(raw, 0)
            if fmt is Fmt.TIME:
                return Decimal(raw)
            if fmt is Fmt.BOOL:
                low = raw.lower()
                if low in ("1", "true"):
                    return True
                if low in ("0", "false"):
                    return False
                raise ValueError(raw)
            if fmt is Fmt.BYTES:
                return _as_bytes(raw)
            if fmt is Fmt.IP:
                return ipaddress.ip_network(raw, strict=False)
            if fmt is Fmt.MAC:
                return _as_bytes(raw).hex(":")
        except (ValueError, InvalidOperation):
            what = {Fmt.IP: "address", Fmt.MAC: "Ethernet address", Fmt.BOOL: "boolean"}
            kind = what.get(fmt, "number" if fmt is not Fmt.BYTES else "byte string")
            raise self.error(tok, f'"{raw}" is not a valid {kind}.') from None
        return raw


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(
        r"\\(x[0-9A-Fa-f]{2}|.)",
        lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x" else m.group(1),
        body,
    )


def _as_bytes(text: str) -> bytes:
    return bytes.fromhex(re.sub(r"[:.\-]", "", text))


def _or(a: Predicate, b: Predicate) -> Predicate:
    return lambda f: a(f) or b(f)


def _and(a: Predicate, b: Predicate) -> Predicate:
    return lambda f: a(f) and b(f)


def _relation(op: str) -> Callable[[object, object], bool]:
    if op == "==":
        return lambda v, w: v == w
    if op == "<":
        return lambda v, w: v < w  # type: ignore[operator]
    if op == ">":
        return lambda v, w: v > w  # type: ignore[operator]
    if op == "<=":
        return lambda v, w: v <= w  # type: ignore[operator]
    if op == ">=":
        return lambda v, w: v >= w  # type: ignore[operator]
    if op == "contains":
        return lambda v, w: w in v  # type: ignore[operator]
    assert op in ("matches", "~")
    return lambda v, w: w.search(str(v)) is not None  # type: ignore[attr-defined]


def _comparison(info: FieldInfo, op: str, literal: object) -> Predicate:
    name = info.name
    if info.fmt is Fmt.IP and isinstance(literal, ipaddress.IPv4Network | ipaddress.IPv6Network):
        net = literal

        def inside(v: object, w: object) -> bool:
            return ipaddress.ip_address(str(v)) in net

        test = inside if op in ("==", "!=") else _relation(op)
    else:
        test = _relation("==" if op == "!=" else op)

    def safe(v: object) -> bool:
        try:
            return test(v, literal)
        except (TypeError, ValueError):
            return False

    if op == "!=":  # Wireshark 4.0: every occurrence differs (and there is one)
        return lambda f: bool(vals := f.values(name)) and not any(safe(v) for v in vals)
    return lambda f: any(safe(v) for v in f.values(name))


def compile_filter(text: str) -> Filter:
    """Read a display filter; raises :class:`FilterError` for one that cannot be read."""
    if not text.strip():
        return Filter(text, lambda f: True)
    return Filter(text, _Parser(text).parse())
