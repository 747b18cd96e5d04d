"""Counted words and frame lists as every report writes them ("1 call", "frames 3, 5")."""

from __future__ import annotations

from collections.abc import Sequence


def count(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and ``word`` in its number: "1 call", "3 calls", "0 problems"."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def frames(numbers: Sequence[int], limit: int | None = None) -> str:
    """ "frame 3", "frames 3, 5"; past ``limit`` numbers, how many more there are."""
    shown = numbers if limit is None else numbers[:limit]
    text = ("frame " if len(numbers) == 1 else "frames ") + ", ".join(map(str, shown))
    if len(shown) < len(numbers):
        text += f" and {len(numbers) - len(shown)} more"
    return text
