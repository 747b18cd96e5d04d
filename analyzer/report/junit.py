"""JUnit XML: one test case per rule per call, for CI systems.

A failed rule is a ``<failure>``; a rule that could not be judged (not-observed) or does
not apply is ``<skipped>`` so that a CI dashboard shows it without turning the build red.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mikeyshark.evidence import Status
from mikeyshark.report.model import Report


def _classname(scenario: str, call_id: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_@" else "_" for ch in call_id)
    return f"mikeyshark.{scenario}.{safe}"


def junit_xml(report: Report) -> str:
    suites = ET.Element("testsuites", name="mikeyshark")
    total = fails = skips = 0
    for call in report.calls:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{call.scenario} {call.call_id}",
            tests=str(len(call.checks)),
            failures=str(sum(c.status is Status.FAIL for c in call.checks)),
            errors="0",
            skipped=str(
                sum(c.status in (Status.NOT_OBSERVED, Status.NOT_APPLICABLE) for c in call.checks)
            ),
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("call_id", call.call_id),
            ("scenario", call.scenario),
            ("verdict", call.verdict.value),
            ("capture", call.capture),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        for check in call.checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_classname(call.scenario, call.call_id),
                name=check.rule,
                time="0",
            )
            frames = ", ".join(map(str, check.frames))
            detail = f"{check.message}\nframes: {frames}" if frames else check.message
            if check.status is Status.FAIL:
                fails += 1
                el = ET.SubElement(case, "failure", message=check.message, type=check.severity)
                el.text = detail
            elif check.status is not Status.PASS:
                skips += 1
                ET.SubElement(case, "skipped", message=f"{check.status.value}: {check.message}")
            else:
                ET.SubElement(case, "system-out").text = detail
            total += 1
    suites.set("tests", str(total))
    suites.set("failures", str(fails))
    suites.set("skipped", str(skips))
    suites.set("errors", "0")
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
