"""The terminal summary (rich): the captures, a table of calls, the failing rules, totals.

On a terminal the table fits the window; piped or redirected, nothing is wrapped, so that a
``| grep FAIL`` keeps each failing rule with its frames on one line. With more calls than
fit on a screen, the calls are counted per scenario and only the failing ones are listed.
The last line is always the totals. Wire text is shown with its control characters made
visible (:func:`mikeyshark.report.escape.terminal`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape as markup
from rich.table import Table

from mikeyshark.evidence import CallRecord, Signalling, Status, Verdict
from mikeyshark.report import escape, wording
from mikeyshark.report.model import Report, unbound_key_text

_STYLE = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.INCOMPLETE: "yellow"}
# lines a listing of calls takes besides its rows: title, borders, header, caption, totals
_TABLE_LINES = 8
# a width no line reaches: piped output is never wrapped
_UNWRAPPED = 1 << 16


def console(*, stderr: bool = False) -> Console:
    """The console of the summary: the terminal's width, or unwrapped when not a terminal;
    no emoji codes (``:100:`` is part of an IPv6 address more often than a wish for one)."""
    c = Console(stderr=stderr, emoji=False)
    if not c.is_terminal:
        c = Console(stderr=stderr, width=_UNWRAPPED, soft_wrap=True, emoji=False)
    return c


def _wire(text: str) -> str:
    """Text from the capture, for rich markup: controls visible, brackets not markup."""
    return markup(escape.terminal(text))


def _print(con: Console, text: str) -> None:
    # one logical line stays one line whatever the width: a terminal wraps it visually
    con.print(text, soft_wrap=True, highlight=False, emoji=False)


def print_summary(report: Report, console: Console) -> None:
    for cap in report.captures:
        line = f"[bold]{_wire(cap.path)}[/]: {wording.count(cap.frames, 'frame')}"
        if cap.seconds > 0:
            line += f" in {cap.seconds:.2f} s"
        if cap.errors:
            line += f", [yellow]{wording.count(len(cap.errors), 'problem')}[/]"
        _print(console, line)
        for p in cap.errors[:10]:
            _print(console, f"  [yellow]![/] {_wire(str(p))}")
        if len(cap.errors) > 10:
            _print(console, f"  ... {len(cap.errors) - 10} more (see --json)")
    calls = report.calls
    shown: Iterable[CallRecord] = calls
    if not calls:
        media = " (media without signalling below)" if report.unbound_media else ""
        _print(console, f"[yellow]no call with an MSRP or BFCP m-line found[/]{media}")
    elif len(calls) + _TABLE_LINES <= console.height:
        _calls_table(console, "calls", list(enumerate(calls, 1)))
    else:
        _scenario_table(console, calls)
        # by number: calls read back from a spool are read again rather than held
        failing = [i for i, v in enumerate(report.verdicts()) if v is Verdict.FAIL]
        if failing:
            title = f"failing calls ({len(failing)} of {len(calls)})"
            _calls_table(console, title, ((i + 1, calls[i]) for i in failing))
        shown = (calls[i] for i in failing)
    for call in shown:
        _call_lines(console, call)
    if report.unbound_media:
        _unbound(console, report)
    hint = _keys_hint(report)
    if hint:
        _print(console, f"[cyan]hint[/]: {hint}")
    _print(console, _totals(report))


def _calls_table(console: Console, title: str, rows: Iterable[tuple[int, CallRecord]]) -> None:
    table = Table(title=title, caption="rules: passed / failed / not observed", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("scenario", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("rules", justify="right", no_wrap=True)
    table.add_column("failing rules", overflow="fold")
    table.add_column("call-id", overflow="fold", min_width=16)
    for i, call in rows:
        # a rule about a leg this capture point does not see (Mp at the UE) is not counted
        counts = Counter(c.status for c in call.checks if c.counts)
        table.add_row(
            str(i),
            call.scenario,
            f"[{_STYLE[call.verdict]}]{call.verdict.value}[/]",
            f"{counts[Status.PASS]}/{counts[Status.FAIL]}/{counts[Status.NOT_OBSERVED]}",
            markup(", ".join(c.rule for c in call.failing)) or "-",
            _wire(call.call_id),
        )
    console.print(table)


def _scenario_table(console: Console, calls: Sequence[CallRecord]) -> None:
    counts: dict[str, Counter[Verdict]] = {}
    for call in calls:
        counts.setdefault(call.scenario, Counter())[call.verdict] += 1
    table = Table(title=f"{wording.count(len(calls), 'call')} by scenario")
    table.add_column("scenario", no_wrap=True)
    for v in Verdict:
        table.add_column(v.value, justify="right", style=_STYLE[v])
    for scenario, c in sorted(counts.items()):
        table.add_row(scenario, *(str(c[v]) for v in Verdict))
    console.print(table)


def _call_lines(console: Console, call: CallRecord) -> None:
    who = _wire(call.call_id)
    if call.signalling is Signalling.ENCRYPTED:
        for p in call.problems:
            _print(console, f"[yellow]ENCRYPTED[/] {who}: {_wire(p.reason)}")
    if call.outcome is not None and not call.outcome.startswith("established"):
        _print(console, f"[yellow]NO MEDIA[/] {who}: {_wire(call.outcome)}")
    if call.tunnel is not None:
        _print(console, f"[cyan]TUNNEL[/] {who}: SIP in {_wire(str(call.tunnel))}")
    for c in call.failing:
        frames = f" [dim]({wording.frames(c.frames, 8)})[/]" if c.frames else ""
        _print(console, f"[red]FAIL[/] {who} [bold]{c.rule}[/]: {_wire(c.message)}{frames}")
    # what the operator should know although nothing failed (the PSK crossing Mp in the clear)
    for c in call.checks:
        if c.status in _NOTED:
            frames = f" [dim]({wording.frames(c.frames, 8)})[/]" if c.frames else ""
            label = _NOTED[c.status]
            _print(console, f"{label} {who} [bold]{c.rule}[/]: {_wire(c.message)}{frames}")
    _wireshark_lines(console, call)


WIRESHARK_DIFFERENCES_SHOWN = 8


def _wireshark_lines(console: Console, call: CallRecord) -> None:
    """--wireshark-check: whether tshark read the call as we did, and where it did not."""
    w = call.wireshark_check
    if w is None:
        return
    who = _wire(call.call_id)
    what = ", ".join(f"{n} {k}" for k, n in w.compared.items() if n)
    if w.status == "agree":
        _print(console, f"[green]WIRESHARK agrees[/] {who}: {_wire(what)}")
    elif w.status == "not run":
        _print(console, f"[yellow]WIRESHARK not run[/] {who}: {_wire(w.note or '')}")
    else:
        n = len(w.differences)
        _print(console, f"[red]WIRESHARK differs[/] {who}: {wording.count(n, 'difference')}")
        for d in w.differences[:WIRESHARK_DIFFERENCES_SHOWN]:
            at = f"frame {d.frame}: " if d.frame is not None else ""
            _print(
                console,
                f"  {at}{_wire(d.what)}: ours {_wire(d.ours)}, Wireshark {_wire(d.wireshark)}",
            )
        if n > WIRESHARK_DIFFERENCES_SHOWN:
            _print(console, f"  ... {n - WIRESHARK_DIFFERENCES_SHOWN} more (see --json)")


_NOTED = {Status.WARNING: "[yellow]WARN[/]", Status.INFO: "[cyan]INFO[/]"}


def _keys_hint(report: Report) -> str:
    """Which option would judge the rules left not observed for want of keys: without any
    key, a call that carries a MIKEY ticket cannot have it opened, nor its TLS decrypted."""
    if report.keys:
        return ""
    unseen = {
        c.rule
        for call in report.calls
        if any(m.init is not None and m.init.has_ticket for m in call.media)
        for c in call.checks
        if c.status is Status.NOT_OBSERVED and c.counts
    }
    if not unseen:
        return ""
    rules = wording.count(len(unseen), "rule")
    return f"{rules} not observed for lack of keys: --keys FILE would judge them"


def _totals(report: Report) -> str:
    verdicts = Counter(report.verdicts())
    frames = sum(c.frames for c in report.captures)
    problems = sum(len(c.errors) for c in report.captures)
    return (
        f"[bold]total[/]: {wording.count(len(report.calls), 'call')}: "
        + ", ".join(f"{verdicts[v]} {v.value}" for v in Verdict)
        + f" ({wording.count(len(report.captures), 'capture')}, "
        + f"{wording.count(frames, 'frame')}, {wording.count(problems, 'problem')})"
        + (
            f"; {wording.count(len(report.unbound_media), 'TLS connection')} without signalling"
            if report.unbound_media
            else ""
        )
    )


MESSAGES_SHOWN = 12  # per connection; the JSON and HTML reports list them all


def _unbound(console: Console, report: Report) -> None:
    table = Table(
        title="media without signalling",
        caption="TLS connections no call claims; key: what opened the records, and the proof",
    )
    table.add_column("#", justify="right")
    table.add_column("client -> server", overflow="fold")
    table.add_column("frames", no_wrap=True)
    table.add_column("TLS", overflow="fold")
    table.add_column("key", overflow="fold")
    table.add_column("media", no_wrap=True)
    for i, u in enumerate(report.unbound_media, 1):
        tls = " ".join(x for x in (u.tls.version, u.tls.cipher_suite, u.tls13_mode) if x)
        table.add_row(
            str(i),
            _wire(f"{u.tcp.client} -> {u.tcp.server}"),
            f"{u.first_frame}-{u.last_frame} ({u.data_frames})",
            _wire(tls or "-"),
            _wire(unbound_key_text(u, report.reveal_keys)),
            f"{u.protocol.value.upper()} {len(u.messages)}" if u.protocol is not None else "-",
        )
    console.print(table)
    for i, u in enumerate(report.unbound_media, 1):
        for msg in u.messages[:MESSAGES_SHOWN]:
            _print(
                console,
                f"  [dim]#{i} frame {msg.frame}[/] {_wire(str(msg.src))} -> "
                f"{_wire(str(msg.dst))} {_wire(msg.summary)}",
            )
        if len(u.messages) > MESSAGES_SHOWN:
            _print(console, f"  [dim]#{i} ... {len(u.messages) - MESSAGES_SHOWN} more[/]")
