"""``mikeyshark dissect CAPTURE``: a Wireshark-like packet list, detail view (-V), JSON, and
tshark's habits (-r, -c, -Y, -T fields -e, -T json).

The frames come from :class:`mikeyshark.view.stream.FrameStream` in capture order, each once
nothing can change it any more; this command picks them with the display filter and prints
them in the form asked for (:mod:`mikeyshark.view.output`), the located problems on stderr.
The packet list of a large capture file is printed by a second process
(:mod:`mikeyshark.view.parallel`), forked once the dissectors are imported: neither process
can start before they are, and the child then has them without importing them again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from mikeyshark.cli import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, add_key_options, keys_from
from mikeyshark.gcpolicy import streaming

if TYPE_CHECKING:
    from mikeyshark.decrypt import PskCandidate
    from mikeyshark.keyfile import KeyFile, TekKey
    from mikeyshark.model import Problem
    from mikeyshark.view import output


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "dissect",
        help="Wireshark-like packet list (and detail tree with -V) of a capture",
        description="Print one line per frame like tshark; -V prints the detail tree. Field "
        "names are Wireshark's where it has the field (docs/fields.md lists them).",
    )
    p.add_argument("capture", nargs="?", help="pcap or pcapng file, or - for standard input")
    p.add_argument("-r", dest="read_file", metavar="FILE", help="the capture (as tshark's -r)")
    p.add_argument("-c", dest="count", type=int, metavar="N", help="read only the first N frames")
    p.add_argument(
        "-Y",
        dest="display_filter",
        metavar="FILTER",
        help='show the frames the display filter matches (e.g. "sip.Method == INVITE", '
        '"msrp && tcp.stream == 2")',
    )
    p.add_argument("-V", dest="verbose", action="store_true", help="show the packet details")
    p.add_argument(
        "-T",
        dest="format",
        choices=("text", "fields", "json"),
        default="text",
        help="output as text (rows or -V trees), the fields of -e, or tshark's JSON",
    )
    p.add_argument(
        "-e", dest="fields", action="append", default=[], metavar="FIELD", help="(-T fields/json)"
    )
    p.add_argument(
        "-E",
        dest="field_options",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="-T fields: header=y|n, separator=/t|/s|C, occurrence=f|l|a, aggregator=,|/s|C, "
        "quote=d|s|n",
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object per frame and line (JSON Lines)"
    )
    add_key_options(p, psk_help="a TLS PSK to try on every TLS connection (repeatable)")
    p.add_argument(
        "--tls-keylog",
        dest="tls_keylog",
        metavar="FILE",
        help="NSS key log (SSLKEYLOGFILE, openssl -keylogfile) of the endpoints, for every TLS "
        "connection: what the PSK alone cannot open (TLS 1.3 psk_dhe_ke, (EC)DHE-PSK, "
        "certificates); TLS 1.2 CLIENT_RANDOM and TLS 1.3 traffic secrets",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="0: one process; 1 or more: the packet list of a capture file is shown by a "
        "second process while this one follows the signalling (the rows are the same); "
        f"default: two processes for a capture of {AUTO_PARALLEL_BYTES >> 20} MiB or more on "
        "a machine with more than one core",
    )
    p.set_defaults(func=run)


# Below this size a second process costs more than it spares.
AUTO_PARALLEL_BYTES = 4 << 20


def _parallel(args: argparse.Namespace, capture: str) -> bool:
    """Whether the packet list goes to a second process: only the plain packet list (the
    other forms and a display filter need what SIP holds), only from a file both can read."""
    if args.workers == 0 or not hasattr(os, "fork") or capture == "-":
        return False
    if args.format != "text" or args.json or args.verbose or args.display_filter:
        return False
    if args.fields or args.field_options or not os.path.isfile(capture):
        return False
    if args.workers is None:
        return _cores() > 1 and os.path.getsize(capture) >= AUTO_PARALLEL_BYTES
    return True


def _cores() -> int:
    # (mikeyshark.parallel.cores, without importing what that module needs)
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _problem(p: Problem) -> None:
    from mikeyshark.report import escape

    print(f"mikeyshark: {escape.terminal(str(p))}", file=sys.stderr)


def _usage(message: str) -> int:
    print(f"mikeyshark dissect: {message}", file=sys.stderr)
    return EXIT_USAGE


def _writer(args: argparse.Namespace) -> output.Writer:
    """Raises ValueError for options that do not go together or name no field."""
    from mikeyshark.view import output

    out = sys.stdout
    if args.format == "fields":
        if not args.fields:
            raise ValueError("-T fields needs at least one -e FIELD")
        return output.Fields(out, args.fields, output.FieldOptions.parse(args.field_options))
    if args.format == "json":
        return output.TsharkJson(out, args.fields)
    if args.fields or args.field_options:
        raise ValueError("-e and -E go with -T fields or -T json")
    if args.json:
        return output.JsonLines(out, args.verbose)
    return output.Rows(out, args.verbose)


def run(args: argparse.Namespace) -> int:
    """0 when the capture was read (damage inside it is reported on stderr, not fatal);
    2 when it could not be opened, is not a capture at all, or the options are wrong."""
    capture = args.read_file or args.capture
    if capture is None or (args.read_file and args.capture and args.read_file != args.capture):
        return _usage("one capture: CAPTURE or -r FILE")
    if args.count is not None and args.count < 1:
        return _usage("-c needs a count of 1 or more")
    if args.workers is not None and args.workers < 0:
        return _usage("--workers must be at least 0")
    try:
        keys, given = keys_from(args)
    except ValueError as e:  # KeyFileError is one
        print(f"mikeyshark: {e}", file=sys.stderr)
        return EXIT_USAGE
    keylog = ""
    if args.tls_keylog:
        try:
            keylog = Path(args.tls_keylog).read_text(encoding="ascii", errors="replace")
        except OSError as e:
            return _usage(f"--tls-keylog: {e}")
    if _parallel(args, capture):
        return _run_parallel(args, capture, keys, given, keylog)
    from mikeyshark.view.filter import FilterError, compile_filter

    try:
        shown = compile_filter(args.display_filter or "")
    except FilterError as e:
        return _usage(f"-Y: {e.show()}")
    try:
        writer = _writer(args)
    except ValueError as e:
        return _usage(str(e))
    from mikeyshark.capture import CaptureReader
    from mikeyshark.keylog import keylog_from
    from mikeyshark.view.stream import FrameStream

    reader = CaptureReader(capture)
    try:
        with streaming():
            stream = FrameStream(
                reader,
                keys,
                _psks(given),
                args.reveal_keys,
                _problem,
                sys.stdout.flush,
                args.count,
                keylog_from([keylog], reader.secrets),
            )
            for frame in stream:
                if shown.matches(frame):
                    writer.frame(frame)
            writer.close()
            sys.stdout.flush()
    except BrokenPipeError:
        return _broken_pipe()
    if reader.format is None:
        return EXIT_USAGE
    return EXIT_OK


def _psks(given: tuple[TekKey, ...]) -> list[PskCandidate]:
    from mikeyshark.decrypt import PskCandidate

    return [PskCandidate(t.key, t.identity or "--psk") for t in given]


def _run_parallel(
    args: argparse.Namespace,
    capture: str,
    keys: KeyFile | None,
    given: tuple[TekKey, ...],
    keylog: str,
) -> int:
    """The signalling followed here, the rows printed by a forked child (which exits here)."""
    import gc

    from mikeyshark.capture import CaptureReader
    from mikeyshark.keylog import keylog_from  # noqa: F401  (for the child)
    from mikeyshark.view import output  # noqa: F401  (for the child)
    from mikeyshark.view.parallel import SignallingSide, send_steps

    # what is imported now lives as long as both processes: no collection need walk it (nor
    # write to its pages, which the kernel would then copy for the child)
    gc.freeze()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os._exit(_print_rows(args, capture, keys, given, keylog, r))
    os.close(r)
    reader = CaptureReader(capture)
    try:
        with streaming():
            send_steps(SignallingSide(reader, keys, _psks(given), args.count), w)
    except BrokenPipeError:
        pass  # the child stopped (its reader went away, or it failed): its status says
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != EXIT_OK:
        print(f"mikeyshark: internal error (exit {EXIT_INTERNAL})", file=sys.stderr)
        return EXIT_INTERNAL
    if reader.format is None:
        return EXIT_USAGE
    return EXIT_OK


def _print_rows(
    args: argparse.Namespace,
    capture: str,
    keys: KeyFile | None,
    given: tuple[TekKey, ...],
    keylog: str,
    fd: int,
) -> int:
    """The child: reads the capture, replays the steps read from ``fd``, prints the rows.
    Its exit code: 0, also when the reader of the rows went away; 3 when it failed."""
    code = EXIT_OK
    from mikeyshark.view.parallel import RowsSide, SignallingStopped, steps_from

    writer: output.HeldRows | None = None

    try:
        from mikeyshark.capture import CaptureReader
        from mikeyshark.keylog import keylog_from
        from mikeyshark.view import output

        with streaming(), os.fdopen(fd, "rb", buffering=1 << 16) as pipe:
            reader = CaptureReader(capture)
            writer = output.HeldRows(sys.stdout)
            rows = RowsSide(
                reader,
                keys,
                _psks(given),
                args.reveal_keys,
                _problem,
                lambda: _flush(writer),
                args.count,
                keylog_from([keylog], reader.secrets),
                steps_from(pipe),
            )
            for frame in rows:
                writer.frame(frame)
            writer.close()
            sys.stdout.flush()
    except BrokenPipeError:
        _broken_pipe()
    except SignallingStopped:
        code = EXIT_INTERNAL  # (the signalling process reports its failure)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.flush()  # (the rows shown before the failure)
        traceback.print_exc()
        code = EXIT_INTERNAL
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):
            stream.flush()
    return code


def _flush(writer: output.HeldRows) -> None:
    """A batch of frames is out: their rows are handed to whoever reads them."""
    writer.flush()
    sys.stdout.flush()


def _broken_pipe() -> int:
    """The reader of our output went away (``| head``): stop quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK
