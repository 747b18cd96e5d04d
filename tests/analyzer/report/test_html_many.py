"""Many calls: the index counts them per scenario, lists the failing ones first with their
time, filters to the failing ones without JavaScript, and past INLINE_CALLS each call has a
page of its own beside it."""

from __future__ import annotations

from pathlib import Path

from mikeyshark.checks.evaluate import Context, evaluate_call
from mikeyshark.report.html import INLINE_CALLS, write_html
from mikeyshark.report.model import Report
from tests.support.html import ladder_rows, parse_html
from tests.support.report_samples import SEC, T0, clean_call


def _report(n: int, failing: set[int]) -> Report:
    ctx = Context()
    calls = []
    for i in range(n):
        call = clean_call()
        call.call_id = f"call-{i}@example.org"
        call.invite_ts_ns = T0 + i * SEC
        call.media[0].init.rand = i.to_bytes(16, "big")  # type: ignore[union-attr]
        if i in failing:  # the MRFP sends the ClientHello: TLS-CLIENT fails
            call.media[0].tls.client = call.media[0].tcp.server  # type: ignore[union-attr]
        evaluate_call(call, ctx)
        calls.append(call)
    return Report("0.1.0", [], calls)


def _rows(html: str) -> list[tuple[str, str]]:
    """(class, first cell's link) of each row of the calls table."""
    p = parse_html(html)
    out = []
    in_calls = False
    for tag, a in p.tags:
        if tag == "table":
            in_calls = "calls" in (a.get("class") or "").split()
        elif in_calls and tag == "tr" and a.get("class"):
            out.append((a.get("class") or "", ""))
        elif in_calls and tag == "a" and out and not out[-1][1]:
            out[-1] = (out[-1][0], a.get("href") or "")
    return out


def test_many_calls_get_an_index_and_a_page_each(tmp_path: Path) -> None:
    n = INLINE_CALLS + 5
    report = _report(n, {3, 30})
    index = tmp_path / "report.html"
    write_html(report, str(index))
    html = index.read_text()
    rows = _rows(html)
    assert [c for c, _ in rows] == ["v-fail"] * 2 + ["v-pass"] * (n - 2)
    folder = "report.html.calls/"
    assert [h for _, h in rows[:3]] == [
        folder + "call-0004.html",
        folder + "call-0031.html",
        folder + "call-0001.html",
    ]
    pages = sorted(p.name for p in (tmp_path / "report.html.calls").iterdir())
    assert pages == [f"call-{i:04d}.html" for i in range(1, n + 1)]
    text = " ".join(parse_html(html).text)
    # the overview: msrp-dial-in, 43 pass, 2 fail, 0 incomplete, 45 calls
    assert "msrp-dial-in 43 2 0 45" in " ".join(text.split())
    # the first call's INVITE at T0 (2026-05-28 20:26:40 UTC) is its time
    assert "20:26:40.000" in text and "20:27:24.000" in text
    # no detail on the index: it stays small whatever the calls hold
    assert parse_html(html).count("section", "call") == 0
    page = (tmp_path / "report.html.calls" / "call-0004.html").read_text()
    ladder = ladder_rows(page)
    assert "call-3" in ladder.ids
    assert ("../report.html", "\u2190 all calls") in ladder.links
    assert parse_html(page).count("p", "fix") == 1
    # a second, smaller run leaves no page of the first behind
    write_html(_report(INLINE_CALLS + 1, set()), str(index))
    assert len(list((tmp_path / "report.html.calls").iterdir())) == INLINE_CALLS + 1


def test_failing_calls_can_be_shown_alone_without_javascript(tmp_path: Path) -> None:
    index = tmp_path / "r.html"
    write_html(_report(5, {2}), str(index))
    html = index.read_text()
    p = parse_html(html)
    assert p.count("script") == 0
    assert p.count("section", "call") == 5  # few calls: every call on the page
    assert not (tmp_path / "r.html.calls").exists()
    # the link targets an element that precedes the calls table and sections, and the
    # stylesheet hides the other calls while it is the target
    ids = [a.get("id") for _, a in p.tags if a.get("id")]
    assert ids.index("only-failing") < ids.index("call-0")
    assert any(t == "a" and a.get("href") == "#only-failing" for t, a in p.tags)
    assert "#only-failing:target ~ section.v-pass" in html
    sections = [a.get("class") for t, a in p.tags if t == "section"]
    assert sections == ["call v-pass", "call v-pass", "call v-fail", "call v-pass", "call v-pass"]
