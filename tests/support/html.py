"""The HTML report's hostile wire content and a parse of the page's elements."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

XSS_CALL_ID = "<script>alert('callid')</script>@evil"


XSS_REASON = "<img src=x onerror=alert('reason')>"


XSS_WORD = "<script>alert('msrp')</script>"


class Elements(HTMLParser):
    """Counts elements by tag and class, and collects text per class of interest."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str, cls: str | None = None) -> int:
        return sum(
            1
            for t, a in self.tags
            if t == tag and (cls is None or cls in (a.get("class") or "").split())
        )


def parse_html(html: str) -> Elements:
    p = Elements()
    p.feed(html)
    return p


@dataclass
class LadderRow:
    """One row of a ladder (``div.r``): its cells' text, classes, and whether a closed fold
    (``details.fold`` without ``open``) holds it."""

    id: str
    classes: list[str]
    folded: bool
    cells: list[str] = field(default_factory=list)
    badges: list[tuple[str, str]] = field(default_factory=list)  # (rule, href) of a.why


class LadderRows(HTMLParser):
    """The ladder rows of a page, by id; and the ids of every element."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, LadderRow] = {}
        self.ids: dict[str, tuple[str, list[str]]] = {}  # id -> (tag, classes)
        self.links: list[tuple[str, str]] = []  # (href, text) of every <a>
        self._folds: list[bool] = []  # the open <details>: whether each is a closed fold
        self._row: LadderRow | None = None
        self._depth = 0  # <span> depth inside the current row
        self._cell: list[str] | None = None
        self._a: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if a.get("id"):
            self.ids[a["id"] or ""] = (tag, classes)
        if tag == "details":
            self._folds.append("fold" in classes and "open" not in a)
        elif tag == "div" and "r" in classes and a.get("id"):
            self._row = LadderRow(a["id"] or "", classes, any(self._folds))
            self.rows[self._row.id] = self._row
            self._depth = 0
        elif tag == "span" and self._row is not None:
            self._depth += 1
            if self._depth == 1:
                self._cell = []
        elif tag == "a":
            self._a = (a.get("href") or "", [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self._folds:
            self._folds.pop()
        elif tag == "div" and self._row is not None:
            self._row = None
        elif tag == "span" and self._row is not None:
            if self._depth == 1 and self._cell is not None:
                self._row.cells.append("".join(self._cell).strip())
                self._cell = None
            self._depth -= 1
        elif tag == "a" and self._a is not None:
            href, text = self._a
            self.links.append((href, "".join(text)))
            if self._row is not None:
                self._row.badges.append(("".join(text), href))
            self._a = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._a is not None:
            self._a[1].append(data)


def ladder_rows(html: str) -> LadderRows:
    p = LadderRows()
    p.feed(html)
    return p
