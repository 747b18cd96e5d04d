"""The terminal summary: one table of calls, then the failing rules of each call (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mikeyshark.evidence import Status, Verdict
from mikeyshark.report.model import Report

_STYLE = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.INCOMPLETE: "yellow"}


def print_summary(report: Report, console: Console) -> None:
    for cap in report.captures:
        line = f"[bold]{escape(cap.path)}[/]: {cap.frames} frames"
        if cap.seconds > 0:
            line += f" in {cap.seconds:.2f} s"
        if cap.errors:
            line += f", [yellow]{len(cap.errors)} problem(s)[/]"
        console.print(line)
        for p in cap.errors[:10]:
            console.print(f"  [yellow]![/] {escape(str(p))}")
        if len(cap.errors) > 10:
            console.print(f"  ... {len(cap.errors) - 10} more (see --json)")
    if not report.calls:
        console.print("[yellow]no call with an MSRP or BFCP m-line found[/]")
        return
    table = Table(title="calls", caption="rules: passed / failed / not observed", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("scenario", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("rules", justify="right", no_wrap=True)
    table.add_column("failing rules", overflow="fold")
    table.add_column("call-id", overflow="fold", min_width=16)
    for i, call in enumerate(report.calls, 1):
        counts = {s: sum(c.status is s for c in call.checks) for s in Status}
        table.add_row(
            str(i),
            call.scenario,
            f"[{_STYLE[call.verdict]}]{call.verdict.value}[/]",
            f"{counts[Status.PASS]}/{counts[Status.FAIL]}/{counts[Status.NOT_OBSERVED]}",
            escape(", ".join(c.rule for c in call.failing)) or "-",
            escape(call.call_id),
        )
    console.print(table)
    for call in report.calls:
        if call.signalling == "encrypted":
            for p in call.problems:
                console.print(f"[yellow]ENCRYPTED[/] {escape(call.call_id)}: {escape(p.reason)}")
        if call.outcome is not None and not call.outcome.startswith("established"):
            console.print(f"[yellow]NO MEDIA[/] {escape(call.call_id)}: {escape(call.outcome)}")
        if call.tunnel is not None:
            console.print(
                f"[cyan]TUNNEL[/] {escape(call.call_id)}: SIP in {escape(str(call.tunnel))}"
            )
        for c in call.failing:
            frames = f" [dim](frames {', '.join(map(str, c.frames[:8]))})[/]" if c.frames else ""
            who = escape(call.call_id)
            console.print(f"[red]FAIL[/] {who} [bold]{c.rule}[/]: {escape(c.message)}{frames}")
