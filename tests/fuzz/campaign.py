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

Besides the seeds of the fixed corpus, the campaign draws from calls synthesized at the MRF
(the Mp leg over UDP and TCP), over IPv6 and with TLS 1.3, and one mutant in ten is a call whose
MSRP/BFCP was damaged before encryption.

``--fork``: each command runs in a child forked from this process, which has imported the
package already, instead of a fresh interpreter (about a second of start-up saved per run, so
5,000 mutants fit in an hour on two cores). A run's peak RSS is then that child's, which
counts the pages it shares with this process: an upper bound of what a fresh process takes
(the baseline is printed).

``--atheris SECONDS``: libFuzzer's coverage-guided search in this process, starting from the
seeds, for that long; crashing inputs land in tests/fuzz/corpus as ``atheris-<sha1>``.

    python -m tests.fuzz.campaign --mutants 5000 --seed 1 --jobs 2 --fork
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import importlib
import io
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mikeyshark.synth import synthesize, write_capture
from tests.support import mutate
from tests.support.hostile import CHILD_ADDRESS_SPACE, Run, measured
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

    def to_json(self) -> str:
        return json.dumps(
            [self.name, self.runs, self.failures, self.peak_mib, self.max_seconds, self.codes]
        )

    @staticmethod
    def from_json(text: str) -> Outcome:
        name, runs, failures, peak, seconds, codes = json.loads(text)
        return Outcome(
            name, runs, failures, peak, seconds, Counter({int(k): v for k, v in codes.items()})
        )


class Runner(Protocol):
    def __call__(self, *args: str, cwd: Path, timeout: float) -> Run: ...


def forked(*args: str, cwd: Path, timeout: float) -> Run:
    """``mikeyshark ARGS`` in a child forked from this process (in ``cwd``): what ``measured``
    gives, without an interpreter's start-up. A traceback is printed as Python would print it
    and exits 1; the child is killed by SIGALRM past ``timeout``."""
    from mikeyshark.cli import main

    out, err = cwd / ".forked.out", cwd / ".forked.err"
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        rc = 1
        try:
            os.chdir(cwd)
            for fd, path in ((1, out), (2, err)):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(max(1, int(timeout)))
            rc = main(list(args))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # what the interpreter would print
            traceback.print_exc()
            rc = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(rc)
    _, status, usage = os.wait4(pid, 0)
    return Run(
        os.waitstatus_to_exitcode(status),
        time.monotonic() - started,
        usage.ru_maxrss / 1024,
        "",  # standard output is not judged, and dissect -V's can be large
        err.read_text(errors="replace"),
    )


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


def run_one(
    m: mutate.Mutant, work: Path, limits: argparse.Namespace, runner: Runner = measured
) -> Outcome:
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
        run = runner(
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
            runner("dissect", "-V", str(cap), *ka, cwd=work, timeout=limits.max_seconds * 3),
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


def extra_seeds(tmp: Path) -> list[mutate.Seed]:
    """Calls the fixed corpus leaves out (it must stay small): at the MRF with the Mp leg over
    UDP and over TCP, over IPv6, and with TLS 1.3."""
    out = []
    for name, kw in (
        ("msrp-dial-in-mrf-udp", {"capture_point": "mrf"}),
        ("bfcp-dial-out-mrf-tcp", {"capture_point": "mrf", "mp_transport": "tcp"}),
        ("msrp-dial-out-ipv6", {"ipv6": True}),
        ("bfcp-dial-in-tls13", {"tls13": True}),
    ):
        scenario = "-".join(name.split("-")[:3])
        r = synthesize(scenario, seed=7, **kw)
        path = tmp / "extra.pcap"
        write_capture(r, path)
        out.append(mutate.Seed(f"{name}-7.pcap", path.read_bytes(), r.keyfile_text))
    return out


def draw(seed: int, seeds: list[mutate.Seed], number: int, tmp: Path) -> mutate.Mutant:
    """Mutant ``number`` of the campaign ``seed``, the same whatever was drawn before it: one in
    ten a call whose MSRP/BFCP was damaged before encryption, the others one to three operators
    stacked on one seed (a plain seed when none applies)."""
    rng = random.Random(f"{seed}:{number}")
    if rng.random() < 0.1:
        scenario = rng.choice(mutate.PLAINTEXT_SCENARIOS)
        (m,) = mutate.plaintext_mutants(scenario, 1, tmp, start=rng.randrange(10**9))
        return mutate.Mutant(f"{m.name}:{number}", m.data, m.keys)
    base = rng.choice(seeds)
    data, names = base.data, []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.choice(sorted(mutate.OPERATORS))
        got = mutate.OPERATORS[op](random.Random(f"{rng.random()}"), data)
        if got is not None:
            data = got
            names.append(op)
    return mutate.Mutant(f"{base.name}:{'+'.join(names) or 'none'}:{number}", data, base.keys)


def minimise(
    m: mutate.Mutant,
    seed: mutate.Seed,
    work: Path,
    limits: argparse.Namespace,
    runner: Runner = measured,
) -> mutate.Mutant:
    """Put bytes back as in the seed, in halving runs, while the mutant still fails."""

    def fails(data: bytes) -> bool:
        return bool(runner_one(mutate.Mutant(m.name, data, m.keys)).failures)

    def runner_one(trial: mutate.Mutant) -> Outcome:
        return run_one(trial, work, limits, runner)

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


def _in_threads(
    args: argparse.Namespace,
    mutants: Iterator[mutate.Mutant],
    tmp: Path,
    warm: list[mutate.Seed],
) -> Iterator[Outcome]:
    """Each mutant's commands as fresh interpreters, ``--jobs`` mutants at a time."""
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, m, tmp / f"w{n}", args) for n, m in enumerate(mutants)]
        for fut in concurrent.futures.as_completed(futures):
            yield fut.result()


