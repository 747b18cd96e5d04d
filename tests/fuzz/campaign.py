"""The long fuzz campaign (``make fuzz``): randomized mutants of the seed captures through the
real command line, and optionally a coverage-guided run with atheris.

Mutation loop (the default): each mutant is a seed capture (tests/support/mutate.py) damaged
by one to three operators drawn from ``random.Random(--seed)``; it runs as
``mikeyshark analyze`` with every output requested (terminal summary, JSON, HTML, JUnit, key
log, decrypted pcap, secrets-injected pcapng), with and without its keys, and as
``mikeyshark dissect -V``, each in a child process whose exit status, wall time and peak
memory are measured. A run fails on a traceback, an exit status outside 0/1/2, more than
``--max-seconds`` or ``--max-mib``, or an output that is not what it says (JSON that does not
parse, XML that is not well-formed, text that is not UTF-8). Each failing mutant is
minimised (bytes put back as in the seed while it still fails) and saved in
tests/fuzz/corpus, which ``make test`` replays.

``--atheris SECONDS``: libFuzzer's coverage-guided search in this process, starting from the
seeds, for that long; crashing inputs land in tests/fuzz/corpus as ``atheris-<sha1>``.

    python -m tests.fuzz.campaign --mutants 5000 --seed 1 --jobs 2
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import importlib
import json
import random
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import mutate
from tests.support.hostile import Run, measured
from tests.support.paths import ROOT

CORPUS = ROOT / "tests" / "fuzz" / "corpus"
OK_CODES = (0, 1, 2)


@dataclass(slots=True)
class Outcome:
    name: str
    runs: int = 0
    failures: list[str] = field(default_factory=list)
    peak_mib: float = 0.0
    max_seconds: float = 0.0
    codes: Counter[int] = field(default_factory=Counter)


def _outputs_wrong(out: Path) -> list[str]:
    """What is wrong with the files analyze wrote (those it wrote: an unreadable capture
    writes the reports of nothing)."""
    wrong = []
    for f in sorted(out.iterdir()):
        data = f.read_bytes()
        if f.suffix in (".json", ".html", ".xml", ".log", ".txt"):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                wrong.append(f"{f.name}: not UTF-8 ({e})")
                continue
            if f.suffix == ".json":
                try:
                    json.loads(text)
                except ValueError as e:
                    wrong.append(f"{f.name}: not JSON ({e})")
            elif f.suffix == ".xml":
                try:
                    ET.fromstring(text)
                except ET.ParseError as e:
                    wrong.append(f"{f.name}: not well-formed XML ({e})")
    return wrong


def _exception_line(stderr: str) -> str:
    """The traceback's last line (``ValueError: ...``), before any closing message."""
    lines = stderr.rstrip().splitlines()
    tail = lines[lines.index("Traceback (most recent call last):") :]
    flush = [ln for ln in tail[1:] if ln and not ln.startswith(" ")]
    return flush[0][:200] if flush else tail[-1][:200]


def _judge(run: Run, what: str, limits: argparse.Namespace) -> list[str]:
    wrong = []
    if "Traceback (most recent call last)" in run.stderr:
        wrong.append(f"{what}: traceback ({_exception_line(run.stderr)})")
    if run.rc not in OK_CODES:
        wrong.append(f"{what}: exit status {run.rc}")
    if run.seconds > limits.max_seconds:
        wrong.append(f"{what}: {run.seconds:.1f} s")
    if run.peak_mib > limits.max_mib:
        wrong.append(f"{what}: {run.peak_mib:.0f} MiB")
    return wrong


