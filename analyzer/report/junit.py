"""JUnit XML: one test case per rule per call, for CI systems.

A failed rule is a ``<failure>``; a rule that could not be judged (not-observed) or does
not apply is ``<skipped>`` so that a CI dashboard shows it without turning the build red.

Written as a stream, call by call, in the layout ElementTree gives with ``ET.indent``; wire
text gets XML escaping and, for the characters XML 1.0 forbids, a visible ``\\xNN`` (see
:mod:`mikeyshark.report.escape`), so the document is well-formed whatever the capture held.
"""

from __future__ import annotations

import io
from typing import TextIO

from mikeyshark.evidence import CallRecord, Status
from mikeyshark.report import escape
from mikeyshark.report.model import Report

_SKIPPED = (Status.NOT_OBSERVED, Status.NOT_APPLICABLE)


def _classname(scenario: str, call_id: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_@" else "_" for ch in call_id)
    return f"mikeyshark.{scenario}.{safe}"


def _attr(text: str) -> str:
    text = escape.xml(text)
    for ch, ref in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("\r", "&#13;"),
        ("\n", "&#10;"),
        ("\t", "&#09;"),
    ):
        text = text.replace(ch, ref)
    return text


def _text(text: str) -> str:
    return escape.xml(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tag(name: str, attrs: dict[str, str], end: str = ">") -> str:
    return f"<{name}" + "".join(f' {k}="{_attr(v)}"' for k, v in attrs.items()) + end


def _suite(call: CallRecord) -> str:
    checks = call.checks
    lines = [
        "  "
        + _tag(
            "testsuite",
            {
                "name": f"{call.scenario} {call.call_id}",
                "tests": str(len(checks)),
                "failures": str(sum(c.status is Status.FAIL for c in checks)),
                "errors": "0",
                "skipped": str(sum(c.status in _SKIPPED for c in checks)),
            },
        ),
        "    <properties>",
    ]
    for name, value in (
        ("call_id", call.call_id),
        ("scenario", call.scenario),
        ("verdict", call.verdict.value),
        ("capture", call.capture),
    ):
        lines.append("      " + _tag("property", {"name": name, "value": value}, " />"))
    lines.append("    </properties>")
    classname = _classname(call.scenario, call.call_id)
    for check in checks:
        case = {"classname": classname, "name": check.rule, "time": "0"}
        lines.append("    " + _tag("testcase", case))
        frames = ", ".join(map(str, check.frames))
        detail = f"{check.message}\nframes: {frames}" if frames else check.message
        if check.status is Status.FAIL:
            attrs = {"message": check.message, "type": check.severity.value}
            lines.append("      " + _tag("failure", attrs) + _text(detail) + "</failure>")
        elif check.status in _SKIPPED:
            skipped = {"message": f"{check.status.value}: {check.message}"}
            lines.append("      " + _tag("skipped", skipped, " />"))
        elif detail:
            lines.append("      <system-out>" + _text(detail) + "</system-out>")
        else:
            lines.append("      <system-out />")
        lines.append("    </testcase>")
    lines.append("  </testsuite>")
    return "\n".join(lines) + "\n"


def write(report: Report, out: TextIO) -> None:
    """The JUnit document, streamed to ``out`` one test suite (call) at a time."""
    checks = [c.status for call in report.calls for c in call.checks]
    root = {
        "name": "mikeyshark",
        "tests": str(len(checks)),
        "failures": str(sum(s is Status.FAIL for s in checks)),
        "skipped": str(sum(s in _SKIPPED for s in checks)),
        "errors": "0",
    }
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    if not report.calls:
        out.write(_tag("testsuites", root, " />") + "\n")
        return
    out.write(_tag("testsuites", root) + "\n")
    for call in report.calls:
        out.write(_suite(call))
    out.write("</testsuites>\n")


def junit_xml(report: Report) -> str:
    buf = io.StringIO()
    write(report, buf)
    return buf.getvalue()
