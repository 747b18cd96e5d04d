"""The ``mikeyshark`` command line: one subcommand module per verb in analyzer.commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from analyzer import __version__

# Each module has add_parser(subparsers) and run(args) -> int.
COMMANDS: tuple[str, ...] = ("keys", "synth", "dissect", "analyze", "replay")

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mikeyshark",
        description="Analyze captures of MIKEY-TICKET keyed TLS-PSK conference media (MSRP, BFCP).",
    )
    parser.add_argument("--version", action="version", version=f"mikeyshark {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"analyzer.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # `mikeyshark dissect big.pcap | head` is normal use, not an error.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