def run_one(m: mutate.Mutant, work: Path, limits: argparse.Namespace) -> Outcome:
    """Every command of the campaign on one mutant, in a directory of its own."""
    work.mkdir(parents=True, exist_ok=True)
    cap = work / ("m.pcapng" if m.data[:4] == b"\x0a\x0d\x0d\x0a" else "m.pcap")
    cap.write_bytes(m.data)
    keyargs: list[list[str]] = [[]]
    if m.keys:
        (work / "m.toml").write_text(m.keys)
        keyargs = [["--keys", str(work / "m.toml")], []]
    o = Outcome(m.name)
    for ka in keyargs:
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        tag = "analyze" + (" --keys" if ka else "")
        run = measured(
            "analyze",
            str(cap),
            *ka,
            "--json",
            str(out / "r.json"),
            "--html",
            str(out / "r.html"),
            "--junit",
            str(out / "r.xml"),
            "--keylog",
            str(out / "k.log"),
            "--decrypted-pcap",
            str(out / "d.pcap"),
            "--inject-secrets",
            str(out / "s.pcapng"),
            cwd=work,
            timeout=limits.max_seconds * 3,
        )
        _note(o, run, tag, limits)
        o.failures += [f"{tag}: {w}" for w in _outputs_wrong(out)]
        tag = "dissect -V" + (" --keys" if ka else "")
        _note(
            o,
            measured("dissect", "-V", str(cap), *ka, cwd=work, timeout=limits.max_seconds * 3),
            tag,
            limits,
        )
    return o


def _note(o: Outcome, run: Run, tag: str, limits: argparse.Namespace) -> None:
    o.runs += 1
    o.codes[run.rc] += 1
    o.peak_mib = max(o.peak_mib, run.peak_mib)
    o.max_seconds = max(o.max_seconds, run.seconds)
    o.failures += _judge(run, tag, limits)


def draw(rng: random.Random, seeds: list[mutate.Seed], number: int) -> mutate.Mutant:
    """One to three operators stacked on one seed (a plain seed when none applies)."""
    seed = rng.choice(seeds)
    data, names = seed.data, []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.choice(sorted(mutate.OPERATORS))
        got = mutate.OPERATORS[op](random.Random(f"{rng.random()}"), data)
        if got is not None:
            data = got
            names.append(op)
    return mutate.Mutant(f"{seed.name}:{'+'.join(names) or 'none'}:{number}", data, seed.keys)


def minimise(
    m: mutate.Mutant, seed: mutate.Seed, work: Path, limits: argparse.Namespace
) -> mutate.Mutant:
    """Put bytes back as in the seed, in halving runs, while the mutant still fails."""

    def fails(data: bytes) -> bool:
        return bool(run_one(mutate.Mutant(m.name, data, m.keys), work, limits).failures)

    data = bytearray(m.data)
    if len(data) == len(seed.data):
        diff = [i for i in range(len(data)) if data[i] != seed.data[i]]
        step = max(1, len(diff) // 2)
        while diff and step >= 1:
            kept = []
            for k in range(0, len(diff), step):
                part = diff[k : k + step]
                trial = bytearray(data)
                for i in part:
                    trial[i] = seed.data[i]
                if fails(bytes(trial)):
                    data = trial
                else:
                    kept += part
            diff = kept
            step //= 2
    else:
        # cut from the end while it still fails
        step = max(1, len(data) // 2)
        while step >= 16:
            if len(data) > step and fails(bytes(data[:-step])):
                del data[-step:]
            else:
                step //= 2
    return mutate.Mutant(m.name, bytes(data), m.keys)


def save(m: mutate.Mutant) -> Path:
    CORPUS.mkdir(parents=True, exist_ok=True)
    stem = m.name.split(":", 1)[0].rsplit(".", 1)[0]
    ext = ".pcapng" if m.data[:4] == b"\x0a\x0d\x0d\x0a" else ".pcap"
    path = CORPUS / f"{stem}-{hashlib.sha1(m.data).hexdigest()[:10]}{ext}"
    path.write_bytes(m.data)
    if m.keys:
        path.with_suffix(".toml").write_text(m.keys)
    return path


def mutation_loop(args: argparse.Namespace, seeds: list[mutate.Seed], tmp: Path) -> int:
    rng = random.Random(args.seed)
    by_name = {s.name: s for s in seeds}
    mutants = [draw(rng, seeds, n) for n in range(args.mutants)]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, m, tmp / f"w{n}", args): m for n, m in enumerate(mutants)}
        for done, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            o = fut.result()
            outcomes.append(o)
            if o.failures:
                print(f"FAIL {o.name}: {'; '.join(o.failures)}", flush=True)
            if done % 100 == 0:
                print(
                    f"{done}/{len(mutants)} mutants, {time.monotonic() - started:.0f} s", flush=True
                )
    failing = [
        futures_m
        for futures_m in mutants
        if any(o.name == futures_m.name and o.failures for o in outcomes)
    ]
    for m in failing if args.save else []:
        small = minimise(m, by_name[m.name.split(":", 1)[0]], tmp / "min", args)
        print(f"saved {save(small)} ({len(small.data)} bytes)", flush=True)
    codes: Counter[int] = Counter()
    for o in outcomes:
        codes.update(o.codes)
    runs = sum(o.runs for o in outcomes)
    print(
        f"\n{len(outcomes)} mutants (seed {args.seed}), {runs} runs in "
        f"{time.monotonic() - started:.0f} s: {len(failing)} failing; exit statuses "
        f"{dict(sorted(codes.items()))}; slowest run {max(o.max_seconds for o in outcomes):.1f} s; "
        f"peak {max(o.peak_mib for o in outcomes):.0f} MiB"
    )
    return 1 if failing else 0


