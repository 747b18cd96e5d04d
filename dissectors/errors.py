"""The one error type of the codec layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar


class DissectError(ValueError):
    """Bytes that do not parse: which layer, at which offset, which field, and why.

    ``offset`` counts from the start of the buffer the layer was given, so the
    application can add the frame number and the layer's position in the frame.
    """

    def __init__(
        self,
        layer: str,
        offset: int,
        reason: str,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        self.layer = layer
        self.offset = offset
        self.reason = reason
        self.field = field
        where = f"{layer}.{field}" if field else layer
        # a stable name of the failure, for tools: given where one is finer than the field
        # (``tls.record.bad_mac``), else ``layer.field``
        self.code = code or where
        super().__init__(f"{where} at offset {offset}: {reason}")

    def __reduce__(
        self,
    ) -> tuple[type[DissectError], tuple[str, int, str, str | None, str]]:
        # An exception pickles as its class and ``args`` (here the one formatted message),
        # which this constructor cannot take: a worker's error would reach the parent as
        # BrokenProcessPool instead of itself.
        return (type(self), (self.layer, self.offset, self.reason, self.field, self.code))


_T = TypeVar("_T")


def once(memo: dict[str, Any], key: str, compute: Callable[[], _T]) -> _T:
    """``compute()``, kept in ``memo`` under ``key``: for what an immutable message derives
    from its own text (a typed header, an attribute list), read many times by the analysis.
    A :class:`DissectError` is kept as its arguments and raised afresh on every read."""
    kept: Any = memo.get(key)  # (ok, value) or (False, the error's arguments)
    if kept is None:
        try:
            kept = (True, compute())
        except DissectError as e:
            kept = (False, (e.layer, e.offset, e.reason, e.field, e.code))
        memo[key] = kept
    if kept[0]:
        return kept[1]  # type: ignore[no-any-return]
    raise DissectError(*kept[1]) from None
