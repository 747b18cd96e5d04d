"""``mikeyshark dissect CAPTURE [--keys FILE] [--psk HEX[:ID]] [-V] [--json]``: a
Wireshark-like packet list and detail view.

The frames come from :class:`mikeyshark.view.stream.FrameStream` in capture order, each once
nothing can change it any more; this command only prints them (one row, the detail tree, or
one JSON object per line) and the located problems (on stderr).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import TextIO

from mikeyshark.capture import CaptureReader
from mikeyshark.cli import EXIT_OK, EXIT_USAGE, add_key_options, keys_from
from mikeyshark.decrypt import PskCandidate
from mikeyshark.model import Problem
from mikeyshark.report import escape
from mikeyshark.view.frame import FrameView
from mikeyshark.view.stream import FrameStream


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "dissect",
        help="Wireshark-like packet list (and detail tree with -V) of a capture",
        description="Print one line per frame like tshark; -V prints the detail tree.",
    )
    p.add_argument("capture", help="pcap or pcapng file, or - for standard input")
    p.add_argument("-V", dest="verbose", action="store_true", help="show the packet details")
    p.add_argument(
        "--json", action="store_true", help="one JSON object per frame and line (JSON Lines)"
    )
    add_key_options(p, psk_help="a TLS PSK to try on every TLS connection (repeatable)")
    p.set_defaults(func=run)


class _Printer:
    def __init__(self, out: TextIO, verbose: bool, as_json: bool) -> None:
        self.out = out
        self.verbose = verbose
        self.as_json = as_json

    def frame(self, v: FrameView) -> None:
        # Wire text reaches a terminal: its control characters (ESC, ...) and undecodable
        # bytes are shown as \xNN, as tshark does, never obeyed.
        if self.as_json:
            self.out.write(_JSON_UNSAFE.sub(_json_escape, v.json_line(self.verbose)) + "\n")
        elif self.verbose:
            for node in v.tree():
                for line in node.lines():
                    self.out.write(escape.terminal(line, keep_tab=True) + "\n")
            self.out.write("\n")
        else:
            self.out.write(escape.terminal(v.row(), keep_tab=True) + "\n")


# what json.dumps leaves as it is but a terminal obeys or cannot encode: DEL, C1, surrogates
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\ud800-\udfff]")


def _json_escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # a byte that was not UTF-8: the text \xNN, as elsewhere
        return f"\\\\x{c - 0xDC00:02x}"
    return f"\\u{c:04x}"


def _problem(p: Problem) -> None:
    print(f"mikeyshark: {escape.terminal(str(p))}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """0 when the capture was read (damage inside it is reported on stderr, not fatal);
    2 when it could not be opened or is not a capture at all."""
    printer = _Printer(sys.stdout, args.verbose, args.json)
    try:
        keys, given = keys_from(args)
    except ValueError as e:  # KeyFileError is one
        print(f"mikeyshark: {e}", file=sys.stderr)
        return EXIT_USAGE
    psks = [PskCandidate(t.key, t.identity or "--psk") for t in given]
    reader = CaptureReader(args.capture)
    try:
        stream = FrameStream(reader, keys, psks, args.reveal_keys, _problem, sys.stdout.flush)
        for frame in stream:
            printer.frame(frame)
        sys.stdout.flush()
    except BrokenPipeError:
        return _broken_pipe()
    if reader.format is None:
        return EXIT_USAGE
    return EXIT_OK


def _broken_pipe() -> int:
    """The reader of our output went away (``| head``): stop quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK
