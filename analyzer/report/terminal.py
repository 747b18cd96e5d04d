"""The terminal summary: one table of calls, then the failing rules of each call (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from analyzer.report.model import Report, Status, Verdict

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
    table = Table(title="calls", show_lines=False)
    table.add_column("call-id", overflow="fold")
    table.add_column("scenario")
    table.add_column("offerer -> answerer", overflow="fold")
    table.add_column("verdict")
    table.add_column("pass/fail/unseen", justify="right")
    table.add_column("failing rules", overflow="fold")
    for call in report.calls:
        counts = {s: sum(c.status is s for c in call.checks) for s in Status}
        table.add_row(
            escape(call.call_id),
            call.scenario,
            escape(f"{call.from_uri or call.offerer} -> {call.to_uri or call.answerer}"),
            f"[{_STYLE[call.verdict]}]{call.verdict.value}[/]",
            f"{counts[Status.PASS]}/{counts[Status.FAIL]}/{counts[Status.NOT_OBSERVED]}",
            escape(", ".join(c.rule for c in call.failing)) or "-",
        )
    console.print(table)
    for call in report.calls:
        for c in call.failing:
            frames = f" [dim](frames {', '.join(map(str, c.frames[:8]))})[/]" if c.frames else ""
            who = escape(call.call_id)
            console.print(f"[red]FAIL[/] {who} [bold]{c.rule}[/]: {escape(c.message)}{frames}")