def atheris_run(seconds: int, seeds: list[mutate.Seed], tmp: Path) -> int:
    """Coverage-guided: libFuzzer mutates the seed captures, analyze and dissect run here."""
    try:
        atheris: Any = importlib.import_module("atheris")
    except ImportError:
        print("atheris is not installed (pip install atheris): coverage-guided run skipped")
        return 0
    from mikeyshark.cli import main
    from mikeyshark.judge import build_report
    from mikeyshark.keyfile import KeyFile
    from mikeyshark.pipeline import analyze_capture
    from mikeyshark.report import json_report, junit
    from mikeyshark.report.html import render_html

    # the package was imported already (the seeds are synthesized): instrument what is loaded
    atheris.instrument_all()
    corpus = tmp / "atheris-seeds"
    corpus.mkdir()
    for s in seeds:
        (corpus / s.name).write_bytes(s.data)
    keyfile = tmp / "keys.toml"
    keyfile.write_text((ROOT / "pcaps" / "demo-keys.toml").read_text())
    keys = KeyFile.load(str(keyfile))
    cap = tmp / "a.pcap"
    sink = open("/dev/null", "w")  # noqa: SIM115 - the fuzzer never returns

    def one(data: bytes) -> None:
        cap.write_bytes(data)
        report = build_report([analyze_capture(str(cap), keys)], keys, reveal=False)
        json_report.dumps(report).encode("utf-8")
        render_html(report).encode("utf-8")
        ET.fromstring(junit.junit_xml(report))
        stdout = sys.stdout
        sys.stdout = sink
        try:
            rc = main(["dissect", "-V", str(cap), "--keys", str(keyfile)])
        finally:
            sys.stdout = stdout
        if rc not in OK_CODES:
            raise RuntimeError(f"dissect -V exited {rc}")

    CORPUS.mkdir(parents=True, exist_ok=True)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            f"-artifact_prefix={CORPUS}/atheris-",
            "-rss_limit_mb=2048",
            "-timeout=20",
            str(corpus),
        ],
        one,
    )
    atheris.Fuzz()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mutants", type=int, default=1000)
    p.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--max-seconds", type=float, default=20.0)
    p.add_argument("--max-mib", type=float, default=300.0)
    p.add_argument("--no-save", dest="save", action="store_false")
    p.add_argument("--atheris", type=int, default=0, metavar="SECONDS")
    args = p.parse_args()
    if args.seed is None:
        args.seed = int(time.time())
    with tempfile.TemporaryDirectory(prefix="mikeyshark-fuzz-") as t:
        tmp = Path(t)
        seeds = mutate.seeds(tmp)
        rc = mutation_loop(args, seeds, tmp) if args.mutants else 0
        if args.atheris:
            rc |= atheris_run(args.atheris, seeds, tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
