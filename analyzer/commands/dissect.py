"""``mikeyshark dissect CAPTURE [-V] [--json]``: a Wireshark-like packet list and detail view.

Frames are read, decoded and printed in order. A frame is held back only while a TCP stream
still buffers bytes from it (a SIP message split over segments is shown in the frame that
completes it, like tshark), so memory stays bounded by what the streams hold.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import OrderedDict
from typing import TextIO

from analyzer.calls import SipFlowHandler, SipRecord
from analyzer.capture import CaptureReader
from analyzer.flows import FlowTable
from analyzer.model import Endpoint, Frame, Problem
from analyzer.view import FrameDecoder, FrameView, Pdu

EXIT_OK = 0
EXIT_USAGE = 2
# How often (in frames) the flow table's out-of-order buffers are consulted before printing.
CHECK_EVERY = 256


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
    p.set_defaults(func=run)


class _Printer:
    def __init__(self, out: TextIO, verbose: bool, as_json: bool) -> None:
        self.out = out
        self.verbose = verbose
        self.as_json = as_json

    def frame(self, v: FrameView) -> None:
        if self.as_json:
            self.out.write(v.json_line(self.verbose) + "\n")
        elif self.verbose:
            for node in v.tree():
                for line in node.lines():
                    self.out.write(line + "\n")
            self.out.write("\n")
        else:
            self.out.write(v.row() + "\n")


class _Handler(SipFlowHandler):
    """The SIP handler, noting which frame completed a datagram: a reassembled IP fragment
    then shows as UDP, like tshark's last fragment."""

    def __init__(self, file: str) -> None:
        super().__init__(file=file)
        self.datagrams: list[tuple[int, Endpoint, Endpoint, int]] = []

    def on_udp(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        self.datagrams.append((frame.number, src, dst, len(payload)))
        super().on_udp(frame, src, dst, payload)


class _Dissector:
    """Feeds frames through the flow table and SIP handler and releases finished rows."""

    def __init__(self, reader: CaptureReader, printer: _Printer) -> None:
        self.reader = reader
        self.printer = printer
        self.decoder = FrameDecoder()
        self.sip = _Handler(reader.name)
        self.table = FlowTable(self.sip, file=reader.name)
        self.pending: OrderedDict[int, FrameView] = OrderedDict()
        self._records = 0
        self._reported = [0, 0]  # problems already printed, per source

    def run(self) -> None:
        for n, frame in enumerate(self.reader, 1):
            self.pending[frame.number] = self.decoder.decode(frame)
            self.table.feed(frame)
            self._attach()
            if n % CHECK_EVERY == 0:
                self._release(final=False)
        self.table.finish()
        self.sip.finish()
        self._attach()
        self._release(final=True)

    def _attach(self) -> None:
        for num, src, dst, n in self.sip.datagrams:
            v = self.pending.get(num)
            if v is not None and v.protocol in ("IPv4", "IPv6"):
                v.protocol, v.info = "UDP", f"{src.port} → {dst.port} Len={n}"
        self.sip.datagrams.clear()
        recs = self.sip.tracker.records
        for rec in recs[self._records :]:
            self._place(rec)
        self._records = len(recs)
        self._report()

    def _place(self, rec: SipRecord) -> None:
        v = self.pending.get(rec.frame)
        if v is None:
            # Its frame was already printed (bytes delivered long after they were captured).
            self._problem(
                Problem(
                    "sip", f"message completed late: {rec.summary()}", rec.frame, self.reader.name
                )
            )
            return
        v.pdus.append(Pdu("sip", rec))
        v.problems.extend(rec.problems)
        if rec.first_frame != rec.frame:
            key = (rec.src.ip, rec.src.port, rec.dst.ip, rec.dst.port)
            for num in range(rec.first_frame, rec.frame):
                seg = self.pending.get(num)
                if seg is not None and seg.conn == key and seg.has_payload:
                    seg.segment_of = rec.frame

    def _release(self, final: bool) -> None:
        if final:
            limit = None
        else:
            limit = self.sip.oldest_pending_frame()
            if self.table.buffered_bytes:
                return
        while self.pending:
            num = next(iter(self.pending))
            if limit is not None and num >= limit:
                break
            self.printer.frame(self.pending.pop(num))

    def _report(self) -> None:
        sources = (self.reader.problems, self.sip.problems)
        for i, src in enumerate(sources):
            for p in src[self._reported[i] :]:
                self._problem(p)
        self._reported = [len(src) for src in sources]

    @staticmethod
    def _problem(p: Problem) -> None:
        print(f"mikeyshark: {p}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """0 when the capture was read (damage inside it is reported on stderr, not fatal);
    2 when it could not be opened or is not a capture at all."""
    printer = _Printer(sys.stdout, args.verbose, args.json)
    reader = CaptureReader(args.capture)
    try:
        _Dissector(reader, printer).run()
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
