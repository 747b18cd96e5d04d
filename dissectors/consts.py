"""Value tables in the style of Wireshark's value_string, with provenance.

Each protocol keeps one table per field in one module; every entry says where the value
comes from and whether it was verified against a primary source or adopted by the
mikeyshark profile (docs/profile.md) because the primary text was unavailable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Const:
    value: int
    name: str
    source: str
    verified: bool = True


class ValueTable:
    """value <-> name lookup for one field; unknown values render as ``Unknown (N)``."""

    __slots__ = ("_by_name", "_by_value", "name")

    def __init__(self, name: str, entries: Iterable[Const]) -> None:
        self.name = name
        self._by_value: dict[int, Const] = {}
        self._by_name: dict[str, Const] = {}
        for c in entries:
            if c.value in self._by_value or c.name in self._by_name:
                raise ValueError(f"{name}: duplicate entry {c}")
            self._by_value[c.value] = c
            self._by_name[c.name] = c

    def __contains__(self, value: object) -> bool:
        return value in self._by_value

    def __iter__(self) -> Iterator[Const]:
        return iter(self._by_value.values())

    def __getitem__(self, name: str) -> int:
        return self._by_name[name].value

    def get(self, value: int) -> Const | None:
        return self._by_value.get(value)

    def label(self, value: int) -> str:
        c = self._by_value.get(value)
        return c.name if c is not None else f"Unknown ({value})"