def _in_forks(
    args: argparse.Namespace,
    mutants: Iterator[mutate.Mutant],
    tmp: Path,
    warm: list[mutate.Seed],
) -> Iterator[Outcome]:
    """Each mutant in a child forked from this process (``--jobs`` at a time), whose own
    children run its commands; the outcome comes back through a file."""
    running: dict[int, Path] = {}
    # The commands import most of what they run when they run: run them once here, so that
    # the children inherit it (and a file edited meanwhile cannot change a campaign)
    from mikeyshark.cli import main

    for n, seed in enumerate(warm):
        cap, keys = tmp / f"warm{n}.pcap", tmp / f"warm{n}.toml"
        cap.write_bytes(seed.data)
        keys.write_text(seed.keys or "")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for ka in (["--keys", str(keys)], []):
                outs = ["--json", str(tmp / "w.json"), "--html", str(tmp / "w.html")]
                main(["analyze", str(cap), *ka, *outs, "--junit", str(tmp / "w.xml")])
                main(["dissect", "-V", str(cap), *ka])

    def reap() -> Outcome:
        pid, status = os.wait()
        work = running.pop(pid)
        result = work / "outcome.json"
        if os.waitstatus_to_exitcode(status) != 0 or not result.exists():
            o = Outcome(work.name, failures=[f"campaign worker died ({status})"])
        else:
            o = Outcome.from_json(result.read_text())
        shutil.rmtree(work, ignore_errors=True)
        return o

    for n, m in enumerate(mutants):
        while len(running) >= args.jobs:
            yield reap()
        work = tmp / f"w{n}"
        work.mkdir()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                o = run_one(m, work / "run", args, forked)
                (work / "outcome.json").write_text(o.to_json())
                code = 0
            finally:
                os._exit(code)
        running[pid] = work
    while running:
        yield reap()


def mutation_loop(args: argparse.Namespace, seeds: list[mutate.Seed], tmp: Path) -> int:
    by_name = {s.name: s for s in seeds}
    drawn: dict[str, mutate.Mutant] = {}

    def mutants() -> Iterator[mutate.Mutant]:
        for n in range(args.first, args.first + args.mutants):
            m = draw(args.seed, seeds, n, tmp)
            drawn[m.name] = m
            yield m

    started = time.monotonic()
    outcomes: list[Outcome] = []
    failing: list[mutate.Mutant] = []
    run_all = _in_forks if args.fork else _in_threads
    # what the forked runs are warmed up with: a conference, and a call at the MRF
    warm = [by_name["conference.pcap"], by_name["msrp-dial-in-mrf-udp-7.pcap"]]
    for done, o in enumerate(run_all(args, mutants(), tmp, warm), 1):
        outcomes.append(o)
        m = drawn.pop(o.name, None)
        if o.failures:
            print(f"FAIL {o.name}: {'; '.join(o.failures)}", flush=True)
            if m is not None:
                failing.append(m)
        if done % 100 == 0:
            print(f"{done}/{args.mutants} mutants, {time.monotonic() - started:.0f} s", flush=True)
    runner: Runner = forked if args.fork else measured
    for m in failing if args.save else []:
        seed = by_name.get(m.name.split(":", 1)[0])
        small = minimise(m, seed, tmp / "min", args, runner) if seed else m
        print(f"saved {save(small)} ({len(small.data)} bytes)", flush=True)
    codes: Counter[int] = Counter()
    for o in outcomes:
        codes.update(o.codes)
    runs = sum(o.runs for o in outcomes)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{len(outcomes)} mutants (seed {args.seed}, numbers {args.first}.."
        f"{args.first + args.mutants - 1}), {runs} runs in {time.monotonic() - started:.0f} s: "
        f"{len(failing)} failing; exit statuses {dict(sorted(codes.items()))}; slowest run "
        f"{max(o.max_seconds for o in outcomes):.1f} s; peak "
        f"{max(o.peak_mib for o in outcomes):.0f} MiB"
        + (f" (forked: this process had {baseline:.0f} MiB resident)" if args.fork else "")
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
    p.add_argument("--first", type=int, default=0, help="number of the first mutant")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--max-seconds", type=float, default=20.0)
    p.add_argument("--max-mib", type=float, default=300.0)
    p.add_argument("--no-save", dest="save", action="store_false")
    p.add_argument("--fork", action="store_true", help="fork runs from this process")
    p.add_argument("--atheris", type=int, default=0, metavar="SECONDS")
    args = p.parse_args()
    if args.seed is None:
        args.seed = int(time.time())
    with tempfile.TemporaryDirectory(prefix="mikeyshark-fuzz-") as t:
        tmp = Path(t)
        seeds = mutate.seeds(tmp) + extra_seeds(tmp)
        rc = mutation_loop(args, seeds, tmp) if args.mutants else 0
        if args.atheris:
            rc |= atheris_run(args.atheris, seeds, tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
