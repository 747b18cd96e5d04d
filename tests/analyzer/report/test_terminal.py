"""The terminal summary: calls collapsed into counts past a screenful, control characters
from the wire made visible, words in their number."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mikeyshark.checks.evaluate import Context, evaluate_call
from mikeyshark.report import escape, wording
from mikeyshark.report.model import Report
from mikeyshark.report.terminal import console, print_summary
from tests.support.report_samples import clean_call


def _calls(n: int, failing: set[int]) -> Report:
    calls = []
    ctx = Context()
    for i in range(n):
        call = clean_call()
        call.call_id = f"call-{i}@example.org"
        call.media[0].init.rand = i.to_bytes(16, "big")  # type: ignore[union-attr]
        if i in failing:  # the MRFP sends the ClientHello: TLS-CLIENT fails
            call.media[0].tls.client = call.media[0].tcp.server  # type: ignore[union-attr]
        evaluate_call(call, ctx)
        calls.append(call)
    return Report("0.1.0", [], calls)


def _out(report: Report, height: int) -> list[str]:
    buf = io.StringIO()
    print_summary(report, Console(file=buf, width=120, height=height, color_system=None))
    return buf.getvalue().splitlines()


def test_a_screenful_of_calls_lists_them_all() -> None:
    lines = _out(_calls(5, {3}), height=40)
    listed = [ln for ln in lines if "@example.org" in ln and "│" in ln]
    assert len(listed) == 5
    assert (
        lines[-1]
        == "total: 5 calls: 4 pass, 1 fail, 0 incomplete (0 captures, 0 frames, 0 problems)"
    )


def test_more_calls_than_a_screen_show_counts_and_the_failing_calls() -> None:
    lines = _out(_calls(40, {7, 31}), height=24)
    text = "\n".join(lines)
    assert "40 calls by scenario" in text
    row = next(ln for ln in lines if "msrp-dial-in" in ln and "│" in ln and "call-" not in ln)
    assert row.split("│")[1:5] == [" msrp-dial-in ", "   38 ", "    2 ", "          0 "]
    assert "failing calls (2 of 40)" in text
    listed = [ln for ln in lines if "@example.org" in ln and "│" in ln]
    assert [ln.split("│")[1].strip() for ln in listed] == ["8", "32"]  # numbered as in the capture
    assert [ln for ln in lines if ln.startswith("FAIL ")] == [
        ln for ln in lines if ln.startswith("FAIL call-7@") or ln.startswith("FAIL call-31@")
    ]
    assert len([ln for ln in lines if ln.startswith("FAIL ")]) == 2
    assert (
        lines[-1]
        == "total: 40 calls: 38 pass, 2 fail, 0 incomplete (0 captures, 0 frames, 0 problems)"
    )


def test_control_characters_from_the_wire_are_shown_not_obeyed() -> None:
    report = _calls(1, {0})
    report.calls[0].call_id = "evil\x1b]0;pwned\x07\x9b2J\n@example.org"
    out = "\n".join(_out(report, height=40))
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "FAIL evil\\x1b]0;pwned\\x07\\x9b2J\\x0a@example.org TLS-CLIENT" in out
    assert escape.terminal("tab\there") == "tab\\x09here"
    assert escape.xml("ok\tnew\nline\x01\x7f\x85") == "ok\tnew\nline\\x01\x7f\x85"


def test_emoji_codes_from_the_wire_stay_text(capsys: pytest.CaptureFixture[str]) -> None:
    """rich reads ``:100:`` as an emoji code: an IPv6 Call-ID host such as 2001:db8:0:100::11
    was printed 2001:db8:0\U0001f4af:11."""
    report = _calls(1, {0})
    report.calls[0].call_id = "nck1z6x826rcbx3u@2001:db8:0:100::11"
    print_summary(report, console())
    out = capsys.readouterr().out
    assert "\U0001f4af" not in out
    assert "FAIL nck1z6x826rcbx3u@2001:db8:0:100::11 TLS-CLIENT" in out
    assert "│ nck1z6x826rcbx3u@2001:db8:0:100::11 │" in out


def test_words_in_their_number() -> None:
    assert wording.frames([3]) == "frame 3"
    assert wording.frames([3, 5]) == "frames 3, 5"
    assert wording.frames([1, 2, 3, 4], limit=2) == "frames 1, 2 and 2 more"
    assert wording.count(1, "call") == "1 call"
    assert wording.count(0, "problem") == "0 problems"
    assert wording.count(12345, "frame") == "12,345 frames"
