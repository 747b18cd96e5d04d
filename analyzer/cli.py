"""The ``mikeyshark`` command line: one subcommand module per verb in mikeyshark.commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mikeyshark import __version__

# Each module has add_parser(subparsers) and run(args) -> int. Only the module of the verb
# being run is imported: the synthesizer pulls in scapy, which costs a second at start-up.
COMMANDS: dict[str, str] = {
    "analyze": "check every call of the captures against the TR 29.828 flows",
    "dissect": "Wireshark-like packet list (and detail tree with -V) of a capture",
    "keys": "MIKEY-TICKET key resolution for one message",
    "synth": "synthesize a capture of a TR 29.828 call flow, optionally with faults",
    "replay": "play a scenario live (UE, P-CSCF, MRFC, MRFP on loopback) or re-send a capture",
}

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser, with only the subcommand ``verb``'s module imported and set up."""
    parser = argparse.ArgumentParser(
        prog="mikeyshark",
        description="Analyze captures of MIKEY-TICKET keyed TLS-PSK conference media (MSRP, BFCP).",
    )
    parser.add_argument("--version", action="version", version=f"mikeyshark {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        if name == verb:
            module = importlib.import_module(f"mikeyshark.commands.{name}")
            module.add_parser(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def _verb(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = _verb(argv)
    parser = build_parser(verb)
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
