"""The HTML report's template: wire content escaped everywhere, every frame link has a target
(opened in headless Chromium by tests/interop/test_html_chromium.py)."""

from __future__ import annotations

import re

from mikeyshark.report.html import render_html
from tests.support.html import XSS_CALL_ID, XSS_REASON, XSS_WORD, parse_html
from tests.support.report_samples import clean_call


def test_template_escapes_everything_from_the_wire() -> None:
    call = clean_call()
    call.call_id = XSS_CALL_ID
    call.media[0].messages[0].fields["body"] = XSS_WORD
    call.events[0].label = XSS_REASON
    from mikeyshark.report.model import Report

    html = render_html(Report("0.1.0", [], [call]))
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;msrp&#39;)&lt;/script&gt;" in html
    p = parse_html(html)
    assert p.count("script") == 0
    assert XSS_WORD in "".join(p.text)


def test_every_frame_link_has_a_target() -> None:
    from mikeyshark.checks.evaluate import Context, evaluate_call
    from mikeyshark.report.model import Report

    call = clean_call()
    call.media[0].tls.key_verified = False  # type: ignore[union-attr]  # TLS-KEY cites frames 6, 7
    call.media[0].tls.frames = (6, 7, 40, 41)  # type: ignore[union-attr]
    evaluate_call(call, Context())
    cited = next(c for c in call.checks if c.rule == "TLS-KEY").frames
    assert cited == (6, 7, 40, 41)
    p = parse_html(render_html(Report("0.1.0", [], [call])))
    ids = {a.get("id") for _, a in p.tags if a.get("id")}
    links = {
        href[1:]
        for t, a in p.tags
        if t == "a" and (href := a.get("href")) and re.fullmatch(r"#c\d+-f\d+", href)
    }
    assert {"c0-f40", "c0-f41"} <= links
    assert links <= ids
    # every target is a row of the ladder; 40 and 41 are no event of the hand-built call
    rows = {a.get("id") for t, a in p.tags if t == "div" and "r" in (a.get("class") or "").split()}
    assert links <= rows
    assert "not a message of a call" in "".join(p.text)
