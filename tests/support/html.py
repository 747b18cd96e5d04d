"""The HTML report's hostile wire content and a parse of the page's elements."""

from __future__ import annotations

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
